"""Which release a licence file, invoice or receipt belongs to, judged by what it names.

Used by scan. A file goes to the release it names most strongly; a tie, or no mention at all,
leaves it unplaced with the reason, never guessed. Receipts weigh an item line ("Product: …")
and the subject above a word in passing, so "Hello Jane" does not name the package `hello`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.intake.receipts import Receipt

MAX_TEXT_PEEK = 64 * 1024
ITEM_LINE = re.compile(r"^\s*(?:product|item|software|artikel|produkt|description|licen[cs]e for)"
                       r"(?:\s+name)?\s*[:=]", re.IGNORECASE)


@dataclass
class Group:
    """A release being assembled from the files that belong to it."""

    product: str
    version: str
    vendor: str | None = None
    platforms: set[str | None] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)
    installers: list[Path] = field(default_factory=list)
    detected: dict[str, dict[str, str]] = field(default_factory=dict)
    license_files: list[Path] = field(default_factory=list)
    invoices: list[Path] = field(default_factory=list)
    # Each linked receipt with the products it names (to tell whose key is whose).
    receipts: list[tuple[Receipt, tuple[str, ...]]] = field(default_factory=list)
    receipt_files: list[Path] = field(default_factory=list)        # PDF receipts, not read
    links: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9.]+", " ", text.lower()) + " "


def _mentions(group: Group, text: str) -> tuple[int, int]:
    """(how strongly `text` names the group's product, where it first does; -1 when not)."""
    hay = _words(text)
    needle = _words(group.product)
    at = hay.find(needle)
    score = 0
    if at >= 0:
        score = 3
    else:
        squashed = re.sub(r"[^a-z0-9]", "", group.product.lower())
        flat = re.sub(r"[^a-z0-9]", "", text.lower())
        if len(squashed) >= 6 and squashed in flat:
            score, at = 2, 0
    if score and group.version.lower() in text.lower():
        score += 1
    if score and group.vendor and group.vendor.lower() in text.lower():
        score += 1
    return score, at


def _best(groups: dict[tuple[str, str], Group], score: Callable[[Group], int]) -> tuple[Group | None, str]:
    ranked = sorted(((score(g), g) for g in groups.values()), key=lambda t: -t[0])
    if not ranked or ranked[0][0] <= 0:
        return None, "names none of the products found"
    if len(ranked) > 1 and ranked[1][0] == ranked[0][0]:
        names = ", ".join(f"{g.product} {g.version}" for s, g in ranked if s == ranked[0][0])
        return None, f"could belong to more than one release ({names}); add it by hand"
    return ranked[0][1], ""


def _peek_text(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_TEXT_PEEK).decode("utf-8", "replace")
    except OSError:
        return ""


def link(groups: dict[tuple[str, str], Group], role: str, path: Path, detail: Any) -> str | None:
    """Attach one licence file, invoice or receipt to the release it names; or say why not."""
    if not groups:
        return "no release was found to link it to"
    if isinstance(detail, Receipt):
        return _link_receipt(groups, detail)
    content = _peek_text(path) if role == "license-file" else ""
    in_folder = [g for g in groups.values() if any(p.parent == path.parent for p in g.installers)]

    def evidence(g: Group) -> tuple[int, str]:
        named = max(_mentions(g, path.stem)[0], _mentions(g, content)[0])
        if named:
            return named * 2 + (g in in_folder), f"names {g.product}"
        orders = {r.order_number for r, _ in g.receipts if r.order_number}
        if any(o.lower() in path.name.lower() for o in orders):
            return 5, "its name carries the order number of this release's receipt"
        if in_folder == [g]:
            return 1, "the only release with installers in its folder"
        return 0, ""

    group, why_not = _best(groups, lambda g: evidence(g)[0])
    if group is None:
        return why_not
    {"license-file": group.license_files, "invoice": group.invoices,
     "receipt": group.receipt_files}[role].append(path)
    group.links[path.name] = evidence(group)[1]
    return None


def _receipt_score(g: Group, receipt: Receipt) -> int:
    """How strongly a receipt names a release: on an item line ('Product: …') or in the
    subject counts more than anywhere in the text (where 'Hello Jane' would name `hello`)."""
    named, _ = _mentions(g, receipt.text)
    if not named:
        return 0
    item_lines = [ln for ln in receipt.text.splitlines() if ITEM_LINE.match(ln)]
    score = 1 + (1 if " " in g.product.strip() else 0)
    if any(_mentions(g, ln)[0] for ln in item_lines):
        score += 4
    if receipt.subject and _mentions(g, receipt.subject)[0]:
        score += 2
    text = receipt.text.lower()
    if g.version.lower() in text:
        score += 2
    elif ".".join(g.version.split(".")[:2]).lower() in text:
        score += 1
    if g.vendor and g.vendor.split()[0].lower().strip(",.") in text and len(g.vendor) >= 4:
        score += 1
    return score


def _link_receipt(groups: dict[tuple[str, str], Group], receipt: Receipt) -> str | None:
    scored = [(g, _receipt_score(g, receipt)) for g in groups.values()]
    top = max(s for _, s in scored)
    if top < 3:
        return "names none of the products found; add it with `arkeep add … --receipt FILE`"
    chosen = [g for g, s in scored if s >= 3 and s * 2 >= top]
    products = tuple(g.product for g in chosen)
    for g in chosen:
        g.receipts.append((receipt, products))
        g.links[receipt.path.name] = f"names {g.product}"
        if len(chosen) > 1:
            g.notes.append(f"{receipt.path.name} names several products; its price is the order's")
    return None


def keys_for(product: str, receipt: Receipt, products: tuple[str, ...]) -> list[Any]:
    """The receipt's keys that belong to `product`: all of them, or in a receipt naming several
    products, those that follow this product's name more closely than any other's."""
    if len(products) <= 1:
        return list(receipt.keys)
    mine = []
    for key in receipt.keys:
        before = receipt.text[:key.position].lower()
        owner = max(products, key=lambda p: before.rfind(p.lower()))
        if owner == product and before.rfind(product.lower()) >= 0:
            mine.append(key)
    return mine
