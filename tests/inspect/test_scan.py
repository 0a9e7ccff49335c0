"""scan: a folder with an installer, a LICENSE file, a .deb and an order email becomes releases,
with the key and order number from the email linked to the right one."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from archive.intake.receipts import mask_key, read_receipt
from archive.intake.scan import plan_scan

KEY = "CLDGR-7Q2WX-9KD3M-HT4PB-88ZRA"
ORDER_EMAIL = f"""\
From: Contoso Store <orders@contoso.example>
To: Jane Doe <jane@example.org>
Subject: Your Contoso order CS-2026-0042
Date: Tue, 03 Mar 2026 10:15:00 +0100
Message-ID: <0042@contoso.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello Jane,

thank you for your purchase.

Order number: CS-2026-0042
Order date: 2026-03-03
Product: Contoso Ledger 4.2 for Windows (64-bit)
License key: {KEY}
Subtotal: €108.40
VAT: €20.60
Total: €129.00

Contoso Store
"""


@pytest.fixture
def downloads(tmp_path: Path, msi_file: Path, deb_file: Path) -> Path:
    folder = tmp_path / "Downloads"
    (folder / "old").mkdir(parents=True)
    shutil.copy(msi_file, folder / msi_file.name)
    shutil.copy(deb_file, folder / "old" / deb_file.name)
    (folder / "LICENSE").write_text("Contoso Ledger 4.2 - End-User Licence Agreement\n"
                                    "Licensed to Jane Doe, 1 seat.\n")
    (folder / "Your Contoso order.eml").write_text(ORDER_EMAIL, encoding="utf-8")
    (folder / "invoice CS-2026-0042.pdf").write_bytes(b"%PDF-1.4\n% Contoso invoice\n%%EOF\n")
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    (folder / "big-download.iso.part").write_bytes(os.urandom(100))
    return folder


def test_plan_links_key_and_order_to_the_right_release(downloads: Path, deb_file: Path) -> None:
    plan = plan_scan(downloads)
    by_product = {r.product: r for r in plan.releases}
    assert set(by_product) == {"Contoso Ledger", "hello"}
    ledger, hello = by_product["Contoso Ledger"], by_product["hello"]
    assert ledger.version == "4.2.1" and ledger.platform == "windows-x64"
    assert [p.name for p in ledger.license_files] == ["LICENSE"]
    assert [p.name for p in ledger.receipts] == ["Your Contoso order.eml"]
    assert [p.name for p in ledger.invoices] == ["invoice CS-2026-0042.pdf"]
    assert "order number" in ledger.links["invoice CS-2026-0042.pdf"]
    assert ledger.key == KEY and "License key" in (ledger.key_source or "")
    assert ledger.license.order_number == "CS-2026-0042"
    assert ledger.license.purchase_date == date(2026, 3, 3)
    assert (ledger.license.price, ledger.license.currency) == ("129.00", "EUR")
    assert ledger.license.seller == "Contoso Store" and ledger.license.email == "jane@example.org"
    assert hello.key is None and not hello.receipts and not hello.license_files
    assert [p.name for p in hello.installers] == [deb_file.name]
    assert KEY not in repr(plan)
    reasons = {f.path.name: f.reason for f in plan.ignored}
    assert reasons["big-download.iso.part"] == "an incomplete download"
    assert "holiday.jpg" in reasons


def test_scan_shows_the_plan_with_the_key_masked(cli, store_dir: Path, downloads: Path) -> None:
    res = cli("scan", downloads)
    assert res.code == 0, res.err
    assert KEY not in res.out + res.err
    assert "CLDGR-•••••-…" in res.out
    assert "contoso-ledger@4.2.1+windows-x64" in res.out and "CS-2026-0042" in res.out
    assert "--apply" in res.out
    data = json.loads(cli("scan", downloads, "--json").out)
    assert KEY not in json.dumps(data)
    assert [r["key"] for r in data["releases"] if r["product"] == "Contoso Ledger"] == ["CLDGR-•••••-…"]
    revealed = json.loads(cli("scan", downloads, "--json", "--reveal").out)
    assert KEY in [r["key"] for r in revealed["releases"]]
    # Without --apply nothing is written.
    assert json.loads(cli("list", "--json").out) == []


def test_scan_apply_archives_and_links(cli, store_dir: Path, downloads: Path) -> None:
    res = cli("scan", downloads, "--apply", "--yes")
    assert res.code == 0, res.err
    assert KEY not in res.out + res.err
    assert "Archived contoso-ledger@4.2.1+windows-x64" in res.out
    shown = json.loads(cli("show", "Contoso Ledger@4.2.1", "--reveal", "--json").out)
    assert {a["filename"]: a["role"] for a in shown["artifacts"]} == {
        "ContosoLedger-4.2.1-x64.msi": "installer", "LICENSE": "license-file",
        "Your Contoso order.eml": "receipt", "invoice CS-2026-0042.pdf": "invoice"}
    [lic] = shown["license_records"]
    assert lic["key"] == KEY and lic["order_number"] == "CS-2026-0042"
    assert (lic["price"], lic["currency"], lic["purchase_date"]) == ("129.00", "EUR", "2026-03-03")
    listed = {r["product"]: r for r in json.loads(cli("list", "--json").out)}
    assert listed["hello"]["licenses"] == 0 and listed["Contoso Ledger"]["licenses"] == 1
    # The key is stored encrypted: not in any manifest or anywhere under manifests/.
    for path in (store_dir / "manifests").rglob("*.toml"):
        assert KEY not in path.read_text(), path
    ledger_toml = next((store_dir / "manifests" / "releases").glob("contoso-ledger@*.toml")).read_text()
    assert '"license.order_number" = "body line 5:' in ledger_toml
    assert 'product = "MSI Property table: ProductName"' in ledger_toml
    # Scanning again changes nothing.
    again = cli("scan", downloads, "--apply", "--yes")
    assert again.code == 0 and "Already archived: contoso-ledger@4.2.1+windows-x64" in again.out
    assert len(json.loads(cli("show", "Contoso Ledger@4.2.1", "--json").out)["licenses"]) == 1


def test_apply_without_yes_and_without_a_terminal_asks_for_yes(store_dir: Path, downloads: Path) -> None:
    env = {**os.environ}
    res = subprocess.run([sys.executable, "-m", "archive", "scan", str(downloads), "--apply"],
                         capture_output=True, text=True, env=env, start_new_session=True,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 2, res.stderr
    assert "add --yes" in res.stderr and "Traceback" not in res.stderr
    assert KEY not in res.stdout + res.stderr


def test_scan_errors_are_one_line(cli, store_dir: Path, tmp_path: Path) -> None:
    res = cli("scan", tmp_path / "nope")
    assert res.code == 2 and "no such folder" in res.err
    res = cli("scan", tmp_path, "--yes")
    assert res.code == 2 and "--yes only goes with --apply" in res.err


def test_receipt_reading(tmp_path: Path) -> None:
    path = tmp_path / "r.eml"
    path.write_text(ORDER_EMAIL, encoding="utf-8")
    r = read_receipt(path)
    assert (r.order_number, r.purchase_date, r.price, r.currency) == (
        "CS-2026-0042", date(2026, 3, 3), "129.00", "EUR")
    assert r.product == "Contoso Ledger 4.2 for Windows (64-bit)"
    assert [k.value for k in r.keys] == [KEY] and r.keys[0].labelled
    assert KEY not in repr(r)
    assert r.sources["order_number"] == "body line 5: 'Order number'"


def test_receipt_html_and_key_shapes(tmp_path: Path) -> None:
    html = """\
From: "Fabrikam Shop" <noreply@shop.example>
To: buyer@example.org
Subject: Receipt
Date: Fri, 07 May 2021 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><h1>Thanks!</h1><table>
<tr><td>Invoice no.:</td><td>INV-88123</td></tr>
<tr><td>Item:</td><td>Fabrikam Paint 7.5</td></tr>
<tr><td>Grand total:</td><td>$1,299.50</td></tr>
</table><p>Your serial number:</p><p>FP75-9X2K-LL3Q-7ZTW</p>
<p>Also valid: AB12C-DE34F-GH56J-KL78M-NP90Q</p></body></html>
"""
    path = tmp_path / "r.eml"
    path.write_text(html)
    r = read_receipt(path)
    assert r.order_number == "INV-88123"
    assert (r.price, r.currency) == ("1299.50", "USD") and "US dollars" in r.sources["currency"]
    assert r.purchase_date == date(2021, 5, 7) and r.sources["purchase_date"].endswith("Date header")
    assert r.seller == "Fabrikam Shop" and r.email == "buyer@example.org"
    assert [k.value for k in r.keys] == ["FP75-9X2K-LL3Q-7ZTW", "AB12C-DE34F-GH56J-KL78M-NP90Q"]
    assert [k.labelled for k in r.keys] == [True, False]


def test_mask_key() -> None:
    assert mask_key(KEY) == "CLDGR-•••••-…"
    assert mask_key("A1B2C3D4E5F6G7") == "A1B2C-•••••-…"
    assert "SECRET" not in mask_key("SECRET")


def test_one_order_for_two_products_gives_each_its_own_key(tmp_path: Path, msi_file: Path,
                                                            nsis_exe: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(msi_file, folder)
    shutil.copy(nsis_exe, folder)
    (folder / "order.eml").write_text("""\
From: Software Outlet <sales@outlet.example>
To: it@example.org
Subject: Order MX-7781 shipped
Date: Mon, 02 Feb 2026 08:00:00 +0000

Order number: MX-7781

Item: Fabrikam Paint 7.5
  Serial number: FP75-9X2K-LL3Q-7ZTW
Item: Contoso Ledger 4.2
  License key: CLDGR-7Q2WX-9KD3M-HT4PB-88ZRA

Grand total: $300.00
""")
    plan = plan_scan(folder)
    by_product = {r.product: r for r in plan.releases}
    assert by_product["Fabrikam Paint"].key == "FP75-9X2K-LL3Q-7ZTW"
    assert by_product["Contoso Ledger"].key == KEY
    for r in plan.releases:
        assert [p.name for p in r.receipts] == ["order.eml"]
        assert r.license.order_number == "MX-7781"
        assert any("several products" in n for n in r.notes)


def test_unplaceable_files_are_listed_with_the_reason(tmp_path: Path, msi_file: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "license.lic").write_text("FEATURE something 1.0\n")
    plan = plan_scan(folder)                     # no installer at all
    assert plan.releases == ()
    assert [(f.path.name, f.role) for f in plan.unlinked] == [("license.lic", "license-file")]
    assert "no release" in plan.unlinked[0].reason
    shutil.copy(msi_file, folder / "mystery.exe")
    (folder / "Setup.exe").write_bytes(b"MZ" + bytes(200))
    plan = plan_scan(folder)
    assert [r.product for r in plan.releases] == ["Contoso Ledger"]
    placed = {f.path.name: f.reason for f in plan.unlinked + plan.ignored}
    assert "damaged" in placed["Setup.exe"]
    assert plan.releases[0].license_files == (folder / "license.lic",)


def test_names_decide_only_what_the_bytes_leave_open(tmp_path: Path, nsis_exe: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(nsis_exe, folder / "LicenseManagerSetup.exe")      # an installer, whatever its name
    (folder / "Fabrikam Paint order.msg").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(600))
    plan = plan_scan(folder)
    [paint] = plan.releases
    assert [p.name for p in paint.installers] == ["LicenseManagerSetup.exe"]
    assert [p.name for p in paint.receipts] == ["Fabrikam Paint order.msg"]
    assert paint.license_files == ()


UPGRADE = "UPGR-4411-7823-KQ9Z"


def test_every_candidate_key_of_a_receipt_is_kept_the_first_labelled_as_the_key(
        cli, store_dir: Path, downloads: Path) -> None:
    """A receipt with a licence key and a second code (an upgrade code here): the labelled key
    is the key, the other is an extra key of the same licence record with where it was read,
    masked in the plan and stored encrypted."""
    email = downloads / "Your Contoso order.eml"
    email.write_text(ORDER_EMAIL.replace(
        f"License key: {KEY}\n", f"License key: {KEY}\nUpgrade code: {UPGRADE}\n"), encoding="utf-8")
    [ledger] = [r for r in plan_scan(downloads).releases if r.product == "Contoso Ledger"]
    assert ledger.key == KEY
    assert [v for _, v in ledger.extra_keys] == [UPGRADE]
    assert ledger.extra_keys[0][0].startswith("Your Contoso order.eml: ")
    assert UPGRADE not in repr(ledger)
    shown = cli("scan", downloads)
    assert shown.code == 0, shown.err
    assert UPGRADE not in shown.out + shown.err and "extra key" in shown.out
    data = json.loads(cli("scan", downloads, "--json").out)
    [entry] = [r for r in data["releases"] if r["product"] == "Contoso Ledger"]
    assert entry["extra_keys"] == [{"key": mask_key(UPGRADE), "source": ledger.extra_keys[0][0]}]
    assert cli("scan", downloads, "--apply", "--yes").code == 0
    for path in (store_dir / "manifests").rglob("*.toml"):
        assert UPGRADE not in path.read_text(), path
    [lic] = json.loads(cli("show", "Contoso Ledger@4.2.1", "--reveal", "--json").out)["license_records"]
    assert lic["key"] == KEY and lic["extra_keys"] == [UPGRADE]
    assert lic["extra"]["extra_key_labels"] == [ledger.extra_keys[0][0]]
