"""`arkeep scan`: turn a folder of installers, licence files and receipts into proposed releases.

The plan is a pure function of the folder: every file is classified (installer, licence file,
invoice, receipt, or ignored, each with the reason), installers are grouped into releases by
what they say about themselves (or, marked as such, by their file names), and licence files,
invoices and receipts are linked to the release they name. Applying the plan goes through
`add_release`, so keys from receipts are stored encrypted like any other key.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.errors import ArkeepError, UsageError
from archive.intake.add import AddRequest, AddResult, add_release
from archive.intake.linking import Group, keys_for, link
from archive.intake.outlook_msg import MsgUnreadable
from archive.intake.pdf_text import PdfUnreadable
from archive.intake.purchase import LicenseFields, Purchase, default_kind, record_licence
from archive.intake.receipt_text import TextUnreadable
from archive.intake.receipts import Receipt, mask_key, read_pdf_receipt, read_receipt
from archive.storage.hashing import Progress
from archive.storage.store import Store
from manifests.model import normalise_name, release_id

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

INCOMPLETE = (".part", ".crdownload", ".download", ".partial", ".!ut", ".opdownload")
LICENSE_SUFFIXES = (".lic", ".license", ".licence", ".key")
LICENSE_WORDS = re.compile(r"(^|[-_ .])(licen[cs]e|serial|registration|activation)([-_ .]|$)", re.IGNORECASE)
INVOICE_WORDS = re.compile(r"invoice|rechnung|facture|factura|fattura", re.IGNORECASE)
RECEIPT_WORDS = re.compile(r"receipt|quittung|order|bestellung|purchase|confirmation", re.IGNORECASE)
MAX_LICENSE_FILE = 1024 * 1024


@dataclass(frozen=True)
class Found:
    """One file of the folder and what the scan made of it."""

    path: Path
    role: str                 # installer, license-file, invoice, receipt, ignored
    reason: str


@dataclass(frozen=True)
class ProposedRelease:
    product: str
    version: str
    vendor: str | None = None
    platform: str | None = None
    sources: dict[str, str] = field(default_factory=dict)   # product/version/... -> where read
    installers: tuple[Path, ...] = ()
    license_files: tuple[Path, ...] = ()
    invoices: tuple[Path, ...] = ()
    receipts: tuple[Path, ...] = ()
    links: dict[str, str] = field(default_factory=dict)     # file name -> why it belongs here
    key: str | None = field(default=None, repr=False)
    key_source: str | None = None
    extra_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (where found, value)
    license: LicenseFields = field(default_factory=LicenseFields)
    license_sources: dict[str, str] = field(default_factory=dict)
    detected: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return release_id(self.product, self.version, None, self.platform)

    def request(self) -> AddRequest:
        return AddRequest(product=self.product, version=self.version, installers=self.installers,
                          vendor=self.vendor, platform=self.platform,
                          license_files=self.license_files, invoices=self.invoices,
                          receipts=self.receipts, key=self.key, extra_keys=self.extra_keys,
                          license=self.license,
                          detected=self.detected)


@dataclass(frozen=True)
class ProposedLicence:
    """A receipt with a key that names no installer found: a licence record of its own (no
    release, as an import without a version makes), joined to the record of the same order
    if there is one. The receipt file is not archived: a document belongs to a release."""

    receipt: Path
    product: str | None
    key: str | None = field(default=None, repr=False)
    key_source: str | None = None
    extra_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    license: LicenseFields = field(default_factory=LicenseFields)
    license_sources: dict[str, str] = field(default_factory=dict)

    def purchase(self) -> Purchase:
        return Purchase(product=self.product, key=self.key, extra_keys=self.extra_keys,
                        fields=self.license)


@dataclass(frozen=True)
class ScanPlan:
    root: Path
    releases: tuple[ProposedRelease, ...]
    unlinked: tuple[Found, ...]       # useful files the scan could not place
    ignored: tuple[Found, ...]        # everything else, with the reason
    files: int
    licences: tuple[ProposedLicence, ...] = ()   # from receipts with a key and no installer


# -- classifying --------------------------------------------------------------------------------
def walk(root: Path) -> list[Path]:
    """Every regular file under `root`, sorted, without following symbolic links."""
    if not root.exists():
        raise UsageError(f"{root}: no such folder")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; `arkeep inspect` reads one file")
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath) / f for f in sorted(filenames))
    return out


def classify(path: Path) -> tuple[str, str, Any]:
    """(role, reason, detail) for one file; detail is an Inspection or a Receipt when read, the
    MsgUnreadable or PdfUnreadable for a message or PDF whose text could not be read."""
    from archive.intake.inspect import inspect_file

    name = path.name
    lower = name.lower()
    try:
        st = os.lstat(path)
    except OSError as exc:
        return "ignored", f"cannot be read ({exc.strerror})", None
    if stat.S_ISLNK(st.st_mode):
        return "ignored", "a symbolic link (scan archives the files themselves)", None
    if not stat.S_ISREG(st.st_mode):
        return "ignored", "not a regular file", None
    if name.startswith("."):
        return "ignored", "a hidden file", None
    if lower.endswith(INCOMPLETE):
        return "ignored", "an incomplete download", None
    if st.st_size == 0:
        return "ignored", "empty", None
    if not os.access(path, os.R_OK):
        return "ignored", "permission denied", None
    if lower.endswith(".msg"):
        return _classify_msg(path)
    found = inspect_file(path, display=str(path))
    if found.format == "pdf" and not found.damaged:
        return _classify_pdf(path, st.st_size)
    if _is_license_name(path) and st.st_size <= MAX_LICENSE_FILE and not found.is_installer:
        return "license-file", "named like a licence file", None
    if found.format == "email" or lower.endswith(".eml"):
        receipt = read_receipt(path)
        if receipt.is_purchase:
            return "receipt", "an email with an order number, price or key", receipt
        return "ignored", "an email that names no order, price or key", None
    if found.damaged:
        return "ignored", f"damaged: {found.problems[0]}", found
    if found.is_installer:
        return "installer", found.label, found
    if found.format in ("zip", "iso9660"):
        return "ignored", f"a {found.label} with no installer inside", None
    return "ignored", f"not an installer ({found.label})", None


def _classify_msg(path: Path) -> tuple[str, str, Any]:
    """An Outlook message is read like an .eml; one whose text cannot be read is still a
    receipt, placed by its name, with the reason."""
    try:
        receipt = read_receipt(path)
    except MsgUnreadable as exc:
        return "receipt", f"an Outlook message placed by its name ({_unread(exc)})", exc
    if receipt.is_purchase:
        return "receipt", "an Outlook message with an order number, price or key", receipt
    return "ignored", "an Outlook message that names no order, price or key", None


def _classify_pdf(path: Path, size: int) -> tuple[str, str, Any]:
    """A PDF is kept if its text names an order, a price or a key, and kept as what its name
    says (a licence file, an invoice, else a receipt); one whose text cannot be read is placed
    by its name alone, with the reason."""
    if _is_license_name(path) and size <= MAX_LICENSE_FILE:
        role, named = "license-file", "named like a licence file"
    elif INVOICE_WORDS.search(path.name):
        role, named = "invoice", "a PDF named like an invoice"
    elif RECEIPT_WORDS.search(path.name):
        role, named = "receipt", "a PDF named like a receipt"
    else:
        role, named = "ignored", "a PDF not named like an invoice or receipt"
    try:
        receipt = read_pdf_receipt(path)
    except PdfUnreadable as exc:
        return role, f"{named} ({_unread(exc)})", exc
    if receipt.is_purchase:
        role = "receipt" if role == "ignored" else role
        return role, "a PDF with an order number, price or key", receipt
    if role == "ignored":
        return role, "a PDF that names no order, price or key", None
    return role, f"{named}; its text names no order, price or key", None


def _unread(exc: TextUnreadable) -> str:
    return f"its text was not read: {exc.why}"


def _is_license_name(path: Path) -> bool:
    lower = path.name.lower()
    return (lower.startswith(("license", "licence")) or lower.endswith(LICENSE_SUFFIXES)
            or bool(LICENSE_WORDS.search(Path(lower).stem)))


# -- planning -----------------------------------------------------------------------------------
def plan_scan(root: Path, on_file: Callable[[Path], None] | None = None) -> ScanPlan:
    """Classify every file under `root` and propose releases; nothing is written."""
    groups: dict[tuple[str, str], Group] = {}
    extras: list[tuple[str, Path, Any]] = []
    unlinked: list[Found] = []
    ignored: list[Found] = []
    licences: list[ProposedLicence] = []
    paths = walk(root)
    for path in paths:
        if on_file:
            on_file(path)
        role, reason, detail = classify(path)
        if role == "ignored":
            ignored.append(Found(path, role, reason))
        elif role == "installer":
            if not _group_installer(groups, path, detail):
                unlinked.append(Found(path, role, f"{reason}; it does not say its product and "
                                      "version, nor does its name: archive it with `arkeep add "
                                      "FILE --product NAME --version VER`"))
        else:
            extras.append((role, path, detail))
    # Receipts first, then the invoices and licence PDFs read like receipts: an invoice can
    # then be placed by the order number a receipt gave.
    extras.sort(key=lambda e: (not isinstance(e[2], Receipt), e[0] != "receipt"))
    for role, path, detail in extras:
        if isinstance(detail, Receipt) and role != "receipt":
            problem = _link_read_pdf(groups, role, path, detail)
        else:
            problem = link(groups, role, path, detail)
        if isinstance(detail, TextUnreadable):  # placed by its name: say why
            problem = problem and f"{problem} ({_unread(detail)})"
            for g in groups.values():
                if path in _placed(g, role):
                    g.links[path.name] = f"{g.links[path.name]} ({_unread(detail)})"
        if problem and isinstance(detail, Receipt) and detail.keys:
            licences.append(_licence_of(detail))
        elif problem:
            unlinked.append(Found(path, role, problem))
    releases = tuple(_proposal(g) for g in groups.values())
    return ScanPlan(root=root, releases=releases, unlinked=tuple(unlinked),
                    ignored=tuple(ignored), files=len(paths), licences=tuple(licences))


def _licence_of(receipt: Receipt) -> ProposedLicence:
    key, key_source, extra_keys, fields, field_sources = _purchase_from([(receipt, ())], None)
    product = receipt.product or receipt.subject
    return ProposedLicence(receipt=receipt.path, product=product, key=key, key_source=key_source,
                           extra_keys=extra_keys,
                           license=LicenseFields(kind=default_kind(key is not None, False), **fields),
                           license_sources=field_sources)


def _placed(g: Group, role: str) -> list[Path]:
    return {"license-file": g.license_files, "invoice": g.invoices}.get(role, g.receipt_files)


def _link_read_pdf(groups: dict[tuple[str, str], Group], role: str, path: Path,
                   receipt: Receipt) -> str | None:
    """An invoice or licence PDF whose text was read goes where its text points, as a receipt
    would, else where its name points, as before; either way its fields and keys count like a
    receipt's, and it is archived in its own role."""
    if link(groups, "receipt", path, receipt) is None:
        for g in groups.values():
            if any(r is receipt for r, _ in g.receipts):
                _placed(g, role).append(path)
        return None
    problem = link(groups, role, path, None)
    for g in groups.values():
        if path in _placed(g, role):
            g.receipts.append((receipt, (g.product,)))
    return problem


def _group_installer(groups: dict[tuple[str, str], Group], path: Path, found: Any) -> bool:
    product, version = found.product, found.version
    detected = {k: found.sources[k] for k in ("product", "version", "vendor", "platform")
                if k in found.fields}
    if not product or not version:
        hints = found.hints
        product = product or hints.get("product")
        version = version or hints.get("version")
        if not product or not version:
            return False
        for k in ("product", "version"):
            if k not in found.fields:
                detected[k] = "file name (a guess; the file does not say)"
    key = (normalise_name(product), normalise_name(version))
    group = groups.setdefault(key, Group(product=product, version=version))
    if group.vendor is None and found.vendor:
        group.vendor = found.vendor
    group.platforms.add(found.platform)
    group.installers.append(path)
    group.detected[path.name] = detected
    for k, v in detected.items():
        group.sources.setdefault(k, f"{path.name}: {v}")
    group.links[path.name] = found.label
    return True


def _proposal(g: Group) -> ProposedRelease:
    platforms = {p for p in g.platforms}
    platform = platforms.pop() if len(platforms) == 1 else None
    notes = list(dict.fromkeys(g.notes))
    sources = dict(g.sources)
    if len(g.platforms) > 1:
        notes.append("the installers are for different platforms: "
                     + ", ".join(sorted(p or "?" for p in g.platforms)) + "; no platform is set")
        sources.pop("platform", None)
    key, key_source, extra_keys, fields, field_sources = _purchase_from(g.receipts, g.product)
    if extra_keys:
        notes.append(f"{len(extra_keys)} more candidate key(s) kept as extra keys of the licence "
                     "record; the key is the first labelled one, and the emails are archived")
    license_fields = LicenseFields(kind=default_kind(key is not None, bool(g.license_files)),
                                   **fields)
    detected = dict(g.detected)
    for receipt, _ in g.receipts:
        table = {f"license.{n}": f"{receipt.sources[n]}" for n in fields
                 if n in receipt.sources and getattr(receipt, n) == fields[n]}
        if key_source and key_source.startswith(receipt.path.name + ":"):
            table["license.key"] = key_source.split(": ", 1)[1]
        if table:
            detected[receipt.path.name] = table
    return ProposedRelease(
        product=g.product, version=g.version, vendor=g.vendor, platform=platform, sources=sources,
        installers=tuple(g.installers), license_files=tuple(g.license_files),
        invoices=tuple(g.invoices), receipts=tuple(r.path for r, _ in g.receipts
                                                   if r.path not in g.invoices + g.license_files)
        + tuple(g.receipt_files),
        links=dict(g.links), key=key, key_source=key_source,
        extra_keys=extra_keys, license=license_fields,
        license_sources=field_sources, detected=detected, notes=tuple(notes))


def _purchase_from(receipts: list[tuple[Receipt, tuple[str, ...]]], product: str | None
                   ) -> tuple[str | None, str | None, tuple[tuple[str, str], ...], dict[str, Any],
                              dict[str, str]]:
    """(key, where it was read, extra keys as (where, value), licence fields, their sources)
    from the receipts of one purchase: the first labelled key is the key, every other candidate
    an extra key; each field from the first receipt that gives it."""
    key = key_source = None
    extra_keys: dict[str, str] = {}  # value -> where found; insertion order is the receipts' order
    fields: dict[str, Any] = {}
    field_sources: dict[str, str] = {}
    for receipt, products in receipts:
        keys = keys_for(product, receipt, products) if product else list(receipt.keys)
        ranked = sorted(keys, key=lambda k: not k.labelled)
        if ranked and key is None:
            key, key_source = ranked[0].value, f"{receipt.path.name}: {ranked[0].how}"
        for candidate in ranked:
            if candidate.value != key and candidate.value not in extra_keys:
                extra_keys[candidate.value] = f"{receipt.path.name}: {candidate.how}"
        for name in ("order_number", "purchase_date", "price", "currency", "seller",
                     "licensed_to", "email"):
            value = getattr(receipt, name)
            if value is not None and name not in fields:
                fields[name] = value
                if name in receipt.sources:
                    field_sources[name] = f"{receipt.path.name}: {receipt.sources[name]}"
    return (key, key_source, tuple((where, value) for value, where in extra_keys.items()), fields,
            field_sources)


# -- applying -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Applied:
    release: ProposedRelease
    result: AddResult | None
    error: str | None = None


def apply_plan(store: Store, plan: ScanPlan, keyring: Keyring | None,
               progress_for: Callable[[str, int], Progress | None] | None = None) -> list[Applied]:
    """Archive every proposed release through add_release; one failure does not stop the rest."""
    out: list[Applied] = []
    for proposal in plan.releases:
        try:
            result = add_release(store, proposal.request(), keyring, progress_for=progress_for)
        except ArkeepError as exc:
            out.append(Applied(proposal, None, str(exc)))
            continue
        out.append(Applied(proposal, result))
    return out


@dataclass(frozen=True)
class AppliedLicence:
    proposal: ProposedLicence
    license_id: str | None
    action: str | None            # "new", "updated" (joined to the same order's record), "unchanged"
    error: str | None = None


def apply_licences(store: Store, plan: ScanPlan, keyring: Keyring | None) -> list[AppliedLicence]:
    """Record the licences of receipts without an installer; one failure does not stop the rest."""
    out: list[AppliedLicence] = []
    for proposal in plan.licences:
        try:
            lic, action = record_licence(store, proposal.purchase(), keyring)
        except ArkeepError as exc:
            out.append(AppliedLicence(proposal, None, None, str(exc)))
            continue
        out.append(AppliedLicence(proposal, lic.id, action))
    return out


# -- rendering ----------------------------------------------------------------------------------
def shown_key(proposal: ProposedRelease, reveal: bool) -> str | None:
    if proposal.key is None:
        return None
    return proposal.key if reveal else mask_key(proposal.key)


def plan_data(plan: ScanPlan, reveal: bool = False) -> dict[str, Any]:
    """The plan as plain data for --json; keys masked unless `reveal`."""
    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(plan.root))
        except ValueError:
            return str(p)

    releases = []
    for r in plan.releases:
        files = [{"role": role, "path": rel(p), "why": r.links.get(p.name, "")}
                 for role, paths in (("installer", r.installers), ("license-file", r.license_files),
                                     ("invoice", r.invoices), ("receipt", r.receipts))
                 for p in paths]
        lic = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
               for k, v in r.license.given().items()}
        releases.append({"id": r.id, "product": r.product, "version": r.version,
                         "vendor": r.vendor, "platform": r.platform, "sources": r.sources,
                         "files": files, "key": shown_key(r, reveal), "key_source": r.key_source,
                         "extra_keys": [{"key": v if reveal else mask_key(v), "source": where}
                                        for where, v in r.extra_keys],
                         "license": lic, "license_sources": r.license_sources,
                         "notes": list(r.notes)})
    licences = [{"receipt": rel(lp.receipt), "product": lp.product,
                 "key": lp.key if reveal or lp.key is None else mask_key(lp.key),
                 "key_source": lp.key_source,
                 "extra_keys": [{"key": v if reveal else mask_key(v), "source": where}
                                for where, v in lp.extra_keys],
                 "license": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                             for k, v in lp.license.given().items()},
                 "license_sources": lp.license_sources}
                for lp in plan.licences]
    return {"root": str(plan.root), "files": plan.files, "releases": releases, "licences": licences,
            "unlinked": [{"path": rel(f.path), "role": f.role, "why": f.reason} for f in plan.unlinked],
            "ignored": [{"path": rel(f.path), "why": f.reason} for f in plan.ignored]}
