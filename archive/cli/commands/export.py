"""arkeep export"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..context import Context

EXAMPLES = """examples:
  arkeep export "GNU Hello@2.10-3" --zip hello-2.10-3.zip
  7zz x -p'ABCD-EFGH-…' hello-2.10-3.zip      (the recovery code opens it, no arkeep needed)

The zip holds the installers, licence files and invoices under their real names, manifest.toml
and LICENSE.txt with the key. File names inside a zip are visible without the password.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common], help="one encrypted zip of a release, to hand over",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", metavar="PRODUCT@VERSION")
    p.add_argument("--zip", required=True, type=Path, metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ...ops.export import export_zip
    from ...ops.render import human_size
    
    store = ctx.open_store()
    release = store.catalog.resolve(args.release)
    secret = ctx.unlock(store)
    try:
        result = export_zip(store, release, secret, args.zip, args.force, ctx.file_bar)
    finally:
        ctx.close_bars()
    if ctx.json:
        ctx.emit_json({"zip": str(result.path), "entries": list(result.entries), "size": result.size})
        return 0
    ctx.say(f"Wrote {result.path} ({human_size(result.size)}, AES-256): {', '.join(result.entries)}")
    ctx.say("  7-Zip opens it with the recovery code from your recovery kit.")
    return 0
