"""Reads and listings from an S3 endpoint that may misbehave, each with a bound.

s3fs trusts the server: a GET's body is read whole whatever its length (a server that ignores
Range sent 1.5 GB for a 300-byte key file), a listing follows `IsTruncated` for as long as the
server says so (an endless listing grew a process by 360 MB in 80 s), and a body sent one byte
every few seconds never trips a per-read timeout. The limits here:

- size: a ranged GET is accepted only if the answer is that range (`Content-Range` starting
  at the offset asked for) or, from offset 0, the whole object at the size HEAD reported;
  anything else is `BadAnswer`, and at most the bytes asked for are read in any case;
- pages: a listing ends with `BadAnswer` when a continuation token comes back a second time,
  when a page starts with a key an earlier page started with (a listing that repeats itself
  under fresh tokens), or after `MAX_LIST_PAGES` pages (ten million keys at 1,000 a page).
  Key order is not checked: S3 promises UTF-8 order, but SeaweedFS lists in the order of its
  directory tree (`p/a/b` before `p/a-c`);
- time: a transfer must move `min_rate` bytes a second averaged over every `rate_window`
  seconds, else it ends with `Unreachable` (a dead trickle, not a slow link).

Answers whose XML does not parse are reported as `BadAnswer` too (botocore retries them as a
"500" that reads like a server that is down).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from xml.etree import ElementTree

from .base import CHUNK, UnitInfo, is_reserved
from .errors import BadAnswer, Unreachable
from .fsspec_backend import _mtime

MAX_LIST_PAGES = 10_000
PAGE_KEYS = 1_000

Sink = Callable[[int, bytes], None]


def refuse_unreadable(response_dict: Any = None, **_: Any) -> None:
    """A `before-parse` hook: an S3 answer with a body that is not XML raises botocore's
    `ResponseParserError` (translated to `BadAnswer`) instead of passing as a retried 500."""
    if not isinstance(response_dict, dict) or response_dict.get("status_code") not in (200, 500):
        return
    body = response_dict.get("body")
    if not isinstance(body, (bytes, bytearray)) or not body.strip():
        return
    try:
        ElementTree.fromstring(body)
    except ElementTree.ParseError:
        from botocore.parsers import ResponseParserError

        raise ResponseParserError("the answer is not XML") from None


def arm(client: Any) -> Any:
    """Register `refuse_unreadable` on a botocore or aiobotocore S3 client; return it."""
    client.meta.events.register("before-parse.s3", refuse_unreadable,
                                unique_id="arkeep-refuse-unreadable")
    return client


async def s3_call(fs: Any, operation: str, **request: Any) -> Any:
    """One S3 operation through the aiobotocore client behind the s3fs filesystem `fs`.

    The client comes from `S3FileSystem.set_session`, the public way to it (it makes the client
    on first use and a new one when its connections were closed); the operation is the client's
    own method, named as in boto3. Nothing of s3fs's private call path is used, so a new s3fs
    release cannot change what these calls send or raise. Errors are botocore's, translated by
    the caller (`errors.translate` reads their S3 error code)."""
    client = arm(await fs.set_session())
    return await getattr(client, operation)(**request)


def run(fs: Any, operation: str, **request: Any) -> Any:
    """`s3_call` from a thread outside the event loop, waiting for its answer."""
    from fsspec.asyn import sync

    return sync(fs.loop, s3_call, fs, operation, **request)


def list_pages(call: Callable[..., dict[str, Any]], remote: str, bucket: str, prefix: str,
               root_prefix: str, max_pages: int | None = None) -> Iterator[UnitInfo]:
    """Every object under `prefix` (a full S3 key prefix), as `UnitInfo` keyed relative to
    `root_prefix`, one ListObjectsV2 page at a time; `call(**request)` sends one request."""
    max_pages = max_pages or MAX_LIST_PAGES
    tokens: set[str] = set()
    firsts: set[str] = set()
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_KEYS}
    for _ in range(max_pages):
        page = call(**request)
        contents = page.get("Contents", [])
        if contents:
            first = str(contents[0]["Key"])
            if first in firsts:
                raise BadAnswer(remote, "its listing repeats itself (a page came back)")
            firsts.add(first)
        for entry in contents:
            name = str(entry["Key"])
            key = name[len(root_prefix):]
            if not key or key.endswith("/") or is_reserved(key):
                continue
            yield UnitInfo(key, int(entry["Size"]), _mtime(entry))
        if not page.get("IsTruncated"):
            return
        token = page.get("NextContinuationToken")
        if not token or token in tokens:
            raise BadAnswer(remote, "its listing repeats itself (a continuation token came back)")
        tokens.add(token)
        request["ContinuationToken"] = token
    raise BadAnswer(remote, f"its listing did not end after {max_pages:,} pages")


class RangeFetcher:
    """Ranged GETs of one object, each checked, capped and held to a minimum rate."""

    def __init__(self, fs: Any, remote: str, bucket: str, key: str, object_key: str,
                 size: int, min_rate: float, rate_window: float) -> None:
        self.fs = fs
        self.remote = remote
        self.target = {"Bucket": bucket, "Key": object_key}
        self.key = key
        self.size = size
        self.min_rate = min_rate
        self.rate_window = rate_window

    def fetch_into(self, start: int, view: memoryview) -> None:
        """Fill `view` with the object's bytes from `start`, from the calling thread."""
        from fsspec.asyn import sync

        def sink(offset: int, data: bytes) -> None:
            view[offset - start: offset - start + len(data)] = data

        sync(self.fs.loop, self.get, start, len(view), sink)

    async def get(self, start: int, length: int, sink: Sink) -> None:
        """Send bytes [start, start + length) to `sink(offset, data)` as they arrive."""
        answer = await s3_call(self.fs, "get_object", **self.target,
                               Range=f"bytes={start}-{start + length - 1}")
        body = answer["Body"]
        try:
            self._check(answer, start, length)
            await self._drain(body, start, length, sink)
        finally:
            body.close()

    def _check(self, answer: dict[str, Any], start: int, length: int) -> None:
        ranged = str(answer.get("ContentRange") or "")
        sent = answer.get("ContentLength")
        if ranged.startswith(f"bytes {start}-"):
            return
        if not ranged and start == 0 and sent == self.size:
            return
        raise BadAnswer(self.remote, f"answered a request for {length:,} bytes from offset "
                        f"{start:,} with {sent if sent is not None else 'unknown'} bytes "
                        f"{'(' + ranged + ')' if ranged else '(the byte range was ignored)'}",
                        key=self.key)

    async def _drain(self, body: Any, start: int, length: int, sink: Sink) -> None:
        loop = asyncio.get_running_loop()
        got = 0
        window_start, window_bytes = loop.time(), 0
        while got < length:
            left = window_start + self.rate_window - loop.time()
            try:
                chunk = await asyncio.wait_for(body.read(min(CHUNK, length - got)),
                                               max(left, 0.001))
            except TimeoutError:
                chunk = None
            if loop.time() >= window_start + self.rate_window:
                if window_bytes < self.min_rate * self.rate_window:
                    raise self._too_slow(window_bytes)
                window_start, window_bytes = loop.time(), 0
            if chunk is None:
                continue
            if not chunk:
                raise Unreachable(self.remote, f"the answer ended after {got:,} of {length:,} "
                                  "bytes", key=self.key)
            sink(start + got, chunk)
            got += len(chunk)
            window_bytes += len(chunk)

    def _too_slow(self, moved: int) -> Unreachable:
        return Unreachable(
            self.remote, f"sent {moved:,} bytes in {self.rate_window:g} s, below the floor of "
            f"{self.min_rate:,.0f} bytes/s", key=self.key,
            hint="check the network and the endpoint, then retry (the floor is the remote's "
                 "min_rate option)")

    async def download(self, target: BinaryIO, part: int, concurrency: int) -> None:
        """The whole object into the seekable file `target`, `part` bytes per request, at
        most `concurrency` requests at once; the first failure cancels the rest. Every write
        happens on the event loop's one thread, so seek-then-write needs no lock (and no
        `os.pwrite`, which Windows lacks)."""
        gate = asyncio.Semaphore(max(1, concurrency))

        def sink(offset: int, data: bytes) -> None:
            target.seek(offset)
            target.write(data)

        async def one(start: int) -> None:
            async with gate:
                await self.get(start, min(part, self.size - start), sink)

        tasks = [asyncio.ensure_future(one(start)) for start in range(0, self.size, part)]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


class SeekableReader(io.RawIOBase):
    """A read-only, seekable file of `size` bytes: position keeping for subclasses, which read."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos


class RangeReader(SeekableReader):
    """A seekable read-only file over `RangeFetcher`; wrap it in `io.BufferedReader`."""

    def __init__(self, fetcher: RangeFetcher) -> None:
        super().__init__(fetcher.size)
        self._fetcher = fetcher

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._fetcher.size - self._pos)
        if wanted <= 0:
            return 0
        self._fetcher.fetch_into(self._pos, memoryview(buffer).cast("B")[:wanted])
        self._pos += wanted
        return wanted
