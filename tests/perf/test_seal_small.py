"""seal_small writes exactly the bundle seal.seal writes (same salt), in one thread."""
from __future__ import annotations

import io
import zipfile

import pytest

from archive.seal import engine as seal_mod
from archive.seal.engine import unseal
from archive.seal.small import SMALL_MAX, seal_small

PASSWORD = b"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"
SALT = bytes(range(16))


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 65_539, SMALL_MAX])
@pytest.mark.parametrize("name", ["a" * 64 + ".toml", "ünïcødé.toml"])
def test_byte_for_byte_what_seal_writes(size: int, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    ours = io.BytesIO()
    got = seal_small(data, ours, password=PASSWORD, entry_name=name, salt=SALT)
    monkeypatch.setattr(seal_mod, "new_salt", lambda: SALT)
    theirs = io.BytesIO()
    want = seal_mod.seal(io.BytesIO(data), theirs, password=PASSWORD, entry_name=name, size=size,
                         compress=False)
    assert ours.getvalue() == theirs.getvalue()
    assert got == want


def test_it_opens_with_our_reader_and_pyzipper() -> None:
    pyzipper = pytest.importorskip("pyzipper")
    data = b"schema = 1\nkind = \"release\"\n" * 40
    out = io.BytesIO()
    sealed = seal_small(data, out, password=PASSWORD, entry_name="x.toml")
    blob = out.getvalue()
    assert sealed.sealed_size == len(blob)
    assert unseal(io.BytesIO(blob), io.BytesIO(), password=PASSWORD).blake3 == sealed.blake3
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        z.setpassword(PASSWORD)
        assert z.read("x.toml") == data
        assert z.getinfo("x.toml").compress_type == zipfile.ZIP_STORED


def test_a_fresh_salt_each_time() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    seal_small(b"same", a, password=PASSWORD, entry_name="n")
    seal_small(b"same", b, password=PASSWORD, entry_name="n")
    assert a.getvalue() != b.getvalue()


def test_more_than_small_goes_through_the_pipeline() -> None:
    data = bytes(SMALL_MAX + 1)
    out = io.BytesIO()
    sealed = seal_small(data, out, password=PASSWORD, entry_name="big")
    assert sealed.plain_size == len(data)
    assert unseal(io.BytesIO(out.getvalue()), io.BytesIO(), password=PASSWORD).blake3 == sealed.blake3
