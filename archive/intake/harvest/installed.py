"""Installed programs: the uninstall keys of Windows and the bundles of macOS, and how a program
is matched with an archived release."""
from __future__ import annotations

import plistlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.parsers.expat import ExpatError

from archive.intake.harvest.findings import Problem, text_of, value_of
from archive.intake.harvest.hives import Registry
from archive.intake.harvest.layout import entries, open_regular

MAX_PLIST = 1024 * 1024
UNINSTALL = ("Microsoft\\Windows\\CurrentVersion\\Uninstall",
             "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall")
USER_UNINSTALL = ("Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall",)


@dataclass(frozen=True)
class Installed:
    name: str
    version: str | None
    publisher: str | None
    install_date: date | None
    where: str
    archived: tuple[str, ...] = ()       # ids of releases of this program in the store
    archived_other: tuple[str, ...] = ()  # releases of the same program, other versions


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
            display = text_of(value_of(values, "DisplayName"))
            if display is None or value_of(values, "SystemComponent") == 1:
                continue
            if value_of(values, "ParentKeyName") or (text_of(value_of(values, "ReleaseType")) or "") in (
                    "Update", "Hotfix", "Security Update", "Service Pack"):
                continue
            out.append(Installed(display, text_of(value_of(values, "DisplayVersion")),
                                 text_of(value_of(values, "Publisher")),
                                 _install_date(text_of(value_of(values, "InstallDate"))),
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


def same_program(product: str, name: str) -> bool:
    """'WinRAR' names 'WinRAR 5.91 (64-bit)'; 'Win' does not."""
    p, n = _norm(product), _norm(name)
    return n == p or (n.startswith(p) and not n[len(p)].isalnum())


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def same_version(a: str, b: str) -> bool:
    """'5.91' and '5.91.0' are one version; '5.9' and '5.91' are not."""
    def parts(v: str) -> list[str]:
        p = re.split(r"[.\s]+", v.strip().casefold())
        while len(p) > 1 and p[-1] == "0":
            p.pop()
        return p
    return parts(a) == parts(b)
