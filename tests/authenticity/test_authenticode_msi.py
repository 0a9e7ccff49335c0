"""Authenticode on MSI files: a real installer built by wixl (with a 300 KB cabinet, so the large
stream path is read sector by sector), signed by osslsigncode with the test chain, with and without
MsiDigitalSignatureEx; a flipped byte in a stream, a changed stream time, and add / verify."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from archive.intake import authenticode as ac
from archive.intake.trust import TRUSTED, Anchors, load_anchors
from archive.storage.store import Store
from tests.authenticity.conftest import SigningChain, flipped, run, sign

WXS = """<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Contoso Ledger" Version="4.2.1" Manufacturer="Contoso Ltd." Language="1033"
           UpgradeCode="6F1A2B3C-4D5E-4F60-8172-93A4B5C6D7E8">
    <Package InstallerVersion="200" Compressed="yes" Description="Contoso Ledger installer"/>
    <Media Id="1" Cabinet="ledger.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Contoso Ledger">
          <Component Id="Files" Guid="2B7C1D9E-5A40-4C3B-9E21-7F3D8A6B5C41" Win64="yes">
            <File Id="ReadmeTxt" Source="readme.txt"/>
            <File Id="DataBin" Source="data.bin"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="Files"/></Feature>
  </Product>
</Wix>
"""


@pytest.fixture(scope="module")
def msi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wixl = shutil.which("wixl")
    if wixl is None:
        pytest.fail("wixl is not installed: install the Debian package wixl (scripts/test does it)",
                    pytrace=False)
    work = tmp_path_factory.mktemp("msi")
    (work / "readme.txt").write_text("Contoso Ledger\n")
    (work / "data.bin").write_bytes(os.urandom(300_000))
    (work / "ledger.wxs").write_text(WXS)
    run([wixl, "-a", "x64", "-o", "ContosoLedger-4.2.1-x64.msi", "ledger.wxs"], work)
    return work / "ContosoLedger-4.2.1-x64.msi"


@pytest.fixture(scope="module")
def signed_msis(msi: Path, test_chain: SigningChain) -> tuple[Path, Path]:
    plain = sign(msi, test_chain, msi.with_name("signed.msi"))
    extended = sign(msi, test_chain, msi.with_name("signed-dse.msi"), "-add-msi-dse")
    return plain, extended


def cabinet_offset(path: Path) -> int:
    return path.read_bytes().index(b"MSCF")


def test_signed_msis_are_valid_and_trusted_with_their_root(signed_msis, test_chain: SigningChain) -> None:
    anchors = load_anchors([test_chain.root_pem], system=False)
    for path in signed_msis:
        check = ac.check_file(path, anchors)
        assert check.verdict == ac.VALID, check.reason
        assert check.signer.common_name == "Fabrikam Code Signing"
        assert check.chain_status == TRUSTED
    assert any("MsiDigitalSignatureEx" in n for n in ac.check_file(signed_msis[1], anchors).notes)


def test_unsigned_msi_is_a_fact(msi: Path) -> None:
    assert ac.check_file(msi, Anchors()).verdict == ac.UNSIGNED


def test_a_flipped_byte_in_the_cabinet_is_a_mismatch(signed_msis, tmp_path: Path) -> None:
    for path in signed_msis:
        bad = flipped(path, cabinet_offset(path) + 150_000, tmp_path / path.name)
        check = ac.check_file(bad, Anchors())
        assert check.verdict == ac.MISMATCH, (path.name, check.reason)


def test_a_changed_stream_time_breaks_only_the_extended_signature(signed_msis, tmp_path: Path) -> None:
    import olefile

    for path, caught in zip(signed_msis, (False, True), strict=True):
        ole = olefile.OleFileIO(str(path))
        entry = next(e for e in ole.direntries if e is not None and e.entry_type == 2
                     and e.name not in ("\x05DigitalSignature", "\x05MsiDigitalSignatureEx"))
        sid = entry.sid
        sector_size = ole.sectorsize
        first_dir_sector = ole.first_dir_sector
        ole.close()
        # The directory's first sector holds entries 0..(sector/128 - 1); the entry's
        # creation time is at byte 100 of its 128.
        assert sid < sector_size // 128
        at = (first_dir_sector + 1) * sector_size + sid * 128 + 100
        changed = flipped(path, at, tmp_path / path.name)
        verdict = ac.check_file(changed, Anchors()).verdict
        assert verdict == (ac.MISMATCH if caught else ac.VALID), path.name


def test_damaged_msis_get_a_verdict(signed_msis, tmp_path: Path) -> None:
    data = signed_msis[0].read_bytes()
    for n in (8, 600, len(data) // 2):
        cut = tmp_path / f"cut{n}.msi"
        cut.write_bytes(data[:n])
        assert ac.check_file(cut, Anchors()).verdict in ac.VERDICTS


def test_add_and_verify_an_msi(store_dir: Path, cli, signed_msis, test_chain: SigningChain) -> None:
    done = cli("add", signed_msis[0], "--ca-file", test_chain.root_pem)
    assert done.code == 0, done.err
    assert "signed by Fabrikam, Inc., not timestamped; chain to a trusted root: yes" in done.out
    release = Store.open(store_dir).catalog.resolve("contoso-ledger@4.2.1+windows-x64")
    assert release.artifacts[0].authenticity.kind == "authenticode"
    assert cli("verify", "--authenticity").code == 0
    found = cli("inspect", signed_msis[0])
    assert "Authenticode signature: valid" in found.out


def test_flips_in_the_signature_stream_never_raise(signed_msis, tmp_path: Path) -> None:
    import olefile

    path = signed_msis[0]
    ole = olefile.OleFileIO(str(path))
    blob = ole.openstream(["\x05DigitalSignature"]).read()
    ole.close()
    data = path.read_bytes()
    start = data.find(blob[:64])
    assert start > 0                       # the stream lies in one piece here
    seen = set()
    for offset in range(start, start + len(blob), 37):
        check = ac.check_file(flipped(path, offset, tmp_path / "f.msi"), Anchors())
        assert check.verdict in ac.VERDICTS
        seen.add(check.verdict)
    assert ac.UNREADABLE in seen and len(seen) >= 2
