"""Issue 3's "done when" on a directory remote after a sync, checked with 7-Zip and b3sum.

Every bundle opens with `7zz x -p<recovery code>`; together they hold the installer's exact bytes
and the licence key; nothing on the remote (content or path) reveals a product name, a file name,
a plain BLAKE3 digest or the key; a flipped byte is reported, never restored.
"""
from __future__ import annotations

import filecmp
import tomllib
from pathlib import Path

import pytest

from archive.storage.store import Store
from tests.archive.replication_support import (
    KEY,
    PRODUCT,
    Sample,
    add_sample,
    b3sum,
    dir_listing,
    flip_byte,
    object_unit_key,
    sevenzip,
    log_copy_key,
    wanted_keys,
)


@pytest.fixture
def replica(cli, store_dir: Path, tmp_path: Path) -> tuple[Sample, Path]:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("sync").code == 0
    assert dir_listing(nas) == wanted_keys(store_dir)
    return sample, nas


def test_every_bundle_opens_with_7zip_and_holds_the_installer_and_key(  # type: ignore[no-untyped-def]
        replica, store_dir: Path, recovery_code: str, tmp_path: Path) -> None:
    sample, nas = replica
    bundles = sorted(nas.glob("units/*/*.zip"))
    assert len(bundles) == 4
    out = tmp_path / "recovered"
    for bundle in bundles:   # each one on its own: every bundle opens
        result = sevenzip("x", f"-p{recovery_code}", f"-o{out}", bundle)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Everything is Ok" in result.stdout
    extracted = {p.name for p in out.iterdir()}
    names = {b.name[:-len(".zip")] for b in bundles}
    manifests = {n for n in extracted if n.endswith(".toml")}
    assert len(manifests) == 2 and {n[:-5] for n in manifests} | (extracted - manifests) == names

    # The release manifest names each artifact's unit; the bytes there are the archived bytes.
    tables = {n: tomllib.loads((out / n).read_text()) for n in manifests}
    release = next(t for t in tables.values() if t["kind"] == "release")
    licence = next(t for t in tables.values() if t["kind"] == "license")
    store_release = Store.open(store_dir).catalog.load_release(sample.rid)
    for art in release["artifact"]:
        recovered = out / art["unit"]
        assert recovered.is_file()
        assert b3sum(recovered) == art["blake3"]
        assert art["blake3"] in {a.blake3 for a in store_release.artifacts}
    installer = next(a for a in release["artifact"] if a["role"] == "installer")
    assert installer["filename"] == sample.installer.name
    assert filecmp.cmp(out / installer["unit"], sample.installer, shallow=False)
    assert b3sum(sample.installer) == installer["blake3"]
    assert licence["id"] in release["licenses"]
    assert licence["key"] == KEY


def test_a_wrong_code_opens_nothing(replica, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, nas = replica
    out = tmp_path / "recovered"
    result = sevenzip("x", "-pAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH", f"-o{out}",
                      next(nas.glob("units/*/*.zip")))
    assert result.returncode != 0
    assert "Wrong password" in result.stdout + result.stderr
    assert not out.exists() or all(p.stat().st_size == 0 for p in out.iterdir())


def test_the_remote_reveals_no_name_digest_or_key(replica, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sample, nas = replica
    store = Store.open(store_dir)
    release = store.catalog.load_release(sample.rid)
    (licence,) = [store.catalog.load_license(lid) for lid in release.licenses]
    needles: dict[str, bytes] = {
        "product name": PRODUCT.encode(),
        "product slug": b"acme-studio",
        "vendor": b"Acme Corp",
        "release id": release.id.encode(),
        "licence id": licence.id.encode(),
        "key": KEY.encode(),
    }
    for art in release.artifacts:
        needles[f"file name {art.filename}"] = art.filename.encode()
        needles[f"digest of {art.filename}"] = art.blake3.encode()
        needles[f"digest of {art.filename} (upper case)"] = art.blake3.upper().encode()
        needles[f"raw digest of {art.filename}"] = bytes.fromhex(art.blake3)
        needles[f"digest prefix of {art.filename}"] = art.blake3[:16].encode()
    files = sorted(p for p in nas.rglob("*") if p.is_file())
    assert len(files) == 6      # key.toml, four units, and the audit log (it names the product)
    assert nas / str(log_copy_key(store_dir)) in files
    assert b"Acme Studio@7.5.1" in (store_dir / "log" / "audit.jsonl").read_bytes()
    for path in nas.rglob("*"):
        rel = path.relative_to(nas).as_posix().encode()
        content = path.read_bytes() if path.is_file() else b""
        for what, needle in needles.items():
            assert needle.lower() not in rel.lower(), f"{what} in the path {rel!r}"
            assert needle not in content, f"{what} inside {rel!r}"
            if needle.isascii() and not what.startswith("raw"):
                assert needle.lower() not in content.lower(), f"{what} inside {rel!r}"


def test_a_flipped_byte_is_reported_never_restored(cli, replica, store_dir: Path,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    sample, nas = replica
    flip_byte(nas / object_unit_key(store_dir, sample.rid, sample.installer.name))

    # Straight from the remote: the file never takes its name, the message names it.
    target = tmp_path / "restored"
    result = cli("restore", sample.rid, "--to", target, "--from", "nas")
    assert result.code == 1, result.out + result.err
    assert sample.installer.name in result.err and "nas" in result.err
    assert "Traceback" not in result.err
    assert not (target / sample.installer.name).exists()
    assert not any(p.name.startswith(".arkeep") for p in target.iterdir())

    # On a new machine: rebuild reports the damaged unit and keeps no object made from it.
    new_store = tmp_path / "new" / "store"
    rebuilt = cli("--store", new_store, "rebuild", "--from", nas)
    assert rebuilt.code == 1, rebuilt.out + rebuilt.err
    problems = [line for line in rebuilt.out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1
    assert sample.rid in problems[0] and sample.installer.name in problems[0]
    installer_digest = b3sum(sample.installer)
    assert not Store.open(new_store).has_object(installer_digest)
    again = cli("--store", new_store, "restore", sample.rid, "--to", tmp_path / "restored2")
    assert again.code == 1 and sample.installer.name in again.err
    assert not (tmp_path / "restored2" / sample.installer.name).exists()
    # The untouched licence file did come back.
    assert cli("--store", new_store, "verify").code == 1


def test_restore_from_a_good_remote_is_byte_identical(cli, replica, store_dir: Path,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    sample, _ = replica
    # The local copy is damaged: restore from the store refuses, restore --from the remote works.
    flip_byte(Store.open(store_dir).object_path(b3sum(sample.installer)))
    assert cli("restore", sample.rid, "--to", tmp_path / "local").code == 1
    target = tmp_path / "restored"
    result = cli("restore", sample.rid, "--to", target, "--from", "nas")
    assert result.code == 0, result.err
    assert filecmp.cmp(target / sample.installer.name, sample.installer, shallow=False)
    assert filecmp.cmp(target / sample.license_file.name, sample.license_file, shallow=False)
    assert KEY in (target / "LICENSE.txt").read_text()
    assert cli("restore", sample.rid, "--to", target, "--from", "nowhere").code == 2
