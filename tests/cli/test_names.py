"""Names as a new user types them (issue 12, items 1, 2 and 10): end to end through the CLI.

Distinct products never share a release, an id an older arkeep gave keeps being found, and a
name that cannot be a release's is refused with one line and exit 2 before anything is written.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.storage.store import Store
from manifests.model import Artifact, Release, legacy_release_id


@pytest.fixture
def installer(tmp_path: Path):
    def make(name: str, content: bytes | None = None) -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content if content is not None else f"installer {name}".encode())
        return path
    return make


def ids(cli) -> list[str]:
    result = cli("list", "--json")
    assert result.code == 0, result.err
    return sorted(r["id"] for r in json.loads(result.out))


def test_non_latin_products_stay_apart(store_dir: Path, cli, installer) -> None:
    assert cli("add", installer("a.exe"), "--product", "一太郎", "--version", "2024").code == 0
    second = cli("add", installer("b.exe"), "--product", "花子", "--version", "2024")
    assert second.code == 0, second.err
    assert "Archived 花子 2024" in second.out and "Updated" not in second.out
    assert len(ids(cli)) == 2
    shown = cli("show", "花子@2024")
    assert shown.code == 0, shown.err
    assert "b.exe" in shown.out and "a.exe" not in shown.out


@pytest.mark.parametrize("first, second", [
    (("Foo/Bar", "1.0"), ("Foo Bar", "1.0")),
    (("Foo", "1.0"), ("Foo", "1.0β")),
])
def test_names_that_slug_alike_stay_apart(store_dir: Path, cli, installer, first, second) -> None:
    assert cli("add", installer("a.exe"), "--product", first[0], "--version", first[1]).code == 0
    result = cli("add", installer("b.exe"), "--product", second[0], "--version", second[1])
    assert result.code == 0 and "Archived" in result.out, (result.out, result.err)
    assert len(ids(cli)) == 2
    assert "b.exe" not in cli("show", f"{first[0]}@{first[1]}").out


def test_same_name_in_another_case_adds_to_the_release(store_dir: Path, cli, installer) -> None:
    assert cli("add", installer("a.exe"), "--product", "Foo/Bar", "--version", "1.0").code == 0
    result = cli("add", installer("b.exe"), "--product", "FOO/bar", "--version", " 1.0")
    assert result.code == 0 and "Updated Foo/Bar 1.0" in result.out, (result.out, result.err)
    assert len(ids(cli)) == 1


def _old_release(store_dir: Path, product: str, version: str, blob: Path) -> str:
    """A release as an arkeep before 2026-12 stored it: under its lossy slug id."""
    store = Store.open(store_dir)
    digest = store.ingest(blob).digest
    rid = legacy_release_id(product, version)
    store.catalog.write_release(Release(
        id=rid, product=product, version=version, created=datetime(2026, 1, 1, tzinfo=timezone.utc),
        artifacts=(Artifact(role="installer", filename=blob.name, size=blob.stat().st_size,
                            blake3=digest),)))
    return rid


def test_an_old_store_keeps_its_ids_and_refuses_to_merge(store_dir: Path, cli, installer) -> None:
    rid = _old_release(store_dir, "Foo/Bar", "1.0", installer("old.exe"))
    assert rid == "foo-bar@1.0"
    assert cli("show", "foo/bar@1.0").code == 0 and cli("show", rid).code == 0
    refused = cli("add", installer("b.exe"), "--product", "Foo Bar", "--version", "1.0")
    assert refused.code == 2
    line = refused.err.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in refused.err
    assert "foo-bar@1.0" in line and "Foo/Bar 1.0" in line and "--product Foo/Bar --version 1.0" in line
    assert ids(cli) == ["foo-bar@1.0"]
    # the same names add to the old release, under its old id
    added = cli("add", installer("b.exe"), "--product", "Foo/Bar", "--version", "1.0")
    assert added.code == 0 and "Updated Foo/Bar 1.0 as foo-bar@1.0" in added.out, added.out
    assert ids(cli) == ["foo-bar@1.0"]


def test_an_old_cjk_release_is_found_and_another_stays_apart(store_dir: Path, cli, installer) -> None:
    assert _old_release(store_dir, "一太郎", "2024", installer("old.exe")) == "x@2024"
    assert cli("add", installer("a.exe"), "--product", "一太郎", "--version", "2024").code == 0
    assert cli("add", installer("b.exe"), "--product", "花子", "--version", "2024").code == 0
    found = ids(cli)
    assert len(found) == 2 and "x@2024" in found
    assert "a.exe" in cli("show", "一太郎@2024").out


@pytest.mark.parametrize("flags, fragment", [
    (["--product", "", "--version", "1"], "product name is empty"),
    (["--product", "  ", "--version", "1"], "product name is empty"),
    (["--product", "K", "--version", ""], "version name is empty"),
    (["--product", "K", "--version", " \t"], "version name is empty"),
    (["--product", "P" * 300, "--version", "1"], "300 characters long; at most 200"),
    (["--product", "K", "--version", "1", "--edition", "E" * 150], "150 characters long"),
])
def test_names_a_release_cannot_have_are_refused(store_dir: Path, cli, installer, flags: list[str],
                                                 fragment: str) -> None:
    before = sorted(p.relative_to(store_dir) for p in store_dir.rglob("*") if p.is_file())
    result = cli("add", installer("a.exe"), *flags)
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arkeep: error: ") and fragment in lines[0], lines
    after = sorted(p.relative_to(store_dir) for p in store_dir.rglob("*") if p.is_file()
                   and p.name != "lock")
    assert not [p for p in after if p not in before and "objects" in p.parts], "an object was stored"


def test_scan_apply_refuses_a_blank_version_and_archives_the_rest(store_dir: Path, installer) -> None:
    from archive.intake.scan import ProposedRelease, ScanPlan, apply_plan

    good = ProposedRelease(product="Good", version="1.0", installers=(installer("good.exe"),))
    blank = ProposedRelease(product="Blank", version="  ", installers=(installer("blank.exe"),))
    plan = ScanPlan(root=installer("x").parent, releases=(blank, good), unlinked=(), ignored=(), files=2)
    store = Store.open(store_dir)
    applied = apply_plan(store, plan, None)
    assert applied[0].result is None and "version name is empty" in (applied[0].error or "")
    assert applied[1].result is not None
    assert [r.id for r in store.catalog.releases()] == ["good@1.0"]


def test_import_refuses_a_name_no_release_can_have(store_dir: Path, cli, tmp_path: Path) -> None:
    csv = tmp_path / "licences.csv"
    csv.write_text(f"Product,Version,Serial Number\nOK,1.0,KEY-AAAA-BBBB\n{'P' * 300},1.0,KEY-CCCC-DDDD\n")
    result = cli("import", "csv", csv)
    assert result.code == 2, (result.out, result.err)
    line = result.err.strip()
    assert len(line.splitlines()) == 1 and "item 2" in line and "300 characters long" in line
    assert "nothing was imported" in line and "KEY-" not in line
    assert ids(cli) == []
    licences = store_dir / "manifests" / "licenses"
    assert not licences.exists() or not list(licences.glob("*.toml"))
