"""The two comment lines that bind a manifest file to what arkeep wrote.

Every manifest arkeep writes starts with `# arkeep-revision: N` and ends with
`# arkeep-blake3: <64 hex>`, the BLAKE3 of every byte before that last line (so
`sed '$d' FILE | b3sum` checks it by hand). Both are TOML comments: any TOML reader, and
arkeep before this change, reads the file as before.

- The digest line turns bit rot or an edit made outside arkeep into a named problem instead of
  a manifest that replicates over its good copies.
- The revision counts the writes of one manifest (1 on creation, +1 on every change, kept when
  a copy is taken back from a replica). A replica offering a lower revision than the store's
  holds an older version of it: a rollback or a copy not yet synced, never one to adopt.

A manifest written before these lines existed has neither; it reads as revision 0 with nothing
to check, and its sealed form stays byte for byte what it was.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import blake3

from .errors import ManifestInvalid, Problem

REVISION_PREFIX = b"# arkeep-revision: "
DIGEST_PREFIX = b"# arkeep-blake3: "
_REVISION = re.compile(rb"\A# arkeep-revision: ([0-9]{1,12})\n")
_DIGEST = re.compile(rb"# arkeep-blake3: ([0-9a-f]{64})\n\Z")
ALTERED = ("changed since arkeep wrote it (its BLAKE3 line does not match): bit rot or an edit "
           "outside arkeep; `arkeep repair` takes the newest good copy from a replica")


class ManifestAltered(ManifestInvalid):
    """A stamped manifest whose bytes no longer match their digest line."""


@dataclass(frozen=True)
class StampInfo:
    revision: int        # 0: an unstamped (older) manifest
    stamped: bool


def stamp(text: str, revision: int) -> str:
    """`text` (TOML) with the revision line before it and the digest line after it."""
    body = f"# arkeep-revision: {revision}\n{text}"
    if not body.endswith("\n"):
        body += "\n"
    raw = body.encode("utf-8")
    return body + f"# arkeep-blake3: {blake3.blake3(raw).hexdigest()}\n"


def check_stamp(data: bytes, source: str) -> StampInfo:
    """The revision of `data`; raises ManifestAltered if its digest line does not match.

    A file with only one of the two lines is altered too: arkeep always writes both."""
    rev = _REVISION.match(data)
    digest_at = data.rfind(b"\n" + DIGEST_PREFIX)
    if rev is None and digest_at < 0 and not data.startswith(DIGEST_PREFIX):
        return StampInfo(0, False)
    tail = _DIGEST.match(data, digest_at + 1) if digest_at >= 0 else None
    if rev is None or tail is None or \
            blake3.blake3(data[:digest_at + 1]).hexdigest() != tail.group(1).decode():
        raise ManifestAltered([Problem(source, "", ALTERED)])
    return StampInfo(int(rev.group(1)), True)


def revision_of(data: bytes) -> int:
    """The revision line's number, without checking the digest (0 if there is none)."""
    rev = _REVISION.match(data)
    return int(rev.group(1)) if rev else 0
