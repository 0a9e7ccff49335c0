"""[artifact.authenticity] in a manifest: a golden file that must keep reading to the same values,
the real python.exe checked again against it, and every kind of bad field named."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.intake.authenticity import anchors_for, check_path, compare
from manifests.codec import parse_release, release_to_toml
from manifests.errors import ManifestInvalid
from tests.authenticity.conftest import PYTHON_EXE

GOLDEN = Path(__file__).parent.parent / "data" / "golden-release-authenticity.toml"


def golden():
    return parse_release(GOLDEN.read_bytes(), str(GOLDEN))


def test_golden_evidence_reads_to_these_values() -> None:
    record = golden().artifacts[0].authenticity
    assert (record.kind, record.verdict, record.evidence) == ("authenticode", "valid", 1)
    assert record.checked == datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    assert record.signer == "Python Software Foundation"
    assert record.timestamp == datetime(2025, 2, 4, 16, 33, 43, tzinfo=UTC)
    assert record.signed_digest == "debb5434e9058f2b57c8757b2c1dbac4580600717acc66a1bbc3f8c510a06aec"
    assert (record.signature_offset, record.signature_size) == (91648, 14192)
    assert len(record.certificate) == 4
    assert record.certificate[0].not_after == datetime(2025, 2, 7, 4, 39, 18, tzinfo=UTC)
    assert record.certificate[-1].sha256 == \
        "5367f20c7ade0e2bca790915056d086b720c33c1fa2a2661acf787e3292e1270"


def test_the_golden_record_round_trips() -> None:
    release = golden()
    assert parse_release(release_to_toml(release)) == release


def test_python_exe_checked_again_agrees_with_the_golden_record() -> None:
    later = datetime(2045, 1, 1, tzinfo=UTC)     # every certificate long expired; the timestamp holds
    now = check_path(PYTHON_EXE, anchors_for(system=False), later)
    assert compare(golden().artifacts[0].authenticity, now) is None


def _with(old: str, new: str) -> str:
    text = GOLDEN.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(("old", "new", "field", "reason"), [
    ('verdict = "valid"', 'verdict = "fine"', "authenticity.verdict", "is not one of"),
    ("evidence = 1", "evidence = 2", "authenticity.evidence", "newer arkeep"),
    ('kind = "authenticode"', 'kind = "pgp"', "authenticity.kind", "is not one of"),
    ('signed_digest = "debb', 'signed_digest = "XYZ', "authenticity.signed_digest", "expected form"),
    ("checked = 2026-12-05 06:00:00+00:00\n", "", "authenticity.checked", "is missing"),
    ('chain_status = "root-not-trusted-here"', 'chain_status = "maybe"', "authenticity.chain_status",
     "is not one of"),
    ('sha256 = "1ca69c', 'sha256 = "zz', "certificate[0].sha256", "expected form"),
    ('signature_size = 14192', 'signature_size = "big"', "authenticity.signature_size", "integer"),
    ('program = "Built', 'colour = "blue"\nprogram = "Built', "authenticity.colour",
     "not a field of schema 1"),
])
def test_a_bad_field_is_named(old: str, new: str, field: str, reason: str) -> None:
    with pytest.raises(ManifestInvalid) as caught:
        parse_release(_with(old, new), "bad.toml")
    problems = caught.value.problems
    assert any(field in p.field and reason in p.reason for p in problems), problems


DOWNLOAD = """
[artifact.download]
requested_url = "https://www.python.org/ftp/python/3.13.2/python-3.13.2-embed-amd64.zip"
evidence = 1
redirects = []
status = 200
etag = "\\"67a2a1b0-a3c2d5\\""
last_modified = "Tue, 04 Feb 2025 23:21:20 GMT"
content_length = 105840
content_type = "application/zip"
tls_version = "TLSv1.3"
server_subject = "CN=www.python.org"
server_certificates = ["1ca69c80e726984e07e4ffdb089c4a459c731df284ca331de957baa9719a32ae"]
sha256 = "7d96a4ed35d6e596cd9dd8933feafc66349cc21f75be3b15c89fd336e50140c1"
checksums = ["sha256:7d96a4ed35d6e596cd9dd8933feafc66349cc21f75be3b15c89fd336e50140c1"]
checksum_source = "--sha256"
"""


def with_download(text: str = DOWNLOAD) -> str:
    golden_text = GOLDEN.read_text()
    return golden_text.replace("\n[artifact.authenticity]", text + "\n[artifact.authenticity]", 1)


def test_a_download_record_reads_and_round_trips() -> None:
    release = parse_release(with_download(), "download.toml")
    d = release.artifacts[0].download
    assert d.etag == '"67a2a1b0-a3c2d5"' and d.content_length == 105840
    assert d.checksums == ("sha256:7d96a4ed35d6e596cd9dd8933feafc66349cc21f75be3b15c89fd336e50140c1",)
    assert parse_release(release_to_toml(release)) == release


@pytest.mark.parametrize(("old", "new", "field"), [
    ('checksums = ["sha256:7d', 'checksums = ["md5:7d', "download.checksums"),
    ("evidence = 1\nredirects", "evidence = 9\nredirects", "download.evidence"),
    ('requested_url = "https', 'other_url = "https', "download.requested_url"),
    ('server_certificates = ["1c', 'server_certificates = ["XX', "download.server_certificates"),
])
def test_a_bad_download_field_is_named(old: str, new: str, field: str) -> None:
    with pytest.raises(ManifestInvalid) as caught:
        parse_release(with_download(DOWNLOAD.replace(old, new, 1)), "bad.toml")
    assert any(field in p.field for p in caught.value.problems), caught.value.problems
