"""arkeep import"""
from __future__ import annotations

import argparse
from pathlib import Path

from archive.cli.context import Context, has_terminal, read_secret_file

FORMATS = ("1password", "1pux", "1password-csv", "bitwarden", "bitwarden-json", "bitwarden-csv",
           "keepass", "kdbx", "keepassxc-csv", "lastpass", "csv")
EXAMPLES = """examples:
  arkeep import bitwarden bitwarden_export.json --dry-run     (shows the mapping, writes nothing)
  arkeep import bitwarden bitwarden_export.json
  arkeep import lastpass lastpass_export.csv
  arkeep import 1password Export.1pux
  arkeep import keepass Passwords.kdbx --password-file ~/.kdbx-pass
  arkeep import csv licences.csv --map "Serial No=key" --map "Bought=purchase_date"

Formats: 1password (.1pux or CSV), bitwarden (JSON or CSV), keepass (.kdbx or KeePassXC CSV),
lastpass (CSV), csv (any spreadsheet with a header row). Items that hold a licence key, or sit in
a folder named like Licenses or Software, are imported; --all imports every login and note too.
A Password field is the licence key when no field is labelled as one and the entry has no user
name or the password is shaped like a product key (XXXXX-XXXXX-XXXXX); else it stays the
account's password. Keys are encrypted on arrival; fields arkeep has no place for are kept under `extra`; KeePass and
1Password attachments become licence-file artifacts. An item that names a version also becomes a
release (add its installer later with `arkeep add … --license ID`). Importing the same file twice
changes nothing. Delete the export file afterwards: it holds your keys in clear.
--map fields: product version edition platform vendor kind key licensed_to email company seats
purchase_date order_number price currency seller expires maintenance_end activation_notes
account_hint notes secret extra
"""


def _mapping(text: str) -> tuple[str, str]:
    column, sep, target = text.rpartition("=")
    if not sep or not column.strip() or not target.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: give COLUMN=FIELD, e.g. 'Serial No=key'")
    return column.strip(), target.strip().lower().replace("-", "_")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("import", parents=[common], help="import licences from a password manager or spreadsheet",
                       description="Turn each licence of an export file into a licence record "
                                   "(and a release when it names a version), keys encrypted.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", metavar="FORMAT", type=str.lower, choices=FORMATS,
                   help="one of: " + ", ".join(FORMATS))
    p.add_argument("file", type=Path, metavar="FILE", help="the export file")
    p.add_argument("--dry-run", action="store_true", help="show what would be imported; write nothing")
    p.add_argument("--map", action="append", type=_mapping, default=[], metavar="COLUMN=FIELD",
                   help="what a column or field means (repeatable)")
    p.add_argument("--all", dest="include_all", action="store_true",
                   help="import every item, not only those that look like licences")
    p.add_argument("--password-file", type=Path, metavar="F",
                   help="the KeePass database's password, from the first line of F")
    p.add_argument("--keyfile", type=Path, metavar="F", help="the KeePass database's key file")
    p.set_defaults(run=run)


def _database_password(args: argparse.Namespace) -> str | None:
    if args.password_file is not None:
        return read_secret_file(args.password_file, "password file")
    if args.keyfile is not None or not has_terminal():
        return None
    import getpass
    return getpass.getpass(f"Password of {args.file.name}: ") or None


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.intake.import_licenses import apply_import, plan_import, result_data
    from archive.intake.importers import check_import_file, import_file, resolve_format
    from archive.intake.importers.keepass import is_kdbx

    store = ctx.open_store()
    fmt = resolve_format(args.format)
    check_import_file(args.file)
    password = _database_password(args) if fmt in ("keepass", "kdbx") and is_kdbx(args.file) else None
    items = import_file(fmt, args.file, password=password, keyfile=args.keyfile,
                        mapping=dict(args.map) or None)
    drafts, skipped = plan_import(items, args.include_all)
    keyring = ctx.unlock(store)
    if args.dry_run:
        result = apply_import(store, drafts, skipped, keyring, fmt, args.file.name, dry_run=True)
    else:
        with store.writing("arkeep import"):
            result = apply_import(store, drafts, skipped, keyring, fmt, args.file.name)
    data = result_data(result, fmt, str(args.file))
    if ctx.json:
        ctx.emit_json(data)
        return 0
    _print(ctx, data)
    return 0


def _print(ctx: Context, data: dict) -> None:
    verb = "Would import" if data["dry_run"] else "Imported"
    for item in data["items"]:
        target = item["license"] or "a new licence record"
        if item["action"] == "unchanged":
            ctx.say(f"item {item['index']} '{item['title']}': already imported as {item['license']}; unchanged")
            continue
        release = f" + release {item['release']} ({item['release_action']})" if item["release"] else ""
        ctx.say(f"item {item['index']} '{item['title']}' -> {target} ({item['kind']}){release}")
        for m in item["mapping"]:
            shown = m["value"].replace("\n", " ⏎ ")
            shown = shown if len(shown) <= 60 else shown[:57] + "…"
            ctx.say(f"    {m['from'][:28]:<28} -> {m['to'][:28]:<28} {shown}")
        for a in item["attachments"]:
            ctx.say(f"    {'(attachment)':<28} -> {'artifact license-file':<28} {a['filename']} ({a['size']} bytes)")
        for w in item["warnings"]:
            ctx.note(f"    warning: {w}")
    for s in data["skipped_items"]:
        ctx.say(f"item {s['index']} '{s['title']}': skipped, {s['reason']}")
    ctx.say(f"{verb} {data['imported']} licence record(s); {data['unchanged']} unchanged, "
            f"{data['skipped']} skipped." + (" Nothing was written (--dry-run)." if data["dry_run"] else ""))
    if data["without_release"]:
        ctx.note(f"note: {len(data['without_release'])} licence record(s) name no version, so no release "
                 "holds them yet; `arkeep list --licenses` shows them and `arkeep add INSTALLER --product … "
                 "--version … --license ID` links one (`arkeep sync` replicates them all the same)")
    if not data["dry_run"] and data["imported"]:
        ctx.say("The keys are encrypted in the store; delete the export file, it holds them in clear.")
