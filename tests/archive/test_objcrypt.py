"""Objects encrypted at rest (archive/storage/objcrypt.py): round trip, sizes, damage, the store's view."""
from __future__ import annotations

import io
import os
from pathlib import Path

import blake3
import pytest

from archive.storage import objcrypt
from archive.errors import IntegrityError, SecretNeeded
from archive.crypto.keyring import Keyring
from archive.storage.store import Store

PIECE = objcrypt.PIECE


def _encrypt(path: Path, data: bytes, documents: bytes) -> tuple[str, int]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        return objcrypt.encrypt_stream(io.BytesIO(data), fd, documents, len(data))
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 17])
def test_round_trip_and_size(tmp_path: Path, size: int) -> None:
    documents = Keyring.new().documents
    data = os.urandom(size)
    path = tmp_path / "obj.enc"
    digest, n = _encrypt(path, data, documents)
    assert (digest, n) == (blake3.blake3(data).hexdigest(), size)
    assert path.stat().st_size == objcrypt.encrypted_size(size)
    assert objcrypt.plain_size(path) == size
    assert objcrypt.trailer_matches(path)
    with objcrypt.open_decrypting(path, documents) as f:
        assert f.read() == data
        f.seek(0)
        assert f.read(5) == data[:5]
        if size > PIECE:
            f.seek(PIECE + 3)
            assert f.read(4) == data[PIECE + 3:PIECE + 7]


def test_plaintext_is_not_in_the_file(tmp_path: Path) -> None:
    documents = Keyring.new().documents
    data = b"Serial: ABCD-1234-EFGH-5678\n" * 1000
    path = tmp_path / "obj.enc"
    _encrypt(path, data, documents)
    assert b"ABCD-1234" not in path.read_bytes()


def test_damage_wrong_key_and_truncation_are_refused(tmp_path: Path) -> None:
    documents = Keyring.new().documents
    data = os.urandom(2 * PIECE + 5)
    path = tmp_path / "obj.enc"
    _encrypt(path, data, documents)
    raw = bytearray(path.read_bytes())
    flipped = tmp_path / "flipped.enc"
    raw[objcrypt.HEADER + PIECE + 40] ^= 1
    flipped.write_bytes(raw)
    assert not objcrypt.trailer_matches(flipped)
    with pytest.raises(IntegrityError), objcrypt.open_decrypting(flipped, documents) as f:
        f.read()
    with pytest.raises(IntegrityError), objcrypt.open_decrypting(path, Keyring.new().documents) as f:
        f.read()
    # Cut after the first whole piece, trailer moved along: the final-piece flag refuses it.
    cut = tmp_path / "cut.enc"
    body = path.read_bytes()[:objcrypt.HEADER + PIECE + objcrypt.TAG]
    cut.write_bytes(body + blake3.blake3(body).digest())
    assert objcrypt.trailer_matches(cut)
    with pytest.raises(IntegrityError), objcrypt.open_decrypting(cut, documents) as f:
        f.read()


def test_store_keeps_one_copy_and_upgrades_a_plain_one(store_dir: Path, tmp_path: Path) -> None:
    store = Store.open(store_dir)
    keyring = store.unlock(os.environ["ARKEEP_PASSPHRASE"])
    source = tmp_path / "receipt.eml"
    source.write_bytes(b"Your key: QWER-TYUI-OPAS-DFGH\n")
    plain = store.ingest(source)
    assert store.object_path(plain.digest).is_file() and not store.is_encrypted(plain.digest)
    enc = store.ingest(source, keyring=keyring)
    assert enc.digest == plain.digest and enc.new
    assert not store.object_path(plain.digest).exists() and store.is_encrypted(plain.digest)
    assert store.ingest(source).new is False            # the encrypted copy serves a plain add
    assert not store.object_path(plain.digest).exists()
    assert store.stored_size_matches(plain.digest, enc.size)
    assert [d for d, _ in store.iter_objects()] == [plain.digest]
    with pytest.raises(SecretNeeded):
        store.open_object(plain.digest, None)
    with store.open_object(plain.digest, keyring) as f:
        assert f.read() == source.read_bytes()


def test_the_by_hand_recipe_in_format_md_decrypts_an_object(tmp_path: Path) -> None:
    """docs/FORMAT.md shows how to decrypt an object without arkeep: run it as written."""
    import re
    import subprocess
    import sys

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "FORMAT.md").read_text()
    (recipe,) = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
                 if "stored documents" in b]
    keyring = Keyring.new()
    recipe = recipe.replace("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", keyring.recovery_code.replace("-", ""))
    data = os.urandom(2 * PIECE + 99)
    enc = tmp_path / "obj.enc"
    digest, _ = _encrypt(enc, data, keyring.documents)
    script = tmp_path / "decrypt.py"
    script.write_text(recipe)
    subprocess.run([sys.executable, str(script), str(enc), str(tmp_path / "out")], check=True)
    assert blake3.blake3((tmp_path / "out").read_bytes()).hexdigest() == digest
