"""`arkeep status`: copies per release against the policy (3-2-1), exit 1 when it is broken."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.storage.store import Store
from tests.archive.replication_support import (
    Sample,
    add_sample,
    flip_byte,
    object_unit_key,
)


def status_json(cli) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    result = cli("status", "--json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def age_verifications(store_dir: Path, remote: str, days: int) -> None:
    when = (datetime.now(timezone.utc) - timedelta(days=days)).replace(microsecond=0).isoformat()
    with sqlite3.connect(store_dir / "state" / "ledger.sqlite") as db:
        changed = db.execute("UPDATE copies SET verified_at=? WHERE remote=?", (when, remote)).rowcount
    assert changed > 0


def set_policy(store_dir: Path, **values: int) -> None:
    store = Store.open(store_dir)
    config = store.config
    config["policy"] = values
    store.save_config(config)


@pytest.fixture
def nas_only(cli, store_dir: Path, tmp_path: Path) -> tuple[Sample, Path]:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("sync").code == 0
    return sample, nas


@pytest.fixture
def nas_and_cloud(cli, nas_only, s3_env) -> tuple[Sample, Path]:  # type: ignore[no-untyped-def]
    bucket = s3_env.new_bucket_name("status")
    added = cli("remote", "add", "cloud", f"s3://{bucket}/arkeep")
    assert added.code == 0, added.err
    assert "offsite" in added.out    # S3 is offsite by default
    assert cli("sync").code == 0
    return nas_only


def test_nothing_synced_yet_is_at_risk(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = add_sample(cli, tmp_path)
    code, data = status_json(cli)
    assert code == 1 and data["ok"] is False
    assert data["releases"][0]["release"] == sample.rid
    assert data["releases"][0]["good_remotes"] == []


def test_one_onsite_directory_is_too_few_copies_and_not_offsite(cli, nas_only, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sample, _ = nas_only
    result = cli("status")
    assert result.code == 1
    assert f"AT RISK {sample.rid}: copies on nas" in result.out
    assert "1 remote copies, the policy wants 2" in result.out
    assert "0 offsite copies, the policy wants 1" in result.out
    # A policy that one onsite copy satisfies is honoured.
    set_policy(store_dir, min_remotes=1, min_offsite=0)
    assert cli("status").code == 0


def test_a_directory_and_a_bucket_meet_the_policy(cli, nas_and_cloud) -> None:  # type: ignore[no-untyped-def]
    sample, _ = nas_and_cloud
    code, data = status_json(cli)
    assert code == 0, data
    assert data["ok"] is True
    assert data["policy"] == {"min_remotes": 2, "min_offsite": 1, "max_verify_age_days": 90,
                              "drive_warn_days": 30}
    assert data["notes"] == []
    (release,) = data["releases"]
    assert release == {"release": sample.rid, "ok": True, "verdict": "restorable", "blockers": [],
                       "good_remotes": ["cloud", "nas"],
                       "offsite_remotes": ["cloud"], "problems": [], "warnings": []}
    text = cli("status")
    assert text.code == 0 and f"OK      {sample.rid}: copies on cloud, nas" in text.out
    assert "1 of 1 release meets the policy" in text.out


def test_a_copy_found_bad_by_verify_breaks_the_policy(cli, nas_and_cloud, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sample, nas = nas_and_cloud
    flip_byte(nas / object_unit_key(store_dir, sample.rid, sample.installer.name))
    assert cli("status").code == 0          # status reads the ledger only: nothing known yet
    assert cli("verify", "--remote", "nas").code == 1
    code, data = status_json(cli)
    assert code == 1
    (release,) = data["releases"]
    assert release["ok"] is False and release["good_remotes"] == ["cloud"]
    assert any("a copy on nas is known to be bad" in p for p in release["problems"])
    assert cli("repair").code == 0
    assert cli("status").code == 0


def test_max_verify_age_days_is_honoured(cli, nas_and_cloud, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    age_verifications(store_dir, "nas", 200)
    result = cli("status")
    assert result.code == 1
    assert "the copy on nas was last verified" in result.out
    assert "run `arkeep verify --remote nas`" in result.out
    assert "cloud was last verified" not in result.out
    set_policy(store_dir, max_verify_age_days=365)
    assert cli("status").code == 0
    set_policy(store_dir, max_verify_age_days=100)
    assert cli("status").code == 1
    # Reading the copies back counts as a fresh verification.
    assert cli("verify", "--remote", "nas").code == 0
    assert cli("status").code == 0


def test_a_drive_not_seen_for_long_is_a_warning(cli, nas_and_cloud, store_dir: Path,  # type: ignore[no-untyped-def]
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mnt = tmp_path / "mnt"
    (mnt / "usb1").mkdir(parents=True)
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(mnt))
    assert cli("remote", "add", "usb", mnt / "usb1", "--drive").code == 0
    code, data = status_json(cli)
    assert code == 0 and data["notes"] == ["drive 'usb' has never been synced"]
    assert cli("sync").code == 0
    long_ago = (datetime.now(timezone.utc) - timedelta(days=45)).replace(microsecond=0).isoformat()
    with sqlite3.connect(store_dir / "state" / "ledger.sqlite") as db:
        db.execute("UPDATE remotes_seen SET last_seen=? WHERE remote='usb'", (long_ago,))
    result = cli("status")
    assert result.code == 0
    assert f"warning: drive 'usb' was last seen {long_ago[:10]}" in result.err
