"""What every receipt reader shares: the parts a receipt is read from, the error for a text that
cannot be read, and the bounded read of the file. Its own module so that the readers
(`receipts` for .eml, `outlook_msg`, `pdf_text`) and the code that uses them import it
without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from archive.errors import UsageError

MAX_EMAIL_BYTES = 32 * 1024 * 1024
MAX_TEXT = 1024 * 1024


@dataclass(frozen=True)
class MessageParts:
    """What a receipt is read from, whichever file it came from; the `*_source` strings say
    where in that file each part was found."""

    subject: str | None = None
    sender: str | None = None          # 'Name <address>', as in a From header
    recipient: str | None = None       # one or more addresses, as in a To header
    sent: datetime | None = None
    body: str = field(default="", repr=False)   # plain text; empty when there is only HTML
    html: str = field(default="", repr=False)
    sender_source: str = "the message's From header"
    recipient_source: str = "the message's To header"
    sent_source: str = "the message's Date header"


class TextUnreadable(UsageError):
    """A message or document whose text cannot be read; `why` says why in a few words, never
    with its content."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.why = why


def read_capped(path: Path, unreadable: type[TextUnreadable]) -> bytes:
    """The bytes of a receipt-like file, refused (as `unreadable`) over MAX_EMAIL_BYTES; read
    with a bound, so a file that grows meanwhile is refused too."""
    limit = MAX_EMAIL_BYTES
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limit:
        shown = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
        raise unreadable(path, f"larger than {shown}; not read")
    return data
