"""arkeep log"""
from __future__ import annotations

import argparse

from archive.cli.context import Context
from archive.errors import UsageError

EXAMPLES = """examples:
  arkeep log
  arkeep log "Acme Studio@7.5.1"
  arkeep log --limit 20 --json
  arkeep log "Acme Studio@7.5.1" --versions            (earlier versions of its manifest)
  arkeep log "Acme Studio@7.5.1" --show-version 2
  arkeep log "Acme Studio@7.5.1" --restore-version 2   (written back as a new revision)

Every command that changed the store or read secrets out of it (show --reveal, restore, export,
key …) leaves one entry: when, the key slot that unlocked the store, the OS user and host, the
command, its target and its exit status; never a secret. Entries are chained by hashes, and
`arkeep verify` reports one that was edited or removed (docs/FORMAT.md, "The audit log").
A manifest that is changed or removed keeps its previous version (manifests/history/): a
release by PRODUCT@VERSION, a licence record by its id (lic-…).
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("log", parents=[common], help="who changed or revealed what, and when",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", nargs="?", metavar="PRODUCT@VERSION",
                   help="only the entries about this release (or key slot)")
    p.add_argument("--limit", type=int, metavar="N", help="the last N entries only")
    v = p.add_mutually_exclusive_group()
    v.add_argument("--versions", action="store_true", help="the kept earlier versions of its manifest")
    v.add_argument("--show-version", type=int, metavar="N", help="print kept version N")
    v.add_argument("--restore-version", type=int, metavar="N",
                   help="write kept version N back as the manifest's next revision")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.activity import history

    if args.versions or args.show_version is not None or args.restore_version is not None:
        return _versions(args, ctx)
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


def _versions(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.activity import restore_version, versions

    if not args.release:
        raise UsageError("name the release (PRODUCT@VERSION) or licence id")
    store = ctx.open_store()
    if args.restore_version is not None:
        kind, ident, revision = restore_version(store, args.release, args.restore_version)
        if ctx.json:
            ctx.emit_json({"kind": kind, "id": ident, "restored": args.restore_version,
                           "revision": revision})
            return 0
        ctx.say(f"{ident}: kept version {args.restore_version} is now revision {revision} (the "
                "one it replaced is kept too); `arkeep sync` carries it to the remotes")
        return 0
    kind, ident, found = versions(store, args.release)
    if args.show_version is not None:
        chosen = next((v for v in found if v.number == args.show_version), None)
        if chosen is None:
            raise UsageError(f"{ident} has no kept version {args.show_version} ({len(found)} kept)")
        ctx.out.write(chosen.path.read_text(encoding="utf-8"))
        return 0
    if ctx.json:
        ctx.emit_json({"kind": kind, "id": ident, "versions": [v.as_json() for v in found]})
        return 0
    for v in found:
        print(f"{v.number:>3}  revision {v.revision:<4} replaced {v.saved.replace('T', ' ')[:16]}",
              file=ctx.out)
    if not found:
        ctx.note(f"{ident}: no earlier version kept")
    return 0
