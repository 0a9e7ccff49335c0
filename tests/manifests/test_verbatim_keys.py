"""A revealed key in a sealed licence record reads exactly as the vendor wrote it.

The person recovering by hand (docs/RECOVERY.md) copies the key out of the TOML text; a basic
string would show a multi-line key as `\\n` escapes and double every backslash."""
from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from manifests.codec import license_to_toml, parse_license
from manifests.model import License, Secret

CREATED = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
MULTI_LINE = "-----BEGIN LICENSE-----\nTREE-ENT-4242\n\tCompany \"Acme\" C:\\Tools\n-----END LICENSE-----"


def sealed(key: str, hint: str | None = None, extra: tuple[str, ...] = ()) -> License:
    return License(id="lic-0a1b2c3d4e", kind="serial", created=CREATED, key=Secret(plain=key),
                   extra_keys=tuple(Secret(plain=k) for k in extra),
                   account_hint=Secret(plain=hint) if hint else None)


def test_a_multi_line_key_with_quotes_and_backslashes_is_written_as_is() -> None:
    text = license_to_toml(sealed(MULTI_LINE, hint='user "x"', extra=("A\\B", "PLAIN-2")))
    assert f"key = '''\n{MULTI_LINE}'''\n" in text
    assert "account_hint = '''\nuser \"x\"'''" in text
    assert "'''\nA\\B'''" in text and '"PLAIN-2"' in text
    lic = parse_license(text, allow_plain_secrets=True)
    assert lic.key == Secret(plain=MULTI_LINE)
    assert [s.plain for s in lic.extra_keys] == ["A\\B", "PLAIN-2"]
    assert lic.account_hint == Secret(plain='user "x"')


def test_a_plain_key_stays_a_basic_string() -> None:
    text = license_to_toml(sealed("ABCD-1234"))
    assert 'key = "ABCD-1234"' in text and "'''" not in text


@pytest.mark.parametrize("key", ["ends with a quote'", "three '''quotes", "carriage\r\nreturn",
                                 "bell\x07", "\"'''\""])
def test_keys_a_literal_cannot_hold_keep_the_escaped_form_and_round_trip(key: str) -> None:
    text = license_to_toml(sealed(key))
    assert "'''" not in text.split("key = ", 1)[1].split("\n", 1)[0] or "'''" in key
    assert tomllib.loads(text)["key"] == key
    assert parse_license(text, allow_plain_secrets=True).key == Secret(plain=key)


def test_an_encrypted_key_is_never_rewritten() -> None:
    lic = License(id="lic-0a1b2c3d4e", kind="serial", created=CREATED,
                  key=Secret(token="enc:v1:AAAA\"\\"))
    assert 'key = "enc:v1:AAAA\\"\\\\"' in license_to_toml(lic)
