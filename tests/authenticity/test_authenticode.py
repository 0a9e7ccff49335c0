"""Authenticode checks on real signed programs: the PSF's python.exe with Microsoft's timestamp,
the same program signed here by osslsigncode with a test chain, and copies changed by one byte."""
from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms

from archive.intake import authenticode as ac
from archive.intake.trust import (
    INCOMPLETE,
    INVALID,
    ROOT_NOT_TRUSTED,
    TRUSTED,
    Anchors,
    load_anchors,
)
from tests.authenticity.conftest import PYTHON_EXE, flipped, make_chain, sign

# What `osslsigncode verify -in python-3.13.2-amd64.exe` prints as the calculated digest.
PYTHON_DIGEST = "debb5434e9058f2b57c8757b2c1dbac4580600717acc66a1bbc3f8c510a06aec"
NO_ANCHORS = Anchors()


def signature_parts(path: Path):
    """(offset of the signature table, the SignedData, the first SignerInfo) of a signed PE."""
    data = path.read_bytes()
    with open(path, "rb") as f:
        layout = ac.pe_layout(f, len(data))
    der = data[layout.signature_at + 8:layout.signature_at + layout.signature_size]
    sd = cms.ContentInfo.load(der, strict=False)["content"]
    return layout, sd, sd["signer_infos"][0]


def own_root(path: Path) -> Anchors:
    """The self-signed root the signature carries, made a trust anchor."""
    from cryptography import x509

    _, sd, _ = signature_parts(path)
    certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"]]
    roots = [c for c in certs if c.subject == c.issuer]
    assert len(roots) == 1
    return Anchors(tuple(roots), ("test",))


def test_python_exe_is_the_psf_s_with_microsoft_s_timestamp() -> None:
    check = ac.check_file(PYTHON_EXE, NO_ANCHORS)
    assert check.verdict == ac.VALID
    assert check.signer.display == "Python Software Foundation"
    assert check.file_digest == check.signed_digest == PYTHON_DIGEST
    assert check.digest_algorithm == "sha256"
    assert check.program_name == "Built: Release_v3.13.2_20250204.01"
    ts = check.timestamp
    assert ts is not None and ts.problem is None and ts.kind == "rfc3161"
    assert ts.time.replace(microsecond=0) == datetime(2025, 2, 4, 16, 33, 43, tzinfo=UTC)
    assert ts.authority.display == "Microsoft Corporation"
    assert [c.common_name for c in check.chain] == [
        "Python Software Foundation", "Microsoft ID Verified CS AOC CA 02",
        "Microsoft ID Verified Code Signing PCA 2021",
        "Microsoft Identity Verification Root Certificate Authority 2020"]
    # The signer's certificate expired on 2025-02-07; the timestamp keeps the signature good.
    assert check.signer.not_after < datetime(2025, 2, 8, tzinfo=UTC)
    assert check.chain_status == ROOT_NOT_TRUSTED
    assert "Microsoft Identity Verification Root Certificate Authority 2020" in check.chain_detail


def test_python_exe_chain_is_trusted_when_its_root_is_an_anchor() -> None:
    later = datetime(2045, 1, 1, tzinfo=UTC)
    check = ac.check_file(PYTHON_EXE, own_root(PYTHON_EXE), now=later)
    assert check.verdict == ac.VALID
    assert check.chain_status == TRUSTED
    assert check.anchor.common_name == "Microsoft Identity Verification Root Certificate Authority 2020"


def test_the_debian_store_does_not_hold_the_root() -> None:
    anchors = load_anchors()
    check = ac.check_file(PYTHON_EXE, anchors)
    assert check.verdict == ac.VALID
    assert check.chain_status == ROOT_NOT_TRUSTED
    assert anchors.sources and "system store" in anchors.sources[0]


def test_one_flipped_byte_in_the_signed_region_is_a_mismatch(tmp_path: Path) -> None:
    bad = flipped(PYTHON_EXE, 0x1000, tmp_path / "python.exe")
    check = ac.check_file(bad, NO_ANCHORS)
    assert check.verdict == ac.MISMATCH
    assert check.signed_digest == PYTHON_DIGEST != check.file_digest
    assert check.signer.display == "Python Software Foundation"   # who claimed to sign it


def test_the_checksum_field_is_outside_the_digest(tmp_path: Path) -> None:
    layout, _, _ = signature_parts(PYTHON_EXE)
    changed = flipped(PYTHON_EXE, layout.checksum_at, tmp_path / "python.exe")
    assert ac.check_file(changed, NO_ANCHORS).verdict == ac.VALID


def test_a_flipped_byte_in_the_signers_signature_is_caught(tmp_path: Path) -> None:
    _, _, si = signature_parts(PYTHON_EXE)
    data = PYTHON_EXE.read_bytes()
    at = data.index(si["signature"].native) + 40
    check = ac.check_file(flipped(PYTHON_EXE, at, tmp_path / "python.exe"), NO_ANCHORS)
    assert check.verdict == ac.BAD_SIGNATURE
    assert "does not verify" in check.reason


def test_a_flipped_byte_in_the_signed_attributes_is_caught(tmp_path: Path) -> None:
    _, _, si = signature_parts(PYTHON_EXE)
    data = PYTHON_EXE.read_bytes()
    attrs = si["signed_attrs"].dump()
    at = data.index(attrs[4:60]) + 20
    check = ac.check_file(flipped(PYTHON_EXE, at, tmp_path / "python.exe"), NO_ANCHORS)
    assert check.verdict in (ac.BAD_SIGNATURE, ac.UNREADABLE)


def test_a_broken_timestamp_leaves_an_expired_signer(tmp_path: Path) -> None:
    _, _, si = signature_parts(PYTHON_EXE)
    token = si["unsigned_attrs"][0]["values"][0]
    tsa_signature = token["content"]["signer_infos"][0]["signature"].native
    data = PYTHON_EXE.read_bytes()
    at = data.index(tsa_signature) + 17
    check = ac.check_file(flipped(PYTHON_EXE, at, tmp_path / "python.exe"), NO_ANCHORS)
    assert check.verdict == ac.VALID                       # the file is still the PSF's bytes
    assert check.timestamp is not None and "does not verify" in check.timestamp.problem
    assert check.chain_status == INVALID                    # checked now, the signer has expired
    assert "not at the signing time" in check.chain_detail


def test_a_signature_moved_to_another_file_is_a_mismatch(tmp_path: Path, unsigned_exe: Path) -> None:
    layout, _, _ = signature_parts(PYTHON_EXE)
    table = PYTHON_EXE.read_bytes()[layout.signature_at:]
    other = bytearray(unsigned_exe.read_bytes())
    other[0x1000] ^= 0x01                                   # another program: one byte differs
    other += bytes(-len(other) % 8)
    struct.pack_into("<II", other, layout.security_entry_at, len(other), len(table))
    moved = tmp_path / "moved.exe"
    moved.write_bytes(bytes(other) + table)
    check = ac.check_file(moved, NO_ANCHORS)
    assert check.verdict == ac.MISMATCH
    assert check.signer.display == "Python Software Foundation"


def test_unsigned_is_a_fact(unsigned_exe: Path) -> None:
    check = ac.check_file(unsigned_exe, NO_ANCHORS)
    assert check.verdict == ac.UNSIGNED and check.signer is None


def test_signed_here_with_a_test_chain(test_signed_exe: Path, test_chain) -> None:
    check = ac.check_file(test_signed_exe, NO_ANCHORS)
    assert check.verdict == ac.VALID
    assert check.signer.common_name == "Fabrikam Code Signing"
    assert check.program_name == "Fabrikam Paint"
    assert check.timestamp is None
    assert check.chain_status == INCOMPLETE                 # the root is not in the signature
    trusted = ac.check_file(test_signed_exe, load_anchors([test_chain.root_pem], system=False))
    assert trusted.chain_status == TRUSTED
    assert trusted.anchor.common_name == "Fabrikam Test Root"
    assert [c.common_name for c in trusted.chain] == [
        "Fabrikam Code Signing", "Fabrikam Test Code Signing CA", "Fabrikam Test Root"]


def test_a_signer_whose_certificate_has_expired_and_no_timestamp(
        tmp_path: Path, unsigned_exe: Path) -> None:
    chain = make_chain(tmp_path / "expired", signer_days=(-30, -2))
    signed = sign(unsigned_exe, chain, tmp_path / "expired.exe")
    check = ac.check_file(signed, load_anchors([chain.root_pem], system=False))
    assert check.verdict == ac.VALID
    assert check.chain_status == INVALID
    assert "Fabrikam Code Signing" in check.chain_detail


def test_bad_input_gets_a_verdict_not_an_exception(tmp_path: Path) -> None:
    text = tmp_path / "readme.exe"
    text.write_text("not a program\n" * 10)
    assert ac.check_file(text, NO_ANCHORS).verdict == ac.UNREADABLE
    layout, _, _ = signature_parts(PYTHON_EXE)
    data = PYTHON_EXE.read_bytes()
    cut = tmp_path / "cut.exe"
    cut.write_bytes(data[:layout.signature_at + 100])
    check = ac.check_file(cut, NO_ANCHORS)
    assert check.verdict == ac.UNREADABLE and "should end at byte" in check.reason
    zeroed = tmp_path / "zeroed.exe"
    zeroed.write_bytes(data[:layout.signature_at + 8] + bytes(layout.signature_size - 8))
    assert ac.check_file(zeroed, NO_ANCHORS).verdict == ac.UNREADABLE
    for n in (0, 2, 64, 300):
        short = tmp_path / f"short{n}.exe"
        short.write_bytes(data[:n])
        assert ac.check_file(short, NO_ANCHORS).verdict == ac.UNREADABLE


def test_flips_throughout_the_signature_never_raise_and_never_pass_the_signed_content(
        tmp_path: Path) -> None:
    layout, _, si = signature_parts(PYTHON_EXE)
    data = PYTHON_EXE.read_bytes()
    content_at = data.index(si["signature"].native)
    target = tmp_path / "python.exe"
    seen = set()
    for offset in range(layout.signature_at, len(data), 61):
        check = ac.check_file(flipped(PYTHON_EXE, offset, target), NO_ANCHORS)
        assert check.verdict in ac.VERDICTS
        seen.add(check.verdict)
        if content_at <= offset < content_at + 256:
            assert check.verdict != ac.VALID
    assert {ac.VALID, ac.UNREADABLE} <= seen


def test_inspect_names_the_signer_and_the_timestamp(tmp_path: Path) -> None:
    from archive.intake.inspect import inspect_file

    found = inspect_file(PYTHON_EXE)
    assert found.fields["signer"] == "Python Software Foundation"
    assert found.sources["signer"] == "Authenticode signature: valid, root not trusted here"
    assert found.fields["signed"] == "2025-02-04 16:33Z by Microsoft Corporation"
    bad = inspect_file(flipped(PYTHON_EXE, 0x1000, tmp_path / "python.exe"))
    assert bad.sources["signer"] == "Authenticode signature: DOES NOT MATCH THE FILE"
    assert any("does not match the file" in n for n in bad.notes)


def test_page_hashes_are_noticed(tmp_path: Path, unsigned_exe: Path, test_chain) -> None:
    signed = sign(unsigned_exe, test_chain, tmp_path / "paged.exe", "-ph")
    check = ac.check_file(signed, NO_ANCHORS)
    assert check.verdict == ac.VALID
    assert any("SHA-256 page hashes" in n for n in check.notes)
    plain = ac.check_file(PYTHON_EXE, NO_ANCHORS)
    assert not any("page hashes" in n for n in plain.notes)


def test_a_nested_sha256_signature_is_checked_too(tmp_path: Path, unsigned_exe: Path,
                                                  test_chain) -> None:
    first = sign(unsigned_exe, test_chain, tmp_path / "sha1.exe", "-h", "sha1")
    dual = sign(first, test_chain, tmp_path / "dual.exe", "-nest")
    check = ac.check_file(dual, NO_ANCHORS)
    assert check.verdict == ac.VALID and check.digest_algorithm == "sha1"
    assert check.more_signatures == 1
    assert "nested signature (sha256) by Fabrikam, Inc.: valid" in check.notes
    bad = ac.check_file(flipped(dual, 0x1000, tmp_path / "bad.exe"), NO_ANCHORS)
    assert bad.verdict == ac.MISMATCH
    assert "nested signature (sha256) by Fabrikam, Inc.: digest-mismatch" in " ".join(bad.notes)
