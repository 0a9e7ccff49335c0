"""Readers for the export files of password managers and spreadsheets.

Each reader turns one export file into a list of `ImportedItem`: the item's title, every field
it holds with its label as the source names it, whether the source marks it hidden, its notes
and its attachments. Readers only extract; deciding which field becomes which part of a licence
record is `archive.intake.import_licenses`' job, with the label table of `fields.py`.

Import files hold passwords and keys in clear: no error raised here ever quotes a value. A
malformed file is reported by its path, the item's position and the field's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import UsageError

# name on the command line -> (module, reader function); aliases resolve to these.
FORMATS = {
    "1password": ("onepassword", "read_auto"),
    "1pux": ("onepassword", "read_1pux"),
    "1password-csv": ("onepassword", "read_csv"),
    "bitwarden": ("bitwarden", "read_auto"),
    "bitwarden-json": ("bitwarden", "read_json"),
    "bitwarden-csv": ("bitwarden", "read_csv"),
    "keepass": ("keepass", "read_auto"),
    "kdbx": ("keepass", "read_kdbx"),
    "keepassxc-csv": ("keepass", "read_csv"),
    "lastpass": ("lastpass", "read_csv"),
    "csv": ("spreadsheet", "read_csv"),
}
ALIASES = {"onepassword": "1password", "1p": "1password", "keepassxc": "keepass",
           "bitwarden-json": "bitwarden-json", "spreadsheet": "csv", "lastpass-csv": "lastpass"}
MAX_IMPORT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ImportedField:
    """One field of one item. `concealed`: the source marks it hidden (a password, a key)."""

    label: str
    value: str = field(repr=False)
    concealed: bool = False
    # A licence or release field the source names unambiguously (a 1Password field id, --map).
    target: str | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ImportedItem:
    """One entry of an export file, as the source holds it, before any mapping."""

    index: int                       # 1-based position in the file, for messages
    title: str
    fields: tuple[ImportedField, ...] = ()
    notes: str | None = field(default=None, repr=False)
    attachments: tuple[Attachment, ...] = ()
    category: str | None = None      # the source's own item type, e.g. "Software License"
    folder: str | None = None        # folder, group or grouping
    source_id: str | None = None     # the source's id of the item, if it has one
    licence_like: bool = False       # the source marks it as a licence, or it holds a key field
    importable: bool = True          # False for cards, identities, SSH keys: never a licence
    skip_reason: str | None = None
    warnings: tuple[str, ...] = ()


def format_names() -> list[str]:
    return sorted(FORMATS)


def resolve_format(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise UsageError(f"unknown import format '{name}'; choose one of: {', '.join(format_names())}")
    return key


def import_file(fmt: str, path: Path, *, password: str | None = None, keyfile: Path | None = None,
                mapping: dict[str, str] | None = None) -> list[ImportedItem]:
    """Read every item of an export file. `password`/`keyfile` open a KeePass database;
    `mapping` (column -> field) overrides the column names of a CSV file."""
    import importlib

    module_name, func_name = FORMATS[resolve_format(fmt)]
    check_import_file(path)
    module = importlib.import_module(f"{__name__}.{module_name}")
    reader = getattr(module, func_name)
    options: dict[str, object] = {}
    if module_name == "keepass":
        options.update(password=password, keyfile=keyfile)
    items = list(reader(path, **options))
    return apply_mapping(items, mapping, path) if mapping else items


def apply_mapping(items: list[ImportedItem], mapping: dict[str, str], path: Path) -> list[ImportedItem]:
    """Give every field whose label is a key of `mapping` that target (`--map column=field`)."""
    from dataclasses import replace

    from archive.intake.importers.fields import MAP_TARGETS, normalise_label

    wanted: dict[str, str] = {}
    for column, target in mapping.items():
        if target not in MAP_TARGETS:
            raise UsageError(f"--map {column}={target}: '{target}' is not a field; choose one of: "
                             f"{', '.join(MAP_TARGETS)}")
        wanted[normalise_label(column)] = target
    seen = {normalise_label(f.label) for item in items for f in item.fields}
    unknown = [c for c in mapping if normalise_label(c) not in seen]
    if unknown:
        raise UsageError(f"--map: {path} has no field or column named '{unknown[0]}'")
    out = []
    for item in items:
        fields = tuple(replace(f, target=wanted[normalise_label(f.label)])
                       if normalise_label(f.label) in wanted else f for f in item.fields)
        out.append(replace(item, fields=fields))
    return out


def check_import_file(path: Path) -> None:
    try:
        if path.is_dir():
            raise UsageError(f"{path} is a directory; give the export file")
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    if size == 0:
        raise UsageError(f"{path} is empty")
    if size > MAX_IMPORT_BYTES:
        raise UsageError(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MiB; "
                         "that is not an export of licences")
