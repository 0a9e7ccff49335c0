"""arkeep list, arkeep show"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from archive.cli.context import Context

if TYPE_CHECKING:
    from archive.storage.store import Store

LIST_EXAMPLES = """examples:
  arkeep list
  arkeep list photoshop
  arkeep list --json
  arkeep list --licenses         (every licence record, also those no release names yet)
  arkeep list --licenses --json
"""
SHOW_EXAMPLES = """examples:
  arkeep show "Adobe Photoshop CS6@13.0"
  arkeep show hello@2.10-3 --reveal      (asks for the passphrase, prints the key)
  arkeep show hello@2.10-3 --json
  arkeep show lic-3f2a9c01d4      (one licence record, with the releases that name it)
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="list archived releases, optionally matching a query",
                       epilog=LIST_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("query", nargs="?", help="words that must all appear (product, version, vendor, file name)")
    p.add_argument("--licenses", "--licences", action="store_true",
                   help="list licence records instead of releases (keys never shown)")
    p.set_defaults(run=run_list)
    s = sub.add_parser("show", parents=[common], help="show one release (or licence record lic-…), its files and licences",
                       epilog=SHOW_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("release", metavar="PRODUCT@VERSION|LICENCE-ID")
    s.add_argument("--reveal", action="store_true", help="decrypt and print licence keys (needs the passphrase)")
    s.set_defaults(run=run_show)


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.open_store()
    if args.licenses:
        return _list_licences(args, ctx, store)
    damaged: list = []
    # From the index (no TOML parsed), or from the manifests where no index can be used.
    if ctx.json:
        entries = store.catalog.entries(args.query, damaged)
        status = _warn_damaged(ctx, damaged)
        ctx.emit_json([{"id": r.id, "product": r.product, "version": r.version, "vendor": r.vendor,
                        "edition": r.edition, "platform": r.platform, "files": r.files,
                        "size": r.size, "licenses": r.licenses}
                       for r in entries])
        return status
    releases = store.catalog.summaries(args.query, damaged)
    status = _warn_damaged(ctx, damaged)
    if not releases:
        ctx.say("No releases match." if args.query else "The store is empty; `arkeep add` archives a release.")
        return status
    if not ctx.quiet:
        from archive.present.listing import columns
        ctx.out.write("\n".join(columns(releases)) + "\n")
    return status


def _warn_damaged(ctx: Context, damaged: list) -> int:
    for exc in damaged:
        print(f"arkeep: warning: damaged manifest: {exc}; `arkeep verify` lists every problem",
              file=ctx.err)
    return 1 if damaged else 0


def _list_licences(args: argparse.Namespace, ctx: Context, store: Store) -> int:
    from archive.ops.licences import entry_data, entry_line, licence_entries

    damaged: list = []
    entries = licence_entries(store, damaged)
    if args.query:
        words = args.query.casefold().split()
        entries = [e for e in entries if all(w in entry_line(e).casefold() for w in words)]
    for exc in damaged:
        print(f"arkeep: warning: damaged manifest: {exc}; `arkeep verify` lists every problem",
              file=ctx.err)
    if ctx.json:
        ctx.emit_json([entry_data(e) for e in entries])
    elif not entries:
        ctx.say("No licence records match." if args.query else "No licence records.")
    else:
        for e in entries:
            ctx.say(entry_line(e))
    return 1 if damaged else 0


def _show_licence(args: argparse.Namespace, ctx: Context, store: Store) -> int:
    from archive.ops.licences import entry_data, entry_text, licence_entry

    entry = licence_entry(store, args.release)
    box = ctx.unlock(store).box if args.reveal else None
    if ctx.json:
        ctx.emit_json(entry_data(entry, box))
    else:
        ctx.say(entry_text(entry, box).rstrip("\n"))
    return 0


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.licences import is_licence_ref
    from archive.present.render import license_data, release_data, release_text

    store = ctx.open_store()
    if is_licence_ref(store, args.release):
        return _show_licence(args, ctx, store)
    release = store.catalog.resolve(args.release)
    licenses = [store.catalog.load_license(lid) for lid in release.licenses]
    box = ctx.unlock(store).box if args.reveal else None
    if ctx.json:
        data = release_data(release)
        data["license_records"] = [license_data(lic, box) for lic in licenses]
        ctx.emit_json(data)
    else:
        ctx.say(release_text(release, licenses, box))
    return 0
