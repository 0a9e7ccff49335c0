"""add, show and verify --authenticity with real signed programs: the evidence is frozen into the
manifest at add time and checked again offline, and a tampered program is caught."""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from archive.storage.store import Store
from tests.authenticity.conftest import PYTHON_EXE, flipped

SUMMARY = ("signed by Python Software Foundation, timestamped 2025-02-04 by Microsoft Public RSA "
           "Time Stamping Authority; chain to a trusted root: not available here")


def python_exe(tmp_path: Path) -> Path:
    target = tmp_path / "python.exe"
    shutil.copy(PYTHON_EXE, target)
    return target


def add(cli, path: Path, *flags: str):
    return cli("add", path, "--product", "Python embeddable", "--version", "3.13.2", *flags)


def test_add_freezes_the_evidence_and_show_reports_it(store_dir: Path, cli, tmp_path: Path) -> None:
    done = add(cli, python_exe(tmp_path))
    assert done.code == 0, done.err
    assert SUMMARY in done.out
    release = Store.open(store_dir).catalog.resolve("python-embeddable@3.13.2")
    record = release.artifacts[0].authenticity
    assert record.verdict == "valid" and record.evidence == 1
    assert record.signer == "Python Software Foundation"
    assert record.timestamp.isoformat() == "2025-02-04T16:33:43+00:00"
    assert [c.subject.split(",")[0] for c in record.certificate] == [
        "CN=Python Software Foundation", "CN=Microsoft ID Verified CS AOC CA 02",
        "CN=Microsoft ID Verified Code Signing PCA 2021",
        "CN=Microsoft Identity Verification Root Certificate Authority 2020"]
    assert record.anchor is None and record.chain_status == "root-not-trusted-here"
    text = (store_dir / "manifests").rglob("*.toml")
    manifest = next(p for p in text if "python" in p.name).read_text()
    assert "[artifact.authenticity]" in manifest and "[[artifact.authenticity.certificate]]" in manifest
    shown = cli("show", "python-embeddable@3.13.2")
    assert shown.code == 0 and SUMMARY in shown.out
    data = json.loads(cli("--json", "show", "python-embeddable@3.13.2").out)
    assert data["artifacts"][0]["authenticity"]["timestamp_authority"] == \
        "Microsoft Public RSA Time Stamping Authority"


def test_verify_authenticity_rechecks_offline_and_catches_a_flipped_byte(
        store_dir: Path, cli, tmp_path: Path) -> None:
    assert add(cli, python_exe(tmp_path)).code == 0
    ok = cli("verify", "--authenticity")
    assert ok.code == 0, ok.out + ok.err
    assert SUMMARY in ok.out and "OK: 1 file checked" in ok.out
    release = Store.open(store_dir).catalog.resolve("python-embeddable@3.13.2")
    obj = Store.open(store_dir).object_path(release.artifacts[0].blake3)
    os.chmod(obj, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(obj.read_bytes())
    data[0x2000] ^= 0x01
    obj.write_bytes(bytes(data))
    bad = cli("verify", "--authenticity")
    assert bad.code == 1
    assert "PROBLEM python-embeddable@3.13.2+windows-x64 / python.exe: the signature was valid " \
           "when archived and is digest-mismatch now" in bad.out
    report = json.loads(cli("--json", "verify", "--authenticity").out)
    assert report["ok"] is False and report["files"][0]["now"]["verdict"] == "digest-mismatch"


def test_a_tampered_program_stops_the_add_unless_accepted(store_dir: Path, cli, tmp_path: Path) -> None:
    bad = flipped(PYTHON_EXE, 0x1000, tmp_path / "python.exe")
    refused = add(cli, bad)
    assert refused.code == 1
    assert "python.exe: the file's digest is not the one that was signed" in refused.err
    assert "--accept-unverified" in refused.err
    assert cli("list").out.strip() == "" or "python" not in cli("list").out.lower()
    accepted = add(cli, bad, "--accept-unverified")
    assert accepted.code == 0, accepted.err
    assert "SIGNATURE DOES NOT MATCH (digest-mismatch)" in accepted.out
    release = Store.open(store_dir).catalog.resolve("python-embeddable@3.13.2")
    assert release.artifacts[0].authenticity.verdict == "digest-mismatch"
    assert cli("verify", "--authenticity").code == 1


def test_a_root_named_with_ca_file_is_frozen_and_trusted_later(
        store_dir: Path, cli, test_signed_exe: Path, test_chain, tmp_path: Path) -> None:
    done = cli("add", test_signed_exe, "--product", "Fabrikam Paint", "--version", "1.0",
               "--ca-file", test_chain.root_pem)
    assert done.code == 0, done.err
    assert "signed by Fabrikam, Inc., not timestamped; chain to a trusted root: yes" in done.out
    record = Store.open(store_dir).catalog.resolve("fabrikam-paint@1.0").artifacts[0].authenticity
    assert record.anchor is not None and any(str(test_chain.root_pem) in s for s in record.anchor_sources)
    again = cli("verify", "--authenticity")            # no --ca-file: the frozen anchor serves
    assert again.code == 0, again.out
    assert "chain to a trusted root: yes" in again.out


def test_unsigned_is_reported_plainly(store_dir: Path, cli, unsigned_exe: Path) -> None:
    done = cli("add", unsigned_exe, "--product", "Plain", "--version", "1")
    assert done.code == 0, done.err
    assert "not signed" in done.out
    assert cli("verify", "--authenticity").code == 0


def test_a_bad_ca_file_stops_before_anything_is_stored(store_dir: Path, cli, tmp_path: Path) -> None:
    junk = tmp_path / "roots.pem"
    junk.write_text("not a certificate\n")
    done = add(cli, python_exe(tmp_path), "--ca-file", junk)
    assert done.code == 2
    assert "holds no certificate" in done.err
    assert not any((store_dir / "objects").rglob("*")) or not any(
        p.is_file() for p in (store_dir / "objects").rglob("*"))
    missing = add(cli, python_exe(tmp_path), "--ca-file", tmp_path / "nope.pem")
    assert missing.code == 2 and "cannot read the trust anchors" in missing.err
    assert cli("verify", "--ca-file", junk).code == 2


def test_verify_authenticity_needs_no_network(store_dir: Path, cli, tmp_path: Path,
                                              monkeypatch) -> None:
    import socket

    assert add(cli, python_exe(tmp_path)).code == 0

    def refuse(*_args, **_kwargs):
        raise AssertionError("verify --authenticity tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    done = cli("verify", "--authenticity")
    assert done.code == 0, done.out + done.err
    assert "timestamped 2025-02-04" in done.out


def test_check_reports_the_signature(store_dir: Path, cli, tmp_path: Path) -> None:
    assert add(cli, python_exe(tmp_path)).code == 0
    done = cli("check", "python-embeddable@3.13.2")
    assert f"python.exe: {SUMMARY}" in done.out, done.out
    bad = flipped(PYTHON_EXE, 0x1000, tmp_path / "setup.exe")
    assert cli("add", bad, "--product", "Tampered", "--version", "1", "--accept-unverified").code == 0
    report = json.loads(cli("--json", "check", "tampered@1").out)
    text = json.dumps(report)
    assert "SIGNATURE DOES NOT MATCH" in text and "--accept-unverified" in text
