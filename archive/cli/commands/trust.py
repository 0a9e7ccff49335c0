"""arkeep trust"""
from __future__ import annotations

import argparse
from pathlib import Path

from archive.cli.context import Context

HELP = "root certificates and OpenPGP keys this store trusts for signatures"
DESCRIPTION = """\
Keep root certificates (for Authenticode chains: Microsoft's code-signing roots are missing
from most Linux trust stores) and OpenPGP public keys (a vendor's release key) that `add` and
`verify --authenticity` use without being named each time. They stay in this store's trust/
folder on this machine; what was trusted when a file was archived is kept in its manifest."""
EXAMPLES = """examples:
  arkeep trust add MicrosoftIdentityVerificationRoot2020.crt
  arkeep trust add python-release-key.asc
  arkeep trust list
  arkeep trust remove 5367f20c7ade0e2b
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("trust", parents=[common], help=HELP, description=DESCRIPTION,
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="add|list|remove", required=True)
    add = verbs.add_parser("add", parents=[common], help="trust the certificates or keys in FILE",
                           epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("file", type=Path, metavar="FILE")
    add.set_defaults(run=run_add)
    lst = verbs.add_parser("list", parents=[common], help="what this store trusts",
                           epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    lst.set_defaults(run=run_list)
    rm = verbs.add_parser("remove", parents=[common], help="stop trusting one entry",
                          epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rm.add_argument("ident", metavar="FINGERPRINT", help="its fingerprint, or the first 8+ characters")
    rm.set_defaults(run=run_remove)


def _line(t: object) -> str:
    kind = "root   " if t.kind == "roots" else "openpgp"  # type: ignore[attr-defined]
    return f"{kind}  {t.ident[:16]}…  {t.name}"  # type: ignore[attr-defined]


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.trust import add_trusted

    store = ctx.open_store()
    with store.writing("arkeep trust add"):
        added = add_trusted(store, args.file)
    if ctx.json:
        ctx.emit_json([{"kind": t.kind, "id": t.ident, "name": t.name} for t in added])
        return 0
    for t in added:
        ctx.say(f"trusted {_line(t)}")
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.trust import list_trusted

    found = list_trusted(ctx.open_store())
    if ctx.json:
        ctx.emit_json([{"kind": t.kind, "id": t.ident, "name": t.name} for t in found])
        return 0
    for t in found:
        ctx.say(_line(t))
    if not found:
        ctx.say("Nothing beyond the system's trust store (`arkeep trust add FILE`).")
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.trust import remove_trusted

    store = ctx.open_store()
    with store.writing("arkeep trust remove"):
        gone = remove_trusted(store, args.ident)
    ctx.say(f"no longer trusted: {_line(gone)}")
    return 0
