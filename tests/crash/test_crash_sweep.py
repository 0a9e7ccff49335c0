"""kill -9 of `add`, `sync` (directory and S3 remotes), `repair` and `rebuild` at random moments.

What is checked after every kill and after the rerun is described in tests/crash/sweep.py. CI runs
a few kills per command with a 17 MiB installer (ARKEEP_CRASH_ROUNDS); the long run is
`scripts/crash-sweep --rounds 50` (200 MiB). The seed is random and printed; ARKEEP_CRASH_SEED
replays a run.
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from .sweep import SCENARIOS, Lab, MiB, format_table, local_findings, sweep

# Kills per command in CI: four, three for S3 (the slowest), so the whole file stays
# near a minute on two busy cores; the stores' key uses a cheaper scrypt (see Lab).
# ARKEEP_CRASH_ROUNDS overrides them all.
ROUNDS = {"add": 4, "sync-dir": 4, "repair": 4, "rebuild": 4, "sync-s3": 3}
if os.environ.get("ARKEEP_CRASH_ROUNDS"):
    ROUNDS = dict.fromkeys(ROUNDS, int(os.environ["ARKEEP_CRASH_ROUNDS"]))
SEED = int(os.environ.get("ARKEEP_CRASH_SEED", str(random.randrange(2**32))))
# Just over one 16 MiB S3 part, so the S3 sync is a multipart upload that a kill can interrupt.
BIG, MEDIUM = 17 * MiB, 2 * MiB


def run_sweep(name: str, tmp_path: Path, s3: object = None) -> None:
    lab = Lab(tmp_path / "lab", big=BIG, medium=MEDIUM, seed=SEED, s3=s3, fast_kdf=True)
    tally = sweep(SCENARIOS[name](lab), ROUNDS[name])
    table = format_table([tally])
    print(f"\nseed {SEED}\n{table}")
    # Tries beyond ROUNDS are made only while no kill has landed (see sweep()).
    assert ROUNDS[name] <= tally.tries <= 2 * ROUNDS[name]
    assert tally.tries == ROUNDS[name] or tally.killed <= 1
    assert not tally.violations, f"seed {SEED}\n{table}\n" + "\n".join(tally.violations)
    # After 2 x ROUNDS tries with W shrinking to each missed run's length, still no kill means
    # the sweep is broken (a wrong started() or a command that no longer does the work).
    assert tally.killed >= 1, f"seed {SEED}: no kill landed while {name} was running\n{table}"


@pytest.mark.parametrize("name", ["add", "sync-dir", "repair", "rebuild"])
def test_kill_9_at_random_moments(name: str, tmp_path: Path) -> None:
    run_sweep(name, tmp_path)


def test_kill_9_sync_to_s3_at_random_moments(s3_env: object, tmp_path: Path) -> None:
    run_sweep("sync-s3", tmp_path, s3=s3_env)


# -- leftovers of a killed write on a remote ---------------------------------------------------


def test_next_sync_removes_a_killed_writes_temp_file_but_not_a_live_one(lab: Lab, tmp_path: Path) -> None:
    """A temp file that kill -9 left on a directory remote is removed by the next sync; one that a
    live writer (another store syncing to the same place) is still writing is not: each writer
    holds a lock on its temp file, which the kernel drops when the writer dies."""
    import subprocess
    import sys
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    nas = tmp_path / "nas"
    nas.mkdir()
    lab.run("--store", store, "remote", "add", "nas", nas)
    folder = nas / "units" / "ab"
    folder.mkdir(parents=True)
    dead = folder / ".arkeep-tmp-0123456789abcdef"
    dead.write_bytes(b"half a unit")
    live = folder / ".arkeep-tmp-fedcba9876543210"
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import fcntl, os, sys, time\n"
                                "fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)\n"
                                "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\n"
                                "time.sleep(120)\n"), str(live)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        lab.run("--store", store, "sync", "nas")
        assert not dead.exists()
        assert live.exists()
    finally:
        holder.kill()  # the writer we started, by its pid
        holder.wait()
    lab.run("--store", store, "sync", "nas")
    assert not live.exists()


def test_unfinished_s3_uploads_are_aborted_only_after_the_grace(
        lab: Lab, tmp_path: Path, s3_env: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unfinished multipart upload looks the same whether its writer died or is another machine
    still uploading: sync leaves young ones alone and aborts those older than the grace."""
    import archive.replicate.sync as sync_ops
    from archive.cli.main import main
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    bucket = s3_env.new_bucket_name("grace")  # type: ignore[attr-defined]
    env = {**lab.env, **s3_env.env()}  # type: ignore[attr-defined]
    lab.run("--store", store, "remote", "add", "cloud", f"s3://{bucket}/p", env=env)
    client = s3_env.client()  # type: ignore[attr-defined]
    client.create_multipart_upload(Bucket=bucket, Key="p/units/ab/" + "ab" * 32 + ".zip")
    lab.run("--store", store, "sync", "cloud", env=env)
    assert len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    monkeypatch.setenv("ARKEEP_PASSPHRASE", lab.env["ARKEEP_PASSPHRASE"])
    monkeypatch.setattr(sync_ops, "STALE_TEMP_AFTER", 0)  # as if a day had passed
    assert main(["--store", str(store), "sync", "cloud"]) == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_rebuild_killed_while_creating_the_store_is_finished_by_the_next_run(lab: Lab, tmp_path: Path) -> None:
    """A kill between the store's folders and its arkeep.toml (written last) leaves folders, the
    key and maybe a temp file: running rebuild again must finish, not call the directory "not
    empty". A directory with anything else in it is still refused and left as it was."""
    source = lab.new_store(tmp_path / "source")
    lab.add_release(source)
    nas = tmp_path / "nas"
    nas.mkdir()
    lab.run("--store", source, "remote", "add", "nas", nas)
    lab.run("--store", source, "sync", "nas")
    target = tmp_path / "rebuilt"
    for sub in ("objects", "manifests/releases", "manifests/licenses", "state", "tmp"):
        (target / sub).mkdir(parents=True)
    shutil.copy(nas / "key.toml", target / "key.toml")
    (target / ".tmp-k2j4h5.toml").write_text("schema = 1\n")  # arkeep.toml's write, cut short
    lab.run("--store", target, "rebuild", "--from", nas)
    assert local_findings(target, lab.keyring) == set()
    assert len(list((target / "objects").rglob("*/*/*"))) == 3
    other = tmp_path / "other"
    (other / "objects").mkdir(parents=True)
    (other / "notes.txt").write_text("mine")
    result = lab.run("--store", other, "rebuild", "--from", nas, check=False)
    assert result.returncode == 2 and "not empty" in result.stderr
    assert (other / "notes.txt").read_text() == "mine" and (other / "objects").is_dir()


def test_a_manifest_write_cut_short_leaves_a_temp_file_the_next_writer_removes(lab: Lab, tmp_path: Path) -> None:
    """Manifests, key.toml and arkeep.toml are written to `.tmp-*.toml` beside their name, then
    renamed; a kill in between leaves that file (never read as a manifest). The next writer
    removes it along with tmp/."""
    store = lab.new_store(tmp_path / "store")
    planted = [store / "manifests" / "releases" / ".tmp-a1b2c3d4.toml",
               store / "manifests" / "licenses" / ".tmp-e5f6g7h8.toml", store / ".tmp-k9l0m1n2.toml"]
    for path in planted:
        path.write_text('schema = 1\nkind = "release"\nid = "half')
    (store / "tmp" / "ingest-x1y2z3").write_bytes(b"half an installer")
    lab.run("--store", store, "add", lab.license_file, "--product", "Next", "--version", "1")
    assert [p for p in planted if p.exists()] == []
    assert list((store / "tmp").iterdir()) == []
