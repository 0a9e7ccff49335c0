"""arkeep harvest"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from archive.cli.context import Context, has_terminal
from archive.errors import EXIT_PROBLEM, StoreMissing, UsageError

HELP = "find the licences a running system or an old system disk still holds"
EXAMPLES = """examples:
  arkeep harvest /mnt/old-laptop            (a Windows, macOS or Linux disk, mounted or copied)
  arkeep harvest                            (the running system)
  arkeep harvest /mnt/old-laptop --json
  arkeep harvest /mnt/old-laptop --apply    (asks, then records the keys, encrypted)

Read: the Windows product key (DigitalProductId, both encodings; Windows.old's too; the OEM key
in the firmware of the running computer), Office 2003 to 2010 keys, VMware Workstation and
Fusion serials, and licence files of WinRAR, Total Commander, Sublime Text and Merge, Beyond
Compare and JetBrains IDEs; installed programs from the uninstall keys and macOS bundles, each
marked when the store holds no installer for it. What cannot be recovered is said with the
reason (Office 2013 and later, volume licences, generic keys, subscriptions: these are recorded
with their vendor's portal). Keys are masked unless --reveal. Nothing is written under ROOT;
harvesting again records nothing twice. docs/HARVEST.md lists the sources.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("harvest", parents=[common], help=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Read the product keys and licence files a system keeps (the "
                                   "running one, or an old disk mounted at ROOT) and the programs "
                                   "installed there; --apply records the keys, encrypted.")
    p.add_argument("root", type=Path, metavar="ROOT", nargs="?",
                   help="where the old system disk is mounted (default: the running system)")
    p.add_argument("--apply", action="store_true", help="record the keys found as licence records")
    p.add_argument("--yes", "-y", action="store_true", help="with --apply: do not ask")
    p.add_argument("--reveal", action="store_true", help="show the keys in the plan")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.intake.harvest.plan import mark_archived, plan_harvest
    from archive.intake.harvest.record import record_findings

    if args.yes and not args.apply:
        raise UsageError("--yes only goes with --apply")
    store = ctx.open_store() if args.apply else _store_if_any(ctx)
    plan = plan_harvest(args.root.expanduser() if args.root else None)
    if store is not None:
        plan = mark_archived(plan, store.catalog.releases())
    data = plan_data(plan, args.reveal)
    if not ctx.json:
        ctx.say("\n".join(plan_lines(plan, args.reveal)))
    if not args.apply or not plan.recordable:
        if ctx.json:
            ctx.emit_json(data)
        elif plan.recordable:
            ctx.say("Nothing was recorded; run again with --apply to keep these keys, encrypted.")
        return 0
    assert store is not None
    if not args.yes and not _confirm(ctx, len(plan.recordable)):
        if ctx.json:
            ctx.emit_json(data)
        ctx.say("Nothing was recorded.")
        return 0
    keyring = ctx.unlock(store)
    with store.writing("arkeep harvest"):
        recorded = record_findings(store, plan, keyring)
    data["recorded"] = [{"product": r.finding.product, "action": r.action, "license": r.license_id,
                         "release": r.release_id, "error": r.error} for r in recorded]
    if ctx.json:
        ctx.emit_json(data)
    else:
        for r in recorded:
            if r.action == "failed":
                ctx.note(f"arkeep: {r.finding.product}: not recorded: {r.error}")
            elif r.action == "unchanged":
                ctx.say(f"Already recorded: {r.finding.product} (licence {r.license_id})")
            else:
                linked = f", linked to {r.release_id}" if r.release_id else " (no release)"
                what = ("key stored encrypted" if r.finding.recoverable
                        else f"no key; the licence is seen at {r.finding.portal}")
                ctx.say(f"Recorded {r.finding.product}: licence {r.license_id}{linked}; {what}")
    return EXIT_PROBLEM if any(r.action == "failed" for r in recorded) else 0


def _store_if_any(ctx: Context) -> Any:
    """The store, to say which installed programs it holds; the plan is shown without one."""
    try:
        return ctx.open_store()
    except StoreMissing:
        return None


def _confirm(ctx: Context, count: int) -> bool:
    if not has_terminal() or not sys.stdin.isatty():
        raise UsageError("harvest --apply asks before recording: run it in a terminal, or add --yes")
    answer = input(f"Record {count} licence{'s' * (count != 1)} into {ctx.store_path}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _shown(key: str | None, reveal: bool, kind: str = "serial") -> str | None:
    from archive.intake.receipts import mask_key

    if key is None:
        return None
    if reveal:
        return key
    if kind == "licence-file":
        return f"(licence file, {len(key)} characters)"
    return mask_key(key)


def plan_data(plan: Any, reveal: bool) -> dict[str, Any]:
    """The --json shape: keys masked unless `reveal`."""
    def finding(f: Any) -> dict[str, Any]:
        return {"product": f.product, "vendor": f.vendor, "version": f.version, "kind": f.kind,
                "key": _shown(f.key, reveal, f.kind), "where": f.where, "also": list(f.also), "how": f.how,
                "reason": f.reason, "licensed_to": f.licensed_to, "source": f.source,
                "portal": f.portal, "facts": f.facts}
    return {
        "root": str(plan.root) if plan.root else None, "systems": list(plan.systems),
        "keys": [finding(f) for f in plan.findings if f.recoverable],
        "not_recoverable": [finding(f) for f in plan.findings if not f.recoverable],
        "installed": [{"name": i.name, "version": i.version, "publisher": i.publisher,
                       "install_date": i.install_date.isoformat() if i.install_date else None,
                       "where": i.where,
                       "archived": list(i.archived) if plan.store_checked else None,
                       "archived_other_versions": list(i.archived_other) if plan.store_checked else None}
                      for i in plan.installed],
        "problems": [{"where": p.where, "reason": p.reason} for p in plan.problems],
        "read": list(plan.read),
    }


def plan_lines(plan: Any, reveal: bool) -> list[str]:
    where = str(plan.root) if plan.root else "the running system"
    systems = ", ".join(plan.systems) or "no known system"
    keys = plan.recoverable
    lines = [(f"Harvested {where} ({systems}): {len(keys)} key(s) or licence file(s), "
              f"{len(plan.installed)} installed program(s).")]
    if keys:
        lines += ["", "Found:"]
        for f in keys:
            version = f" {f.version}" if f.version else ""
            lines.append(f"  {f.product}{version}   {_shown(f.key, reveal, f.kind)}   ({f.kind})")
            lines.append(f"    from {f.where}")
            lines += [f"    also {a}" for a in f.also]
            lines.append(f"    read as {f.how}")
    lost = [f for f in plan.findings if not f.recoverable]
    if lost:
        lines += ["", "No key to recover:"]
        for f in lost:
            lines.append(f"  {f.product}: {f.reason}")
            lines.append(f"    at {f.where}")
            lines += [f"    also {a}" for a in f.also]
    if plan.installed:
        missing = [i for i in plan.installed if not i.archived]
        head = ("Installed programs with no archived installer:" if plan.store_checked
                else "Installed programs (no store to compare with):")
        lines += ["", head]
        for i in (missing if plan.store_checked else plan.installed):
            other = f"  (archived: {', '.join(i.archived_other)})" if i.archived_other else ""
            lines.append(f"  {i.name}" + (f" {i.version}" if i.version else "")
                         + (f", {i.publisher}" if i.publisher else "") + other)
        if plan.store_checked and len(missing) < len(plan.installed):
            lines.append(f"  ({len(plan.installed) - len(missing)} more are archived)")
    if plan.problems:
        lines += ["", "Not read, or read with a warning:"]
        lines += [f"  {p.where}: {p.reason}" for p in plan.problems]
    return lines
