"""A small writer of Compound File Binary files ([MS-CFB] version 3, 512-byte sectors), enough to
build Outlook .msg files for tests where no .msg writer is installed.

A tree is a dict: a bytes value is a stream, a dict value a storage. Streams under 4096 bytes
live in the mini stream (64-byte mini sectors, chained by the mini FAT) held by the root entry;
larger ones get sectors of their own. Siblings form a balanced binary tree in the order the
format defines (shorter names first, then by upper-case name), coloured as a valid red-black
tree. Only the 109 FAT sector slots of the header are used (no DIFAT sectors), so files stop at
about 7 MB, far beyond what the tests need.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Union

Tree = dict[str, Union[bytes, "Tree"]]

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SECTOR, MINI_SECTOR, MINI_CUTOFF, ENTRY = 512, 64, 4096, 128
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
STORAGE, STREAM, ROOT = 1, 2, 5
RED, BLACK = 0, 1
HEADER_FAT_SLOTS = 109


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: list[int] = field(default_factory=list)
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def build(tree: Tree) -> bytes:
    """The bytes of a compound file holding `tree` under its root storage."""
    entries = [_Entry("Root Entry", ROOT)]
    _add_children(entries, 0, tree)
    for entry in entries:
        if entry.kind in (STORAGE, ROOT):
            entry.child = _sibling_tree(entries, entry.children)
    mini_stream, mini_fat = _place_small_streams(entries)
    big = [e for e in entries if e.kind == STREAM and e.size >= MINI_CUTOFF]
    dir_bytes_len = _round(len(entries) * ENTRY, SECTOR)
    # Sector layout: FAT, directory, mini FAT, mini stream, then each large stream.
    runs = [dir_bytes_len // SECTOR, _sectors(len(mini_fat) * 4), _sectors(len(mini_stream))]
    runs += [_sectors(e.size) for e in big]
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_fat + sum(runs):
        n_fat += 1
    if n_fat > HEADER_FAT_SLOTS:
        raise ValueError("too large for a compound file without DIFAT sectors")
    fat = [FATSECT] * n_fat
    starts = []
    for length in runs:
        starts.append(_chain(fat, length))
    dir_start, mini_fat_start, mini_stream_start = starts[:3]
    for entry, start in zip(big, starts[3:]):
        entry.start = start
    root = entries[0]
    root.start, root.size = (mini_stream_start, len(mini_stream)) if mini_stream else (ENDOFCHAIN, 0)
    fat += [FREESECT] * (n_fat * (SECTOR // 4) - len(fat))

    body = [struct.pack(f"<{len(fat)}I", *fat)]
    unused = _Entry("", 0, start=0)                 # free slots: no name, no siblings
    slots = entries + [unused] * (dir_bytes_len // ENTRY - len(entries))
    body.append(b"".join(_entry_bytes(e) for e in slots))
    if mini_fat:
        body.append(_pad(struct.pack(f"<{len(mini_fat)}I", *mini_fat), SECTOR, b"\xff"))
    body.append(_pad(mini_stream, SECTOR, b"\0"))
    body.extend(_pad(e.data, SECTOR, b"\0") for e in big)
    header = _header(n_fat, dir_start, mini_fat_start if mini_fat else ENDOFCHAIN,
                     _sectors(len(mini_fat) * 4))
    return header + b"".join(body)


def _add_children(entries: list[_Entry], parent: int, tree: Tree) -> None:
    for name, value in tree.items():
        if len(name) > 31:
            raise ValueError(f"{name!r}: a compound file name has at most 31 characters")
        entries.append(_Entry(name, STREAM, value, size=len(value)) if isinstance(value, bytes)
                       else _Entry(name, STORAGE))
        entries[parent].children.append(len(entries) - 1)
        if isinstance(value, dict):
            _add_children(entries, len(entries) - 1, value)


def _sibling_tree(entries: list[_Entry], ids: list[int]) -> int:
    """Build a balanced tree of `ids` in the format's name order; the root's id (or NOSTREAM).
    Nodes on the deepest level are red, the rest black: every path then has as many black nodes,
    and no red node has a child, so the tree is a valid red-black tree."""
    ordered = sorted(ids, key=lambda i: (len(entries[i].name), entries[i].name.upper()))
    depths: dict[int, int] = {}

    def place(lo: int, hi: int, depth: int) -> int:
        if lo >= hi:
            return NOSTREAM
        mid = (lo + hi) // 2
        node = ordered[mid]
        depths[node] = depth
        entries[node].left = place(lo, mid, depth + 1)
        entries[node].right = place(mid + 1, hi, depth + 1)
        return node

    top = place(0, len(ordered), 0)
    deepest = max(depths.values(), default=0)
    for node, depth in depths.items():
        entries[node].color = RED if depth == deepest and depth > 0 else BLACK
    return top


def _place_small_streams(entries: list[_Entry]) -> tuple[bytes, list[int]]:
    """Put every stream under the cutoff in the mini stream; (mini stream, mini FAT)."""
    mini_stream = bytearray()
    mini_fat: list[int] = []
    for entry in entries:
        if entry.kind != STREAM or entry.size >= MINI_CUTOFF or entry.size == 0:
            continue
        entry.start = _chain(mini_fat, -(-entry.size // MINI_SECTOR))
        mini_stream += _pad(entry.data, MINI_SECTOR, b"\0")
    mini_fat += [FREESECT] * (_round(len(mini_fat), SECTOR // 4) - len(mini_fat))
    return bytes(mini_stream), mini_fat


def _chain(table: list[int], length: int) -> int:
    """Append a chain of `length` consecutive sectors to a FAT or mini FAT; its first sector."""
    if length == 0:
        return ENDOFCHAIN
    first = len(table)
    table.extend(range(first + 1, first + length))
    table.append(ENDOFCHAIN)
    return first


def _entry_bytes(e: _Entry) -> bytes:
    name = (e.name.encode("utf-16-le") + b"\0\0").ljust(64, b"\0") if e.name else b"\0" * 64
    return struct.pack("<64sHBBIII16sIQQIQ", name, len(e.name) * 2 + 2 if e.name else 0, e.kind,
                       e.color,
                       e.left, e.right, e.child, b"\0" * 16, 0, 0, 0, e.start, e.size)


def _header(n_fat: int, dir_start: int, mini_fat_start: int, n_mini_fat: int) -> bytes:
    slots = list(range(n_fat)) + [FREESECT] * (HEADER_FAT_SLOTS - n_fat)
    head = struct.pack("<8s16sHHHHH6sIIIIIIIII", MAGIC, b"\0" * 16, 0x003E, 0x0003, 0xFFFE, 9, 6,
                       b"\0" * 6, 0, n_fat, dir_start, 0, MINI_CUTOFF, mini_fat_start, n_mini_fat,
                       ENDOFCHAIN, 0)
    return head + struct.pack(f"<{HEADER_FAT_SLOTS}I", *slots)


def _sectors(n_bytes: int) -> int:
    return -(-n_bytes // SECTOR)


def _round(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def _pad(data: bytes, unit: int, fill: bytes) -> bytes:
    return data + fill * (_round(len(data), unit) - len(data))
