"""Our signature table: formats are told by their bytes; names are only a hint."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from archive.errors import UsageError
from archive.intake.inspect import inspect_file, name_hints
from archive.intake.inspect.signatures import looks_like_email, match


@pytest.mark.parametrize(("head", "fmt"), [
    (b"MZ\x90\x00", "pe"),
    (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(8), "ole"),
    (b"!<arch>\ndebian-binary   ", "deb"),
    (b"!<arch>\nfoo.o/          ", "ar"),
    (bytes.fromhex("edabeedb030000"), "rpm"),
    (b"xar!\x00\x1c\x00\x01", "xar"),
    (b"\x7fELF\x02\x01\x01\x00AI\x02" + bytes(5), "appimage"),
    (b"\x7fELF\x02\x01\x01\x00" + bytes(8), "elf"),
    (b"PK\x03\x04", "zip"),
    (b"%PDF-1.7", "pdf"),
    (bytes(0x8001) + b"CD001", "iso9660"),
    (bytes(0x8801) + b"CD001", "iso9660"),
    (bytes.fromhex("377abcaf271c"), "7z"),
    (b"\x1f\x8b\x08\x00", "gzip"),
])
def test_magic(head: bytes, fmt: str) -> None:
    sig = match(head)
    assert sig is not None and sig.format == fmt


def test_dmg_is_told_by_its_trailer() -> None:
    tail = b"koly" + bytes(508)
    sig = match(b"\x00" * 100, tail)
    assert sig is not None and sig.format == "dmg"


def test_unknown_bytes_match_nothing() -> None:
    assert match(b"just some text\n") is None
    assert match(b"") is None


def test_email_headers() -> None:
    assert looks_like_email(b"From: a@b.example\nSubject: hi\n\nbody")
    assert looks_like_email(b"Received: from x\nFrom: a@b\nTo: c@d\nSubject: s\n\n")
    assert not looks_like_email(b"Subject only: no\n")
    assert not looks_like_email(b"From: someone\n")           # one header line is not a message


def test_name_hints_are_kept_apart() -> None:
    assert name_hints("Contoso-Ledger-Setup-4.2.1-x64.exe") == {"version": "4.2.1",
                                                                  "product": "Contoso Ledger"}
    assert name_hints("northwind_notes_v3.1.4.tar.gz") == {"version": "3.1.4",
                                                             "product": "northwind notes"}
    assert name_hints("setup.exe") == {}


def test_unknown_file_reads_nothing_and_says_so(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(os.urandom(3000))
    found = inspect_file(f)
    assert (found.format, found.damaged, found.fields) == ("unknown", False, {})
    assert not found.is_installer


def test_misnamed_file_is_said_plainly(tmp_path: Path, msi_file: Path) -> None:
    f = tmp_path / "setup.exe"
    f.write_bytes(msi_file.read_bytes())
    found = inspect_file(f)
    assert found.format == "msi" and found.product == "Contoso Ledger"
    assert any("ends in .exe" in n for n in found.notes)


def test_empty_file(cli, tmp_path: Path) -> None:
    f = tmp_path / "Setup.exe"
    f.write_bytes(b"")
    found = inspect_file(f)
    assert found.damaged and "empty" in found.problems[0]
    res = cli("inspect", f)
    assert res.code == 1 and "empty" in res.err


def test_missing_and_directory(cli, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        inspect_file(tmp_path / "nope.msi")
    res = cli("inspect", tmp_path / "nope.msi")
    assert res.code == 2 and "no such file" in res.err
    res = cli("inspect", tmp_path)
    assert res.code == 2 and "is a directory" in res.err and "Traceback" not in res.err
