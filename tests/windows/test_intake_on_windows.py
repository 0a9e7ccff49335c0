"""Intake on Windows CPython (under Wine): `scan` of a downloads folder and `import` of a
password manager's export, the same inputs and the same results as the Linux tests."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.formats.conftest import Export, bitwarden_json  # noqa: F401 - fixture, shared
from tests.inspect.conftest import deb_file, msi_file  # noqa: F401 - fixtures, shared
from tests.inspect.test_scan import KEY, ORDER_EMAIL

from .conftest import WindowsPython, winpath
from .test_cli_on_windows import ok


def _store(win: WindowsPython, tmp_path: Path) -> str:
    store = winpath(tmp_path / "store")
    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    return store


def test_scan_apply_links_the_receipt_key(windows_python: WindowsPython, msi_file: Path,  # noqa: F811
                                          deb_file: Path, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "Downloads"
    (folder / "old").mkdir(parents=True)
    shutil.copy(msi_file, folder / msi_file.name)
    shutil.copy(deb_file, folder / "old" / deb_file.name)
    (folder / "Your Contoso order.eml").write_text(ORDER_EMAIL, encoding="utf-8")
    win = windows_python
    store = _store(win, tmp_path)
    planned = ok(win.arkeep("--store", store, "scan", winpath(folder)))
    assert KEY not in planned.out + planned.err
    applied = ok(win.arkeep("--store", store, "scan", winpath(folder), "--apply", "--yes"))
    assert KEY not in applied.out + applied.err
    assert "Archived contoso-ledger@4.2.1+windows-x64" in applied.out
    shown = json.loads(ok(win.arkeep("--store", store, "--json", "show", "Contoso Ledger@4.2.1",
                                     "--reveal")).out)
    [lic] = shown["license_records"]
    assert lic["key"] == KEY and lic["order_number"] == "CS-2026-0042"
    for path in (tmp_path / "store" / "manifests").rglob("*.toml"):
        assert KEY not in path.read_text(encoding="utf-8"), path
    again = ok(win.arkeep("--store", store, "scan", winpath(folder), "--apply", "--yes"))
    assert "Already archived: contoso-ledger@4.2.1+windows-x64" in again.out


def test_import_of_a_bitwarden_export(windows_python: WindowsPython, bitwarden_json: Export,  # noqa: F811
                                      tmp_path: Path) -> None:
    win = windows_python
    store = _store(win, tmp_path)
    done = ok(win.arkeep("--store", store, "import", "bitwarden", winpath(bitwarden_json.path)))
    assert not any(secret in done.out + done.err for secret in bitwarden_json.secrets)
    listed = json.loads(ok(win.arkeep("--store", store, "--json", "list", "--licenses")).out)
    assert "Affinity Photo" in json.dumps(listed)
    shown = json.loads(ok(win.arkeep("--store", store, "--json", "show", "Affinity Photo@1.10.6",
                                     "--reveal")).out)
    [lic] = shown["license_records"]
    assert lic["key"] == "BW-AFF-7Q2W-XK42-SECRET"
    for path in (tmp_path / "store").rglob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert not any(secret in text for secret in bitwarden_json.secrets), path
