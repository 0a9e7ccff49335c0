"""Small real HTTP servers on loopback that speak just enough S3 to misbehave.

SeaweedFS answers correctly; these do not, on purpose. Each runs `http.server` in a thread of
the test process and stops when its `with` block ends:

- `forwarding(upstream, ...)`: a proxy in front of a real S3 server that passes every request
  through unchanged (signatures stay valid: the Host header is the one the client signed) and
  can lie about one thing, e.g. the size a HEAD reports (a store with stale reads);
- `fake_s3(...)`: a server with no storage at all that answers HEAD bucket, ListObjectsV2, HEAD
  and GET of objects in one of several wrong ways (an endless listing, malformed XML, a body
  longer than the Range asked for, a body dribbled out a byte at a time).

They do not check signatures: the client under test signs as usual and nobody looks.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass

    def body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


# -- a forwarding proxy ------------------------------------------------------------------------


@dataclass
class Lies:
    """What the proxy changes on the way back. `head_size(key, real)`: the size a HEAD of the
    object `key` (without the bucket) reports, or None for the truth. `fail(command, key,
    query)`: a status to answer the request with (an S3 error, after reading its body) instead
    of passing it on, or None to pass it on."""

    head_size: Callable[[str, int], int | None] = lambda key, real: None
    fail: Callable[[str, str, str], int | None] = lambda command, key, query: None
    seen: list[str] = field(default_factory=list)


@contextmanager
def forwarding(upstream: str, lies: Lies) -> Iterator[str]:
    """A proxy to the S3 server at `upstream` (http://host:port) that tells `lies`."""
    target = urlsplit(upstream)

    class Forward(_Quiet):
        def _relay(self) -> None:
            data = self.body()
            asked = urlsplit(self.path)
            status = lies.fail(self.command, asked.path.lstrip("/").partition("/")[2], asked.query)
            if status is not None:
                lies.seen.append(f"{self.command} {asked.path} failed with {status}")
                error = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code>"
                         b"<Message>failed on purpose</Message></Error>")
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(error)))
                self.end_headers()
                self.wfile.write(error)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if data or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(data))
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                connection.request(self.command, self.path, body=data or None, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                reply = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
                status = answer.status
            finally:
                connection.close()
            path = urlsplit(self.path).path.lstrip("/")
            key = path.partition("/")[2]
            lies.seen.append(f"{self.command} {key}")
            if self.command == "HEAD" and key and status == 200:
                real = int(answer.getheader("Content-Length") or 0)
                told = lies.head_size(key, real)
                if told is not None:
                    reply = [(k, str(told) if k.lower() == "content-length" else v)
                             for k, v in reply]
            self.send_response(status)
            for name, value in reply:
                self.send_header(name, value)
            if self.command != "HEAD" and not any(k.lower() == "content-length" for k, _ in reply):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815

    with _serving(Forward) as url:
        yield url


# -- a fake S3 server that misbehaves ------------------------------------------------------------


@dataclass
class Misbehaviour:
    """How `fake_s3` answers.

    listing: "empty" (one page, no keys), "endless" (IsTruncated always true, the same
        continuation token every time), "endless-fresh" (a new token each time, the same keys),
        "endless-growing" (a new token and 1,000 new keys each time), "malformed" (not XML),
        "endless-uploads" (ListMultipartUploads answers with fresh markers for ever).
    objects: key (without bucket) -> the size HEAD reports.
    body: "exact" (honours Range), "ignores-range" (200 with `huge` bytes whatever was asked),
        "overlong" (206 with the right Content-Range, then `huge` bytes), "dribble" (honours
        Range, then sends one byte every `dribble_every` seconds).
    PUT stores nothing but the size, so a HEAD after it answers; with `stall_puts` it reads the
    body one byte every 0.2 s for that many seconds, then hangs up (an upload that barely moves).
    bytes_sent: body bytes the server managed to hand to the socket, all answers together.
    """

    listing: str = "empty"
    objects: dict[str, int] = field(default_factory=dict)
    body: str = "exact"
    huge: int = 2 << 30
    dribble_every: float = 0.2
    pages_served: int = 0
    bytes_sent: int = 0
    stall_puts: float = 0.0


_LIST_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>1000</MaxKeys>
<IsTruncated>{truncated}</IsTruncated>{token}{contents}
</ListBucketResult>"""

_CONTENT = ("<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
            "<ETag>&quot;0&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass>"
            "</Contents>")


def _page(bucket: str, prefix: str, keys: list[tuple[str, int]], token: str | None) -> bytes:
    contents = "".join(_CONTENT.format(key=k, size=s) for k, s in keys)
    return _LIST_PAGE.format(
        bucket=bucket, prefix=prefix, count=len(keys), truncated="true" if token else "false",
        token=f"<NextContinuationToken>{token}</NextContinuationToken>" if token else "",
        contents=contents).encode()


@contextmanager
def fake_s3(how: Misbehaviour) -> Iterator[str]:
    """A server that answers S3 requests the way `how` says."""

    class Fake(_Quiet):
        def _reply(self, status: int, payload: bytes = b"", length: int | None = None,
                   headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload) if length is None else length))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)

        def _where(self) -> tuple[str, str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            bucket, _, key = parts.path.lstrip("/").partition("/")
            return bucket, key, parse_qs(parts.query, keep_blank_values=True)

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            _, key, _ = self._where()
            if not key:
                self._reply(200)
            elif key in how.objects:
                self._reply(200, length=how.objects[key],
                            headers={"Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT",
                                     "ETag": '"0"'})
            else:
                self._reply(404)

        def do_GET(self) -> None:  # noqa: N802
            bucket, key, query = self._where()
            if not key:
                self._list(bucket, query)
            elif key in how.objects:
                self._object(key)
            else:
                self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>")

        def do_POST(self) -> None:  # noqa: N802 - CreateMultipartUpload: an upload id
            self.body()
            bucket, key, _ = self._where()
            self._reply(200, (f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}"
                              "</Key><UploadId>fake-upload</UploadId>"
                              "</InitiateMultipartUploadResult>").encode())

        def do_DELETE(self) -> None:  # noqa: N802 - AbortMultipartUpload
            self._reply(204)

        def do_PUT(self) -> None:  # noqa: N802
            if how.stall_puts:
                until = time.monotonic() + how.stall_puts
                while time.monotonic() < until and self.rfile.read(1):
                    time.sleep(0.2)
                self.close_connection = True
                return
            _, key, _ = self._where()
            how.objects[key] = len(self.body())
            self._reply(200, headers={"ETag": '"0"'})

        def _list(self, bucket: str, query: dict[str, list[str]]) -> None:
            how.pages_served += 1
            prefix = query.get("prefix", [""])[0]
            if "uploads" in query:
                n = how.pages_served
                self._reply(200, (
                    f"<ListMultipartUploadsResult><Bucket>{bucket}</Bucket>"
                    f"<IsTruncated>{'true' if how.listing == 'endless-uploads' else 'false'}"
                    f"</IsTruncated><NextKeyMarker>k{n}</NextKeyMarker>"
                    f"<NextUploadIdMarker>u{n}</NextUploadIdMarker>"
                    "</ListMultipartUploadsResult>").encode())
                return
            keys = [(f"{prefix}a{n:04d}", 1) for n in range(1000)]
            if how.listing == "malformed":
                self._reply(200, b"<ListBucketResult><Contents><Key>units/ab/" + b"\x00<<" * 8)
            elif how.listing == "endless":
                self._reply(200, _page(bucket, prefix, keys, "same-token"))
            elif how.listing == "endless-fresh":
                self._reply(200, _page(bucket, prefix, keys, f"token-{how.pages_served}"))
            elif how.listing == "endless-growing":
                keys = [(f"{prefix}p{how.pages_served:06d}-{n:04d}", 1) for n in range(1000)]
                self._reply(200, _page(bucket, prefix, keys, f"token-{how.pages_served}"))
            else:
                self._reply(200, _page(bucket, prefix, [], None))

        def _object(self, key: str) -> None:
            size = how.objects[key]
            wanted = self.headers.get("Range", "")
            start, end = 0, size - 1
            if wanted.startswith("bytes="):
                first, _, last = wanted[6:].partition("-")
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            if how.body in ("ignores-range", "overlong"):
                headers = {"ETag": '"0"'}
                if how.body == "overlong":
                    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                self._reply(200 if how.body == "ignores-range" else 206, length=how.huge,
                            headers=headers)
                block = b"x" * (1 << 20)
                sent = 0
                try:
                    while sent < how.huge:
                        piece = block[: how.huge - sent]
                        self.wfile.write(piece)
                        sent += len(piece)
                        how.bytes_sent += len(piece)
                except OSError:
                    pass
                return
            length = end - start + 1
            self._reply(206, length=length, headers={
                "Content-Range": f"bytes {start}-{end}/{size}", "ETag": '"0"'})
            try:
                if how.body == "dribble":
                    for _ in range(length):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        how.bytes_sent += 1
                        time.sleep(how.dribble_every)
                else:
                    self.wfile.write(b"x" * length)
                    how.bytes_sent += length
            except OSError:
                pass

    with _serving(Fake) as url:
        yield url


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
