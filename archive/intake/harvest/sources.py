"""The table of where licences live (sources.toml beside this file), read and checked.

The table is data: adding a product means adding an entry there, with where its facts came
from. This module only reads it and refuses an entry that could not be followed.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from manifests.model import LICENSE_KINDS

DECODERS = ("text", "text-field", "licence-file", "digital-product-id", "acpi-msdm", "none")
HIVES = ("SOFTWARE", "NTUSER")
PLACES = ("{programfiles}", "{appdata}", "{appsupport}", "{config}", "{systemdrive}", "{firmware}",
          "{home}", "{library}", "{macprefs}", "{etc}")


class BadTable(ValueError):
    """An entry of the sources table that cannot be followed (a bug of the table, not of input)."""


@dataclass(frozen=True)
class Source:
    id: str
    product: str
    decode: str
    kind: str
    facts: str
    vendor: str | None = None
    hive: str | None = None
    keys: tuple[str, ...] = ()
    value: str | None = None
    files: tuple[str, ...] = ()
    offset: int = 52
    product_value: str | None = None
    name_value: str | None = None
    company_value: str | None = None
    email_value: str | None = None
    product_from_folder: bool = False
    field: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AccountProduct:
    id: str
    installed: re.Pattern[str]
    product: str
    portal: str
    reason: str
    facts: str


@dataclass(frozen=True)
class Table:
    sources: tuple[Source, ...]
    generic_keys: dict[str, str] = field(default_factory=dict)
    accounts: tuple[AccountProduct, ...] = ()


def _source(entry: dict[str, Any]) -> Source:
    name = entry.get("id", "?")
    for need in ("id", "product", "decode", "kind", "facts"):
        if not isinstance(entry.get(need), str) or not entry[need].strip():
            raise BadTable(f"source {name}: '{need}' is missing")
    if entry["decode"] not in DECODERS:
        raise BadTable(f"source {name}: decode '{entry['decode']}' is not one of {DECODERS}")
    if entry["kind"] not in LICENSE_KINDS:
        raise BadTable(f"source {name}: kind '{entry['kind']}' is not a licence kind")
    keys, files = tuple(entry.get("keys", ())), tuple(entry.get("files", ()))
    if bool(keys) == bool(files):
        raise BadTable(f"source {name}: give either keys (with hive) or files")
    if keys and entry.get("hive") not in HIVES:
        raise BadTable(f"source {name}: hive must be one of {HIVES}")
    if keys and entry["decode"] not in ("none",) and not entry.get("value"):
        raise BadTable(f"source {name}: a registry source names the value it reads")
    if files and entry["decode"] not in ("text", "text-field", "licence-file", "acpi-msdm", "none"):
        raise BadTable(f"source {name}: files are read as text, text-field, licence-file or "
                       "acpi-msdm")
    if (entry["decode"] == "text-field") != bool(entry.get("field")):
        raise BadTable(f"source {name}: a text-field source, and only it, names its field")
    for f in files:
        if not f.startswith(PLACES):
            raise BadTable(f"source {name}: file {f} starts with none of {PLACES}")
    if entry["decode"] == "none" and not entry.get("reason"):
        raise BadTable(f"source {name}: an entry with nothing to recover says why (reason)")
    known = set(Source.__dataclass_fields__)
    unknown = set(entry) - known
    if unknown:
        raise BadTable(f"source {name}: unknown field(s) {', '.join(sorted(unknown))}")
    prose = {k: " ".join(entry[k].split()) for k in ("facts", "reason") if entry.get(k)}
    return Source(**{**entry, **prose, "keys": keys, "files": files})


def parse_table(text: str) -> Table:
    data = tomllib.loads(text)
    sources = tuple(_source(e) for e in data.get("source", ()))
    ids = [s.id for s in sources]
    if len(ids) != len(set(ids)):
        raise BadTable("two sources share an id")
    accounts = []
    for e in data.get("account", ()):
        for need in ("id", "installed", "product", "portal", "reason", "facts"):
            if not isinstance(e.get(need), str) or not e[need].strip():
                raise BadTable(f"account {e.get('id', '?')}: '{need}' is missing")
        accounts.append(AccountProduct(e["id"], re.compile(e["installed"], re.IGNORECASE),
                                       e["product"], e["portal"], " ".join(e["reason"].split()),
                                       " ".join(e["facts"].split())))
    return Table(sources, dict(data.get("generic_keys", {})), tuple(accounts))


@cache
def table() -> Table:
    text = resources.files("archive.intake.harvest").joinpath("sources.toml").read_text("utf-8")
    return parse_table(text)
