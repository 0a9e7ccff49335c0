"""Order confirmations and receipt emails (.eml, and Outlook .msg) and receipt PDFs: what was
bought, when, for how much, from whom, and the licence keys in them.

.eml files are parsed with the standard `email` package, .msg files by `outlook_msg`, PDFs by
`pdf_text` (its text as the body); all give the same `MessageParts`, and one function reads the
fields and keys from those. Keys are secrets: a `CandidateKey` never shows its
value in repr, and nothing here logs or raises with a key in the message. Each value read
carries where it came from (`sources`), as inspect does for installers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

from archive.errors import UsageError
from archive.intake import receipt_text
from archive.intake.importers.fields import KEY_SHAPE
from archive.intake.price import SIGNS, parse_price
from archive.intake.receipt_text import MessageParts

KEY_LABEL = re.compile(
    r"(?P<label>(?:your\s+)?(?:licen[cs]e|product|registration|activation|unlock|cd|serial)"
    r"[ \t-]*(?:key|code|number|no\.?|serial)s?|serial|lizenzschl(?:ü|ue)ssel|seriennummer|"
    r"produktschl(?:ü|ue)ssel|registrierungscode)\s*[:=]\s*(?P<value>.*)$", re.IGNORECASE)
GUID = re.compile(r"^\{?[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}?$", re.IGNORECASE)
ORDER = re.compile(
    r"\b(?P<label>order|invoice|transaction|receipt|confirmation|reference|bestell|rechnungs)"
    r"[a-z]*[ \t]*(?:number|no\.?|nr\.?|num|id|#)?[ \t]*[:#][ \t]*#?[ \t]*"
    r"(?P<value>[A-Z0-9][A-Z0-9_/.-]{2,40})", re.IGNORECASE)
ORDER_IN_SUBJECT = re.compile(r"\b(?:order|invoice|receipt)\s*(?:number|no\.?|#)?\s*#?\s*"
                              r"(?P<value>[A-Z0-9]*\d[A-Z0-9_/-]{2,40})", re.IGNORECASE)
AMOUNT = re.compile(
    r"(?P<pre>US\$|CA\$|A\$|[$€£¥]|\b(?:USD|EUR|GBP|CHF|CAD|AUD|JPY|SEK|NOK|DKK|PLN|CZK)\b)?"
    r"[ \t]?(?P<num>\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
    r"[ \t]?(?P<post>[$€£¥]|\b(?:USD|EUR|GBP|CHF|CAD|AUD|JPY|SEK|NOK|DKK|PLN|CZK)\b)?")
PRICE_LABELS = (("grand total", 0), ("amount paid", 1), ("total paid", 1), ("order total", 1),
                ("gesamtbetrag", 1), ("total", 2), ("summe", 2), ("amount", 3), ("price", 4),
                ("preis", 4))
LINE_FIELDS = {
    "product": re.compile(r"^\s*(?:product|item|software|artikel|produkt)(?:\s+name)?\s*[:=]\s*(.+)$", re.IGNORECASE),
    "licensed_to": re.compile(r"^\s*(?:licensed\s+to|registered\s+to|licensee|lizenznehmer)\s*[:=]\s*(.+)$", re.IGNORECASE),
    "seller": re.compile(r"^\s*(?:sold\s+by|seller|merchant|vendor|reseller|verk(?:ä|ae)ufer)\s*[:=]\s*(.+)$", re.IGNORECASE),
    "email": re.compile(r"^\s*(?:registered\s+e-?mail|licen[cs]e\s+e-?mail|e-?mail)\s*[:=]\s*(\S+@\S+)\s*$", re.IGNORECASE),
    "date": re.compile(r"^\s*(?:order|purchase|invoice|bestell|kauf)[a-z]*\s*(?:date|datum)\s*[:=]\s*(.+)$", re.IGNORECASE),
}
DATE_FORMATS = ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%d.%m.%Y")


@dataclass(frozen=True)
class CandidateKey:
    """One possible licence key found in a receipt; the value never appears in repr."""

    value: str = field(repr=False)
    how: str                 # 'the "License key:" line 14', 'a key-shaped code on line 20'
    position: int            # where in the text, to tell which product it sits under
    labelled: bool


@dataclass(frozen=True)
class Receipt:
    path: Path
    subject: str | None = None
    sender: str | None = None
    recipient: str | None = None
    purchase_date: date | None = None
    order_number: str | None = None
    price: str | None = None
    currency: str | None = None
    seller: str | None = None
    licensed_to: str | None = None
    email: str | None = None
    product: str | None = None
    keys: tuple[CandidateKey, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    text: str = field(default="", repr=False)     # subject and body, for matching products

    @property
    def is_purchase(self) -> bool:
        return bool(self.order_number or self.keys or self.price)


def mask_key(key: str) -> str:
    """`ABCDE-FGHIJ-KLMNO` -> `ABCDE-•••••-…`: enough to tell keys apart, not enough to use one."""
    head = re.split(r"[-\s]", key, maxsplit=1)[0][:5]
    if len(head) >= len(key) - 2:
        head = key[:min(4, max(len(key) // 3, 1))]
    return f"{head}-•••••-…"


def read_receipt(path: Path) -> Receipt:
    """Parse one .eml or .msg file; what cannot be read in an .eml is noted, never raised with
    content in it. A damaged .msg raises `outlook_msg.MsgUnreadable` (a UsageError)."""
    if path.suffix.lower() == ".msg":
        from archive.intake.outlook_msg import read_msg

        return receipt_from_parts(path, read_msg(path))
    try:
        if path.stat().st_size > receipt_text.MAX_EMAIL_BYTES:
            limit = receipt_text.MAX_EMAIL_BYTES >> 20
            return Receipt(path=path, notes=(f"larger than {limit} MiB; not read",))
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:  # noqa: BLE001 - a broken message is one note
        return Receipt(path=path, notes=("the message cannot be parsed",))
    assert isinstance(msg, EmailMessage)
    parts = MessageParts(subject=_header(msg, "subject"), sender=_header(msg, "from"),
                         recipient=_header(msg, "to"), sent=_sent(msg), body=_body_text(msg))
    return receipt_from_parts(path, parts)


def read_pdf_receipt(path: Path) -> Receipt:
    """The receipt in a PDF's text (an invoice, a licence certificate): no subject, sender or
    date header, so the date is only what an "Order date:" line says. Raises
    `pdf_text.PdfUnreadable` (a UsageError) if the text cannot be read."""
    from archive.intake.pdf_text import pdf_text

    return receipt_from_parts(path, MessageParts(body=pdf_text(path)))


def receipt_from_parts(path: Path, parts: MessageParts) -> Receipt:
    """The receipt in a message already taken apart: its plain body and what its HTML adds."""
    return _extract(path, parts, _plain_and_html(parts.body, parts.html))


def _sent(msg: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(str(msg.get("date", "")))
    except (TypeError, ValueError, IndexError):
        return None


def _header(msg: EmailMessage, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - malformed header
        return None
    return " ".join(str(value).split()) if value else None


def _body_text(msg: EmailMessage) -> str:
    plain: list[str] = []
    html: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except Exception:  # noqa: BLE001 - unknown charset or broken encoding
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        (plain if ctype == "text/plain" else html).append(str(content))
    return _plain_and_html("\n".join(plain), "\n".join(html))


def _plain_and_html(plain: str, html: str) -> str:
    """The text to read a receipt from: the plain body, then the lines of the HTML body that
    the plain one lacks. The two parts of a multipart/alternative mail do not always say the
    same: shops often put the key or the order table only in the HTML."""
    if not html:
        return plain[:receipt_text.MAX_TEXT]
    html_text = _html_to_text(html[:receipt_text.MAX_TEXT * 4])
    if not plain.strip():
        return html_text[:receipt_text.MAX_TEXT]
    have = {" ".join(line.split()) for line in plain.splitlines()}
    more = [line for line in html_text.splitlines() if line not in have]
    return "\n".join([plain, *more])[:receipt_text.MAX_TEXT]


class _HtmlText(HTMLParser):
    """HTML as lines of text. A table row becomes one line; a row of a label cell and a value
    cell (`<th>Order</th><td>A-1</td>`) becomes `Order: A-1`, as a plain-text mail writes it."""

    BREAKS = frozenset({"br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.rows: list[list[tuple[str, list[str]]]] = []   # open rows: (cell tag, its text)
        self.skip = 0

    def _out(self, text: str) -> None:
        row = self.rows[-1] if self.rows else None
        (row[-1][1] if row else self.parts).append(text)

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.rows[-1].append((tag, []))
        elif tag in self.BREAKS or tag in ("td", "th"):
            self._out("\n" if tag in self.BREAKS else " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(self.skip - 1, 0)
        elif tag == "tr" and self.rows:
            line = _row_text(self.rows.pop())
            self._out(f"\n{line}\n")
        elif tag == "table":
            while self.rows:                   # rows left open by sloppy HTML
                line = _row_text(self.rows.pop())
                self._out(f"\n{line}\n")
            self._out("\n")
        elif tag in self.BREAKS:
            self._out("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        row = self.rows[-1] if self.rows else None
        if row is not None and not row:          # text in a row before any cell
            row.append(("td", []))
        self._out(data)


LABEL_CELL_MAX = 40


def _row_text(cells: list[tuple[str, list[str]]]) -> str:
    texts = ["".join(parts) for _, parts in cells]
    if any("\n" in t.strip() for t in texts):      # a row holding a nested table: its lines
        return "\n".join(t.strip() for t in texts if t.strip())
    filled = [(tag, " ".join(t.split())) for (tag, _), t in zip(cells, texts) if t.strip()]
    if len(filled) == 2:
        (tag1, label), (tag2, value) = filled
        if len(label) <= LABEL_CELL_MAX and not label.endswith((":", "=")) \
                and not (tag1 == tag2 == "th"):
            return f"{label}: {value}"
    return " ".join(text for _, text in filled)


def _html_to_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001, S110 - keep whatever text was read before the damage
        pass
    lines = ("".join(parser.parts)).splitlines()
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def _extract(path: Path, parts: MessageParts, body: str) -> Receipt:
    """Values from the body's lines (numbered from 1 in the body) and the headers."""
    subject = parts.subject
    sources: dict[str, str] = {}
    values: dict[str, object] = {}
    lines = body.splitlines()
    head = f"{subject}\n" if subject else ""
    text = head + body

    for name, pattern in LINE_FIELDS.items():
        for n, line in enumerate(lines, 1):
            m = pattern.match(line)
            if m and m.group(1).strip():
                values[name] = " ".join(m.group(1).split())[:200]
                sources[name] = f"body line {n}: {line.split(':', 1)[0].strip()!r}"
                break
    if "date" in values:
        parsed = _parse_date(str(values.pop("date")))
        if parsed:
            values["purchase_date"] = parsed
            sources["purchase_date"] = sources.pop("date")
        else:
            sources.pop("date")
    if "purchase_date" not in values and parts.sent is not None:
        values["purchase_date"] = parts.sent.date()
        sources["purchase_date"] = parts.sent_source

    order = _order_number(lines, subject)
    if order:
        values["order_number"], sources["order_number"] = order
    price = _price(lines)
    if price:
        values["price"], values["currency"], sources["price"], currency_source = price
        if values["currency"]:
            sources["currency"] = currency_source
    sender = parts.sender
    name, address = parseaddr(sender or "")
    if "seller" not in values and (name or address):
        values["seller"] = name or address.split("@")[-1]
        sources["seller"] = parts.sender_source + ("" if name else " (domain)")
    recipients = getaddresses([parts.recipient or ""])
    recipient = recipients[0][1] if recipients and recipients[0][1] else None
    if "email" not in values and recipient:
        values["email"] = recipient
        sources["email"] = parts.recipient_source
    keys = _keys(lines, str(values.get("order_number") or ""), len(head))
    return Receipt(path=path, subject=subject, sender=sender, recipient=recipient,
                   keys=tuple(keys), sources=sources, text=text, **values)  # type: ignore[arg-type]


def _parse_date(text: str) -> date | None:
    text = text.strip().rstrip(".")
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text[:40], fmt).date()
        except ValueError:
            continue
    m = re.match(r"(\d{4}-\d{2}-\d{2})", text)
    if m:
        try:
            return date.fromisoformat(m.group(1))
        except ValueError:
            return None
    return None


def _order_number(lines: list[str], subject: str | None) -> tuple[str, str] | None:
    for n, line in enumerate(lines, 1):
        for m in ORDER.finditer(line):
            value = m.group("value").rstrip(".,;")
            if any(c.isdigit() for c in value) and not GUID.match(value):
                return value, f"body line {n}: {line[:m.start('value')].strip().rstrip(':#').strip()!r}"
    if subject:
        m = ORDER_IN_SUBJECT.search(subject)
        if m:
            return m.group("value").rstrip(".,;"), "the message's Subject"
    return None


def _price(lines: list[str]) -> tuple[str, str | None, str, str] | None:
    """(amount, currency, source of amount, source of currency) from the best 'total' line."""
    best: tuple[int, int] | None = None
    found = None
    for n, line in enumerate(lines, 1):
        low = line.lower()
        if "subtotal" in low or "sub-total" in low or "zwischensumme" in low:
            continue
        rank = next((r for label, r in PRICE_LABELS if label in low), None)
        if rank is None:
            continue
        for m in AMOUNT.finditer(line):
            symbol = m.group("pre") or m.group("post")
            if not symbol and not any(s in line for s in ("€", "$", "£")) \
                    and not re.search(r"[.,]\d{2}\b", m.group("num")):
                continue
            if best is None or (rank, n) < best:
                amount = _normalise_amount(m.group("num"))
                if amount is None:
                    continue
                currency = SIGNS.get(symbol, symbol) if symbol else None
                how = f"body line {n}: {line.split(':', 1)[0].strip()!r}"
                cur_how = how + (" (the $ sign, read as US dollars)" if symbol == "$" else "")
                best, found = (rank, n), (amount, currency, how, cur_how)
            break
    return found


def _normalise_amount(text: str) -> str | None:
    """The amount as a decimal string, read by the one price parser (intake.price)."""
    parsed = parse_price(text)
    return parsed[0] if parsed is not None and not parsed[0].startswith("-") else None


def _keys(lines: list[str], order_number: str, start: int) -> list[CandidateKey]:
    """Keys on labelled lines first ('License key: …'), then codes shaped like keys; positions
    count from `start`, where the body begins in the receipt's text."""
    found: list[CandidateKey] = []
    seen: set[str] = set()
    offsets = []
    pos = start
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    for n, line in enumerate(lines):
        m = KEY_LABEL.search(line)
        if not m:
            continue
        value = m.group("value").strip()
        if not value:                                  # the key on the next non-empty line
            value = next((ln.strip() for ln in lines[n + 1:n + 4] if ln.strip()), "")
        value = value.strip(" \t\"'`<>")
        if _plausible_key(value) and value not in seen:
            seen.add(value)
            label = " ".join(m.group("label").split())
            found.append(CandidateKey(value, f'the "{label}:" line (body line {n + 1})',
                                      offsets[n], True))
    for n, line in enumerate(lines):
        if re.search(r"\b(order|invoice|transaction|reference|customer|phone|tel)\b", line, re.IGNORECASE):
            continue
        for m in KEY_SHAPE.finditer(line):
            value = m.group(0)
            if value in seen or value == order_number or GUID.match(value):
                continue
            if not (re.search(r"\d", value) and re.search(r"[A-Z]", value)):
                continue
            seen.add(value)
            found.append(CandidateKey(value, f"a key-shaped code on body line {n + 1}",
                                      offsets[n] + m.start(), False))
    return found


def _plausible_key(value: str) -> bool:
    if not 5 <= len(value) <= 200:
        return False
    if value.lower() in ("n/a", "none", "see attachment", "attached", "pending"):
        return False
    if len(value.split()) > 4:                         # a sentence, not a key
        return False
    return any(c.isdigit() for c in value) or value.isupper()
