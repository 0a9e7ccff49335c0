"""Windows installers built with makensis: the version resource, the framework, the signer."""
from __future__ import annotations

import json
from pathlib import Path

from archive.intake.inspect import inspect_file


def test_nsis_installer_says_product_vendor_and_version(nsis_exe: Path) -> None:
    found = inspect_file(nsis_exe)
    assert found.format == "pe" and not found.damaged
    assert found.label == "Windows installer (NSIS)"
    assert (found.product, found.vendor, found.version) == ("Fabrikam Paint", "Fabrikam, Inc.",
                                                            "7.5.0.1210")
    assert found.sources["product"] == "PE version resource: ProductName"
    assert found.sources["version"] == "PE version resource: ProductVersion"
    assert found.sources["vendor"] == "PE version resource: CompanyName"
    assert found.fields["description"] == "Fabrikam Paint Setup"
    assert found.fields["file_version"] == "7.5.0.1210"
    assert found.fields["installer_type"] == "NSIS"
    # An NSIS stub is 32-bit whatever it installs: said, and not turned into a platform guess.
    assert found.fields["architecture"] == "x86" and found.platform == "windows"
    assert any("32-bit" in n for n in found.notes)
    assert "signer" not in found.fields


def test_inspect_cli_text_and_json(cli, nsis_exe: Path) -> None:
    res = cli("inspect", nsis_exe)
    assert res.code == 0, res.err
    assert "Fabrikam Paint" in res.out and "7.5.0.1210" in res.out
    assert "(PE version resource: ProductVersion)" in res.out
    res = cli("inspect", nsis_exe, "--json")
    data = json.loads(res.out)
    assert data["fields"]["product"] == "Fabrikam Paint"
    assert data["installer"] is True and data["damaged"] is False


def test_authenticode_signer_is_read(signed_exe: Path) -> None:
    found = inspect_file(signed_exe)
    assert not found.damaged, found.problems
    assert found.fields["signer"] == "Fabrikam Code Signing"
    assert found.sources["signer"] == "Authenticode signature: valid, root not trusted here"
    # The version resource still wins for the vendor; the certificate is only a fallback.
    assert found.vendor == "Fabrikam, Inc." and found.sources["vendor"].startswith("PE version")


def test_truncated_pe_is_reported_not_a_traceback(cli, nsis_exe: Path, copy_of) -> None:
    size = nsis_exe.stat().st_size
    for cut in (size - 1000, 4096, 300, 40):
        bad = copy_of(nsis_exe, f"cut-{cut}.exe", cut)
        found = inspect_file(bad)
        assert found.damaged, cut
        assert "truncated" in found.problems[0] or "damaged" in found.problems[0], found.problems
        res = cli("inspect", bad)
        assert res.code == 1, (cut, res.err)
        assert "Traceback" not in res.err and "problem:" in res.err
        assert len(res.err.strip().splitlines()) == 1


def test_add_without_flags_reads_the_nsis_installer(cli, store_dir: Path, nsis_exe: Path) -> None:
    res = cli("add", nsis_exe)
    assert res.code == 0, res.err
    assert "Read from FabrikamPaintSetup.exe" in res.out
    assert "fabrikam-paint@7.5.0.1210+windows" in res.out
    shown = json.loads(cli("show", "Fabrikam Paint@7.5.0.1210", "--json").out)
    assert (shown["vendor"], shown["platform"]) == ("Fabrikam, Inc.", "windows")
