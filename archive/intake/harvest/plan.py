"""`arkeep harvest`: the licences a system disk (or the running system) still holds.

The plan is what a careful person would write down before a reinstall: each product key or
licence file the sources table knows where to find, with where it was read and how it was
decoded; what could not be recovered, with the reason; the installed programs (from the
uninstall keys and from macOS bundles); and each place that could not be read, with why. Nothing
is written anywhere, least of all under the root: hives and files are only opened for reading.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archive.errors import UsageError
from archive.intake.harvest.file_sources import file_findings, firmware_findings
from archive.intake.harvest.findings import Finding, Problem
from archive.intake.harvest.hives import (
    HiveUnreadable,
    LiveRegistry,
    OfflineHive,
    Registry,
    live_registry_available,
)
from archive.intake.harvest.installed import (
    UNINSTALL,
    USER_UNINSTALL,
    Installed,
    mac_bundles,
    same_program,
    same_version,
    uninstall_entries,
)
from archive.intake.harvest.layout import Layout, User, child, find_layout, running_layout
from archive.intake.harvest.registry_sources import registry_findings
from archive.intake.harvest.sources import Table, table

__all__ = ["Finding", "HarvestPlan", "Installed", "Problem", "harvest_layout", "mark_archived",
           "plan_harvest"]


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
    try:
        findings: list[Finding] = []
        for src in tab.sources:
            if src.hive:
                for reg in software if src.hive == "SOFTWARE" else users:
                    try:
                        findings += registry_findings(src, reg, tab)
                    except HiveUnreadable as exc:
                        problems.append(Problem(reg.label, f"{src.product}: {_why(exc)}"))
            elif src.decode == "acpi-msdm":
                found, probs, seen = firmware_findings(src, lay, tab)
                findings += found
                problems += probs
                read += seen
            else:
                found, probs, seen = file_findings(src, lay)
                findings += found
                problems += probs
                read += seen
        installed: list[Installed] = []
        for reg, roots in [(r, UNINSTALL) for r in software] + [(r, USER_UNINSTALL) for r in users]:
            try:
                installed += uninstall_entries(reg, roots)
            except HiveUnreadable as exc:
                problems.append(Problem(reg.label, f"installed programs: {_why(exc)}"))
    finally:
        for reg in software + users:
            close = getattr(reg, "close", None)
            if close is not None:
                close()
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


def _why(exc: HiveUnreadable) -> str:
    """The reason of a hive error, without the hive's path (the problem names the place)."""
    return str(exc).split(": ", 1)[-1]


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


def _with_version(f: Finding, installed: list[Installed]) -> Finding:
    if f.version is not None:
        return f
    match = [i for i in installed if i.version and same_program(f.product, i.name)]
    return replace(f, version=match[0].version) if len(match) == 1 else f


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
