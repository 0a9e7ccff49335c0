"""DigitalProductId decoding on published values with their known keys, and on keys encoded
by the tests' own encoder (written from the format's description, apart from the decoder)."""
from __future__ import annotations

import pytest

from archive.intake.harvest.productkey import NotAProductId, decode_key_bytes, decode_product_id
from archive.intake.harvest.sources import table
from tests.harvest.disks import (
    SERVER2019_BYTES,
    SERVER2019_KEY,
    WIN11_DPID,
    WIN11_KEY,
    dpid_with,
    encode_key,
)

# Published by dissect.target's tests: a Windows 11 24H2 VM's DigitalProductId4 (1272 bytes).
WIN11_DPID4_KEY_BYTES = bytes.fromhex("ec0c00000000a8d27b6e89814f6d09")


def test_published_windows_11_value_decodes_to_its_key() -> None:
    decoded = decode_product_id(WIN11_DPID)
    assert decoded.key == WIN11_KEY
    assert decoded.encoding == "the Windows 8 encoding"
    assert not decoded.is_blank


def test_published_key_bytes_at_byte_808_of_digitalproductid4() -> None:
    blob = dpid_with(WIN11_DPID4_KEY_BYTES, offset=808, size=1272)
    assert decode_product_id(blob, "DigitalProductId4").key == WIN11_KEY
    assert decode_key_bytes(SERVER2019_BYTES).key == SERVER2019_KEY


@pytest.mark.parametrize("key", [
    "FJ82H-XT6CR-J8D7P-XQJJ2-GPDD4",     # Microsoft's published Windows 7 Professional KMS key
    "HQ7DP-KM2GX-CRW8T-J3VYB-64Q9R", "BBBBB-BBBBB-BBBBB-BBBBB-BBBBC", "99999-99999-99999-99999-9999Y"])
def test_keys_before_windows_8_come_back(key: str) -> None:
    decoded = decode_key_bytes(encode_key(key))
    assert (decoded.key, decoded.encoding) == (key, "the encoding before Windows 8")


@pytest.mark.parametrize("key", [WIN11_KEY, SERVER2019_KEY, "NBBBB-BBBBB-BBBBB-BBBBB-BBBBC",
                                 "BBBBB-BBBBB-BBBBB-BBBBB-BBBNB", "W269N-WFGWX-YVC9B-4J6C9-T83GX"])
def test_keys_of_windows_8_and_later_come_back_with_their_n(key: str) -> None:
    raw = encode_key(key)
    assert raw[14] & 0x08
    assert decode_key_bytes(raw).key == key


def test_encoder_agrees_with_the_published_bytes() -> None:
    assert encode_key(SERVER2019_KEY) == SERVER2019_BYTES
    assert encode_key(WIN11_KEY) == WIN11_DPID[52:67]


def test_zero_bytes_are_the_blank_volume_pattern() -> None:
    decoded = decode_key_bytes(bytes(15))
    assert decoded.key == "BBBBB-BBBBB-BBBBB-BBBBB-BBBBB" and decoded.is_blank


@pytest.mark.parametrize("value, why", [
    (b"\x00" * 60, "too short"), ("not bytes", "not binary"),
    (dpid_with(b"\xff" * 14 + b"\x07"), "too large")])
def test_what_is_not_a_key_is_refused_with_the_reason(value, why: str) -> None:
    with pytest.raises(NotAProductId, match=why):
        decode_product_id(value)


def test_every_generic_key_of_the_table_is_a_key_the_format_holds() -> None:
    for key in table().generic_keys:
        assert decode_key_bytes(encode_key(key)).key == key
