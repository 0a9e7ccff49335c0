"""What `arkeep add URL` was asked to fetch and check, apart from the download itself
(archive.intake.fetch), so that an `add` of local files does not load HTTP and TLS (~20 ms)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_SIZE = 64 * 1024 ** 3


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@dataclass(frozen=True)
class FetchOptions:
    ca_files: tuple[Path, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    max_size: int = DEFAULT_MAX_SIZE
    sha256: str | None = None
    sha512: str | None = None
    checksums: str | None = None      # a file or URL in sha256sum/sha512sum form
    checksums_signature: str | None = None   # its detached OpenPGP signature (file or URL)
    openpgp_keys: tuple[Path, ...] = ()      # keys trusted to sign the checksums file
