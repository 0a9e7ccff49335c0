"""arkeep audit"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from archive.cli.context import Context
from archive.errors import EXIT_ENVIRONMENT

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.ops.audit import RemoteAudit

EXAMPLES = """examples:
  arkeep audit                     every connected remote, a 30th of each (run it daily)
  arkeep audit nas --budget 1/7    a 7th of nas (run it weekly)
  arkeep audit --max-bytes 20G --max-time 3600
  arkeep audit --repair            also rewrite what was found damaged (needs the passphrase)

Each run re-reads the copies least recently verified first, so that daily runs re-read every
copy within --period days. Without a passphrase at hand (no --passphrase-file, no
--passphrase-command, no ARKEEP_PASSPHRASE or ARKEEP_PASSPHRASE_COMMAND) each copy's bytes are compared with the BLAKE3 recorded when sync wrote
them: bit rot, truncation and replaced files are found, nothing needs unlocking, nothing is
prompted for. With the passphrase each copy is also authenticated, unsealed and its content
checked, as `verify --remote` does. Drives that are not plugged in are skipped.
With --due the licences' calendar is checked too (`arkeep due`); with --notify what needs
attention is sent to the URLs of `arkeep notify` (`arkeep schedule` runs `audit --due --notify`).
Exit status: 0 all well, 1 damage found (or, with --due, a licence overdue), 3 a remote could
not be read.
"""


def _fraction(text: str) -> float:
    try:
        if "/" in text:
            top, bottom = text.split("/", 1)
            value = float(top) / float(bottom)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction such as 1/30 or 0.05") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("give a fraction above 0 and at most 1, e.g. 1/30")
    return value


_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def _size(text: str) -> int:
    body = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = body[-1:] if body[-1:] in _UNITS else ""
    try:
        value = int(float(body[: len(body) - len(unit)]) * _UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500M or 20G") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("give a size above 0")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("give a number above 0")
    return value


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", parents=[common], help="re-read a slice of every replica (rolling)",
                       description="Re-read part of every connected replica, least recently "
                                   "verified first, and record per copy when and how it was checked.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help="only these remotes")
    p.add_argument("--budget", type=_fraction, metavar="FRACTION",
                   help="share of each replica's bytes to read (default 1/PERIOD)")
    p.add_argument("--max-bytes", type=_size, metavar="SIZE", help="read at most about this much per replica")
    p.add_argument("--max-time", type=_positive, metavar="SECONDS",
                   help="start no new copy after this many seconds per replica")
    p.add_argument("--period", type=int, default=30, metavar="DAYS",
                   help="every copy re-read within this many days (default 30)")
    p.add_argument("--repair", action="store_true",
                   help="rewrite damaged or missing copies from the store (needs the passphrase)")
    p.add_argument("--due", action="store_true",
                   help="also check the licences' calendar, as `arkeep due` does (exit 1 when "
                        "something is overdue); what a scheduled run does")
    p.add_argument("--notify", action="store_true",
                   help="send a notice of what needs attention to the URLs of `arkeep notify`, "
                        "and ping its --ping URL at start and end")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.commands.notify import report, tell_failure
    from archive.errors import UsageError
    from archive.ops.notify import load as notify_config
    from archive.ops.notify import started

    if args.period < 1:
        raise UsageError("--period must be at least 1 day")
    store = ctx.open_store()
    cfg = notify_config(store) if args.notify else None
    if cfg is not None and cfg.empty:
        ctx.note("warning: --notify, but no notice URL is configured (`arkeep notify add URL`)")
    deliveries = started(cfg) if cfg else []
    try:
        return _run(args, ctx, store, cfg, deliveries)
    except Exception as exc:
        if cfg:       # a scheduled run that could not run at all is told too (and pings /fail)
            report(ctx, tell_failure(cfg, "arkeep audit", exc))
        raise


def _run(args: argparse.Namespace, ctx: Context, store: Any, cfg: Any, deliveries: list) -> int:
    from archive.cli.replicas import chosen_remotes
    from archive.ops.audit import Budget, RemoteAudit, audit_remote, labels_of
    from archive.ops.clock import clock
    from archive.ops.due import calendar
    from archive.ops.notices import audit_facts, audit_notice, due_notice, joined
    from archive.ops.notify import finished
    from archive.replicate.plan import plan_checked
    from archive.replicate.remotes import ledger_of, open_backends
    from backends.errors import BackendError, NotConnected

    specs = chosen_remotes(store, args.names or None)
    keyring = ctx.unlock(store) if args.repair else ctx.keyring_at_hand(store)
    now = clock()
    budget = Budget(args.budget, args.max_bytes, args.max_time)
    results: list[RemoteAudit] = []
    with store.writing("arkeep audit"), ledger_of(store) as ledger:
        plan = plan_checked(store, keyring) if keyring is not None else None
        labels = labels_of(store)
        for spec, backend in zip(specs, open_backends(specs, ledger)):
            try:
                results.append(audit_remote(backend, ledger, budget, now, args.period, keyring, plan,
                                            labels, ctx.bar))
            except NotConnected as exc:
                results.append(RemoteAudit(spec.name, status="skipped", message=str(exc)))
            except BackendError as exc:
                results.append(RemoteAudit(spec.name, status="failed", message=str(exc)))
            finally:
                ctx.close_bars()
        repaired = _repair(store, keyring, plan, ledger, specs, results) if args.repair else {}
        notice = audit_notice(results, **audit_facts(store, ledger, results, now)) if cfg else None
    cal = calendar(store, now.date()) if args.due else None
    if cfg:       # sent after the store is let go: a slow mail server holds up no other arkeep
        notice = joined(notice, due_notice(cal) if cal else None)
        deliveries += finished(cfg, notice, _exit_code(results, cal) == 0, _summary(results, cal))
    return _report(ctx, results, repaired, deliveries, cal)


def _exit_code(results: list[RemoteAudit], cal: Any = None) -> int:
    if any(r.problems for r in results) or (cal is not None and cal.overdue):
        return 1
    return EXIT_ENVIRONMENT if any(r.status == "failed" for r in results) else 0


def _summary(results: list[RemoteAudit], cal: Any = None) -> str:
    text = "; ".join(f"{r.name}: {r.status}, {r.checked} re-read, {len(r.problems)} problems"
                     for r in results) or "no remote"
    if cal is not None:
        text += f"; licences: {len(cal.overdue)} overdue, {len(cal.items)} listed"
    return text


def _repair(store: Any, keyring: Keyring | None, plan: Any, ledger: Any, specs: list,
            results: list[RemoteAudit]) -> dict[str, int]:
    """Sync each damaged remote: sync rewrites the copies the audit marked bad or missing."""
    from archive.replicate.remotes import open_backends
    from archive.replicate.sync import sync_remote

    damaged = {r.name for r in results if r.problems}
    chosen = [s for s in specs if s.name in damaged]
    out = {}
    for spec, backend in zip(chosen, open_backends(chosen, ledger)):
        out[spec.name] = sync_remote(store, keyring, backend, plan, ledger).pushed  # type: ignore[arg-type]
    return out


def _report(ctx: Context, results: list[RemoteAudit], repaired: dict[str, int],
            deliveries: list, cal: Any = None) -> int:
    from archive.cli.commands.notify import report
    from archive.present.humanize import count, human_size

    code = _exit_code(results, cal)
    if ctx.json:
        ctx.emit_json({"ok": code == 0, "remotes": [_remote_json(r, repaired) for r in results],
                       "due": [i.data() for i in cal.items] if cal is not None else None,
                       "notices": [d.data() for d in deliveries]})
        return code
    for r in results:
        if r.status != "audited":
            ctx.note(f"{r.name}: {r.status}, {r.message}")
            continue
        for p in r.problems:
            where = "; ".join(f"{rel} / {name}" for rel, name in p.labels) or f"{p.kind} {p.ref[:16]}"
            print(f"PROBLEM {r.name}: {where}: {p.problem}", file=ctx.out)
        line = (f"{r.name}: {count(r.checked, 'copy', 'copies')} ({human_size(r.bytes_checked)}) "
                f"re-read by {r.mode} of {count(r.copies, 'copy', 'copies')} "
                f"({human_size(r.total_bytes)})")
        if r.overdue:
            line += f"; {count(r.overdue, 'copy', 'copies')} not verified within the period"
        ctx.say(line)
        if r.no_digest:
            ctx.note(f"{r.name}: {count(r.no_digest, 'copy', 'copies')} without a recorded digest "
                     "(written before audits, or by another store): run `arkeep audit` once with "
                     "the passphrase at hand to check and record them")
        if r.name in repaired:
            ctx.say(f"{r.name}: {count(repaired[r.name], 'unit')} rewritten")
    if cal is not None:
        for item in cal.items:
            print(f"{'OVERDUE' if item.overdue else 'due    '} {item.message}", file=ctx.out)
    report(ctx, deliveries)
    return code


def _remote_json(r: RemoteAudit, repaired: dict[str, int]) -> dict:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None
    return {"name": r.name, "status": r.status, "message": r.message or None, "mode": r.mode,
            "copies": r.copies, "bytes": r.total_bytes, "checked": r.checked,
            "bytes_checked": r.bytes_checked, "no_digest": r.no_digest, "overdue": r.overdue,
            "oldest_verified": iso(r.oldest_verified),
            "problems": [{"unit": p.unit, "kind": p.kind, "problem": p.problem,
                          "releases": [{"release": rel, "file": name} for rel, name in p.labels]}
                         for p in r.problems],
            "rewritten": repaired.get(r.name)}
