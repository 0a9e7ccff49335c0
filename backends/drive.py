"""External drives: recognised by a marker file wherever they are mounted this time.

`init_drive(path)` writes `.arkeep-drive.toml` (a UUID and a creation time) at the drive's
root; the caller stores the remote as (uuid, subdir) and the path it was added at. The backend
looks for the marker there first, then `find_drive(uuid)` under `ARKEEP_DRIVE_PATHS` and the usual
mount roots. A drive that is not plugged in is a
normal state: operations raise `NotConnected` (carrying the caller's `last_seen`), and a
drive that disappears in the middle of an operation raises the same instead of an OSError.
Before a write is published and after a listing the marker is checked again, so an empty
mount point left behind by an unplugged drive never receives or hides units.
"""

from __future__ import annotations

import glob
import os
import string
import sys
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .base import temp_name, validate_key
from .errors import BackendError, NotConnected, Unreachable, translate
from .fsspec_backend import FsspecBackend
from .localfiles import write_atomic

MARKER = ".arkeep-drive.toml"
ENV_PATHS = "ARKEEP_DRIVE_PATHS"
MOUNT_PATTERNS = ("/media/*", "/media/*/*", "/run/media/*/*", "/mnt/*", "/Volumes/*")
MARKER_FORMAT = 1


@dataclass(frozen=True)
class DriveMarker:
    """The contents of a drive's marker file."""

    uuid: str
    created: datetime
    format: int = MARKER_FORMAT


def read_marker(root: str | os.PathLike[str]) -> DriveMarker | None:
    """The marker at `root`, or None if there is none or it is unreadable or foreign."""
    import tomllib

    try:
        with open(Path(root) / MARKER, "rb") as handle:
            data = tomllib.load(handle)
        created = data.get("created")
        return DriveMarker(
            uuid=str(uuidlib.UUID(str(data["uuid"]))),
            created=created if isinstance(created, datetime) else datetime.now(UTC),
            format=int(data.get("format", MARKER_FORMAT)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def init_drive(path: str | os.PathLike[str], *, name: str = "drive") -> str:
    """Mark the drive mounted at `path` and return its UUID; an already marked drive keeps
    its UUID. The marker is written atomically and made durable."""
    import tomli_w

    root = Path(path)
    existing = read_marker(root)
    if existing is not None:
        return existing.uuid
    if (root / MARKER).exists():
        raise BackendError(
            name, f"{root / MARKER} exists but is unreadable",
            hint="inspect it (it holds the drive's identity) before deleting it",
        )
    if not root.is_dir():
        raise Unreachable(name, f"{root} is not a directory", hint="give the drive's mount point")
    marker = DriveMarker(str(uuidlib.uuid4()), datetime.now(UTC).replace(microsecond=0))
    text = (
        "# arkeep drive marker: identifies this drive wherever it is mounted. Do not delete.\n"
        + tomli_w.dumps(
            {"format": marker.format, "uuid": marker.uuid, "created": marker.created}
        )
    )
    try:
        write_atomic(root / MARKER, text, temp=root / temp_name(), strict=False)
    except OSError as exc:
        raise (translate(exc, name) or BackendError(name, str(exc))) from exc
    return marker.uuid


def _children(path: Path) -> Iterator[Path]:
    try:
        for child in sorted(path.iterdir()):
            if child.is_dir():
                yield child
    except OSError:
        return


def candidate_roots(environ: Mapping[str, str] | None = None, *, platform: str | None = None,
                    root: Path | None = None) -> Iterator[Path]:
    """Every directory that might be a drive's root, most explicit first.

    Each entry of `ARKEEP_DRIVE_PATHS` (separated by ':', by ';' on Windows), its children and
    grandchildren (as deep as /media/USER/LABEL); then, on Linux and macOS, the usual mount
    roots (`MOUNT_PATTERNS`: udisks' /media/USER/LABEL and /run/media/USER/LABEL, /mnt, macOS's
    /Volumes/LABEL); on Windows the drive letters. `environ`, `platform` (as sys.platform
    spells it) and `root` (where the mount patterns start) default to this machine's: a test
    passes another platform's to walk its paths.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    windows = platform == "win32"
    seen: set[Path] = set()

    def fresh(paths: Iterable[Path]) -> Iterator[Path]:
        for path in paths:
            if path not in seen:
                seen.add(path)
                yield path

    for entry in environ.get(ENV_PATHS, "").split(";" if windows else ":"):
        if entry:
            base = Path(entry).expanduser()
            yield from fresh([base])
            children = list(_children(base))
            yield from fresh(children)
            for child in children:
                yield from fresh(_children(child))
    if windows:
        yield from fresh(Path(f"{letter}:\\") for letter in string.ascii_uppercase)
        return
    start = glob.escape(str(Path("/") if root is None else root))
    for pattern in MOUNT_PATTERNS:
        yield from fresh(Path(p) for p in sorted(glob.glob(os.path.join(start, pattern[1:]))))


def find_drive(uuid: str, candidates: Iterable[Path] | None = None) -> Path | None:
    """The root of the mounted drive whose marker carries `uuid`, or None."""
    wanted = str(uuidlib.UUID(uuid))
    for root in candidates if candidates is not None else candidate_roots():
        try:
            if not (root / MARKER).is_file():
                continue
        except OSError:
            continue
        marker = read_marker(root)
        if marker is not None and marker.uuid == wanted:
            return root
    return None


class DriveBackend(FsspecBackend):
    """A subdirectory of an external drive identified by its marker's UUID."""

    def __init__(
        self,
        name: str,
        uuid: str,
        subdir: str = "",
        *,
        last_seen: datetime | None = None,
        where_added: str | None = None,
    ) -> None:
        from fsspec.implementations.local import LocalFileSystem

        self.uuid = str(uuidlib.UUID(uuid))
        self.subdir = validate_key(subdir, name) if subdir else ""
        self.last_seen = last_seen
        self.where_added = Path(where_added) if where_added else None
        self._mount: Path | None = None
        url = f"drive://{self.uuid}/{self.subdir}"
        super().__init__(name, url, LocalFileSystem(), "/")

    @property
    def mount(self) -> Path | None:
        """Where the drive is mounted now, or None when it is not connected."""
        if self._present():
            return self._mount
        self._mount = find_drive(self.uuid, self._candidates())
        return self._mount

    def _candidates(self) -> Iterator[Path]:
        """Where the drive was added first (a mount point outside the usual roots is found
        there again), then every usual place."""
        if self.where_added is not None:
            yield self.where_added
        yield from candidate_roots()

    def _present(self) -> bool:
        if self._mount is None:
            return False
        try:
            return (self._mount / MARKER).is_file()
        except OSError:
            return False

    def _not_connected(self) -> NotConnected:
        return NotConnected(
            self.name,
            last_seen=self.last_seen,
            hint=f"plug it in and retry (mounted somewhere unusual? add the mount point to "
            f"{ENV_PATHS})",
        )

    def root(self) -> str:
        mount = self.mount
        if mount is None:
            raise self._not_connected()
        path = mount / self.subdir if self.subdir else mount
        return path.as_posix()

    def _translate(self, exc: Exception, key: str | None = None) -> BackendError | None:
        error = super()._translate(exc, key)
        if error is not None and not isinstance(error, NotConnected) and not self._present():
            return self._not_connected()
        return error

    def _require_root(self, root: str) -> None:
        if not self._present():
            raise self._not_connected()
        os.makedirs(root, exist_ok=True)

    def _before_commit(self) -> None:
        if not self._present():
            raise self._not_connected()

    def _after_list(self) -> None:
        if not self._present():
            raise self._not_connected()

    def check(self) -> None:
        self.root()
