"""`status` per replica (issue 15, item 6): the last full verification of each, and which drive
to plug in next, with what it lacks and when it was last seen."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.archive.replication_support import add_sample

LATER = datetime.now(UTC).replace(microsecond=0) + timedelta(days=97, hours=1)


def test_status_says_which_drive_to_plug_in_and_when_each_replica_was_fully_verified(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path, version="1.0")
    usb = tmp_path / "media" / "usb2"
    usb.mkdir(parents=True)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "usb2", usb, "--drive").code == 0
    assert cli("sync").code == 0
    away = tmp_path / "drawer"
    usb.rename(away)                                   # unplugged
    add_sample(cli, tmp_path, version="2.0")
    add_sample(cli, tmp_path, version="3.0")
    assert cli("sync").code == 0                       # nas gets them; usb2 is skipped
    monkeypatch.setenv("ARKEEP_NOW", LATER.isoformat())
    text = cli("status")
    assert text.code == 1
    assert "replica usb2 (drive): 1 of 3 releases complete, last full verification " \
           f"{(LATER - timedelta(days=97)):%Y-%m-%d}" in text.out
    assert "- plug in usb2: 2 releases missing, last verified 97 days ago (last seen 97 days " \
           "ago); then `arkeep sync usb2` or `arkeep audit usb2`" in text.out
    assert "- nas: last verified 97 days ago; run `arkeep audit nas`" in text.out
    rows = {r["name"]: r for r in json.loads(cli("status", "--json").out)["replicas"]}
    assert rows["usb2"]["releases_missing"] == 2 and rows["usb2"]["releases_complete"] == 1
    assert rows["usb2"]["days_since_verification"] == 97 and rows["usb2"]["kind"] == "drive"
    assert rows["nas"]["releases_missing"] == 0 and rows["nas"]["units"] >= 9
    # An audit of nas re-reads every copy: its full verification is today, no advice left.
    assert cli("audit", "nas", "--budget", "1").code == 0
    rows = {r["name"]: r for r in json.loads(cli("status", "--json").out)["replicas"]}
    assert rows["nas"]["last_full_verification"] == LATER.isoformat()
    assert rows["nas"]["advice"] is None and rows["nas"]["days_since_verification"] == 0
    # Plugged in and synced, the drive lacks nothing; audited, it is verified today.
    away.rename(usb)
    assert cli("sync", "usb2").code == 0
    assert cli("audit", "usb2", "--budget", "1").code == 0
    rows = {r["name"]: r for r in json.loads(cli("status", "--json").out)["replicas"]}
    assert rows["usb2"]["releases_missing"] == 0 and rows["usb2"]["advice"] is None
    assert "plug in" not in cli("status").out
