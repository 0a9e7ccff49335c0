"""The catalog index (manifests/index.py): a cache of the manifests, rebuilt whenever it is
missing, damaged or stale, and never the source of truth. Correctness only: speed is measured
by scripts/bench, never asserted here."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from manifests.catalog import Catalog
from manifests.codec import release_to_toml
from manifests.errors import ManifestInvalid, ReleaseNotFound
from manifests.index import IndexUnavailable, ManifestIndex
from manifests.model import Artifact, Release, release_id
from tests.support.manifest_edit import edited

CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


def release(product: str, version: str, filename: str = "setup.exe", size: int = 1,
            licenses: tuple[str, ...] = ()) -> Release:
    return Release(id=release_id(product, version), product=product, version=version, created=CREATED,
                   licenses=licenses,
                   artifacts=(Artifact(role="installer", filename=filename, size=size, blake3="c" * 64),))


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "manifests", tmp_path / "state" / "catalog-index.sqlite"


@pytest.fixture
def catalog(paths: tuple[Path, Path]) -> Catalog:
    cat = Catalog(*paths)
    for i in range(5):
        cat.write_release(release(f"Tool {i}", "1.0", filename=f"tool{i}.exe", size=i + 1))
    cat.write_release(release("Photoshop", "13.0", filename="Photoshop_13_LS16.exe"))
    return cat


def ids(cat: Catalog, query: str | None = None) -> list[str]:
    return [e.id for e in cat.entries(query)]


def fresh(paths: tuple[Path, Path]) -> Catalog:
    """Another process's view: a new catalog object on the same files and index."""
    return Catalog(*paths)


def from_files(cat: Catalog, query: str | None = None) -> list[str]:
    return [r.id for r in cat.search(query, [])]


def test_list_from_the_index_matches_the_files(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    assert ids(catalog) == from_files(catalog)
    assert paths[1].is_file()
    assert ids(catalog, "photoshop ls16") == ["photoshop@13.0"]
    assert ids(catalog, "TOOL3") == ["tool-3@1.0"]
    entry = catalog.entries("tool 4")[0]
    assert (entry.product, entry.version, entry.files, entry.size, entry.licenses) == ("Tool 4", "1.0", 1, 5, 0)
    assert entry.title == "Tool 4 1.0"


def test_summaries_from_the_index_match_the_files(catalog: Catalog, paths: tuple[Path, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What `list` prints comes from (id, title, files, size, licences), the same from the index
    and, where no index can be used, from the files. The index keeps data only (issue 13): no
    column holds text made for people."""
    catalog.write_release(release("Suite", "2", size=3 << 20, licenses=("lic-00000000aa", "lic-00000000bb")))
    indexed = catalog.summaries()
    assert ("suite@2", "Suite 2", 1, 3 << 20, 2) in indexed
    assert catalog.summaries("tool 4") == [("tool-4@1.0", "Tool 4 1.0", 1, 5, 0)]
    assert [s[0] for s in indexed] == ids(catalog)
    with sqlite3.connect(paths[1]) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(releases)")}
    assert "line" not in columns and {"title", "files", "size", "nlicenses"} <= columns

    def unavailable(self: ManifestIndex) -> None:
        raise IndexUnavailable("read-only store")
    monkeypatch.setattr(ManifestIndex, "_connect", unavailable)
    assert fresh(paths).summaries() == indexed


def test_an_edit_by_rename_is_seen_at_once(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    ids(catalog)
    other = fresh(paths)
    edited = replace(other.load_release("tool-1@1.0"), product="Tool 1", vendor="Renamed Vendor Inc")
    path = other.release_path(edited.id)
    tmp = path.with_name(".edit.toml")
    tmp.write_text(release_to_toml(edited))
    os.replace(tmp, path)                      # how git, sed -i and most editors write
    assert ids(catalog, "renamed vendor") == ["tool-1@1.0"]


def test_an_edit_in_place_is_seen_by_look_ups_and_after_a_full_check(
        catalog: Catalog, paths: tuple[Path, Path]) -> None:
    ids(catalog)
    path = catalog.release_path("tool-2@1.0")
    text = edited(path.read_text(), 'product = "Tool 2"', 'product = "Tool 2"\nvendor = "Inplace Corp"')
    with open(path, "r+", encoding="utf-8") as f:      # same file, same inode: the directory is untouched
        f.write(text)
        f.truncate()
    other = fresh(paths)
    # A look-up always reads the release from its file.
    assert other.resolve("tool 2@1.0").vendor == "Inplace Corp"
    # The full check (verify, sync and the other plans run it) brings the index up to date.
    other.check_index()
    assert ids(fresh(paths), "inplace") == ["tool-2@1.0"]


def test_a_removed_manifest_disappears(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    ids(catalog)
    catalog.release_path("tool-0@1.0").unlink()
    other = fresh(paths)
    assert "tool-0@1.0" not in ids(other)
    with pytest.raises(ReleaseNotFound):
        other.resolve("tool-0@1.0")
    assert ids(other) == from_files(other)


def test_a_manifest_dropped_in_from_outside_appears(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    ids(catalog)
    new = release("Newcomer", "2.0")
    (paths[0] / "releases" / f"{new.id}.toml").write_text(release_to_toml(new))
    assert "newcomer@2.0" in ids(fresh(paths))
    assert fresh(paths).resolve("Newcomer@2.0").id == "newcomer@2.0"


def test_a_change_in_the_same_clock_tick_is_caught(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    """A directory whose mtime did not move (two changes in one timestamp tick) while it is still
    recent: the names and inodes are compared."""
    ids(catalog)
    rel_dir = paths[0] / "releases"
    st = os.stat(rel_dir)
    new = release("Sametick", "1")
    (rel_dir / f"{new.id}.toml").write_text(release_to_toml(new))
    os.utime(rel_dir, ns=(st.st_atime_ns, st.st_mtime_ns))     # as if in the same tick
    assert os.stat(rel_dir).st_mtime_ns == st.st_mtime_ns
    assert "sametick@1" in ids(fresh(paths))


def test_a_corrupt_index_file_is_rebuilt(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    expected = ids(catalog)
    catalog.close()
    paths[1].write_bytes(b"this is not a database" * 100)
    other = fresh(paths)
    assert ids(other) == expected
    assert other.resolve("photoshop@13.0").id == "photoshop@13.0"
    with sqlite3.connect(paths[1]) as db:       # a real SQLite file again
        assert db.execute("SELECT count(*) FROM releases").fetchone()[0] == len(expected)


def test_a_truncated_index_file_is_rebuilt(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    expected = ids(catalog)
    catalog.close()
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[:len(data) // 3])
    assert ids(fresh(paths)) == expected


def test_an_index_of_another_version_is_rebuilt(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    expected = ids(catalog)
    catalog.close()
    with sqlite3.connect(paths[1]) as db:
        db.execute("UPDATE meta SET value='0' WHERE key='version'")
        db.execute("DELETE FROM releases")
    assert ids(fresh(paths)) == expected


def test_a_deleted_index_loses_nothing(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    expected = ids(catalog)
    catalog.close()
    paths[1].unlink()
    assert ids(fresh(paths)) == expected


def test_the_files_win_over_a_disagreeing_index(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    """A file rewritten in place with its size and mtime put back (`rsync -t`, a restore from a
    backup): no directory or stat check can see it, yet look-ups answer from the files, both
    for the new name and for the old one, and the index is mended on the way."""
    ids(catalog)
    path = catalog.release_path("tool-3@1.0")
    st = os.stat(path)
    text = path.read_text()
    with open(path, "r+", encoding="utf-8") as f:
        f.write(edited(text, 'product = "Tool 3"', 'product = "Tool 9"'))   # same length
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size
    other = fresh(paths)
    with pytest.raises(ReleaseNotFound):
        other.resolve("Tool 3@1.0")                # only the index still says so
    assert other.resolve("Tool 9@1.0").id == "tool-3@1.0"
    assert other.entries("tool-3@1.0")[0].product == "Tool 9"


def test_damaged_manifests_are_reported_not_hidden(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    ids(catalog)
    bad = paths[0] / "releases" / "broken@1.toml"
    bad.write_text("schema = 1\nkind = 'release'\nid = 'broken@1'\n")     # no product, no version
    other = fresh(paths)
    damaged: list[ManifestInvalid] = []
    assert ids(other) == from_files(other)
    listed = other.entries(None, damaged)
    assert len(listed) == 6 and len(damaged) == 1 and "broken@1.toml" in str(damaged[0])
    with pytest.raises(ManifestInvalid):
        other.resolve("broken@1")
    bad.unlink()
    damaged = []
    fresh(paths).entries(None, damaged)
    assert damaged == []


def test_writes_through_the_catalog_keep_the_index_current(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    ids(catalog)
    catalog.write_release(release("Later", "3.1", filename="later.msi"))
    assert ids(catalog, "later.msi") == ["later@3.1"]
    assert ids(fresh(paths)) == from_files(catalog)


def test_without_a_usable_index_the_files_are_read(catalog: Catalog, paths: tuple[Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    expected = ids(catalog)

    def unavailable(self: ManifestIndex) -> None:
        raise IndexUnavailable("read-only store")
    monkeypatch.setattr(ManifestIndex, "_connect", unavailable)
    other = fresh(paths)
    assert ids(other) == expected
    assert other.resolve("photoshop@13.0").id == "photoshop@13.0"
    other.write_release(release("Readonly", "1"))
    assert "readonly@1" in ids(other)
    assert other.snapshot() is None


def test_the_snapshot_lists_every_manifest_with_its_digest(catalog: Catalog) -> None:
    from archive.storage.hashing import hash_bytes
    snap = catalog.snapshot()
    assert snap is not None
    assert [r.id for r in snap.releases] == sorted(r.id for r in catalog.releases())
    for r in snap.releases:
        assert r.digest == hash_bytes(r.path.read_bytes())
        assert r.artifacts == tuple((a.filename, a.blake3, a.size)
                                    for a in catalog.load_release(r.id).artifacts)


def outline_rows(cat: Catalog) -> list[tuple]:
    return [(o.id, o.title, o.artifacts, o.licenses) for o in cat.outlines()]


def test_outlines_say_what_the_files_say_in_list_order(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    many = replace(release("Many", "2.0", licenses=("lic-00000000bb", "lic-00000000aa")),
                   artifacts=tuple(Artifact(role="installer", filename=f"part{n}.bin", size=n,
                                            blake3=f"{9 - n:x}" * 64) for n in range(10)))
    catalog.write_release(many)
    expected = [(r.id, r.title, tuple((a.filename, a.blake3, a.size) for a in r.artifacts),
                 r.licenses) for r in catalog.search(None)]
    assert [row[0] for row in expected] == ids(catalog)
    assert outline_rows(fresh(paths)) == expected
    assert outline_rows(catalog) == expected


def test_outlines_see_an_edit_in_place_at_once(catalog: Catalog, paths: tuple[Path, Path]) -> None:
    """status answers from the index after the full check, not the quick one `list` runs."""
    outline_rows(catalog)
    path = catalog.release_path("tool-2@1.0")
    text = edited(path.read_text(), 'filename = "tool2.exe"', 'filename = "edited.exe"')
    with open(path, "r+", encoding="utf-8") as f:      # same file, same inode
        f.write(text)
        f.truncate()
    rows = {row[0]: row[2] for row in outline_rows(fresh(paths))}
    assert rows["tool-2@1.0"][0][0] == "edited.exe"


def test_outlines_raise_on_a_damaged_manifest_as_the_files_do(catalog: Catalog,
                                                              paths: tuple[Path, Path]) -> None:
    outline_rows(catalog)
    catalog.release_path("tool-3@1.0").write_text("schema = 1\nkind = 'release'\n")
    with pytest.raises(ManifestInvalid) as from_files:
        catalog.search(None)
    with pytest.raises(ManifestInvalid) as from_index:
        fresh(paths).outlines()
    assert str(from_index.value) == str(from_files.value)


def test_outlines_without_a_usable_index_read_the_files(catalog: Catalog, paths: tuple[Path, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = outline_rows(catalog)

    def unavailable(self: ManifestIndex) -> None:
        raise IndexUnavailable("read-only store")
    monkeypatch.setattr(ManifestIndex, "_connect", unavailable)
    assert outline_rows(fresh(paths)) == expected
