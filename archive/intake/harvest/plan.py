"""`arkeep harvest`: the licences a system disk (or the running system) still holds.

The plan is what a careful person would write down before a reinstall: each product key or
licence file the sources table knows where to find, with where it was read and how it was
decoded; what could not be recovered, with the reason; the installed programs (from the
uninstall keys and from macOS bundles); and each place that could not be read, with why. Nothing
is written anywhere, least of all under the root: hives and files are only opened for reading.
"""
from __future__ import annotations

import fnmatch
import os
import plistlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from archive.errors import UsageError
from archive.intake.harvest.hives import (
    MAX_SUBKEYS,
    HiveUnreadable,
    LiveRegistry,
    OfflineHive,
    Registry,
    live_registry_available,
)
from archive.intake.harvest.layout import (
    Layout,
    User,
    child,
    child_path,
    entries,
    find_layout,
    open_regular,
    running_layout,
)
from archive.intake.harvest.productkey import (
    MSDM_MAX,
    NotAProductId,
    decode_product_id,
    key_from_msdm,
)
from archive.intake.harvest.sources import Source, Table, table

MAX_LICENCE_FILE = 16 * 1024        # kept whole, encrypted, in the licence record
MAX_PLIST = 1024 * 1024
UNINSTALL = ("Microsoft\\Windows\\CurrentVersion\\Uninstall",
             "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall")
USER_UNINSTALL = ("Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall",)


@dataclass(frozen=True)
class Finding:
    """A licence found (key set, reason None), or one that is there but holds no key (reason)."""

    source: str
    product: str
    kind: str
    where: str
    how: str
    facts: str
    key: str | None = field(default=None, repr=False)
    reason: str | None = None
    vendor: str | None = None
    version: str | None = None
    licensed_to: str | None = None
    company: str | None = None
    email: str | None = None
    also: tuple[str, ...] = ()           # other places that held the same key
    portal: str | None = None            # where an account's licence is seen (no local key)

    @property
    def recoverable(self) -> bool:
        return self.key is not None and self.reason is None

    @property
    def recordable(self) -> bool:
        """A key, or an account licence whose vendor portal is worth a record of its own."""
        return self.recoverable or self.portal is not None


@dataclass(frozen=True)
class Installed:
    name: str
    version: str | None
    publisher: str | None
    install_date: date | None
    where: str
    archived: tuple[str, ...] = ()       # ids of releases of this program in the store
    archived_other: tuple[str, ...] = ()  # releases of the same program, other versions


@dataclass(frozen=True)
class Problem:
    where: str
    reason: str


@dataclass(frozen=True)
class HarvestPlan:
    root: Path | None
    systems: tuple[str, ...]
    findings: tuple[Finding, ...]
    installed: tuple[Installed, ...]
    problems: tuple[Problem, ...]
    read: tuple[str, ...]                # the places read
    store_checked: bool = False          # installed programs compared with the store's releases

    @property
    def recoverable(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.recoverable)

    @property
    def recordable(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.recordable)


# -- reading the registry -----------------------------------------------------------------------
def _value(values: dict[str, Any], name: str) -> Any:
    if name in values:
        return values[name]
    low = name.casefold()
    return next((v for k, v in values.items() if k.casefold() == low), None)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        text = value.replace("\x00", "").strip()
        return text or None
    return None


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


def _registry_findings(src: Source, reg: Registry, tab: Table) -> list[Finding]:
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
    product = _text(_value(values, src.product_value)) if src.product_value else None
    base = Finding(source=src.id, product=product or src.product, kind=src.kind,
                   where=f"{reg.label}: {path}" + (f" \\ {src.value}" if src.value else ""),
                   how="", facts=src.facts, vendor=src.vendor,
                   licensed_to=_text(_value(values, src.name_value)) if src.name_value else None,
                   company=_text(_value(values, src.company_value)) if src.company_value else None,
                   email=_text(_value(values, src.email_value)) if src.email_value else None)
    if src.decode == "none":
        return [replace(base, how="the product is installed", reason=src.reason)]
    raw = _value(values, src.value or "")
    if raw is None:
        return []
    if src.decode == "text":
        key = _text(raw)
        if key is None:
            return [replace(base, how="a text value", reason="the value is empty or not text")]
        return [_judged(replace(base, key=key, how="a text value, in clear"), tab)]
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
    return [_judged(replace(base, key=decoded.key, how=how), tab)]


def _judged(f: Finding, tab: Table) -> Finding:
    """A key Microsoft publishes for every copy of an edition is not a licence of one's own."""
    what = tab.generic_keys.get((f.key or "").upper())
    if what is None:
        return f
    return replace(f, key=None, reason=f"a generic key ({what}): it proves no purchase; such an "
                   "install is activated by a digital licence tied to the hardware or the "
                   "Microsoft account, so there is no key to keep", kind="hardware-bound")


# -- reading files ------------------------------------------------------------------------------
def _file_places(lay: Layout) -> dict[str, list[tuple[User | None, Path]]]:
    return {"{programfiles}": [(None, p) for p in lay.programfiles],
            "{systemdrive}": [(None, p) for p in lay.systemdrive],
            "{appdata}": list(lay.appdata()), "{appsupport}": list(lay.appsupport()),
            "{config}": list(lay.config()), "{firmware}": [(None, p) for p in lay.firmware],
            "{home}": [(u, u.home) for u in lay.windows_users + lay.linux_users],
            "{library}": [(None, lay.mac_system)] if lay.mac_system else [],
            "{macprefs}": [(u, p) for u in lay.mac_users
                           if (p := child_path(u.home, "Library/Preferences"))],
            "{etc}": [(None, p) for p in lay.etc]}


def _glob(base: Path, rel: str) -> list[Path]:
    """`rel` under `base`: each part matched without regard to case, * and ? expanded."""
    here = [base]
    for part in (p for p in rel.split("/") if p):
        nxt = []
        for folder in here:
            if any(c in part for c in "*?["):
                nxt += [Path(e.path) for e in entries(folder)
                        if fnmatch.fnmatchcase(e.name.casefold(), part.casefold())
                        and not e.is_symlink()]
            else:
                found = child(folder, part)
                if found is not None and not found.is_symlink():
                    nxt.append(found)
        here = nxt[:1000]
    return here


def read_licence_text(path: Path) -> tuple[str | None, str | None]:
    """(text, None) for a small text file (UTF-8 or UTF-16), (None, reason) otherwise. Read
    without following a symbolic link and never more than the limit."""
    try:
        with open_regular(path) as f:
            data = f.read(MAX_LICENCE_FILE + 1)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if len(data) > MAX_LICENCE_FILE:
        return None, (f"larger than {MAX_LICENCE_FILE // 1024} KiB, not a licence file arkeep "
                      "keeps inside a record; archive it with `arkeep add … --license-file`")
    if not data.strip():
        return None, "empty"
    body = data[2:] if data[:2] == b"\xff\xff" else data     # JetBrains' marker before UTF-16
    for codec in (("utf-16",) if body[:2] in (b"\xff\xfe", b"\xfe\xff") else ()) + (
            ("utf-16-le",) if b"\x00" in body[:64] else ("utf-8-sig",)):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if any(ord(c) < 32 and c not in "\r\n\t" for c in text):
            continue
        # UTF-16 without a mark: most random bytes decode to something, so ask for mostly ASCII
        if codec == "utf-16-le" and sum(ord(c) < 128 for c in text) < 0.9 * len(text):
            continue
        return text, None
    return None, ("not text: archive it with `arkeep add … --license-file` (kept encrypted as "
                  "a document)")


def _firmware_findings(src: Source, lay: Layout, tab: Table
                       ) -> tuple[list[Finding], list[Problem], list[str]]:
    """The OEM key in the running computer's firmware; a disk does not hold one."""
    if lay.root is not None:
        if lay.software is not None:
            return [], [Problem("firmware", "the OEM key a PC maker puts in the firmware (Windows 8 "
                                "and later) is not on a disk: run `arkeep harvest` on that "
                                "computer to read it")], []
        return [], [], []
    tables: list[tuple[str, bytes | None, str | None]] = []
    if lay.firmware:
        for folder in lay.firmware:
            path = folder / "MSDM"
            if not os.path.lexists(path):
                continue
            try:
                with open_regular(path) as f:
                    tables.append((str(path), f.read(MSDM_MAX), None))
            except OSError as exc:
                tables.append((str(path), None, "readable by root only: run harvest as root to "
                               "read the OEM key" if isinstance(exc, PermissionError)
                               else f"cannot be read ({exc.strerror or exc})"))
    elif live_registry_available():
        data = windows_msdm()
        if data is not None:
            tables.append(("the firmware's ACPI MSDM table", data, None))
    found, problems = [], []
    for where, data, why in tables:
        if data is None:
            problems.append(Problem(where, f"{src.product}: {why}"))
            continue
        base = Finding(source=src.id, product=src.product, kind=src.kind, where=where,
                       how="the ACPI MSDM table's key, in clear", facts=src.facts, vendor=src.vendor)
        try:
            found.append(_judged(replace(base, key=key_from_msdm(data)), tab))
        except NotAProductId as exc:
            found.append(replace(base, reason=f"holds no key ({exc})"))
    return found, problems, [w for w, _, _ in tables]


def windows_msdm() -> bytes | None:
    """The MSDM table through GetSystemFirmwareTable, or None (no table, or no such call)."""
    import ctypes

    try:
        call = ctypes.windll.kernel32.GetSystemFirmwareTable  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    provider, table_id = int.from_bytes(b"ACPI", "big"), int.from_bytes(b"MSDM", "little")
    size = call(provider, table_id, None, 0)
    if not size or size > MSDM_MAX:
        return None
    buf = ctypes.create_string_buffer(size)
    got = call(provider, table_id, buf, size)
    return buf.raw[:got] if got else None


def _file_findings(src: Source, lay: Layout) -> tuple[list[Finding], list[Problem], list[str]]:
    found, problems, read = [], [], []
    places = _file_places(lay)
    for pattern in src.files:
        place, _, rel = pattern.partition("/")
        for user, base in places.get(place, []):
            for path in _glob(base, rel):
                read.append(str(path))
                text, why = read_licence_text(path)
                product = src.product
                if src.product_from_folder:
                    product = f"{src.vendor or src.product} {_wild_part(base, rel, path)}"
                f = Finding(source=src.id, product=product, kind=src.kind, where=str(path),
                            how=HOW_FILE[src.decode].format(field=src.field), facts=src.facts,
                            vendor=src.vendor)
                if text is None:
                    problems.append(Problem(str(path), f"{src.product} licence file: {why}"))
                    continue
                if src.decode == "none":
                    found.append(replace(f, reason=src.reason))
                    continue
                key = text if src.decode == "licence-file" else _field(text, src.field) \
                    if src.decode == "text-field" else text.strip().splitlines()[0]
                if key is None:
                    found.append(replace(f, reason=f"the file has no {src.field} line"))
                else:
                    found.append(replace(f, key=key))
    return found, problems, read


HOW_FILE = {"licence-file": "the licence file, whole", "text": "the file's first line",
            "text-field": "the file's {field} line", "none": "the file is there"}


def _field(text: str, name: str | None) -> str | None:
    """The value of a `NAME = "value"` line (VMware's licence files)."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().casefold() == (name or "").casefold():
            return value.strip().strip('"').strip() or None
    return None


def _wild_part(base: Path, rel: str, path: Path) -> str:
    """The name the first wildcard of `rel` matched in `path` (the product's folder)."""
    parts = [p for p in rel.split("/") if p]
    at = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts) - 2)
    try:
        return path.relative_to(base).parts[at].lstrip(".")
    except (ValueError, IndexError):
        return path.parent.name


# -- installed programs -------------------------------------------------------------------------
def _install_date(text: str | None) -> date | None:
    if text and re.fullmatch(r"\d{8}", text):
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    return None


def uninstall_entries(reg: Registry, roots: Iterable[str]) -> list[Installed]:
    out = []
    for root in roots:
        for name in reg.subkeys(root) or []:
            values = reg.values(f"{root}\\{name}") or {}
            display = _text(_value(values, "DisplayName"))
            if display is None or _value(values, "SystemComponent") == 1:
                continue
            if _value(values, "ParentKeyName") or (_text(_value(values, "ReleaseType")) or "") in (
                    "Update", "Hotfix", "Security Update", "Service Pack"):
                continue
            out.append(Installed(display, _text(_value(values, "DisplayVersion")),
                                 _text(_value(values, "Publisher")),
                                 _install_date(_text(_value(values, "InstallDate"))),
                                 f"{reg.label}: {root}\\{name}"))
    return out


def mac_bundles(folders: Iterable[Path], problems: list[Problem]) -> list[Installed]:
    out = []
    for folder in folders:
        for e in entries(folder):
            if not e.name.endswith(".app"):
                continue
            plist = Path(e.path) / "Contents" / "Info.plist"
            try:
                with open_regular(plist) as f:
                    data = f.read(MAX_PLIST + 1)
                if len(data) > MAX_PLIST:
                    problems.append(Problem(str(plist), "larger than an Info.plist can be; not read"))
                    continue
                info = plistlib.loads(data)
            except FileNotFoundError:
                continue
            except OSError as exc:
                problems.append(Problem(str(plist), f"cannot be read ({exc.strerror or exc})"))
                continue
            except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError,
                    OverflowError, RecursionError) as exc:
                problems.append(Problem(str(plist), f"not a property list ({type(exc).__name__})"))
                continue
            if not isinstance(info, dict):
                problems.append(Problem(str(plist), "not a property list of a bundle"))
                continue
            name = next((info[k] for k in ("CFBundleDisplayName", "CFBundleName")
                         if isinstance(info.get(k), str) and info[k].strip()), e.name[:-4])
            version = next((info[k] for k in ("CFBundleShortVersionString", "CFBundleVersion")
                            if isinstance(info.get(k), str) and info[k].strip()), None)
            ident = info.get("CFBundleIdentifier")
            out.append(Installed(name.strip(), version, ident if isinstance(ident, str) else None,
                                 None, str(plist)))
    return out


# -- the plan -----------------------------------------------------------------------------------
def _merge(findings: list[Finding], defaults: dict[str, str]) -> list[Finding]:
    """One finding per product and key; the other places that held it are kept in `also`."""
    out: dict[tuple[str, str], Finding] = {}
    rest = []
    for f in findings:
        if f.key is None:
            rest.append(f)
            continue
        k = (f.vendor or f.product.casefold(), f.key)
        if k in out:
            out[k] = replace(out[k], also=out[k].also + (f.where,))
        else:
            out[k] = f
    seen = set()
    kept_rest = []
    for f in rest:      # a reason said once per source, other places under `also`, the
        k2 = (f.source, f.reason)  # product named by the registry rather than by the table
        if k2 in seen:
            i = next(n for n, g in enumerate(kept_rest) if (g.source, g.reason) == k2)
            kept = kept_rest[i]
            if kept.product == defaults.get(f.source) and f.product != kept.product:
                kept_rest[i] = replace(f, also=kept.also + (kept.where,))
            else:
                kept_rest[i] = replace(kept, also=kept.also + (f.where,))
        else:
            seen.add(k2)
            kept_rest.append(f)
    return list(out.values()) + kept_rest


def _open_hives(lay: Layout, problems: list[Problem], read: list[str]
                ) -> tuple[list[Registry], list[Registry]]:
    software: list[Registry] = []
    users: list[Registry] = []
    if lay.root is None and live_registry_available():
        software.append(LiveRegistry("HKEY_LOCAL_MACHINE", "SOFTWARE"))
        users.append(LiveRegistry("HKEY_CURRENT_USER"))
        read += [r.label for r in software + users]
        return software, users
    hives = [(p, "SOFTWARE hive") for p in [lay.software] if p is not None]
    hives += [(p, "SOFTWARE hive of the Windows before an upgrade") for p in lay.older_software]
    for path, what in hives:
        try:
            hive = OfflineHive(path, f"{what} ({path})")
            software.append(hive)
            read.append(str(path))
            problems += [Problem(str(path), n) for n in hive.notes]
        except HiveUnreadable as exc:
            problems.append(Problem(str(path), str(exc).split(": ", 1)[-1]))
    for u in lay.windows_users:
        path = child(u.home, "NTUSER.DAT")
        if path is None:
            continue
        try:
            hive = OfflineHive(path, f"{u.name}'s NTUSER.DAT ({path})")
            users.append(hive)
            read.append(str(path))
            problems += [Problem(str(path), n) for n in hive.notes]
        except HiveUnreadable as exc:
            problems.append(Problem(str(path), str(exc).split(": ", 1)[-1]))
    return software, users


def plan_harvest(root: Path | None, tab: Table | None = None) -> HarvestPlan:
    """Everything the sources table can find under `root` (None: the running system)."""
    tab = tab or table()
    if root is not None:
        if not root.exists():
            raise UsageError(f"{root}: no such folder")
        if not root.is_dir():
            raise UsageError(f"{root} is not a folder: give the folder where the old disk is "
                             "mounted (or copied)")
        lay = find_layout(root)
    elif live_registry_available():
        lay = _running_windows()
    else:
        lay = running_layout(Path.home())
    return harvest_layout(lay, tab)


def harvest_layout(lay: Layout, tab: Table) -> HarvestPlan:
    """What the table finds in the places of `lay`."""
    root = lay.root
    problems = [Problem(w, r) for w, r in lay.problems]
    read: list[str] = []
    software, users = _open_hives(lay, problems, read)
    findings: list[Finding] = []
    for src in tab.sources:
        if src.hive:
            for reg in software if src.hive == "SOFTWARE" else users:
                try:
                    findings += _registry_findings(src, reg, tab)
                except HiveUnreadable as exc:
                    problems.append(Problem(reg.label, f"{src.product}: {str(exc).split(': ', 1)[-1]}"))
        elif src.decode == "acpi-msdm":
            found, probs, seen = _firmware_findings(src, lay, tab)
            findings += found
            problems += probs
            read += seen
        else:
            found, probs, seen = _file_findings(src, lay)
            findings += found
            problems += probs
            read += seen
    installed: list[Installed] = []
    for reg, roots in [(r, UNINSTALL) for r in software] + [(r, USER_UNINSTALL) for r in users]:
        try:
            installed += uninstall_entries(reg, roots)
        except HiveUnreadable as exc:
            problems.append(Problem(reg.label, f"installed programs: {str(exc).split(': ', 1)[-1]}"))
    installed += mac_bundles(lay.applications, problems)
    installed = list({(i.name, i.version): i for i in installed}.values())
    findings += _account_findings(installed, tab)
    defaults = {s.id: s.product for s in tab.sources}
    findings = [_with_version(f, installed) for f in _merge(findings, defaults)]
    if root is None and not lay.systems and not software:
        problems.append(Problem("this system", "neither Windows, macOS nor a Linux home was found"))
    systems = lay.systems or (("windows",) if software else ())
    return HarvestPlan(root=root, systems=systems, findings=tuple(findings),
                       installed=tuple(sorted(installed, key=lambda i: i.name.casefold())),
                       problems=tuple(problems), read=tuple(dict.fromkeys(read)))


def _running_windows() -> Layout:
    env = os.environ
    lay = Layout(root=None)
    home = Path(env.get("USERPROFILE") or Path.home())
    lay.windows_users = [User(home.name, home)]
    lay.programfiles = [Path(p) for p in {env.get("ProgramFiles"), env.get("ProgramFiles(x86)")} if p]
    lay.systemdrive = [Path((env.get("SystemDrive") or "C:") + "\\")]
    return lay


def _account_findings(installed: list[Installed], tab: Table) -> list[Finding]:
    out = []
    for acc in tab.accounts:
        for i in installed:
            if acc.installed.search(i.name):
                out.append(Finding(source=acc.id, product=acc.product, kind="subscription",
                                   where=i.where, how="an installed program", facts=acc.facts,
                                   reason=f"{acc.reason}; the licence is seen at {acc.portal}",
                                   version=i.version, portal=acc.portal))
                break
    return out


def same_program(product: str, name: str) -> bool:
    """'WinRAR' names 'WinRAR 5.91 (64-bit)'; 'Win' does not."""
    p, n = _norm(product), _norm(name)
    return n == p or (n.startswith(p) and not n[len(p)].isalnum())


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _with_version(f: Finding, installed: list[Installed]) -> Finding:
    if f.version is not None:
        return f
    match = [i for i in installed if i.version and same_program(f.product, i.name)]
    return replace(f, version=match[0].version) if len(match) == 1 else f


def same_version(a: str, b: str) -> bool:
    """'5.91' and '5.91.0' are one version; '5.9' and '5.91' are not."""
    def parts(v: str) -> list[str]:
        p = re.split(r"[.\s]+", v.strip().casefold())
        while len(p) > 1 and p[-1] == "0":
            p.pop()
        return p
    return parts(a) == parts(b)


def mark_archived(plan: HarvestPlan, releases: Iterable[Any]) -> HarvestPlan:
    """The plan with each installed program's archived releases named (same program and
    version, or the program in other versions)."""
    rels = list(releases)
    out = []
    for i in plan.installed:
        same = [r for r in rels if same_program(r.product, i.name)]
        exact = tuple(r.id for r in same if i.version and same_version(r.version, i.version))
        other = tuple(r.id for r in same if r.id not in exact)
        out.append(replace(i, archived=exact, archived_other=other))
    return replace(plan, installed=tuple(out), store_checked=True)

