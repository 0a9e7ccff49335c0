"""External drives: the marker, finding a drive wherever it is mounted, unplugging."""

from __future__ import annotations

import shutil
import tomllib
import uuid as uuidlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backends import (
    BackendError,
    NotConnected,
    drive_url,
    find_drive,
    init_drive,
    open_backend,
)
from backends.base import TEMP_PREFIX
from backends.drive import MARKER, DriveBackend, candidate_roots, read_marker


@pytest.fixture
def mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake /media: every child is a candidate drive root."""
    media = tmp_path / "media"
    media.mkdir()
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(media))
    return media


def plug(mounts: Path, label: str = "USB") -> tuple[Path, str]:
    drive = mounts / label
    drive.mkdir()
    return drive, init_drive(drive)


def test_init_writes_a_readable_marker(tmp_path: Path) -> None:
    uuid = init_drive(tmp_path)
    data = tomllib.loads((tmp_path / MARKER).read_text())
    assert data["uuid"] == uuid == str(uuidlib.UUID(uuid))
    assert isinstance(data["created"], datetime)
    assert data["format"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [MARKER], "no temp file left"
    assert init_drive(tmp_path) == uuid, "initialising twice keeps the identity"


def test_an_unreadable_marker_is_not_silently_replaced(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_text("not = [valid toml")
    with pytest.raises(BackendError, match="unreadable"):
        init_drive(tmp_path)
    assert read_marker(tmp_path) is None


def test_found_wherever_it_is_mounted(
    mounts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive, uuid = plug(mounts)
    assert find_drive(uuid) == drive
    backend = open_backend("usb", drive_url(uuid, "arkeep"))
    with backend.open_write("units/ab/unit.zip") as handle:
        handle.write(b"on the drive")

    elsewhere = tmp_path / "run-media" / "user"
    elsewhere.mkdir(parents=True)
    drive.rename(elsewhere / "OTHER-LABEL")
    assert find_drive(uuid) is None
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", f"{tmp_path / 'nowhere'}:{elsewhere}")
    assert find_drive(uuid) == elsewhere / "OTHER-LABEL"
    with backend.open_read("units/ab/unit.zip") as handle:
        assert handle.read() == b"on the drive"

    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(elsewhere / "OTHER-LABEL"))
    assert find_drive(uuid) == elsewhere / "OTHER-LABEL", "an entry is itself a candidate"


def test_a_drive_two_levels_below_an_entry_is_found(mounts: Path) -> None:
    """ARKEEP_DRIVE_PATHS is searched as deep as /media: /media/USER/LABEL (udisks) is common."""
    (mounts / "alice").mkdir()
    drive, uuid = plug(mounts / "alice", "BACKUP 2")
    assert find_drive(uuid) == drive


def test_each_platform_s_mount_roots(tmp_path: Path) -> None:
    """Where Linux (udisks' /media/USER/LABEL, /run/media/USER/LABEL, /mnt) and macOS (/Volumes)
    mount a drive, under a stand-in for /: found on both; Windows looks at drive letters only
    (tests/windows finds one there for real)."""
    root = tmp_path / "root"
    places = ["media/alice/USB1", "run/media/bob/USB2", "mnt/USB3", "Volumes/USB 4", "media/USB5"]
    uuids = {}
    for place in places:
        (root / place).mkdir(parents=True)
        uuids[place] = init_drive(root / place)
    for platform in ("linux", "darwin"):
        for place, uuid in uuids.items():
            assert find_drive(uuid, candidate_roots({}, platform=platform, root=root)) == \
                root / place, (platform, place)
    windows = list(candidate_roots({}, platform="win32", root=root))
    assert [str(p) for p in windows] == [f"{c}:\\" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    assert list(candidate_roots({}, platform="linux", root=tmp_path / "empty")) == []


@pytest.mark.parametrize("platform, separator", [("linux", ":"), ("darwin", ":"), ("win32", ";")])
def test_drive_paths_entries_to_the_depth_of_media(tmp_path: Path, platform: str,
                                                   separator: str) -> None:
    """$ARKEEP_DRIVE_PATHS/USER/LABEL is found, as /media/USER/LABEL is, with the platform's
    separator between entries; one level deeper is not searched."""
    first, second = tmp_path / "first", tmp_path / "second"
    (second / "alice" / "BACKUP").mkdir(parents=True)
    (second / "alice" / "deeper" / "STICK").mkdir(parents=True)
    first.mkdir()
    backup = init_drive(second / "alice" / "BACKUP")
    stick = init_drive(second / "alice" / "deeper" / "STICK")
    env = {"ARKEEP_DRIVE_PATHS": f"{first}{separator}{second}"}
    empty = tmp_path / "no-mounts"
    assert find_drive(backup, candidate_roots(env, platform=platform, root=empty)) == \
        second / "alice" / "BACKUP"
    assert find_drive(stick, candidate_roots(env, platform=platform, root=empty)) is None
    other = ";" if separator == ":" else ":"
    wrong = {"ARKEEP_DRIVE_PATHS": f"{first}{other}{second}"}
    if platform == "win32":  # a ':' is part of a Windows path (C:\\), never a separator
        assert find_drive(backup, candidate_roots(wrong, platform=platform, root=empty)) is None
    else:  # ';' may be part of a folder's name on Linux and macOS
        assert find_drive(backup, candidate_roots(wrong, platform=platform, root=empty)) is None


def test_candidates_include_the_usual_mount_roots(mounts: Path) -> None:
    roots = list(candidate_roots())
    assert roots[0] == mounts
    assert len(roots) == len(set(roots))


def test_not_connected_is_a_clear_state(mounts: Path) -> None:
    seen = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    backend = DriveBackend("usb", str(uuidlib.uuid4()), "arkeep", last_seen=seen)
    assert backend.mount is None
    for operation in (backend.check, lambda: list(backend.list()),
                      lambda: backend.exists("key.toml")):
        with pytest.raises(NotConnected) as caught:
            operation()
        assert caught.value.last_seen == seen
    message = str(caught.value)
    assert message.startswith("drive remote 'usb' is not connected (last seen 2026-03-01 12:30)")
    assert "ARKEEP_DRIVE_PATHS" in message
    with pytest.raises(NotConnected):
        with backend.open_write("key.toml") as handle:
            handle.write(b"x")


def test_an_empty_mount_point_receives_nothing(mounts: Path) -> None:
    drive, uuid = plug(mounts)
    backend = open_backend("usb", drive_url(uuid, "arkeep"))
    backend.check()
    shutil.rmtree(drive)
    drive.mkdir()  # what an unmounted drive leaves behind under /mnt
    with pytest.raises(NotConnected):
        with backend.open_write("units/ab/unit.zip") as handle:
            handle.write(b"x")
    with pytest.raises(NotConnected):
        list(backend.list())
    assert list(drive.iterdir()) == []


def test_drive_removed_mid_write(mounts: Path) -> None:
    drive, uuid = plug(mounts)
    backend = open_backend("usb", drive_url(uuid))
    with backend.open_write("units/ab/first.zip") as handle:
        handle.write(b"first")
    with pytest.raises(NotConnected):
        with backend.open_write("units/ab/unit.zip") as handle:
            handle.write(b"half")
            shutil.rmtree(drive)
            handle.write(b" and the rest")
    assert not drive.exists()


def test_drive_moved_mid_write_publishes_nothing(mounts: Path) -> None:
    drive, uuid = plug(mounts)
    backend = open_backend("usb", drive_url(uuid, "arkeep"))
    with pytest.raises(NotConnected):
        with backend.open_write("units/ab/unit.zip") as handle:
            handle.write(b"half")
            drive.rename(mounts / "REMOUNTED")
    assert not backend.exists("units/ab/unit.zip")
    assert list(backend.list()) == []
    leftovers = list((mounts / "REMOUNTED" / "arkeep" / "units" / "ab").iterdir())
    assert [p.name.startswith(TEMP_PREFIX) for p in leftovers] == [True]
    assert backend.cleanup_temp() == 1


def test_drive_removed_while_idle_is_not_connected(mounts: Path) -> None:
    drive, uuid = plug(mounts)
    backend = open_backend("usb", drive_url(uuid))
    with backend.open_write("key.toml") as handle:
        handle.write(b"x")
    shutil.rmtree(drive)
    with pytest.raises(NotConnected):
        backend.info("key.toml")
    with pytest.raises(NotConnected):
        with backend.open_read("key.toml"):
            pass
    with pytest.raises(NotConnected):
        backend.delete("key.toml")


def test_the_marker_is_never_listed_or_writable(mounts: Path) -> None:
    _, uuid = plug(mounts)
    backend = open_backend("usb", drive_url(uuid))
    with backend.open_write("key.toml") as handle:
        handle.write(b"x")
    assert [u.key for u in backend.list()] == ["key.toml"]
    with pytest.raises(BackendError):
        backend.delete(MARKER)
