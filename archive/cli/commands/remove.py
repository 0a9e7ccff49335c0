"""arkeep remove, arkeep prune"""
from __future__ import annotations

import argparse

from archive.cli.context import Context
from archive.errors import UsageError

REMOVE_HELP = "remove a release (or a licence record) from the archive"
REMOVE_DESCRIPTION = """\
Delete the manifest of one release, or one licence record that no release links to.
Nothing else is deleted: every object stays in the store, also those no release names any
more, until `arkeep prune` deletes them. The next `arkeep sync` deletes the removed manifest's
sealed unit from each remote it reaches (an unplugged drive follows when it is next synced);
objects leave a remote only after `prune` has deleted them here. Until then, adding the same
files again brings the release back without copying anything."""
REMOVE_EXAMPLES = """examples:
  arkeep remove "Foo 1.0@1.0"            asks before deleting (on a terminal)
  arkeep remove foo@1.0 --yes            in a script
  arkeep remove --license lic-0a1b2c3d4e
  arkeep prune --dry-run                 what prune would delete
"""
PRUNE_EXAMPLES = """examples:
  arkeep prune --dry-run     the objects it would delete, and their size
  arkeep prune               asks first on a terminal; --yes in a script
  arkeep sync                then deletes them from each remote too
"""
PRUNE_HELP = "delete the objects no release names any more (after remove)"
PRUNE_DESCRIPTION = """\
Delete from the store every object that no release manifest names: the files of removed
releases that no other release shares, and leftovers of an interrupted add. An object that
any release still names is never deleted. The next `arkeep sync` deletes the same objects
from each remote it reaches. Refused while a manifest is damaged (its files are unknown)."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("remove", parents=[common], help=REMOVE_HELP, description=REMOVE_DESCRIPTION,
                       epilog=REMOVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", nargs="?", metavar="PRODUCT@VERSION")
    p.add_argument("--license", dest="license_id", metavar="ID",
                   help="remove this licence record instead (one no release links to)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask (needed without a terminal)")
    p.set_defaults(run=run_remove)
    q = sub.add_parser("prune", parents=[common], help=PRUNE_HELP, description=PRUNE_DESCRIPTION,
                       epilog=PRUNE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("--dry-run", "-n", action="store_true", help="only say what would be deleted")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask (needed without a terminal)")
    q.set_defaults(run=run_prune)


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.confirm import confirmed
    from archive.ops.remove import remove_license, remove_release
    from archive.present.humanize import count, human_size
    from archive.replicate.remotes import ledger_of

    if (args.release is None) == (args.license_id is None):
        raise UsageError("give either PRODUCT@VERSION or --license ID")
    store = ctx.open_store()
    with store.writing("arkeep remove"), ledger_of(store) as ledger:
        if args.license_id is not None:
            lic = store.catalog.load_license(args.license_id)
            what = f"licence record {lic.id}" + (f" ({lic.product})" if lic.product else "")
            if not confirmed(f"Remove {what}?", args.yes):
                ctx.note("Nothing was removed.")
                return 0
            removed = remove_license(store, ledger, lic.id)
        else:
            release = store.catalog.resolve(args.release)
            question = (f"Remove {release.title} ({release.id}, "
                        f"{count(len(release.artifacts), 'file')})?")
            if not confirmed(question, args.yes):
                ctx.note("Nothing was removed.")
                return 0
            removed = remove_release(store, ledger, release)
    if ctx.json:
        ctx.emit_json({"removed": removed.kind, "id": removed.ref,
                       "unreferenced_objects": len(removed.unreferenced),
                       "unreferenced_bytes": removed.unreferenced_bytes})
        return 0
    ctx.say(f"Removed {removed.title} ({removed.ref}).")
    if removed.unreferenced:
        ctx.say(f"  {count(len(removed.unreferenced), 'file')} ({human_size(removed.unreferenced_bytes)}) "
                "named by no other release stay in the store until `arkeep prune`.")
    elif removed.kind == "release":
        ctx.say("  Every file of it is still named by another release; nothing is left to prune.")
    ctx.say("  The next `arkeep sync` deletes it from each remote.")
    return 0


def run_prune(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.confirm import confirmed
    from archive.ops.remove import prune, unreferenced
    from archive.present.humanize import count, human_size
    from archive.replicate.remotes import ledger_of

    store = ctx.open_store()
    with store.writing("arkeep prune"), ledger_of(store) as ledger:
        found = unreferenced(store)
        size = sum(s for _, s in found)
        go = bool(found) and not args.dry_run and confirmed(
            f"Delete {count(len(found), 'object')} ({human_size(size)}) that no release names?", args.yes)
        result = prune(store, ledger, dry_run=not go)
    if ctx.json:
        ctx.emit_json({"objects": list(result.objects), "bytes": result.size, "deleted": go})
        return 0
    if not result.objects:
        ctx.say("Nothing to prune: every object is named by a release.")
    elif go:
        ctx.say(f"Deleted {count(len(result.objects), 'object')} ({human_size(result.size)}); the next "
                "`arkeep sync` deletes them from each remote.")
    elif args.dry_run:
        ctx.say(f"Would delete {count(len(result.objects), 'object')} ({human_size(result.size)}).")
    else:
        ctx.note("Nothing was deleted.")
    return 0
