"""arkeep key add / list / remove / passwd / export"""
from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.cli.context import Context, has_terminal, read_secret_file
from archive.errors import UsageError

if TYPE_CHECKING:
    from archive.ops.key_slots import SlotChange

EXAMPLES = """examples:
  arkeep key add bob                      (Bob types his own passphrase at the prompt)
  arkeep key add --name carol --new-passphrase-file carol.txt
  arkeep key list
  arkeep key remove bob
  arkeep key passwd                       (the passphrase you opened the store with)
  arkeep key export --recovery-kit ~/arkeep-kit.html     (printable page with a QR code)

Each person has their own key slot: the one archive secret wrapped under their passphrase. Any
slot opens the whole archive. `key remove` stops a passphrase from opening the store and, once
synced, every replica's key file; it cannot take back what that person could already read
(the recovery code, bundles, an old copy of key.toml): see docs/THREATS.md.
"""
PASSWD_EXAMPLES = """examples:
  arkeep key passwd
  arkeep key passwd --new-passphrase-file new.txt
  arkeep key passwd bob      (Bob forgot his: anyone who opens the store may reset it)

Without NAME, the key slot your passphrase opens changes.

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


ADD_EXAMPLES = """examples:
  arkeep key add bob                                 (Bob types his passphrase at the prompt)
  arkeep key add --name carol --new-passphrase-file carol.txt
  arkeep key add heirs --generate                    (a random passphrase, printed once)

Your passphrase (or any key holder's) opens the store first; then the new person's passphrase
is asked twice. The new key file is written at once to every remote that can be reached.
"""
LIST_EXAMPLES = """examples:
  arkeep key list
  arkeep key list --json

Any key holder's passphrase opens the list; it shows names and dates, never a secret. "Last
used" is what this machine saw (replicas do not carry it); "(you)" marks your own slot.
"""
REMOVE_EXAMPLES = """examples:
  arkeep key remove bob

Bob's passphrase no longer opens this store, nor, once `arkeep sync` has reached it, any
replica's key file. What it cannot undo: Bob held the archive secret while his slot existed, so
he could have kept the recovery code (`key export`), a copy of key.toml that his passphrase
still opens, or bundles he could read. Removing his access to the remotes themselves (S3
credentials, the drive) is up to you. The last key slot cannot be removed.
"""


def _new_passphrase_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-passphrase-file", type=Path, metavar="F",
                   help="read the new passphrase from a file instead of a prompt")
    p.add_argument("--weak-passphrase-ok", action="store_true",
                   help="accept a new passphrase that is easy to guess (refused otherwise)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("key", parents=[common], help="key slots (one passphrase per person), "
                       "passphrase changes, recovery kits",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ksub = p.add_subparsers(dest="key_command", metavar="COMMAND", required=True)
    add = ksub.add_parser("add", parents=[common], help="let one more person open the store with "
                          "their own passphrase", epilog=ADD_EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("slot", nargs="?", metavar="NAME", help="the person's name (or use --name)")
    add.add_argument("--name", dest="slot_option", metavar="NAME", help="the person's name")
    _new_passphrase_options(add)
    add.add_argument("--generate", action="store_true",
                     help="make a random passphrase (160 bits) and print it once, instead of asking")
    add.set_defaults(run=run_add)
    ls = ksub.add_parser("list", parents=[common], help="the key slots: names, created, last used "
                         "(needs a passphrase; shows no secret)", epilog=LIST_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.set_defaults(run=run_list)
    rm = ksub.add_parser("remove", parents=[common], help="stop one person's passphrase from "
                         "opening the store", epilog=REMOVE_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    rm.add_argument("slot", metavar="NAME")
    rm.set_defaults(run=run_remove)
    pw = ksub.add_parser("passwd", parents=[common], help="change a passphrase; the data is untouched",
                         epilog=PASSWD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    pw.add_argument("slot", nargs="?", metavar="NAME",
                    help="the key slot to change (default: the one your passphrase opens)")
    _new_passphrase_options(pw)
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
    from archive.ops.key_slots import change_passphrase

    store = ctx.open_store()
    with store.writing("arkeep key passwd"):
        keyring = ctx.unlock(store)
        name = args.slot or store.unlocked_slot
        change = change_passphrase(store, keyring, name, _new_passphrase(args, ctx))
    say_if_kit_outdated(ctx, store)
    if ctx.json:
        ctx.emit_json({"slot": name, "updated": change.updated, "not_updated": change.not_updated})
        return 0
    ctx.say(f"Passphrase changed (key slot '{name}'). The archive secret, the recovery code and "
            "every bundle are unchanged.")
    _say_pushed(ctx, change, "a rebuild from those needs the OLD passphrase until `arkeep sync` "
                "reaches them; `arkeep status` lists them")
    return 0


def _say_pushed(ctx: Context, change: SlotChange, missed_means: str) -> None:
    if change.updated:
        ctx.say(f"  the new key file is on: {', '.join(change.updated)}")
    for name, why in change.not_updated.items():
        ctx.say(f"  NOT updated: {name}: {why}")
    if change.not_updated:
        ctx.say(f"  {missed_means}")


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    from archive.crypto import keys, slots
    from archive.ops.key_slots import add_slot

    if args.slot and args.slot_option and args.slot != args.slot_option:
        raise UsageError("give the name once: `arkeep key add NAME` or `--name NAME`")
    name = slots.check_name(args.slot or args.slot_option or "")
    if args.generate and (args.new_passphrase_file is not None or ctx.json):
        raise UsageError("--generate prints the new passphrase once on the terminal: not with "
                         "--new-passphrase-file or --json")
    store = ctx.open_store()
    with store.writing("arkeep key add"):
        keyring = ctx.unlock(store)
        if name in keys.slot_tables(store.wrapped_key()):
            raise UsageError(f"there is already a key slot named {name!r}; `arkeep key passwd "
                             f"{name}` changes its passphrase")
        new = keys.recovery_code(keys.new_secret()) if args.generate else _new_passphrase(args, ctx)
        change = add_slot(store, keyring, name, new)
    if ctx.json:
        ctx.emit_json({"slot": name, "added_by": store.unlocked_slot, "updated": change.updated,
                       "not_updated": change.not_updated})
        return 0
    ctx.say(f"Added key slot '{name}': that passphrase now opens this store.")
    if args.generate:
        # Shown once, like the recovery code at init; it is a passphrase, not the zip password.
        print(f"\nPassphrase of '{name}' (write it down now; it is shown only this once):\n\n"
              f"    {new}\n", file=ctx.out)
    _say_pushed(ctx, change, "a rebuild from those does not know this passphrase until "
                "`arkeep sync` reaches them")
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.key_slots import list_slots

    store = ctx.open_store()
    ctx.unlock(store)
    rows = list_slots(store)
    if ctx.json:
        ctx.emit_json({"slots": [r.as_json() for r in rows]})
        return 0
    when = lambda d: d.strftime("%Y-%m-%d") if d is not None else "-"
    width = max(len(r.name) for r in rows)
    print(f"{'NAME':<{width}}  CREATED     LAST USED", file=ctx.out)
    for r in rows:
        mark = "  (you)" if r.current else ""
        print(f"{r.name:<{width}}  {when(r.created):<10}  {when(r.last_used)}{mark}", file=ctx.out)
    ctx.note("last used: on this machine only")
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.key_slots import remove_slot

    store = ctx.open_store()
    with store.writing("arkeep key remove"):
        ctx.unlock(store)
        change = remove_slot(store, args.slot)
    if ctx.json:
        ctx.emit_json({"slot": args.slot, "removed_by": store.unlocked_slot,
                       "updated": change.updated, "not_updated": change.not_updated})
        return 0
    ctx.say(f"Removed key slot '{args.slot}': its passphrase no longer opens this store.")
    _say_pushed(ctx, change, f"those still hold a key file that '{args.slot}' opens until "
                "`arkeep sync` reaches them; `arkeep status` lists them")
    ctx.note("Whoever held that slot could have kept the recovery code or an old key file; "
             "see docs/THREATS.md (key slots).")
    return 0


def run_export(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.recovery_kit import export_kit

    store = ctx.open_store()
    if args.recovery_kit.exists():
        raise UsageError(f"{args.recovery_kit} already exists; arkeep will not overwrite it")
    export_kit(store, ctx.unlock(store), args.recovery_kit)
    ctx.say(f"Wrote the recovery kit to {args.recovery_kit} (readable by you only).")
    return 0
