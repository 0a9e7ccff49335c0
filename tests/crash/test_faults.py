"""Faults while arkeep works: the S3 server killed mid-sync, a drive unplugged and a remote
directory removed mid-sync, full disks, a read-only remote, wrong S3 credentials, a closed port.

Every fault must give exit 3 and one clear line that names the remote (or the disk), quickly, and
leave a ledger that counts nothing as present that is not completely there; after the fault is
gone, the same command finishes the work.

Full disk: a real 20 MiB tmpfs (`mount -t tmpfs -o size=20m`) where mounting is permitted (the
suite runs as root in its sandbox); where it is not, ENOSPC is injected at the write layer in
process (`os.write` for the store's ingest, the directory backend's `open` for a remote). Each
full-disk test prints which of the two it used. Read-only remote: chmod a-w with the child
stripped of CAP_DAC_OVERRIDE (as root, permissions would not apply), and a read-only remount of
a tmpfs.
"""
from __future__ import annotations

import errno
import io
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import as_plain_user, mount_permitted, one_line, remount, tmpfs
from .sweep import (
    Finding,
    Lab,
    MiB,
    dir_remote_temps,
    local_findings,
    object_violations,
    random_file,
    remote_check,
)

FAST = 15.0  # seconds: every fault is reported within this


def all_missing(lab: Lab, store: Path, remote: str) -> set[Finding]:
    """What verify --remote may honestly report before a sync finished: every unit missing."""
    from archive.replicate.plan import plan_units
    from archive.storage.store import Store
    plan = plan_units(Store.open(store), lab.keyring)
    return {Finding(r, n, f"remote {remote}", "missing") for w in plan.units for r, n in w.labels}


def store_intact(lab: Lab, store: Path, releases: int = 1) -> None:
    from archive.storage.store import Store
    assert object_violations(store) == []
    assert local_findings(store, lab.keyring) == set()
    assert len(Store.open(store).catalog.release_files()) == releases
    assert list((store / "tmp").iterdir()) == []


def sync_line(result: subprocess.CompletedProcess[str], remote: str, *fragments: str) -> str:
    """`sync` reports a failed remote as one line `NAME: FAILED: ...` on stderr, exit 3."""
    return one_line(result, 3, f"{remote}: FAILED", f"'{remote}'", *fragments)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60) -> bool:  # type: ignore[no-untyped-def]
    """Poll until `condition()` or the process ends; True if the condition came first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.003)
    raise AssertionError("timed out waiting")


# -- the S3 server dies in the middle of a sync ----------------------------------------------------


def test_s3_server_killed_mid_sync_then_restarted(lab: Lab, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.seaweed import start_seaweed
    server = start_seaweed(tmp_path / "seaweed")
    restarted = None
    try:
        env = {**lab.env, **server.env(), "AWS_EC2_METADATA_DISABLED": "true"}
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        store = lab.new_store(tmp_path / "store")
        lab.add_release(store)
        bucket = server.new_bucket_name("fault")
        client = server.client()
        for attempt in range(3):
            prefix = f"try{attempt}"
            url = f"s3://{bucket}/{prefix}"
            lab.run("--store", store, "remote", "add", f"cloud{attempt}", url, env=env)
            remote = f"cloud{attempt}"
            proc = lab.spawn("--store", store, "sync", remote, env=env)

            def uploading(prefix: str = prefix) -> bool:
                answer = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/")
                return bool(answer.get("Uploads"))
            if wait_for(uploading, proc):
                break
            proc.communicate()  # finished before we could catch the upload: try again
        else:
            raise AssertionError("never caught the sync in the middle of an upload")
        killed_at = time.monotonic()
        server.process.kill()  # the server we started, by its pid
        server.process.wait()
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - killed_at
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        line = sync_line(result, remote, "cannot be reached")
        assert took < FAST, (took, line)

        restarted = start_seaweed(tmp_path / "seaweed", s3_port=int(server.endpoint.rsplit(":", 1)[1]),
                                  access_key=server.access_key, secret_key=server.secret_key)
        # Nothing is counted as present that is not: the ledger against a fresh listing, and
        # verify --remote finds nothing but missing units.
        problems, found, have, want = remote_check(store, remote, lab.keyring,
                                                   all_missing(lab, store, remote))
        assert problems == []
        assert have < want
        # The sync resumes and completes.
        lab.run("--store", store, "sync", remote, env=env)
        problems, found, have, want = remote_check(store, remote, lab.keyring, set())
        assert problems == [] and found == set() and have == want
        store_intact(lab, store)
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()


# -- a drive unplugged, a directory removed ---------------------------------------------------------


def test_drive_unplugged_mid_sync(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drive's directory disappears while a unit is being written (as when a USB drive is
    pulled): exit 3, the drive named, nothing counted that is not there; plugged in again, the
    sync finishes and the killed write's temp file is cleaned up."""
    mounts = tmp_path / "media"
    drive = mounts / "USB1"
    drive.mkdir(parents=True)
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(mounts))
    env = {**lab.env, "ARKEEP_DRIVE_PATHS": str(mounts)}
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    lab.run("--store", store, "remote", "add", "usb", drive, "--drive", env=env)
    elsewhere = tmp_path / "drawer"
    for _ in range(3):
        proc = lab.spawn("--store", store, "sync", "usb", env=env)
        if wait_for(lambda: bool(dir_remote_temps(drive)), proc):
            break
        proc.communicate()
        shutil.rmtree(drive / "arkeep" / "units", ignore_errors=True)
    else:
        raise AssertionError("never caught the sync writing a unit")
    started = time.monotonic()
    drive.rename(elsewhere)  # unplugged: the mount point is gone
    out, err = proc.communicate(timeout=120)
    took = time.monotonic() - started
    sync_line(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), "usb",
              "not connected")
    assert took < FAST
    elsewhere.rename(drive)  # plugged in again
    problems, found, have, want = remote_check(store, "usb", lab.keyring, all_missing(lab, store, "usb"))
    assert problems == []
    lab.run("--store", store, "sync", "usb", env=env)
    problems, found, have, want = remote_check(store, "usb", lab.keyring, set())
    assert problems == [] and found == set() and have == want
    assert dir_remote_temps(drive) == []
    store_intact(lab, store)


def test_remote_directory_removed_mid_sync(lab: Lab, tmp_path: Path) -> None:
    """A directory remote (a NAS mount) vanishes mid-sync: exit 3 naming it, within seconds;
    once it is back (empty), the ledger's stale copies are noticed and everything is sent."""
    nas = tmp_path / "nas"
    nas.mkdir()
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    lab.run("--store", store, "remote", "add", "nas", nas)
    for _ in range(3):
        proc = lab.spawn("--store", store, "sync", "nas")
        if wait_for(lambda: bool(dir_remote_temps(nas)), proc):
            break
        proc.communicate()
        shutil.rmtree(nas / "units", ignore_errors=True)
    else:
        raise AssertionError("never caught the sync writing a unit")
    started = time.monotonic()
    shutil.rmtree(nas)
    out, err = proc.communicate(timeout=120)
    took = time.monotonic() - started
    sync_line(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), "nas",
              "cannot be reached")
    assert took < FAST
    # Still gone: a later sync says so too, and verify --remote cannot check it.
    sync_line(lab.run("--store", store, "sync", "nas", check=False), "nas", "cannot be reached")
    nas.mkdir()
    again = lab.run("--store", store, "sync", "nas", check=False)
    if again.returncode != 0:
        # The ledger had learnt that nas held units (or its key file) before it vanished: an
        # empty folder there now looks like an unmounted share, and is refused (issue 12.4)
        # until the user says it is a new place for the remote.
        sync_line(again, "nas", "is it mounted?")
        assert not any(nas.iterdir())
        lab.run("--store", store, "remote", "remove", "nas")
        lab.run("--store", store, "remote", "add", "nas", nas)
        lab.run("--store", store, "sync", "nas")
    problems, found, have, want = remote_check(store, "nas", lab.keyring, set())
    assert problems == [] and found == set() and have == want
    store_intact(lab, store)


# -- full disks --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def can_mount(tmp_path_factory: pytest.TempPathFactory) -> bool:
    permitted = os.environ.get("ARKEEP_TEST_NO_MOUNT") != "1" and \
        mount_permitted(tmp_path_factory.mktemp("probe") / "mnt")
    print(f"\nfull-disk tests use {'a real 20 MiB tmpfs' if permitted else 'ENOSPC injected in process'}")
    return permitted


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def inject_enospc(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """The fallback: os.write and os.copy_file_range (the two ways the store writes an object)
    fail with ENOSPC once `limit` bytes were written between them."""
    state = {"written": 0}

    def guard(real, size_of):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            if state["written"] + size_of(*args, **kwargs) > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done = real(*args, **kwargs)
            state["written"] += done
            return done
        return call
    monkeypatch.setattr(os, "write", guard(os.write, lambda fd, data: len(data)))
    if hasattr(os, "copy_file_range"):
        monkeypatch.setattr(os, "copy_file_range", guard(
            os.copy_file_range, lambda src, dst, count, *rest, **kw: count))


def test_store_disk_full_during_add(lab: Lab, tmp_path: Path, can_mount: bool, cli,  # type: ignore[no-untyped-def]
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A 30 MiB installer into a store on a 20 MiB disk: exit 3, "the disk is full", and the
    store keeps what it had, verifying clean, with no temp file left."""
    small = random_file(tmp_path / "small.exe", 1 * MiB, lab.rng)
    big = random_file(tmp_path / "big.exe", 30 * MiB, lab.rng)
    mount = tmp_path / "disk"
    if can_mount:
        with tmpfs(mount, "20m"):
            store = lab.new_store(mount / "store")
            lab.run("--store", store, "add", small, "--product", "Small", "--version", "1")
            result = lab.run("--store", store, "add", big, "--product", "Big", "--version", "1",
                             check=False)
            one_line(result, 3, "big.exe", "the disk is full")
            store_intact(lab, store)
            assert free_bytes(mount) > 18 * MiB  # the partial copy was removed
    else:
        store = lab.new_store(tmp_path / "store")
        monkeypatch.setenv("ARKEEP_STORE", str(store))
        assert cli("add", small, "--product", "Small", "--version", "1").code == 0
        inject_enospc(monkeypatch, 20 * MiB)
        result = cli("add", big, "--product", "Big", "--version", "1")
        monkeypatch.undo()
        assert result.code == 3 and "the disk is full" in result.err, result.err
        store_intact(lab, store)


def test_store_disk_full_while_writing_the_manifest(lab: Lab, tmp_path: Path, can_mount: bool) -> None:
    """The object fits, the manifest does not: exit 3 with a line that says the disk is full; the
    object is left unreferenced (no manifest names a missing object); after freeing space the
    same add finishes."""
    if not can_mount:
        pytest.skip("needs a real small filesystem: page-exact filling cannot be injected "
                    "in process (mount -t tmpfs was refused)")
    from archive.storage.store import Store

    from .sweep import force_rmtree, store_leftovers
    installer = random_file(tmp_path / "exact.exe", 8 * MiB, lab.rng)
    pages = -(-installer.stat().st_size // 4096)
    mount = tmp_path / "disk"
    add = ("add", installer, "--product", "Exact", "--version", "1", "--licensed-to", "A. User")
    with tmpfs(mount, "20m"):
        # Leave room for the object and a few pages more (the lock file takes one), until the
        # object lands and a manifest does not.
        for spare in range(1, 8):
            store = lab.new_store(mount / "store")
            filler = mount / "filler"
            filler.write_bytes(b"\0" * (free_bytes(mount) - (pages + spare) * 4096))
            result = lab.run("--store", store, *add, check=False)
            if result.returncode != 0 and list(Store.open(store).iter_objects()):
                break
            force_rmtree(store)
            filler.unlink()
        else:
            raise AssertionError("never filled the disk between the object and the manifest")
        line = one_line(result, 3, "disk is full")
        print(f"\nmanifest on a full disk: {line}")
        assert object_violations(store) == []
        assert local_findings(store, lab.keyring) == set()
        assert Store.open(store).catalog.release_files() == []
        filler.unlink()
        lab.run("--store", store, *add)
        store_intact(lab, store)
        assert store_leftovers(store) == []


def test_remote_disk_full_during_sync(lab: Lab, tmp_path: Path, can_mount: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A 24 MiB installer to a directory remote on a 20 MiB disk: exit 3, "out of space", the
    remote named; no temp file left, nothing counted that is not there; on a bigger disk the
    sync finishes."""
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    mount = tmp_path / "nas"
    if can_mount:
        with tmpfs(mount, "20m"):
            lab.run("--store", store, "remote", "add", "nas", mount)
            result = lab.run("--store", store, "sync", "nas", check=False)
            sync_line(result, "nas", "is out of space")
            assert dir_remote_temps(mount) == []
            problems, *_ = remote_check(store, "nas", lab.keyring, all_missing(lab, store, "nas"))
            assert problems == []
            store_intact(lab, store)
            remount(mount, "size=64m")
            lab.run("--store", store, "sync", "nas")
            problems, found, have, want = remote_check(store, "nas", lab.keyring, set())
            assert problems == [] and found == set() and have == want
    else:
        import backends.fsspec_backend as fb
        from archive.cli.main import main
        mount.mkdir()
        lab.run("--store", store, "remote", "add", "nas", mount)
        real_open = open

        class Full(io.FileIO):
            def write(self, data):  # type: ignore[no-untyped-def]
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def fake_open(path, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
            if "x" in mode and ".arkeep-tmp-" in str(path):
                return Full(path, mode.replace("b", ""))
            return real_open(path, mode, *args, **kwargs)
        monkeypatch.setattr(fb, "open", fake_open, raising=False)
        monkeypatch.setenv("ARKEEP_PASSPHRASE", lab.env["ARKEEP_PASSPHRASE"])
        code = main(["--store", str(store), "sync", "nas"])
        monkeypatch.undo()
        assert code == 3
        assert dir_remote_temps(mount) == []
        problems, *_ = remote_check(store, "nas", lab.keyring, all_missing(lab, store, "nas"))
        assert problems == []
        store_intact(lab, store)


# -- a read-only remote ------------------------------------------------------------------------------


def test_read_only_remote_directory(lab: Lab, tmp_path: Path) -> None:
    """chmod a-w on the remote directory (arkeep runs without root's override): exit 3, one line,
    the remote named, "denied access", fast; nothing counted."""
    nas = tmp_path / "nas"
    nas.mkdir()
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    lab.run("--store", store, "remote", "add", "nas", nas)
    nas.chmod(0o555)
    try:
        started = time.monotonic()
        result = lab.run("--store", store, "sync", "nas", check=False, **as_plain_user())
        took = time.monotonic() - started
    finally:
        nas.chmod(0o755)
    sync_line(result, "nas", "denied access")
    assert took < FAST
    assert list(nas.iterdir()) == []
    problems, *_ = remote_check(store, "nas", lab.keyring, all_missing(lab, store, "nas"))
    assert problems == []
    store_intact(lab, store)


def test_read_only_mounted_remote(lab: Lab, tmp_path: Path, can_mount: bool) -> None:
    """A remote on a filesystem remounted read-only (EROFS: no permission bit helps root)."""
    if not can_mount:
        pytest.skip("needs mount: a read-only remount of a tmpfs (mount -t tmpfs was refused)")
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    mount = tmp_path / "nas"
    with tmpfs(mount, "64m"):
        lab.run("--store", store, "remote", "add", "nas", mount)
        remount(mount, "ro")
        started = time.monotonic()
        result = lab.run("--store", store, "sync", "nas", check=False)
        took = time.monotonic() - started
        sync_line(result, "nas", "denied access")
        assert took < FAST
        remount(mount, "rw")
        problems, *_ = remote_check(store, "nas", lab.keyring, all_missing(lab, store, "nas"))
        assert problems == []
    store_intact(lab, store)


# -- S3: wrong credentials, an endpoint that does not answer ----------------------------------------


@pytest.fixture
def s3_store(lab: Lab, tmp_path: Path, s3_env) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A store with one release and an S3 remote 'cloud' (created with good credentials)."""
    env = {**lab.env, **s3_env.env(), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
           "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"]}
    store = lab.new_store(tmp_path / "store")
    lab.add_release(store)
    lab.run("--store", store, "remote", "add", "cloud", f"s3://{s3_env.new_bucket_name('f')}/a", env=env)
    return store, env


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wrong_s3_credentials(lab: Lab, s3_store: tuple[Path, dict[str, str]]) -> None:
    store, env = s3_store
    bad = {**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret-key-at-all"}
    started = time.monotonic()
    result = lab.run("--store", store, "sync", "cloud", env=bad, check=False)
    took = time.monotonic() - started
    line = sync_line(result, "cloud", "denied access")
    assert "not-the-secret" not in result.stderr + result.stdout
    assert took < FAST, (took, line)
    store_intact(lab, store)
    # Adding a remote with wrong credentials is refused as quickly, and not saved.
    result = lab.run("--store", store, "remote", "add", "cloud2", "s3://whatever-bucket/x", env=bad,
                     check=False)
    one_line(result, 3, "'cloud2'", "denied access")


def test_unreachable_s3_endpoint(lab: Lab, s3_store: tuple[Path, dict[str, str]]) -> None:
    store, env = s3_store
    port = closed_port()
    gone = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    started = time.monotonic()
    result = lab.run("--store", store, "sync", "cloud", env=gone, check=False)
    took = time.monotonic() - started
    line = sync_line(result, "cloud", "cannot be reached", f"127.0.0.1:{port}")
    assert took < FAST, (took, line)
    store_intact(lab, store)
    started = time.monotonic()
    result = lab.run("--store", store, "remote", "add", "cloud2", "s3://some-bucket/x", env=gone,
                     check=False)
    one_line(result, 3, "'cloud2'", "cannot be reached")
    assert time.monotonic() - started < FAST
