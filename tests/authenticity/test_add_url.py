"""`arkeep add URL` against an HTTPS server on loopback with its own CA: the final URL, the time,
the validators and the server's certificate are recorded; a wrong checksum, an untrusted
certificate, a dropped connection, a silent server and a 404 are each one clear error, and an
interrupted download resumes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import blake3
import pytest

from archive.intake import openpgp
from archive.storage.store import Store
from tests.authenticity.conftest import PYTHON_EXE
from tests.authenticity.test_openpgp import SIGNER, vendor  # noqa: F401 - the fixture
from tests.support import https_server

DATA = PYTHON_EXE.read_bytes()
SHA256 = hashlib.sha256(DATA).hexdigest()
RELEASE = "python-embeddable@3.13.2"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    server = https_server.start(tmp_path_factory.mktemp("https"))
    server.site.files["python-3.13.2-amd64.exe"] = DATA
    server.site.texts["SHA256SUMS"] = (f"{'0' * 64}  other.exe\n{SHA256}  python-3.13.2-amd64.exe\n"
                                       .encode())
    yield server
    server.stop()


def add(cli, site, path: str, *flags: str):
    return cli("add", f"{site.url}{path}", "--product", "Python embeddable", "--version", "3.13.2",
               "--ca-file", site.ca_pem, "--timeout", "5", *flags)


def artifact(store_dir: Path):
    return Store.open(store_dir).catalog.resolve(RELEASE).artifacts[0]


def test_add_url_records_where_when_and_how(store_dir: Path, cli, site) -> None:
    done = add(cli, site, "/go/python-3.13.2-amd64.exe", "--sha256", SHA256)
    assert done.code == 0, done.err
    art = artifact(store_dir)
    assert art.filename == "python-3.13.2-amd64.exe"
    assert art.blake3 == blake3.blake3(DATA).hexdigest()
    assert art.source_url == f"{site.url}/files/python-3.13.2-amd64.exe"
    assert art.retrieved is not None
    d = art.download
    assert d.requested_url == f"{site.url}/go/python-3.13.2-amd64.exe"
    assert d.redirects == (art.source_url,)
    assert (d.status, d.content_length, d.last_modified) == (200, len(DATA), https_server.LAST_MODIFIED)
    assert d.etag == https_server.etag_of(DATA)
    assert d.content_type == "application/vnd.microsoft.portable-executable"
    assert d.server_certificates[0] == site.server_cert_sha256
    assert d.server_subject == "CN=downloads.test" and d.tls_version.startswith("TLS")
    assert d.sha256 == SHA256 and d.checksums == (f"sha256:{SHA256}",)
    assert d.checksum_source == "--sha256"
    assert art.authenticity.verdict == "valid"          # the downloaded program's signature too
    assert "checksum matched (--sha256)" in done.out
    assert "signed by Python Software Foundation" in done.out
    assert not any((store_dir / "state" / "downloads").iterdir())
    shown = cli("show", RELEASE).out
    assert f"from {art.source_url} (checksum matched (--sha256), TLS certificate sha256 " \
           f"{site.server_cert_sha256[:16]}…" in shown
    data = json.loads(cli("--json", "show", RELEASE).out)["artifacts"][0]
    assert data["download"]["requested_url"] == d.requested_url
    assert data["download"]["server_certificates"] == [site.server_cert_sha256]


def test_a_checksums_file_from_the_vendor(store_dir: Path, cli, site) -> None:
    done = add(cli, site, "/files/python-3.13.2-amd64.exe", "--checksums",
               f"{site.url}/text/SHA256SUMS")
    assert done.code == 0, done.err
    assert artifact(store_dir).download.checksum_source == f"{site.url}/text/SHA256SUMS"


def test_a_wrong_checksum_archives_nothing(store_dir: Path, cli, site) -> None:
    done = add(cli, site, "/files/python-3.13.2-amd64.exe", "--sha256", "ab" * 32)
    assert done.code == 1
    assert f"its SHA-256 is {SHA256}, the vendor published {'ab' * 32}" in done.err
    assert "python" not in cli("list").out.lower()
    assert not [p for p in (store_dir / "objects").rglob("*") if p.is_file()]
    assert not any((store_dir / "state" / "downloads").iterdir())
    assert add(cli, site, "/files/python-3.13.2-amd64.exe", "--sha256", "xyz").code == 2


def test_a_dropped_connection_resumes_where_it_stopped(store_dir: Path, cli, site) -> None:
    first = add(cli, site, "/flaky/python-3.13.2-amd64.exe")
    assert first.code == 3
    assert "run the same command again to resume" in first.err
    assert "python" not in cli("list").out.lower()
    second = add(cli, site, "/flaky/python-3.13.2-amd64.exe")
    assert second.code == 0, second.err
    ranges = [r for p, r in site.site.requests if p == "/flaky/python-3.13.2-amd64.exe"]
    assert ranges[-2:] == [None, f"bytes={len(DATA) // 2}-"]
    art = artifact(store_dir)
    assert art.blake3 == blake3.blake3(DATA).hexdigest()
    assert art.download.resumed_from == len(DATA) // 2
    assert art.authenticity.verdict == "valid"


def test_an_untrusted_certificate_is_refused(store_dir: Path, cli, site) -> None:
    done = cli("add", f"{site.url}/files/python-3.13.2-amd64.exe", "--product", "P", "--version", "1")
    assert done.code == 3
    assert "TLS certificate is not trusted" in done.err and "--ca-file" in done.err


def test_a_silent_server_times_out(store_dir: Path, cli, site) -> None:
    done = add(cli, site, "/silent/x.exe", "--timeout", "1")
    assert done.code == 3
    assert "no answer within 1 s" in done.err or "stopped answering" in done.err


def test_http_errors_are_one_line(store_dir: Path, cli, site) -> None:
    missing = add(cli, site, "/files/nothing.exe")
    assert missing.code == 3 and "answered 404" in missing.err
    looping = add(cli, site, "/loop/x.exe")
    assert looping.code == 3 and "more than 10 redirects" in looping.err
    assert cli("add", "https://", "--product", "P", "--version", "1").code == 2
    refused = cli("add", "https://127.0.0.1:9/x.exe", "--product", "P", "--version", "1",
                  "--timeout", "2")
    assert refused.code == 3 and "cannot connect" in refused.err


def test_checksum_flags_need_a_url(store_dir: Path, cli, tmp_path: Path) -> None:
    local = tmp_path / "python.exe"
    local.write_bytes(DATA)
    done = cli("add", local, "--product", "P", "--version", "1", "--sha256", SHA256)
    assert done.code == 2 and "give a URL" in done.err


def test_a_signed_checksums_file(store_dir: Path, cli, site, vendor, tmp_path: Path) -> None:  # noqa: F811
    import subprocess

    public, sign = vendor
    sums = tmp_path / "SHA256SUMS"
    sums.write_bytes(site.site.texts["SHA256SUMS"])
    detached = sign(sums)                                      # SHA256SUMS.asc, detached
    site.site.texts["SHA256SUMS.sig"] = detached.read_bytes()
    home = public.parent
    clear = subprocess.run([openpgp.gpg_path(), "--homedir", str(home), "--batch", "--pinentry-mode",
                            "loopback", "--passphrase", "", "--clearsign", "--output", "-", str(sums)],
                           check=True, capture_output=True, timeout=60).stdout
    site.site.texts["SHA256SUMS.asc"] = clear
    site.site.texts["BAD.asc"] = clear.replace(b"0000000000", b"0000000001", 1)

    done = add(cli, site, "/files/python-3.13.2-amd64.exe", "--checksums",
               f"{site.url}/text/SHA256SUMS.asc", "--openpgp-key", public)
    assert done.code == 0, done.err
    signed = artifact(store_dir).download.checksums_openpgp
    assert signed.startswith(f"valid: {SIGNER} (")
    assert "checksums file's OpenPGP signature valid" in cli("show", RELEASE).out
    assert cli("remove", RELEASE, "--yes").code == 0

    detached_done = add(cli, site, "/files/python-3.13.2-amd64.exe", "--checksums",
                        f"{site.url}/text/SHA256SUMS", "--checksums-signature",
                        f"{site.url}/text/SHA256SUMS.sig", "--openpgp-key", public)
    assert detached_done.code == 0, detached_done.err
    assert artifact(store_dir).download.checksums_openpgp.startswith("valid: ")
    assert cli("remove", RELEASE, "--yes").code == 0

    bad = add(cli, site, "/files/python-3.13.2-amd64.exe", "--checksums", f"{site.url}/text/BAD.asc",
              "--openpgp-key", public)
    assert bad.code == 1 and "OpenPGP signature does not match" in bad.err
    unknown = add(cli, site, "/files/python-3.13.2-amd64.exe", "--checksums",
                  f"{site.url}/text/SHA256SUMS.asc")
    assert unknown.code == 0, unknown.err
    assert artifact(store_dir).download.checksums_openpgp.startswith("no-key: ")


def test_a_partial_download_left_for_a_month_is_forgotten(store_dir: Path, cli, site) -> None:
    import os
    import time

    parts = store_dir / "state" / "downloads"
    parts.mkdir(parents=True, exist_ok=True)
    fresh = parts / "fresh.part"
    old = parts / "abandoned.part"
    old.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y" * 100)
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    assert add(cli, site, "/files/python-3.13.2-amd64.exe").code == 0
    assert not old.exists() and fresh.exists()


def test_add_url_with_a_signature_url(store_dir: Path, cli, site, vendor, tmp_path: Path) -> None:  # noqa: F811
    public, sign = vendor
    local = tmp_path / "python-3.13.2-amd64.exe"
    local.write_bytes(DATA)
    site.site.texts["python-3.13.2-amd64.exe.asc"] = sign(local).read_bytes()
    done = add(cli, site, "/files/python-3.13.2-amd64.exe", "--signature",
               f"{site.url}/text/python-3.13.2-amd64.exe.asc", "--openpgp-key", public)
    assert done.code == 0, done.err
    assert f"OpenPGP (python-3.13.2-amd64.exe.asc): signed by {SIGNER}" in done.out
    release = Store.open(store_dir).catalog.resolve(RELEASE)
    assert [a.role for a in release.artifacts] == ["installer", "signature"]
    missing = add(cli, site, "/files/python-3.13.2-amd64.exe", "--signature",
                  f"{site.url}/text/nothing.asc")
    assert missing.code == 3 and "answered 404" in missing.err
