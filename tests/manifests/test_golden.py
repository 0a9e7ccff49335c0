"""Golden schema-1 manifests (tests/data/) written by hand: they must keep parsing to these values.

If one of these tests fails after a change, a manifest already on someone's disk no longer reads
the same: that is a format break, not a test to update.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import tomllib

from manifests.codec import (
    license_to_table, license_to_toml, parse_license, parse_release, release_to_table, release_to_toml,
)
from manifests.model import Artifact, License, Release, Secret

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN_RELEASE = DATA / "golden-release.toml"
GOLDEN_LICENSE = DATA / "golden-license.toml"
UTC = timezone.utc

KEY_TOKEN = ("ENC[AES256_GCM,v1,KXceoa6esE49cfGeThULbHdqZB+4hYhqt8eAib2um55TeyYNJftDOJYP/"
             "xqN2TbQdQlCdQu4ScPv]")
EXTRA_KEY_TOKEN = "ENC[AES256_GCM,v1,6j4wQvYNpdUr7ljwINMXmpwmcBpw2lE3fZTEwPP6QMEL9alZ2voWXxfO/90aX7LFwQ==]"
HINT_TOKEN = ("ENC[AES256_GCM,v1,B4IT03HKsC4jKG3qoUV+gLbd13VkSPi3b1gkUPE8fON4RYOdKlN/"
              "OQ0RGaBPirXJnDWV2pt05g==]")


def golden_release() -> Release:
    return parse_release(GOLDEN_RELEASE.read_bytes(), str(GOLDEN_RELEASE))


def golden_license() -> License:
    return parse_license(GOLDEN_LICENSE.read_bytes(), str(GOLDEN_LICENSE))


def test_golden_release_top_level_fields() -> None:
    r = golden_release()
    assert r.schema == 1
    assert r.id == "adobe-photoshop-cs6@13.0+extended+windows-x64"
    assert (r.product, r.version, r.vendor, r.edition, r.platform) == (
        "Adobe Photoshop CS6", "13.0", "Adobe Systems", "Extended", "windows-x64")
    assert r.created == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert r.notes is not None and r.notes.splitlines() == [
        "Last perpetual licence before Creative Cloud.",
        "Upgrade from CS5; install CS5 first if activation asks for a qualifying product."]
    assert r.licenses == ("lic-0a1b2c3d4e", "lic-ffee00aa11")
    assert r.extra == {"shelf": "B3", "disc_label": "PS CS6 EXT DVD 1", "tags": ["graphics", "perpetual"]}
    assert r.title == "Adobe Photoshop CS6 13.0 Extended (windows-x64)"


def test_golden_release_artifacts() -> None:
    arts = golden_release().artifacts
    assert [a.role for a in arts] == ["installer", "license-file", "invoice", "receipt", "doc", "other"]
    assert [a.filename for a in arts] == [
        "Photoshop_13_LS16.exe", "Ünïcødé – licence (x64) [v2].txt", "order 2012-0507.pdf",
        "receipt.eml", "README first.pdf", "-dash-first.bin"]
    inst = arts[0]
    assert inst == Artifact(
        role="installer", filename="Photoshop_13_LS16.exe", size=1_073_741_825,
        blake3="af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        media_type="application/vnd.microsoft.portable-executable", license="lic-0a1b2c3d4e",
        source_url="https://download.example.com/photoshop/cs6/Photoshop_13_LS16.exe",
        retrieved=datetime(2012, 5, 7, 12, 30, tzinfo=UTC), unit=None,
        extra={"md5_from_vendor": "0123456789abcdef0123456789abcdef"})
    assert inst.retrieved is not None and inst.retrieved.utcoffset() == timedelta(hours=2)
    assert [a.size for a in arts] == [1_073_741_825, 1, 48213, 2048, 1023, 7]
    assert [a.license for a in arts] == ["lic-0a1b2c3d4e", "lic-0a1b2c3d4e", "lic-ffee00aa11",
                                         "lic-ffee00aa11", None, None]
    assert arts[3].retrieved == datetime(2012, 5, 7, 9, 15, tzinfo=UTC)
    assert arts[4].media_type == "application/octet-stream"            # the default
    assert arts[5].unit == "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"
    assert golden_release().installers() == (inst,)


def test_golden_license_fields() -> None:
    lic = golden_license()
    assert lic == License(
        id="lic-0a1b2c3d4e", kind="serial", created=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        product="Adobe Photoshop CS6", key=Secret(token=KEY_TOKEN),
        extra_keys=(Secret(token=EXTRA_KEY_TOKEN),), licensed_to="Jane Doe", email="jane@example.org",
        company="Doe Design GmbH", seats=2, purchase_date=date(2012, 5, 7),
        order_number="AD-2012-0507-881", price="699.00", currency="EUR", seller="Adobe Store DE",
        vendor="Adobe Systems", expires=date(2099, 12, 31), maintenance_end=date(2013, 5, 7),
        activation_notes="Online activation; phone activation via the 0800 number if the server is gone.",
        account_hint=Secret(token=HINT_TOKEN), notes="Bought with the CS5 upgrade discount.",
        extra={"snipeit_id": 4711, "1password_uuid": "t7xqk3v2m4gqzq",
               "reseller_contact": {"name": "Max Muster", "phone": "+49 30 1234567"}},
        schema=1)
    assert lic.key is not None and lic.key.is_encrypted and lic.key.plain is None
    assert [s.token for s in lic.secrets()] == [KEY_TOKEN, EXTRA_KEY_TOKEN, HINT_TOKEN]
    assert str(lic.key) == "ENC[…]"
    revealed = Secret(plain="MQ7XK-2B9HF")
    assert "MQ7XK" not in repr(revealed) and "MQ7XK" not in str(revealed)


def test_golden_release_round_trips() -> None:
    r = golden_release()
    text = release_to_toml(r)
    again = parse_release(text, "round-trip")
    assert again == r
    assert release_to_toml(again) == text                      # stable: a second dump is identical


def test_golden_license_round_trips() -> None:
    lic = golden_license()
    text = license_to_toml(lic)
    assert parse_license(text, "round-trip") == lic
    assert KEY_TOKEN in text and HINT_TOKEN in text


def test_written_tables_use_the_schema_1_field_names() -> None:
    rt = release_to_table(golden_release())
    assert (rt["schema"], rt["kind"]) == (1, "release")
    assert isinstance(rt["artifact"], list) and len(rt["artifact"]) == 6
    assert rt["artifact"][0]["retrieved"] == datetime(2012, 5, 7, 12, 30, tzinfo=UTC)
    lt = license_to_table(golden_license())
    assert (lt["schema"], lt["kind"], lt["license_kind"]) == (1, "license", "serial")
    assert lt["key"] == KEY_TOKEN and lt["extra_keys"] == [EXTRA_KEY_TOKEN]
    # What tomllib reads back from the dump is the same table.
    assert tomllib.loads(license_to_toml(golden_license())) == lt


def test_model_built_in_code_round_trips() -> None:
    created = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    release = Release(
        id="hello@2.10-3+linux-amd64", product="hello", version="2.10-3", created=created,
        vendor="GNU", platform="linux-amd64", notes='quotes " and \\ backslash\nand a newline',
        licenses=("lic-abcd1234",),
        artifacts=(Artifact(role="installer", filename="hello_2.10-3_amd64.deb", size=53_000,
                            blake3="a" * 64, media_type="application/vnd.debian.binary-package",
                            license="lic-abcd1234", source_url="https://deb.debian.org/x.deb",
                            retrieved=created, extra={"arch": "amd64", "n": [1, 2]}),
                   Artifact(role="license-file", filename="copyright", size=1, blake3="b" * 64,
                            license="lic-abcd1234")),
        extra={"nested": {"deep": {"deeper": True}}, "when": date(2020, 2, 29)})
    assert parse_release(release_to_toml(release)) == release
    lic = License(id="lic-abcd1234", kind="volume", created=created, key=Secret(token=KEY_TOKEN),
                  seats=250, price="0", currency="USD", extra={"x": 1.5})
    assert parse_license(license_to_toml(lic)) == lic
    # Sealed manifests (inside bundles) hold plain secrets; they round-trip when allowed.
    sealed = replace(lic, key=Secret(plain="PLAIN-KEY-1"), account_hint=Secret(plain="hint"))
    assert parse_license(license_to_toml(sealed), allow_plain_secrets=True) == sealed
