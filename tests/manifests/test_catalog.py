"""The catalog: one TOML file per release and licence, written atomically, found by name or id."""
from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from manifests.catalog import Catalog, write_atomic
from manifests.errors import AmbiguousRelease, ManifestInvalid, ReleaseNotFound
from manifests.model import Artifact, License, Release, Secret, legacy_release_id, release_id

CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


def make_release(product: str, version: str, edition: str | None = None, platform: str | None = None,
                 filename: str = "setup.exe", vendor: str | None = None, legacy: bool = False) -> Release:
    make_id = legacy_release_id if legacy else release_id
    return Release(id=make_id(product, version, edition, platform), product=product, version=version,
                   created=CREATED, edition=edition, platform=platform, vendor=vendor,
                   artifacts=(Artifact(role="installer", filename=filename, size=1, blake3="c" * 64),))


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "manifests")
    # Written with the id an older arkeep gave it (the platform's space became a hyphen): such
    # stores must keep finding their releases.
    cat.write_release(make_release("Adobe Photoshop CS6", "13.0", "Extended", "Windows x64",
                                   filename="Photoshop_13_LS16.exe", vendor="Adobe", legacy=True))
    cat.write_release(make_release("hello", "2.10-3", filename="hello_2.10-3_amd64.deb", vendor="GNU"))
    cat.write_release(make_release("Foo", "1.0", platform="windows"))
    cat.write_release(make_release("Foo", "1.0", platform="macos"))
    return cat


@pytest.mark.parametrize("ref", ["Adobe Photoshop CS6@13.0", "adobe photoshop cs6@13.0",
                                 "ADOBE PHOTOSHOP CS6@13.0", "adobe-photoshop-cs6@13.0",
                                 "  Adobe-Photoshop-CS6@13.0 ",
                                 "adobe-photoshop-cs6@13.0+extended+windows-x64"])
def test_resolve_by_name_slug_or_full_id(catalog: Catalog, ref: str) -> None:
    assert catalog.resolve(ref).id == "adobe-photoshop-cs6@13.0+extended+windows-x64"


def test_resolve_ambiguous_lists_the_ids(catalog: Catalog) -> None:
    with pytest.raises(AmbiguousRelease) as exc:
        catalog.resolve("Foo@1.0")
    assert exc.value.candidates == ["foo@1.0+macos", "foo@1.0+windows"]
    assert "foo@1.0+macos" in str(exc.value) and "foo@1.0+windows" in str(exc.value)
    assert "full id" in str(exc.value)
    assert catalog.resolve("foo@1.0+macos").platform == "macos"


def test_an_exact_id_wins_over_loose_matches(catalog: Catalog) -> None:
    catalog.write_release(make_release("Foo", "1.0"))            # id foo@1.0
    assert catalog.resolve("foo@1.0").id == "foo@1.0"


@pytest.mark.parametrize("ref", ["Photoshop@13.0", "adobe-photoshop-cs6@13", "hello", "nothing@1", "@"])
def test_resolve_unknown_is_release_not_found(catalog: Catalog, ref: str) -> None:
    with pytest.raises(ReleaseNotFound, match="arkeep list"):
        catalog.resolve(ref)


def test_search(catalog: Catalog) -> None:
    assert [r.id for r in catalog.search(None)][:1] == ["adobe-photoshop-cs6@13.0+extended+windows-x64"]
    assert len(catalog.search(None)) == 4
    assert [r.id for r in catalog.search("photoshop extended")] == \
        ["adobe-photoshop-cs6@13.0+extended+windows-x64"]
    assert [r.id for r in catalog.search("amd64.deb")] == ["hello@2.10-3"]      # by file name
    assert [r.id for r in catalog.search("GNU")] == ["hello@2.10-3"]            # by vendor
    assert catalog.search("photoshop hello") == []


def test_release_file_name_must_match_its_id(catalog: Catalog) -> None:
    path = catalog.release_path("hello@2.10-3")
    path.rename(path.with_name("hello@2.10-4.toml"))
    with pytest.raises(ManifestInvalid) as exc:
        list(catalog.releases())
    assert exc.value.problems[0].field == "id" and "does not match the file name" in str(exc.value)


def test_ids_that_are_not_ids_never_become_paths(catalog: Catalog) -> None:
    for bad in ("../../etc/passwd", "foo@1.0/../../x", "", "lic-x/../../y"):
        with pytest.raises(ValueError):
            catalog.release_path(bad)
        with pytest.raises(ValueError):
            catalog.license_path(bad)


def test_licences_are_written_owner_only_and_read_back(catalog: Catalog) -> None:
    lic = License(id="lic-abcd1234", kind="serial", created=CREATED,
                  key=Secret(token="ENC[AES256_GCM,v1,AAAA]"))
    path = catalog.write_license(lic)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert catalog.load_license("lic-abcd1234") == lic
    assert catalog.has_license("lic-abcd1234") and not catalog.has_license("lic-ffff0000")
    with pytest.raises(ReleaseNotFound):
        catalog.load_license("lic-ffff0000")


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "d" / "x.toml"
    write_atomic(path, "a = 1\n")
    write_atomic(path, "a = 2\n", mode=0o600)
    assert path.read_text() == "a = 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["x.toml"]


def test_a_temp_file_left_by_a_crashed_writer_is_not_a_manifest(catalog: Catalog) -> None:
    """write_atomic's `.tmp-*.toml` (left behind by kill -9 between write and rename) must not
    make every list/show/restore fail, nor count as a release."""
    good = catalog.release_path("hello@2.10-3")
    (good.parent / ".tmp-k2j3h4.toml").write_bytes(good.read_bytes()[:40])       # half written
    (good.parent / ".tmp-complete.toml").write_bytes(good.read_bytes())
    (catalog.licenses_dir / ".tmp-zz.toml").parent.mkdir(parents=True, exist_ok=True)
    (catalog.licenses_dir / ".tmp-zz.toml").write_text("schema = ")
    assert len(list(catalog.releases())) == 4
    assert all(not p.name.startswith(".") for p in catalog.release_files() + catalog.license_files())
    assert catalog.resolve("hello@2.10-3").id == "hello@2.10-3"
