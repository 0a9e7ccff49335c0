"""A Python package missing from an install is an environment failure (exit 3) named with the
package to install, whatever needed it (issue 14.4); tests/inspect/test_install.py runs inspect
itself without pefile, olefile and pycdlib."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from archive.cli.main import describe
from archive.errors import EXIT_ENVIRONMENT, MissingModule
from archive.intake.importers.keepass import read_kdbx
from archive.present.kit_html import qr_svg


def test_the_message_names_the_pip_package_not_the_module() -> None:
    text = str(MissingModule("tomli_w", "writing a manifest"))
    assert text.startswith("writing a manifest needs the Python package tomli-w, which is not installed")
    assert "pip install tomli-w" in text
    assert MissingModule("pefile", "x").exit_code == EXIT_ENVIRONMENT


def test_a_package_that_will_not_load_is_not_called_missing() -> None:
    broken = ImportError("DLL load failed while importing _blake3", name="blake3")
    assert "blake3, which is installed but cannot be loaded" in \
        str(MissingModule.from_import_error(broken, "hashing"))


def test_any_command_meeting_a_missing_module_exits_3_naming_it() -> None:
    code, text = describe(ModuleNotFoundError("No module named 'zxcvbn'", name="zxcvbn"))
    assert code == EXIT_ENVIRONMENT
    assert "this command needs the Python package zxcvbn" in text


def test_a_missing_module_of_our_own_is_a_bug() -> None:
    code, _ = describe(ModuleNotFoundError("No module named 'archive.gone'", name="archive.gone"))
    assert code is None                       # the traceback is printed: report it


def test_keepass_without_pykeepass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pykeepass", None)
    with pytest.raises(MissingModule, match="KeePass database needs the Python package pykeepass"):
        read_kdbx(tmp_path / "Passwords.kdbx", "password")


def test_html_kit_without_segno(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "segno", None)
    with pytest.raises(MissingModule, match="recovery kit needs the Python package segno"):
        qr_svg("CODE")


def test_init_with_an_html_kit_without_segno_exits_3_and_makes_no_store(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "segno", None)
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "correct horse battery staple orbit")
    store = tmp_path / "store"
    res = cli("--store", store, "init", "--recovery-kit", tmp_path / "kit.html")
    assert res.code == 3, res.err
    assert "pip install segno" in res.err and len(res.err.strip().splitlines()) == 1
    assert not store.exists()
