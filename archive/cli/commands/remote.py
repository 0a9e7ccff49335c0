"""arkeep remote add | list | remove"""
from __future__ import annotations

import argparse

from archive.cli.context import Context
from archive.cli.replicas import say_if_kit_outdated

EXAMPLES = """examples:
  arkeep remote add nas /mnt/nas/arkeep
  arkeep remote add backup ~/arkeep-backup --create       (a new folder; else it must exist)
  arkeep remote add usb1 /media/me/USB1 --drive            (found by its marker wherever it is mounted)
  arkeep remote add cloud s3://my-bucket/arkeep --endpoint-url https://s3.example.com
  arkeep remote list --json
  arkeep remote remove nas                                 (forgets it; deletes nothing there)

A drive is found by its marker: first where it was added, then under each folder named in
ARKEEP_DRIVE_PATHS (separated by ':'; ';' on Windows) and two levels below it, then the usual
mount roots (/media/*, /media/*/*, /run/media/*/*, /mnt/*, /Volumes/*, drive letters). A drive
mounted elsewhere next time: export ARKEEP_DRIVE_PATHS=/that/folder before `arkeep sync`.

S3 credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, an instance role); they are never written to the store. The endpoint is kept with the
remote: --endpoint-url always; else AWS_ENDPOINT_URL as it was at `remote add`, used whenever the
environment names none (e.g. on a new machine after `arkeep rebuild`).

One place is one copy: a second remote for a folder, bucket prefix or drive that a remote already
uses is refused, however the URL is spelled (trailing slashes, ./, .., symlinks, file://).
"""

LIST_EXAMPLES = """examples:
  arkeep remote list
  arkeep remote list --json
"""
REMOVE_EXAMPLES = """examples:
  arkeep remote remove nas

arkeep forgets the remote and what its ledger knew of it; nothing on the remote is deleted.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("remote", parents=[common], help="add, list or remove replication targets",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rsub = p.add_subparsers(dest="remote_command", metavar="COMMAND", required=True)
    add = rsub.add_parser("add", parents=[common], help="add a remote", epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("name")
    add.add_argument("url", metavar="URL", help="a directory, a drive's mount point (--drive), s3://bucket/prefix, "
                                                "or any fsspec URL")
    add.add_argument("--drive", action="store_true",
                     help="an external drive: write a marker at its root; found there or wherever it "
                          "is mounted next (see ARKEEP_DRIVE_PATHS below)")
    where = add.add_mutually_exclusive_group()
    where.add_argument("--offsite", action="store_true", default=None,
                       help="this copy lives in another place (S3 remotes are offsite by default)")
    where.add_argument("--onsite", dest="offsite", action="store_false", help="not offsite")
    add.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint (else $AWS_ENDPOINT_URL)")
    add.add_argument("--no-create-bucket", action="store_true", help="fail if the bucket does not exist")
    add.add_argument("--create", action="store_true",
                     help="make the folder if it does not exist (else a missing folder is refused: "
                          "an unmounted disk must not be filled on the system disk)")
    add.set_defaults(run=run_add)
    ls = rsub.add_parser("list", parents=[common], help="list remotes and when each was last seen",
                         epilog=LIST_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.set_defaults(run=run_list)
    rm = rsub.add_parser("remove", parents=[common], help="forget a remote (its data stays where it is)",
                         epilog=REMOVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rm.add_argument("name")
    rm.set_defaults(run=run_remove)


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    from archive.replicate.remotes import (
        load_remotes,
        open_remote,
        refuse_missing_folder,
        refuse_same_place,
        save_remote,
        spec_for,
    )

    store = ctx.open_store()
    with store.writing("arkeep remote add"):
        if args.name in load_remotes(store):
            from archive.errors import UsageError
            raise UsageError(f"a remote named '{args.name}' exists already; `arkeep remote remove` it first")
        spec = spec_for(args.name, args.url, drive=args.drive, offsite=args.offsite,
                        endpoint_url=args.endpoint_url, create_bucket=not args.no_create_bucket)
        refuse_same_place(store, spec)
        refuse_missing_folder(spec, create=args.create)
        if spec.kind != "drive":
            open_remote(spec, create=args.create).check()
        save_remote(store, spec)
    ctx.say(f"Added remote '{spec.name}' ({spec.kind}{', offsite' if spec.offsite else ''}): {spec.url}")
    if spec.kind == "drive":
        ctx.say(f"  the drive at {spec.label} carries a marker; arkeep finds it wherever it is mounted next")
    ctx.say("  `arkeep sync` copies the archive there.")
    say_if_kit_outdated(ctx, store)
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from archive.present.humanize import count
    from archive.replicate.ledger import Ledger
    from archive.replicate.remotes import load_remotes
    
    store = ctx.open_store()
    remotes = load_remotes(store)
    with Ledger(store.state_dir / "ledger.sqlite") as ledger:
        rows = [{"name": s.name, "kind": s.kind, "url": s.url, "offsite": s.offsite,
                 "label": s.label or None,
                 "last_seen": (ledger.last_seen(s.name).isoformat() if ledger.last_seen(s.name) else None),
                 "units": sum(1 for c in ledger.copies(s.name) if c.state == "present")}
                for s in remotes.values()]
    if ctx.json:
        ctx.emit_json(rows)
        return 0
    if not rows:
        ctx.say("No remotes yet; `arkeep remote add NAME URL` adds one.")
    for r in rows:
        ctx.say(f"{r['name']:<12} {r['kind']:<6} {'offsite' if r['offsite'] else 'onsite ':<8} {r['url']}  "
                f"[{count(r['units'], 'unit')}, last seen {r['last_seen'] or 'never'}]")
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    from archive.replicate.ledger import Ledger
    from archive.replicate.remotes import delete_remote
    
    store = ctx.open_store()
    with store.writing("arkeep remote remove"):
        delete_remote(store, args.name)
        with Ledger(store.state_dir / "ledger.sqlite") as ledger:
            ledger.forget_remote(args.name)
    ctx.say(f"Removed remote '{args.name}'. Nothing was deleted on it.")
    say_if_kit_outdated(ctx, store)
    return 0
