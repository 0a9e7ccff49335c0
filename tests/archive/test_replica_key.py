"""Issue 11 item 3 and issue 12 item 4: a replica's key.toml is checked, mended, and never
mistaken for an empty place to fill.

`verify --remote` reports a key file that is missing, damaged, another archive's, or does not
open with the passphrase; `repair` (and `sync`) write the store's over a missing, damaged or stale
one and never over another archive's; a remote the ledger says held units but that shows neither
a key file nor units (an unmounted share) is refused by `sync`, naming it, exit 3, while the
other remotes still sync.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tomli_w

from archive.storage.store import Store
from tests.archive.replication_support import add_sample, dir_listing, secret_of


@pytest.fixture
def nas(cli, store_dir: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("sync").code == 0
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()
    return nas


def problems(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [line for line in result.out.splitlines() if line.startswith("PROBLEM")]


def assert_repaired(cli, store_dir: Path, nas: Path) -> None:  # type: ignore[no-untyped-def]
    repaired = cli("repair")
    assert repaired.code == 0, repaired.out + repaired.err
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()
    verified = cli("verify", "--remote", "nas")
    assert verified.code == 0, verified.out + verified.err


def test_a_missing_key_file_is_reported_and_repaired(cli, store_dir: Path, nas: Path) -> None:  # type: ignore[no-untyped-def]
    (nas / "key.toml").unlink()
    result = cli("verify", "--remote", "nas")
    assert result.code == 1, result.out + result.err
    assert problems(result) == ["PROBLEM key.toml is missing: the passphrase alone cannot rebuild "
                                "from this replica; `arkeep repair` writes it (remote nas)"]
    assert_repaired(cli, store_dir, nas)


@pytest.mark.parametrize("damage", ["garbage", "no key id", "truncated"])
def test_a_damaged_key_file_is_reported_and_repaired(cli, store_dir: Path, nas: Path,  # type: ignore[no-untyped-def]
                                                     damage: str) -> None:
    text = (store_dir / "key.toml").read_text()
    if damage == "garbage":
        (nas / "key.toml").write_bytes(b"\x00\xff not toml at all")
    elif damage == "no key id":
        (nas / "key.toml").write_text("\n".join(line for line in text.splitlines()
                                                if not line.startswith("key_id")) + "\n")
    else:
        (nas / "key.toml").write_text(text[: len(text) // 2].rsplit("\n", 1)[0] + "\n")
    result = cli("verify", "--remote", "nas")
    assert result.code == 1, result.out + result.err
    [line] = problems(result)
    assert line.startswith("PROBLEM key.toml is damaged (") and line.endswith("(remote nas)"), line
    # Not stuck: sync writes the store's key file over it (before: "another archive (key id None)").
    synced = cli("sync")
    assert synced.code == 0, synced.out + synced.err
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()
    assert cli("verify", "--remote", "nas").code == 0


def test_a_key_file_of_another_passphrase_is_reported_and_repaired(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                                  nas: Path) -> None:
    old = secret_of(store_dir).wrap("an older passphrase")
    (nas / "key.toml").write_text(tomli_w.dumps(old))
    result = cli("verify", "--remote", "nas")
    assert result.code == 1, result.out + result.err
    assert problems(result) == [
        "PROBLEM key.toml is out of date (it does not open with the current passphrase: an older "
        "passphrase, or damage); `arkeep sync` or `arkeep repair` writes the current one (remote nas)"]
    assert_repaired(cli, store_dir, nas)


def test_a_key_file_of_another_archive_is_reported_and_never_overwritten(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, nas: Path, fast_template: tuple[Path, str]) -> None:
    foreign = (fast_template[0] / "key.toml").read_text().replace(
        Store.open(store_dir).config["key_id"], "0123456789abcdef")
    (nas / "key.toml").write_text(foreign)
    result = cli("verify", "--remote", "nas")
    assert result.code == 1, result.out + result.err
    assert problems(result) == ["PROBLEM key.toml belongs to another archive (key id "
                                "0123456789abcdef); this location is not a replica of this store "
                                "(remote nas)"]
    repaired = cli("repair")
    assert repaired.code == 1
    assert "PROBLEM nas: remote 'nas' holds another archive (key id 0123456789abcdef)" in repaired.out
    assert (nas / "key.toml").read_text() == foreign


def test_sync_refuses_a_remote_that_held_units_and_now_shows_nothing(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, nas: Path, tmp_path: Path) -> None:
    other = tmp_path / "usb"
    other.mkdir()
    assert cli("remote", "add", "usb", other).code == 0
    # The NAS is not mounted: its mount point is an empty folder.
    shutil.rmtree(nas)
    nas.mkdir()
    add_sample(cli, tmp_path, version="8.0", size=20_000)
    result = cli("sync")
    assert result.code == 3, result.out + result.err
    assert ("nas: FAILED: remote 'nas' held 4 unit(s) but has no key.toml and no units now: is it "
            "mounted?") in result.err
    assert "Traceback" not in result.err
    assert dir_listing(nas) == set()
    assert "usb: sent" in result.out
    assert "key.toml" in dir_listing(other)
    # Nor does a rescan, which forgets what the ledger knew of its units, fill it.
    rescan = cli("sync", "nas", "--rescan")
    assert rescan.code == 3, rescan.out + rescan.err
    assert ("nas: FAILED: remote 'nas' held this archive's key.toml but has no key.toml and no "
            "units now: is it mounted?") in rescan.err
    assert dir_listing(nas) == set()


def test_a_key_file_deleted_from_a_mounted_replica_is_written_again(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                                     nas: Path) -> None:
    (nas / "key.toml").unlink()
    synced = cli("sync")
    assert synced.code == 0, synced.out + synced.err
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()


def test_rebuild_from_a_replica_with_a_damaged_key_file_says_what_may_be_wrong(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, nas: Path, tmp_path: Path) -> None:
    table = (nas / "key.toml").read_text()
    cipher = table.split('ciphertext = "', 1)[1].split('"', 1)[0]
    damaged = cipher[:10] + ("A" if cipher[10] != "A" else "B") + cipher[11:]
    (nas / "key.toml").write_text(table.replace(cipher, damaged))
    result = cli("--store", tmp_path / "new", "rebuild", "--from", nas)
    assert result.code == 2, result.out + result.err
    assert "wrong passphrase for the key file on" in result.err
    assert "or that key file is damaged" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "new").exists()
    verified = cli("verify", "--remote", "nas")
    assert verified.code == 1 and "key.toml is out of date" in verified.out
    assert cli("repair").code == 0
    assert cli("--store", tmp_path / "new", "rebuild", "--from", nas).code == 0
