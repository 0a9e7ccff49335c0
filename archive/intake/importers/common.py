"""What the readers share: reading text and CSV safely, and building items from labelled values."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from archive.errors import UsageError
from archive.intake.importers import ImportedField, ImportedItem
from archive.intake.importers.fields import (
    is_secret_label,
    looks_like_licence,
    split_labelled_lines,
)

csv.field_size_limit(16 * 1024 * 1024)


def read_text(path: Path) -> str:
    """The file as text: UTF-8 (with or without a byte-order mark), else UTF-16 with a BOM."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UsageError(f"{path}: damaged UTF-16 text") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            return data.decode("cp1252")    # spreadsheets saved by older Excel versions
        except UnicodeDecodeError:
            raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_csv_table(path: Path, required: Iterable[str] = ()) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file. The delimiter (`,` `;` or tab) is sniffed from the header.

    Errors name the file and the line, never a value."""
    text = read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UsageError(f"{path}: not a readable CSV file (line {reader.line_num}: "
                         f"{type(exc).__name__})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise UsageError(f"{path}: no header row")
    header = [h.strip() for h in rows[0]]
    if not any(header):
        raise UsageError(f"{path}: the first row holds no column names")
    lower = {h.lower() for h in header}
    missing = [c for c in required if c.lower() not in lower]
    if missing:
        raise UsageError(f"{path}: no column '{missing[0]}' in the header row; is this the right "
                         "format? (columns: " + ", ".join(h for h in header if h)[:200] + ")")
    out = []
    for number, row in enumerate(rows[1:], 2):
        if len(row) > len(header):
            extra = row[len(header):]
            if any(cell.strip() for cell in extra):
                raise UsageError(f"{path}: row {number - 1} has {len(row)} cells but the header names "
                                 f"{len(header)} columns")
        out.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h})
    return header, out


def cell(row: dict[str, str], name: str) -> str:
    """A cell by column name, any case; '' when absent."""
    for key, value in row.items():
        if key.lower() == name.lower():
            return value or ""
    return ""


def labelled(label: str, value: str | None, concealed: bool = False,
             target: str | None = None) -> list[ImportedField]:
    """A one-field list, or none when the value is empty."""
    if value is None or not str(value).strip():
        return []
    return [ImportedField(label, str(value).strip("\r\n") if "\n" in str(value) else str(value).strip(),
                          concealed or is_secret_label(label), target)]


def item_from_fields(index: int, title: str, fields: list[ImportedField], *, notes: str | None = None,
                     folder: str | None = None, category: str | None = None,
                     source_id: str | None = None, licence_like: bool | None = None,
                     **more: object) -> ImportedItem:
    if licence_like is None:
        labels = [f.label for f in fields] + (["key"] if any(f.target == "key" for f in fields) else [])
        if notes:
            labels += [label for label, _ in split_labelled_lines(notes)[0]]
        licence_like = looks_like_licence(labels, folder, category)
    return ImportedItem(index=index, title=title.strip(), fields=tuple(fields),
                        notes=notes.strip() if notes and notes.strip() else None, folder=folder or None,
                        category=category, source_id=source_id, licence_like=licence_like,
                        **more)  # type: ignore[arg-type]
