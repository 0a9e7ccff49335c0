"""arkeep due"""
from __future__ import annotations

import argparse

from archive.cli.context import Context

EXAMPLES = """examples:
  arkeep due                       what expires, renews or ends within 90 days, and what has
  arkeep due --within 30d --json
  arkeep due --set lic-0a1b2c3d4e --remind-days 60     remind 60 days ahead for this licence
  arkeep due --set lic-0a1b2c3d4e --seats-in-use 4     4 of its seats are in use
  arkeep due --set lic-0a1b2c3d4e --trial              it is a trial: its expiry ends the trial

The dates are the licence records' `expires` and `maintenance_end` (`arkeep add --expires`,
`--maintenance-end`, or an import). A subscription's expiry is its renewal. Each licence may have
its own reminder threshold (--remind-days; 0 stops its reminders); --within, when given, applies
to all. The default window is [calendar] within_days in arkeep.toml, else 90 days.
Exit status: 0 nothing overdue, 1 a licence expired, a subscription lapsed, a trial ended or more
seats are in use than owned.
"""


def _days(text: str) -> int:
    body = text.strip().lower()
    factor = 7 if body.endswith("w") else 1
    body = body.removesuffix("w").removesuffix("d")
    try:
        value = int(body) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days such as 90d or 12w") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError("give 0 days or more")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("give 0 or more")
    return value


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("due", parents=[common], help="the licences' calendar: expiries, renewals, "
                       "maintenance, trials, seats",
                       description="List licences that expire, renew or end soon, those that "
                                   "already have, and licences with more seats in use than owned.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--within", type=_days, metavar="DAYS",
                   help="look this far ahead for every licence (e.g. 90d, 12w)")
    p.add_argument("--notify", action="store_true",
                   help="send what is listed as a notice to the URLs of `arkeep notify`, and "
                        "ping its --ping URL at start and end")
    g = p.add_argument_group("a licence's own calendar values")
    g.add_argument("--set", dest="set_license", metavar="LICENCE-ID",
                   help="change the values below for this licence record, then list")
    g.add_argument("--remind-days", type=_count, metavar="N",
                   help="remind N days ahead for this licence (0: never)")
    g.add_argument("--seats-in-use", type=_count, metavar="N", help="seats of it in use")
    g.add_argument("--trial", action=argparse.BooleanOptionalAction, default=None,
                   help="it is (or is not) a trial licence")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.commands.notify import report, tell_failure
    from archive.errors import UsageError
    from archive.ops.clock import clock
    from archive.ops.due import calendar, set_reminders
    from archive.ops.notices import due_notice
    from archive.ops.notify import finished, started
    from archive.ops.notify import load as notify_config

    store = ctx.open_store()
    values = (args.remind_days, args.seats_in_use, args.trial)
    if args.set_license is None and any(v is not None for v in values):
        raise UsageError("--remind-days, --seats-in-use and --trial change one licence: name it "
                         "with --set LICENCE-ID")
    if args.set_license is not None:
        if all(v is None for v in values):
            raise UsageError("--set needs --remind-days, --seats-in-use or --trial")
        set_reminders(store, args.set_license, *values)
        ctx.note(f"{args.set_license}: calendar values recorded (`arkeep sync` replicates them)")
    cfg = notify_config(store) if args.notify else None
    if cfg is not None and cfg.empty:
        ctx.note("warning: --notify, but no notice URL is configured (`arkeep notify add URL`)")
    deliveries = started(cfg) if cfg else []
    try:
        cal = calendar(store, clock().date(), args.within)
    except Exception as exc:
        if cfg:
            report(ctx, tell_failure(cfg, "arkeep due", exc))
        raise
    code = 1 if cal.overdue else 0
    if cfg:
        deliveries += finished(cfg, due_notice(cal), code == 0,
                               f"{len(cal.overdue)} overdue, {len(cal.items)} listed")
    if ctx.json:
        ctx.emit_json({**cal.data(), "notices": [d.data() for d in deliveries]})
        return code
    report(ctx, deliveries)
    for problem in cal.damaged:
        ctx.note(f"warning: a licence record cannot be read: {problem}")
    lines = [f"{'OVERDUE' if i.overdue else 'due    ' if i.state != 'ended' else 'ended  '} "
             f"{i.message}" for i in cal.items]
    if lines:
        print("\n".join(lines), file=ctx.out)
    in_use = [s for s in cal.seats if s.in_use is not None]
    for s in in_use:
        ctx.say(f"seats   {s.product or s.license} ({s.license}): {s.in_use} of {s.owned} in use")
    overdue = len(cal.overdue)
    soon = len(cal.items) - overdue
    ctx.say(f"{overdue} overdue, {soon} within {cal.within_days} days "
            "(each licence's own reminder threshold applies where set)"
            if args.within is None else f"{overdue} overdue, {soon} within {cal.within_days} days")
    return code
