"""arkeep unlock / lock: the secret held in memory by an agent for a while, never on disk.

Each command runs as its own process with no passphrase and no terminal, as a later command of
the user would; the runtime folder is a private temp folder of the test (short: a Unix socket's
path is limited to about 100 bytes)."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.crypto.agent import AgentPlace
from archive.storage.store import Store
from tests.archive.replication_support import KEY, PASSPHRASE, add_sample
from tests.conftest import ROOT, run_arkeep


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    for keyfile in folder.glob("arkeep/*.key"):     # an agent a failed test left running ends too
        keyfile.unlink()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def later(store_dir: Path, runtime: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run arkeep as a later command: no passphrase in the environment, no terminal."""
    env = {k: v for k, v in os.environ.items() if k != "ARKEEP_PASSPHRASE"}
    env.update(XDG_RUNTIME_DIR=str(runtime), ARKEEP_STORE=str(store_dir), PYTHONPATH=str(ROOT))
    pass_file = tmp_path / "pass.txt"
    pass_file.write_text(PASSPHRASE + "\n")

    def run(*args: str | Path, passphrase: bool = False, timeout: float | None = None):  # type: ignore[no-untyped-def]
        extra = ["--passphrase-file", pass_file] if passphrase else []
        return run_arkeep(*args, *extra, env=env, timeout=timeout)
    return run


def agent_pids(key_id: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"archive.crypto.agent" in argv and any(key_id.encode() in a for a in argv):
                pids.append(int(proc.name))
    return pids


def wait_until(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_unlocked_commands_need_no_passphrase_until_lock(cli, store_dir: Path, tmp_path: Path, later, runtime: Path) -> None:  # type: ignore[no-untyped-def]
    add_sample(cli, tmp_path)
    key_id = Store.open(store_dir).key_id
    code = Store.open(store_dir).unlock(PASSPHRASE).recovery_code
    refused = later("show", "acme-studio@7.5.1", "--reveal")
    assert refused.returncode == 2 and "a passphrase is needed" in refused.stderr

    unlocked = later("unlock", "--for", "10m", passphrase=True)
    assert unlocked.returncode == 0 and key_id in unlocked.stdout, unlocked.stderr
    shown = later("show", "acme-studio@7.5.1", "--reveal")
    assert shown.returncode == 0 and KEY in shown.stdout, shown.stderr
    # Nothing of the secret on disk or in the agent's command line.
    (pid,) = agent_pids(key_id)
    assert code.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    for path in [*runtime.rglob("*"), *store_dir.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert code.encode() not in data and code.replace("-", "").encode() not in data, path
    assert oct((runtime / "arkeep").stat().st_mode & 0o777) == "0o700"
    assert oct(AgentPlace.for_key(key_id).keyfile.stat().st_mode & 0o777) == "0o600"

    locked = later("lock")
    assert locked.returncode == 0 and "Locked" in locked.stdout
    assert wait_until(lambda: not agent_pids(key_id))
    assert list((runtime / "arkeep").iterdir()) == []
    again = later("show", "acme-studio@7.5.1", "--reveal")
    assert again.returncode == 2 and KEY not in again.stdout
    assert "Nothing to lock" in later("lock").stdout


def test_the_unlock_ends_by_itself_and_when_its_socket_goes(cli, store_dir: Path, tmp_path: Path, later, runtime: Path) -> None:  # type: ignore[no-untyped-def]
    key_id = Store.open(store_dir).key_id
    assert later("unlock", "--for", "2s", passphrase=True).returncode == 0
    assert later("list").returncode == 0
    assert wait_until(lambda: not agent_pids(key_id), 8)
    assert "a passphrase is needed" in later("key", "export", "--recovery-kit", tmp_path / "k.txt").stderr

    assert later("unlock", "--for", "1h", passphrase=True).returncode == 0
    assert agent_pids(key_id)
    shutil.rmtree(runtime / "arkeep")          # what logout does to XDG_RUNTIME_DIR
    assert wait_until(lambda: not agent_pids(key_id), 8)


def test_a_stranger_or_another_archive_gets_nothing(cli, store_dir: Path, tmp_path: Path, later, runtime: Path) -> None:  # type: ignore[no-untyped-def]
    key_id = Store.open(store_dir).key_id
    assert later("unlock", passphrase=True).returncode == 0
    try:
        keyfile = AgentPlace.for_key(key_id).keyfile
        assert oct(keyfile.stat().st_mode & 0o777) == "0o600"
        good = keyfile.read_bytes()
        keyfile.write_bytes(os.urandom(len(good)))       # a client that does not know the key
        refused = later("key", "export", "--recovery-kit", tmp_path / "kit.txt")
        assert refused.returncode == 2 and "a passphrase is needed" in refused.stderr
        assert agent_pids(key_id), "the agent outlives a failed authentication"
        keyfile.write_bytes(good)
        assert later("key", "export", "--recovery-kit", tmp_path / "kit.txt").returncode == 0
        # Another archive's store does not use this agent.
        other = tmp_path / "other"
        made = later("--store", other, "init", "--weak-passphrase-ok", passphrase=True)
        assert made.returncode == 0, made.stderr
        asked = later("--store", other, "key", "export", "--recovery-kit", tmp_path / "kit2.txt")
        assert asked.returncode == 2 and "a passphrase is needed" in asked.stderr
    finally:
        later("lock")


def test_bad_input_and_an_unsafe_runtime_folder(cli, store_dir: Path, later, runtime: Path) -> None:  # type: ignore[no-untyped-def]
    for bad in ("0", "25h", "soon"):
        result = later("unlock", "--for", bad, passphrase=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (bad, result.stderr)
    (runtime / "arkeep").mkdir(mode=0o755)
    os.chmod(runtime / "arkeep", 0o755)
    unsafe = later("unlock", passphrase=True)
    assert unsafe.returncode == 3 and "not a private folder" in unsafe.stderr
    assert later("list", passphrase=True).returncode == 0      # the rest works as before
    assert not agent_pids(Store.open(store_dir).key_id)


def test_a_wrong_passphrase_starts_no_agent(store_dir: Path, later, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / "wrong.txt"
    env_file.write_text("not the passphrase\n")
    result = later("unlock", "--passphrase-file", env_file)
    assert result.returncode == 2 and not agent_pids(Store.open(store_dir).key_id)


def test_unlocked_replica_commands_read_the_replica_without_the_passphrase(cli, store_dir: Path, tmp_path: Path, later, runtime: Path) -> None:  # type: ignore[no-untyped-def]
    """sync, verify --remote and restore --from use the agent too (verify --remote asked for the
    passphrase whatever the agent held)."""
    add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    assert later("remote", "add", "nas", nas, "--create").returncode == 0
    assert later("unlock", "--for", "10m", passphrase=True).returncode == 0
    try:
        synced = later("sync", "nas")
        assert synced.returncode == 0, synced.stderr
        checked = later("verify", "--remote", "nas")
        assert checked.returncode == 0, checked.stderr
        restored = later("restore", "acme-studio@7.5.1", "--to", tmp_path / "out", "--from", "nas")
        assert restored.returncode == 0, restored.stderr
        assert any((tmp_path / "out").rglob("*"))
        # A damaged bundle is still found without the passphrase.
        bundle = max((p for p in nas.rglob("*.zip")), key=lambda p: p.stat().st_size)
        bundle.chmod(0o644)
        with bundle.open("r+b") as f:
            f.seek(bundle.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
        damaged = later("verify", "--remote", "nas")
        assert damaged.returncode == 1, damaged.stderr
    finally:
        later("lock")
    refused = later("verify", "--remote", "nas")
    assert refused.returncode == 2 and "a passphrase is needed" in refused.stderr


def test_a_caller_that_stalls_holds_up_nobody(cli, store_dir: Path, tmp_path: Path, later, runtime: Path) -> None:  # type: ignore[no-untyped-def]
    """Callers connect, then say nothing (before the handshake, or after it with no request);
    a later command is still answered. When one agent thread served callers in turn, the first
    silent one held every later command forever (the timeout only turns that hang into a failure)."""
    import socket
    from multiprocessing.connection import Client

    add_sample(cli, tmp_path)
    key_id = Store.open(store_dir).key_id
    assert later("unlock", passphrase=True).returncode == 0
    place = AgentPlace.for_key(key_id)
    silent = []
    try:
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX)
            s.connect(place.address)                  # never answers the challenge
            silent.append(s)
        authkey = place.keyfile.read_bytes()
        mute = Client(place.address, family=place.family, authkey=authkey)   # sends no request
        shown = later("show", "acme-studio@7.5.1", "--reveal", timeout=120)
        assert shown.returncode == 0 and KEY in shown.stdout, shown.stderr
        mute.close()
    finally:
        for s in silent:
            s.close()
        later("lock")
    assert wait_until(lambda: not agent_pids(key_id))
