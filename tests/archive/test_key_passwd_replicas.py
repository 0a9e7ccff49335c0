"""Issue 12 item 5: `key passwd` puts the new key file on every reachable replica at once, says
which were not reachable, and `status` names replicas still holding the old one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.archive.replication_support import add_sample

NEW = "a new and longer passphrase"


def test_key_passwd_updates_reachable_replicas_and_status_names_the_others(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = add_sample(cli, tmp_path)
    nas, usb = tmp_path / "nas", tmp_path / "drives" / "usb1"
    nas.mkdir()
    usb.mkdir(parents=True)
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    assert cli("sync").code == 0
    old_key = (store_dir / "key.toml").read_bytes()
    away = tmp_path / "unplugged"
    usb.rename(away)

    new_file = tmp_path / "new-passphrase.txt"
    new_file.write_text(NEW + "\n")
    changed = cli("key", "passwd", "--new-passphrase-file", new_file)
    assert changed.code == 0, changed.out + changed.err
    assert "the new key file is on: nas" in changed.out
    assert "NOT updated: usb: not reachable (" in changed.out and "OLD passphrase" in changed.out
    assert NEW not in changed.out + changed.err
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes() != old_key
    assert (away / "arkeep" / "key.toml").read_bytes() == old_key

    status = cli("status", "--json")
    notes = json.loads(status.out)["notes"]
    assert [n for n in notes if "key file" in n] == [
        "remote 'usb' holds the key file of an older passphrase (a rebuild from it needs that "
        "passphrase); `arkeep sync usb` updates it"]
    assert "remote 'usb' holds the key file of an older passphrase" in cli("status").err

    # The replica that was reachable rebuilds with the new passphrase.
    monkeypatch.setenv("ARKEEP_PASSPHRASE", NEW)
    rebuilt = cli("--store", tmp_path / "new-machine", "rebuild", "--from", nas)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert cli("--store", tmp_path / "new-machine", "show", sample.rid).code == 0

    # The drive comes back where it was added: sync brings its key file up to date.
    away.rename(usb)
    assert cli("sync", "usb").code == 0
    assert (usb / "arkeep" / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()
    assert not [n for n in json.loads(cli("status", "--json").out)["notes"] if "key file" in n]
