"""What ISO images and zip archives share: choosing the installers inside and lifting their
details to the container when they all agree."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from archive.intake.inspect.reading import Inspection, Reading

INSTALLER_SUFFIXES = (".exe", ".msi", ".deb", ".rpm", ".pkg", ".mpkg", ".appimage", ".dmg",
                      ".zip", ".iso")
MAX_MEMBERS = 8
MAX_MEMBER_BYTES = 1 << 30
LIFTED = ("product", "version", "vendor", "platform")


def candidates(names: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Installer-looking members, setup programs and shallow paths first."""
    found = [(n, s) for n, s in names if PurePosixPath(n).suffix.lower() in INSTALLER_SUFFIXES]

    def rank(item: tuple[str, int]) -> tuple[int, int, str]:
        name = PurePosixPath(item[0]).name.lower()
        setup = 0 if name.startswith(("setup", "install")) or name.endswith(".msi") else 1
        return setup, item[0].count("/"), item[0].lower()

    return sorted(found, key=rank)


def inspect_members(r: Reading, members: list[tuple[str, int]],
                    extract: Callable[[str, BinaryIO], None], kind: str) -> None:
    """Copy each chosen member to a temporary file and inspect it."""
    chosen = candidates(members)
    if not chosen:
        r.note(f"no installer found inside the {kind}")
        return
    if len(chosen) > MAX_MEMBERS:
        r.note(f"{len(chosen)} installer-like files inside; the first {MAX_MEMBERS} were read")
    with tempfile.TemporaryDirectory(prefix="arkeep-inspect-") as tmp:
        for i, (name, size) in enumerate(chosen[:MAX_MEMBERS]):
            if size > MAX_MEMBER_BYTES:
                r.note(f"{name}: too large ({size:,} bytes) to look inside here")
                continue
            target = Path(tmp) / f"{i}{PurePosixPath(name).suffix.lower()}"
            try:
                with open(target, "wb") as dst:
                    extract(name, dst)
            except Exception as exc:  # noqa: BLE001 - one member's damage is one note
                r.problem(f"{name}: cannot be read from the {kind} ({type(exc).__name__}); the "
                          f"{kind} is damaged or truncated")
                continue
            if r.inspect_member(target, name) is not None:
                target.unlink(missing_ok=True)
    lift(r)


def lift(r: Reading) -> None:
    """When every installer inside names the same product and version, the container does too."""
    readable = [i for i in r.inner if i.is_installer and i.product and i.version]
    if not readable:
        if r.inner:
            r.note("no installer inside says its product and version")
        return
    pairs = {(i.product, i.version) for i in readable}
    if len(pairs) > 1:
        r.note("the installers inside name different products or versions: "
               + "; ".join(f"{p} {v}" for p, v in sorted(pairs)))
        return
    first: Inspection = readable[0]
    for name in LIFTED:
        values = {i.fields.get(name) for i in readable}
        if len(values) == 1 and first.fields.get(name):
            r.set(name, first.fields[name], f"{first.path} inside: {first.sources.get(name, '')}")
