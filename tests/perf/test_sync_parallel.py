"""Sync of many small units: pushed by a bounded pool, kind by kind, recorded in batches; a sync
with nothing to do seals nothing. Correctness only (speed: scripts/bench)."""
from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import pytest

import archive.replicate.sync as sync_ops
import archive.replicate.sealing as sealing_mod
from archive.replicate.ledger import PRESENT, Ledger
from archive.replicate.plan import plan_units
from archive.storage.store import Store
from archive.replicate.units import KEY_UNIT, KIND_LICENSE, KIND_OBJECT, KIND_RELEASE, unit_name_of_key
from tests.conftest import PASSPHRASE
from tests.support.manifest_edit import edited

COUNT = 12      # above sync's PARALLEL_FROM: the pool is used for every kind


def add_many(cli, base: Path, count: int = COUNT) -> None:  # type: ignore[no-untyped-def]
    base.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        f = base / f"tool-{i}-setup.exe"
        f.write_bytes(f"installer {i}\n".encode() * (50 + i))
        result = cli("add", f, "--product", f"Tool {i}", "--version", "1.0", "--licensed-to", f"Owner {i}")
        assert result.code == 0, result.err


def remote_keys(root: Path) -> set[str]:
    """The files of a replica but the audit log's copies (tests/archive/test_audit_replication.py)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith(("log/", "history/"))}


def wanted(store_dir: Path) -> set[str]:
    store = Store.open(store_dir)
    return {KEY_UNIT} | {w.unit.key for w in plan_units(store, store.unlock(PASSPHRASE)).units}


def present_rows(store_dir: Path, remote: str) -> set[str]:
    with Ledger(store_dir / "state" / "ledger.sqlite") as ledger:
        return {c.unit for c in ledger.copies(remote) if c.state == PRESENT}


def sync(cli, *names: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("sync", *names, "--json")
    assert result.code == 0, result.err
    return {row["remote"]: row for row in json.loads(result.out)}


@pytest.fixture
def nas(cli, store_dir: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    add_many(cli, tmp_path / "src")
    remote = tmp_path / "nas"
    assert cli("remote", "add", "nas", remote, "--create").code == 0
    return remote


def test_many_small_units_arrive_kind_by_kind(cli, store_dir: Path, nas: Path,  # type: ignore[no-untyped-def]
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    threads: set[str] = set()
    real = sync_ops._push

    def logged(backend, secret, wanted, progress):  # type: ignore[no-untyped-def]
        with lock:
            events.append(("start", wanted.unit.kind))
            threads.add(threading.current_thread().name)
        result = real(backend, secret, wanted, progress)
        with lock:
            events.append(("end", wanted.unit.kind))
        return result
    monkeypatch.setattr(sync_ops, "_push", logged)
    rows = sync(cli)
    want = wanted(store_dir)
    assert rows["nas"]["pushed"] == len(want)          # key.toml + 3 x COUNT units
    assert len(want) == 1 + 3 * COUNT
    assert remote_keys(nas) == want
    assert len(threads) > 1                            # the pool did the work
    order = [KIND_OBJECT, KIND_LICENSE, KIND_RELEASE]
    for earlier, later in zip(order, order[1:]):
        last_end = max(i for i, e in enumerate(events) if e == ("end", earlier))
        first_start = min(i for i, e in enumerate(events) if e == ("start", later))
        assert last_end < first_start, f"a {later} unit started before every {earlier} unit was written"
    assert present_rows(store_dir, "nas") == {unit_name_of_key(k) for k in want if k != KEY_UNIT}
    assert cli("verify", "--remote", "nas").code == 0


def test_a_sync_with_nothing_to_do_seals_and_reads_nothing(cli, store_dir: Path, nas: Path,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sync(cli)

    def forbidden(*_: object) -> bytes:
        raise AssertionError("a manifest was serialised for a sync with nothing to do")
    monkeypatch.setattr(sealing_mod, "sealed_release_bytes", forbidden)
    monkeypatch.setattr(sealing_mod, "sealed_license_bytes", forbidden)
    monkeypatch.setattr(sync_ops, "unseal_unit_bytes", forbidden)
    rows = sync(cli)
    assert rows["nas"]["status"] == "up-to-date" and rows["nas"]["pushed"] == 0
    assert rows["nas"]["already_present"] == 3 * COUNT


def test_an_edited_manifest_is_the_only_unit_sent(cli, store_dir: Path, nas: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sync(cli)
    store = Store.open(store_dir)
    path = store.catalog.release_path("tool-3@1.0")
    path.write_text(edited(path.read_text(), 'version = "1.0"', 'version = "1.0"\nnotes = "edited"'))
    rows = sync(cli)
    assert rows["nas"]["pushed"] == 1
    assert cli("verify", "--remote", "nas").code == 0


def test_an_interrupted_parallel_sync_records_only_what_was_written(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, nas: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sync_ops._push
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(backend, secret, wanted, progress):  # type: ignore[no-untyped-def]
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n % 5 == 0:
            raise OSError(errno.EIO, "Input/output error")
        return real(backend, secret, wanted, progress)
    monkeypatch.setattr(sync_ops, "_push", flaky)
    result = cli("sync")
    assert result.code != 0
    on_remote = remote_keys(nas)
    assert not any(".arkeep-" in k for k in on_remote)
    want = wanted(store_dir)
    assert on_remote < want
    assert present_rows(store_dir, "nas") == {unit_name_of_key(k) for k in on_remote if k != KEY_UNIT}
    monkeypatch.setattr(sync_ops, "_push", real)
    rows = sync(cli)
    assert rows["nas"]["pushed"] == len(want) - len(on_remote)
    assert remote_keys(nas) == want
    assert cli("verify", "--remote", "nas").code == 0
