"""The audit log travels with the archive (issue 18, item 4): sealed on every remote, brought
back by rebuild, checked by verify --remote, never replaced by a copy that is not its beginning;
and an heir with K sheets and a replica, but no store, gets a working store back (item 2)."""
from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from archive.crypto import keys
from archive.seal.engine import seal
from tests.archive.replication_support import (
    INSTALLER,
    PRODUCT,
    add_sample,
    dir_listing,
    log_copy_key,
    replica_keys,
    s3_listing,
    secret_of,
    sevenzip,
)
from tests.archive.test_shamir import share_line
from tests.conftest import PASSPHRASE, ROOT

HEIR = "the heir's own passphrase, quite long 2041"


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_N", 2**10)
    monkeypatch.setattr(keys, "SCRYPT_P", 1)


def log_of(store: Path) -> bytes:
    return (store / "log" / "audit.jsonl").read_bytes()


def commands(cli, store: Path) -> list[str]:  # type: ignore[no-untyped-def]
    shown = cli("--store", store, "log", "--json")
    assert shown.code == 0, shown.err
    return [e["command"] for e in json.loads(shown.out)["entries"]]


def own_copy(store: Path, replica: Path) -> Path:
    """This store's copy of its log on a folder replica."""
    key = log_copy_key(store)
    assert key is not None
    return replica / key


def opened_with_7zip(bundle: Path, code: str, out: Path) -> bytes:
    done = sevenzip("x", f"-p{code}", f"-o{out}", "-aoa", bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    return (out / f"{Path(bundle).stem}.jsonl").read_bytes()


def reseal(bundle: Path, data: bytes, store: Path) -> None:
    """Write `data` into a copy with the archive's own password: what someone who holds the
    secret (or an older copy put back) can do."""
    with bundle.open("wb") as out:
        seal(io.BytesIO(data), out, password=secret_of(store).zip_password,
             entry_name=f"{bundle.stem}.jsonl", size=len(data))


def synced_to_nas(cli, store_dir: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    assert cli("show", sample.rid, "--reveal").code == 0
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("sync").code == 0
    return nas


def test_the_log_reaches_a_folder_and_s3_sealed_and_7zip_opens_it(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, recovery_code: str) -> None:
    sample = add_sample(cli, tmp_path)
    assert cli("show", sample.rid, "--reveal").code == 0
    bucket = s3_env.new_bucket_name("auditlog")
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    before = log_of(store_dir)
    assert PRODUCT.encode() in before           # the log names the product: it must not show
    synced = cli("sync", "--json")
    assert synced.code == 0, synced.err
    key = str(log_copy_key(store_dir))
    assert re.fullmatch(r"log/[0-9a-f]{64}\.zip", key)
    assert {r["remote"]: r["log_sent"] for r in json.loads(synced.out)} == {"nas": True, "cloud": True}

    s3_bytes = s3_env.client().get_object(Bucket=bucket, Key=f"arkeep/{key}")["Body"].read()
    for copy in ((nas / key).read_bytes(), s3_bytes):
        for needle in (PRODUCT.encode(), b"acme-studio", b'"command"', b"reveal", b"show"):
            assert needle not in copy
    assert s3_listing(s3_env, bucket, "arkeep", with_log=True) == replica_keys(store_dir)
    assert dir_listing(nas) | {key} == replica_keys(store_dir)
    assert (store_dir / "log" / "audit.id").is_file()
    (tmp_path / "s3").mkdir()
    (tmp_path / "s3" / Path(key).name).write_bytes(s3_bytes)
    for i, bundle in enumerate((nas / key, tmp_path / "s3" / Path(key).name)):
        # The recovery code alone opens it: the log as it was before this sync's own entry.
        assert opened_with_7zip(bundle, recovery_code, tmp_path / f"x{i}") == before

    # docs/RECOVERY.md's command, as a person would run it with 7-Zip alone.
    (doc_block,) = re.findall(r"```shell\n(7zz x .*?)```", (ROOT / "docs" / "RECOVERY.md").read_text(),
                              flags=re.S)
    ran = subprocess.run(["bash", "-c", doc_block], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "CODE": recovery_code, "REPLICA": str(nas)},
                         stdin=subprocess.DEVNULL, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (tmp_path / "audit" / f"{Path(key).stem}.jsonl").read_bytes() == before

    # Nothing but syncs since: the next sync leaves the copy alone ("up to date").
    mtime = (nas / key).stat().st_mtime_ns
    again = cli("sync", "nas")
    assert again.code == 0 and again.out.startswith("nas: up to date")
    assert (nas / key).stat().st_mtime_ns == mtime
    # A new entry of another command travels with the next sync, the sync entries with it.
    assert cli("restore", sample.rid, "--to", tmp_path / "out").code == 0
    assert cli("sync", "nas").code == 0
    grown = opened_with_7zip(nas / key, recovery_code, tmp_path / "x2")
    assert grown.startswith(before) and log_of(store_dir).startswith(grown)
    assert [json.loads(line)["command"] for line in grown.splitlines()][-3:] == \
        ["sync", "sync", "restore"]


def test_rebuild_brings_the_log_back_and_verify_accepts_the_chain(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    replicated = log_of(store_dir)
    replicated = replicated[:replicated.rindex(b"\n", 0, -1) + 1]     # without sync's own entry
    new = tmp_path / "new"
    rebuilt = cli("--store", new, "rebuild", "--from", nas)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert "taken: audit log: 3 entries from the replica" in rebuilt.out
    assert log_of(new).startswith(replicated)
    assert commands(cli, new)[:3] == ["add", "show", "remote add"]
    assert (new / "log" / "audit.jsonl").stat().st_mode & 0o077 == 0
    assert cli("--store", new, "verify").code == 0          # the chain and its keyed checks hold


def test_a_copy_cut_short_is_named_by_verify_and_sync_writes_it_again(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    key = str(log_copy_key(store_dir))
    local = log_of(store_dir)
    reseal(nas / key, local.splitlines(keepends=True)[0], store_dir)
    checked = cli("verify", "--remote", "nas")
    assert checked.code == 1
    assert (f"PROBLEM {key} (the audit log) was cut short: it holds 1 entries, sync wrote 3"
            in checked.out)
    assert log_of(store_dir).startswith(local)              # the local log is untouched
    assert cli("sync", "nas").code == 0                     # its beginning: written over
    assert cli("verify", "--remote", "nas").code == 0


@pytest.mark.parametrize("damage", ["edited", "diverging", "garbled"])
def test_an_edited_copy_is_named_never_replaced_and_never_taken(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, damage: str) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    key = str(log_copy_key(store_dir))
    lines = log_of(store_dir).splitlines(keepends=True)
    bundle = nas / key
    if damage == "edited":          # an entry's target changed, its hashes left as they were
        reseal(bundle, lines[0] + lines[1].replace(b"acme-studio", b"other-thing"), store_dir)
        why = "(the audit log) was edited: line 2 (entry 2): edited after it was written"
    elif damage == "diverging":     # a valid log of another history: a second line of its own
        other = json.loads(lines[1])
        other.update(command="export", mac=None)
        from archive.storage.audit_log import _digest
        other["hash"] = _digest(other)
        reseal(bundle, lines[0] + json.dumps(other).encode() + b"\n", store_dir)
        why = "(the audit log) is not the store's log: it differs from the store's log from line 2"
    else:
        data = bytearray(bundle.read_bytes())
        data[len(data) // 2] ^= 0x01
        bundle.write_bytes(bytes(data))
        why = "(the audit log) does not authenticate"
    bad = bundle.read_bytes()
    local = log_of(store_dir)

    checked = cli("verify", "--remote", "nas")
    assert checked.code == 1 and why in checked.out, checked.out
    synced = cli("sync", "nas")
    assert synced.code == 1
    assert f"PROBLEM nas: {key} {why}" in synced.out and "not replaced" in synced.out
    assert bundle.read_bytes() == bad                       # left as evidence
    merged = cli("rebuild", "--from", nas, "--merge")
    assert log_of(store_dir).startswith(local)              # never taken over the local log
    if damage == "diverging":       # the store's log goes on; the copy is another trail
        assert merged.code == 0 and "audit log" not in merged.out
    else:
        assert merged.code == 1 and "the audit log" in merged.out and "not taken" in merged.out
    new = tmp_path / "new"
    fresh = cli("--store", new, "rebuild", "--from", nas)
    assert "add" not in commands(cli, new) if damage != "diverging" else True
    assert fresh.code == (0 if damage == "diverging" else 1)
    assert cli("--store", new, "restore", "acme-studio@7.5.1", "--to", tmp_path / "out").code == 0


def test_a_replica_without_a_log_still_syncs_verifies_and_rebuilds(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    key = str(log_copy_key(store_dir))
    # As an arkeep before this change left it: no copy, and the ledger knows of none.
    (nas / key).unlink()
    (nas / "log").rmdir()
    with sqlite3.connect(store_dir / "state" / "ledger.sqlite") as db:
        db.execute("DELETE FROM audit_logs")
    assert cli("verify", "--remote", "nas").code == 0
    new = tmp_path / "new"
    rebuilt = cli("--store", new, "rebuild", "--from", nas)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert "audit log" not in rebuilt.out and "add" not in commands(cli, new)
    assert cli("--store", new, "restore", "acme-studio@7.5.1", "--to", tmp_path / "out").code == 0
    assert cli("sync").code == 0 and (nas / key).is_file()
    # Once written, a copy that goes missing is named.
    (nas / key).unlink()
    gone = cli("verify", "--remote", "nas")
    assert gone.code == 1 and f"{key} (the audit log) is missing; sync wrote" in gone.out


def heir_rebuild(cli, new: Path, source: str | Path, code: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                 monkeypatch: pytest.MonkeyPatch, slot: str = "ann", passphrase: str = HEIR):
    secret = tmp_path / "heir-passphrase.txt"
    secret.write_text(passphrase + "\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(code + "\n"))
    return cli("--store", new, "rebuild", "--from", source, "--recovery-code", "--slot", slot,
               "--new-passphrase-file", secret)


def test_an_heir_with_two_sheets_and_no_store_rebuilds_from_a_folder_and_s3(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = add_sample(cli, tmp_path)
    installer = sample.installer.read_bytes()
    assert cli("show", sample.rid, "--reveal").code == 0
    bucket = s3_env.new_bucket_name("heir")
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    assert cli("sync").code == 0
    split = cli("key", "split", "--shares", "3", "--threshold", "2", "--out", tmp_path / "sheets",
                "--text", "--json")
    assert split.code == 0, split.err
    lines = [share_line(Path(p)) for p in json.loads(split.out)["sheets"]]

    # The laptop is gone: no store, no passphrase; two of the three sheets.
    import shutil
    shutil.rmtree(store_dir)
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    two = tmp_path / "two-sheets.txt"
    two.write_text(f"{lines[2]}\n{lines[0]}\n")
    joined = cli("key", "join", "--shares-file", two)
    assert joined.code == 0, joined.err
    assert "--recovery-code --slot" in joined.out
    code = re.search(r"\b(?:[A-Z2-7]{4}-){7}[A-Z2-7]{4}\b", joined.out).group(0)  # type: ignore[union-attr]

    # The first rebuild also gives the replicas it reaches the key file with ann's slot; the
    # second heir, on S3, names another.
    for source, new, slot in ((tmp_path / "nas", tmp_path / "heir-nas", "ann"),
                              (f"s3://{bucket}/arkeep", tmp_path / "heir-s3", "ben")):
        monkeypatch.delenv("ARKEEP_PASSPHRASE", raising=False)
        rebuilt = heir_rebuild(cli, new, source, code, tmp_path, monkeypatch, slot, HEIR + slot)
        assert rebuilt.code == 0, rebuilt.out + rebuilt.err
        assert f"key slot '{slot}' added" in rebuilt.out
        assert code not in rebuilt.out + rebuilt.err + log_of(new).decode()
        monkeypatch.setenv("ARKEEP_PASSPHRASE", HEIR + slot)
        out = tmp_path / f"restored-{new.name}"
        assert cli("--store", new, "restore", sample.rid, "--to", out).code == 0
        (restored,) = [p for p in out.rglob(INSTALLER)]
        assert restored.read_bytes() == installer
        assert commands(cli, new)[:2] == ["add", "show"]    # the trail came back with it
        assert cli("--store", new, "verify").code == 0
        slots = json.loads(cli("--store", new, "key", "list", "--json").out)["slots"]
        assert slot in [s["name"] for s in slots] and "owner" in [s["name"] for s in slots]
        monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)   # the owner's still opens it too
        assert cli("--store", new, "key", "list").code == 0


def test_heir_rebuild_refuses_bad_input_before_fetching(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    new = tmp_path / "new"
    no_slot = cli("--store", new, "rebuild", "--from", nas, "--recovery-code")
    assert no_slot.code == 2 and "--recovery-code needs --slot NAME" in no_slot.err
    stray = cli("--store", new, "rebuild", "--from", nas, "--slot", "ann")
    assert stray.code == 2 and "go with --recovery-code" in stray.err
    typo = heir_rebuild(cli, new, nas, "ABCD-EFGH", tmp_path, monkeypatch)
    assert typo.code == 2 and "that is not a recovery code" in typo.err
    other = keys.recovery_code(keys.new_secret())
    foreign = heir_rebuild(cli, new, nas, other, tmp_path, monkeypatch)
    assert foreign.code == 2 and "holds the archive with key id" in foreign.err
    assert other not in foreign.err
    taken = tmp_path / "taken"
    monkeypatch.setattr("sys.stdin", io.StringIO(secret_of(store_dir).recovery_code + "\n"))
    (tmp_path / "p.txt").write_text(HEIR + "\n")
    clash = cli("--store", taken, "rebuild", "--from", nas, "--recovery-code", "--slot", "owner",
                "--new-passphrase-file", tmp_path / "p.txt")
    assert clash.code == 2 and "the replica's key file: there is already a key slot named 'owner'" \
        in clash.err
    (tmp_path / "p.txt").write_text(PASSPHRASE + "\n")          # the owner's: ann needs her own
    monkeypatch.setattr("sys.stdin", io.StringIO(secret_of(store_dir).recovery_code + "\n"))
    shared = cli("--store", taken, "rebuild", "--from", nas, "--recovery-code", "--slot", "ann",
                 "--new-passphrase-file", tmp_path / "p.txt", "--weak-passphrase-ok")
    assert shared.code == 2 and "already opens key slot 'owner'" in shared.err
    assert not new.exists() and not taken.exists()          # nothing fetched, nothing made


def test_a_store_log_cut_short_is_named_by_the_replica_which_keeps_the_trail(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    key = str(log_copy_key(store_dir))
    bundle = nas / key
    kept = bundle.read_bytes()
    lines = log_of(store_dir).splitlines(keepends=True)
    (store_dir / "log" / "audit.jsonl").write_bytes(b"".join(lines[:2]))   # add, show: no trace
    assert cli("verify").code == 0              # not detectable from the local file alone
    checked = cli("verify", "--remote", "nas")
    assert checked.code == 1
    assert ("the store's audit log lacks entries this replica's copy holds (it holds 1 entries "
            "after the store's last (2))" in checked.out)
    synced = cli("sync", "nas")                 # the store's log has gone another way since
    assert synced.code == 1 and "not replaced" in synced.out and "no entry of it is lost" in synced.out
    assert bundle.read_bytes() == kept


def test_two_stores_of_one_archive_each_keep_their_own_copy_on_a_shared_replica(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, recovery_code: str) -> None:
    nas = synced_to_nas(cli, store_dir, tmp_path)
    second = tmp_path / "second"            # another machine, rebuilt from the same replica
    assert cli("--store", second, "rebuild", "--from", nas, "--name", "nas").code == 0
    add_sample(cli, tmp_path / "b", version="8.0", size=10_000)      # on the first store
    assert cli("--store", second, "show", "acme-studio@7.5.1").code == 0
    for store in (store_dir, second, store_dir):    # their logs have gone two ways: no conflict
        synced = cli("--store", store, "sync")
        assert synced.code == 0, synced.out + synced.err
    ours, theirs = log_copy_key(store_dir), log_copy_key(second)
    assert ours != theirs and {p.relative_to(nas).as_posix() for p in (nas / "log").iterdir()} == \
        {ours, theirs}
    for store in (store_dir, second):
        assert cli("--store", store, "verify", "--remote", "nas").code == 0
    copies = [opened_with_7zip(nas / str(k), recovery_code, tmp_path / f"o{i}")
              for i, k in enumerate((ours, theirs))]
    assert copies[1].startswith(copies[0].splitlines(keepends=True)[0])  # one trail, then two

    third = tmp_path / "third"
    rebuilt = cli("--store", third, "rebuild", "--from", nas)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err

    def recency(copy: bytes) -> tuple[str, int]:
        return json.loads(copy.splitlines()[-1])["at"], len(copy.splitlines())
    latest = max(copies, key=recency)               # the store used last
    assert log_of(third).startswith(latest)
    assert f"audit log: {len(latest.splitlines())} entries from the replica" in rebuilt.out


def test_earlier_versions_of_manifests_travel_sealed_and_come_back_with_rebuild(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env) -> None:
    sample = add_sample(cli, tmp_path)
    first = (store_dir / "manifests" / "releases" / f"{sample.rid}.toml").read_bytes()
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 an invoice")
    assert cli("add", sample.installer, "--product", PRODUCT, "--version", "7.5.1",
               "--invoice", invoice).code == 0                      # the release changes
    bucket = s3_env.new_bucket_name("history")
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    rows = json.loads(cli("sync", "--json").out)
    assert {r["remote"]: r["history_sent"] for r in rows} == {"nas": 1, "cloud": 1}
    (kept,) = list((nas / "history").iterdir())
    assert PRODUCT.encode() not in kept.read_bytes() and b"acme-studio" not in kept.read_bytes()
    assert json.loads(cli("sync", "nas", "--json").out)[0]["history_sent"] == 0   # sent once

    for source, new in ((nas, tmp_path / "new-nas"), (f"s3://{bucket}/arkeep", tmp_path / "new-s3")):
        rebuilt = cli("--store", new, "rebuild", "--from", source)
        assert rebuilt.code == 0, rebuilt.out + rebuilt.err
        assert "earlier versions of manifests: 1 from the replica" in rebuilt.out
        shown = cli("--store", new, "log", sample.rid, "--show-version", "1")
        assert shown.code == 0 and shown.out.encode() == first
    # Bad input: a version that does not authenticate is named and the rest rebuilt.
    data = bytearray(kept.read_bytes())
    data[len(data) // 2] ^= 1
    kept.write_bytes(bytes(data))
    damaged = cli("--store", tmp_path / "third", "rebuild", "--from", nas)
    assert damaged.code == 1
    assert "(an earlier version of a manifest)" in damaged.out and "not taken" in damaged.out
    assert cli("--store", tmp_path / "third", "restore", sample.rid, "--to", tmp_path / "o").code == 0
