"""Licences in the registry: the sources of the table that name a hive, read and decoded."""
from __future__ import annotations

import fnmatch
from dataclasses import replace
from typing import Any

from archive.intake.harvest.findings import Finding, text_of, value_of
from archive.intake.harvest.hives import MAX_SUBKEYS, Registry
from archive.intake.harvest.productkey import NotAProductId, decode_product_id
from archive.intake.harvest.sources import Source, Table


def expand_keys(reg: Registry, pattern: str) -> list[str]:
    """The key paths that match `pattern` (* and ? within a part match subkey names)."""
    paths = [""]
    for part in (p for p in pattern.split("\\") if p):
        nxt = []
        for base in paths:
            if any(c in part for c in "*?["):
                names = reg.subkeys(base) or []
                nxt += [f"{base}\\{n}" if base else n for n in names
                        if fnmatch.fnmatchcase(n.casefold(), part.casefold())]
            else:
                nxt.append(f"{base}\\{part}" if base else part)
        paths = nxt[:MAX_SUBKEYS]
    return paths


def registry_findings(src: Source, reg: Registry, tab: Table) -> list[Finding]:
    out = []
    for pattern in src.keys:
        for path in expand_keys(reg, pattern):
            values = reg.values(path)
            if values is None:
                continue
            out += _from_values(src, reg, path, values, tab)
    return out


def _from_values(src: Source, reg: Registry, path: str, values: dict[str, Any],
                 tab: Table) -> list[Finding]:
    product = text_of(value_of(values, src.product_value)) if src.product_value else None
    base = Finding(source=src.id, product=product or src.product, kind=src.kind,
                   where=f"{reg.label}: {path}" + (f" \\ {src.value}" if src.value else ""),
                   how="", facts=src.facts, vendor=src.vendor,
                   licensed_to=text_of(value_of(values, src.name_value)) if src.name_value else None,
                   company=text_of(value_of(values, src.company_value)) if src.company_value else None,
                   email=text_of(value_of(values, src.email_value)) if src.email_value else None)
    if src.decode == "none":
        return [replace(base, how="the product is installed", reason=src.reason)]
    raw = value_of(values, src.value or "")
    if raw is None:
        return []
    if src.decode == "text":
        key = text_of(raw)
        if key is None:
            return [replace(base, how="a text value", reason="the value is empty or not text")]
        return [judged(replace(base, key=key, how="a text value, in clear"), tab)]
    try:
        decoded = decode_product_id(raw, "DigitalProductId4" if src.offset == 808 else
                                    "DigitalProductId")
    except NotAProductId as exc:
        return [replace(base, how="DigitalProductId", reason=f"holds no key that can be decoded ({exc})")]
    how = f"DigitalProductId at byte {src.offset}, {decoded.encoding}"
    if decoded.is_blank:
        return [replace(base, how=how, kind="volume",
                        reason="a volume-licence install: the registry keeps no key (the bytes "
                               "decode to the blank pattern BBBBB-BBBBB-…); the key is with "
                               "whoever ran the licence (KMS host or MAK)")]
    return [judged(replace(base, key=decoded.key, how=how), tab)]


def judged(f: Finding, tab: Table) -> Finding:
    """A key Microsoft publishes for every copy of an edition is not a licence of one's own."""
    what = tab.generic_keys.get((f.key or "").upper())
    if what is None:
        return f
    return replace(f, key=None, reason=f"a generic key ({what}): it proves no purchase; such an "
                   "install is activated by a digital licence tied to the hardware or the "
                   "Microsoft account, so there is no key to keep", kind="hardware-bound")
