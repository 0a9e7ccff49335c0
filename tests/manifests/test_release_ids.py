"""Release ids: distinct names give distinct ids, ids stay short, old ids keep being found."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from manifests.catalog import Catalog
from manifests.errors import ReleaseNameClash
from manifests.model import (
    Artifact, Release, legacy_release_id, name_problem, normalise_name, release_id,
)
from manifests.schema import MAX_FILENAME_BYTES, RELEASE_ID

CREATED = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("a, b", [
    (("一太郎", "2024"), ("花子", "2024")),
    (("Foo Bar", "1.0"), ("Foo/Bar", "1.0")),
    (("Foo", "1.0β"), ("Foo", "1.0")),
    (("Foo Bar", "1.0"), ("Foo-Bar", "1.0")),
    (("Foo", "2.10-3"), ("Foo", "2.10 3")),
    (("Foo", "1.0", "Pro"), ("Foo", "1.0", "Pro+")),
    (("Foo", "1.0", None, "windows-x64"), ("Foo", "1.0", None, "Windows x64")),
])
def test_distinct_names_give_distinct_ids(a: tuple, b: tuple) -> None:
    assert release_id(*a) != release_id(*b)
    assert RELEASE_ID.match(release_id(*a)) and RELEASE_ID.match(release_id(*b))


def test_case_and_spacing_are_the_same_name() -> None:
    assert release_id("Adobe Photoshop CS6", "13.0") == release_id("adobe  PHOTOSHOP cs6 ", " 13.0")
    assert normalise_name("Straße") == normalise_name("STRASSE")
    # NFC: a precomposed é and e + combining accent are one name
    assert release_id("Caf\u00e9", "1") == release_id("Cafe\u0301", "1")


def test_readable_where_nothing_is_lost_digest_where_something_is() -> None:
    assert release_id("Adobe Photoshop CS6", "13.0", "Extended", "windows-x64") == \
        "adobe-photoshop-cs6@13.0+extended+windows-x64"
    assert release_id("hello", "2.10-3") == "hello@2.10-3"
    digest = hashlib.sha256("一太郎".encode()).hexdigest()[:10]
    assert release_id("一太郎", "2024") == f"x--{digest}@2024"
    assert release_id("Foo/Bar", "1.0").startswith("foo-bar--")
    assert release_id("Foo", "1.0β").split("@")[1].startswith("1.0--")


def test_ids_fit_a_file_name_whatever_the_names() -> None:
    rid = release_id("P" * 200, "V" * 100, "E" * 100, "ü" * 100)
    assert RELEASE_ID.match(rid)
    assert len(f"{rid}.toml".encode()) <= MAX_FILENAME_BYTES
    assert release_id("P" * 200, "1") != release_id("P" * 199 + "Q", "1")


@pytest.mark.parametrize("field, value, reason", [
    ("product", "", "is empty"), ("product", "   ", "is empty"), ("version", "\t", "is empty"),
    ("product", "x" * 201, "201 characters"), ("version", "1\n2", "control character"),
])
def test_names_a_release_cannot_have(field: str, value: str, reason: str) -> None:
    problem = name_problem(field, value)
    assert problem is not None and reason in problem
    assert name_problem("edition", None) is None and name_problem("platform", "") is None


def _release(rid: str, product: str, version: str) -> Release:
    return Release(id=rid, product=product, version=version, created=CREATED,
                   artifacts=(Artifact(role="installer", filename="a.exe", size=1, blake3="c" * 64),))


def test_release_for_names_finds_a_legacy_id_of_the_same_names(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write_release(_release("x@2024", "一太郎", "2024"))      # how an older arkeep stored it
    assert cat.release_for_names("一太郎", "2024")[0] == "x@2024"
    rid, existing = cat.release_for_names("花子", "2024")
    assert existing is None and rid == release_id("花子", "2024") != "x@2024"


def test_release_for_names_refuses_an_id_held_by_other_names(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write_release(_release(legacy_release_id("Foo/Bar", "1.0"), "Foo/Bar", "1.0"))
    assert cat.release_for_names("foo/bar", "1.0")[0] == "foo-bar@1.0"
    with pytest.raises(ReleaseNameClash) as exc:
        cat.release_for_names("Foo Bar", "1.0")
    assert exc.value.rid == "foo-bar@1.0" and "Foo/Bar 1.0" in str(exc.value)
