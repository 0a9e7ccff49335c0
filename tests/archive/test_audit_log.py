"""The audit log (issue 18, item 4): who changed or revealed what, hash-chained; `arkeep log`;
`verify` finds an edited or removed entry."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.crypto import keys
from tests.archive.replication_support import KEY, add_sample
from tests.conftest import PASSPHRASE

BOB = "bob's own long passphrase, 1987"


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_N", 2**10)
    monkeypatch.setattr(keys, "SCRYPT_P", 1)


def log_lines(store_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (store_dir / "log" / "audit.jsonl").read_text().splitlines()]


def write_lines(store_dir: Path, entries: list[dict]) -> None:  # type: ignore[type-arg]
    (store_dir / "log" / "audit.jsonl").write_text(
        "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries))


def session(cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    assert cli("show", sample.rid, "--reveal").code == 0
    bob = tmp_path / "bob.txt"
    bob.write_text(BOB + "\n")
    assert cli("key", "add", "bob", "--new-passphrase-file", bob).code == 0
    monkeypatch.setenv("ARKEEP_PASSPHRASE", BOB)
    assert cli("restore", sample.rid, "--to", tmp_path / "out").code == 0
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    assert cli("key", "remove", "bob").code == 0
    assert cli("list").code == 0 and cli("status").code in (0, 1)     # neither is recorded
    return sample


def test_each_change_and_reveal_is_recorded_with_its_slot_and_no_secret(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = session(cli, store_dir, tmp_path, monkeypatch)
    entries = log_lines(store_dir)
    assert [(e["command"], e["target"], e["slot"]) for e in entries] == [
        ("add", "Acme Studio@7.5.1", "owner"), ("show", sample.rid, "owner"),
        ("key add", "bob", "owner"), ("restore", sample.rid, "bob"), ("key remove", "bob", "owner")]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5] and all(e["exit"] == 0 for e in entries)
    assert all(e["user"] and e["host"] and e["mac"] for e in entries)
    raw = (store_dir / "log" / "audit.jsonl").read_text()
    for secret in (KEY, PASSPHRASE, BOB):
        assert secret not in raw
    assert (store_dir / "log" / "audit.jsonl").stat().st_mode & 0o077 == 0

    shown = cli("log")
    assert shown.code == 0 and len(shown.out.splitlines()) == 5
    assert "bob (" in shown.out.splitlines()[3] and "restore acme-studio@7.5.1" in shown.out
    about = json.loads(cli("log", "ACME-STUDIO@7.5.1", "--json").out)["entries"]
    assert [e["command"] for e in about] == ["show", "restore"]
    assert [e["command"] for e in json.loads(cli("log", "--limit", "1", "--json").out)["entries"]] \
        == ["key remove"]
    assert len(log_lines(store_dir)) == 5                # reading the log records nothing
    assert cli("verify").code == 0


def test_a_failed_command_that_changed_the_store_is_recorded_with_its_exit(  # type: ignore[no-untyped-def]
        cli, store_dir: Path) -> None:
    assert cli("key", "remove", "owner").code == 2
    (entry,) = log_lines(store_dir)
    assert (entry["command"], entry["target"], entry["exit"]) == ("key remove", "owner", 2)


@pytest.mark.parametrize("tamper", ["edit", "remove", "garble", "reorder"])
def test_verify_finds_an_edited_or_removed_entry(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tamper: str) -> None:
    session(cli, store_dir, tmp_path, monkeypatch)
    entries = log_lines(store_dir)
    if tamper == "edit":
        entries[3]["slot"] = "owner"              # hide that it was bob
        write_lines(store_dir, entries)
    elif tamper == "remove":
        write_lines(store_dir, entries[:1] + entries[2:])
    elif tamper == "reorder":
        write_lines(store_dir, [entries[1], entries[0], *entries[2:]])
    else:
        path = store_dir / "log" / "audit.jsonl"
        path.write_text(path.read_text().replace('"command":"show"', '"command":"sh'))
    result = cli("verify", "--json")
    assert result.code == 1, result.out
    problems = json.loads(result.out)["problems"]
    assert problems and all(p["release"] == "audit log" for p in problems), problems
    assert cli("verify").out.count("PROBLEM audit log / log/audit.jsonl") == len(problems)


def test_an_edit_with_its_hashes_recomputed_is_found_with_the_passphrase_only(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit of the chain, and what the keyed check adds: someone who rewrites entry 4 and
    recomputes every hash after it passes `verify` without the passphrase, not with it."""
    from archive.storage.audit_log import _digest

    session(cli, store_dir, tmp_path, monkeypatch)
    entries = log_lines(store_dir)
    entries[3]["slot"] = "owner"
    prev = entries[2]["hash"]
    for e in entries[3:]:
        e["prev"] = prev
        e["hash"] = prev = _digest(e)
    write_lines(store_dir, entries)
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    assert cli("verify").code == 0
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    result = cli("verify")
    assert result.code == 1 and result.out.count("keyed check fails") == 2, result.out


def test_a_changed_manifest_keeps_its_previous_version_and_log_restores_it(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    sample = add_sample(cli, tmp_path)
    release = store_dir / "manifests" / "releases" / f"{sample.rid}.toml"
    first = release.read_bytes()
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 an invoice")
    assert cli("add", sample.installer, "--product", "Acme Studio", "--version", "7.5.1",
               "--invoice", invoice).code == 0
    second = release.read_bytes()
    assert second != first
    listed = json.loads(cli("log", sample.rid, "--versions", "--json").out)
    assert [v["number"] for v in listed["versions"]] == [1] and listed["kind"] == "release"
    shown = cli("log", sample.rid, "--show-version", "1")
    assert shown.code == 0 and shown.out.encode() == first
    restored = cli("log", sample.rid, "--restore-version", "1")
    assert restored.code == 0, restored.err
    assert "invoice.pdf" not in release.read_text() and "invoice.pdf" in second.decode()
    assert [v["number"] for v in json.loads(cli("log", sample.rid, "--versions", "--json").out)["versions"]] == [1, 2]
    assert cli("verify").code == 0
    assert [e["command"] for e in log_lines(store_dir)][-1] == "log"

    # A removed release keeps its last version, and comes back from it.
    assert cli("remove", sample.rid, "--yes").code == 0 or cli("remove", sample.rid).code == 0
    assert not release.exists()
    assert cli("log", sample.rid, "--restore-version", "3").code == 0
    assert release.exists() and cli("show", sample.rid).code == 0
    missing = cli("log", sample.rid, "--restore-version", "9")
    assert missing.code == 2 and "no kept version 9" in missing.err
