"""arkeep restore"""
from __future__ import annotations

import argparse
from pathlib import Path

from archive.cli.context import Context

EXAMPLES = """examples:
  arkeep restore "Adobe Photoshop CS6@13.0" --to ~/Restored/photoshop
  arkeep restore hello@2.10-3 --to /tmp/hello --force

Every file is re-hashed against its BLAKE3 digest before it takes its name; LICENSE.txt holds the
licence record with its key (so the passphrase is asked for when the release has a key).
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("restore", parents=[common], help="restore a release's exact files and key",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", metavar="PRODUCT@VERSION")
    p.add_argument("--to", required=True, type=Path, metavar="DIR", help="target directory")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist in DIR")
    p.add_argument("--from", dest="from_remote", metavar="NAME", help="fetch from this remote")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.open_store()
    if args.from_remote:
        ctx.unlock_early(store)     # the scrypt runs while the modules below load
        import archive.replicate.sealing  # noqa: F401 - the engine, loaded during the scrypt

    from archive.ops.restore import needs_secret, remote_reader, restore_release

    release = store.catalog.resolve(args.release)
    keyring = ctx.unlock(store) if args.from_remote or needs_secret(store, release) else None
    from_remote = remote_reader(store, release, args.from_remote, keyring) if args.from_remote else None
    try:
        result = restore_release(store, release, args.to, keyring, force=args.force,
                                 progress_for=ctx.file_bar, from_remote=from_remote)
    finally:
        ctx.close_bars()
    if ctx.json:
        ctx.emit_json({"release": release.id, "files": [str(p) for p in result.written],
                       "license_file": str(result.license_file) if result.license_file else None,
                       "renamed": [{"name": name, "written_as": local, "why": why}
                                   for name, local, why in result.renamed]})
        return 0
    ctx.say(f"Restored {release.title} to {args.to}:")
    renamed = {local: (name, why) for name, local, why in result.renamed}
    for path in result.written:
        if path.name in renamed:
            name, why = renamed[path.name]
            ctx.say(f"  {path.name}  (BLAKE3 verified; archived as {name!r}: {why})")
        else:
            ctx.say(f"  {path.name}  (BLAKE3 verified)")
    if result.license_file:
        ctx.say(f"  {result.license_file.name}  (licence record and key)")
    return 0

