"""PDF receipts: a licence certificate or an invoice that came as a PDF is read with pypdf like a
receipt email, linked by scan, its key masked and stored encrypted; an encrypted, damaged or
too large PDF is placed by its name with the reason. The PDFs are written by reportlab at test
time, so the reader under test (pypdf) reads what another library wrote."""
from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen.canvas import Canvas

from archive.intake import pdf_text as pdf_text_module
from archive.intake import receipt_text
from archive.intake.pdf_text import PdfUnreadable, pdf_text
from archive.intake.receipts import read_pdf_receipt
from archive.intake.scan import classify, plan_scan

KEY = "CLDGR-7Q2WX-9KD3M-HT4PB-88ZRA"
CERTIFICATE = ["Contoso Ltd. - License Certificate",
               "Product: Contoso Ledger 4.2", f"License key: {KEY}",
               "Order number: CS-2026-0042", "Order date: 2026-03-03",
               "Licensed to: Jane Doe", "Total: €129.00"]
INVOICE = ["Contoso Ltd.", "Invoice", "Invoice no.: CS-2026-0042", "Order date: 3 March 2026",
           "Sold by: Contoso Store", "Subtotal: €108.40", "VAT: €20.60", "Total: €129.00"]


def write_pdf(path: Path, *pages: list[str], password: str | None = None) -> Path:
    """A PDF with one page per list of lines, each line drawn as one line of text."""
    encrypt = None
    if password is not None:
        encrypt = StandardEncryption(password, "owner-secret", strength=128)
    canvas = Canvas(str(path), encrypt=encrypt)
    for lines in pages:
        for n, line in enumerate(lines):
            canvas.drawString(72, 780 - 16 * n, line)
        canvas.showPage()
    canvas.save()
    return path


@pytest.fixture
def downloads(tmp_path: Path, msi_file: Path) -> Path:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    shutil.copy(msi_file, folder)
    return folder


def test_a_licence_certificate_is_read_like_a_receipt_email(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "License certificate.pdf", CERTIFICATE)
    assert "Product: Contoso Ledger 4.2" in pdf_text(path).splitlines()
    r = read_pdf_receipt(path)
    assert r.subject is None and r.sender is None and r.recipient is None
    assert (r.order_number, r.price, r.currency) == ("CS-2026-0042", "129.00", "EUR")
    assert r.purchase_date == date(2026, 3, 3)
    assert r.sources["purchase_date"] == "body line 5: 'Order date'"
    assert r.product == "Contoso Ledger 4.2" and r.licensed_to == "Jane Doe"
    assert [k.value for k in r.keys] == [KEY] and r.keys[0].labelled
    assert KEY not in repr(r)


def test_scan_links_a_licence_certificate_to_its_installer_with_the_key_masked(
        cli, store_dir: Path, downloads: Path) -> None:
    write_pdf(downloads / "License certificate.pdf", CERTIFICATE)
    role, reason, _ = classify(downloads / "License certificate.pdf")
    assert (role, reason) == ("license-file", "a PDF with an order number, price or key")
    plan = plan_scan(downloads)
    [ledger] = plan.releases
    assert [p.name for p in ledger.license_files] == ["License certificate.pdf"]
    assert ledger.receipts == ()
    assert ledger.links["License certificate.pdf"] == "names Contoso Ledger"
    assert ledger.key == KEY and "License key" in (ledger.key_source or "")
    assert ledger.license.order_number == "CS-2026-0042"
    assert ledger.license.purchase_date == date(2026, 3, 3)
    assert (ledger.license.price, ledger.license.currency) == ("129.00", "EUR")
    assert KEY not in repr(plan)

    res = cli("scan", downloads)
    assert res.code == 0, res.err
    assert KEY not in res.out + res.err
    assert "CLDGR-•••••-…" in res.out and "CS-2026-0042" in res.out
    data = json.loads(cli("scan", downloads, "--json").out)
    assert KEY not in json.dumps(data)
    assert [r["key"] for r in data["releases"]] == ["CLDGR-•••••-…"]

    applied = cli("scan", downloads, "--apply", "--yes")
    assert applied.code == 0, applied.err
    assert KEY not in applied.out + applied.err
    shown = json.loads(cli("show", "Contoso Ledger@4.2.1", "--reveal", "--json").out)
    roles = {a["filename"]: a["role"] for a in shown["artifacts"]}
    assert roles["License certificate.pdf"] == "license-file"
    [lic] = shown["license_records"]
    assert lic["key"] == KEY and lic["order_number"] == "CS-2026-0042"
    for path in (store_dir / "manifests").rglob("*.toml"):
        assert KEY not in path.read_text(), path


def test_an_invoice_pdf_gives_its_order_number_and_price(
        cli, store_dir: Path, downloads: Path) -> None:
    invoice = write_pdf(downloads / "invoice CS-2026-0042.pdf", INVOICE)
    role, reason, detail = classify(invoice)
    assert role == "invoice" and "order number, price or key" in reason
    assert detail.order_number == "CS-2026-0042" and detail.keys == ()
    # The invoice does not name the product: it is placed by its folder, as before, and its
    # fields still go into the licence record.
    [ledger] = plan_scan(downloads).releases
    assert [p.name for p in ledger.invoices] == [invoice.name] and ledger.receipts == ()
    assert ledger.links[invoice.name] == "the only release with installers in its folder"
    assert ledger.license.order_number == "CS-2026-0042"
    assert (ledger.license.price, ledger.license.currency) == ("129.00", "EUR")
    assert ledger.license.purchase_date == date(2026, 3, 3)
    assert ledger.license.seller == "Contoso Store"
    assert ledger.license_sources["order_number"] == f"{invoice.name}: body line 3: 'Invoice no.'"
    # With the licence certificate beside it: the key from one, the order from both.
    write_pdf(downloads / "License certificate.pdf", CERTIFICATE)
    [ledger] = plan_scan(downloads).releases
    assert ledger.key == KEY and ledger.license.order_number == "CS-2026-0042"
    assert [p.name for p in ledger.invoices] == [invoice.name]
    applied = cli("scan", downloads, "--apply", "--yes")
    assert applied.code == 0, applied.err
    shown = json.loads(cli("show", "Contoso Ledger@4.2.1", "--reveal", "--json").out)
    roles = {a["filename"]: a["role"] for a in shown["artifacts"]}
    assert roles[invoice.name] == "invoice" and roles["License certificate.pdf"] == "license-file"


def test_a_receipt_pdf_named_like_nothing_is_kept_for_its_text(downloads: Path) -> None:
    path = write_pdf(downloads / "CS-2026-0042.pdf", CERTIFICATE)
    assert classify(path)[0] == "receipt"
    [ledger] = plan_scan(downloads).releases
    assert [p.name for p in ledger.receipts] == [path.name] and ledger.key == KEY


def test_a_pdf_naming_no_order_price_or_key_is_ignored(downloads: Path) -> None:
    brochure = write_pdf(downloads / "brochure.pdf", ["Contoso Ledger 4.2", "Bookkeeping, easy."])
    assert classify(brochure)[:2] == ("ignored", "a PDF that names no order, price or key")
    plan = plan_scan(downloads)
    assert [f.path.name for f in plan.ignored] == ["brochure.pdf"]
    # Named like an invoice it is still kept by its name, and says its text names nothing.
    named = write_pdf(downloads / "invoice.pdf", ["Thank you."])
    role, reason, _ = classify(named)
    assert role == "invoice" and reason.endswith("its text names no order, price or key")


def test_an_encrypted_pdf_is_placed_by_its_name(cli, store_dir: Path, downloads: Path) -> None:
    invoice = write_pdf(downloads / "invoice CS-2026-0042.pdf", INVOICE, password="user-secret")
    other = write_pdf(downloads / "scan0001.pdf", CERTIFICATE, password="")
    with pytest.raises(PdfUnreadable, match="encrypted PDF"):
        pdf_text(invoice)
    role, reason, _ = classify(invoice)
    assert role == "invoice" and "its text was not read: an encrypted PDF" in reason
    # An empty user password only restricts printing or copying: read like any viewer would.
    assert "Product: Contoso Ledger 4.2" in pdf_text(other).splitlines()
    role, reason, _ = classify(other)
    assert role == "receipt", reason
    [ledger] = plan_scan(downloads).releases
    assert [p.name for p in ledger.invoices] == [invoice.name] and ledger.key == KEY
    assert ledger.license.order_number == "CS-2026-0042"
    assert "its text was not read: an encrypted PDF" in ledger.links[invoice.name]
    res = cli("scan", downloads)
    assert res.code == 0, res.err
    assert "encrypted PDF" in res.out and "Traceback" not in res.out + res.err
    assert KEY not in res.out + res.err


def damaged_pdfs(folder: Path) -> dict[str, Path]:
    good = write_pdf(folder / "good.pdf", CERTIFICATE).read_bytes()
    (folder / "good.pdf").unlink()
    made = {"truncated": good[:len(good) // 2],
            "garbage": b"%PDF-1.7\n" + bytes(range(256)) * 8,
            "no end": b"%PDF-1.4\n% Contoso invoice\n"}
    paths = {}
    for name, data in made.items():
        paths[name] = folder / f"invoice {name}.pdf"
        paths[name].write_bytes(data)
    return paths


def test_a_damaged_pdf_is_a_clear_error_without_its_content(tmp_path: Path) -> None:
    for name, path in damaged_pdfs(tmp_path).items():
        with pytest.raises(PdfUnreadable) as caught:
            pdf_text(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: damaged: pypdf cannot read it: "), name
        assert KEY not in message, name
        assert caught.value.__cause__ is None, name
        assert caught.value.__context__ is None or caught.value.__suppress_context__, name


def test_scan_places_a_damaged_pdf_by_its_name_quietly(
        cli, store_dir: Path, downloads: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = damaged_pdfs(downloads)
    for path in paths.values():
        role, reason, _ = classify(path)
        assert role == "invoice" and "(its text was not read: damaged: " in reason
    assert capsys.readouterr().err == ""          # pypdf's own warnings are not shown
    [ledger] = plan_scan(downloads).releases
    assert sorted(p.name for p in ledger.invoices) == sorted(p.name for p in paths.values())
    res = cli("scan", downloads)
    assert res.code == 0, res.err
    assert res.err == "" and "Traceback" not in res.out
    assert "its text was not read: damaged" in res.out


def test_a_pdf_over_the_size_limit_is_not_read(
        downloads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_pdf(downloads / "License certificate.pdf", CERTIFICATE)
    monkeypatch.setattr(receipt_text, "MAX_EMAIL_BYTES", 1024)
    with pytest.raises(PdfUnreadable, match="larger than 1024 bytes; not read"):
        pdf_text(path)
    role, reason, _ = classify(path)
    assert role == "license-file" and "its text was not read: larger than" in reason
    [ledger] = plan_scan(downloads).releases
    assert ledger.key is None and [p.name for p in ledger.license_files] == [path.name]


def test_only_the_first_pages_and_characters_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    filler = [[f"Page {n + 1}"] for n in range(pdf_text_module.MAX_PAGES)]
    late = write_pdf(tmp_path / "late key.pdf", *filler, [f"License key: {KEY}"])
    text = pdf_text(late)
    assert "Page 20" in text and KEY not in text
    assert read_pdf_receipt(late).keys == ()
    monkeypatch.setattr(receipt_text, "MAX_TEXT", 30)
    assert len(pdf_text(write_pdf(tmp_path / "c.pdf", CERTIFICATE))) == 30


def test_no_page_is_started_after_the_time_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the budget spent at once, the first page is still read and no other."""
    monkeypatch.setattr(pdf_text_module, "MAX_SECONDS", 0.0)
    text = pdf_text(write_pdf(tmp_path / "two.pdf", ["Page 1"], [f"License key: {KEY}"]))
    assert "Page 1" in text and KEY not in text
    monkeypatch.setattr(pdf_text_module, "MAX_SECONDS", 10.0)
    assert KEY in pdf_text(tmp_path / "two.pdf")


def test_without_pypdf_a_pdf_is_placed_by_its_name(
        downloads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_pdf(downloads / "invoice CS-2026-0042.pdf", INVOICE)
    monkeypatch.setitem(sys.modules, "pypdf", None)        # `import pypdf` now fails
    with pytest.raises(PdfUnreadable, match=r"package pypdf, which is not installed"):
        pdf_text(path)
    role, reason, _ = classify(path)
    assert role == "invoice" and "pip install pypdf" in reason and "damaged" not in reason
