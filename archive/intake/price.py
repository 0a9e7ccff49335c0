"""Prices and currencies as people write them ('12,50', '89,90 €', '$1,299.00', 'eur').

The one reader for `add --price/--currency`, the password-manager importers and receipts. What
it returns is in the forms the data model accepts (`manifests.model.is_amount`,
`is_currency_code`), so nothing read here can make a licence record unreadable.
"""
from __future__ import annotations

import re

from archive.errors import UsageError
from manifests.model import is_amount, is_currency_code

# Signs and prefixes that name a currency ('CA$', 'C$' and 'A$' before '$': longest first).
SIGNS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF",
         "A$": "AUD", "C$": "CAD", "CA$": "CAD"}
_LONGEST_FIRST = sorted(SIGNS.items(), key=lambda kv: -len(kv[0]))


def parse_price(text: str) -> tuple[str, str | None] | None:
    """'$699.00' -> ('699.00', 'USD'); '699,00 €' -> ('699.00', 'EUR'); None if not a price."""
    s = text.strip().replace("\u00a0", " ")
    currency = None
    m = re.fullmatch(r"([A-Za-z]{3})\s*(.+)|(.+?)\s*([A-Za-z]{3})", s)
    if m and (m[1] or m[4]):
        currency, s = (m[1] or m[4]).upper(), (m[2] or m[3]).strip()
    for sign, code in _LONGEST_FIRST:
        if s.startswith(sign) or s.endswith(sign):
            currency = currency or code
            s = s.removeprefix(sign).removesuffix(sign).strip()
            break
    s = s.replace(" ", "").replace("'", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?", s):
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d+,\d{1,2}", s):
        s = s.replace(",", ".")
    if not is_amount(s):
        return None
    return s, currency


def currency_code(text: str) -> str | None:
    """'eur' -> 'EUR'; None for anything that is not three ASCII letters."""
    code = text.strip().upper()
    return code if is_currency_code(code) else None


def given_price(price: str | None, currency: str | None) -> tuple[str | None, str | None]:
    """`add --price` and `--currency` as the amount and code to record: a currency the price
    names is kept unless --currency says another, which is refused (UsageError)."""
    code = None
    if currency is not None:
        code = currency_code(currency)
        if code is None:
            raise UsageError(f"--currency {currency!r}: give a three-letter code such as EUR or USD")
    if price is None:
        return None, code
    parsed = parse_price(price)
    if parsed is None or parsed[0].startswith("-"):
        raise UsageError(f"--price {price!r}: give an amount such as 699.00, 12,50 or '89,90 €'")
    amount, named = parsed
    if named and code and named != code:
        raise UsageError(f"--price {price!r} is in {named} but --currency says {code}")
    return amount, code or named
