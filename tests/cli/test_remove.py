"""`arkeep remove` and `arkeep prune` end to end (issue 12, item 2): restic's forget and prune.

What is shared is never lost, nothing is deleted without a yes, objects leave only by prune,
and every replica follows on its next sync.
"""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from archive.replicate.ledger import Ledger
from tests.conftest import run_arkeep

from .test_names import ids


def unit_files(remote: Path) -> set[str]:
    return {p.name for p in (remote / "units").rglob("*.zip")}


def object_ids(store_dir: Path) -> set[str]:
    return {p.name for p in (store_dir / "objects").glob("??/??/*")}


@pytest.fixture
def two_releases(store_dir: Path, tmp_path: Path, cli) -> dict[str, Path]:
    """Foo 1.0 (foo.exe, shared.dll) and Bar 2.0 (bar.exe, shared.dll), synced to a folder."""
    src = tmp_path / "src"
    src.mkdir()
    files = {}
    for name in ("foo.exe", "bar.exe", "shared.dll"):
        files[name] = src / name
        files[name].write_bytes(f"content of {name}".encode() * 100)
    key = tmp_path / "key.txt"
    key.write_text("FOO-KEY-1234")
    assert cli("add", files["foo.exe"], files["shared.dll"], "--product", "Foo", "--version", "1.0",
               "--key-file", key).code == 0
    assert cli("add", files["bar.exe"], files["shared.dll"], "--product", "Bar", "--version", "2.0").code == 0
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("sync").code == 0
    return {"nas": nas, **files}


def test_remove_then_sync_then_prune_then_sync(store_dir: Path, cli, two_releases) -> None:
    nas = two_releases["nas"]
    units_before, objects_before = unit_files(nas), object_ids(store_dir)
    assert len(objects_before) == 3

    removed = cli("remove", "Foo@1.0", "--yes")
    assert removed.code == 0, removed.err
    assert "Removed Foo 1.0 (foo@1.0)" in removed.out
    assert "1 file (" in removed.out and "`arkeep prune`" in removed.out
    assert cli("show", "foo@1.0").code == 2
    assert ids(cli) == ["bar@2.0"]
    assert object_ids(store_dir) == objects_before          # remove deletes no object

    synced = cli("sync")
    assert synced.code == 0, synced.err
    units_after_remove = unit_files(nas)
    assert len(units_after_remove) == len(units_before) - 1   # Foo's manifest, nothing else
    assert "deleted 1 unit" in synced.out

    dry = cli("prune", "--dry-run")
    assert dry.code == 0 and "Would delete 1 object" in dry.out
    assert object_ids(store_dir) == objects_before
    pruned = cli("prune", "--yes")
    assert pruned.code == 0 and "Deleted 1 object" in pruned.out, pruned.out
    left = object_ids(store_dir)
    assert len(left) == 2                                    # bar.exe and the shared file stay
    assert cli("prune", "--yes").out.startswith("Nothing to prune")

    assert cli("sync").code == 0
    assert len(unit_files(nas)) == len(units_after_remove) - 1
    assert cli("verify", "--remote", "nas").code == 0
    assert cli("verify").code == 0
    restored = cli("restore", "bar@2.0", "--to", nas.parent / "out")
    assert restored.code == 0, restored.err
    assert (nas.parent / "out" / "shared.dll").read_bytes() == two_releases["shared.dll"].read_bytes()
    with Ledger(store_dir / "state" / "ledger.sqlite") as ledger:
        kinds = sorted(k for k, _ in ledger.retired())
        assert kinds == ["object", "release"]
        assert {c.ref for c in ledger.copies("nas")} >= {"bar@2.0"}
        assert "foo@1.0" not in {c.ref for c in ledger.copies("nas")}


def test_adding_the_files_again_brings_a_removed_release_back(store_dir: Path, cli, two_releases) -> None:
    nas = two_releases["nas"]
    units = unit_files(nas)
    assert cli("remove", "foo@1.0", "--yes").code == 0
    assert cli("prune", "--yes").code == 0
    again = cli("add", two_releases["foo.exe"], two_releases["shared.dll"], "--product", "Foo",
                "--version", "1.0", "--json")
    assert again.code == 0 and json.loads(again.out)["release"] == "foo@1.0"
    assert cli("sync").code == 0
    # Nothing the store holds again was deleted from the remote; the old licence record's unit
    # stays (the record is still in the store, now linked to no release).
    assert units <= unit_files(nas)
    assert cli("verify", "--remote", "nas").code == 0


def test_nothing_is_removed_without_a_yes(store_dir: Path, two_releases) -> None:
    manifest = store_dir / "manifests" / "releases" / "foo@1.0.toml"
    result = run_arkeep("remove", "foo@1.0")
    assert result.returncode == 2, result.stderr
    assert "--yes" in result.stderr and "Traceback" not in result.stderr
    assert manifest.is_file()
    assert run_arkeep("remove", "foo@1.0", "--yes").returncode == 0
    before = object_ids(store_dir)
    refused = run_arkeep("prune")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert object_ids(store_dir) == before


def _on_a_terminal(*args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """arkeep with a terminal on standard input, typing `answer`."""
    main, side = pty.openpty()
    try:
        os.write(main, answer.encode())
        return subprocess.run([sys.executable, "-m", "archive", *args], stdin=side,
                              capture_output=True, text=True, timeout=120)
    finally:
        os.close(main)
        os.close(side)


def test_on_a_terminal_remove_asks_first(store_dir: Path, two_releases) -> None:
    manifest = store_dir / "manifests" / "releases" / "foo@1.0.toml"
    kept = _on_a_terminal("remove", "foo@1.0", answer="n\n")
    assert kept.returncode == 0 and "Remove Foo 1.0 (foo@1.0, 2 files)? [y/N]" in kept.stdout
    assert "Nothing was removed" in kept.stderr and manifest.is_file()
    gone = _on_a_terminal("remove", "foo@1.0", answer="y\n")
    assert gone.returncode == 0 and "Removed Foo 1.0" in gone.stdout and not manifest.exists()


def test_a_licence_record_in_use_is_kept(store_dir: Path, cli, two_releases) -> None:
    lid = json.loads(cli("show", "foo@1.0", "--json").out)["licenses"][0]
    refused = cli("remove", "--license", lid, "--yes")
    assert refused.code == 2 and "foo@1.0" in refused.err and "remove those releases first" in refused.err
    assert cli("remove", "foo@1.0", "--yes").code == 0
    units = unit_files(two_releases["nas"])
    gone = cli("remove", "--license", lid, "--yes")
    assert gone.code == 0 and f"Removed licence record {lid}" in gone.out, gone.err
    assert not (store_dir / "manifests" / "licenses" / f"{lid}.toml").exists()
    assert cli("sync").code == 0
    assert len(unit_files(two_releases["nas"])) == len(units) - 2   # Foo's manifest and its licence
    assert cli("remove", "--license", lid, "--yes").code == 2


def test_prune_refuses_while_a_manifest_is_damaged(store_dir: Path, cli, two_releases) -> None:
    assert cli("remove", "foo@1.0", "--yes").code == 0
    (store_dir / "manifests" / "releases" / "bar@2.0.toml").write_text("schema = 1\nkind = 'release'\n")
    before = object_ids(store_dir)
    result = cli("prune", "--yes")
    assert result.code == 1 and "damaged manifest" in result.err
    assert object_ids(store_dir) == before


def test_remove_needs_one_target(store_dir: Path, cli) -> None:
    assert cli("remove", "--yes").code == 2
    assert cli("remove", "nothing@1", "--yes").code == 2


def test_an_s3_replica_follows_remove_and_prune(store_dir: Path, cli, two_releases, s3_env) -> None:
    from tests.archive.replication_support import s3_listing

    bucket = s3_env.new_bucket_name("rm")
    added = cli("remote", "add", "cloud", f"s3://{bucket}/archive")
    assert added.code == 0, added.err
    assert cli("sync", "cloud").code == 0
    before = s3_listing(s3_env, bucket, "archive")
    assert cli("remove", "foo@1.0", "--yes").code == 0
    assert cli("prune", "--yes").code == 0
    synced = cli("sync", "cloud")
    assert synced.code == 0 and "cloud: deleted 2 units" in synced.out, synced.out
    after = s3_listing(s3_env, bucket, "archive")
    assert after < before and len(before - after) == 2       # Foo's manifest and foo.exe
    assert cli("verify", "--remote", "cloud").code == 0
    again = cli("sync", "cloud")
    assert again.out.strip().startswith("cloud: up to date") and s3_listing(s3_env, bucket, "archive") == after
