"""`arkeep due` (issue 15, item 5): the licences' calendar, and its lines in `status`."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from archive.storage.store import Store

TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKEEP_NOW", f"{TODAY.isoformat()}T09:00:00+00:00")


def add(cli, tmp_path: Path, product: str, *flags: str, key: str = "SECRET-KEY-0001") -> str:  # type: ignore[no-untyped-def]
    installer = tmp_path / f"{product}.exe"
    installer.write_bytes(product.encode() * 100)
    key_file = tmp_path / f"{product}.key"
    key_file.write_text(key)
    result = cli("add", installer, "--product", product, "--version", "1.0", "--key-file",
                 key_file, *flags)
    assert result.code == 0, result.err
    lic = Store.open(Path(tmp_path / "store")).catalog.load_release(f"{product.lower()}@1.0").licenses
    return lic[0]


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def test_a_licence_expiring_in_20_days_is_listed_and_nothing_is_overdue(
        store_dir: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lid = add(cli, tmp_path, "Soon", "--expires", day(20))
    add(cli, tmp_path, "Later", "--expires", day(200))
    result = cli("due")
    assert result.code == 0, result.out + result.err
    assert f"due     Soon ({lid}): expires on {day(20)} (in 20 days)" in result.out
    assert "Later" not in result.out
    assert "0 overdue, 1 within 90 days" in result.out
    data = json.loads(cli("due", "--json").out)
    assert data["ok"] is True and data["today"] == TODAY.isoformat()
    assert [(i["license"], i["what"], i["state"], i["days"]) for i in data["items"]] == [
        (lid, "expires", "soon", 20)]
    assert data["items"][0]["releases"] == ["soon@1.0"]
    unset = cli("due", "--notify")
    assert unset.code == 0 and "--notify, but no notice URL is configured" in unset.err
    wide = json.loads(cli("due", "--within", "30w", "--json").out)
    assert [i["product"] for i in wide["items"]] == ["Soon", "Later"]


def test_an_expired_licence_exits_1_and_shows_in_status(store_dir: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lid = add(cli, tmp_path, "Gone", "--expires", day(-3), key="GONE-KEY-7777")
    result = cli("due")
    assert result.code == 1
    assert f"OVERDUE Gone ({lid}): expired on {day(-3)} (3 days ago)" in result.out
    assert "GONE-KEY-7777" not in result.out + result.err
    data = json.loads(cli("due", "--json").out)
    assert data["ok"] is False and data["overdue"] == 1
    status = cli("status")
    assert f"overdue: Gone ({lid}): expired on {day(-3)}" in status.err
    assert json.loads(cli("status", "--json").out)["due"][0]["state"] == "overdue"


def test_kinds_thresholds_trials_maintenance_and_seats(store_dir: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sub = add(cli, tmp_path, "Cloudy", "--license-kind", "subscription", "--expires", day(10))
    trial = add(cli, tmp_path, "Tryit", "--expires", day(5))
    maint = add(cli, tmp_path, "Maint", "--maintenance-end", day(45), "--seats", "5")
    far = add(cli, tmp_path, "Far", "--expires", day(150))
    ended = add(cli, tmp_path, "Ended", "--maintenance-end", day(-40))
    assert cli("due", "--set", trial, "--trial").code == 0
    # Far's own threshold (200 days) lists it; Maint's (30 days) hides its maintenance end.
    assert cli("due", "--set", far, "--remind-days", "200").code == 0
    assert cli("due", "--set", maint, "--remind-days", "30").code == 0
    data = json.loads(cli("due", "--json").out)
    got = {i["license"]: (i["what"], i["state"]) for i in data["items"]}
    assert got == {sub: ("renews", "soon"), trial: ("trial-ends", "soon"),
                   far: ("expires", "soon"), ended: ("maintenance-ends", "ended")}
    assert data["ok"] is True
    assert data["seats"] == [{"license": maint, "product": "Maint", "owned": 5, "in_use": None}]
    # More seats in use than owned is overdue; --within given wins over the thresholds.
    assert cli("due", "--set", maint, "--seats-in-use", "7").code == 1
    data = json.loads(cli("due", "--within", "60d", "--json").out)
    got = {(i["license"], i["what"], i["state"]) for i in data["items"]}
    assert {(maint, "seats", "overdue"), (maint, "maintenance-ends", "soon")} <= got
    assert far not in {lid for lid, _, _ in got}
    assert data["items"][0]["what"] == "seats"                  # overdue first
    # remind-days 0 silences a licence, even an expired one.
    gone = add(cli, tmp_path, "Gone", "--expires", day(-1))
    assert cli("due").code == 1
    assert cli("due", "--set", gone, "--remind-days", "0").code == 1     # maint's seats remain
    assert gone not in cli("due").out


def test_bad_input_is_refused_and_nothing_changes(store_dir: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lid = add(cli, tmp_path, "Foo", "--expires", day(30))
    before = (store_dir / "manifests" / "licenses" / f"{lid}.toml").read_bytes()
    for args in (("--within", "soon"), ("--set", lid, "--seats-in-use", "-2")):
        with pytest.raises(SystemExit) as exit_info:          # argparse: usage, exit 2
            cli("due", *args)
        assert exit_info.value.code == 2
    for args, words in ((("--remind-days", "5"), "name it with --set"),
                        (("--set", lid), "--set needs"),
                        (("--set", "lic-nosuchthing", "--trial"), "no licence record")):
        result = cli("due", *args)
        assert result.code == 2, (args, result.err)
        assert words in result.err, result.err
    assert (store_dir / "manifests" / "licenses" / f"{lid}.toml").read_bytes() == before
    (store_dir / "arkeep.toml").write_text((store_dir / "arkeep.toml").read_text()
                                           + "\n[calendar]\nwithin_days = \"many\"\n")
    result = cli("due")
    assert result.code == 2 and "within_days" in result.err
