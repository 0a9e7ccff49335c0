"""MSI packages built with wixl: the Property table and summary information; add without flags."""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from archive.intake.inspect import inspect_file
from archive.intake.inspect.msi import decode_stream_name


def test_msi_property_table_and_platform(msi_file: Path) -> None:
    found = inspect_file(msi_file)
    assert (found.format, found.label) == ("msi", "Windows Installer package (MSI)")
    assert not found.damaged, found.problems
    assert (found.product, found.vendor, found.version) == ("Contoso Ledger", "Contoso Ltd.", "4.2.1")
    assert found.sources["product"] == "MSI Property table: ProductName"
    assert found.fields["upgrade_code"] == "{6F1A2B3C-4D5E-4F60-8172-93A4B5C6D7E8}"
    assert found.fields["product_code"].startswith("{") and found.fields["language"] == "1033"
    assert found.platform == "windows-x64"
    assert found.sources["platform"].startswith("MSI summary information: Template")


def encode_stream_name(name: str) -> str:
    """The MSI packing, written out independently of the reader: two characters per code unit."""
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
    out, table = [], name.startswith("!")
    if table:
        out.append("\u4840")
        name = name[1:]
    i = 0
    while i < len(name):
        a = chars.index(name[i])
        if i + 1 < len(name):
            out.append(chr(0x3800 + a + (chars.index(name[i + 1]) << 6)))
            i += 2
        else:
            out.append(chr(0x4800 + a))
            i += 1
    return "".join(out)


def test_stream_names_decode(msi_file: Path) -> None:
    for name in ("!_StringPool", "!_StringData", "!Property", "!_Columns", "Binary.x"):
        assert decode_stream_name(encode_stream_name(name)) == name
    assert decode_stream_name("\x05SummaryInformation") == "\x05SummaryInformation"
    import olefile
    with olefile.OleFileIO(str(msi_file)) as ole:
        names = {decode_stream_name(e[0]) for e in ole.listdir()}
    assert {"!_StringPool", "!_StringData", "!Property", "\x05SummaryInformation"} <= names


def test_inspect_cli_reports_the_msi(cli, msi_file: Path) -> None:
    res = cli("inspect", msi_file)
    assert res.code == 0, res.err
    for text in ("Contoso Ledger", "Contoso Ltd.", "4.2.1", "windows-x64", "MSI Property table"):
        assert text in res.out


def test_add_msi_without_flags(cli, store_dir: Path, msi_file: Path) -> None:
    res = cli("add", msi_file)
    assert res.code == 0, res.err
    assert "product   Contoso Ledger" in res.out and "(MSI Property table: ProductName)" in res.out
    shown = json.loads(cli("show", "Contoso Ledger@4.2.1", "--json").out)
    assert (shown["product"], shown["version"], shown["vendor"], shown["platform"]) == (
        "Contoso Ledger", "4.2.1", "Contoso Ltd.", "windows-x64")
    manifest = tomllib.loads((store_dir / "manifests" / "releases" /
                              f"{shown['id']}.toml").read_text())
    assert manifest["artifact"][0]["detected"] == {
        "product": "MSI Property table: ProductName",
        "version": "MSI Property table: ProductVersion",
        "vendor": "MSI Property table: Manufacturer",
        "platform": "MSI summary information: Template (x64)",
    }
    again = cli("add", msi_file)
    assert again.code == 0 and "nothing changed" in again.out


def test_explicit_flags_win(cli, store_dir: Path, msi_file: Path) -> None:
    res = cli("add", msi_file, "--product", "Ledger Pro", "--vendor", "Contoso Europe", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["release"] == "ledger-pro@4.2.1+windows-x64"
    assert data["detected"] == {"version": "MSI Property table: ProductVersion",
                                "platform": "MSI summary information: Template (x64)"}
    shown = json.loads(cli("show", data["release"], "--json").out)
    assert shown["vendor"] == "Contoso Europe"
    # Both flags given: the file is still read for what they leave out (vendor, platform).
    res = cli("add", msi_file, "--product", "Ledger", "--version", "9", "--json")
    data = json.loads(res.out)
    assert data["release"] == "ledger@9+windows-x64"
    assert data["detected"] == {"vendor": "MSI Property table: Manufacturer",
                                "platform": "MSI summary information: Template (x64)"}
    shown = json.loads(cli("show", data["release"], "--json").out)
    assert (shown["product"], shown["version"], shown["vendor"], shown["platform"]) == (
        "Ledger", "9", "Contoso Ltd.", "windows-x64")


def test_a_release_archived_without_its_platform_is_not_split(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                             msi_file: Path, tmp_path: Path) -> None:
    """A release an older arkeep stored without reading the platform (both flags given) gets
    the same installer's files again, not a second release with the platform in its id."""
    other = tmp_path / "other.exe"
    other.write_bytes(os.urandom(1000))
    assert cli("add", other, "--product", "Ledger", "--version", "8").code == 0   # no platform read
    res = cli("add", msi_file, "--product", "Ledger", "--version", "8", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["release"] == "ledger@8" and "platform" not in data["detected"]


def test_truncated_msi_is_reported(cli, store_dir: Path, msi_file: Path, copy_of) -> None:
    for cut in (msi_file.stat().st_size // 2, 1536, 600):
        bad = copy_of(msi_file, f"cut-{cut}.msi", cut)
        found = inspect_file(bad)
        assert found.damaged, (cut, found)
        res = cli("inspect", bad)
        assert res.code == 1 and "Traceback" not in res.err, res.err
        assert "problem:" in res.out
    res = cli("add", bad)
    assert res.code == 2 and "Traceback" not in res.err
    assert "give --product and --version" in res.err


def test_random_bytes_named_msi(cli, store_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "Setup.msi"
    fake.write_bytes(os.urandom(50_000))
    found = inspect_file(fake)
    assert found.format == "unknown" and found.damaged
    assert "not a .msi file" in found.problems[0] and "D0 CF 11 E0" in found.problems[0]
    res = cli("inspect", fake)
    assert res.code == 1 and "Traceback" not in res.err
    res = cli("add", fake)
    assert res.code == 2 and "not a .msi file" in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1


def test_hostile_summary_vector_count_is_not_trusted(msi_file: Path, tmp_path: Path) -> None:
    """A damaged summary stream that claims a vector of 2**31 strings (olefile's own reader
    loops over that count and runs out of memory) is read in bounded time."""
    data = bytearray(msi_file.read_bytes())
    at = data.find(b"x64;1033\x00")
    assert at > 0 and data[at - 8:at] == bytes.fromhex("1e00000009000000")
    data[at - 8:at] = bytes.fromhex("1e100000ffffff7f")        # VT_VECTOR | VT_LPSTR, 2**31 - 1
    bad = tmp_path / "hostile.msi"
    bad.write_bytes(bytes(data))
    found = inspect_file(bad)
    assert found.product == "Contoso Ledger"                    # the Property table still reads
    assert "platform" not in found.fields
    assert any("no Template" in n for n in found.notes)
