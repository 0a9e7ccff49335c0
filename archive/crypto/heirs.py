"""Recovery shares of an archive: its recovery code split so that any K of N holders recover it.

The recovery code *as printed* (39 characters, the bundles' zip password) is split with
archive/crypto/shamir.py exactly as `ssss-split -t K -n N -w TOKEN` would split it, so
`ssss-combine -t K` (Debian package `ssss`) prints the code again without arkeep. The token,
`arkeep.<key id>.<K>of<N>`, names the archive and the set on every share: `key join` uses it to
say how many shares are needed and to check that what it recovered is this archive's code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from archive.crypto import keys, shamir
from archive.crypto.keyring import Keyring
from archive.errors import UsageError

_TOKEN = re.compile(r"arkeep\.([0-9a-f]{16})\.(\d{1,3})of(\d{1,3})")


@dataclass(frozen=True)
class ShareSet:
    """Who the shares belong to: the archive's key id, the threshold and the number made."""

    key_id: str
    threshold: int
    count: int

    @property
    def token(self) -> str:
        return f"arkeep.{self.key_id}.{self.threshold}of{self.count}"


def split_keyring(keyring: Keyring, threshold: int, count: int) -> tuple[ShareSet, list[str]]:
    """The N share lines of the keyring's recovery code, any `threshold` of which recover it."""
    if not (2 <= threshold <= count <= 99):
        raise UsageError("--threshold K and --shares N with 2 <= K <= N <= 99 (one share alone "
                         "would simply be the recovery code: print a recovery kit instead)")
    shares = ShareSet(keyring.key_id, threshold, count)
    made = shamir.split(keyring.recovery_code.encode("ascii"), threshold, count, shares.token)
    width = len(str(count))
    return shares, [s.text(width) for s in made]


def set_of(line: str) -> tuple[ShareSet | None, shamir.Share]:
    """The share on a line (spaces inside it, as on a printed sheet, ignored) and the set its
    token names (None for a share without arkeep's token, e.g. one typed without it)."""
    share = shamir.parse_share(re.sub(r"\s", "", line))
    found = _TOKEN.fullmatch(share.token)
    if found is None:
        if share.token:
            raise UsageError("that share is not from an arkeep recovery sheet (its name does not "
                             "start with arkeep.)")
        return None, share
    return ShareSet(found.group(1), int(found.group(2)), int(found.group(3))), share


def join_shares(lines: list[str], threshold: int | None = None,
                key_id: str | None = None) -> Keyring:
    """The keyring of the archive whose recovery code these shares recover.

    `threshold` is taken from the shares' token unless given; `key_id` (the store's, when there
    is one) must match. Too few shares, shares of two sets or a mistyped one recover another
    value, which is refused: the result must be a recovery code whose key id is the set's.
    """
    parsed = [set_of(line) for line in lines if line.strip()]
    sets = {s for s, _ in parsed if s is not None}
    if len(sets) > 1:
        raise UsageError("these shares come from different sets (different archives, or two "
                         "splits of one): use shares of one set only")
    named = next(iter(sets), None)
    if threshold is None:
        if named is None:
            raise UsageError("these shares do not say how many are needed: give --threshold K")
        threshold = named.threshold
    if len(parsed) < threshold:
        raise UsageError(f"{len(parsed)} share(s) given; this set needs {threshold}. Fewer "
                         "shares reveal nothing about the recovery code")
    expected = key_id or (named.key_id if named else None)
    if named is not None and key_id is not None and named.key_id != key_id:
        raise UsageError(f"these shares belong to the archive with key id {named.key_id}, not "
                         f"to this store ({key_id})")
    raw = shamir.combine([share for _, share in parsed], threshold)
    try:
        keyring = Keyring(keys.parse_recovery_code(raw.decode("ascii")))
    except (UnicodeDecodeError, UsageError, ValueError):
        keyring = None
    if keyring is None or (expected is not None and keyring.key_id != expected):
        raise UsageError("these shares do not recover the recovery code: one is mistyped, or "
                         "they are not of one set. Check each line against its sheet")
    return keyring
