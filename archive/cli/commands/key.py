"""arkeep key passwd, arkeep key export"""
from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.cli.context import Context, has_terminal, read_secret_file
from archive.errors import UsageError

if TYPE_CHECKING:
    from archive.storage.store import Store

EXAMPLES = """examples:
  arkeep key passwd --new-passphrase-file new.txt
  arkeep key export --recovery-kit ~/arkeep-kit.html     (printable page with a QR code)
  arkeep key export --recovery-kit ~/arkeep-kit.txt      (plain text)
"""
PASSWD_EXAMPLES = """examples:
  arkeep key passwd
  arkeep key passwd --new-passphrase-file new.txt

The archive secret, the recovery code and every bundle stay as they are. A new passphrase that
is easy to guess is refused unless --weak-passphrase-ok; a fair one is accepted with a warning.
The new key file is written at once to every remote that can be reached; the others (an
unplugged drive) keep the old one, so a rebuild from them needs the OLD passphrase until
`arkeep sync` reaches them. `arkeep status` lists remotes whose key file is out of date.
"""
EXPORT_EXAMPLES = """examples:
  arkeep key export --recovery-kit ~/arkeep-kit.html     (open in a browser, print, delete)
  arkeep key export --recovery-kit ~/arkeep-kit.txt

A FILE ending in .html is a printable page with the recovery code as text and as a QR code, the
remotes, and the steps of docs/RECOVERY.md; any other name gets the plain-text kit.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("key", parents=[common], help="change the passphrase or print a recovery kit",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ksub = p.add_subparsers(dest="key_command", metavar="COMMAND", required=True)
    pw = ksub.add_parser("passwd", parents=[common], help="change the passphrase; the data is untouched",
                         epilog=PASSWD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    pw.add_argument("--new-passphrase-file", type=Path, metavar="F",
                    help="read the new passphrase from a file instead of a prompt")
    pw.add_argument("--weak-passphrase-ok", action="store_true",
                    help="accept a new passphrase that is easy to guess (refused otherwise)")
    pw.set_defaults(run=run_passwd)
    ex = ksub.add_parser("export", parents=[common], help="write a new recovery kit (needs the passphrase)",
                         epilog=EXPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("--recovery-kit", type=Path, required=True, metavar="FILE",
                    help="kit.html for a printable page with a QR code, else plain text")
    ex.set_defaults(run=run_export)


def _new_passphrase(args: argparse.Namespace, ctx: Context) -> str:
    """The new passphrase, judged (passphrase_strength) before it replaces the old one."""
    from archive.crypto.passphrase_strength import check_new_passphrase

    if args.new_passphrase_file is not None:
        new = read_secret_file(args.new_passphrase_file, "passphrase file")
    elif not has_terminal():
        raise UsageError("give the new passphrase with --new-passphrase-file, or run in a terminal")
    else:
        new = getpass.getpass("New passphrase: ")
        if not new or getpass.getpass("Same passphrase again: ") != new:
            raise UsageError("the new passphrases are empty or differ; nothing was changed")
    check_new_passphrase(new, args.weak_passphrase_ok, ctx.note)
    return new


def run_passwd(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.replicas import say_if_kit_outdated
    from archive.replicate.remote_config import FIELD as REMOTES_FIELD

    store = ctx.open_store()
    with store.writing("arkeep key passwd"):
        keyring = ctx.unlock(store)
        rewrapped = keyring.wrap(_new_passphrase(args, ctx))
        sealed_remotes = store.wrapped_key().get(REMOTES_FIELD)
        if sealed_remotes is not None:
            rewrapped[REMOTES_FIELD] = sealed_remotes
        store.save_wrapped_key(rewrapped)
        updated, missed = _push_key_file(store)
    say_if_kit_outdated(ctx, store)
    if ctx.json:
        ctx.emit_json({"updated": updated, "not_updated": missed})
        return 0
    ctx.say("Passphrase changed. The archive secret, the recovery code and every bundle are unchanged.")
    if updated:
        ctx.say(f"  the new key file is on: {', '.join(updated)}")
    for name, why in missed.items():
        ctx.say(f"  NOT updated: {name}: {why}")
    if missed:
        ctx.say("  a rebuild from those needs the OLD passphrase until `arkeep sync` reaches them; "
                "`arkeep status` lists them")
    return 0


def _push_key_file(store: Store) -> tuple[list[str], dict[str, str]]:
    """Put the new key file on every reachable remote that holds this archive's."""
    from archive.errors import ArkeepError
    from archive.replicate.remotes import ledger_of, load_remotes, open_remote
    from archive.replicate.replica_key import push_after_passwd, store_wrapping
    from backends.errors import BackendError

    updated: list[str] = []
    missed: dict[str, str] = {}
    wrapping = store_wrapping(store)
    with ledger_of(store) as ledger:
        for spec in load_remotes(store).values():
            try:
                why = push_after_passwd(open_remote(spec, last_seen=ledger.last_seen(spec.name)), store)
            except (BackendError, ArkeepError) as exc:
                why = f"not reachable ({exc})"
            if why is None:
                updated.append(spec.name)
                if wrapping:
                    ledger.key_file_seen(spec.name, wrapping)
            else:
                missed[spec.name] = why
    return updated, missed


def run_export(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.recovery_kit import export_kit

    store = ctx.open_store()
    if args.recovery_kit.exists():
        raise UsageError(f"{args.recovery_kit} already exists; arkeep will not overwrite it")
    export_kit(store, ctx.unlock(store), args.recovery_kit)
    ctx.say(f"Wrote the recovery kit to {args.recovery_kit} (readable by you only).")
    return 0
