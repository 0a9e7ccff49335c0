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
used" is the last change or reveal the slot made, by the audit log (`arkeep log`); "(you)"
marks your own slot.
"""
SPLIT_EXAMPLES = """examples:
  arkeep key split --shares 5 --threshold 3 --out ~/sheets          (five printable pages)
  arkeep key split --shares 3 --threshold 2 --out ~/sheets --text --holder Ann --holder Ben

Splits the recovery code so that any K sheets recover it and K-1 reveal nothing (Shamir's
secret sharing, the form of `ssss-split` from Debian's ssss package). Give one sheet to each
heir or trustee; print them, then delete the files. `arkeep key join` or `ssss-combine -t K`
recovers the code from K sheets (docs/RECOVERY.md).
"""
JOIN_EXAMPLES = """examples:
  arkeep key join                              (type or paste the lines of K sheets)
  arkeep key join --shares-file shares.txt     (one share line per line)
  arkeep key join --name ann                   (and get a passphrase of your own for the store)
  arkeep key join --recovery-kit kit.html

Without --name or --recovery-kit the recovery code is printed once on the terminal. Two sheets
of a 3-of-5 set recover nothing: arkeep says so and how many are needed.
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
    sp = ksub.add_parser("split", parents=[common], help="recovery sheets for heirs: any K of N "
                         "recover the archive", epilog=SPLIT_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--shares", type=int, required=True, metavar="N", help="how many sheets")
    sp.add_argument("--threshold", type=int, required=True, metavar="K",
                    help="how many sheets recover the archive")
    sp.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the sheets")
    sp.add_argument("--text", action="store_true", help="plain-text sheets instead of HTML pages")
    sp.add_argument("--holder", action="append", default=[], metavar="NAME",
                    help="who keeps sheet 1, 2, … (printed on it); repeat")
    sp.set_defaults(run=run_split)
    jn = ksub.add_parser("join", parents=[common], help="recover the archive from K recovery "
                         "sheets", epilog=JOIN_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    jn.add_argument("--shares-file", type=Path, metavar="F",
                    help="read the share lines from a file (else standard input or prompts)")
    jn.add_argument("--threshold", type=int, metavar="K",
                    help="only for shares typed without their arkeep.… name")
    jn.add_argument("--name", dest="slot", metavar="NAME",
                    help="add a key slot NAME to the store with a new passphrase of your own")
    jn.add_argument("--recovery-kit", type=Path, metavar="FILE",
                    help="write a recovery kit with the recovered code (.html or text)")
    _new_passphrase_options(jn)
    jn.set_defaults(run=run_join)
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
    ctx.note("last used: the last change or reveal in the audit log (`arkeep log`)")
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


def run_split(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.heirs import write_sheets

    store = ctx.open_store()
    keyring = ctx.unlock(store)
    done = write_sheets(keyring, args.threshold, args.shares, args.out, html=not args.text,
                        holders=args.holder)
    if ctx.json:
        ctx.emit_json({"key_id": done.key_id, "threshold": done.threshold, "shares": done.count,
                       "sheets": [str(p) for p in done.paths]})
        return 0
    ctx.say(f"Wrote {done.count} recovery sheets to {args.out} (readable by you only); any "
            f"{done.threshold} of them recover the archive:")
    for path in done.paths:
        ctx.say(f"  {path.name}")
    ctx.say("Print them, give each to a different person or place, then delete the files.")
    return 0


def _share_lines(args: argparse.Namespace) -> list[str]:
    """Share lines from --shares-file, standard input, or prompts (hidden) on a terminal."""
    import sys

    from archive.crypto.heirs import set_of

    if args.shares_file is not None:
        try:
            text = args.shares_file.read_text(encoding="utf-8")[:64 * 1024]
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{args.shares_file}: cannot read the shares ({type(exc).__name__})") \
                from None
        return [line for line in text.splitlines() if line.strip()]
    if not has_terminal():
        return [line for line in sys.stdin.read(64 * 1024).splitlines() if line.strip()]
    lines = [getpass.getpass("Share 1 (its whole line): ")]
    named, _ = set_of(lines[0])
    needed = args.threshold or (named.threshold if named else None)
    if needed is None:
        raise UsageError("that share does not say how many are needed: give --threshold K")
    while len(lines) < needed:
        lines.append(getpass.getpass(f"Share {len(lines) + 1} of {needed}: "))
    return lines


def run_join(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.heirs import join
    from archive.ops.key_slots import add_slot
    from archive.present.kit_html import require_kit_support, write_kit

    if args.slot is None and args.recovery_kit is None and ctx.json:
        raise UsageError("with --json, give --name or --recovery-kit: the recovery code is "
                         "printed only on the terminal")
    if args.recovery_kit is not None:
        if args.recovery_kit.exists():
            raise UsageError(f"{args.recovery_kit} already exists; arkeep will not overwrite it")
        require_kit_support(args.recovery_kit)
    store = ctx.open_store() if args.slot is not None or (ctx.store_path / "arkeep.toml").is_file() \
        else None
    key_id = store.config.get("key_id") if store is not None else None
    keyring = join(_share_lines(args), args.threshold, key_id)
    added = None
    if args.slot is not None and store is not None:
        from archive.crypto import slots
        with store.writing("arkeep key join"):
            added = add_slot(store, keyring, slots.check_name(args.slot), _new_passphrase(args, ctx))
    if args.recovery_kit is not None:
        write_kit(args.recovery_kit, keyring.recovery_code, keyring.key_id,
                  store.root if store is not None else ctx.store_path)
    if ctx.json:
        ctx.emit_json({"key_id": keyring.key_id, "slot": args.slot,
                       "recovery_kit": str(args.recovery_kit) if args.recovery_kit else None,
                       "updated": added.updated if added else [],
                       "not_updated": added.not_updated if added else {}})
        return 0
    ctx.say(f"The shares recover the archive with key id {keyring.key_id}.")
    if added is not None:
        ctx.say(f"Added key slot '{args.slot}': your new passphrase opens this store.")
        _say_pushed(ctx, added, "`arkeep sync` carries the new key file to those")
    if args.recovery_kit is not None:
        ctx.say(f"Wrote the recovery kit to {args.recovery_kit} (readable by you only).")
    if added is None and args.recovery_kit is None:
        # Shown once, as init shows it: the heirs asked for exactly this.
        print(f"\nRecovery code (the password of every bundle; docs/RECOVERY.md):\n\n"
              f"    {keyring.recovery_code}\n", file=ctx.out)
        if store is None:
            ctx.say("No store here. To rebuild one from a replica with this code and a "
                    "passphrase of your own: `arkeep rebuild --from REPLICA --recovery-code "
                    "--slot YOUR-NAME`")
    return 0


def run_export(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.recovery_kit import export_kit

    store = ctx.open_store()
    if args.recovery_kit.exists():
        raise UsageError(f"{args.recovery_kit} already exists; arkeep will not overwrite it")
    export_kit(store, ctx.unlock(store), args.recovery_kit)
    ctx.say(f"Wrote the recovery kit to {args.recovery_kit} (readable by you only).")
    return 0
