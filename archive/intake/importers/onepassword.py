"""1Password exports: the `.1pux` file (a zip with `export.data`, JSON, and `files/`) and CSV.

export.data: `{"accounts": [{"attrs": …, "vaults": [{"attrs": {"name": …}, "items": [item]}]}]}`.
An item has `categoryUuid` ("100" Software License, "001" Login, "006" Document, …),
`overview` (`title`, `url`, `tags`) and `details` (`notesPlain`, `loginFields`, `password`,
`documentAttributes`, and `sections`, each with `fields`: `{"title", "id", "value": {TYPE: v}}`).
Attachments are the zip entries `files/<documentId>__<fileName>`.
A CSV export has a header row (1Password 8: Title, Url, Username, Password, OTPAuth, Favorite,
Archived, Tags, Notes; 1Password 7 lets you pick the columns): it is read like a spreadsheet.
"""
from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.errors import UsageError
from archive.intake.importers import Attachment, ImportedField, ImportedItem
from archive.intake.importers.common import item_from_fields, labelled, read_csv_table
from archive.intake.importers.fields import ONEPASSWORD_IDS

CATEGORIES = {
    "001": "Login", "002": "Credit Card", "003": "Secure Note", "004": "Identity", "005": "Password",
    "006": "Document", "100": "Software License", "101": "Bank Account", "102": "Database",
    "103": "Driver License", "104": "Outdoor License", "105": "Membership", "106": "Passport",
    "107": "Reward Program", "108": "Social Security Number", "109": "Wireless Router",
    "110": "Server", "111": "Email Account", "112": "API Credential", "113": "Medical Record",
    "114": "SSH Key", "115": "Crypto Wallet",
}
LICENCE_CATEGORY = "100"
NEVER_LICENCES = {"002", "004", "101", "103", "104", "106", "108", "113", "114", "115"}
CONCEALED_TYPES = ("concealed", "totp", "creditCardNumber", "sshKey")
MAX_ATTACHMENT = 256 * 1024 * 1024


def read_auto(path: Path) -> list[ImportedItem]:
    return read_1pux(path) if zipfile.is_zipfile(path) else read_csv(path)


def read_1pux(path: Path) -> list[ImportedItem]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UsageError(f"{path}: not a 1Password .1pux file (not a zip archive)") from None
    with zf:
        try:
            raw = zf.read("export.data")
        except KeyError:
            raise UsageError(f"{path}: not a 1Password .1pux file (no export.data inside)") from None
        except (zipfile.BadZipFile, OSError, RuntimeError):
            raise UsageError(f"{path}: export.data cannot be read from the zip (damaged?)") from None
        try:
            doc = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise UsageError(f"{path}: export.data is not valid JSON{where}") from None
        files = {info.filename: info for info in zf.infolist() if info.filename.startswith("files/")}
        items: list[ImportedItem] = []
        accounts = doc.get("accounts") if isinstance(doc, dict) else None
        if not isinstance(accounts, list):
            raise UsageError(f"{path}: export.data has no list of 'accounts'")
        for a, account in enumerate(accounts, 1):
            for v, vault in enumerate(_list(path, account, "vaults", f"account {a}"), 1):
                vault_name = _dict(path, vault.get("attrs"), f"account {a} vault {v} attrs").get("name")
                for raw_item in _list(path, vault, "items", f"account {a} vault {v}"):
                    items.append(_item(path, len(items) + 1, raw_item, vault_name, zf, files))
        return items


def _list(path: Path, parent: Any, key: str, where: str) -> list[Any]:
    value = parent.get(key, []) if isinstance(parent, dict) else None
    if not isinstance(value, list):
        raise UsageError(f"{path}: {where}: '{key}' is not a list")
    return value


def _dict(path: Path, value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{path}: {where} is not an object")
    return value


def _item(path: Path, index: int, raw: Any, vault: str | None, zf: zipfile.ZipFile,
          files: dict[str, zipfile.ZipInfo]) -> ImportedItem:
    where = f"item {index}"
    raw = _dict(path, raw, where)
    overview = _dict(path, raw.get("overview"), f"{where} overview")
    details = _dict(path, raw.get("details"), f"{where} details")
    category_id = str(raw.get("categoryUuid", ""))
    category = CATEGORIES.get(category_id, category_id or None)
    title = str(overview.get("title") or f"item {index}")
    if category_id in NEVER_LICENCES:
        return ImportedItem(index, title, importable=False, category=category,
                            skip_reason=f"a {category} item is not a licence")
    if raw.get("state") == "deleted" or raw.get("trashed"):
        return ImportedItem(index, title, importable=False, category=category,
                            skip_reason="in the trash")
    fields: list[ImportedField] = []
    attachments: list[Attachment] = []
    warnings: list[str] = []
    for lf in details.get("loginFields") or []:
        if isinstance(lf, dict) and lf.get("value"):
            label = lf.get("designation") or lf.get("name") or "login field"
            fields += labelled(str(label), str(lf["value"]),
                               concealed=lf.get("fieldType") == "P" or label == "password")
    fields += labelled("password", details.get("password"), concealed=True)
    fields += labelled("url", overview.get("url"))
    for n, u in enumerate(overview.get("urls") or [], 1):
        if isinstance(u, dict) and u.get("url") and u.get("url") != overview.get("url"):
            fields += labelled(u.get("label") or f"url {n}", u["url"])
    for s, section in enumerate(details.get("sections") or [], 1):
        section = _dict(path, section, f"{where} section {s}")
        for f, fld in enumerate(section.get("fields") or [], 1):
            fld = _dict(path, fld, f"{where} section {s} field {f}")
            value = _dict(path, fld.get("value"), f"{where} section {s} field {f} value")
            label = str(fld.get("title") or fld.get("id") or f"field {f}")
            if "file" in value:
                _attach(path, where, _dict(path, value["file"], f"{where} file"), zf, files,
                        attachments, warnings)
                continue
            kind, text = _value_text(value)
            target = ONEPASSWORD_IDS.get(str(fld.get("id") or ""))
            fields += labelled(label, text, concealed=kind in CONCEALED_TYPES, target=target)
    doc_attrs = details.get("documentAttributes")
    if isinstance(doc_attrs, dict):
        _attach(path, where, doc_attrs, zf, files, attachments, warnings)
    tags = overview.get("tags")
    if isinstance(tags, list) and tags:
        fields += labelled("tags", ", ".join(str(t) for t in tags))
    if raw.get("state") == "archived":
        fields += labelled("1password state", "archived")
    for stamp in ("createdAt", "updatedAt"):
        if isinstance(raw.get(stamp), int):
            when = datetime.fromtimestamp(raw[stamp], tz=UTC).date().isoformat()
            fields += labelled(f"1password {stamp}", when)
    licence_like = True if category_id == LICENCE_CATEGORY else None
    return item_from_fields(index, title, fields, notes=details.get("notesPlain"), folder=vault,
                            category=category, source_id=raw.get("uuid"),
                            licence_like=licence_like, attachments=tuple(attachments),
                            warnings=tuple(warnings))


def _value_text(value: dict[str, Any]) -> tuple[str, str | None]:
    """(type, text) of a 1Password field value `{TYPE: v}`."""
    if not value:
        return "", None
    kind, v = next(iter(value.items()))
    if v is None or v == "":
        return kind, None
    if kind == "date" and isinstance(v, (int, float)):
        return kind, datetime.fromtimestamp(v, tz=UTC).date().isoformat()
    if kind == "monthYear" and isinstance(v, int):
        return kind, f"{v // 100:04d}-{v % 100:02d}"
    if kind == "email" and isinstance(v, dict):
        return kind, v.get("email_address")
    if kind == "address" and isinstance(v, dict):
        return kind, ", ".join(str(p) for p in v.values() if p)
    if isinstance(v, (dict, list)):
        return kind, json.dumps(v, ensure_ascii=False)
    return kind, str(v)


def _attach(path: Path, where: str, attrs: dict[str, Any], zf: zipfile.ZipFile,
            files: dict[str, zipfile.ZipInfo], out: list[Attachment], warnings: list[str]) -> None:
    name = str(attrs.get("fileName") or "attachment")
    doc_id = str(attrs.get("documentId") or "")
    candidates = [f"files/{doc_id}__{name}", f"files/{doc_id}", f"files/{name}"]
    info = next((files[c] for c in candidates if c in files), None)
    if info is None:
        warnings.append(f"{where}: attachment '{name}' is named but not inside the export")
        return
    if info.file_size > MAX_ATTACHMENT:
        raise UsageError(f"{path}: {where}: attachment '{name}' is larger than "
                         f"{MAX_ATTACHMENT // 2**20} MiB")
    try:
        out.append(Attachment(name, zf.read(info)))
    except (zipfile.BadZipFile, OSError, RuntimeError):
        raise UsageError(f"{path}: {where}: attachment '{name}' cannot be read (damaged zip?)") from None


def read_csv(path: Path) -> list[ImportedItem]:
    header, rows = read_csv_table(path)
    if not any(h.lower() == "title" for h in header):
        raise UsageError(f"{path}: no 'Title' column; is this a 1Password CSV export?")
    items = []
    for index, row in enumerate(rows, 1):
        fields: list[ImportedField] = []
        title = ""
        notes = None
        for column, value in row.items():
            low = column.lower()
            if low == "title":
                title = value
            elif low in ("notes", "notesplain"):
                notes = value
            elif low in ("favorite", "archived") and value.strip().lower() in ("", "false", "0"):
                continue
            else:
                fields += labelled(column, value, concealed=low in ("password", "otpauth"))
        items.append(item_from_fields(index, title or f"row {index}", fields, notes=notes))
    return items
