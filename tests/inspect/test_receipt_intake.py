"""Receipts in the shapes shops send them (issue 12.8): HTML tables, multipart/alternative mails
whose parts disagree, a receipt for software whose installer is not at hand, and the second
mail of one order."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from archive.intake.receipts import read_receipt
from archive.intake.scan import plan_scan
from archive.storage.store import Store

KEY = "7F3A91QZXK42"                   # not key-shaped: only its label says it is a key
ORDER = "WX-48213"

ALTERNATIVE = f"""\
From: Contoso Store <orders@contoso.example>
To: jane@example.org
Subject: Your Contoso Ledger purchase
Date: Tue, 03 Mar 2026 10:15:00 +0100
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Thank you for buying Contoso Ledger 4.2.1. View this mail in HTML to see your licence.

--b1
Content-Type: text/html; charset=utf-8

<html><body><p>Thank you for buying Contoso Ledger 4.2.1.</p>
<table><tr><th>Order</th><td>{ORDER}</td></tr>
<tr><td>License key</td><td>{KEY}</td></tr>
<tr><td>Total</td><td>&euro;129.00</td></tr></table></body></html>
--b1--
"""

HTML_ONLY = f"""\
From: Contoso Store <orders@contoso.example>
To: jane@example.org
Subject: Receipt
Date: Tue, 03 Mar 2026 10:15:00 +0100
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><table>
<tr><th>Order</th><td>{ORDER}</td></tr>
<tr><th>Product</th><td>Contoso Ledger 4.2.1</td></tr>
<tr><th>Total</th><td>&euro;129.00</td></tr>
</table></body></html>
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_key_in_the_html_table_of_a_multipart_alternative_mail(tmp_path: Path) -> None:
    r = read_receipt(write(tmp_path, "a.eml", ALTERNATIVE))
    assert [k.value for k in r.keys] == [KEY] and r.keys[0].labelled
    assert r.order_number == ORDER and (r.price, r.currency) == ("129.00", "EUR")


def test_order_number_from_a_th_td_row_of_an_html_only_mail(tmp_path: Path) -> None:
    r = read_receipt(write(tmp_path, "b.eml", HTML_ONLY))
    assert r.order_number == ORDER
    assert r.product == "Contoso Ledger 4.2.1"


def test_a_receipt_without_its_installer_becomes_a_licence_record(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    write(folder, "order.eml", ALTERNATIVE)
    plan = plan_scan(folder)
    assert not plan.releases and not plan.unlinked
    (proposed,) = plan.licences
    assert proposed.key == KEY and proposed.license.order_number == ORDER
    shown = cli("scan", folder)
    assert shown.code == 0 and KEY not in shown.out and ORDER in shown.out
    applied = cli("scan", folder, "--apply", "--yes")
    assert applied.code == 0, applied.err
    assert "Recorded licence lic-" in applied.out and KEY not in applied.out
    (entry,) = json.loads(cli("list", "--licenses", "--json").out)
    assert (entry["kind"], entry["order_number"], entry["releases"]) == ("serial", ORDER, [])
    assert json.loads(cli("show", entry["id"], "--reveal", "--json").out)["key"] == KEY
    for path in store_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    again = cli("scan", folder, "--apply", "--yes")
    assert again.code == 0 and "Already recorded: licence" in again.out
    assert len(json.loads(cli("list", "--licenses", "--json").out)) == 1


def test_later_receipts_of_one_order_fill_one_licence_record(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path, msi_file: Path) -> None:
    """The installer with its licence file first; then the order confirmation (order number,
    price, no key); then the mail with the key. One licence record gets all of it, and check
    counts the receipt as the invoice."""
    folder = tmp_path / "Downloads"
    folder.mkdir()
    shutil.copy(msi_file, folder / msi_file.name)
    (folder / "LICENSE").write_text("Contoso Ledger 4.2 - End-User Licence Agreement\n")
    assert cli("scan", folder, "--apply", "--yes").code == 0
    rid = "contoso-ledger@4.2.1+windows-x64"

    def records() -> list[dict]:
        shown = json.loads(cli("show", rid, "--reveal", "--json").out)
        return shown["license_records"]

    (first,) = records()
    assert first["kind"] == "licence-file" and "order_number" not in first

    write(folder, "confirmation.eml", HTML_ONLY)
    plan = plan_scan(folder)
    assert plan.releases[0].license.order_number == ORDER       # shown in the plan ...
    assert cli("scan", folder, "--apply", "--yes").code == 0
    (second,) = records()                                       # ... and kept by --apply
    assert second["id"] == first["id"] and second["order_number"] == ORDER
    assert second["price"] == "129.00" and second["key"] is None

    (folder / "confirmation.eml").unlink()
    write(folder, "your key.eml", ALTERNATIVE)
    assert cli("scan", folder, "--apply", "--yes").code == 0
    (third,) = records()
    assert third["id"] == first["id"] and third["key"] == KEY and third["kind"] == "serial"
    assert len(list((store_dir / "manifests" / "licenses").glob("lic-*.toml"))) == 1

    check = json.loads(cli("check", rid, "--json").out)
    said = {r["message"] for r in check["reasons"]}
    assert "no invoice archived" not in said
    assert any(m.startswith("invoice: ") and "confirmation.eml" in m for m in said)
    release = Store.open(store_dir).catalog.load_release(rid)
    assert {a.role for a in release.artifacts} == {"installer", "license-file", "receipt"}


def test_another_order_of_the_same_release_is_another_record(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    """A release with the record of order A: a purchase with order B (an upgrade, a second
    seat) is recorded apart, not folded into A's record where its order number would be lost."""
    installer = tmp_path / "setup.exe"
    installer.write_bytes(b"MZ" + bytes(2000))
    assert cli("add", installer, "--product", "Tool", "--version", "1",
               "--order-number", "A-1001").code == 0
    assert cli("add", installer, "--product", "Tool", "--version", "1",
               "--order-number", "B-2002").code == 0
    records = json.loads(cli("show", "tool@1", "--json").out)["license_records"]
    assert sorted(r["order_number"] for r in records) == ["A-1001", "B-2002"]
    assert cli("add", installer, "--product", "Tool", "--version", "1",
               "--order-number", "b-2002", "--price", "19.00").code == 0
    records = json.loads(cli("show", "tool@1", "--json").out)["license_records"]
    assert len(records) == 2 and {r.get("price") for r in records} == {None, "19.00"}
