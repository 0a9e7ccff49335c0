"""seal() takes its one-write path for a small stored entry by itself, and that path writes
exactly the bundle the streaming path writes (same salt)."""
from __future__ import annotations

import io
import zipfile

import pytest

from archive.seal import engine as seal_mod
from archive.seal.engine import SourceSizeMismatch, seal, unseal
from archive.seal.small import SMALL_MAX

PASSWORD = b"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"
SALT = bytes(range(16))


def sealed(data: bytes, name: str = "n", compress: bool | None = False, **kw) -> tuple[bytes, object]:
    out = io.BytesIO()
    result = seal(io.BytesIO(data), out, password=PASSWORD, entry_name=name, size=len(data),
                  compress=compress, **kw)
    return out.getvalue(), result


def test_small_stored_entries_take_the_one_write_path(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[int] = []
    one_write = seal_mod.write_small

    def counting(data: bytes, *args: object, **kw: object) -> int:
        taken.append(len(data))
        return one_write(data, *args, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(seal_mod, "write_small", counting)
    sealed(b"x" * 1000)
    sealed(bytes(SMALL_MAX))
    sealed(bytes(SMALL_MAX + 1))                       # more: the pipeline
    sealed(b"licence key text " * 100, compress=None)  # compresses: deflated, by the engine's rule
    assert taken == [1000, SMALL_MAX]


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 65_539, SMALL_MAX])
@pytest.mark.parametrize("name", ["a" * 64 + ".toml", "ünïcødé.toml"])
def test_byte_for_byte_what_the_stream_writes(size: int, name: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    monkeypatch.setattr(seal_mod, "new_salt", lambda: SALT)
    ticks: list[int] = []
    ours, got = sealed(data, name, progress=ticks.append)
    assert sum(ticks) == size
    monkeypatch.setattr(seal_mod, "SMALL_MAX", -1)     # the streaming path, for comparison
    theirs, want = sealed(data, name)
    assert ours == theirs
    assert got == want


def test_it_opens_with_our_reader_and_pyzipper() -> None:
    pyzipper = pytest.importorskip("pyzipper")
    data = b"schema = 1\nkind = \"release\"\n" * 40
    blob, result = sealed(data, "x.toml")
    assert result.sealed_size == len(blob)
    assert unseal(io.BytesIO(blob), io.BytesIO(), password=PASSWORD).blake3 == result.blake3
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        z.setpassword(PASSWORD)
        assert z.read("x.toml") == data
        assert z.getinfo("x.toml").compress_type == zipfile.ZIP_STORED


def test_a_fresh_salt_each_time() -> None:
    assert sealed(b"same")[0] != sealed(b"same")[0]


def test_a_source_longer_or_shorter_than_announced_is_refused() -> None:
    for data, size in ((b"12345", 4), (b"123", 4)):
        with pytest.raises(SourceSizeMismatch):
            seal(io.BytesIO(data), io.BytesIO(), password=PASSWORD, entry_name="n", size=size,
                 compress=False)


def test_more_than_small_goes_through_the_pipeline() -> None:
    data = bytes(SMALL_MAX + 1)
    blob, result = sealed(data, "big")
    assert result.plain_size == len(data)
    assert unseal(io.BytesIO(blob), io.BytesIO(), password=PASSWORD).blake3 == result.blake3
