"""ISO 9660 images made with genisoimage: the volume label and the installers inside."""
from __future__ import annotations

import json
from pathlib import Path

from archive.intake.inspect import inspect_file


def test_iso_volume_label_publisher_and_inner_msi(iso_file: Path) -> None:
    found = inspect_file(iso_file)
    assert (found.format, found.damaged) == ("iso9660", False), found.problems
    assert found.fields["volume_label"] == "CONTOSO_LEDGER_42"
    assert found.sources["volume_label"].startswith("ISO 9660 primary volume descriptor")
    assert found.fields["publisher"] == "Contoso Ltd."
    assert found.fields["autorun_label"] == "Contoso Ledger 4.2"
    assert [i.path for i in found.inner] == ["/SETUP/ContosoLedger-4.2.1-x64.msi"]
    assert found.inner[0].product == "Contoso Ledger"
    # One product inside: the image takes its details, saying where they came from.
    assert (found.product, found.version) == ("Contoso Ledger", "4.2.1")
    assert found.sources["version"].startswith("/SETUP/ContosoLedger-4.2.1-x64.msi inside:")
    assert found.is_installer


def test_iso_with_two_products_lifts_nothing(mixed_iso: Path) -> None:
    found = inspect_file(mixed_iso)
    assert found.fields["volume_label"] == "OFFICE_BUNDLE"
    assert sorted(i.product for i in found.inner) == ["Contoso Ledger", "Fabrikam Paint"]
    assert found.product is None and found.version is None
    assert any("different products" in n for n in found.notes)


def test_inspect_cli_on_iso(cli, iso_file: Path) -> None:
    res = cli("inspect", iso_file)
    assert res.code == 0, res.err
    assert "CONTOSO_LEDGER_42" in res.out and "inside:" in res.out
    data = json.loads(cli("inspect", iso_file, "--json").out)
    assert data["fields"]["volume_label"] == "CONTOSO_LEDGER_42"
    assert data["inner"][0]["fields"]["product"] == "Contoso Ledger"


def test_truncated_iso(cli, iso_file: Path, copy_of) -> None:
    for cut in (iso_file.stat().st_size // 2, 40_000, 0x8010):
        bad = copy_of(iso_file, f"cut{cut}.iso", cut)
        found = inspect_file(bad)
        assert found.damaged, (cut, found)
        res = cli("inspect", bad)
        assert res.code == 1 and "Traceback" not in res.err, res.err
