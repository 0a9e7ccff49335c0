"""Outlook .msg receipts: read with olefile like an .eml, linked by scan, keys masked; a damaged
one is placed by its name with the reason. The .msg files are built by tests/support/cfb_writer
and opened by olefile itself, so the reader under test is the third-party one, not our writer."""
from __future__ import annotations

import json
import os
import shutil
import struct
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import olefile
import pytest

from archive.intake import receipt_text
from archive.intake.outlook_msg import MsgUnreadable, read_msg
from archive.intake.receipts import read_receipt
from archive.intake.scan import classify, plan_scan
from tests.support.cfb_writer import build

KEY = "CLDGR-7Q2WX-9KD3M-HT4PB-88ZRA"
BODY = f"""\
Hello Jane,

thank you for your purchase.

Order number: CS-2026-0042
Product: Contoso Ledger 4.2 for Windows (64-bit)
License key: {KEY}
Subtotal: €108.40
VAT: €20.60
Total: €129.00

Contoso Store
"""
HTML = f"""<html><body><h1>Thanks!</h1><table>
<tr><td>Invoice no.:</td><td>INV-88123</td></tr>
<tr><td>Item:</td><td>Contoso Ledger 4.2</td></tr>
<tr><td>Grand total:</td><td>$1,299.50</td></tr>
</table><p>Your licence key:</p><p>{KEY}</p></body></html>"""
SUBMITTED = datetime(2026, 3, 3, 9, 15, tzinfo=UTC)
PT_LONG, PT_SYSTIME, PT_STRING8, PT_UNICODE, PT_BINARY = 0x0003, 0x0040, 0x001E, 0x001F, 0x0102


def filetime(when: datetime) -> int:
    return int((when - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()) * 10_000_000


def properties_stream(header: bytes, fixed: dict[tuple[int, int], bytes],
                      variable: dict[str, bytes]) -> bytes:
    """[MS-OXMSG] property stream: the header, then a 16-byte entry per property; a string or
    binary property's entry holds its size, its value is a stream of its own."""
    entries = [struct.pack("<II", (prop << 16) | kind, 0x6) + value.ljust(8, b"\0")
               for (prop, kind), value in fixed.items()]
    for name, value in variable.items():
        tag = int(name[-8:], 16)
        size = len(value) + (2 if tag & 0xFFFF == PT_UNICODE else 1 if tag & 0xFFFF == PT_STRING8 else 0)
        entries.append(struct.pack("<IIII", tag, 0x6, size, 0))
    return header + b"".join(entries)


def stream_name(prop: int, kind: int) -> str:
    return f"__substg1.0_{prop:04X}{kind:04X}"


def build_msg(subject: str | None = "Your Contoso order CS-2026-0042", body: str | None = BODY,
              html: bytes | None = None, submitted: datetime | None = SUBMITTED,
              eight_bit: bool = False, codepage: int | None = None) -> bytes:
    """An Outlook message with one To recipient, as Outlook lays it out ([MS-OXMSG] 2.2)."""
    kind = PT_STRING8 if eight_bit else PT_UNICODE

    def text(value: str) -> bytes:
        return value.encode("cp1252" if eight_bit else "utf-16-le")

    strings = {stream_name(0x001A, kind): text("IPM.Note"),
               stream_name(0x0C1A, kind): text("Contoso Store"),
               stream_name(0x0C1F, kind): text("orders@contoso.example"),
               stream_name(0x5D01, kind): text("orders@contoso.example")}
    if subject is not None:
        strings[stream_name(0x0037, kind)] = text(subject)
    if body is not None:
        strings[stream_name(0x1000, kind)] = text(body)
    if html is not None:
        strings[stream_name(0x1013, PT_BINARY)] = html
    fixed: dict[tuple[int, int], bytes] = {(0x0E07, PT_LONG): struct.pack("<I", 1)}
    if submitted is not None:
        fixed[(0x0039, PT_SYSTIME)] = struct.pack("<Q", filetime(submitted))
        fixed[(0x0E06, PT_SYSTIME)] = struct.pack("<Q", filetime(submitted) + 600 * 10_000_000)
    if codepage is not None:
        fixed[(0x3FDE, PT_LONG)] = struct.pack("<I", codepage)
        fixed[(0x3FFD, PT_LONG)] = struct.pack("<I", codepage)
    recipient_strings = {stream_name(0x3001, PT_UNICODE): "Jane Doe".encode("utf-16-le"),
                         stream_name(0x39FE, PT_UNICODE): "jane@example.org".encode("utf-16-le")}
    recipient = {**recipient_strings, "__properties_version1.0": properties_stream(
        bytes(8), {(0x0C15, PT_LONG): struct.pack("<I", 1), (0x3000, PT_LONG): bytes(4)},
        recipient_strings)}
    top_header = struct.pack("<8sIIII8s", bytes(8), 1, 0, 1, 0, bytes(8))
    tree = {"__nameid_version1.0": {stream_name(0x0002, PT_BINARY): b"",
                                     stream_name(0x0003, PT_BINARY): b"",
                                     stream_name(0x0004, PT_BINARY): b""},
            "__recip_version1.0_#00000000": recipient,
            **strings,
            "__properties_version1.0": properties_stream(top_header, fixed, strings)}
    return build(tree)


@pytest.fixture
def order_msg(tmp_path: Path) -> Path:
    path = tmp_path / "Your Contoso order.msg"
    path.write_bytes(build_msg())
    return path


def test_the_built_messages_are_compound_files_olefile_opens(order_msg: Path) -> None:
    assert olefile.isOleFile(str(order_msg))
    with olefile.OleFileIO(str(order_msg), raise_defects=olefile.DEFECT_POTENTIAL) as ole:
        streams = {"/".join(entry) for entry in ole.listdir()}
        assert {"__substg1.0_0037001F", "__substg1.0_1000001F", "__properties_version1.0",
                "__recip_version1.0_#00000000/__substg1.0_39FE001F"} <= streams
        assert ole.openstream("__substg1.0_1000001F").read().decode("utf-16-le") == BODY
        # The body (under 4096 bytes) lives in the mini stream, as the format requires.
        assert ole.get_size("__substg1.0_1000001F") < ole.minisectorcutoff
        assert ole.parsing_issues == []


def test_an_order_msg_is_read_like_an_eml(order_msg: Path) -> None:
    r = read_receipt(order_msg)
    assert (r.order_number, r.price, r.currency) == ("CS-2026-0042", "129.00", "EUR")
    assert r.purchase_date == date(2026, 3, 3) and r.sources["purchase_date"] == "the message's submit time"
    assert r.subject == "Your Contoso order CS-2026-0042"
    assert r.seller == "Contoso Store" and r.email == "jane@example.org"
    assert r.sources["email"] == "the message's first To recipient"
    assert [k.value for k in r.keys] == [KEY] and r.keys[0].labelled
    assert r.sources["order_number"] == "body line 5: 'Order number'"
    assert KEY not in repr(r) and KEY not in repr(read_msg(order_msg))


def test_scan_links_an_msg_order_to_its_installer_with_the_key_masked(
        cli, store_dir: Path, tmp_path: Path, msi_file: Path, order_msg: Path) -> None:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    shutil.copy(msi_file, folder)
    shutil.move(order_msg, folder)
    plan = plan_scan(folder)
    [ledger] = plan.releases
    assert [p.name for p in ledger.receipts] == ["Your Contoso order.msg"]
    assert ledger.key == KEY and "License key" in (ledger.key_source or "")
    assert ledger.license.order_number == "CS-2026-0042"
    assert ledger.license.purchase_date == date(2026, 3, 3)
    assert (ledger.license.price, ledger.license.currency) == ("129.00", "EUR")
    assert ledger.license.email == "jane@example.org"
    assert KEY not in repr(plan)
    res = cli("scan", folder)
    assert res.code == 0, res.err
    assert KEY not in res.out + res.err and "CLDGR-•••••-…" in res.out
    assert "CS-2026-0042" in res.out
    applied = cli("scan", folder, "--apply", "--yes")
    assert applied.code == 0, applied.err
    shown = json.loads(cli("show", "Contoso Ledger@4.2.1", "--reveal", "--json").out)
    [receipt] = [a for a in shown["artifacts"] if a["role"] == "receipt"]
    assert receipt["filename"] == "Your Contoso order.msg"
    assert receipt["media_type"] == "application/vnd.ms-outlook"
    assert shown["license_records"][0]["key"] == KEY


def test_the_delivery_time_stands_in_for_a_missing_submit_time(tmp_path: Path) -> None:
    path = tmp_path / "o.msg"
    data = build_msg(submitted=None)
    path.write_bytes(data)
    assert read_receipt(path).purchase_date is None
    # Only the delivery time: an hour before midnight UTC, so the date is that day's.
    late = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    parts = read_msg(_with_delivery_time(tmp_path, late))
    assert parts.sent == late and parts.sent_source == "the message's delivery time"


def _with_delivery_time(tmp_path: Path, when: datetime) -> Path:
    header = struct.pack("<8sIIII8s", bytes(8), 1, 0, 1, 0, bytes(8))
    props = properties_stream(header, {(0x0E06, PT_SYSTIME): struct.pack("<Q", filetime(when))}, {})
    path = tmp_path / "delivered.msg"
    path.write_bytes(build({stream_name(0x0037, PT_UNICODE): "Hi".encode("utf-16-le"),
                            "__properties_version1.0": props}))
    return path


def test_an_html_only_msg_is_read_from_its_html(tmp_path: Path) -> None:
    path = tmp_path / "receipt.msg"
    path.write_bytes(build_msg(subject="Receipt", body=None, html=HTML.encode("utf-8"),
                               codepage=65001))
    r = read_receipt(path)
    assert r.order_number == "INV-88123"
    assert (r.price, r.currency) == ("1299.50", "USD")
    assert [k.value for k in r.keys] == [KEY]
    assert KEY not in repr(r)


def test_eight_bit_strings_are_read_in_the_message_code_page(tmp_path: Path) -> None:
    path = tmp_path / "bestellung.msg"
    path.write_bytes(build_msg(subject="Bestellbestätigung CS-2026-0042", eight_bit=True,
                               codepage=1252, body=BODY.replace("Hello Jane", "Grüß Gott")))
    r = read_receipt(path)
    assert r.subject == "Bestellbestätigung CS-2026-0042"
    assert "Grüß Gott" in r.text and r.order_number == "CS-2026-0042"
    assert [k.value for k in r.keys] == [KEY]


def test_an_msg_that_is_not_an_order_is_ignored_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "lunch.msg"
    path.write_bytes(build_msg(subject="Lunch on Friday?", body="Shall we meet at noon?\n"))
    role, reason, _ = classify(path)
    assert role == "ignored" and "names no order" in reason


def damaged_messages(tmp_path: Path) -> dict[str, Path]:
    good = build_msg()
    body_entry = good.index("__substg1.0_1000001F".encode("utf-16-le"))
    huge_body = bytearray(good)
    huge_body[body_entry + 120:body_entry + 128] = struct.pack("<Q", 0x7FFFFFF0)
    made = {"truncated": good[:1024],
            "cut short": good[:len(good) - 512],           # the end of the mini stream is gone
            "random": bytes.fromhex("d0cf11e0a1b11ae1") + os.urandom(3000),
            "not a message": build({"WordDocument": os.urandom(600)}),
            "a stream larger than the file": bytes(huge_body)}
    paths = {}
    for name, data in made.items():
        paths[name] = tmp_path / f"Contoso Ledger order {name}.msg"
        paths[name].write_bytes(data)
    return paths


def test_a_damaged_msg_is_a_clear_error_without_its_content(tmp_path: Path) -> None:
    for name, path in damaged_messages(tmp_path).items():
        with pytest.raises(MsgUnreadable) as caught:
            read_receipt(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and KEY not in message, name
        # No olefile exception (nor any text it may quote) travels along with it.
        assert caught.value.__cause__ is None, name
        assert caught.value.__context__ is None or caught.value.__suppress_context__, name


def test_scan_places_a_damaged_msg_by_its_name_with_the_reason(
        cli, store_dir: Path, tmp_path: Path, msi_file: Path) -> None:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    shutil.copy(msi_file, folder)
    paths = damaged_messages(folder)
    for path in paths.values():
        role, reason, _ = classify(path)
        assert role == "receipt" and "placed by its name (its text was not read: " in reason
    [ledger] = plan_scan(folder).releases
    assert sorted(p.name for p in ledger.receipts) == sorted(p.name for p in paths.values())
    assert ledger.key is None
    why = ledger.links[paths["truncated"].name]
    assert "names Contoso Ledger" in why and "its text was not read: damaged" in why
    assert "not an Outlook message" in ledger.links[paths["not a message"].name]
    res = cli("scan", folder)
    assert res.code == 0, res.err
    assert "Traceback" not in res.out + res.err and "its text was not read" in res.out


def test_without_olefile_an_msg_is_placed_by_its_name(
        tmp_path: Path, order_msg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "olefile", None)      # `import olefile` now fails
    with pytest.raises(MsgUnreadable, match=r"package olefile, which is not installed"):
        read_msg(order_msg)
    role, reason, _ = classify(order_msg)
    assert role == "receipt" and "pip install olefile" in reason and "damaged" not in reason


def test_an_msg_over_the_size_limit_is_not_read(order_msg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipt_text, "MAX_EMAIL_BYTES", 1024)
    with pytest.raises(MsgUnreadable, match="larger than"):
        read_msg(order_msg)
