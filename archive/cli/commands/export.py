"""arkeep export"""
from __future__ import annotations

import argparse
from pathlib import Path

from archive.cli.context import Context
from archive.errors import UsageError

EXAMPLES = """examples:
  arkeep export "GNU Hello@2.10-3" --zip hello-2.10-3.zip
  7zz x -p'ABCD-EFGH-…' hello-2.10-3.zip      (the recovery code opens it, no arkeep needed)
  arkeep export hello@2.10-3 --bagit hello-bag
  bagit.py --validate hello-bag              (any BagIt tool checks it)
  arkeep export --csv inventory.csv          (every release and licence, keys masked)
  arkeep export --csv inventory.csv --reveal (with the keys: keep that file safe)

--zip: one AES-256 zip with the installers, licence files, invoices and receipts under their
real names, manifest.toml and LICENSE.txt: it holds the keys, encrypted under the recovery code.
File names inside a zip are visible without the password. --bagit: a BagIt bag (RFC 8493) with
SHA-512 manifests, blake3sums.txt, the release manifest and licence records as tag files; without
--reveal the keys are masked and the documents that can print a key (licence files, invoices,
receipts, docs) are left out and listed in arkeep/WITHHELD.txt; with --reveal both are in clear.
--csv: one row per release and licence, for a spreadsheet (keys masked unless --reveal; it holds
no document).
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common],
                       help="a release as an encrypted zip or a BagIt bag, or the inventory as CSV",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", metavar="PRODUCT@VERSION", nargs="?",
                   help="the release (optional with --csv: every release by default)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--zip", type=Path, metavar="FILE", help="one AES-256 zip of the release")
    what.add_argument("--bagit", type=Path, metavar="DIR", help="a BagIt bag of the release")
    what.add_argument("--csv", type=Path, metavar="FILE", help="the inventory as a CSV spreadsheet")
    p.add_argument("--reveal", action="store_true",
                   help="write the keys in clear into --bagit or --csv, and the licence files, "
                        "invoices and receipts into --bagit (needs the passphrase)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.csv is not None:
        return run_csv(args, ctx)
    if args.release is None:
        raise UsageError("name the release to export: arkeep export PRODUCT@VERSION --zip FILE | --bagit DIR")
    if args.bagit is not None:
        return run_bagit(args, ctx)
    if args.reveal:
        raise UsageError("--reveal is for --bagit and --csv; the zip always holds the key, encrypted")
    from archive.ops.export import export_zip
    from archive.present.humanize import human_size

    store = ctx.open_store()
    release = store.catalog.resolve(args.release)
    keyring = ctx.unlock(store)
    try:
        result = export_zip(store, release, keyring, args.zip, args.force, ctx.file_bar)
    finally:
        ctx.close_bars()
    if ctx.json:
        ctx.emit_json({"zip": str(result.path), "entries": list(result.entries), "size": result.size,
                       "renamed": [{"name": name, "written_as": entry, "why": why}
                                   for name, entry, why in result.renamed]})
        return 0
    ctx.say(f"Wrote {result.path} ({human_size(result.size)}, AES-256): {', '.join(result.entries)}")
    for name, entry, why in result.renamed:
        ctx.say(f"  {entry}  (archived as {name!r}: {why})")
    ctx.say("  It holds the licence keys and documents, encrypted; 7-Zip opens it with the "
            "recovery code from your recovery kit.")
    return 0


def run_bagit(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.bagit_export import export_bag
    from archive.present.humanize import human_size

    store = ctx.open_store()
    release = store.catalog.resolve(args.release)
    keyring = ctx.unlock(store) if args.reveal else None
    try:
        result = export_bag(store, release, args.bagit, keyring, ctx.file_bar)
    finally:
        ctx.close_bars()
    if ctx.json:
        ctx.emit_json({"bag": str(result.path), "files": result.files,
                       "payload_bytes": result.payload_bytes,
                       "keys": "revealed" if result.revealed else "masked",
                       "withheld": list(result.withheld),
                       "renamed": [{"name": name, "written_as": entry, "why": why}
                                   for name, entry, why in result.renamed]})
        return 0
    if result.revealed:
        what = "keys and documents in clear: keep it safe"
    elif result.withheld:
        what = (f"keys masked; {len(result.withheld)} document(s) that can hold a key left out "
                f"({', '.join(result.withheld)}; --reveal includes them)")
    else:
        what = "keys masked"
    ctx.say(f"Wrote the BagIt bag {result.path}: {result.files} file(s), {human_size(result.payload_bytes)}, "
            f"SHA-512 manifests, {what}.")
    for name, entry, why in result.renamed:
        ctx.say(f"  data/{entry}  (archived as {name!r}: {why})")
    return 0


def run_csv(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.inventory import export_csv

    store = ctx.open_store()
    releases = [store.catalog.resolve(args.release)] if args.release else None
    box = ctx.unlock(store).box if args.reveal else None
    result = export_csv(store, args.csv, releases, box, args.force)
    if ctx.json:
        ctx.emit_json({"csv": str(result.path), "rows": result.rows, "releases": result.releases,
                       "licenses": result.licenses, "keys": "revealed" if box else "masked"})
        return 0
    ctx.say(f"Wrote {result.path}: {result.rows} row(s), {result.releases} release(s), "
            f"{result.licenses} licence record(s), keys {'in clear: keep it safe' if box else 'masked'}.")
    return 0
