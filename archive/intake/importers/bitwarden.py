"""Bitwarden exports: unencrypted JSON (`bw export --format json`) and CSV.

JSON: `{"encrypted": false, "folders": [...], "items": [...]}`; an item has `type` (1 login,
2 secure note, 3 card, 4 identity, 5 SSH key), `name`, `notes`, `folderId` and custom `fields`
(`{"name", "value", "type"}`, type 0 text, 1 hidden, 2 boolean, 3 linked). CSV columns: folder,
favorite, type, name, notes, fields (one `name: value` per line), reprompt, login_uri,
login_username, login_password, login_totp.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archive.errors import UsageError
from archive.intake.importers import ImportedField, ImportedItem
from archive.intake.importers.common import (
    cell,
    item_from_fields,
    labelled,
    read_csv_table,
    read_text,
)

TYPE_NAMES = {1: "login", 2: "secure note", 3: "card", 4: "identity", 5: "SSH key"}
NEVER_LICENCES = {3: "a payment card is not a licence", 4: "an identity is not a licence",
                  5: "an SSH key is not a licence"}
LINKED = {100: "username", 101: "password"}


def read_auto(path: Path) -> list[ImportedItem]:
    head = path.read_bytes()[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return read_json(path) if head.startswith(b"{") else read_csv(path)


def read_json(path: Path) -> list[ImportedItem]:
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise UsageError(f"{path}: not a Bitwarden JSON export (no list of 'items')")
    if doc.get("encrypted"):
        raise UsageError(f"{path} is an encrypted Bitwarden export; export again choosing "
                         "'.json' (not '.json (Encrypted)'), import it, then delete it")
    folders = {f.get("id"): f.get("name") for f in doc.get("folders") or [] if isinstance(f, dict)}
    # An organisation export has collections instead of folders.
    collections = {c.get("id"): c.get("name") for c in doc.get("collections") or [] if isinstance(c, dict)}
    items = []
    for i, raw in enumerate(doc["items"], 1):
        if isinstance(raw, dict) and not raw.get("folderId") and isinstance(raw.get("collectionIds"), list):
            names = [str(collections[c]) for c in raw["collectionIds"] if collections.get(c)]
            folders[f"collections {i}"] = ", ".join(names) or None
            raw = {**raw, "folderId": f"collections {i}"}
        items.append(_json_item(path, i, raw, folders))
    return items


def _text(path: Path, index: int, raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    raise UsageError(f"{path}: item {index}: '{name}' is not text")


def _json_item(path: Path, index: int, raw: Any, folders: dict[Any, Any]) -> ImportedItem:
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: item {index} is not an object")
    kind = raw.get("type")
    title = _text(path, index, raw, "name") or f"item {index}"
    if kind in NEVER_LICENCES:
        return ImportedItem(index, title, importable=False, skip_reason=NEVER_LICENCES[kind],
                            category=TYPE_NAMES[kind])
    fields: list[ImportedField] = []
    login = raw.get("login")
    if login is not None:
        if not isinstance(login, dict):
            raise UsageError(f"{path}: item {index}: 'login' is not an object")
        fields += labelled("username", _text(path, index, login, "username"))
        fields += labelled("password", _text(path, index, login, "password"), concealed=True)
        fields += labelled("totp", _text(path, index, login, "totp"), concealed=True)
        for n, uri in enumerate(login.get("uris") or [], 1):
            if isinstance(uri, dict):
                fields += labelled("url" if n == 1 else f"url {n}", _text(path, index, uri, "uri"))
    custom = raw.get("fields") or []
    if not isinstance(custom, list):
        raise UsageError(f"{path}: item {index}: 'fields' is not a list")
    for n, f in enumerate(custom, 1):
        if not isinstance(f, dict):
            raise UsageError(f"{path}: item {index}: field {n} is not an object")
        label = _text(path, index, f, "name") or f"field {n}"
        if f.get("type") == 3:
            linked = LINKED.get(f.get("linkedId"), str(f.get("linkedId")))
            fields += labelled(label, f"(linked to the login's {linked})")
            continue
        value = f.get("value")
        value = "true" if value is True else "false" if value is False else value
        if value is not None and not isinstance(value, str):
            value = str(value)
        fields += labelled(label, value, concealed=f.get("type") == 1)
    for extra in ("favorite", "reprompt"):
        if raw.get(extra) not in (None, False, 0):
            fields += labelled(extra, str(raw[extra]).lower())
    if raw.get("attachments"):
        names = [a.get("fileName", "?") for a in raw["attachments"] if isinstance(a, dict)]
        warnings = tuple(f"attachment '{n}' is not inside a JSON export; download it from Bitwarden "
                         f"and add it with `arkeep add --license-file`" for n in names)
    else:
        warnings = ()
    return item_from_fields(index, title, fields, notes=_text(path, index, raw, "notes"),
                            folder=folders.get(raw.get("folderId")),
                            category=TYPE_NAMES.get(kind, str(kind)),
                            source_id=raw.get("id") if isinstance(raw.get("id"), str) else None,
                            warnings=warnings)


def read_csv(path: Path) -> list[ImportedItem]:
    _, rows = read_csv_table(path, required=("name", "type"))
    items = []
    for index, row in enumerate(rows, 1):
        kind = cell(row, "type").strip().lower()
        fields: list[ImportedField] = []
        fields += labelled("username", cell(row, "login_username"))
        fields += labelled("password", cell(row, "login_password"), concealed=True)
        fields += labelled("totp", cell(row, "login_totp"), concealed=True)
        for n, uri in enumerate(u for u in cell(row, "login_uri").split(",") if u.strip()):
            fields += labelled("url" if n == 0 else f"url {n + 1}", uri.strip())
        for line in cell(row, "fields").splitlines():
            label, sep, value = line.partition(": ")
            if not sep:
                label, sep, value = line.partition(":")
            fields += labelled(label.strip() or "field", value) if sep else labelled("field", line)
        for extra in ("favorite", "reprompt"):
            if cell(row, extra).strip() not in ("", "0", "false"):
                fields += labelled(extra, cell(row, extra))
        known = {"folder", "favorite", "type", "name", "notes", "fields", "reprompt", "login_uri",
                 "login_username", "login_password", "login_totp"}
        for column, value in row.items():
            if column.lower() not in known:
                fields += labelled(column, value)
        items.append(item_from_fields(index, cell(row, "name") or f"row {index}", fields,
                                      notes=cell(row, "notes"), folder=cell(row, "folder"),
                                      category="secure note" if kind == "note" else kind or None))
    return items
