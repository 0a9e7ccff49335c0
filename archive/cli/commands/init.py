"""arkeep init"""
from __future__ import annotations

import argparse
from pathlib import Path

from archive.cli.context import Context

HELP = "create a new store with a fresh archive secret"
EXAMPLES = """examples:
  arkeep init --recovery-kit ~/arkeep-recovery-kit.html    (printable page with a QR code)
  arkeep init --recovery-kit ~/arkeep-recovery-kit.txt
  ARKEEP_STORE=/srv/arkeep arkeep init

The passphrase is judged before anything is written (zxcvbn): one that is easy to guess is
refused unless --weak-passphrase-ok, a fair one is accepted with a warning.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help=HELP, description=
                       "Create a store and its archive secret. The secret is printed once as a "
                       "recovery code: it opens every bundle with 7-Zip, without arkeep. It is also "
                       "kept wrapped under your passphrase (scrypt).",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recovery-kit", metavar="FILE", type=Path,
                   help="write a recovery kit with the recovery code (mode 0600): "
                        "FILE.html is a printable page with a QR code, any other name plain text")
    p.add_argument("--weak-passphrase-ok", action="store_true",
                   help="accept a passphrase that is easy to guess (refused otherwise: anyone with "
                        "a replica's key.toml can guess it offline)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.crypto.passphrase_strength import check_new_passphrase
    from archive.ops.init import init_store

    passphrase = ctx.passphrase(confirm=True, prompt="New passphrase: ")
    check_new_passphrase(passphrase, args.weak_passphrase_ok, ctx.note, (ctx.store_path.name,))
    result = init_store(ctx.store_path, passphrase, args.recovery_kit)
    if ctx.json:
        ctx.emit_json({"store": str(result.store.root), "key_id": result.key_id,
                       "recovery_kit": str(result.kit_path) if result.kit_path else None})
        return 0
    print(f"Created an arkeep store at {result.store.root} (key id {result.key_id}).", file=ctx.out)
    if result.kit_path:
        print(f"The recovery code is in the recovery kit at {result.kit_path}: print it, keep it "
              "safe, then delete the file.", file=ctx.out)
    else:
        # The one place the recovery code is shown: once, at creation, on the terminal.
        print("\nRecovery code (write it down now; it is shown only this once):\n\n"
              f"    {result.recovery_code}\n\n"
              "It opens every bundle with 7-Zip even without arkeep or your passphrase.", file=ctx.out)
    return 0
