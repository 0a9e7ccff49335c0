"""Debian packages from the Debian archive (apt-get download)."""
from __future__ import annotations

import json
from pathlib import Path

from archive.inspect import inspect_file


def test_deb_control_fields(deb_file: Path) -> None:
    found = inspect_file(deb_file)
    assert (found.format, found.damaged) == ("deb", False), found.problems
    assert found.product == "hello"
    assert found.version and found.version == deb_file.name.split("_")[1]
    assert found.vendor and "@" not in found.vendor                 # the maintainer, without address
    assert found.sources["vendor"].startswith("Debian control file: Maintainer")
    assert found.fields["homepage"].startswith("http")
    arch = found.fields["architecture"]
    assert found.platform == ("linux" if arch == "all" else f"linux-{arch}")


def test_inspect_cli_on_deb(cli, deb_file: Path) -> None:
    res = cli("inspect", deb_file, "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert {"product", "version", "vendor"} <= set(data["fields"])
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
