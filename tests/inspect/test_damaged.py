"""Damaged installers, made by flipping, cutting and overwriting bytes of the real fixtures:
inspect always answers with an Inspection (a problem said in words), never an exception."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from archive.intake.inspect import Inspection, inspect_file

HOSTILE_WORDS = (b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\x00\x00\x01\x00")


def mutations(data: bytes, seed: int, count: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    for i in range(count):
        b = bytearray(data)
        mode = i % 4
        if mode == 0:
            for _ in range(rng.randint(1, 20)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif mode == 1:
            b = b[:rng.randrange(len(b))]
        elif mode == 2:
            p = rng.randrange(min(len(b), 70_000))
            b[p:p + 8] = rng.randbytes(8)
        else:
            for _ in range(rng.randint(1, 6)):
                p = rng.randrange(min(len(b), 40_000))
                b[p:p + 4] = rng.choice(HOSTILE_WORDS)
        yield bytes(b)


@pytest.mark.parametrize("fixture", ["msi_file", "nsis_exe", "deb_file", "iso_file"])
def test_mutated_installers_never_raise(fixture: str, request: pytest.FixtureRequest,
                                        tmp_path: Path) -> None:
    original: Path = request.getfixturevalue(fixture)
    target = tmp_path / original.name
    damaged = 0
    for data in mutations(original.read_bytes(), seed=20261125, count=60):
        target.write_bytes(data)
        found = inspect_file(target)
        assert isinstance(found, Inspection)
        damaged += found.damaged
        for text in found.problems:
            assert "\n" not in text and len(text) < 400
    assert damaged > 10           # cutting a file is always noticed
