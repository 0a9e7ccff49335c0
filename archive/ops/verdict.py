"""Is a release restorable? The one answer `check`, `status --ready` and `status` all give.

A release is *not restorable* when something it cannot be reinstalled without is gone: it has
no installer (a licence imported from a password manager, no file yet), or an installer has no
copy anywhere (not in the local store, not present on any configured remote). `check` adds the
blockers it alone can see (a licence record that cannot be read, a key that does not decrypt);
every other shortfall makes a release *at risk*, never not restorable.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

RESTORABLE, AT_RISK, NOT_RESTORABLE = "restorable", "at risk", "not restorable"

NO_INSTALLER = ("no installer is archived for this release "
                "(`arkeep add FILE --product … --version …` adds one)")


def verdict(blockers: int, risks: int) -> str:
    return NOT_RESTORABLE if blockers else AT_RISK if risks else RESTORABLE


def installer_blockers(installers: Iterable[tuple[str, str]], local: Callable[[str], bool],
                       on_a_remote: Callable[[str], bool]) -> list[str]:
    """Why the installers (file name, blake3) cannot be had back, if they cannot: none at all,
    or one neither in the local store nor present on a remote."""
    found = list(installers)
    if not found:
        return [NO_INSTALLER]
    return [f"{name} is missing from the local store and no remote holds a copy"
            for name, digest in found if not local(digest) and not on_a_remote(digest)]
