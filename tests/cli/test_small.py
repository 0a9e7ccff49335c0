"""Small things a new user tripped over (issue 12, item 18): counts, columns, provenance, prices,
--version, and the demo's echoed commands."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from archive.present.humanize import count, display_width
from archive.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _file(tmp_path: Path, name: str, data: bytes | None = None) -> Path:
    path = tmp_path / name
    path.write_bytes(data if data is not None else name.encode() * 10)
    return path


def test_count_says_one_file_and_two_files() -> None:
    assert [count(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert count(1, "licence record") == "1 licence record"


def test_sync_counts_units_alike_and_the_key_file_apart(store_dir: Path, cli, tmp_path: Path) -> None:
    assert cli("add", _file(tmp_path, "a.exe"), "--product", "A", "--version", "1").code == 0
    (tmp_path / "nas").mkdir()
    assert cli("remote", "add", "nas", tmp_path / "nas").code == 0
    first = cli("sync")
    assert first.code == 0, first.err
    m = re.fullmatch(r"nas: sent (\d+) units \([^)]+\) and the key file, 0 already there", first.out.strip())
    assert m, first.out
    second = cli("sync")
    assert second.out.strip() == f"nas: up to date ({m.group(1)} units)"
    assert "1 units" not in cli("remote", "list").out


def test_singular_counts_in_list_verify_and_status(store_dir: Path, cli, tmp_path: Path) -> None:
    key = _file(tmp_path, "key.txt", b"KEY-1234")
    assert cli("add", _file(tmp_path, "a.exe"), "--product", "A", "--version", "1", "--key-file", key).code == 0
    listed = cli("list").out
    assert "[1 file, " in listed and ", 1 licence]" in listed
    verified = cli("verify").out
    assert verified.startswith("OK: 1 release, 1 licence record, 1 unit (")
    assert re.search(r"^0 of 1 release meet the policy \(2 remotes,", cli("status").out, re.M)


def test_list_columns_line_up_with_cjk_names_and_long_ids(store_dir: Path, cli, tmp_path: Path) -> None:
    for i, product in enumerate(("一太郎", "Adobe Photoshop CS6", "花子 Extended Edition", "Foo/Bar")):
        assert cli("add", _file(tmp_path, f"{i}.exe"), "--product", product, "--version", "2024").code == 0
    lines = cli("list").out.splitlines()
    assert len(lines) == 4
    titles = [display_width(line[:line.index(next(p for p in ("Adobe", "Foo/Bar", "一太郎", "花子")
                                                   if p in line))]) for line in lines]
    info = {display_width(line[:line.index("[")]) for line in lines}
    assert len(set(titles)) == 1, lines          # every title starts in the same column
    assert len(info) == 1, lines                 # and so does every [files, size, licences]


def test_show_writes_import_provenance_for_people(store_dir: Path, cli, tmp_path: Path) -> None:
    csv = tmp_path / "licences.csv"
    csv.write_text("Product,Version,Serial Number\nWidget Pro,3.1,WIDGET-KEY-AAAA-BBBB\n")
    imported = cli("import", "csv", csv)
    assert imported.code == 0, imported.err
    shown = cli("show", "Widget Pro@3.1").out
    assert "{'" not in shown and "fingerprint" not in shown
    assert re.search(r"Imported from\s+: licences\.csv \(csv\), item 1", shown), shown


@pytest.mark.parametrize("price, currency, stored", [
    ("12,50", None, ("12.50", None)),
    ("89,90 €", None, ("89.90", "EUR")),
    ("$1,299.00", None, ("1299.00", "USD")),
    ("699.00", "eur", ("699.00", "EUR")),
])
def test_price_is_read_as_scan_and_import_read_it(store_dir: Path, cli, tmp_path: Path, price: str,
                                                  currency: str | None, stored: tuple) -> None:
    args = ["add", _file(tmp_path, "a.exe"), "--product", "A", "--version", "1", "--price", price]
    result = cli(*args, *(["--currency", currency] if currency else []))
    assert result.code == 0, result.err
    lic = Store.open(store_dir).catalog.load_license(json.loads(cli("show", "a@1", "--json").out)["licenses"][0])
    assert (lic.price, lic.currency) == stored


@pytest.mark.parametrize("price, currency, fragment", [
    ("twelve", None, "give an amount"), ("-5", None, "give an amount"),
    ("89,90 €", "USD", "is in EUR but --currency says USD"),
    ("12", "äöü", "give a three-letter code"), (None, "E1R", "give a three-letter code"),
])
def test_a_price_that_is_not_one_is_refused(store_dir: Path, cli, tmp_path: Path, price: str,
                                            currency: str | None, fragment: str) -> None:
    args = ["add", _file(tmp_path, "a.exe"), "--product", "A", "--version", "1"]
    result = cli(*args, *(["--price", price] if price else []),
                 *(["--currency", currency] if currency else []))
    assert result.code == 2 and fragment in result.err, result.err
    assert "a@1" not in cli("list").out


def test_version(cli) -> None:
    with pytest.raises(SystemExit) as done:
        cli("--version")
    assert done.value.code == 0
    version = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "archive", "--version"],
                             capture_output=True, text=True)
    assert version.returncode == 0 and re.fullmatch(r"arkeep \d+\.\d+\.\d+\S*\n", version.stdout)


@pytest.mark.parametrize("words", [
    ["arkeep", "add", "hello_2.10-3_amd64.deb", "--product", "GNU Hello", "--version", "2.10-3"],
    ["arkeep", "show", "GNU Hello@2.10-3"],
    ["arkeep", "add", "it's here.exe", "--price", "89,90 €", "--to", "", "a$b", "`x`", '"q"'],
])
def test_the_demo_echoes_commands_a_shell_reads_back(words: list[str]) -> None:
    script = f'source {ROOT}/scripts/lib.sh; shell_quote "$@"'
    echoed = subprocess.run(["bash", "-c", script, "bash", *words], capture_output=True, text=True,
                            check=True).stdout.strip()
    read_back = subprocess.run(["bash", "-c", f"printf '%s\\n' {echoed}"], capture_output=True,
                               text=True, check=True).stdout.split("\n")[:-1]
    assert read_back == words
    if "GNU Hello" in words:
        assert "'GNU Hello'" in echoed


def test_an_imported_currency_that_is_no_code_stays_out_of_the_record(store_dir: Path, cli,
                                                                      tmp_path: Path) -> None:
    """'äöü' is three letters to str.isalpha, not to the schema: the record it went into was
    written and could then not be read back."""
    csv = tmp_path / "licences.csv"
    csv.write_text("Product,Version,Serial Number,Price,Currency\n"
                   "Widget Pro,3.1,WIDGET-KEY-AAAA-BBBB,12.00,äöü\n", encoding="utf-8")
    assert cli("import", "csv", csv).code == 0
    shown = cli("show", "Widget Pro@3.1", "--json")
    assert shown.code == 0, shown.err
    lic = Store.open(store_dir).catalog.load_license(json.loads(shown.out)["licenses"][0])
    assert (lic.price, lic.currency) == ("12.00", None)
    assert cli("verify").code == 0
