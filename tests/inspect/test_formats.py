"""RPM, macOS .pkg, zip and AppImage, built byte by byte here (no tool makes them on Debian
without a build system), and their truncated forms."""
from __future__ import annotations

import base64
import datetime as dt
import io
import struct
import zipfile
import zlib
from pathlib import Path

from archive.intake.inspect import inspect_file


def rpm_bytes() -> bytes:
    lead = bytes.fromhex("edabeedb") + bytes([3, 0]) + struct.pack(">hh", 0, 1) + \
        b"northwind-notes-3.1.4-2".ljust(66, b"\0") + struct.pack(">hh", 1, 5) + bytes(16)
    signature = bytes.fromhex("8eade801") + bytes(4) + struct.pack(">ii", 0, 0)
    tags = [(1000, 6, b"northwind-notes"), (1001, 6, b"3.1.4"), (1002, 6, b"2.el9"),
            (1004, 9, b"Notes for Northwind"), (1011, 6, b"Northwind Traders"),
            (1020, 6, b"https://northwind.example/notes"), (1022, 6, b"x86_64")]
    store, index = b"", b""
    for tag, kind, value in tags:
        index += struct.pack(">iiii", tag, kind, len(store), 1)
        store += value + b"\0"
    main = bytes.fromhex("8eade801") + bytes(4) + struct.pack(">ii", len(tags), len(store)) + index + store
    return lead + signature + main + b"\x1f\x8b payload would follow"


def test_rpm_header(tmp_path: Path) -> None:
    f = tmp_path / "northwind-notes-3.1.4-2.el9.x86_64.rpm"
    f.write_bytes(rpm_bytes())
    found = inspect_file(f)
    assert (found.format, found.damaged) == ("rpm", False), found.problems
    assert (found.product, found.version, found.vendor) == ("northwind-notes", "3.1.4-2.el9",
                                                            "Northwind Traders")
    assert found.sources["version"] == "RPM header: Version-Release"
    assert found.platform == "linux-x86_64"


def test_truncated_rpm(cli, tmp_path: Path) -> None:
    data = rpm_bytes()
    for cut in (len(data) - 40, 120, 50):
        f = tmp_path / f"cut{cut}.rpm"
        f.write_bytes(data[:cut])
        found = inspect_file(f)
        assert found.damaged, cut
        res = cli("inspect", f)
        assert res.code == 1 and "Traceback" not in res.err


def xar_bytes(with_signature: bool = True) -> bytes:
    distribution = b"""<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2"><title>Northwind Notes</title>
<options hostArchitectures="x86_64,arm64"/>
<product id="com.northwind.notes" version="3.1.4"/>
<pkg-ref id="com.northwind.notes.app" version="3.1.4">#notes.pkg</pkg-ref>
</installer-gui-script>"""
    packed = zlib.compress(distribution)
    signature = ""
    if with_signature:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, "Developer ID Installer: Northwind Traders"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Northwind Traders")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(7)
                .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
                .sign(key, hashes.SHA256()))
        der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        signature = (f'<signature style="RSA"><offset>{len(packed)}</offset><size>256</size>'
                     '<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data>'
                     f"<X509Certificate>{der}</X509Certificate></X509Data></KeyInfo></signature>")
    toc = (f'<?xml version="1.0" encoding="UTF-8"?><xar><toc>{signature}<file id="1">'
           f"<name>Distribution</name><type>file</type><data><length>{len(packed)}</length>"
           f"<offset>0</offset><size>{len(distribution)}</size>"
           '<encoding style="application/x-gzip"/></data></file></toc></xar>').encode()
    toc_packed = zlib.compress(toc)
    header = b"xar!" + struct.pack(">HHQQI", 28, 1, len(toc_packed), len(toc), 0)
    return header + toc_packed + packed + bytes(256)


def test_pkg_distribution_and_signer(tmp_path: Path) -> None:
    f = tmp_path / "NorthwindNotes.pkg"
    f.write_bytes(xar_bytes())
    found = inspect_file(f)
    assert found.format == "pkg" and not found.damaged, found.problems
    assert (found.product, found.version) == ("Northwind Notes", "3.1.4")
    assert found.sources["product"] == "pkg Distribution: title"
    assert found.fields["architecture"] == "x86_64, arm64" and found.platform == "macos"
    assert found.vendor == "Northwind Traders"
    assert found.fields["signer"].startswith("Developer ID Installer")


def test_truncated_pkg(tmp_path: Path) -> None:
    data = xar_bytes(with_signature=False)
    f = tmp_path / "cut.pkg"
    f.write_bytes(data[:60])
    assert inspect_file(f).damaged
    f.write_bytes(data[:-300])
    found = inspect_file(f)
    assert found.damaged and "truncated" in found.problems[0]


def test_zip_with_an_installer_inside(tmp_path: Path, nsis_exe: Path) -> None:
    f = tmp_path / "paint.zip"
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(nsis_exe, "Fabrikam/FabrikamPaintSetup.exe")
        z.writestr("Fabrikam/readme.txt", "read me")
    found = inspect_file(f)
    assert found.format == "zip" and found.is_installer
    assert [i.path for i in found.inner] == ["Fabrikam/FabrikamPaintSetup.exe"]
    assert (found.product, found.version) == ("Fabrikam Paint", "7.5.0.1210")
    assert found.sources["product"].startswith("Fabrikam/FabrikamPaintSetup.exe inside:")


def test_zip_without_installers_and_truncated_zip(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello" * 1000)
    f = tmp_path / "notes.zip"
    f.write_bytes(buf.getvalue())
    found = inspect_file(f)
    assert not found.is_installer and any("no installer" in n for n in found.notes)
    f.write_bytes(buf.getvalue()[:100])
    assert inspect_file(f).damaged


def test_appimage_says_what_it_cannot_read(tmp_path: Path) -> None:
    elf = bytearray(64)
    elf[0:4] = b"\x7fELF"
    elf[4], elf[5], elf[6] = 2, 1, 1
    elf[8:11] = b"AI\x02"
    elf[18:20] = (0x3E).to_bytes(2, "little")
    f = tmp_path / "Northwind_Notes-3.1.4-x86_64.AppImage"
    f.write_bytes(bytes(elf) + bytes(1000))
    found = inspect_file(f)
    assert (found.format, found.label) == ("appimage", "AppImage (type 2)")
    assert found.platform == "linux-x86_64" and found.product is None
    assert any("SquashFS" in n for n in found.notes)
    assert found.hints == {"version": "3.1.4", "product": "Northwind Notes"}


def test_add_refuses_a_file_that_does_not_say_its_version(cli, store_dir: Path, tmp_path: Path) -> None:
    elf = bytearray(64)
    elf[0:4], elf[4], elf[5], elf[8:11] = b"\x7fELF", 2, 1, b"AI\x02"
    f = tmp_path / "Northwind_Notes-3.1.4-x86_64.AppImage"
    f.write_bytes(bytes(elf) + bytes(100))
    res = cli("add", f)
    assert res.code == 2 and "Traceback" not in res.err
    assert "does not say its product and version: give --product NAME --version VER" in res.err
    assert "the file name suggests --product 'Northwind Notes' --version 3.1.4" in res.err
    assert len(res.err.strip().splitlines()) == 1
    res = cli("add", f, "--product", "Northwind Notes", "--version", "3.1.4")
    assert res.code == 0, res.err
