"""TOML text <-> model objects. No paths here: callers hand in text and a source name."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

import tomli_w

from .errors import ManifestInvalid, Problem
from .model import License, Release, Secret
from .schema import license_from_table, release_from_table
from .stamp import check_stamp

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# tomllib takes time quadratic in the number of parts of a dotted key (`a.b.c... = 1`): 4,000
# parts cost 0.2 s, 60,000 (a 120 KiB line) minutes, a 4 MiB one hours. No manifest needs more
# than a handful; refuse keys of this many parts before parsing. Anchored at line starts and
# possessive, so the check itself is linear.
MAX_KEY_PARTS = 128
_LONG_DOTTED_KEY = re.compile(
    r"^[ \t]*+(?:(?:[A-Za-z0-9_-]++|\"(?:[^\"\\\n]|\\.)*+\"|'[^'\n]*+')[ \t]*+\.[ \t]*+)"
    + "{" + str(MAX_KEY_PARTS) + "}", re.MULTILINE)


def parse_table(data: bytes | str, source: str) -> dict[str, Any]:
    """Parse TOML, refusing oversized or malformed input with one clear problem."""
    if isinstance(data, bytes):
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestInvalid([Problem(source, "", f"is larger than {MAX_MANIFEST_BYTES} bytes")])
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestInvalid([Problem(source, "", f"is not UTF-8 text (byte {exc.start})")]) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid([Problem(source, "", f"is larger than {MAX_MANIFEST_BYTES} bytes")])
    check_stamp(data.encode("utf-8"), source)
    if _LONG_DOTTED_KEY.search(data):
        raise ManifestInvalid([Problem(source, "", f"has a dotted key of more than {MAX_KEY_PARTS} parts")])
    try:
        return tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestInvalid([Problem(source, "", f"is not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ManifestInvalid([Problem(source, "", "is nested too deeply")]) from None


def parse_release(data: bytes | str, source: str = "") -> Release:
    return release_from_table(parse_table(data, source), source)


def parse_license(data: bytes | str, source: str = "", allow_plain_secrets: bool = False) -> License:
    return license_from_table(parse_table(data, source), source, allow_plain_secrets)


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.token if value.is_encrypted else value.plain
    if is_dataclass(value) and not isinstance(value, type):
        return _table(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _table(obj: Any, rename: dict[str, str] | None = None, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fields in declaration order, without empty ones (TOML has no null)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        if f.name in skip:
            continue
        value = getattr(obj, f.name)
        if value is None or value == () or value == {}:
            continue
        out[(rename or {}).get(f.name, f.name)] = _plain(value)
    return out


def release_to_table(release: Release) -> dict[str, Any]:
    table: dict[str, Any] = {"schema": release.schema, "kind": "release"}
    table.update(_table(release, skip=("schema", "artifacts", "extra")))
    if release.extra:
        table["extra"] = release.extra
    table["artifact"] = [_table(a) for a in release.artifacts]
    return table


def license_to_table(lic: License) -> dict[str, Any]:
    table: dict[str, Any] = {"schema": lic.schema, "kind": "license"}
    table.update(_table(lic, rename={"kind": "license_kind"}, skip=("schema",)))
    return table


def dump(table: dict[str, Any]) -> str:
    return tomli_w.dumps(table)


def release_to_toml(release: Release) -> str:
    return dump(release_to_table(release))


def license_to_toml(lic: License) -> str:
    """The record as TOML. A revealed secret (the form sealed into a replica's bundle, read by
    hand with docs/RECOVERY.md) that a basic string would escape -- quotes, backslashes, several
    lines -- is written as a multi-line literal string, so it reads exactly as the vendor wrote it.
    """
    table = license_to_table(lic)
    marks: dict[str, str] = {}

    def mark(secret: Secret | None, value: Any) -> Any:
        if secret is None or secret.is_encrypted or not _wants_literal(value):
            return value
        placeholder = f"arkeep-verbatim-{len(marks)}-{os.urandom(8).hex()}"
        marks[placeholder] = value
        return placeholder

    if "key" in table:
        table["key"] = mark(lic.key, table["key"])
    if "account_hint" in table:
        table["account_hint"] = mark(lic.account_hint, table["account_hint"])
    if "extra_keys" in table:
        table["extra_keys"] = [mark(s, v) for s, v in zip(lic.extra_keys, table["extra_keys"])]
    text = dump(table)
    for placeholder, value in marks.items():
        text = text.replace(f'"{placeholder}"', "'''\n" + value + "'''", 1)
    return text


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
_NOT_LITERAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|'''")


def _wants_literal(value: Any) -> bool:
    """True when a basic string would escape `value` and a multi-line literal keeps it as is:
    among control characters only tabs and line feeds (a reader may normalise a carriage
    return), no run of three single quotes, no quote just before the closing delimiter."""
    return (isinstance(value, str) and _NEEDS_ESCAPE.search(value) is not None
            and _NOT_LITERAL.search(value) is None and not value.endswith("'"))
