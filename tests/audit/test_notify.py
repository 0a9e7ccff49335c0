"""Notices (issue 15, item 4): Apprise URLs and Healthchecks-style pings, sent to a real SMTP
server and a real HTTP receiver on loopback, and to a receiver that is down."""
from __future__ import annotations

import json
import stat
import tomllib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.archive.replication_support import KEY, add_sample, flip_byte, object_unit_key
from tests.conftest import PASSPHRASE
from tests.support.receivers import (
    SMTP_PASSWORD,
    HttpReceiver,
    Mailbox,
    free_port,
    http_receiver,
    smtp_server,
)


# The SMTP server asks for a login without TLS on purpose: it listens on loopback only.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


def json_url(receiver: HttpReceiver, path: str = "/hook/T0KEN-abc") -> str:
    return receiver.url(path).replace("http://", "json://")


def secrets(recovery_code: str) -> list[str]:
    return [KEY, PASSPHRASE, recovery_code, SMTP_PASSWORD, "T0KEN-abc", "ping-uuid-77"]


def no_secret_in(text: str, recovery_code: str) -> None:
    for secret in secrets(recovery_code):
        assert secret not in text, secret


def test_add_list_remove_hide_credentials_and_keep_the_config_private(
        store_dir: Path, cli, mailbox: Mailbox, receiver: HttpReceiver, recovery_code: str) -> None:  # type: ignore[no-untyped-def]
    assert cli("notify", "list").out.startswith("no notices configured")
    outputs = []
    for args in (("add", mailbox.url()), ("add", json_url(receiver)),
                 ("add", "--ping", receiver.url("/ping/ping-uuid-77"))):
        result = cli("notify", *args)
        assert result.code == 0, result.err
        outputs.append(result.out + result.err)
    config = store_dir / "arkeep.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    listed = cli("notify", "list")
    assert listed.out.splitlines() == [
        f"1.    mailto     mailto://127.0.0.1:{mailbox.port}/…",
        f"2.    json       json://127.0.0.1:{receiver.port}/…",
        f"ping  ping       http://127.0.0.1:{receiver.port}/…"]
    as_json = cli("notify", "list", "--json").out
    assert [row["kind"] for row in json.loads(as_json)] == ["notice", "notice", "ping"]
    no_secret_in("".join(outputs) + listed.out + as_json, recovery_code)
    # Bad input: a clear error, the configuration unchanged.
    before = config.read_bytes()
    for args, words in ((("add", "not a url"), "not an Apprise URL"),
                        (("add", "nosuchservice://x/y"), "does not accept"),
                        (("add", mailbox.url()), "already configured"),
                        (("add", "--ping", "ftp://example.org/x"), "http:// or https://"),
                        (("remove", "7"), "1 to 2"),
                        (("remove",), "give the number")):
        result = cli("notify", *args)
        assert result.code == 2, (args, result.out, result.err)
        assert words in result.err, result.err
        no_secret_in(result.err, recovery_code)
    assert config.read_bytes() == before
    assert cli("notify", "remove", "1").code == 0
    assert cli("notify", "remove", "--ping").code == 0
    table = tomllib.loads(config.read_text())["notify"]
    assert table == {"urls": [json_url(receiver)]}


def test_notify_test_reaches_both_receivers_and_says_which_one_is_down(
        store_dir: Path, cli, mailbox: Mailbox, receiver: HttpReceiver, recovery_code: str) -> None:  # type: ignore[no-untyped-def]
    down = free_port()
    for url in (mailbox.url(), json_url(receiver), f"json://127.0.0.1:{down}/hook/T0KEN-abc"):
        assert cli("notify", "add", url).code == 0
    assert cli("notify", "add", "--ping", receiver.url("/ping/ping-uuid-77")).code == 0
    result = cli("notify", "test")
    assert result.code == 3, result.out + result.err
    assert f"the notice to json://127.0.0.1:{down}/… failed" in result.err
    assert f"notice sent to mailto://127.0.0.1:{mailbox.port}/…" in result.out
    assert mailbox.logins == ["arkeep-mailer"]
    assert "test notice" in mailbox.texts()[0]
    assert json.loads(receiver.bodies("/hook/")[0])["title"] == "arkeep: test notice"
    assert receiver.bodies("/ping/ping-uuid-77") == [b"arkeep notify test"]
    no_secret_in(result.out + result.err, recovery_code)


def test_a_flipped_byte_found_without_the_passphrase_is_told_to_mail_and_http_without_a_secret(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mailbox: Mailbox,
        receiver: HttpReceiver, recovery_code: str) -> None:
    add_sample(cli, tmp_path, size=300_000)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    key = object_unit_key(store_dir, "acme-studio@7.5.1", "AcmeStudio-Setup-7.5.1-x64.exe")
    flip_byte(tmp_path / "nas" / key)
    down = free_port()
    for url in (mailbox.url(), json_url(receiver), f"json://127.0.0.1:{down}/hook/T0KEN-abc"):
        assert cli("notify", "add", url).code == 0
    assert cli("notify", "add", "--ping", receiver.url("/ping/ping-uuid-77")).code == 0
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    result = cli("audit", "--budget", "1", "--notify")
    assert result.code == 1, result.out + result.err       # the damage, not the failed notice
    assert "PROBLEM nas: acme-studio@7.5.1 / AcmeStudio-Setup-7.5.1-x64.exe: bad copy" in result.out
    assert f"the notice to json://127.0.0.1:{down}/… failed" in result.err
    # The mail: sent with the SMTP login, saying what is damaged, and nothing secret.
    assert len(mailbox.raw) == 1 and mailbox.logins == ["arkeep-mailer"]
    mail = mailbox.texts()[0]
    assert "1 damaged copy" in mail
    assert "PROBLEM nas: acme-studio@7.5.1 / AcmeStudio-Setup-7.5.1-x64.exe: bad copy" in mail
    # The HTTP receiver: the same notice as JSON, and the pings start then fail.
    posted = json.loads(receiver.bodies("/hook/")[0])
    assert posted["type"] == "failure" and "AcmeStudio-Setup-7.5.1-x64.exe: bad copy" in posted["message"]
    assert [p for _, p, _ in receiver.requests if p.startswith("/ping")] == [
        "/ping/ping-uuid-77/start", "/ping/ping-uuid-77/fail"]
    everything = "\n".join([result.out, result.err, mail, *(r.decode() for r in mailbox.raw),
                            *(b.decode() for _, _, b in receiver.requests)])
    no_secret_in(everything, recovery_code)
    # --json says which notice went where.
    again = cli("audit", "--budget", "1", "--notify", "--json")
    notices = json.loads(again.out)["notices"]
    assert [(n["kind"], n["ok"]) for n in notices] == [
        ("ping", True), ("notice", True), ("notice", True), ("notice", False), ("ping", True)]
    no_secret_in(again.out + again.err, recovery_code)


def test_a_clean_audit_sends_no_notice_and_pings_success(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, receiver: HttpReceiver) -> None:
    add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "nas2", tmp_path / "nas2", "--create", "--offsite").code == 0
    assert cli("sync").code == 0
    assert cli("notify", "add", json_url(receiver)).code == 0
    assert cli("notify", "add", "--ping", receiver.url("/ping/ping-uuid-77")).code == 0
    result = cli("audit", "--notify")
    assert result.code == 0, result.out + result.err
    assert receiver.bodies("/hook/") == []
    assert [p for _, p, _ in receiver.requests] == ["/ping/ping-uuid-77/start", "/ping/ping-uuid-77"]


def test_due_notify_sends_the_overdue_licence_without_its_key(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, mailbox: Mailbox, recovery_code: str) -> None:
    sample = add_sample(cli, tmp_path)
    assert sample is not None
    expired = (date.today() - timedelta(days=2)).isoformat()
    installer = tmp_path / "old.exe"
    installer.write_bytes(b"old" * 1000)
    key_file = tmp_path / "old.key"
    key_file.write_text(KEY)
    assert cli("add", installer, "--product", "Oldie", "--version", "1", "--key-file", key_file,
               "--expires", expired).code == 0
    assert cli("notify", "add", mailbox.url()).code == 0
    result = cli("due", "--notify")
    assert result.code == 1
    mail = mailbox.texts()[0]
    assert "1 licence item(s) overdue" in mail and f"expired on {expired}" in mail
    no_secret_in(mail + "".join(r.decode() for r in mailbox.raw), recovery_code)
    # The scheduled run, audit --due: one notice with the audit and the calendar, exit 1.
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    scheduled = cli("audit", "--due", "--notify", "--json")
    assert scheduled.code == 1, scheduled.out + scheduled.err
    report = json.loads(scheduled.out)
    assert report["remotes"][0]["problems"] == [] and report["due"][0]["state"] == "overdue"
    mail = mailbox.texts()[1]
    assert "arkeep audit on" in mail and f"expired on {expired}" in mail
    no_secret_in(mail, recovery_code)


def test_a_drive_away_for_long_and_a_policy_shortfall_are_told(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, receiver: HttpReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime
    add_sample(cli, tmp_path)
    usb = tmp_path / "media" / "usb1"
    usb.mkdir(parents=True)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "usb1", usb, "--drive").code == 0
    assert cli("sync").code == 0
    usb.rename(tmp_path / "drawer")
    monkeypatch.setenv("ARKEEP_NOW", (datetime.now(UTC) + timedelta(days=45)).isoformat())
    assert cli("notify", "add", json_url(receiver)).code == 0
    result = cli("audit", "--notify")
    assert result.code == 0, result.out + result.err        # nothing damaged, nothing failed
    message = json.loads(receiver.bodies("/hook/")[0])["message"]
    assert "NOT SEEN usb1: last seen 45 days ago; plug it in" in message
    assert "POLICY: 1 release falls short of the copy policy (3-2-1)" in message


def test_done_when_a_byte_flipped_on_a_drive_and_on_s3_reaches_mail_and_http(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, monkeypatch: pytest.MonkeyPatch,
        mailbox: Mailbox, receiver: HttpReceiver, recovery_code: str) -> None:
    """Issue 15's done-when with the three kinds of replica: a folder, a drive and SeaweedFS."""
    from tests.audit.test_audit import three_replicas
    roots = three_replicas(cli, store_dir, tmp_path, s3_env)
    key = object_unit_key(store_dir, "acme-studio@7.5.1", "AcmeStudio-Setup-7.5.1-x64.exe")
    flip_byte(roots["usb"] / key)
    bucket = next(line.split("s3://")[1].split("/")[0]
                  for line in cli("remote", "list").out.splitlines() if "s3://" in line)
    client = s3_env.client()
    data = bytearray(client.get_object(Bucket=bucket, Key=f"arkeep/{key}")["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=f"arkeep/{key}", Body=bytes(data))
    for url in (mailbox.url(), json_url(receiver)):
        assert cli("notify", "add", url).code == 0
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    result = cli("audit", "--budget", "1", "--due", "--notify")
    assert result.code == 1, result.out + result.err
    for remote in ("usb", "cloud"):
        line = f"PROBLEM {remote}: acme-studio@7.5.1 / AcmeStudio-Setup-7.5.1-x64.exe: bad copy"
        assert line in result.out
        assert line in mailbox.texts()[0]
        assert line in json.loads(receiver.bodies("/hook/")[0])["message"]
    assert "PROBLEM nas" not in result.out
    assert "2 damaged copies" in mailbox.texts()[0]
    everything = "\n".join([result.out, result.err, *mailbox.texts(),
                            *(r.decode() for r in mailbox.raw),
                            *(b.decode() for _, _, b in receiver.requests)])
    no_secret_in(everything, recovery_code)


@pytest.mark.parametrize("url, shown", [
    ("tgram://123456789:AAH-tok3n/12345", "tgram://…"),
    ("discord://4174216298/JHMHI8qBe7bk2Z", "discord://…"),
    ("ntfy://my-secret-topic", "ntfy://…"),
    ("ntfys://ntfy.sh/my-secret-topic", "ntfys://ntfy.sh/…"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl", "slack://…"),
    ("mailto://user:pa55@smtp.example.org?to=a@b.c", "mailto://smtp.example.org/…"),
    ("matrix://u:p@[::1]:8448/room", "matrix://[::1]:8448/…"),
    ("https://hc-ping.com/0f1e-uuid", "https://hc-ping.com/…"),
])
def test_a_url_is_shown_as_scheme_and_host_never_a_token_in_the_host_place(url: str, shown: str) -> None:
    from archive.ops.notify import mask, scrub
    assert mask(url) == shown
    said = scrub(f"could not send to {url} (token {url.split('://')[1]})", [url])
    rest = url.split("://", 1)[1]
    assert rest not in said
    for piece in ("AAH-tok3n", "JHMHI8qBe7bk2Z", "my-secret-topic", "TIiajkdnl", "pa55", "0f1e-uuid",
                  "123456789"):
        assert piece not in said


def test_without_apprise_the_audit_completes_and_says_the_notice_failed(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, receiver: HttpReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    assert cli("notify", "add", json_url(receiver)).code == 0
    assert cli("notify", "add", "--ping", receiver.url("/ping/ping-uuid-77")).code == 0
    monkeypatch.setitem(sys.modules, "apprise", None)          # a broken install
    result = cli("audit", "--notify")
    assert result.code == 0, result.out + result.err
    assert "nas: " in result.out                                  # the audit's own report
    assert (f"the notice to json://127.0.0.1:{receiver.port}/… failed: sending notices needs the "
            "Python package apprise, which") in result.err, result.err
    assert [p for _, p, _ in receiver.requests] == ["/ping/ping-uuid-77/start",
                                                    "/ping/ping-uuid-77"]


def test_a_scheduled_run_that_cannot_run_is_told_and_pings_fail(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, receiver: HttpReceiver) -> None:
    assert cli("notify", "add", json_url(receiver)).code == 0
    assert cli("notify", "add", "--ping", receiver.url("/ping/ping-uuid-77")).code == 0
    result = cli("audit", "--due", "--notify")          # this store has no remote yet
    assert result.code == 2
    assert "this store has no remotes yet" in result.err
    posted = json.loads(receiver.bodies("/hook/")[0])
    assert posted["title"] == "arkeep audit could not run"
    assert "this store has no remotes yet" in posted["message"]
    assert [p for _, p, _ in receiver.requests if p.startswith("/ping")] == [
        "/ping/ping-uuid-77/start", "/ping/ping-uuid-77/fail"]
