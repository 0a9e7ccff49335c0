"""A plain CSV spreadsheet with a header row: one licence per row.

Columns are matched to licence fields by their common names (see `fields.py`: "Product",
"Serial Number", "Licensed to", "Purchase date", ...); `--map "Column=field"` says what a column
means when its name is not one of them. Every column keeps its value: a column with no home
goes to the record's `extra` under its own name.
"""
from __future__ import annotations

from pathlib import Path

from archive.intake.importers import ImportedField, ImportedItem
from archive.intake.importers.common import item_from_fields, labelled, read_csv_table
from archive.intake.importers.fields import target_of


def read_csv(path: Path) -> list[ImportedItem]:
    header, rows = read_csv_table(path)
    title_column = next((h for h in header if target_of(h) == "product"), None)
    items = []
    for index, row in enumerate(rows, 1):
        fields: list[ImportedField] = []
        for column, value in row.items():
            fields += labelled(column, value)
        title = (row.get(title_column) or "").strip() if title_column else ""
        # A spreadsheet kept for licences: every row is one, whatever its columns say.
        items.append(item_from_fields(index, title or f"row {index}", fields, licence_like=True))
    return items
