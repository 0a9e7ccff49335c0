"""arkeep log"""
from __future__ import annotations

import argparse

from archive.cli.context import Context

EXAMPLES = """examples:
  arkeep log
  arkeep log "Acme Studio@7.5.1"
  arkeep log --limit 20 --json

Every command that changed the store or read secrets out of it (show --reveal, restore, export,
key …) leaves one entry: when, the key slot that unlocked the store, the OS user and host, the
command, its target and its exit status; never a secret. Entries are chained by hashes, and
`arkeep verify` reports one that was edited or removed (docs/FORMAT.md, "The audit log").
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("log", parents=[common], help="who changed or revealed what, and when",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", nargs="?", metavar="PRODUCT@VERSION",
                   help="only the entries about this release (or key slot)")
    p.add_argument("--limit", type=int, metavar="N", help="the last N entries only")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.activity import history

    store = ctx.open_store()
    found = history(store, args.release, args.limit)
    if ctx.json:
        ctx.emit_json({"entries": [e.as_json() for e in found]})
        return 0
    for e in found:
        who = f"{e.slot or '-'} ({e.user}@{e.host})"
        what = f"{e.command} {e.target}" if e.target else e.command
        status = "" if e.exit == 0 else f"  exit {e.exit}"
        print(f"{e.at.replace('T', ' ')[:16]}  {who}  {what}{status}", file=ctx.out)
    if not found:
        ctx.note("no entries" + (f" about {args.release}" if args.release else ""))
    return 0
