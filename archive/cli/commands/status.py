"""arkeep whereis, arkeep status"""
from __future__ import annotations

import argparse

from archive.cli.context import Context

MARKS = {"restorable": "OK     ", "at risk": "AT RISK", "not restorable": "NOT RESTORABLE"}

WHEREIS_EXAMPLES = """examples:
  arkeep whereis "GNU Hello@2.10-3"
  arkeep whereis hello@2.10-3 --json
"""
STATUS_EXAMPLES = """examples:
  arkeep status
  arkeep status --json
  arkeep status --ready        (for every release: restorable, at risk or not restorable, and why)

Each release is OK, AT RISK or NOT RESTORABLE (no installer, or one with no copy anywhere:
the verdict `arkeep check` gives). Exit status 1 when a release cannot be restored or breaks
the policy: fewer good remote copies than [policy]
min_remotes (default 2), no offsite copy (min_offsite 1), a copy known to be bad, or a copy
last verified more than max_verify_age_days (90) ago. Set them in the store's arkeep.toml.
Each replica's line says how many releases it holds complete and the date of its last full
verification (every copy on it verified since); a drive that lacks releases or is due for
verification is named ("plug in usb2: 14 releases missing, last verified 97 days ago").
Licences that expire, renew or end soon are listed as `arkeep due` lists them.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    w = sub.add_parser("whereis", parents=[common], help="where every copy of a release is",
                       epilog=WHEREIS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("release", metavar="PRODUCT@VERSION")
    w.set_defaults(run=run_whereis)
    s = sub.add_parser("status", parents=[common], help="releases that fall short of the copy policy",
                       epilog=STATUS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--ready", action="store_true",
                   help="say for every release whether it can be reinstalled today (see `arkeep check`)")
    s.set_defaults(run=run_status)


def run_whereis(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.status import whereis
    from archive.replicate.remotes import ledger_of, load_remotes
    
    store = ctx.open_store()
    release = store.catalog.resolve(args.release)
    with ledger_of(store) as ledger:
        data = whereis(store, release, ledger, load_remotes(store))
    if ctx.json:
        ctx.emit_json(data)
        return 0
    ctx.say(f"{data['title']} ({data['release']})")
    for item in data["items"]:
        ctx.say(f"  {item['file']}")
        for where, c in item["copies"].items():
            when = f", verified {c['verified_at']} ({c['verified_how']})" if c.get("verified_at") else ""
            ctx.say(f"    {where:<12} {c['state']}{when}")
    return 0


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.clock import clock
    from archive.ops.due import calendar
    from archive.ops.status import Policy, replicas, status
    from archive.present.humanize import count
    from archive.replicate.remotes import ledger_of, load_remotes
    
    store = ctx.open_store()
    policy = Policy.from_config(store.config)
    remotes = load_remotes(store)
    if args.ready:
        from archive.cli.commands.check import run_ready
        return run_ready(store, ctx, policy, remotes)
    now = clock()
    with ledger_of(store) as ledger:
        results, notes = status(store, ledger, remotes, policy, now)
        per_remote = replicas(ledger, remotes, results, policy, now)
    cal = calendar(store, now.date(), name_releases=False)
    bad = [r for r in results if not r.ok]
    if ctx.json:
        ctx.emit_json({"ok": not bad, "policy": vars(policy), "notes": notes,
                       "due": [i.data() for i in cal.items],
                       "seats": [x.data() for x in cal.seats],
                       "replicas": [r.data(now) for r in per_remote],
                       "releases": [{"release": r.release, "ok": r.ok, "verdict": r.verdict,
                                     "blockers": r.blockers, "good_remotes": r.good_remotes,
                                     "offsite_remotes": r.offsite_remotes, "problems": r.problems,
                                     "warnings": r.warnings} for r in results]})
        return 1 if bad else 0
    for note in notes:
        ctx.note(f"warning: {note}")
    for item in cal.items:
        ctx.note(f"{'overdue' if item.overdue else 'due'}: {item.message}")
    for seat in cal.seats:
        if seat.in_use is not None:
            ctx.note(f"seats: {seat.product or seat.license}: {seat.in_use} of {seat.owned} in use")
    # One write for the whole report (100k releases); problems print even with --quiet.
    lines = []
    for r in results:
        if not ctx.quiet:
            lines.append(f"{MARKS[r.verdict]} {r.release}: copies on "
                         f"{', '.join(r.good_remotes) or 'no remote'}")
        lines.extend(f"        - {p}" for p in r.blockers + r.problems)
    for replica in per_remote:
        if not ctx.quiet:
            when = (f"{replica.last_full_verification:%Y-%m-%d}"
                    if replica.last_full_verification else "never")
            lines.append(f"replica {replica.name} ({replica.kind}"
                         f"{', offsite' if replica.offsite else ''}): {replica.releases_complete} "
                         f"of {count(len(results), 'release')} complete, last full verification "
                         f"{when}")
        if replica.advice:
            lines.append(f"        - {replica.advice}")
    if lines:
        ctx.out.write("\n".join(lines) + "\n")
    unrestorable = sum(bool(r.blockers) for r in results)
    meet = "meets" if len(results) - len(bad) == 1 else "meet"
    ctx.say(f"{len(results) - len(bad)} of {count(len(results), 'release')} {meet} the policy "
            f"({count(policy.min_remotes, 'remote')}, {policy.min_offsite} offsite, verified within "
            f"{policy.max_verify_age_days} days)"
            + (f"; {unrestorable} cannot be restored at all." if unrestorable else "."))
    return 1 if bad else 0
