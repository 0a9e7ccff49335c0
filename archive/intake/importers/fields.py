"""Which label means which part of a licence record, and how to read the values people type.

One table serves every source: 1Password's field titles and ids, Bitwarden custom fields,
KeePass attributes, LastPass note lines and spreadsheet column headers all go through
`target_of`. Values are read leniently; what cannot be read for certain (an ambiguous date
like 03/04/2012) is kept as text under `extra` rather than guessed.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

# Licence and release fields an imported value can land in.
TARGETS = (
    "product", "version", "edition", "platform", "vendor", "kind", "key", "licensed_to", "email",
    "company", "seats", "purchase_date", "order_number", "price", "currency", "seller", "expires",
    "maintenance_end", "activation_notes", "account_hint", "notes",
)
# What `--map column=field` accepts: the targets, plus `secret` (kept encrypted under its own
# name) and `extra` (kept as text under its own name).
MAP_TARGETS = TARGETS + ("secret", "extra")
SECRET_TARGETS = ("key", "account_hint")

_ALIASES: dict[str, tuple[str, ...]] = {
    "product": ("product", "product name", "software", "software name", "application", "app",
                "program", "programme", "title", "name", "item", "item name"),
    "version": ("version", "product version", "software version", "release", "ver"),
    "edition": ("edition", "product edition"),
    "platform": ("platform", "os", "operating system", "system"),
    "vendor": ("vendor", "publisher", "publisher name", "manufacturer", "developer", "maker",
               "brand", "author"),
    "kind": ("kind", "license kind", "licence kind", "license type", "licence type"),
    "key": ("license key", "licence key", "key", "serial", "serial number", "serial no",
            "serial key", "product key", "registration code", "registration key", "reg code",
            "activation key", "activation code", "cd key", "license code", "licence code",
            "license", "licence", "unlock code", "unlock key", "keycode", "serial code"),
    "licensed_to": ("licensed to", "licensee", "registered to", "reg name", "registered name",
                    "registered user", "name on license", "name on licence", "owner", "customer",
                    "customer name"),
    "email": ("email", "e mail", "registered email", "reg email", "license email", "licence email",
              "email address"),
    "company": ("company", "organisation", "organization", "org", "registered company"),
    "seats": ("seats", "number of licenses", "number of licences", "licenses", "licences",
              "quantity", "qty", "users", "license count", "licence count", "activations"),
    "purchase_date": ("purchase date", "purchased", "purchased on", "order date", "date purchased",
                      "date of purchase", "bought", "bought on", "purchase"),
    "order_number": ("order number", "order no", "order", "order id", "invoice number",
                     "invoice no", "transaction id", "receipt number", "order ref"),
    "price": ("price", "cost", "order total", "retail price", "amount", "total", "paid",
              "price paid"),
    "currency": ("currency",),
    "seller": ("seller", "reseller", "store", "shop", "purchased from", "bought from", "retailer",
               "purchased at"),
    "expires": ("expires", "expiry", "expiry date", "expiration", "expiration date", "valid until",
                "expires on", "license expires", "licence expires", "subscription end"),
    "maintenance_end": ("maintenance end", "maintenance until", "maintenance ends",
                        "maintenance expires", "support end", "support until", "support ends",
                        "upgrades until", "updates until", "upgrade protection until"),
    "activation_notes": ("activation notes", "activation", "activation instructions",
                         "how to activate"),
    "account_hint": ("username", "user name", "login", "login name", "account", "account name",
                     "user id", "userid"),
    "notes": ("notes", "note", "comments", "comment", "description", "remarks"),
}
# 1Password's field ids for its Software License template.
ONEPASSWORD_IDS = {
    "product_version": "version", "reg_code": "key", "reg_name": "licensed_to",
    "reg_email": "email", "company": "company", "publisher_name": "vendor",
    "retail_price": "price", "order_date": "purchase_date", "order_number": "order_number",
    "order_total": "price", "expiry_date": "expires",
}
# Labels whose values are secret even when the source does not mark them hidden.
SECRET_LABELS = ("password", "pin", "secret", "passphrase", "token", "otp", "totp", "recovery code",
                 "master password", "unlock password", "api key", "private key", "security answer")
_BY_LABEL = {label: target for target, labels in _ALIASES.items() for label in labels}

KIND_WORDS = {
    "serial": "serial", "serial number": "serial", "key": "serial", "product key": "serial",
    "account": "account", "online account": "account", "online": "account",
    "hardware-bound": "hardware-bound", "hardware bound": "hardware-bound", "hardware": "hardware-bound",
    "node-locked": "hardware-bound", "node locked": "hardware-bound", "dongle": "hardware-bound",
    "subscription": "subscription", "saas": "subscription",
    "licence-file": "licence-file", "license-file": "licence-file", "license file": "licence-file",
    "licence file": "licence-file", "volume": "volume", "site": "volume", "site license": "volume",
    "other": "other", "perpetual": "serial",
}
# A product key as vendors print it: 3 to 8 groups of 4 to 8 capitals or digits joined by dashes
# (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX). With at least one digit and one letter it is no word list.
KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9-])[A-Z0-9]{4,8}(?:-[A-Z0-9]{4,8}){2,7}(?![A-Za-z0-9-])")
FOLDER_HINT = re.compile(r"licen[cs]|software|serial|product key|registration", re.IGNORECASE)


def normalise_label(label: str) -> str:
    """'License_Key ' -> 'license key'; '#' and '.' dropped, case and separators folded."""
    text = re.sub(r"[_\-/.:#]+", " ", label.strip().lower())
    return re.sub(r"\s+", " ", text).strip()


def target_of(label: str) -> str | None:
    return _BY_LABEL.get(normalise_label(label))


def is_secret_label(label: str) -> bool:
    name = normalise_label(label)
    return any(name == s or name.endswith(" " + s) or name.startswith(s + " ") for s in SECRET_LABELS)


def is_key_shaped(value: str) -> bool:
    """The whole value is one product key (see KEY_SHAPE), not a password that contains one."""
    text = value.strip()
    return bool(KEY_SHAPE.fullmatch(text) and re.search(r"\d", text) and re.search(r"[A-Z]", text))


def looks_like_licence(labels: list[str], folder: str | None = None, category: str | None = None) -> bool:
    """A licence key among the fields, or a folder/category named for licences or software."""
    if any(target_of(label) == "key" for label in labels):
        return True
    return any(FOLDER_HINT.search(text) for text in (folder or "", category or "") if text)


# ---- values ---------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), 1)}
_MONTHS.update({name[:3]: i for name, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9


def parse_date(text: str) -> date | None:
    """A date written in a form that cannot be misread; None for anything ambiguous."""
    s = text.strip()
    if not s:
        return None
    if re.fullmatch(r"\d{9,10}", s):                       # unix seconds (1Password)
        return datetime.fromtimestamp(int(s), tz=UTC).date()
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?", s)
    if m:
        return _ymd(int(m[1]), int(m[2]), int(m[3]))
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", s)  # 31.12.2012: day first, by convention
    if m:
        return _ymd(int(m[3]), int(m[2]), int(m[1]))
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s)    # only when one part cannot be a month
    if m:
        a, b = int(m[1]), int(m[2])
        if a > 12 >= b:
            return _ymd(int(m[3]), b, a)
        if b > 12 >= a:
            return _ymd(int(m[3]), a, b)
        return None
    words = [w for w in re.split(r"[\s,]+", s.lower()) if w]
    if len(words) == 3:                                    # May 7 2012, 7 May 2012, May,7,2012
        month = _MONTHS.get(words[0].rstrip(".")) or _MONTHS.get(words[1].rstrip("."))
        nums = [w.rstrip("stndrh.") for w in words if w.rstrip(".") not in _MONTHS]
        if month and len(nums) == 2 and all(n.isdigit() for n in nums):
            day, year = (int(nums[0]), int(nums[1])) if len(nums[1]) == 4 else (int(nums[1]), int(nums[0]))
            return _ymd(year, month, day)
    return None


def _ymd(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_seats(text: str) -> int | None:
    s = text.strip()
    return int(s) if s.isdigit() and int(s) >= 1 else None


def parse_kind(text: str) -> str | None:
    return KIND_WORDS.get(text.strip().lower())


# ---- key: value lines in notes ---------------------------------------------------------------

_LINE = re.compile(r"^\s*([^:\n]{1,60}?)\s*:[ \t]?(.*)$")


def split_labelled_lines(text: str, known_only: bool = True) -> tuple[list[tuple[str, str]], str]:
    """The `Label: value` lines of a note whose label names a licence field (or any label when
    `known_only` is False), and the rest of the note with those lines taken out.

    Lines with a key in them must not stay behind in the plain-text notes."""
    found: list[tuple[str, str]] = []
    rest: list[str] = []
    for line in text.splitlines():
        m = _LINE.match(line)
        label = m[1] if m else ""
        if m and "://" not in line[: m.end(1) + 3] and (
                not known_only or target_of(label) not in (None, "notes", "product")
                or is_secret_label(label)):
            found.append((label, m[2].strip()))
        else:
            rest.append(line)
    return found, "\n".join(rest).strip()
