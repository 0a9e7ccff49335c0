"""Bundles: round trips, compatibility with pyzipper and 7-Zip both ways, and refusal of every
kind of damaged or unacceptable zip. The >4 GiB ZIP64 test takes ~30 s (skip it with
ARKEEP_SKIP_BIG=1 while iterating)."""
from __future__ import annotations

import io
import os
import random
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import blake3
import pytest
import pyzipper
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

import archive.seal.engine as seal_mod
from archive.crypto.keyring import Keyring
from archive.seal.engine import (
    BundleCorrupt,
    BundleRefused,
    SealError,
    SealResult,
    SourceSizeMismatch,
    UnsealResult,
    WrongSecret,
    seal,
    unseal,
)
from archive.replicate.sealing import seal_unit, unseal_unit_to_file
from archive.replicate.units import KIND_OBJECT, KIND_RELEASE, UnitRef
from archive.seal.winzip_aes import CtrCipher
from archive.seal.zip_layout import read_layout

PASSWORD = b"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"
WRONG = b"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4568"
KEYRING = Keyring.from_recovery_code(PASSWORD.decode())   # its zip password is PASSWORD
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEVEN_ZIP = shutil.which("7zz")
needs_7zz = pytest.mark.skipif(SEVEN_ZIP is None, reason="7zz (package 7zip) is not installed")
CHUNK = seal_mod.CHUNK


# ---------------------------------------------------------------------------------------------
# helpers


def random_bytes(n: int, seed: int = 1) -> bytes:
    """`n` pseudo-random bytes, the same for the same seed (BLAKE3's extendable output)."""
    return blake3.blake3(seed.to_bytes(8, "little")).digest(length=n)


def text_bytes(n: int) -> bytes:
    """Compressible data that is not trivially repetitive."""
    rng = random.Random(7)
    words = [b"licence", b"installer", b"setup", b"serial", b"version", b"x64", b"key", b"\n"]
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choices(words, k=4096))
    return bytes(out[:n])


def seal_bytes(data: bytes, *, compress: bool | None = False, name: str = "obj",
               password: bytes = PASSWORD) -> tuple[bytes, SealResult]:
    out = io.BytesIO()
    result = seal(io.BytesIO(data), out, password=password, entry_name=name, size=len(data),
                  compress=compress)
    return out.getvalue(), result


def unseal_bytes(blob: bytes, password: bytes = PASSWORD, **kw) -> tuple[bytes, UnsealResult]:
    out = io.BytesIO()
    result = unseal(io.BytesIO(blob), out, password=password, **kw)
    return out.getvalue(), result


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def seven(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([SEVEN_ZIP, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          check=False)


def flip(blob: bytes, pos: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(blob)
    damaged[pos] ^= mask
    return bytes(damaged)


def assert_clean_message(exc: BaseException) -> None:
    message = str(exc)
    assert message and "\n" not in message
    assert PASSWORD.decode() not in message and WRONG.decode() not in message


def regions(blob: bytes) -> dict[str, int]:
    """Byte positions of the parts of a bundle, found from its own records."""
    layout = read_layout(io.BytesIO(blob), len(blob))
    eocd = blob.rindex(b"PK\x05\x06")
    cd_offset = blob.index(b"PK\x01\x02")
    p = layout.payload_offset
    data_end = p + layout.sealed_size - 10
    return {
        "local signature": 0, "local flags": 6, "local method": 8, "local time": 10,
        "local date": 12, "local crc": 14, "local compressed size": 18,
        "local uncompressed size": 22, "local name length": 26, "local extra length": 28,
        "local name": 30, "local AES extra": p - 5, "salt first": p, "salt last": p + 15,
        "verifier": p + 16, "verifier 2": p + 17, "data start": p + 18,
        "data middle": (p + 18 + data_end) // 2, "data end": data_end - 1, "MAC first": data_end,
        "MAC last": data_end + 9, "central signature": cd_offset, "central flags": cd_offset + 8,
        "central method": cd_offset + 10, "central time": cd_offset + 12,
        "central crc": cd_offset + 16, "central compressed size": cd_offset + 20,
        "central uncompressed size": cd_offset + 24, "central name length": cd_offset + 28,
        "central extra length": cd_offset + 30, "central comment length": cd_offset + 32,
        "central disk": cd_offset + 34, "central local offset": cd_offset + 42,
        "central name": cd_offset + 46, "central AES strength": eocd - 3,
        "central AES method": eocd - 2, "end signature": eocd, "end disk": eocd + 4,
        "end entries": eocd + 10, "end cd size": eocd + 12, "end cd offset": eocd + 16,
        "end comment length": eocd + 20,
    }


def unchecked_positions(blob: bytes) -> set[int]:
    """The bytes FORMAT.md lists as read by nobody: versions and attributes."""
    cd = blob.index(b"PK\x01\x02")
    positions = {4, 5} | {cd + i for i in (4, 5, 6, 7, 36, 37, 38, 39, 40, 41)}
    z64 = blob.find(b"PK\x06\x06")
    if z64 >= 0:
        positions |= {z64 + i for i in (12, 13, 14, 15)}
    return positions


class PipeWriter(io.RawIOBase):
    """A non-seekable destination that accepts at most `max_write` bytes per write (a pipe)."""

    def __init__(self, max_write: int = 1000) -> None:
        self.data = bytearray()
        self.max_write = max_write

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        n = min(len(b), self.max_write)
        self.data += bytes(memoryview(b)[:n])
        return n

    def seekable(self) -> bool:
        return False

    def seek(self, *args):
        raise io.UnsupportedOperation("not seekable")

    def tell(self):
        raise io.UnsupportedOperation("not seekable")


class TrickleReader(io.RawIOBase):
    """A non-seekable source that returns at most 777 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), 777, len(self._data) - self._pos)
        memoryview(b)[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n

    def seek(self, *args):
        raise io.UnsupportedOperation("not seekable")


# ---------------------------------------------------------------------------------------------
# round trips


SIZES = [0, 1, 15, 16, 17, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3, 3 * 1024 * 1024]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_round_trip(size: int, compress: bool) -> None:
    data = random_bytes(size) if not compress else text_bytes(size)
    blob, sealed = seal_bytes(data, compress=compress)
    assert sealed == SealResult("obj", size, len(blob), b3(data))
    if not compress:
        assert len(blob) == size + 28 + 2 * (30 + 3 + 11) + 16 + 22
    plain, opened = unseal_bytes(blob)
    assert plain == data
    assert opened == UnsealResult("obj", size, b3(data))
    assert unseal(io.BytesIO(blob), None, password=PASSWORD) == opened


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 50_000])
@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_round_trip_small_chunks(monkeypatch: pytest.MonkeyPatch, size: int,
                                 compress: bool) -> None:
    """Many chunks in flight through the pipeline, every boundary case of the counter."""
    monkeypatch.setattr(seal_mod, "CHUNK", 4096)
    data = random_bytes(size, seed=size) if not compress else text_bytes(size)
    blob, sealed = seal_bytes(data, compress=compress)
    assert sealed.blake3 == b3(data)
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        z.setpassword(PASSWORD)
        assert z.read("obj") == data
    assert unseal_bytes(blob)[0] == data


def test_blake3_matches_b3sum(tmp_path: Path) -> None:
    if shutil.which("b3sum") is None:
        pytest.skip("b3sum is not installed")
    data = random_bytes(CHUNK + 12345)
    (tmp_path / "f").write_bytes(data)
    expected = subprocess.run(["b3sum", "--no-names", str(tmp_path / "f")], check=True,
                              capture_output=True, text=True).stdout.strip()
    blob, sealed = seal_bytes(data)
    assert sealed.blake3 == expected
    assert unseal_bytes(blob)[1].blake3 == expected


def test_compression_is_chosen_from_a_sample() -> None:
    random_blob, _ = seal_bytes(random_bytes(200_000), compress=None)
    text_blob, _ = seal_bytes(text_bytes(200_000), compress=None)
    assert read_layout(io.BytesIO(random_blob), len(random_blob)).method == 0
    assert read_layout(io.BytesIO(text_blob), len(text_blob)).method == 8
    assert len(text_blob) < 100_000


def test_non_seekable_source_and_destination() -> None:
    data = random_bytes(3 * 1024 * 1024 + 7)
    for compress in (False, True):
        dst = PipeWriter()
        result = seal(TrickleReader(data), dst, password=PASSWORD, entry_name="obj",
                      size=len(data), compress=compress)
        assert result.sealed_size == len(dst.data)
        assert unseal_bytes(bytes(dst.data))[0] == data


def test_source_size_must_match() -> None:
    data = random_bytes(5000)
    with pytest.raises(SourceSizeMismatch, match="ended after 5000 bytes") as exc:
        seal(io.BytesIO(data), io.BytesIO(), password=PASSWORD, entry_name="o", size=5001)
    assert_clean_message(exc.value)
    with pytest.raises(SourceSizeMismatch, match="more than"):
        seal(io.BytesIO(data), io.BytesIO(), password=PASSWORD, entry_name="o", size=4999)


class FailingReader(io.BytesIO):
    """Raises EIO on any read of more than 100 bytes that would go past byte `fail_at`."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__(data)
        self.fail_at = fail_at

    def _check(self, n: int) -> None:
        if n > 100 and self.tell() + n > self.fail_at:
            raise OSError(5, "Input/output error (simulated unplugged drive)")

    def readinto(self, b) -> int:
        self._check(len(b))
        return super().readinto(b)

    def read(self, n: int | None = -1) -> bytes:
        self._check(len(self.getbuffer()) if n is None or n < 0 else n)
        return super().read(n)


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_errors_in_pipeline_threads_reach_the_caller(monkeypatch: pytest.MonkeyPatch,
                                                     compress: bool) -> None:
    """A read error, damage or a failing progress callback in the middle of a many-chunk
    stream ends the call with that error (no hang, no swallowed exception)."""
    monkeypatch.setattr(seal_mod, "CHUNK", 4096)
    size = 1536 * 1024  # past the 1 MiB sample that seal() reads before its pipeline starts
    data = random_bytes(size) if not compress else text_bytes(size)
    with pytest.raises(OSError, match="simulated"):
        seal(FailingReader(data, 1280 * 1024), io.BytesIO(), password=PASSWORD,
             entry_name="o", size=size, compress=compress)
    with pytest.raises(SourceSizeMismatch):
        seal(TrickleReader(data[:-1]), io.BytesIO(), password=PASSWORD, entry_name="o",
             size=size, compress=compress)
    blob, _ = seal_bytes(data, compress=compress)
    assert len(blob) > 3 * 4096
    with pytest.raises(OSError, match="simulated"):
        unseal(FailingReader(blob, len(blob) // 2), io.BytesIO(), password=PASSWORD)

    def stop(n: int) -> None:
        raise KeyError("progress callback failed")

    with pytest.raises(KeyError):
        unseal(io.BytesIO(blob), None, password=PASSWORD, progress=stop)
    for pos in (200, len(blob) // 2, len(blob) - 200):
        with pytest.raises(BundleCorrupt):
            unseal_bytes(flip(blob, pos))


def test_progress_adds_up() -> None:
    data = random_bytes(2 * CHUNK + 5)
    seen: list[int] = []
    out = io.BytesIO()
    seal(io.BytesIO(data), out, password=PASSWORD, entry_name="o", size=len(data),
         progress=seen.append)
    assert sum(seen) == len(data) and len(seen) == 3
    seen.clear()
    unseal(io.BytesIO(out.getvalue()), None, password=PASSWORD, progress=seen.append)
    assert sum(seen) == len(data)


def test_headers_leak_nothing_but_the_given_name() -> None:
    blob, _ = seal_bytes(b"secret installer bytes", name="3f9a0c")
    info = zipfile.ZipFile(io.BytesIO(blob)).infolist()
    assert [i.filename for i in info] == ["3f9a0c"]
    assert info[0].date_time == (1980, 1, 1, 0, 0, 0)
    assert info[0].comment == b"" and zipfile.ZipFile(io.BytesIO(blob)).comment == b""
    assert b"secret" not in blob


def test_non_ascii_entry_name_uses_the_utf8_flag() -> None:
    blob, _ = seal_bytes(b"x", name="résumé")
    assert zipfile.ZipFile(io.BytesIO(blob)).infolist()[0].flag_bits & 0x800
    assert unseal_bytes(blob)[1].entry_name == "résumé"
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        assert z.namelist() == ["résumé"]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), offset=st.integers(0, 10_000))
def test_counter_matches_the_winzip_definition(data: bytes, offset: int) -> None:
    """Keystream block i (from 0) is AES(key, little-endian 128-bit i + 1), at any offset."""
    key = bytes(range(32))
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    first, last = offset // 16, (offset + len(data)) // 16 + 1
    stream = b"".join(ecb.update((i + 1).to_bytes(16, "little")) for i in range(first, last))
    expected = bytes(a ^ b for a, b in zip(data, stream[offset % 16:]))
    out = bytearray(len(data))
    CtrCipher(key, 4096).xor(data, out, offset)
    assert bytes(out) == expected


def reference_keystream(key: bytes, first_block: int, blocks: int) -> bytes:
    """The keystream the simple way: AES of each counter, int.to_bytes per block."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return b"".join(ecb.update((i + 1).to_bytes(16, "little"))
                    for i in range(first_block, first_block + blocks))


# Block indexes (from 0; the counter is index + 1) where the counter table's shortcuts could go
# wrong: the first window, a carry into the second byte, the 2**16 window edge (past 1 MiB of
# entry) and a call that spans it, and the 64-bit edge, where the counter leaves its low 8 bytes.
@pytest.mark.parametrize("first_block,blocks", [
    (0, 1), (0, 300), (1, 1), (254, 3), (255, 2), (256, 1), (65_534, 5), (65_535, 1),
    (65_536 + 1, 1), (65_536 + 1, 70_000), (3 * 65_536 - 7, 2 * 65_536 + 20),
    (2**32 - 3, 6), (2**64 - 4, 8), (2**64 - 65_536 - 2, 65_536 + 9), (2**100 + 12_345, 40),
])
@pytest.mark.parametrize("skip", [0, 5])
def test_keystream_equals_the_counter_computed_per_block(first_block: int, blocks: int,
                                                         skip: int) -> None:
    key = bytes(range(100, 132))
    size = blocks * 16 - skip
    cipher = CtrCipher(key, max(size, 4096))
    for cut in (size, 1000):  # one call, and calls of 1,000 bytes that straddle blocks
        out = bytearray(size)
        for start in range(0, size, cut):
            piece = min(cut, size - start)
            cipher.xor(bytes(piece), memoryview(out)[start:start + piece],
                       first_block * 16 + skip + start)
        assert bytes(out) == reference_keystream(key, first_block, blocks)[skip:]


@pytest.mark.parametrize("through_ctypes", [True, False], ids=["ctypes", "pycryptodomex-wrapper"])
def test_xor_reads_and_writes_views_inside_larger_buffers(
    through_ctypes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C XOR gets the address of each view's own first byte (not its buffer's): data and
    output are slices at odd offsets of larger buffers, as the pipeline's pieces are. Without
    pycryptodomex's library at hand, its own wrapper gives the same bytes."""
    import importlib.util

    from archive.seal import winzip_aes
    winzip_aes._xor.cache_clear()
    if not through_ctypes:
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    try:
        key = bytes(range(7, 39))
        data = bytearray(os.urandom(5000))
        out = bytearray(b"\xaa" * 6000)
        CtrCipher(key, 4096).xor(memoryview(data)[3:3003], memoryview(out)[11:3011], 777)
        stream = reference_keystream(key, 777 // 16, 3000 // 16 + 2)[777 % 16:][:3000]
        assert bytes(out[11:3011]) == bytes(a ^ b for a, b in zip(data[3:3003], stream))
        assert out[:11] == b"\xaa" * 11 and out[3011:] == b"\xaa" * 2989  # nothing outside
    finally:
        winzip_aes._xor.cache_clear()


@pytest.mark.parametrize("out", [bytes(64), memoryview(bytearray(64)).toreadonly(),
                                 bytearray(63)], ids=["bytes", "read-only view", "too short"])
def test_xor_refuses_an_output_it_cannot_fill(out: object) -> None:
    with pytest.raises(ValueError, match="writable and hold 64 bytes"):
        CtrCipher(bytes(32), 4096).xor(bytes(64), out, 0)  # type: ignore[arg-type]


def test_counter_refuses_to_wrap_at_128_bits() -> None:
    with pytest.raises(ValueError):
        CtrCipher(bytes(32), 4096).xor(bytes(32), bytearray(32), (2**128 - 1) * 16)


# ---------------------------------------------------------------------------------------------
# compatibility


@pytest.mark.parametrize("size", [0, 1000, 3 * 1024 * 1024])
@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_our_bundles_open_in_pyzipper(size: int, compress: bool) -> None:
    data = random_bytes(size) if not compress else text_bytes(size)
    blob, _ = seal_bytes(data, compress=compress)
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        z.setpassword(PASSWORD)
        assert z.namelist() == ["obj"]
        assert z.read("obj") == data


@needs_7zz
@pytest.mark.parametrize("size", [0, 1000, 3 * 1024 * 1024])
@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_our_bundles_open_in_7zip(tmp_path: Path, size: int, compress: bool) -> None:
    data = random_bytes(size) if not compress else text_bytes(size)
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(seal_bytes(data, compress=compress)[0])
    tested = seven("t", f"-p{PASSWORD.decode()}", bundle)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout, tested.stdout
    extracted = seven("x", "-y", f"-p{PASSWORD.decode()}", f"-o{tmp_path / 'x'}", bundle)
    assert extracted.returncode == 0, extracted.stdout
    assert (tmp_path / "x" / "obj").read_bytes() == data


@needs_7zz
@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_zip64_layout_opens_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       compress: bool) -> None:
    """The ZIP64 records, exercised on small data (the >4 GiB test below does it for real)."""
    monkeypatch.setattr(seal_mod, "ZIP64_FROM", 0)
    data = random_bytes(5000) if not compress else text_bytes(50_000)
    blob, _ = seal_bytes(data, compress=compress)
    assert b"PK\x06\x06" in blob and b"PK\x06\x07" in blob
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        z.setpassword(PASSWORD)
        assert z.read("obj") == data
    (tmp_path / "b.zip").write_bytes(blob)
    assert seven("t", f"-p{PASSWORD.decode()}", tmp_path / "b.zip").returncode == 0
    assert unseal_bytes(blob)[0] == data


@needs_7zz
@pytest.mark.parametrize("level", ["-mx0", "-mx5"], ids=["stored", "deflated"])
def test_7zip_bundles_open(tmp_path: Path, level: str) -> None:
    data = random_bytes(2 * CHUNK + 99) if level == "-mx0" else text_bytes(3 * 1024 * 1024)
    (tmp_path / "installer.exe").write_bytes(data)
    made = seven("a", "-tzip", "-mem=AES256", level, f"-p{PASSWORD.decode()}", "b.zip",
                 "installer.exe", cwd=tmp_path)
    assert made.returncode == 0, made.stdout
    blob = (tmp_path / "b.zip").read_bytes()
    assert read_layout(io.BytesIO(blob), len(blob)).method == (0 if level == "-mx0" else 8)
    plain, result = unseal_bytes(blob)
    assert plain == data
    assert result == UnsealResult("installer.exe", len(data), b3(data))
    with pytest.raises(WrongSecret):
        unseal_bytes(blob, password=WRONG)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED],
                         ids=["stored", "deflated"])
@pytest.mark.parametrize("streamed", [False, True], ids=["write", "open-w-zip64"])
def test_pyzipper_bundles_open(compression: int, streamed: bool) -> None:
    data = text_bytes(300_000)
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=compression,
                             encryption=pyzipper.WZ_AES) as z:
        z.setpassword(PASSWORD)
        if streamed:
            with z.open("entry.bin", "w", force_zip64=True) as w:
                w.write(data)
        else:
            z.writestr("entry.bin", data)
    plain, result = unseal_bytes(buf.getvalue())
    assert plain == data and result.entry_name == "entry.bin" and result.blake3 == b3(data)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED],
                         ids=["stored", "deflated"])
def test_pyzipper_streamed_to_a_pipe_opens(compression: int) -> None:
    """Written without seeking, pyzipper uses a data descriptor (with 8-byte sizes here)."""
    data = text_bytes(300_000)
    pipe = PipeWriter(max_write=1 << 30)
    with pyzipper.AESZipFile(pipe, "w", compression=compression,
                             encryption=pyzipper.WZ_AES) as z:
        z.setpassword(PASSWORD)
        with z.open("entry.bin", "w", force_zip64=True) as w:
            w.write(data)
    assert zipfile.ZipFile(io.BytesIO(pipe.data)).infolist()[0].flag_bits & 0x08
    assert unseal_bytes(bytes(pipe.data))[0] == data


@needs_7zz
def test_7zip_streamed_to_stdout_opens(tmp_path: Path) -> None:
    """7-Zip writing to a pipe (-so) uses a data descriptor (it can only deflate there)."""
    data = text_bytes(1_000_000)
    (tmp_path / "f.bin").write_bytes(data)
    with open(tmp_path / "b.zip", "wb") as out:
        made = subprocess.run([SEVEN_ZIP, "a", "-tzip", "-mem=AES256", "-mx5",
                               f"-p{PASSWORD.decode()}", "-so", "x.zip", "f.bin"],
                              stdout=out, stderr=subprocess.PIPE, cwd=tmp_path, check=False)
    assert made.returncode == 0
    blob = (tmp_path / "b.zip").read_bytes()
    assert zipfile.ZipFile(io.BytesIO(blob)).infolist()[0].flag_bits & 0x08
    assert unseal_bytes(blob) == (data, UnsealResult("f.bin", len(data), b3(data)))


def test_golden_bundle_still_opens() -> None:
    """Written once by seal() and checked in: the format must never drift."""
    password = b"TEST-GOLD-BUND-LE23-4567-ABCD-EFGH-IJKL"
    expected = b"arkeep golden bundle, format version 1\n" + bytes(range(256)) * 4
    blob = (DATA_DIR / "golden-bundle.zip").read_bytes()
    plain, result = unseal_bytes(blob, password=password)
    assert plain == expected
    assert result == UnsealResult(
        "golden-object", 1063, "9cd4cf75d9cd455037f650c702a11af2f9e7ef8b5720cbddb2f2f35924cc3f76")
    with pyzipper.AESZipFile(io.BytesIO(blob)) as z:
        z.setpassword(password)
        assert z.read("golden-object") == expected


def test_ae1_crc_is_checked() -> None:
    """AE-1 entries (vendor version 1) carry a CRC-32 that must match too."""
    data = random_bytes(1000)
    blob = bytearray(seal_bytes(data)[0])
    cd = blob.index(b"PK\x01\x02")
    for aes in (blob.index(b"\x01\x99\x07\x00"), blob.index(b"\x01\x99\x07\x00", cd)):
        blob[aes + 4] = 1  # vendor version 1
    for crc_at in (14, cd + 16):
        struct.pack_into("<I", blob, crc_at, zlib.crc32(data))
    assert unseal_bytes(bytes(blob))[0] == data
    for crc_at in (14, cd + 16):
        struct.pack_into("<I", blob, crc_at, zlib.crc32(data) ^ 1)
    with pytest.raises(BundleCorrupt, match="CRC"):
        unseal_bytes(bytes(blob))


# ---------------------------------------------------------------------------------------------
# wrong secret, damage, refusal


def test_wrong_password() -> None:
    blob, _ = seal_bytes(random_bytes(1000))
    with pytest.raises(WrongSecret) as exc:
        unseal_bytes(blob, password=WRONG)
    assert_clean_message(exc.value)


@needs_7zz
def test_7zip_rejects_a_wrong_password_for_ours(tmp_path: Path) -> None:
    (tmp_path / "b.zip").write_bytes(seal_bytes(random_bytes(1000))[0])
    tested = seven("t", f"-p{WRONG.decode()}", tmp_path / "b.zip")
    assert tested.returncode != 0
    assert "Wrong password" in tested.stdout + tested.stderr


@pytest.fixture(scope="module")
def small_bundle() -> bytes:
    return seal_bytes(random_bytes(300))[0]


@pytest.mark.parametrize("region", list(regions(seal_bytes(random_bytes(300))[0])))
@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_flipped_byte_is_an_error(small_bundle: bytes, region: str, mask: int) -> None:
    pos = regions(small_bundle)[region]
    with pytest.raises(SealError) as exc:
        unseal_bytes(flip(small_bundle, pos, mask))
    assert_clean_message(exc.value)


@pytest.mark.parametrize("kind", ["stored", "deflated", "zip64"])
def test_every_flipped_byte_is_an_error_or_harmless(monkeypatch: pytest.MonkeyPatch,
                                                    kind: str) -> None:
    """Each bit 0, bit 7 and whole-byte flip at EVERY position: an error, or (only in the bytes
    nobody reads) exactly the right output; never a wrong output."""
    if kind == "zip64":
        monkeypatch.setattr(seal_mod, "ZIP64_FROM", 0)
    data = text_bytes(400) if kind == "deflated" else random_bytes(200)
    blob, _ = seal_bytes(data, compress=kind == "deflated")
    harmless = unchecked_positions(blob)
    for pos in range(len(blob)):
        for mask in (0x01, 0x80, 0xFF):
            try:
                plain, _ = unseal_bytes(flip(blob, pos, mask))
            except SealError:
                continue
            assert pos in harmless, f"flip 0x{mask:02x} at byte {pos} went unnoticed"
            assert plain == data


def test_unsealing_to_a_file_writes_nothing_on_failure(tmp_path: Path, small_bundle: bytes) -> None:
    """replicate/sealing.unseal_unit_to_file, the path restore, repair and rebuild take: the
    target appears only if the bundle authenticates; a file already there survives a failure."""
    unit = UnitRef(KIND_OBJECT, "", "obj")
    digest = b3(unseal_bytes(small_bundle)[0])
    target = tmp_path / "out" / "restored.bin"
    target.parent.mkdir()
    for name, pos in regions(small_bundle).items():
        if "data" not in name and "MAC" not in name:
            continue
        with pytest.raises(BundleCorrupt):
            unseal_unit_to_file(io.BytesIO(flip(small_bundle, pos)), unit, KEYRING, target, digest, "b")
        assert list(target.parent.iterdir()) == []
    target.write_bytes(b"previous content")
    with pytest.raises(WrongSecret):
        unseal_unit_to_file(io.BytesIO(small_bundle), unit, Keyring.new(), target, digest, "b")
    assert list(target.parent.iterdir()) == [target]
    assert target.read_bytes() == b"previous content"
    unseal_unit_to_file(io.BytesIO(small_bundle), unit, KEYRING, target, digest, "b")
    assert b3(target.read_bytes()) == digest


def test_a_file_sealed_into_a_file_and_back(tmp_path: Path) -> None:
    data = random_bytes(100_000)
    (tmp_path / "in").write_bytes(data)
    unit = UnitRef(KIND_OBJECT, b3(data), "e")
    with open(tmp_path / "in", "rb") as src, open(tmp_path / "b.zip", "wb") as dst:
        sealed = seal_unit(src, len(data), unit, dst, KEYRING)
    assert sealed.sealed_size == (tmp_path / "b.zip").stat().st_size and sealed.blake3 == b3(data)
    with open(tmp_path / "b.zip", "rb") as src:
        unseal_unit_to_file(src, unit, KEYRING, tmp_path / "out", sealed.blake3, "e")
    assert (tmp_path / "out").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip", "in", "out"]


def test_manifest_units_are_stored_and_objects_deflate_when_it_pays() -> None:
    """The one compression rule is the engine's; a manifest unit is always stored."""
    text, noise = text_bytes(50_000), random_bytes(50_000)
    found = {}
    for label, data, unit in (("manifest", text, UnitRef(KIND_RELEASE, "r", "m")),
                              ("text object", text, UnitRef(KIND_OBJECT, b3(text), "t")),
                              ("random object", noise, UnitRef(KIND_OBJECT, b3(noise), "n"))):
        out = io.BytesIO()
        seal_unit(io.BytesIO(data), len(data), unit, out, KEYRING)
        with pyzipper.AESZipFile(io.BytesIO(out.getvalue())) as z:
            z.setpassword(PASSWORD)
            assert z.read(unit.entry_name) == data
            found[label] = z.getinfo(unit.entry_name).compress_type
    assert found == {"manifest": zipfile.ZIP_STORED, "text object": zipfile.ZIP_DEFLATED,
                     "random object": zipfile.ZIP_STORED}


@pytest.mark.parametrize("keep", ["0", "10", "21", "half", "payload", "minus 1", "minus 22"])
def test_truncated_bundle(small_bundle: bytes, keep: str) -> None:
    n = len(small_bundle)
    cut = {"0": 0, "10": 10, "21": 21, "half": n // 2, "payload": 350, "minus 1": n - 1,
           "minus 22": n - 22}[keep]
    with pytest.raises(BundleCorrupt) as exc:
        unseal_bytes(small_bundle[:cut])
    assert_clean_message(exc.value)


def test_not_a_zip() -> None:
    with pytest.raises(BundleCorrupt, match="not a zip"):
        unseal_bytes(random_bytes(5000))


def test_trailing_garbage_is_refused(small_bundle: bytes) -> None:
    with pytest.raises(BundleCorrupt):
        unseal_bytes(small_bundle + b"\0")


def _plain_zip(**kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", **kw) as z:
        z.writestr("a.txt", b"hello")
    return buf.getvalue()


def test_unencrypted_zip_is_refused() -> None:
    with pytest.raises(BundleRefused, match="not encrypted") as exc:
        unseal_bytes(_plain_zip())
    assert_clean_message(exc.value)


def test_empty_zip_is_refused() -> None:
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    with pytest.raises(BundleRefused, match="0 entries"):
        unseal_bytes(buf.getvalue())


def test_two_entries_are_refused() -> None:
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", encryption=pyzipper.WZ_AES) as z:
        z.setpassword(PASSWORD)
        z.writestr("a", b"1")
        z.writestr("b", b"2")
    with pytest.raises(BundleRefused, match="2 entries"):
        unseal_bytes(buf.getvalue())


@needs_7zz
@pytest.mark.parametrize("method,message", [("ZipCrypto", "ZipCrypto"), ("AES128", "AES-128")])
def test_other_encryption_is_refused(tmp_path: Path, method: str, message: str) -> None:
    (tmp_path / "f").write_bytes(b"hello" * 100)
    made = seven("a", "-tzip", f"-mem={method}", f"-p{PASSWORD.decode()}", "b.zip", "f",
                 cwd=tmp_path)
    assert made.returncode == 0
    with pytest.raises(BundleRefused, match=message):
        unseal_bytes((tmp_path / "b.zip").read_bytes())


def test_unknown_inner_method_is_refused() -> None:
    blob = bytearray(seal_bytes(b"hello")[0])
    for aes in (blob.index(b"\x01\x99\x07\x00"), blob.rindex(b"\x01\x99\x07\x00")):
        blob[aes + 9] = 14  # LZMA
    with pytest.raises(BundleRefused, match="compression method 14"):
        unseal_bytes(bytes(blob))


def test_inconsistent_local_and_central_sizes() -> None:
    blob = bytearray(seal_bytes(random_bytes(1000))[0])
    struct.pack_into("<II", blob, 18, 1028 - 16, 1000 - 16)  # local sizes, still self-consistent
    with pytest.raises(BundleCorrupt, match="sizes"):
        unseal_bytes(bytes(blob))


def test_declared_size_beyond_max_size_is_refused() -> None:
    blob, _ = seal_bytes(random_bytes(1000))
    assert unseal_bytes(blob, max_size=1000)[0]
    with pytest.raises(BundleRefused, match="999"):
        unseal_bytes(blob, max_size=999)


def test_zip_bomb_stops_at_the_declared_size() -> None:
    """A deflated entry that declares 1,000 bytes but inflates to 64 MiB (the MAC is valid: it
    covers only the ciphertext) is stopped without writing more than was declared."""
    blob = bytearray(seal_bytes(bytes(64 << 20), compress=True)[0])
    assert len(blob) < 200_000
    cd = blob.index(b"PK\x01\x02")
    struct.pack_into("<I", blob, cd + 24, 1000)  # central uncompressed size
    struct.pack_into("<I", blob, cd - 4, 1000)  # data descriptor's uncompressed size
    out = io.BytesIO()
    with pytest.raises(BundleCorrupt, match="declared 1000") as exc:
        unseal(io.BytesIO(bytes(blob)), out, password=PASSWORD)
    assert len(out.getvalue()) <= 1000
    assert_clean_message(exc.value)


def test_deflated_entry_shorter_than_declared() -> None:
    blob = bytearray(seal_bytes(text_bytes(5000), compress=True)[0])
    cd = blob.index(b"PK\x01\x02")
    struct.pack_into("<I", blob, cd + 24, 5001)
    struct.pack_into("<I", blob, cd - 4, 5001)
    with pytest.raises(BundleCorrupt, match="5000 bytes, 5001"):
        unseal_bytes(bytes(blob))


def test_password_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        seal(io.BytesIO(b""), io.BytesIO(), password="text", entry_name="o", size=0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# > 4 GiB


class PatternSource(io.RawIOBase):
    """`size` deterministic pseudo-random bytes: a 4 MiB random block repeated, each repetition
    stamped with its index (so no two blocks are equal), produced at memcpy speed."""

    BLOCK = 4 << 20

    def __init__(self, size: int) -> None:
        self._base = memoryview(random_bytes(self.BLOCK, seed=4))
        self._size, self._pos = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        index, within = divmod(self._pos, self.BLOCK)
        n = min(len(b), self.BLOCK - within, self._size - self._pos)
        view = memoryview(b).cast("B")
        view[:n] = self._base[within:within + n]
        if within < 8 and n:
            stamp = struct.pack("<Q", index)[within:8]
            view[:min(n, len(stamp))] = stamp[:n]
        self._pos += n
        return n


@pytest.mark.skipif(os.environ.get("ARKEEP_SKIP_BIG") == "1", reason="ARKEEP_SKIP_BIG=1")
@needs_7zz
def test_entry_over_4_gib_streams_through_zip64(tmp_path: Path) -> None:
    size = (1 << 32) + 3 * (1 << 20) + 5
    expected_hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    src, buf = PatternSource(size), bytearray(16 << 20)
    while n := src.readinto(buf):
        expected_hasher.update(memoryview(buf)[:n])
    expected = expected_hasher.hexdigest()
    bundle = tmp_path / "big.zip"
    try:
        with open(bundle, "wb") as f:
            sealed = seal(PatternSource(size), f, password=PASSWORD, entry_name="big",
                          size=size, compress=False)
        assert sealed.blake3 == expected and sealed.sealed_size == bundle.stat().st_size
        info = zipfile.ZipFile(bundle).infolist()[0]
        assert info.file_size == size and info.compress_size == size + 28
        tested = seven("t", f"-p{PASSWORD.decode()}", bundle)
        assert tested.returncode == 0 and "Everything is Ok" in tested.stdout, tested.stdout
        with open(bundle, "rb") as f:
            assert unseal(f, None, password=PASSWORD) == UnsealResult("big", size, expected)
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        with pyzipper.AESZipFile(bundle) as z:
            z.setpassword(PASSWORD)
            with z.open("big") as entry:  # pyzipper checks the MAC when the entry ends
                while chunk := entry.read(16 << 20):
                    hasher.update(chunk)
        assert hasher.hexdigest() == expected
    finally:
        bundle.unlink(missing_ok=True)
