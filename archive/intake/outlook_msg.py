"""Outlook .msg files: the subject, sender, first recipient, send time and body of a message, so
a receipt saved from Outlook is read like an .eml.

A .msg is an OLE compound file ([MS-CFB]) read with olefile. Each property of the message
([MS-OXMSG]) is either a stream `__substg1.0_IIIITTTT` (property id and type in hex) holding a
string or binary value, or a 16-byte entry of the `__properties_version1.0` stream (times and
numbers). Everything read is bounded by the size of the file, and no error message carries any
of the message's text.
"""
from __future__ import annotations

import codecs
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.errors import MissingModule
from archive.intake.receipt_text import MAX_TEXT, MessageParts, TextUnreadable, read_capped

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PROPERTIES = "__properties_version1.0"
RECIPIENT_PREFIX = "__recip_version1.0_#"
PT_LONG, PT_SYSTIME, PT_STRING8, PT_UNICODE, PT_BINARY = 0x0003, 0x0040, 0x001E, 0x001F, 0x0102
SUBJECT, BODY, HTML = 0x0037, 0x1000, 0x1013
SENDER_NAMES = (0x0C1A, 0x0042)                         # sender, sent-representing
SENDER_ADDRESSES = (0x5D01, 0x0C1F, 0x5D02, 0x0065)     # SMTP ones first: 0C1F may be X.500
RECIPIENT_ADDRESSES = (0x39FE, 0x3003)
RECIPIENT_TYPE, MAPI_TO = 0x0C15, 1
SENT_TIMES = ((0x0039, "the message's submit time"), (0x0E06, "the message's delivery time"))
CODEPAGES = (0x3FFD, 0x3FDE)                            # message code page, internet code page
TOP_HEADER, RECIPIENT_HEADER, ENTRY = 32, 8, 16
MAX_RECIPIENTS = 64
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
CODEC_NAMES = {65001: "utf-8", 20127: "ascii", 50220: "iso2022_jp",
               51932: "euc_jp", 936: "gbk", 28591: "latin-1"}


class MsgUnreadable(TextUnreadable):
    """A .msg whose text cannot be read."""


def read_msg(path: Path) -> MessageParts:
    """The parts of one Outlook message; raises MsgUnreadable if it is damaged, too large or
    olefile is missing, UsageError if the file cannot be read at all."""
    olefile = _olefile(path)
    data = read_capped(path, MsgUnreadable)
    if not data.startswith(OLE_MAGIC):
        raise MsgUnreadable(path, "not an Outlook message (no OLE compound file signature)")
    try:
        # By default olefile reads past a missing sector or directory entry and leaves part of
        # the message out; a receipt read in part could lose its key line, so that is damage.
        ole = olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT)
    except Exception:  # noqa: BLE001 - olefile raises many types for a damaged file
        raise MsgUnreadable(path, "damaged: not a readable OLE compound file") from None
    try:
        with ole:
            if not _is_message(ole):
                raise MsgUnreadable(path, "an OLE compound file that is not an Outlook message")
            return _parts(_Message(ole, len(data)))
    except MsgUnreadable:
        raise
    except Exception:  # noqa: BLE001 - a bad sector chain shows only when a stream is read
        raise MsgUnreadable(path, "damaged: a part of the message cannot be read") from None


def _olefile(path: Path) -> Any:
    try:
        import olefile
    except ImportError as exc:
        missing = MissingModule.from_import_error(exc, "reading an Outlook .msg file")
        raise MsgUnreadable(path, str(missing)) from None
    return olefile


def _is_message(ole: Any) -> bool:
    return any(entry[0] == PROPERTIES or entry[0].startswith("__substg1.0_")
               for entry in ole.listdir(streams=True, storages=False) if len(entry) == 1)


class _Message:
    """The property streams of a message or of one of its recipients (`prefix`)."""

    def __init__(self, ole: Any, file_size: int, prefix: str = "", header: int = TOP_HEADER) -> None:
        self.ole, self.file_size, self.prefix = ole, file_size, prefix
        self.fixed = self._fixed_properties(header)
        self.codec = _codec(*(self.long(p) for p in CODEPAGES))

    def stream(self, name: str, limit: int) -> bytes | None:
        """At most `limit` bytes of a stream; a stream claiming more than the whole file is damage."""
        name = self.prefix + name
        if not self.ole.exists(name) or self.ole.get_type(name) != 2:  # 2: a stream
            return None
        if self.ole.get_size(name) > self.file_size:
            raise ValueError("a stream larger than its file")
        with self.ole.openstream(name) as f:
            return bytes(f.read(limit))

    def text(self, prop: int, chars: int = 2000) -> str | None:
        raw = self.stream(f"__substg1.0_{prop:04X}{PT_UNICODE:04X}", chars * 2)
        if raw is not None:
            text = raw[:len(raw) // 2 * 2].decode("utf-16-le", "replace")
        else:
            raw = self.stream(f"__substg1.0_{prop:04X}{PT_STRING8:04X}", chars * 4)
            if raw is None:
                return None
            text = raw.decode(self.codec, "replace")
        text = text.split("\x00", 1)[0][:chars]
        return text if text.strip() else None

    def binary(self, prop: int, limit: int) -> bytes | None:
        return self.stream(f"__substg1.0_{prop:04X}{PT_BINARY:04X}", limit)

    def long(self, prop: int) -> int | None:
        found = self.fixed.get((prop, PT_LONG))
        return struct.unpack_from("<I", found)[0] if found else None

    def time(self, prop: int) -> datetime | None:
        found = self.fixed.get((prop, PT_SYSTIME))
        return _filetime(struct.unpack_from("<Q", found)[0]) if found else None

    def _fixed_properties(self, header: int) -> dict[tuple[int, int], bytes]:
        """(id, type) -> the 8-byte value of each entry of the properties stream."""
        raw = self.stream(PROPERTIES, self.file_size) or b""
        found: dict[tuple[int, int], bytes] = {}
        for at in range(header, len(raw) - ENTRY + 1, ENTRY):
            tag = struct.unpack_from("<I", raw, at)[0]
            found.setdefault((tag >> 16, tag & 0xFFFF), raw[at + 8:at + 16])
        return found


def _parts(msg: _Message) -> MessageParts:
    body = msg.text(BODY, MAX_TEXT) or ""
    html = "" if body.strip() else _html(msg)
    sent, sent_source = next(((t, how) for prop, how in SENT_TIMES
                              if (t := msg.time(prop)) is not None), (None, ""))
    sender = _address_line(next((n for p in SENDER_NAMES if (n := msg.text(p))), None),
                           next((a for p in SENDER_ADDRESSES if (a := msg.text(p)) and "@" in a), None))
    return MessageParts(subject=_one_line(msg.text(SUBJECT)), sender=sender,
                        recipient=_recipient(msg), sent=sent, body=body, html=html,
                        sender_source="the message's sender",
                        recipient_source="the message's first To recipient",
                        sent_source=sent_source or "the message's submit time")


def _html(msg: _Message) -> str:
    raw = msg.binary(HTML, MAX_TEXT * 4)
    if raw is not None:
        codec = _codec(msg.long(0x3FDE), msg.long(0x3FFD))
        return raw.decode(codec, "replace").split("\x00", 1)[0]
    return msg.text(HTML, MAX_TEXT * 4) or ""


def _recipient(msg: _Message) -> str | None:
    """The first To recipient's address (else the first recipient's) of at most MAX_RECIPIENTS."""
    names = sorted({entry[0] for entry in msg.ole.listdir(streams=False, storages=True)
                    if entry[0].startswith(RECIPIENT_PREFIX)})[:MAX_RECIPIENTS]
    first = None
    for name in names:
        recip = _Message(msg.ole, msg.file_size, name + "/", RECIPIENT_HEADER)
        address = next((a for p in RECIPIENT_ADDRESSES if (a := recip.text(p)) and "@" in a), None)
        if address and recip.long(RECIPIENT_TYPE) == MAPI_TO:
            return address
        first = first or address
    return first


def _address_line(name: str | None, address: str | None) -> str | None:
    """'"Name" <address>' as a From header has it, quoted so commas in a name survive parsing."""
    name = _one_line(name)
    if not address:
        return name
    if not name or name == address:
        return address.strip()
    return '"{}" <{}>'.format(name.replace("\\", "\\\\").replace('"', '\\"'), address.strip())


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) if text and text.strip() else None


def _filetime(value: int) -> datetime | None:
    """A FILETIME (100 ns ticks since 1601, UTC); 0 and out-of-range values mean no time."""
    if value == 0:
        return None
    try:
        return FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _codec(*codepages: int | None) -> str:
    """The Python codec for the first known Windows code page given; cp1252 when none is."""
    for page in codepages:
        if page is None:
            continue
        name = CODEC_NAMES.get(page, f"cp{page}")
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return "cp1252"
