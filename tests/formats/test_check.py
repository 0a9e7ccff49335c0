"""`arkeep check PRODUCT@VERSION` and `status --ready`: can it be reinstalled today, and why not."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.storage.store import Store
from tests.formats.conftest import import_args, write_csv
from tests.formats.test_export import KEY, add_release
from tests.support.manifest_edit import edited

RID = "acme-studio@7.5.1"


def check(cli, ref: str = RID) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    result = cli("check", ref, "--json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def messages(data: dict, severity: str | None = None) -> list[str]:
    return [r["message"] for r in data["reasons"] if severity in (None, r["severity"])]


@pytest.fixture
def replicated(cli, store_dir: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """The sample release with two verified copies, one of them offsite."""
    add_release(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "vault", tmp_path / "vault", "--create", "--offsite").code == 0
    assert cli("sync").code == 0
    return tmp_path


def test_no_replica_is_at_risk(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_release(cli, tmp_path)
    text = cli("check", RID)
    assert text.code == 1
    assert text.out.startswith("AT RISK: Acme Studio 7.5.1")
    code, data = check(cli)
    assert code == 1 and data["verdict"] == "at risk" and data["restorable"] is False
    risks = messages(data, "risk")
    assert any("0 verified remote copies, the policy wants 2" in m for m in risks)
    assert any("0 verified offsite copies" in m for m in risks)
    assert any("key present and decrypts" in m for m in messages(data, "ok"))
    assert any("invoice: invoice-2024.pdf" in m for m in messages(data, "ok"))
    assert any("no licence file archived" in m for m in messages(data, "info"))
    assert KEY not in text.out + json.dumps(data)


def test_two_verified_copies_one_offsite_is_restorable(cli, replicated: Path) -> None:  # type: ignore[no-untyped-def]
    text = cli("check", RID)
    assert text.code == 0, text.out
    assert text.out.startswith("RESTORABLE: Acme Studio 7.5.1")
    code, data = check(cli)
    assert code == 0 and data["verdict"] == "restorable" and data["key_checked"] is True
    assert {(r["name"], r["offsite"], r["complete"]) for r in data["remotes"]} == \
        {("nas", False, True), ("vault", True, True)}
    assert all(r["verified_at"] for r in data["remotes"])
    ready = cli("status", "--ready")
    assert ready.code == 0 and "1 restorable, 0 at risk, 0 not restorable" in ready.out


def test_one_remote_only_or_onsite_only_stays_at_risk(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_release(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "usb", tmp_path / "usb", "--create").code == 0
    assert cli("sync").code == 0
    code, data = check(cli)
    assert code == 1 and messages(data, "risk") == [("0 verified offsite copies, the policy wants 1 "
                                                    "(`arkeep remote add NAME URL --offsite`)")]


def test_without_the_passphrase_the_key_is_not_checked(cli, replicated: Path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    code, data = check(cli)
    assert code == 0 and data["key_checked"] is False
    assert any("decryption not checked" in m for m in messages(data, "info"))
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "wrong")
    assert cli("check", RID).code == 2


def test_a_key_that_does_not_decrypt_is_not_restorable(cli, replicated: Path, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(store_dir)
    (lid,) = store.catalog.load_release(RID).licenses
    path = store.catalog.license_path(lid)
    text = path.read_text()
    start = text.index('key = "ENC[AES256_GCM,v1,') + len('key = "ENC[AES256_GCM,v1,')
    flipped = text[:start] + ("B" if text[start] != "B" else "C") + text[start + 1:]
    path.write_text(edited(flipped, "", ""))     # a valid file (digest line) with a bad secret
    code, data = check(cli)
    assert code == 1 and data["verdict"] == "not restorable"
    assert any("cannot be decrypted" in m for m in messages(data, "blocker"))


def test_missing_installer(cli, replicated: Path, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(store_dir)
    art = store.catalog.load_release(RID).installers()[0]
    store.object_path(art.blake3).unlink()
    code, data = check(cli)
    assert code == 1 and data["verdict"] == "at risk"
    assert any("missing from the local store (copies on nas, vault" in m for m in messages(data, "risk"))
    assert cli("remote", "remove", "nas").code == 0
    assert cli("remote", "remove", "vault").code == 0
    code, data = check(cli)
    assert data["verdict"] == "not restorable"
    assert any("no remote holds a copy" in m for m in messages(data, "blocker"))


def test_stale_verification_is_at_risk(cli, replicated: Path, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    old = (datetime.now(timezone.utc) - timedelta(days=200)).replace(microsecond=0).isoformat()
    with sqlite3.connect(store_dir / "state" / "ledger.sqlite") as db:
        db.execute("UPDATE copies SET verified_at=? WHERE remote='vault'", (old,))
    code, data = check(cli)
    assert code == 1
    assert any("the copy on vault was last verified" in m for m in messages(data, "risk"))


def test_expired_licence_and_vendor_dependent_activation(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_release(cli, tmp_path, product="Cloud Suite", version="2020",
                extra=("--license-kind", "subscription", "--expires", "2021-01-31",
                       "--maintenance-end", "2021-01-31", "--vendor", "Megacorp"))
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "vault", tmp_path / "vault", "--create", "--offsite").code == 0
    assert cli("sync").code == 0
    code, data = check(cli, "cloud-suite@2020")
    assert code == 1 and data["verdict"] == "at risk"
    topics = {r["topic"] for r in data["reasons"] if r["severity"] == "risk"}
    assert topics == {"licence", "activation"}
    assert any("expired on 2021-01-31" in m for m in messages(data, "risk"))
    assert any("subscription: activating it needs Megacorp" in m for m in messages(data, "risk"))
    assert any("maintenance of licence" in m for m in messages(data, "info"))


def test_an_imported_licence_without_installer_is_not_restorable(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                bitwarden_json) -> None:
    assert cli(*import_args(bitwarden_json, tmp_path)).code == 0
    add_release(cli, tmp_path)
    code, data = check(cli, "affinity-photo@1.10.6+windows-x64")
    assert code == 1 and data["verdict"] == "not restorable"
    assert any("no installer is archived" in m for m in messages(data, "blocker"))
    ready = cli("status", "--ready", "--json")
    assert ready.code == 1
    report = json.loads(ready.out)
    assert report["ready"] is False and report["licenses_without_release"] == []
    assert {r["release"]: r["verdict"] for r in report["releases"]} == {
        "affinity-photo@1.10.6+windows-x64": "not restorable", RID: "at risk"}
    text = cli("status", "--ready")
    assert text.code == 1 and "NOT RESTORABLE: Affinity Photo" in text.out
    assert "0 restorable, 1 at risk, 1 not restorable" in text.out


def test_check_of_an_unknown_release(cli, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "nothing@1")
    assert result.code == 2 and "no release matches" in result.err


def test_csv_import_of_a_release_then_add_installer_links_the_licence(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                                      tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", ["Product", "Version", "Serial"], [["Acme Studio", "7.5.1", KEY]])
    assert cli("import", "csv", path).code == 0
    add_release(cli, tmp_path, key=KEY)          # the same key: the imported record is reused
    release = Store.open(store_dir).catalog.load_release(RID)
    assert len(release.licenses) == 1 and release.installers()


def test_status_ready_names_licences_without_a_release(cli, store_dir: Path, keepass_kdbx,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    assert cli(*import_args(keepass_kdbx, tmp_path)).code == 0
    report = json.loads(cli("status", "--ready", "--json").out)
    assert len(report["licenses_without_release"]) == 1
    text = cli("status", "--ready")
    assert "1 licence record(s) belong to no release" in text.err


def test_status_and_check_give_one_verdict(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           bitwarden_json) -> None:
    """An import-only release (a licence, no installer) is not restorable for `status` too,
    however many remotes hold its manifest; a release whose installer is gone from everywhere
    likewise."""
    assert cli(*import_args(bitwarden_json, tmp_path)).code == 0
    add_release(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "vault", tmp_path / "vault", "--create", "--offsite").code == 0
    assert cli("sync").code == 0
    imported = "affinity-photo@1.10.6+windows-x64"
    assert check(cli, imported)[1]["verdict"] == "not restorable"
    assert check(cli, RID)[1]["verdict"] == "restorable"

    result = cli("status", "--json")
    assert result.code == 1
    rows = {r["release"]: r for r in json.loads(result.out)["releases"]}
    assert rows[imported]["verdict"] == "not restorable" and rows[imported]["ok"] is False
    assert any("no installer is archived" in b for b in rows[imported]["blockers"])
    assert rows[RID]["verdict"] == "restorable" and rows[RID]["ok"] is True
    text = cli("status")
    assert text.code == 1
    assert f"NOT RESTORABLE {imported}" in text.out and "no installer is archived" in text.out
    assert "1 cannot be restored at all" in text.out

    store = Store.open(store_dir)
    art = store.catalog.load_release(RID).installers()[0]
    store.object_path(art.blake3).unlink()
    for name in ("nas", "vault"):
        assert cli("remote", "remove", name).code == 0
    assert check(cli, RID)[1]["verdict"] == "not restorable"
    rows = {r["release"]: r for r in json.loads(cli("status", "--json").out)["releases"]}
    assert rows[RID]["verdict"] == "not restorable"
    assert any("no remote holds a copy" in b for b in rows[RID]["blockers"])
