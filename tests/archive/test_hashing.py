"""BLAKE3 as arkeep computes it, checked against the official test vectors and against b3sum.

The vectors are the first 32 bytes of the "hash" field of BLAKE3's official
test_vectors/test_vectors.json (BLAKE3-team/BLAKE3, commit 2f6f56f3). The input of each case is
the repeating byte sequence 0, 1, ..., 250, 0, 1, ... of the given length.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import blake3
import pytest

from archive.storage import hashing

from archive.crypto import keys
OFFICIAL_VECTORS: dict[int, str] = {
    0: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
    1023: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
    1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
    1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
    2048: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
    2049: "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
    3072: "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
    3073: "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
    4096: "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969",
    4097: "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
    5120: "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833",
    5121: "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff",
    6144: "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205",
    6145: "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f",
    7168: "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a",
    7169: "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817",
    8192: "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63",
    8193: "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
    16384: "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4",
    31744: "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
    102400: "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
}

# The "derive_key" field of the same file (first 32 bytes): keys.derive() uses this mode.
VECTOR_CONTEXT = "BLAKE3 2019-12-27 16:29:52 test vectors context"
OFFICIAL_DERIVE_KEY_VECTORS: dict[int, str] = {
    0: "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d",
    1: "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c",
    1024: "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706",
    102400: "4652cff7a3f385a6103b5c260fc1593e13c778dbe608efb092fe7ee69df6e9c6",
}

LENGTHS = sorted(OFFICIAL_VECTORS)


def vector_input(length: int) -> bytes:
    return bytes(i % 251 for i in range(length))


def b3sum(*paths: Path) -> list[str]:
    exe = shutil.which("b3sum")
    assert exe, "b3sum is not installed; scripts/test installs it (Debian package b3sum)"
    out = subprocess.run([exe, "--no-names", *map(str, paths)], check=True, capture_output=True,
                         text=True).stdout
    return out.split()


def test_the_vector_table_is_complete() -> None:
    assert LENGTHS == [0, 1, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097, 5120, 5121,
                       6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400]
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in OFFICIAL_VECTORS.values())


@pytest.mark.parametrize("length", LENGTHS)
def test_hash_bytes_matches_official_vector(length: int) -> None:
    assert hashing.hash_bytes(vector_input(length)) == OFFICIAL_VECTORS[length]


@pytest.mark.parametrize("length", LENGTHS)
def test_hash_stream_matches_official_vector(length: int) -> None:
    digest, count = hashing.hash_stream(io.BytesIO(vector_input(length)))
    assert (digest, count) == (OFFICIAL_VECTORS[length], length)


@pytest.mark.parametrize("length", LENGTHS)
def test_hash_stream_in_small_chunks_matches_official_vector(length: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk boundaries that do not fall on BLAKE3 chunk boundaries must not change the digest."""
    monkeypatch.setattr(hashing, "CHUNK", 1000)
    seen: list[int] = []
    digest, count = hashing.hash_stream(io.BytesIO(vector_input(length)), progress=seen.append)
    assert digest == OFFICIAL_VECTORS[length]
    assert count == length == sum(seen)
    assert all(n <= 1000 for n in seen)


def test_hash_file_and_b3sum_match_official_vectors(tmp_path: Path) -> None:
    paths = []
    for length in LENGTHS:
        path = tmp_path / f"vector-{length}"
        path.write_bytes(vector_input(length))
        paths.append(path)
        assert hashing.hash_file(path) == OFFICIAL_VECTORS[length], length
        assert blake3.blake3(vector_input(length)).hexdigest() == OFFICIAL_VECTORS[length]
    assert b3sum(*paths) == [OFFICIAL_VECTORS[n] for n in LENGTHS]


@pytest.mark.parametrize("length", sorted(OFFICIAL_DERIVE_KEY_VECTORS))
def test_derive_matches_official_derive_key_vector(length: int) -> None:
    assert keys.derive(vector_input(length), VECTOR_CONTEXT).hex() == OFFICIAL_DERIVE_KEY_VECTORS[length]


def test_big_file_threaded_mmap_path_matches_b3sum(tmp_path: Path) -> None:
    size = hashing.THREADED_FROM + 3 * 1024 * 1024 + 7      # past the threaded/mmap threshold
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        block = os.urandom(1024 * 1024)
        written = 0
        while written < size:
            piece = block[: size - written]
            f.write(piece)
            written += len(piece)
    expected = b3sum(path)[0]
    assert hashing.hash_file(path) == expected                        # mmap + threads
    seen: list[int] = []
    assert hashing.hash_file(path, progress=seen.append) == expected  # streaming, with progress
    assert sum(seen) == size
    with open(path, "rb") as f:
        assert hashing.hash_stream(f, size_hint=size) == (expected, size)


def test_a_single_flipped_byte_changes_the_digest(tmp_path: Path) -> None:
    data = bytearray(vector_input(4097))
    path = tmp_path / "f"
    path.write_bytes(data)
    before = hashing.hash_file(path)
    data[2049] ^= 0x01
    path.write_bytes(data)
    assert hashing.hash_file(path) != before
    assert hashing.hash_file(path) == b3sum(path)[0]
