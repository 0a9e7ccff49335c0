"""KeePass / KeePassXC: the database itself (KDBX 3 and 4, through pykeepass) and KeePassXC's CSV.

From a database every entry keeps its standard fields, its custom attributes (protected ones
stay secret) and its attachments, which become licence-file artifacts. KeePassXC's CSV export
has only Group, Title, Username, Password, URL, Notes, TOTP, Icon, Last Modified and Created.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.errors import MissingModule, UsageError
from archive.intake.importers import Attachment, ImportedField, ImportedItem
from archive.intake.importers.common import cell, item_from_fields, labelled, read_csv_table

KDBX_MAGIC = b"\x03\xd9\xa2\x9a"
MAX_ATTACHMENT = 256 * 1024 * 1024


def is_kdbx(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == KDBX_MAGIC
    except OSError:
        return False


def read_auto(path: Path, password: str | None = None, keyfile: Path | None = None) -> list[ImportedItem]:
    return read_kdbx(path, password, keyfile) if is_kdbx(path) else read_csv(path)


def read_kdbx(path: Path, password: str | None = None, keyfile: Path | None = None) -> list[ImportedItem]:
    try:
        from pykeepass import PyKeePass
        from pykeepass.exceptions import CredentialsError, HeaderChecksumError, PayloadChecksumError
    except ImportError as exc:
        raise MissingModule.from_import_error(exc, "reading a KeePass database") from None
    if password is None and keyfile is None:
        raise UsageError(f"{path} is a KeePass database: give its password (--password-file F, "
                         "or run in a terminal to be asked) or its --keyfile")
    try:
        db = PyKeePass(str(path), password=password, keyfile=str(keyfile) if keyfile else None)
    except CredentialsError:
        raise UsageError(f"{path}: wrong password or key file for this KeePass database") from None
    except (HeaderChecksumError, PayloadChecksumError):
        raise UsageError(f"{path}: the KeePass database is damaged (checksum mismatch)") from None
    except Exception as exc:  # noqa: BLE001 - pykeepass raises construct/lxml errors on junk
        raise UsageError(f"{path}: not a readable KeePass database ({type(exc).__name__})") from None
    recycle = db.recyclebin_group
    items = []
    for index, entry in enumerate(db.entries, 1):
        group = entry.group
        in_bin = recycle is not None and _inside(group, recycle)
        items.append(_entry_item(path, index, entry, in_bin))
    return items


def _inside(group: Any, ancestor: Any) -> bool:
    while group is not None:
        if group.uuid == ancestor.uuid:
            return True
        group = group.parentgroup
    return False


def _group_path(entry: Any) -> str:
    path = [p for p in (entry.path or [])[:-1] if p]
    return "/".join(path)


def _entry_item(path: Path, index: int, entry: Any, in_bin: bool) -> ImportedItem:
    title = entry.title or f"entry {index}"
    if in_bin:
        return ImportedItem(index, title, importable=False, skip_reason="in the recycle bin")
    fields: list[ImportedField] = []
    fields += labelled("username", entry.username)
    fields += labelled("password", entry.password, concealed=True)
    fields += labelled("url", entry.url)
    for name, value in (entry.custom_properties or {}).items():
        protected = bool(entry.is_custom_property_protected(name))
        fields += labelled(name, value, concealed=protected or name.lower() == "otp")
    if entry.tags:
        fields += labelled("tags", ", ".join(entry.tags))
    if entry.expires and entry.expiry_time is not None:
        fields += labelled("expires", entry.expiry_time.date().isoformat())
    attachments = []
    warnings = []
    for n, att in enumerate(entry.attachments, 1):
        try:
            data = att.data
        except Exception:  # noqa: BLE001 - a reference to a binary the database does not hold
            warnings.append(f"attachment {n} of entry {index} refers to data missing from the database")
            continue
        name = att.filename or f"attachment-{n}"
        if len(data) > MAX_ATTACHMENT:
            raise UsageError(f"{path}: entry {index}: attachment '{name}' is larger than "
                             f"{MAX_ATTACHMENT // 2**20} MiB")
        attachments.append(Attachment(name, bytes(data)))
    return item_from_fields(index, title, fields, notes=entry.notes, folder=_group_path(entry),
                            category="entry", source_id=str(entry.uuid),
                            attachments=tuple(attachments), warnings=tuple(warnings))


def read_csv(path: Path) -> list[ImportedItem]:
    _, rows = read_csv_table(path, required=("Title", "Password"))
    items = []
    known = {"group", "title", "username", "password", "url", "notes", "totp", "icon",
             "last modified", "created"}
    for index, row in enumerate(rows, 1):
        fields: list[ImportedField] = []
        fields += labelled("username", cell(row, "username"))
        fields += labelled("password", cell(row, "password"), concealed=True)
        fields += labelled("url", cell(row, "url"))
        fields += labelled("totp", cell(row, "totp"), concealed=True)
        for column in ("last modified", "created"):
            fields += labelled(column, cell(row, column))
        for column, value in row.items():
            if column.lower() not in known:
                fields += labelled(column, value)
        group = cell(row, "group")
        if group.split("/")[-1].lower() in ("recycle bin", "trash"):
            items.append(ImportedItem(index, cell(row, "title") or f"row {index}", importable=False,
                                      skip_reason="in the recycle bin"))
            continue
        items.append(item_from_fields(index, cell(row, "title") or f"row {index}", fields,
                                      notes=cell(row, "notes"), folder=group, category="entry"))
    return items
