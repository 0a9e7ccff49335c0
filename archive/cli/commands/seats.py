"""arkeep assign, arkeep unassign, arkeep handover"""
from __future__ import annotations

import argparse
from datetime import date

from archive.cli.context import Context
from archive.errors import UsageError

ASSIGN_EXAMPLES = """examples:
  arkeep assign "Acme Studio@7.5" --to alice --machine alice-laptop
  arkeep assign "Acme Studio@7.5" --to alice --machine alice-laptop --activated
  arkeep assign "Acme Studio@7.5" --to bob --key-index 1 --license lic-0a1b2c3d4e

A seat of the release's licence record goes to a person (and machine); --activated and
--deactivated record that the software was activated or deactivated there (--on DATE, default
today). `arkeep due` and `status` count the seats in use against the seats owned.
"""
UNASSIGN_EXAMPLES = """examples:
  arkeep unassign "Acme Studio@7.5" --from alice
  arkeep unassign "Acme Studio@7.5" --from alice --machine old-pc

The seat's history stays in the licence record; it no longer counts as in use.
"""
HANDOVER_EXAMPLES = """examples:
  arkeep handover alice
  arkeep handover alice --json

Lists every seat alice holds and says which were activated on a machine and must be
deactivated (or the machine handed on) before the seat is given to someone else.
"""


def _on(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    a = sub.add_parser("assign", parents=[common], help="give a person a seat of a licence",
                       epilog=ASSIGN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("release", metavar="PRODUCT@VERSION")
    a.add_argument("--to", dest="person", required=True, metavar="PERSON")
    a.add_argument("--machine", metavar="NAME")
    a.add_argument("--key-index", type=int, metavar="N", help="which of the licence's keys (0: key)")
    a.add_argument("--license", dest="license_id", metavar="ID", help="when the release has several")
    events = a.add_mutually_exclusive_group()
    events.add_argument("--activated", dest="activated", action="store_const", const=True)
    events.add_argument("--deactivated", dest="activated", action="store_const", const=False)
    a.add_argument("--on", type=_on, metavar="YYYY-MM-DD", help="the date (default today)")
    a.set_defaults(run=run_assign)
    u = sub.add_parser("unassign", parents=[common], help="end a person's seat of a licence",
                       epilog=UNASSIGN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    u.add_argument("release", metavar="PRODUCT@VERSION")
    u.add_argument("--from", dest="person", required=True, metavar="PERSON")
    u.add_argument("--machine", metavar="NAME")
    u.add_argument("--license", dest="license_id", metavar="ID")
    u.add_argument("--on", type=_on, metavar="YYYY-MM-DD")
    u.set_defaults(run=run_unassign)
    h = sub.add_parser("handover", parents=[common], help="what a departing person holds",
                       epilog=HANDOVER_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("person", metavar="PERSON")
    h.set_defaults(run=run_handover)


def _line(seat) -> str:  # type: ignore[no-untyped-def]
    where = f" on {seat.machine}" if seat.machine else ""
    key = f", key {seat.key_index}" if seat.key_index is not None else ""
    state = f"; ACTIVATED {seat.activated}: deactivate it" if seat.activated else ""
    return f"{seat.product} ({seat.license_id}){where}{key}, since {seat.since}{state}"


def run_assign(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.seats import assign

    seat = assign(ctx.open_store(), args.release, args.person, args.machine, args.key_index,
                  args.license_id, args.activated, args.on)
    if ctx.json:
        ctx.emit_json(seat.as_json())
        return 0
    ctx.say(f"{seat.person}: {_line(seat)}")
    return 0


def run_unassign(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.seats import unassign

    ended = unassign(ctx.open_store(), args.release, args.person, args.machine, args.license_id,
                     args.on)
    if ctx.json:
        ctx.emit_json({"ended": [s.as_json() for s in ended]})
        return 0
    for seat in ended:
        ctx.say(f"ended: {seat.person}: {_line(seat)}")
        if seat.activated:
            ctx.note(f"note: it was activated on {seat.machine or 'a machine'}; deactivate it there")
    return 0


def run_handover(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.seats import handover

    if not args.person.strip():
        raise UsageError("name the person")
    found = handover(ctx.open_store(), args.person)
    if ctx.json:
        ctx.emit_json({"person": found.person, "seats": [s.as_json() for s in found.seats],
                       "to_deactivate": [s.as_json() for s in found.to_deactivate]})
        return 0
    if not found.seats:
        ctx.say(f"{found.person} holds no seat.")
        return 0
    ctx.say(f"{found.person} holds {len(found.seats)} seat(s):")
    for seat in found.seats:
        ctx.say(f"  {_line(seat)}")
    if found.to_deactivate:
        ctx.say(f"{len(found.to_deactivate)} must be deactivated before the seats are given on; "
                f"then `arkeep unassign PRODUCT@VERSION --from {found.person}`.")
    return 0
