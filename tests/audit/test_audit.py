"""`arkeep audit` (issue 15, items 1 and 2): a rolling re-read, with and without the passphrase."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.replicate.ledger import BAD, PRESENT, Ledger
from tests.archive.replication_support import KEY, add_sample, flip_byte, object_unit_key
from tests.conftest import PASSPHRASE

# Sync records real time; the simulated month starts after it.
DAY0 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setenv("ARKEEP_NOW", when.isoformat())


def no_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARKEEP_PASSPHRASE", raising=False)


def ledger_of(store_dir: Path) -> Ledger:
    return Ledger(store_dir / "state" / "ledger.sqlite")


def three_replicas(cli, store_dir: Path, tmp_path: Path, s3_env) -> dict[str, Path | None]:  # type: ignore[no-untyped-def]
    for n, version in enumerate(("7.5.1", "7.6.0", "8.0.0")):
        add_sample(cli, tmp_path, version=version, size=150_000 * (n + 1))
    usb = tmp_path / "media" / "usb1"
    usb.mkdir(parents=True)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    assert cli("remote", "add", "cloud", f"s3://{s3_env.new_bucket_name('audit')}/arkeep").code == 0
    assert cli("sync").code == 0
    return {"nas": tmp_path / "nas", "usb": usb / "arkeep", "cloud": None}


def test_thirty_daily_runs_at_a_thirtieth_reread_every_copy_of_every_replica(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, monkeypatch: pytest.MonkeyPatch) -> None:
    three_replicas(cli, store_dir, tmp_path, s3_env)
    no_passphrase(monkeypatch)
    with ledger_of(store_dir) as ledger:
        units = {r: {c.unit for c in ledger.copies(r)} for r in ("nas", "usb", "cloud")}
    assert all(len(u) >= 9 for u in units.values())
    reread: dict[str, set[str]] = {r: set() for r in units}
    for day in range(1, 31):
        at(monkeypatch, DAY0 + timedelta(days=day))
        result = cli("audit", "--budget", "1/30", "--json")
        assert result.code == 0, result.err
        report = json.loads(result.out)
        assert {r["name"]: r["mode"] for r in report["remotes"]} == dict.fromkeys(units, "digest")
        assert all(r["checked"] >= 1 for r in report["remotes"])
        with ledger_of(store_dir) as ledger:
            for remote in units:
                reread[remote] |= {c.unit for c in ledger.copies(remote)
                                   if c.verified_how == "digest"
                                   and c.verified_at == DAY0 + timedelta(days=day)}
    assert reread == units
    with ledger_of(store_dir) as ledger:
        assert all(c.verified_at > DAY0 for c in ledger.copies() if c.state == PRESENT)


def test_a_flipped_byte_is_found_without_the_passphrase_and_repaired_with_it(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path, size=300_000)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    key = object_unit_key(store_dir, "acme-studio@7.5.1", "AcmeStudio-Setup-7.5.1-x64.exe")
    flip_byte(tmp_path / "nas" / key)
    no_passphrase(monkeypatch)
    result = cli("audit", "--budget", "1")
    assert result.code == 1, result.out + result.err
    assert "PROBLEM nas: acme-studio@7.5.1 / AcmeStudio-Setup-7.5.1-x64.exe: bad copy" in result.out
    assert KEY not in result.out + result.err and PASSPHRASE not in result.out + result.err
    with ledger_of(store_dir) as ledger:
        assert BAD in {c.state for c in ledger.copies("nas")}
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    repaired = cli("audit", "--budget", "1", "--repair", "--json")
    assert repaired.code == 1, repaired.err           # found again (the ledger says bad: re-read)
    assert json.loads(repaired.out)["remotes"][0]["rewritten"] >= 1
    full = cli("audit", "--budget", "1", "--json")
    assert full.code == 0, full.out + full.err
    assert json.loads(full.out)["remotes"][0]["mode"] == "full"
    no_passphrase(monkeypatch)
    assert cli("audit", "--budget", "1").code == 0


def test_a_truncated_copy_is_found_from_the_listing_alone(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path, size=300_000)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    path = tmp_path / "nas" / object_unit_key(store_dir, "acme-studio@7.5.1",
                                               "AcmeStudio-Setup-7.5.1-x64.exe")
    path.chmod(0o644)
    with path.open("r+b") as f:
        f.truncate(1000)
    no_passphrase(monkeypatch)
    result = cli("audit", "--max-bytes", "1", "--json")
    assert result.code == 1
    (problem,) = json.loads(result.out)["remotes"][0]["problems"]
    assert "1000 bytes" in problem["problem"]
    assert problem["releases"] == [{"release": "acme-studio@7.5.1",
                                    "file": "AcmeStudio-Setup-7.5.1-x64.exe"}]


def test_an_unplugged_drive_is_skipped_and_copies_without_a_digest_are_named(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path)
    usb = tmp_path / "usb1"
    usb.mkdir()
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    with ledger_of(store_dir) as ledger:     # as in a ledger from before audits
        ledger.db.execute("UPDATE copies SET sealed_digest=NULL WHERE remote='nas'")
    usb.rename(tmp_path / "unplugged")
    no_passphrase(monkeypatch)
    result = cli("audit", "--json")
    assert result.code == 0, result.err
    remotes = {r["name"]: r for r in json.loads(result.out)["remotes"]}
    assert remotes["usb"]["status"] == "skipped"
    assert remotes["nas"]["checked"] == 0 and remotes["nas"]["no_digest"] >= 3
    told = cli("audit")
    assert "without a recorded digest" in told.err and "passphrase" in told.err
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    assert cli("audit", "nas", "--budget", "1").code == 0
    with ledger_of(store_dir) as ledger:
        assert all(c.sealed_digest for c in ledger.copies("nas"))


def test_a_folder_remote_showing_no_unit_at_all_is_an_environment_failure(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    (tmp_path / "nas").rename(tmp_path / "nas-away")
    (tmp_path / "nas").mkdir()          # an empty mount point
    no_passphrase(monkeypatch)
    result = cli("audit")
    assert result.code == 3 and "is it mounted?" in result.err, result.out + result.err


def test_bad_budgets_and_clocks_are_input_errors(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    for args in (("--budget", "0"), ("--budget", "3/2"), ("--budget", "x"), ("--max-bytes", "lots")):
        with pytest.raises(SystemExit) as exited:
            cli("audit", *args)
        assert exited.value.code == 2
    monkeypatch.setenv("ARKEEP_NOW", "yesterday")
    result = cli("audit")
    assert result.code == 2 and "ARKEEP_NOW" in result.err
