"""verify's exit status tells damage (1) apart from a remote it could not reach (3)."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.archive.replication_support import add_sample, flip_byte, object_unit_key


def test_unreachable_remote_is_an_environment_failure(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("sync").code == 0
    shutil.rmtree(nas)                      # the NAS is not mounted any more
    result = cli("verify", "--remote", "nas")
    assert result.code == 3, result.out + result.err
    assert "nas" in result.out and "cannot be checked" in result.out


def test_damage_outranks_an_unreachable_remote(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    nas, gone = tmp_path / "nas", tmp_path / "gone"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("remote", "add", "gone", gone, "--create").code == 0
    assert cli("sync").code == 0
    shutil.rmtree(gone)
    flip_byte(nas / object_unit_key(store_dir, sample.rid, sample.installer.name))
    result = cli("verify", "--all")
    assert result.code == 1, result.out + result.err
    assert sample.installer.name in result.out and "gone" in result.out
