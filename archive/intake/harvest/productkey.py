"""Microsoft product keys kept as a `DigitalProductId` registry value.

Windows (XP to 11) and Office (XP to 2010) keep the key that was typed at installation as 15
bytes inside the binary value `DigitalProductId`: a 115-bit number written in base 24 over the
alphabet below, as 25 characters in five groups. Windows 8 and later mark their keys with bit 3
of the fifteenth byte and leave the letter N out of the 24 other characters: the most significant
digit then says where the N goes. `DigitalProductId4` (Vista and later) holds the same 15 bytes
further in.

A volume-licence install keeps no key: the bytes are zero and decode to BBBBB-BBBBB-…; a
generic key (one Microsoft publishes for each edition, used by digital licences and KMS
clients) decodes as itself and proves nothing about a purchase. The caller says so; this module
only decodes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ALPHABET = "BCDFGHJKMPQRTVWXY2346789"
KEY_BYTES = 15
OFFSETS = {"DigitalProductId": 52, "DigitalProductId4": 808}
NEW_ENCODING_BIT = 0x08          # in the fifteenth byte


class NotAProductId(ValueError):
    """The value is too short, or its bytes are not a key in either encoding."""


@dataclass(frozen=True)
class DecodedKey:
    key: str = field(repr=False)
    encoding: str                 # "the Windows 8 encoding" or "the encoding before Windows 8"

    @property
    def is_blank(self) -> bool:
        """True for the all-B pattern a volume-licence install leaves."""
        return set(self.key.replace("-", "")) <= {"B", "N"}


def decode_key_bytes(raw: bytes) -> DecodedKey:
    """The product key in 15 bytes, in either encoding."""
    if len(raw) != KEY_BYTES:
        raise NotAProductId(f"a key is {KEY_BYTES} bytes, not {len(raw)}")
    new = bool(raw[-1] & NEW_ENCODING_BIT)
    number = int.from_bytes(raw[:-1] + bytes([raw[-1] & ~NEW_ENCODING_BIT & 0xFF]), "little")
    digits = []
    for _ in range(25):
        number, digit = divmod(number, 24)
        digits.append(digit)
    if number:
        raise NotAProductId("the bytes hold a number too large for a 25-character key")
    digits.reverse()
    if new:
        where = digits[0]
        rest = "".join(ALPHABET[d] for d in digits[1:])
        if where > len(rest):
            raise NotAProductId("the position of the N is past the end of the key")
        text = rest[:where] + "N" + rest[where:]
    else:
        text = "".join(ALPHABET[d] for d in digits)
    key = "-".join(text[i:i + 5] for i in range(0, 25, 5))
    return DecodedKey(key, "the Windows 8 encoding" if new else "the encoding before Windows 8")


def decode_product_id(value: bytes, value_name: str = "DigitalProductId") -> DecodedKey:
    """The product key held by a `DigitalProductId` (or `DigitalProductId4`) value."""
    offset = OFFSETS.get(value_name, OFFSETS["DigitalProductId"])
    if not isinstance(value, bytes | bytearray):
        raise NotAProductId("the value is not binary")
    if len(value) < offset + KEY_BYTES:
        raise NotAProductId(f"{len(value)} bytes, too short to hold a key at byte {offset}")
    return decode_key_bytes(bytes(value[offset:offset + KEY_BYTES]))


MSDM_KEY_OFFSET = 56                  # after the 36-byte ACPI header and five 32-bit fields
MSDM_MAX = 4096


def key_from_msdm(table: bytes) -> str:
    """The Windows key a PC maker put in the firmware (the ACPI MSDM table, Windows 8 and
    later): 29 ASCII characters at byte 56, after the table header and the data length."""
    if len(table) < MSDM_KEY_OFFSET or table[:4] != b"MSDM":
        raise NotAProductId("not an ACPI MSDM table")
    length = int.from_bytes(table[52:56], "little")
    if length != 29 or len(table) < MSDM_KEY_OFFSET + length:
        raise NotAProductId(f"the table's key is {length} bytes, not the 29 of a product key")
    try:
        key = table[MSDM_KEY_OFFSET:MSDM_KEY_OFFSET + length].decode("ascii")
    except UnicodeDecodeError:
        raise NotAProductId("the table's key is not text") from None
    groups = key.split("-")
    if len(groups) != 5 or any(len(g) != 5 or not g.isalnum() for g in groups):
        raise NotAProductId("the table's key is not five groups of five characters")
    return key.upper()
