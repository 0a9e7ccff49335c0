"""Keys: the recovery code, wrapping under the passphrase, manifest secrets, `key passwd`."""
from __future__ import annotations

import base64
import re
import stat
import tomllib
from pathlib import Path

import pytest

from archive.crypto import keys
from archive.errors import UsageError, WrongPassphrase
from archive.crypto.keyring import Keyring
from archive.storage.store import Store
from manifests.codec import parse_license
from tests.conftest import PASSPHRASE

CODE_FORM = re.compile(r"^[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$")
GOLDEN_LICENSE = Path(__file__).resolve().parents[1] / "data" / "golden-license.toml"
GOLDEN_SECRET = bytes(range(20))           # what tests/data/golden-license.toml was sealed with


@pytest.fixture
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap KDF parameters for tests that wrap many times (unwrap reads them from the table)."""
    monkeypatch.setattr(keys, "SCRYPT_N", 2**10)


def test_the_secret_has_at_least_128_bits_and_is_random() -> None:
    assert keys.SECRET_BYTES * 8 >= 128
    a, b = keys.new_secret(), keys.new_secret()
    assert len(a) == keys.SECRET_BYTES and a != b


def test_recovery_code_form_and_round_trip() -> None:
    secret = keys.new_secret()
    code = keys.recovery_code(secret)
    assert CODE_FORM.match(code), code
    assert len(code.split("-")) == 8
    assert keys.parse_recovery_code(code) == secret
    assert keys.recovery_code(GOLDEN_SECRET) == "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT"
    assert base64.b32decode(code.replace("-", "")) == secret


@pytest.mark.parametrize("variant", [str.lower, lambda c: c.replace("-", ""),
                                     lambda c: c.replace("-", " "), lambda c: f"  {c.lower()}\n",
                                     lambda c: c.replace("-", "").lower()])
def test_recovery_code_parse_is_forgiving_about_case_and_separators(variant) -> None:  # type: ignore[no-untyped-def]
    secret = keys.new_secret()
    assert keys.parse_recovery_code(variant(keys.recovery_code(secret))) == secret


@pytest.mark.parametrize("garbage", ["", "hello", "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB",
                                     "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQTA",
                                     "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQ1",      # 1 is not base32
                                     "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQ0",
                                     "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQ=",
                                     "ÄAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT"])
def test_recovery_code_parse_rejects_garbage(garbage: str) -> None:
    with pytest.raises(UsageError, match="not a recovery code"):
        keys.parse_recovery_code(garbage)


def test_wrap_unwrap_round_trip(fast_scrypt: None) -> None:
    secret = keys.new_secret()
    table = keys.wrap_secret(secret, "pässphrase with ünïcode")
    assert keys.unwrap_secret(table, "pässphrase with ünïcode") == secret
    assert table["key_id"] == keys.key_id(secret)
    text = repr(table)
    assert secret.hex() not in text and keys.recovery_code(secret) not in text
    assert base64.b64encode(secret).decode() not in text


def test_wrong_passphrase(fast_scrypt: None) -> None:
    table = keys.wrap_secret(keys.new_secret(), "right")
    for wrong in ("wrong", "Right", "right ", ""):
        with pytest.raises(WrongPassphrase, match="wrong passphrase"):
            keys.unwrap_secret(table, wrong)


def test_a_tampered_or_damaged_wrapped_key_is_refused(fast_scrypt: None) -> None:
    table = keys.wrap_secret(keys.new_secret(), "pw")
    raw = bytearray(base64.b64decode(table["cipher"]["ciphertext"]))
    raw[0] ^= 1
    tampered = {**table, "cipher": {**table["cipher"], "ciphertext": base64.b64encode(raw).decode()}}
    with pytest.raises(WrongPassphrase):
        keys.unwrap_secret(tampered, "pw")
    with pytest.raises(WrongPassphrase):          # the key id is authenticated too
        keys.unwrap_secret({**table, "key_id": "0000000000000000"}, "pw")
    for damaged in ({k: v for k, v in table.items() if k != "kdf"},
                    {**table, "cipher": {**table["cipher"], "nonce": "***"}},      # decodes to b""
                    {**table, "cipher": {**table["cipher"], "nonce": "AAAA"}},     # 3 bytes
                    {**table, "kdf": {**table["kdf"], "n": 3}},
                    {**table, "kdf": {**table["kdf"], "p": 10**9}},    # would hang the unlock
                    {**table, "kdf": {**table["kdf"], "n": 2**24}},    # 16 GiB of memory
                    {**table, "kdf": {**table["kdf"], "r": 0}},
                    {**table, "schema": 2}, {**table, "kdf": {**table["kdf"], "name": "md5"}}):
        with pytest.raises(UsageError) as exc:
            keys.unwrap_secret(damaged, "pw")
        assert not isinstance(exc.value, WrongPassphrase)
        assert "key.toml" in str(exc.value)


def test_the_store_key_is_memory_hard_owner_only_and_opens_to_the_recovery_code(
        template_store: tuple[Path, str]) -> None:
    """`template_store` is made by a real `arkeep init` (the other fixtures use cheap scrypt)."""
    store_dir, recovery_code = template_store
    store = Store.open(store_dir)
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600
    table = tomllib.loads(store.key_path.read_text())
    kdf = table["kdf"]
    # OWASP's floor (N=2^17, r=8, p=1) in work per guess, in the 64 MiB form N=2^16, r=8, p=2.
    assert kdf["name"] == "scrypt" and kdf["n"] * kdf["r"] * kdf["p"] >= 2**17 * 8 and kdf["r"] >= 8
    assert 128 * kdf["r"] * kdf["n"] == 64 * 2**20
    keyring = store.unlock(PASSPHRASE)
    assert keyring.recovery_code == recovery_code               # what init printed is the secret
    assert Keyring.from_recovery_code(recovery_code).documents == keyring.documents
    secret = keys.parse_recovery_code(recovery_code)
    text = store.key_path.read_text()
    assert recovery_code not in text and recovery_code.replace("-", "") not in text
    assert secret.hex() not in text


def test_recovery_kit_is_owner_only(template_store: tuple[Path, str]) -> None:
    kit = template_store[0].parent / "kit.txt"
    assert stat.S_IMODE(kit.stat().st_mode) == 0o600
    assert template_store[1] in kit.read_text()


def test_secretbox_round_trip_and_form() -> None:
    box = Keyring.new().box
    token = box.seal("MQ7XK-2B9HF-4TPLC ünïcode")
    assert token.startswith("ENC[AES256_GCM,v1,") and token.endswith("]")
    assert "MQ7XK" not in token
    assert box.open(token) == "MQ7XK-2B9HF-4TPLC ünïcode"
    assert box.seal("same") != box.seal("same")               # a fresh nonce each time


def test_secretbox_refuses_tampered_foreign_and_malformed_tokens() -> None:
    box = Keyring.new().box
    token = box.seal("KEY-1234")
    body = bytearray(base64.b64decode(token[len("ENC[AES256_GCM,v1,"):-1]))
    body[-1] ^= 0x80
    tampered = "ENC[AES256_GCM,v1," + base64.b64encode(bytes(body)).decode() + "]"
    for bad in (tampered, token[:-6] + "]", "ENC[AES256_GCM,v1,not base64!]",
                "ENC[AES256_GCM,v2," + token[18:], "KEY-1234"):
        with pytest.raises(UsageError):
            box.open(bad)
    with pytest.raises(UsageError, match="another archive"):
        Keyring.new().box.open(token)


def test_golden_licence_secrets_still_open() -> None:
    """The token format is part of schema 1: tokens sealed today must open in ten years."""
    lic = parse_license(GOLDEN_LICENSE.read_bytes(), str(GOLDEN_LICENSE))
    box = Keyring(GOLDEN_SECRET).box
    assert lic.key is not None and box.open(lic.key.token or "") == "MQ7XK-2B9HF-4TPLC-88GVW-R3D6J"
    assert [box.open(k.token or "") for k in lic.extra_keys] == ["UPGRADE-CS5-4411-7823"]
    assert lic.account_hint is not None
    assert box.open(lic.account_hint.token or "") == "adobe-id: j.doe@example.org"


def test_derived_keys_are_distinct_and_stable() -> None:
    secret = GOLDEN_SECRET
    assert Keyring(secret).zip_password == b"AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT"
    assert len(keys.key_id(secret)) == 16 and keys.key_id(secret) == keys.key_id(bytes(range(20)))
    assert keys.key_id(secret) != keys.key_id(keys.new_secret())


def test_key_passwd_changes_only_the_passphrase(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch,
                                                recovery_code: str) -> None:
    inst = tmp_path / "setup.exe"
    inst.write_bytes(b"installer bytes" * 100)
    keyfile = tmp_path / "key.txt"
    keyfile.write_text("PASSWD-TEST-KEY-9931\n")
    assert cli("add", inst, "--product", "Pw", "--version", "1", "--key-file", keyfile).code == 0
    objects_before = sorted(p.name for p in (store_dir / "objects").rglob("*") if p.is_file())
    licences_before = {p.name: p.read_bytes() for p in (store_dir / "manifests").rglob("*.toml")}
    key_before = (store_dir / "key.toml").read_text()

    new = tmp_path / "new-passphrase.txt"
    new.write_text("a much better passphrase\n")
    result = cli("key", "passwd", "--new-passphrase-file", new)
    assert result.code == 0, result.err
    assert "Passphrase changed" in result.out
    key_after = (store_dir / "key.toml").read_text()
    assert key_after != key_before
    assert stat.S_IMODE((store_dir / "key.toml").stat().st_mode) == 0o600
    # The data is untouched: same objects, same manifests (the key token is not re-sealed).
    assert sorted(p.name for p in (store_dir / "objects").rglob("*") if p.is_file()) == objects_before
    assert {p.name: p.read_bytes() for p in (store_dir / "manifests").rglob("*.toml")} == licences_before

    old = cli("show", "pw@1", "--reveal")                      # ARKEEP_PASSPHRASE is still the old one
    assert old.code == 2 and "wrong passphrase" in old.err and "PASSWD-TEST-KEY-9931" not in old.out

    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    shown = cli("show", "pw@1", "--reveal", "--json", "--passphrase-file", new)
    assert shown.code == 0, shown.err
    assert "PASSWD-TEST-KEY-9931" in shown.out
    target = tmp_path / "restored"
    restored = cli("restore", "pw@1", "--to", target, "--passphrase-file", new)
    assert restored.code == 0, restored.err
    assert (target / "setup.exe").read_bytes() == inst.read_bytes()
    assert "PASSWD-TEST-KEY-9931" in (target / "LICENSE.txt").read_text()
    # Same secret: the recovery code printed at init still belongs to this store.
    assert Store.open(store_dir).unlock("a much better passphrase").recovery_code == recovery_code


def test_key_export_writes_a_new_owner_only_kit_and_never_overwrites(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path,
                                                                     recovery_code: str) -> None:
    kit = tmp_path / "kit.txt"
    result = cli("key", "export", "--recovery-kit", kit)
    assert result.code == 0, result.err
    assert stat.S_IMODE(kit.stat().st_mode) == 0o600
    assert recovery_code in kit.read_text()
    assert recovery_code not in result.out + result.err
    again = cli("key", "export", "--recovery-kit", kit)
    assert again.code == 2 and "already exists" in again.err


def test_a_key_wrapped_with_the_first_parameters_still_opens() -> None:
    """tests/data/golden-key-n17.toml: GOLDEN_SECRET wrapped under "golden passphrase" with scrypt
    N=2^17, r=8, p=1 (the parameters of the first keys); unwrap reads them from the file."""
    table = tomllib.loads((GOLDEN_LICENSE.parent / "golden-key-n17.toml").read_text())
    assert (table["kdf"]["n"], table["kdf"]["r"], table["kdf"]["p"]) == (2**17, 8, 1)
    assert keys.unwrap_secret(table, "golden passphrase") == GOLDEN_SECRET
    with pytest.raises(WrongPassphrase):
        keys.unwrap_secret(table, "golden passphrase ")
