"""The keyring derives exactly what the call sites derived before it (known values), and never
shows a secret."""
from __future__ import annotations

import copy
import logging
import pickle

import pytest

from archive.crypto import keys
from archive.crypto.keyring import Keyring
from archive.errors import WrongPassphrase

GOLDEN_SECRET = bytes(range(20))           # what tests/data/golden-license.toml was sealed with

# Computed at b11e8b3 by the derivations the keyring replaces: objcrypt.documents_key,
# SecretBox.for_secret, remote_config._box, UnitNamer(secret) and import_licenses.fingerprint's key.
KNOWN = {
    "key_id": "355c8a7d9c46666b",
    "zip_password": b"AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT",
    "documents": "471dfbd0e17a4d56c8901800d014947ddf9a7547509d27230ce19145986af289",
    "box": "ad4f0317bf706b1bbee458ff8e4c1261b7050a2b681604eda947675b1f7b180c",
    "config_box": "af5f8e282b6c97f2b7278f86c876aa4fcbdca0cfc7912156b6902b9488803550",
    "object": "b98236c319616b6387397915a52d1e54c3b30ce39b612ecfc67afe56a2f62679",
    "release": "742528689aefd98d606c7475af2e79975832f827777049e82c06b14ca581b993",
    "license": "2516a3f85deb88b8e859073a9a543b5097aea01f9d2d62fc55e3aa1e48fb2fbf",
    "fingerprint": "b6bbb9c27fbd73b2b6259b7360ff2c15",
    "harvest": "4e07ca4608ef1d804f5c681992299cb3",      # harvest/record.py's key, at b239641
}


def test_keyring_derives_the_known_values() -> None:
    ring = Keyring(GOLDEN_SECRET)
    assert ring.key_id == KNOWN["key_id"]
    assert ring.zip_password == KNOWN["zip_password"]
    assert ring.recovery_code == KNOWN["zip_password"].decode()
    assert ring.documents.hex() == KNOWN["documents"]
    assert ring.box.key.hex() == KNOWN["box"]
    assert ring.config_box.key.hex() == KNOWN["config_box"]
    assert ring.unit_name("object", "ab" * 32) == KNOWN["object"]
    assert ring.unit_name("release", "adobe/photoshop/cs5") == KNOWN["release"]
    assert ring.unit_name("license", "L1") == KNOWN["license"]
    assert ring.fingerprint(b'{"x":1}') == KNOWN["fingerprint"]
    assert ring.fingerprint(b'{"x":1}', of="harvest") == KNOWN["harvest"]


def test_keyring_keys_are_distinct_and_belong_to_their_secret() -> None:
    ring, other = Keyring(GOLDEN_SECRET), Keyring.new()
    derived = [ring.documents, ring.box.key, ring.config_box.key, ring.zip_password]
    assert len(set(derived)) == len(derived)
    assert other.key_id != ring.key_id and other.documents != ring.documents
    assert Keyring.from_recovery_code(ring.recovery_code.lower()).documents == ring.documents


def test_keyring_wraps_and_unwraps_under_a_passphrase() -> None:
    ring = Keyring(GOLDEN_SECRET)
    table = ring.wrap("correct horse")
    assert table["key_id"] == ring.key_id
    assert Keyring.unwrap(table, "correct horse").zip_password == ring.zip_password
    with pytest.raises(WrongPassphrase):
        Keyring.unwrap(table, "wrong horse")


@pytest.mark.parametrize("bad", [b"", b"\0" * 19, b"\0" * 21, "x" * 20])
def test_keyring_refuses_what_is_not_a_secret(bad: object) -> None:
    with pytest.raises(ValueError, match="20 bytes"):
        Keyring(bad)  # type: ignore[arg-type]


def test_keyring_never_shows_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    ring = Keyring(GOLDEN_SECRET)
    logging.getLogger("arkeep.test").warning("unlocked %s %r", ring, ring)
    shown = [repr(ring), str(ring), f"{ring}", repr(ring.box), repr(ring.config_box), caplog.text]
    forbidden = [GOLDEN_SECRET.hex(), ring.recovery_code, ring.recovery_code.replace("-", ""),
                 ring.documents.hex(), ring.box.key.hex(), repr(ring.box.key), repr(ring.documents),
                 repr(GOLDEN_SECRET)]
    for text in shown:
        for secret in forbidden:
            assert secret not in text
    assert ring.key_id in repr(ring)
    assert not hasattr(ring, "__dict__")
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(ring)
    assert copy.deepcopy(ring) is ring
    assert keys.SECRET_BYTES == len(GOLDEN_SECRET)
