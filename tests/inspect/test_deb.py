"""Debian packages from the Debian archive (apt-get download)."""
from __future__ import annotations

import json
from pathlib import Path

from archive.intake.inspect import inspect_file


def test_deb_control_fields(deb_file: Path) -> None:
    found = inspect_file(deb_file)
    assert (found.format, found.damaged) == ("deb", False), found.problems
    assert found.product == "hello"
    assert found.version and found.version == deb_file.name.split("_")[1]
    # The maintainer packaged it for Debian: kept as such, never taken for the vendor.
    assert found.fields["maintainer"] and found.vendor is None
    assert found.fields["homepage"].startswith("http")
    arch = found.fields["architecture"]
    assert found.platform == ("linux" if arch == "all" else f"linux-{arch}")


def test_inspect_cli_on_deb(cli, deb_file: Path) -> None:
    res = cli("inspect", deb_file, "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert {"product", "version", "maintainer"} <= set(data["fields"])
    assert data["sources"]["product"] == "Debian control file: Package"


def test_truncated_deb(cli, deb_file: Path, copy_of) -> None:
    size = deb_file.stat().st_size
    for cut in (size - 100, 200, 30):
        bad = copy_of(deb_file, f"cut{cut}.deb", cut)
        found = inspect_file(bad)
        assert found.damaged, cut
        res = cli("inspect", bad)
        assert res.code == 1 and "Traceback" not in res.err, res.err
        assert "truncated" in res.err or "damaged" in res.err


def build_deb(tmp_path: Path, control: str) -> Path:
    import shutil
    import subprocess

    if shutil.which("dpkg-deb") is None:
        import pytest
        pytest.fail("dpkg-deb (package dpkg) is needed to build a test .deb", pytrace=False)
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(control)
    (root / "opt" / "fabrikam").mkdir(parents=True)
    (root / "opt" / "fabrikam" / "paint").write_bytes(b"#!/bin/sh\necho paint\n")
    out = tmp_path / "fabrikam-paint_3.1_amd64.deb"
    subprocess.run(["dpkg-deb", "-Zgzip", "--root-owner-group", "--build", str(root), str(out)],
                   check=True, capture_output=True)
    return out


CONTROL = """Package: fabrikam-paint
Version: 3.1
Architecture: amd64
Maintainer: Build Bot <builds@fabrikam.example>
{vendor}Homepage: https://fabrikam.example/paint
Description: Fabrikam Paint
"""


def test_deb_vendor_field_is_the_vendor(tmp_path: Path) -> None:
    found = inspect_file(build_deb(tmp_path, CONTROL.format(vendor="Vendor: Fabrikam Inc.\n")))
    assert found.vendor == "Fabrikam Inc."
    assert found.sources["vendor"] == "Debian control file: Vendor"
    none = inspect_file(build_deb(tmp_path / "b", CONTROL.format(vendor="Vendor: none\n")))
    assert none.vendor is None and none.fields["maintainer"].startswith("Build Bot")
