"""Replication end to end: issue 4's "done when", and the properties of sync.

A directory remote (a NAS mount), a drive remote (a temp directory with a marker, found through
ARKEEP_DRIVE_PATHS) and an S3 remote on the SeaweedFS test server, driven through the command
line in-process. Listings are taken with plain filesystem walks and boto3, not with arkeep.
"""
from __future__ import annotations

import errno
import filecmp
import json
import os
import sqlite3
from pathlib import Path

import pytest

from archive.replicate.ledger import PRESENT, Ledger
from archive.replicate import sync as sync_ops
from archive.storage.store import Store
from archive.replicate.units import UnitNamer, unit_name_of_key
from backends.base import GuardedFile
from tests.archive.replication_support import (
    KEY,
    add_sample,
    dir_listing,
    flip_byte,
    object_unit_key,
    release_keys,
    s3_listing,
    secret_of,
    wanted_keys,
)
from tests.conftest import PASSPHRASE

PREFIX = "archive"


def ledger_rows(store_dir: Path, remote: str) -> dict[str, str]:
    with Ledger(store_dir / "state" / "ledger.sqlite") as ledger:
        return {c.unit: c.state for c in ledger.copies(remote)}


def sync_json(cli, *names: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    result = cli("sync", *names, "--json")
    assert result.code == 0, result.err
    return {row["remote"]: row for row in json.loads(result.out)}


# -- issue 4, done when ---------------------------------------------------------------------------

def test_three_remotes_unplugged_drive_moved_drive_repair_and_rebuild(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_env.new_bucket_name("done")
    url = f"s3://{bucket}/{PREFIX}"
    nas = tmp_path / "nas"
    mnt, mnt2 = tmp_path / "mnt", tmp_path / "mnt2"
    usb = mnt / "usb1"
    usb.mkdir(parents=True)
    mnt2.mkdir()
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(mnt))
    first = add_sample(cli, tmp_path)

    for args in (("nas", nas, "--create"), ("usb", usb, "--drive"), ("cloud", url)):
        added = cli("remote", "add", *args)
        assert added.code == 0, added.err
    assert (usb / ".arkeep-drive.toml").is_file()
    remotes = {r["name"]: r["url"] for r in json.loads(cli("remote", "list", "--json").out)}

    # sync fills all three: key.toml and exactly one bundle per unit, nothing else.
    rows = sync_json(cli)
    assert {r: rows[r]["status"] for r in rows} == {"nas": "synced", "usb": "synced", "cloud": "synced"}
    want = wanted_keys(store_dir)
    assert len(want) == 5   # key.toml, installer, licence file, licence record, release manifest
    assert dir_listing(nas) == want
    assert dir_listing(usb / "arkeep") == want
    assert s3_listing(s3_env, bucket, PREFIX) == want

    where = json.loads(cli("whereis", first.rid, "--json").out)
    assert where["release"] == first.rid
    for item in where["items"]:
        for remote in ("nas", "usb", "cloud"):
            assert item["copies"][remote]["state"] == "present", (item["file"], remote)
    installer = next(i for i in where["items"] if i["file"] == first.installer.name)
    assert installer["copies"]["local"]["state"] == "present"
    assert installer["copies"]["cloud"]["verified_how"] == "written"

    # The drive is unplugged: sync says so, exits 0, and the other remotes take the new release.
    away = tmp_path / "unplugged"
    usb.rename(away)
    second = add_sample(cli, tmp_path, version="8.0", size=50_000)
    new_units = release_keys(store_dir, second.rid) - release_keys(store_dir, first.rid)
    result = cli("sync")
    assert result.code == 0, result.err
    assert "usb: skipped, not connected, last seen" in result.out
    assert "nas: sent" in result.out and "cloud: sent" in result.out
    want = wanted_keys(store_dir)
    assert new_units <= want
    assert dir_listing(nas) == want
    assert s3_listing(s3_env, bucket, PREFIX) == want
    assert not any(ledger_rows(store_dir, "usb").get(unit_name_of_key(k)) == PRESENT for k in new_units)

    # It comes back at another mount point: found by its marker, caught up.
    back = mnt2 / "sdb1"
    away.rename(back)
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", os.pathsep.join([str(mnt), str(mnt2)]))
    rows = sync_json(cli)
    assert rows["usb"]["status"] == "synced"
    assert rows["usb"]["pushed"] == len(new_units)
    assert rows["nas"]["status"] == rows["cloud"]["status"] == "up-to-date"
    assert dir_listing(back / "arkeep") == want
    assert not usb.exists()   # nothing was written at the old mount point

    # A flipped byte in a NAS bundle: verify --remote names the release, the file and the copy.
    bundle = nas / object_unit_key(store_dir, first.rid, first.installer.name)
    flip_byte(bundle)
    result = cli("verify", "--remote", "nas")
    assert result.code == 1, result.out + result.err
    problems = [line for line in result.out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1
    assert first.rid in problems[0] and first.installer.name in problems[0] and "nas" in problems[0]
    assert cli("verify", "--remote", "cloud").code == 0
    repaired = cli("repair")
    assert repaired.code == 0, repaired.out + repaired.err
    assert "nas: 1 unit(s) written again and read back" in repaired.out
    assert cli("verify", "--remote", "nas").code == 0

    # A flipped byte in a local object: verify finds it, repair fetches it back from a remote.
    store = Store.open(store_dir)
    art = store.catalog.load_release(first.rid).artifacts[0]
    flip_byte(store.object_path(art.blake3))
    result = cli("verify")
    assert result.code == 1 and first.installer.name in result.out
    repaired = cli("repair")
    assert repaired.code == 0, repaired.out + repaired.err
    assert "local store: 1 object(s) restored from a replica" in repaired.out
    assert filecmp.cmp(store.object_path(art.blake3), first.installer, shallow=False)
    assert cli("verify").code == 0

    # A new machine: an empty store directory, the passphrase and the bucket.
    new_store = tmp_path / "new-machine" / "store"
    new_store.mkdir(parents=True)
    monkeypatch.delenv("ARKEEP_DRIVE_PATHS")
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "not the passphrase")
    wrong = cli("--store", new_store, "rebuild", "--from", url)
    assert wrong.code == 2 and "passphrase" in wrong.err
    assert list(new_store.iterdir()) == []
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    rebuilt = cli("--store", new_store, "rebuild", "--from", url)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert "2 releases" in rebuilt.out
    out = tmp_path / "restored"
    restored = cli("--store", new_store, "restore", first.rid, "--to", out)
    assert restored.code == 0, restored.err
    assert filecmp.cmp(out / first.installer.name, first.installer, shallow=False)
    assert filecmp.cmp(out / first.license_file.name, first.license_file, shallow=False)
    assert KEY in (out / "LICENSE.txt").read_text()
    # The rebuilt store knows every remote again (issue 12 item 13), the bucket under its own
    # name rather than as 'origin', and what is on it.
    listed = json.loads(cli("--store", new_store, "remote", "list", "--json").out)
    assert [(r["name"], r["kind"], r["url"]) for r in listed] == [
        ("cloud", "s3", url), ("nas", "dir", str(nas)), ("usb", "drive", remotes["usb"])]
    assert listed[0]["units"] == len(want) - 1
    status = json.loads(cli("--store", new_store, "status", "--json").out)
    assert [r["good_remotes"] for r in status["releases"]] == [["cloud"], ["cloud"]]
    again = cli("--store", new_store, "sync", "--json")
    assert again.code == 0
    assert {r["remote"]: r["status"] for r in json.loads(again.out)} == {
        "cloud": "up-to-date", "nas": "up-to-date", "usb": "skipped"}
    assert cli("--store", new_store, "verify").code == 0


def test_rebuild_with_a_wrong_passphrase_creates_nothing(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "wrong horse")
    target = tmp_path / "new" / "store"
    result = cli("--store", target, "rebuild", "--from", tmp_path / "nas")
    assert result.code == 2, result.err
    assert "wrong passphrase" in result.err and "Traceback" not in result.err
    assert not target.exists() and not target.parent.exists()


# -- sync properties (directory remote) ----------------------------------------------------------

@pytest.fixture
def synced(cli, store_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """One release archived and synced to the directory remote 'nas'."""
    sample = add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    rows = sync_json(cli)
    assert rows["nas"]["pushed"] == len(wanted_keys(store_dir))   # every unit and key.toml
    return sample, nas


def test_second_sync_sends_nothing(cli, synced, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _, nas = synced
    before = {p: p.stat().st_mtime_ns for p in nas.rglob("*") if p.is_file()}
    result = cli("sync")
    assert result.code == 0
    assert result.out.strip() == f"nas: up to date ({len(wanted_keys(store_dir)) - 1} units)"
    assert {p: p.stat().st_mtime_ns for p in nas.rglob("*") if p.is_file()} == before


def test_a_new_release_sends_only_its_new_units(cli, synced, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, nas = synced
    before = dir_listing(nas)
    second = add_sample(cli, tmp_path, version="8.0", size=30_000)
    new = release_keys(store_dir, second.rid) - release_keys(store_dir, first.rid)
    # A new installer, a new licence file and a new release manifest; the licence record is new too.
    assert len(new) == 4
    rows = sync_json(cli)
    assert rows["nas"]["pushed"] == len(new)
    assert rows["nas"]["already_present"] == len(before) - 1
    assert dir_listing(nas) == before | new


def test_rescan_rebuilds_the_ledger_and_sends_nothing(cli, synced, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _, nas = synced
    rows_before = ledger_rows(store_dir, "nas")
    # Lose the ledger's knowledge entirely, then rescan from the listing.
    with sqlite3.connect(store_dir / "state" / "ledger.sqlite") as db:
        db.execute("DELETE FROM copies")
    listing = dir_listing(nas)
    rows = sync_json(cli, "--rescan")
    assert rows["nas"]["status"] == "up-to-date" and rows["nas"]["pushed"] == 0
    assert dir_listing(nas) == listing
    assert ledger_rows(store_dir, "nas") == rows_before
    assert set(rows_before.values()) == {PRESENT}
    with Ledger(store_dir / "state" / "ledger.sqlite") as ledger:
        how = {c.kind: c.verified_how for c in ledger.copies("nas")}
    assert how == {"object": "listed", "license": "read", "release": "read"}


def test_a_unit_deleted_on_the_remote_is_sent_again(cli, synced, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sample, nas = synced
    key = object_unit_key(store_dir, sample.rid, sample.installer.name)
    (nas / key).unlink()
    rows = sync_json(cli)
    assert rows["nas"]["pushed"] == 1
    assert rows["nas"]["pushed_bytes"] == sample.installer.stat().st_size
    assert (nas / key).is_file()
    assert cli("verify", "--remote", "nas").code == 0


def test_a_remote_of_another_archive_is_refused(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                fast_template: tuple[Path, str]) -> None:
    add_sample(cli, tmp_path)
    other = tmp_path / "other-nas"
    other.mkdir()
    # Another archive's wrapped key, as if another store had synced there before.
    foreign = (fast_template[0] / "key.toml").read_text().replace(
        Store.open(store_dir).config["key_id"], "0123456789abcdef")
    assert "0123456789abcdef" in foreign
    (other / "key.toml").write_text(foreign)
    assert cli("remote", "add", "other", other).code == 0
    result = cli("sync")
    assert result.code == 3
    assert "remote 'other' holds another archive (key id 0123456789abcdef)" in result.err
    assert "Traceback" not in result.err
    assert dir_listing(other) == {"key.toml"}
    assert (other / "key.toml").read_text() == foreign


@pytest.mark.parametrize("kind", ["dir", "s3"])
def test_an_interrupted_sync_records_nothing_unwritten_and_resumes(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
        request: pytest.FixtureRequest) -> None:
    add_sample(cli, tmp_path)
    add_sample(cli, tmp_path, version="8.0", size=300_000)
    if kind == "dir":
        url, listing = str(tmp_path / "nas"), lambda: dir_listing(tmp_path / "nas")
    else:
        server = request.getfixturevalue("s3_env")
        bucket = server.new_bucket_name("interrupt")
        url, listing = f"s3://{bucket}/{PREFIX}", lambda: s3_listing(server, bucket, PREFIX)
    assert cli("remote", "add", "nas", url, "--create").code == 0
    want = wanted_keys(store_dir)

    # The remote fails in the middle of writing the third unit (after key.toml and two units).
    pushes = {"n": 0}
    real_push, real_write = sync_ops._push, GuardedFile.write

    def counting_push(*args, **kwargs):  # type: ignore[no-untyped-def]
        pushes["n"] += 1
        return real_push(*args, **kwargs)

    def failing_write(self, data):  # type: ignore[no-untyped-def]
        if pushes["n"] >= 3 and self.writable():
            def boom(_: object) -> None:
                raise OSError(errno.EIO, "Input/output error")
            return self._call(boom, data)
        return real_write(self, data)

    monkeypatch.setattr(sync_ops, "_push", counting_push)
    monkeypatch.setattr(GuardedFile, "write", failing_write)
    result = cli("sync")
    assert result.code == 3, result.out + result.err
    assert "nas: FAILED" in result.err and "Traceback" not in result.err
    on_remote = listing()
    assert len(on_remote) == 3 and on_remote < want
    assert not any(".arkeep-" in k for k in on_remote)      # no temp file left behind
    if kind == "dir":
        assert not any(".arkeep-" in p.name for p in (tmp_path / "nas").rglob("*"))
    else:
        uploads = server.client().list_multipart_uploads(Bucket=bucket)
        assert not uploads.get("Uploads")
    present = {k for k, state in ledger_rows(store_dir, "nas").items() if state == PRESENT}
    assert present == {unit_name_of_key(k) for k in on_remote if k != "key.toml"}

    monkeypatch.setattr(sync_ops, "_push", real_push)
    monkeypatch.setattr(GuardedFile, "write", real_write)
    rows = sync_json(cli)
    assert rows["nas"]["pushed"] == len(want) - 3
    assert listing() == want
    assert cli("verify", "--remote", "nas").code == 0


def test_sync_without_remotes_says_how_to_add_one(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_sample(cli, tmp_path)
    result = cli("sync")
    assert result.code == 2
    assert result.err.strip() == ("arkeep: error: this store has no remotes yet; "
                                  "`arkeep remote add NAME URL` adds one")
    assert cli("sync", "nowhere").code == 2


def test_rescan_keeps_what_is_known_of_an_unplugged_drive(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sample = add_sample(cli, tmp_path)
    mnt = tmp_path / "mnt"
    (mnt / "usb1").mkdir(parents=True)
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(mnt))
    assert cli("remote", "add", "usb", mnt / "usb1", "--drive").code == 0
    assert cli("sync").code == 0
    known = ledger_rows(store_dir, "usb")
    assert len(known) == 4 and set(known.values()) == {PRESENT}
    (mnt / "usb1").rename(tmp_path / "away")
    result = cli("sync", "--rescan")
    assert result.code == 0
    assert "usb: skipped, not connected, last seen" in result.out
    assert ledger_rows(store_dir, "usb") == known
    where = json.loads(cli("whereis", sample.rid, "--json").out)
    assert {i["copies"]["usb"]["state"] for i in where["items"]} == {"present"}
    # Plugged in again, the rescan lists it afresh.
    (tmp_path / "away").rename(mnt / "usb2")
    rows = sync_json(cli, "--rescan")
    assert rows["usb"]["status"] == "up-to-date"
    assert ledger_rows(store_dir, "usb") == known


def test_a_corrupt_local_object_never_reaches_a_remote(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    assert cli("remote", "add", "good", tmp_path / "good", "--create").code == 0
    assert cli("sync").code == 0
    store = Store.open(store_dir)
    flip_byte(store.object_path(store.catalog.load_release(sample.rid).artifacts[0].blake3))
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    result = cli("sync", "nas")
    assert result.code == 3
    assert f"{sample.rid} / {sample.installer.name}: the local copy does not match" in result.err
    installer_key = object_unit_key(store_dir, sample.rid, sample.installer.name)
    assert installer_key not in dir_listing(nas)
    assert not any(".arkeep-" in k for k in dir_listing(nas))
    assert unit_name_of_key(installer_key) not in ledger_rows(store_dir, "nas")
    # repair brings the object back from the good remote, then fills the new one.
    repaired = cli("repair")
    assert repaired.code == 0, repaired.out + repaired.err
    assert dir_listing(nas) == wanted_keys(store_dir)
    assert cli("verify", "--all").code == 0


def test_verify_remote_names_the_release_of_a_bad_manifest_or_licence_record(  # type: ignore[no-untyped-def]
        cli, synced, store_dir: Path) -> None:
    sample, nas = synced
    store = Store.open(store_dir)
    release = store.catalog.load_release(sample.rid)
    namer = UnitNamer(store.unlock(PASSPHRASE))
    (lid,) = release.licenses
    flip_byte(nas / namer.license(lid).key)
    flip_byte(nas / namer.release(sample.rid).key)
    result = cli("verify", "--remote", "nas", "--json")
    assert result.code == 1
    problems = {(p["release"], p["file"], p["copy"]) for p in json.loads(result.out)["problems"]}
    assert problems == {(sample.rid, f"licence record {lid}", "remote nas"),
                        (sample.rid, "manifest", "remote nas")}
    assert cli("repair").code == 0
    assert cli("verify", "--remote", "nas").code == 0


def test_an_edited_release_sends_its_new_file_and_its_manifest(cli, synced, store_dir: Path,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    sample, nas = synced
    before = dir_listing(nas)
    receipt = tmp_path / "receipt.eml"
    receipt.write_text("From: shop@example.com\n\nThank you for your order.\n")
    added = cli("add", receipt, "--product", "Acme Studio", "--version", "7.5.1")
    assert added.code == 0, added.err
    release_unit = UnitNamer(secret_of(store_dir)).release(sample.rid).key
    manifest_before = (nas / release_unit).read_bytes()
    rows = sync_json(cli)
    assert rows["nas"]["pushed"] == 2                     # the receipt and the release manifest
    after = dir_listing(nas)
    assert len(after - before) == 1 and before <= after   # the manifest unit keeps its name
    assert (nas / release_unit).read_bytes() != manifest_before
    assert cli("verify", "--remote", "nas").code == 0
    assert sync_json(cli)["nas"]["status"] == "up-to-date"
