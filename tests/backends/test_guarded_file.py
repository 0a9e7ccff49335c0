"""GuardedFile.readinto reads straight into the caller's buffer where the file can."""
from __future__ import annotations

import io

import pytest

from backends.base import GuardedFile
from backends.errors import BackendError, Unreachable


class NoRead(io.BytesIO):
    """A file whose read() must not be used: readinto() is there."""

    def read(self, size: int | None = -1, /) -> bytes:
        raise AssertionError("read() + a copy, where readinto() was at hand")


class OnlyRead:
    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._f.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()


class Failing(io.BytesIO):
    def readinto(self, buffer: object, /) -> int:
        raise OSError(5, "Input/output error")


def _translate(exc: Exception) -> BackendError | None:
    return Unreachable("nas", str(exc)) if isinstance(exc, OSError) else None


@pytest.mark.parametrize("raw", [NoRead(b"abcdefghij"), OnlyRead(b"abcdefghij")])
def test_readinto_fills_the_buffer(raw: object) -> None:
    f = GuardedFile(raw, _translate, owns_raw=True)  # type: ignore[arg-type]
    buf = bytearray(4)
    got = []
    while n := f.readinto(buf):
        got.append(bytes(buf[:n]))
    assert b"".join(got) == b"abcdefghij"


def test_a_failing_readinto_is_the_backends_error() -> None:
    f = GuardedFile(Failing(b"x"), _translate, owns_raw=True)
    with pytest.raises(Unreachable):
        f.readinto(bytearray(4))
