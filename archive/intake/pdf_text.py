"""The text of a PDF (a licence certificate, an invoice), read with pypdf, so scan can read a
receipt that came as a PDF like one that came as an email.

Bounded like the emails: a file over `receipt_text.MAX_EMAIL_BYTES` is not opened, at most the first
`MAX_PAGES` pages are read (no page is started after `MAX_SECONDS`), and the text stops at
`receipt_text.MAX_TEXT` characters. An encrypted PDF is opened only when its user password is empty
(every viewer opens it without asking: vendors use that to forbid printing or copying, not to
hide the text); no other password is tried. No error message carries any of the PDF's text, and
pypdf's warnings about damaged files are kept out of arkeep's output.
"""
from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.errors import MissingModule
from archive.intake import receipt_text

MAX_PAGES = 20
# pypdf is pure Python: a hostile page can take long to lay out. No page is started after this
# many seconds; what was read by then is the text (scan must not stall on one file).
MAX_SECONDS = 10.0


class PdfUnreadable(receipt_text.TextUnreadable):
    """A PDF whose text cannot be read."""


def pdf_text(path: Path) -> str:
    """The text of the first pages of one PDF, a line per line of text; raises PdfUnreadable if
    it is too large, encrypted or damaged, or pypdf is missing, UsageError if the file cannot be
    read at all."""
    pypdf = _pypdf(path)
    data = receipt_text.read_capped(path, PdfUnreadable)
    parts: list[str] = []
    size = 0
    deadline = time.monotonic() + MAX_SECONDS
    with _quiet():
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise PdfUnreadable(path, "an encrypted PDF with a password; arkeep tries none")
            for number, page in enumerate(reader.pages):
                if number >= MAX_PAGES or size >= receipt_text.MAX_TEXT or \
                        (number and time.monotonic() > deadline):
                    break
                text = page.extract_text() or ""
                parts.append(text)
                size += len(text) + 1
        except PdfUnreadable:
            raise
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types for a damaged file
            why = f"damaged: pypdf cannot read it: {type(exc).__name__}"
            raise PdfUnreadable(path, why) from None
    return "\n".join(parts)[:receipt_text.MAX_TEXT]


def _pypdf(path: Path) -> Any:
    try:
        import pypdf
    except ImportError as exc:
        missing = MissingModule.from_import_error(exc, "reading the text of a PDF")
        raise PdfUnreadable(path, str(missing)) from None
    return pypdf


@contextmanager
def _quiet() -> Iterator[None]:
    """pypdf logs and warns about every repair it makes; scan reports the outcome instead."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
