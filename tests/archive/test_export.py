"""`arkeep export PRODUCT@VERSION --zip FILE`: one AES-256 zip that 7-Zip opens with the recovery code."""
from __future__ import annotations

import filecmp
import stat
import tomllib
from pathlib import Path

import pytest

from tests.archive.replication_support import (
    KEY,
    PRODUCT,
    Sample,
    add_sample,
    b3sum,
    sevenzip,
)


@pytest.fixture
def exported(cli, store_dir: Path, tmp_path: Path) -> tuple[Sample, Path]:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    dest = tmp_path / "out" / "acme.zip"
    result = cli("export", "Acme Studio@7.5.1", "--zip", dest)
    assert result.code == 0, result.err
    assert sample.installer.name in result.out
    return sample, dest


def test_7zip_lists_the_installer_by_name(exported) -> None:  # type: ignore[no-untyped-def]
    sample, dest = exported
    listing = sevenzip("l", "-slt", dest)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    paths = [line[len("Path = "):] for line in listing.stdout.splitlines() if line.startswith("Path = ")][1:]
    assert sorted(paths) == sorted([sample.installer.name, sample.license_file.name,
                                    "manifest.toml", "LICENSE.txt"])
    assert listing.stdout.count("Method = AES-256") == 4   # every entry encrypted
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_7zip_extracts_exact_files_and_the_key(exported, recovery_code: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample, dest = exported
    tested = sevenzip("t", f"-p{recovery_code}", dest)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout
    out = tmp_path / "x"
    result = sevenzip("x", f"-p{recovery_code}", f"-o{out}", dest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert filecmp.cmp(out / sample.installer.name, sample.installer, shallow=False)
    assert filecmp.cmp(out / sample.license_file.name, sample.license_file, shallow=False)
    assert KEY in (out / "LICENSE.txt").read_text()
    manifest = (out / "manifest.toml").read_text()
    release = tomllib.loads(manifest.split("# ---- licence record ----")[0])
    assert release["kind"] == "release" and release["product"] == PRODUCT
    installer = next(a for a in release["artifact"] if a["filename"] == sample.installer.name)
    assert installer["blake3"] == b3sum(out / sample.installer.name)
    assert f'key = "{KEY}"' in manifest


def test_a_wrong_code_extracts_nothing(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, dest = exported
    out = tmp_path / "x"
    result = sevenzip("x", "-pAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH", f"-o{out}", dest)
    assert result.returncode != 0 and "Wrong password" in result.stdout + result.stderr


def test_export_refuses_to_overwrite_without_force(cli, exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, dest = exported
    before = dest.read_bytes()
    result = cli("export", "acme-studio@7.5.1", "--zip", dest)
    assert result.code == 2
    assert result.err.strip() == f"arkeep: error: {dest} already exists; use --force to replace it"
    assert dest.read_bytes() == before
    other = tmp_path / "other.zip"
    other.write_bytes(b"not a zip, but mine")
    assert cli("export", "acme-studio@7.5.1", "--zip", other).code == 2
    assert other.read_bytes() == b"not a zip, but mine"
    forced = cli("export", "acme-studio@7.5.1", "--zip", other, "--force")
    assert forced.code == 0, forced.err
    assert sevenzip("l", other).returncode == 0
    assert not [p for p in other.parent.iterdir() if p.name.startswith(".arkeep-export-")]


def test_export_of_an_unknown_release_writes_nothing(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "none.zip"
    result = cli("export", "nothing@1", "--zip", dest)
    assert result.code == 2 and not dest.exists()
