"""LastPass CSV export: url, username, password, totp, extra, name, grouping, fav.

Secure notes have the url `http://sn`; a structured note's `extra` starts with `NoteType:NAME`
and holds one `Label:value` line per field, `Notes:` last (its value runs to the end of the
text). A "Software License" note has License Key, Licensee, Version, Publisher, Support Email,
Website, Price, Purchase Date, Order Number, Number of Licenses, Order Total and Notes.
"""
from __future__ import annotations

from pathlib import Path

from archive.intake.importers import ImportedField, ImportedItem
from archive.intake.importers.common import cell, item_from_fields, labelled, read_csv_table

SECURE_NOTE_URL = "http://sn"
LICENCE_NOTE_TYPE = "software license"
NEVER_LICENCES = {"credit card": "a payment card is not a licence",
                  "bank account": "a bank account is not a licence",
                  "address": "an address is not a licence",
                  "passport": "a passport is not a licence",
                  "social security": "a social security number is not a licence",
                  "driver's license": "a driver's licence is not a software licence",
                  "health insurance": "an insurance card is not a licence",
                  "ssh key": "an SSH key is not a licence"}


def read_csv(path: Path) -> list[ImportedItem]:
    _, rows = read_csv_table(path, required=("url", "extra", "name"))
    items = []
    for index, row in enumerate(rows, 1):
        url = cell(row, "url").strip()
        extra = cell(row, "extra")
        title = cell(row, "name") or f"row {index}"
        folder = cell(row, "grouping")
        fields: list[ImportedField] = []
        notes: str | None = None
        note_type: str | None = None
        if url == SECURE_NOTE_URL and extra.startswith("NoteType:"):
            note_type, fields, notes = parse_note(extra)
            reason = NEVER_LICENCES.get(note_type.lower())
            if reason:
                items.append(ImportedItem(index, title, importable=False, skip_reason=reason,
                                          category=note_type))
                continue
        else:
            notes = extra
            if url != SECURE_NOTE_URL:
                fields += labelled("url", url)
        fields = labelled("username", cell(row, "username")) + \
            labelled("password", cell(row, "password"), concealed=True) + \
            labelled("totp", cell(row, "totp"), concealed=True) + fields
        if cell(row, "fav").strip() not in ("", "0"):
            fields += labelled("favorite", cell(row, "fav"))
        category = note_type or ("secure note" if url == SECURE_NOTE_URL else "site")
        licence_like = True if (note_type or "").lower() == LICENCE_NOTE_TYPE else None
        items.append(item_from_fields(index, title, fields, notes=notes, folder=folder,
                                      category=category, licence_like=licence_like))
    return items


def parse_note(text: str) -> tuple[str, list[ImportedField], str | None]:
    """(note type, fields, notes) of a structured secure note."""
    lines = text.replace("\r\n", "\n").split("\n")
    note_type = lines[0].partition(":")[2].strip()
    fields: list[tuple[str, str]] = []
    notes: str | None = None
    for i, line in enumerate(lines[1:], 1):
        label, sep, value = line.partition(":")
        if sep and label.strip().lower() == "notes":
            notes = "\n".join([value] + lines[i + 1:])
            break
        if sep and label.strip() and len(label) <= 60:
            fields.append((label.strip(), value.strip()))
        elif fields:                          # a value that ran over several lines
            fields[-1] = (fields[-1][0], fields[-1][1] + "\n" + line)
    out: list[ImportedField] = []
    for label, value in fields:
        if label.lower() == "language":       # LastPass's own bookkeeping, not the user's data
            continue
        out += labelled(label, value)
    return note_type, out, notes
