"""Two writers: on one store (one holds the lock, the other is told who), a stale lock after
kill -9, and two machines (two stores rebuilt from one replica) syncing to one S3 remote at once.

What the S3 case relies on, and tests: object units are content-addressed, so two writers
putting the same object write the same plaintext (sealed with different salts, either copy
verifies); manifest units are per id, so different releases never touch the same key; key.toml
is byte-identical. No conditional put is needed for any of that. What would need one (a
compare-and-swap, If-Match on the ETag) is two machines editing the *same* release: the last
sync wins and the other's edit is missing from the remote's manifest. The last test shows that
this is not silent: `verify --remote` on the losing machine reports its manifest unit as bad.
docs/THREATS.md says the same.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .sweep import (
    Lab,
    local_findings,
    object_violations,
    random_file,
    remote_check,
    store_leftovers,
)


def wait_until(condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def add_args(store: Path, path: Path, product: str) -> list[object]:
    return ["--store", store, "add", path, "--product", product, "--version", "1"]


# -- one store, two processes ---------------------------------------------------------------------


def test_second_writer_is_told_who_holds_the_lock_and_a_killed_holder_leaves_no_lock(
        lab: Lab, tmp_path: Path) -> None:
    """A real `arkeep add` is stopped (SIGSTOP) in the middle of copying: a second `add` fails
    at once, exit 3, naming the holder's pid, host and command. Then the holder is killed with
    SIGKILL: its lock file still names it, but the kernel released the flock, so the next writer
    goes ahead (the stale lock is recognised), cleans the dead writer's temp file, and the store
    verifies."""
    other = random_file(tmp_path / "other.exe", 1024 * 1024, lab.rng)
    for attempt in range(5):
        store = lab.new_store(tmp_path / f"store{attempt}")
        holder = lab.spawn(*add_args(store, lab.installer, "Held"))
        wait_until(lambda store=store, holder=holder:
                   any((store / "tmp").iterdir()) or holder.poll() is not None)
        os.kill(holder.pid, signal.SIGSTOP)  # the holder we started, by its pid
        if holder.poll() is None:
            break
        holder.communicate()  # it finished before it could be stopped: again
    else:
        raise AssertionError("never caught the add in the middle of its copy")
    try:
        started = time.monotonic()
        result = lab.run(*add_args(store, other, "Second"), check=False)
        took = time.monotonic() - started
        assert result.returncode == 3, result
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1, line
        assert f"pid {holder.pid} on {socket.gethostname()}" in line and "arkeep add" in line, line
        assert "wait for it to finish" in line
        assert took < 5
        recorded = json.loads((store / "lock").read_text())
        assert recorded["pid"] == holder.pid
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert any((store / "tmp").iterdir())  # the dead writer's half copy
    assert json.loads((store / "lock").read_text())["pid"] == holder.pid  # stale, still there
    lab.run(*add_args(store, other, "Second"))
    assert store_leftovers(store) == []
    assert (store / "lock").read_text() == ""  # released cleanly this time
    assert object_violations(store) == [] and local_findings(store, lab.keyring) == set()


def test_two_adds_started_together(lab: Lab, tmp_path: Path) -> None:
    """Two `add`s of different files started at the same moment: each either finishes or is
    told who holds the store (exit 3); whatever finished is archived whole, the store verifies,
    and the refused one succeeds when run again."""
    store = lab.new_store(tmp_path / "store")
    files = [random_file(tmp_path / f"f{i}.exe", 8 * 1024 * 1024, lab.rng) for i in range(2)]
    procs = [lab.spawn(*add_args(store, f, f"Product {i}")) for i, f in enumerate(files)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    codes = [code for _, _, code in results]
    assert 0 in codes and set(codes) <= {0, 3}, results
    for (_, err, code), p in zip(results, procs):
        if code == 3:
            assert re.search(r"in use by pid \d+ on ", err), err
    assert object_violations(store) == [] and local_findings(store, lab.keyring) == set()
    for i, (f, code) in enumerate(zip(files, codes)):
        if code == 3:
            lab.run(*add_args(store, f, f"Product {i}"))
    from archive.storage.store import Store
    assert len(Store.open(store).catalog.release_files()) == 2


# -- two machines, one S3 remote ------------------------------------------------------------------


@pytest.fixture
def machines(lab: Lab, tmp_path: Path, s3_env) -> dict:  # type: ignore[no-untyped-def]
    """Machine A archives a release and syncs it to S3; machines B and C are rebuilt from that
    replica (passphrase + the bucket), as on two new computers."""
    env = {**lab.env, **s3_env.env()}
    url = f"s3://{s3_env.new_bucket_name('two')}/archive"
    a = lab.new_store(tmp_path / "a")
    lab.add_release(a, env=env)
    lab.run("--store", a, "remote", "add", "origin", url, env=env)
    lab.run("--store", a, "sync", env=env)
    b, c = tmp_path / "b", tmp_path / "c"
    for store in (b, c):
        lab.run("--store", store, "rebuild", "--from", url, env=env)
    return {"env": env, "url": url, "a": a, "b": b, "c": c}


def test_two_machines_sync_different_releases_to_one_s3_remote_at_once(
        lab: Lab, tmp_path: Path, machines: dict) -> None:
    """B and C each archive a different release that shares one file (the same invoice), then
    sync at the same moment: both succeed, both verify the remote clean (whichever sealing of
    the shared object won), and a fourth machine rebuilt from the remote has all three releases."""
    env = machines["env"]
    shared = random_file(tmp_path / "shared-invoice.pdf", 2 * 1024 * 1024, lab.rng)
    for name in ("b", "c"):
        own = random_file(tmp_path / f"{name}-setup.exe", 6 * 1024 * 1024, lab.rng)
        lab.run("--store", machines[name], "add", own, "--product", f"Tool {name.upper()}",
                "--version", "2.0", "--invoice", shared, env=env)
    procs = [lab.spawn("--store", machines[name], "sync", env=env) for name in ("b", "c")]
    results = [p.communicate(timeout=180) + (p.returncode,) for p in procs]
    assert [code for *_, code in results] == [0, 0], results
    for name in ("b", "c"):
        problems, found, have, want = remote_check(machines[name], "origin", lab.keyring, set())
        assert problems == [] and found == set() and have == want, (name, problems, found)
    d = tmp_path / "d"
    lab.run("--store", d, "rebuild", "--from", machines["url"], env=env)
    from archive.storage.store import Store
    ids = sorted(r.id for r in Store.open(d).catalog.releases())
    assert ids == ["crash-test@1.0", "tool-b@2.0", "tool-c@2.0"], ids
    assert local_findings(d, lab.keyring) == set() and object_violations(d) == []


def test_two_machines_editing_the_same_release_is_detected_not_silent(
        lab: Lab, tmp_path: Path, machines: dict) -> None:
    """The case that would need a conditional put: B and C each add a different file to the
    *same* release and sync, C last. The remote's manifest is C's; B's file is on the remote but
    not in its manifest. B's next sync does not notice (its ledger says its manifest is there),
    but `verify --remote` on B reports the manifest unit as bad, and `repair` on B puts B's
    version back (now C's edit is the one missing): the last writer wins, loudly."""
    env = machines["env"]
    for name in ("b", "c"):
        extra = random_file(tmp_path / f"{name}-patch.exe", 512 * 1024, lab.rng)
        lab.run("--store", machines[name], "add", extra, "--product", "Crash Test",
                "--version", "1.0", env=env)
        lab.run("--store", machines[name], "sync", env=env)
    assert lab.run("--store", machines["b"], "sync", env=env).returncode == 0
    result = lab.run("--store", machines["b"], "verify", "--remote", "origin", env=env, check=False)
    assert result.returncode == 1, result
    assert "PROBLEM crash-test@1.0 / manifest: bad copy" in result.stdout, result.stdout
    problems, found, *_ = remote_check(machines["c"], "origin", lab.keyring, set())
    assert problems == [] and found == set()  # C's view: all is well, its edit won


DEAD_HOLDER = ('{"pid": 999999999, "host": "HOST", "command": "arkeep sync", '
               '"since": "2026-01-01T00:00:00+00:00"}')


@pytest.mark.parametrize("left_behind", ["", DEAD_HOLDER], ids=["empty record", "dead holder's record"])
def test_a_writer_arriving_as_the_holder_takes_the_lock_is_told_the_right_holder(
        tmp_path: Path, left_behind: str) -> None:
    """The holder takes the flock, then writes its record: a second writer arriving in between
    read an empty record ("pid ? on ?") or the previous, dead holder's. It now reads again for a
    moment until the record names a live process."""
    import sys

    from archive.errors import StoreLocked
    from archive.system.lock import store_lock
    lock = tmp_path / "lock"
    lock.write_text(left_behind.replace("HOST", socket.gethostname()))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, json, os, socket, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(0.3)\n"
        "record = json.dumps({'pid': os.getpid(), 'host': socket.gethostname(), "
        "'command': 'arkeep add', 'since': 'now'}).encode()\n"
        "os.pwrite(fd, record, 0); os.ftruncate(fd, len(record))\n"
        "time.sleep(30)\n"), str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLocked) as caught, store_lock(lock, "arkeep add"):
            pass
        assert f"pid {holder.pid} on {socket.gethostname()} (arkeep add" in str(caught.value)
    finally:
        holder.kill()  # the holder we started, by its pid
        holder.wait()
