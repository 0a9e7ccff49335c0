"""`arkeep export PRODUCT@VERSION --zip FILE`: one AES-256 zip that 7-Zip opens with the recovery code."""
from __future__ import annotations

import filecmp
import json
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


def _add_awkward_names(cli, tmp_path: Path) -> tuple[Path, Path, Path]:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    installer = src / "setup:x64?.exe"
    installer.write_bytes(b"MZ" + bytes(range(256)) * 40)
    upper = src / "README.TXT"
    upper.write_bytes(b"upper case readme\n")
    lower = src / "readme.txt"
    lower.write_bytes(b"lower case readme\n")
    added = cli("add", installer, "--product", "Colon Tool", "--version", "2",
                "--license-file", upper, "--license-file", lower)
    assert added.code == 0, added.err
    return installer, upper, lower


def test_names_windows_refuses_are_mapped_in_the_zip(cli, store_dir: Path, recovery_code: str,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    """The zip may be unpacked on Windows: each entry gets a name every system accepts, the
    command says which and why, and manifest.toml inside keeps the archived names (issue 14.2)."""
    installer, upper, lower = _add_awkward_names(cli, tmp_path)
    dest = tmp_path / "colon.zip"
    result = cli("--json", "export", "Colon Tool@2", "--zip", dest)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    renamed = {r["name"]: r["written_as"] for r in report["renamed"]}
    assert renamed == {"setup:x64?.exe": "setup_x64_.exe", "readme.txt": "readme (2).txt"}
    assert all(r["why"] for r in report["renamed"])
    out = tmp_path / "x"
    unpacked = sevenzip("x", f"-p{recovery_code}", f"-o{out}", dest)
    assert unpacked.returncode == 0, unpacked.stdout + unpacked.stderr
    assert (out / "setup_x64_.exe").read_bytes() == installer.read_bytes()
    assert (out / "README.TXT").read_bytes() == upper.read_bytes()
    assert (out / "readme (2).txt").read_bytes() == lower.read_bytes()
    release = tomllib.loads((out / "manifest.toml").read_text().split("# ---- licence record ----")[0])
    assert sorted(a["filename"] for a in release["artifact"]) == ["README.TXT", "readme.txt", "setup:x64?.exe"]
    said = cli("export", "Colon Tool@2", "--zip", tmp_path / "again.zip")
    assert said.code == 0, said.err
    assert "setup_x64_.exe  (archived as 'setup:x64?.exe': Windows refuses :? in a name)" in said.out


def test_names_windows_refuses_are_mapped_in_a_bag(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    installer, upper, lower = _add_awkward_names(cli, tmp_path)
    bag = tmp_path / "bag"
    result = cli("--json", "export", "Colon Tool@2", "--bagit", bag, "--reveal")
    assert result.code == 0, result.err
    renamed = {r["name"]: r["written_as"] for r in json.loads(result.out)["renamed"]}
    assert renamed == {"setup:x64?.exe": "setup_x64_.exe", "readme.txt": "readme (2).txt"}
    assert (bag / "data" / "setup_x64_.exe").read_bytes() == installer.read_bytes()
    assert (bag / "data" / "readme (2).txt").read_bytes() == lower.read_bytes()
    manifest = (bag / "manifest-sha512.txt").read_text()
    assert "data/setup_x64_.exe" in manifest and "setup:x64" not in manifest
