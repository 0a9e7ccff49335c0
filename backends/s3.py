"""S3-compatible storage: s3fs moves the bytes, boto3 handles the bucket.

Only public interfaces are used: s3fs's filesystem methods, its `session` argument and
`set_session` (which hands out its aiobotocore client), fsspec's `sync` and the filesystem's
event loop, botocore's session components (one data loader for both clients), and the S3
client's own operations as boto3 names them. That is why pyproject.toml can ask for ranges of s3fs and
boto3 rather than one release (constraints.txt keeps the set the tests ran with).

Atomicity comes from S3 itself: an object appears only when its PutObject or its multipart
upload completes, and an upload abandoned by an exception is aborted. Writes go through
`MultipartUpload` (the client's multipart operations on s3fs's event loop, several parts in
flight) rather than s3fs's own file object, which uploads one part at a time and commits
whatever it holds when it is garbage-collected. No conditional puts (`If-None-Match`): SeaweedFS answers them with 412,
which s3fs turns into `OSError(EINVAL)`, and s3fs's `xb` mode stored an empty object over an
existing one when closed with no data. Units are content-addressed, so overwriting one with
the same bytes is harmless.

Timeouts are deliberate, because botocore's defaults wait 60 s per read and retry five times,
which turned a silent endpoint into a six-minute hang:

- control calls (the bucket check, creation, versioning and lock queries) use
  `connect_timeout=3`, `read_timeout=5`, 2 attempts: a healthy server answers them in
  milliseconds, so a dead or silent endpoint is reported within about 12 s;
- data calls (everything through s3fs) use `connect_timeout=3`, `read_timeout=30`,
  3 attempts. The read timeout is the longest silence between bytes, not the transfer
  time; after the last byte of a part the server stores and hashes it before answering,
  which slow NAS-hosted servers can take seconds over, so 30 s leaves room while a
  connection that dies mid-transfer still fails within about 1.5 minutes;
- s3fs's own retry loop is cut to one attempt so the two retry layers do not multiply.

Every operation first verifies the bucket (once per backend) with the fast control client,
so a wrong endpoint, wrong credentials or a missing bucket never reach the slow data path.

s3fs and boto3 are imported only when an S3 backend is built: together they cost ~0.4 s.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from .base import CHUNK, GuardedFile, UnitInfo, key_problem, translated, validate_prefix
from .errors import (
    S3_PACKAGES,
    AccessDenied,
    BackendError,
    BucketMissing,
    InvalidRemote,
    MissingDependency,
    UnconfirmedWrite,
    Unreachable,
    Unsupported,
    safe_url,
    translate,
)
from .fsspec_backend import FsspecBackend
from .s3_bounded import (
    MAX_LIST_PAGES,
    RangeFetcher,
    RangeReader,
    SeekableReader,
    arm,
    list_pages,
    run,
    s3_call,
)
from .upload_journal import UploadJournal

MiB = 1 << 20
MAX_PARTS = 10_000
# At most this much per read of a part's body (a short read, as raw files may return): the
# pieces the client hashes and sends are then all one size, which malloc reuses instead of
# keeping freed 1 MiB blocks in each thread's arena.
BODY_READ = 256 * 1024
GROW_EVERY = 2_500  # parts of a streamed upload: then the part size doubles (see MultipartUpload)
CONTROL_CONFIG = {
    "connect_timeout": 3,
    "read_timeout": 5,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}
DATA_CONFIG = {
    "connect_timeout": 3,
    "read_timeout": 30,
    "retries": {"total_max_attempts": 3, "mode": "standard"},
}
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MISSING_BUCKET_CODES = {"404", "NoSuchBucket", "NotFound"}
_GONE_UPLOAD_CODES = {"404", "NoSuchUpload", "NotFound"}


@dataclass(frozen=True)
class S3Options:
    """How to reach and use a bucket. Credentials are deliberately not options: they come
    from the standard AWS chain (environment, profile, instance role), never from config.

    endpoint_url: explicit endpoint; else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; else AWS.
    create_bucket: create the bucket if it is missing (with Object Lock if `lock_mode`).
    versioning: turn bucket versioning on if it is off.
    storage_class: e.g. `STANDARD_IA`, `GLACIER_IR`, `DEEP_ARCHIVE`, applied to every write.
    lock_mode, lock_days: Object Lock retention for every write (the bucket must have it).
    part_size: multipart part size; also the read-ahead block and the download request. An
        object has at most 10,000 parts: a streamed upload doubles its part size every 2,500
        parts, so `open_write` streams up to 293 GiB from 8 MiB; `put_file` scales parts up.
    upload_concurrency: parts held at once for writes, the one being filled included, so
        up to this many in flight (memory: this many parts).
    max_concurrency: ranged GETs in flight at once for `get_file` (they write straight to the
        file: no part is held).
    min_rate, rate_window: a download slower than `min_rate` bytes a second, averaged over
        any `rate_window` seconds, is abandoned as `Unreachable` (see `s3_bounded`); an upload
        part must be accepted within `rate_window` + the bytes in flight / `min_rate` seconds.
    """

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    create_bucket: bool = False
    versioning: bool = False
    storage_class: str | None = None
    lock_mode: str | None = None
    lock_days: int = 0
    part_size: int = 8 * MiB
    upload_concurrency: int = 2
    max_concurrency: int = 4
    addressing_style: str | None = None
    min_rate: int = 4096
    rate_window: float = 60.0


@dataclass(frozen=True)
class BucketFeatures:
    """What the bucket has switched on, as the server reports it."""

    versioning: bool
    object_lock: bool


def parse_s3_url(name: str, url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`, checked."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or parts.username or parts.password or parts.query:
        raise InvalidRemote(name, f"not an s3://bucket/prefix URL: {safe_url(url)}")
    bucket, prefix = parts.hostname or "", parts.path.strip("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidRemote(name, f"invalid bucket name {bucket!r}")
    problem = key_problem(prefix) if prefix else None
    if problem:
        raise InvalidRemote(name, f"invalid prefix {prefix[:80]!r}: {problem}")
    return bucket, prefix


def _run(fs: Any, method: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one of s3fs's coroutines on its event loop, from this thread."""
    from fsspec.asyn import sync

    return sync(fs.loop, method, *args, **kwargs)


def quiet_orphaned_disconnects(loop: asyncio.AbstractEventLoop) -> None:
    """When the server drops the connection in the middle of a body, aiohttp's task that was
    sending it fails, and nobody awaits it any more: the request it belonged to has already
    raised (and becomes our one-line Unreachable). asyncio would print that orphan's traceback
    to stderr as "Task exception was never retrieved". Drop those; anything else still goes to
    asyncio's default handler."""
    from aiohttp import ClientError

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, (OSError, ClientError)) and "never retrieved" in context.get("message", ""):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _import_clients(name: str) -> tuple[Any, Any, Any]:
    try:
        import boto3
        import s3fs
        from botocore.config import Config
    except ImportError as exc:
        raise MissingDependency(name, S3_PACKAGES) from exc
    return boto3, s3fs, Config


def _sessions(boto3: Any, options: S3Options) -> tuple[Any, Any]:
    """A boto3 session for the control client and an aiobotocore one for s3fs's, sharing one
    loader of botocore's data files: each client would otherwise parse S3's service model and
    endpoint rules for itself (docs/BENCHMARKS.md has what that cost)."""
    import botocore.session
    from aiobotocore.session import AioSession

    core = botocore.session.Session()
    control = boto3.session.Session(botocore_session=core, profile_name=options.profile,
                                    region_name=options.region)
    data = AioSession(profile=options.profile)
    data.register_component("data_loader", core.get_component("data_loader"))
    return control, data


class S3Backend(FsspecBackend):
    """A prefix in an S3 bucket on AWS or any S3-compatible server."""

    def __init__(self, name: str, url: str, options: S3Options | None = None) -> None:
        self.options = options = options or S3Options()
        if options.lock_mode is not None and options.lock_mode not in LOCK_MODES:
            raise InvalidRemote(name, f"lock_mode must be one of {', '.join(LOCK_MODES)}")
        if options.lock_mode and options.lock_days < 1:
            raise InvalidRemote(name, "lock_days must be at least 1 with a lock_mode")
        if options.min_rate < 1 or options.rate_window <= 0:
            raise InvalidRemote(name, "min_rate and rate_window must be positive")
        if options.part_size < 5 * MiB:
            raise InvalidRemote(name, "part_size must be at least 5 MiB (an S3 limit)")
        self.bucket, self.prefix = parse_s3_url(name, url)
        boto3, s3fs, config = _import_clients(name)
        self.endpoint_url = (
            options.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or None
        )
        style = options.addressing_style or ("path" if self.endpoint_url else "auto")
        s3_config = {"addressing_style": style}
        with translated(lambda exc: translate(exc, name)):
            session, data_session = _sessions(boto3, options)
        self._make_control = lambda: session.client(
            "s3", endpoint_url=self.endpoint_url, config=config(**CONTROL_CONFIG, s3=s3_config)
        )
        self._control: Any = None
        fs = s3fs.S3FileSystem(
            session=data_session,
            endpoint_url=self.endpoint_url,
            client_kwargs={"region_name": options.region} if options.region else {},
            config_kwargs={**DATA_CONFIG, "s3": s3_config},
            skip_instance_cache=True,
            use_listings_cache=False,
            default_block_size=options.part_size,
            max_concurrency=options.max_concurrency,
        )
        fs.retries = 1
        quiet_orphaned_disconnects(fs.loop)
        root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        display = f"s3://{root}"
        super().__init__(name, display, fs, root)
        self._ready = False
        self._journal: UploadJournal | None = None

    def journal_uploads(self, directory: str | os.PathLike[str]) -> None:
        """See `Backend.journal_uploads` and `upload_journal`."""
        self._journal = UploadJournal(directory)

    # -- the bucket -------------------------------------------------------------------------

    @property
    def control(self) -> Any:
        """The boto3 client with short timeouts, for bucket-level calls."""
        if self._control is None:
            with self._guard():
                self._control = arm(self._make_control())
        return self._control

    def _translate(self, exc: Exception, key: str | None = None) -> BackendError | None:
        if isinstance(exc, UploadTooSlow):
            return Unreachable(
                self.name, f"did not take {exc.size:,} bytes within {exc.seconds:.0f} s, below "
                f"the floor of {self.options.min_rate:,} bytes/s", key=key,
                hint="check the network and the endpoint, then retry (the floor is the remote's "
                     "min_rate option)")
        error = super()._translate(exc, key)
        if type(error) is Unreachable:
            where = safe_url(self.endpoint_url) if self.endpoint_url else "AWS"
            error.rehint(f"check the network and that the S3 endpoint ({where}) is up, then retry")
        elif type(error) is AccessDenied:
            error.rehint(
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the "
                "bucket's policy"
            )
        return error

    def _error_code(self, exc: Exception) -> str | None:
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", "")) or None
        return None

    def check(self) -> None:
        """Head the bucket (creating it or enabling features as the options allow)."""
        with self._guard():
            try:
                self.control.head_bucket(Bucket=self.bucket)
            except Exception as exc:
                if self._error_code(exc) not in _MISSING_BUCKET_CODES:
                    raise
                self._create_bucket()
            self._ensure_features()
            arm(_run(self.fs, self.fs.set_session))
        self._ready = True

    def root(self) -> str:
        if not self._ready:
            self.check()
        return self._root

    def _require_root(self, root: str) -> None:
        """Prefixes need not exist in S3; `check` has verified the bucket."""

    # -- reads and listings, bounded (see s3_bounded) ---------------------------------------

    def list(self, prefix: str = "") -> Iterator[UnitInfo]:
        """See `Backend.list`: one ListObjectsV2 page at a time, with the bounds of
        `s3_bounded.list_pages`."""
        validate_prefix(prefix, self.name)
        base = self.root().partition("/")[2]
        base = f"{base}/" if base else ""
        return self._listed(base, prefix)

    def _listed(self, base: str, prefix: str) -> Iterator[UnitInfo]:
        def call(**request: Any) -> dict[str, Any]:
            with self._guard():
                return run(self.fs, "list_objects_v2", **request)

        yield from list_pages(call, self.name, self.bucket, base + prefix, base)

    def _fetcher(self, key: str) -> RangeFetcher:
        path = self._path(key)
        size = self.info(key).size
        return RangeFetcher(self.fs, self.name, self.bucket, key, self._object_key(path), size,
                            self.options.min_rate, self.options.rate_window)

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        """See `Backend.open_read`: reads `part_size` at a time through ranged GETs."""
        raw = io.BufferedReader(RangeReader(self._fetcher(key)), self.options.part_size)
        guarded = GuardedFile(raw, lambda exc: self._translate(exc, key), owns_raw=True)
        with guarded:
            yield guarded  # type: ignore[misc]

    def _create_bucket(self) -> None:
        if not self.options.create_bucket:
            raise BucketMissing(self.name, f"'{self.bucket}' does not exist")
        request: dict[str, Any] = {"Bucket": self.bucket}
        region = self.control.meta.region_name
        if region and region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        if self.options.lock_mode:
            request["ObjectLockEnabledForBucket"] = True
        try:
            self.control.create_bucket(**request)
        except Exception as exc:
            code = self._error_code(exc)
            if code == "BucketAlreadyExists":
                raise AccessDenied(
                    self.name, f"bucket name '{self.bucket}' belongs to someone else",
                    hint="choose another bucket name",
                ) from exc
            if code != "BucketAlreadyOwnedByYou":
                raise

    def features(self) -> BucketFeatures:
        """Versioning and Object Lock as the server reports them for this bucket."""
        self.root()
        with self._guard():
            return self._bucket_features()

    def _bucket_features(self) -> BucketFeatures:
        versioning = self.control.get_bucket_versioning(Bucket=self.bucket)
        try:
            lock = self.control.get_object_lock_configuration(Bucket=self.bucket)
            locked = lock["ObjectLockConfiguration"].get("ObjectLockEnabled") == "Enabled"
        except Exception as exc:
            if self._error_code(exc) != "ObjectLockConfigurationNotFoundError":
                raise
            locked = False
        return BucketFeatures(versioning.get("Status") == "Enabled", locked)

    def _ensure_features(self) -> None:
        if not (self.options.versioning or self.options.lock_mode):
            return
        have = self._bucket_features()
        if self.options.lock_mode and not have.object_lock:
            raise Unsupported(
                self.name, f"bucket '{self.bucket}' has no Object Lock",
                hint="create the bucket with Object Lock enabled, or drop lock_mode",
            )
        if self.options.versioning and not have.versioning:
            self.control.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
            )

    # -- writes -----------------------------------------------------------------------------

    def _write_kwargs(self) -> dict[str, Any]:
        """What every new object is created with: the storage class and Object Lock retention."""
        extra: dict[str, Any] = {}
        if self.options.storage_class:
            extra["StorageClass"] = self.options.storage_class
        if self.options.lock_mode:
            until = datetime.now(UTC) + timedelta(days=self.options.lock_days)
            extra.update(ObjectLockMode=self.options.lock_mode, ObjectLockRetainUntilDate=until)
        return extra

    def _object_key(self, path: str) -> str:
        return path.split("/", 1)[1]

    def _verify_size(self, key: str, path: str, expected: int) -> None:
        """Read the size back after a commit. A mismatch deletes nothing: the object under
        `key` may be a stale answer or another writer's good copy, and cannot be proven to be
        this write's bad one (see `UnconfirmedWrite`)."""
        stored = int(self.fs.info(path)["size"])
        if stored != expected:
            raise UnconfirmedWrite(
                self.name, f"sent {expected} bytes, the store reports {stored}", key=key
            )

    @contextmanager
    def open_write(self, key: str) -> Iterator[BinaryIO]:
        """See `Backend.open_write`. Uploads `part_size` parts, `upload_concurrency` at once."""
        with self._upload(key, self.options.part_size) as handle:
            yield handle

    @contextmanager
    def _upload(self, key: str, part_size: int) -> Iterator[BinaryIO]:
        path = self._path(key)
        upload = MultipartUpload(
            self.fs, self.bucket, self._object_key(path), part_size,
            self.options.upload_concurrency, self._write_kwargs(), self._journal,
            (self.options.min_rate, self.options.rate_window),
        )
        guarded = GuardedFile(upload, lambda exc: self._translate(exc, key), owns_raw=False)
        try:
            yield guarded  # type: ignore[misc]
            with self._guard(key):
                upload.commit()
                self._verify_size(key, path, upload.tell())
        except BaseException:
            upload.abort()
            raise
        finally:
            guarded.close()

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """See `Backend.put_file`. Parts grow past `part_size` to fit S3's 10,000-part limit."""
        size = os.path.getsize(local_path)
        part_size = max(self.options.part_size, math.ceil(size / MAX_PARTS))
        with open(local_path, "rb") as source, self._upload(key, part_size) as target:
            shutil.copyfileobj(source, target, CHUNK)

    def _download(self, key: str, target: BinaryIO) -> None:
        fetcher = self._fetcher(key)
        with self._guard(key):
            _run(self.fs, fetcher.download, target, self.options.part_size,
                 self.options.max_concurrency)

    def cleanup_temp(self, older_than: float | None = None) -> int:
        """Abort unfinished multipart uploads under this remote's prefix: first every one the
        upload journal proves was ours (whatever its age), then, with `older_than`, any other
        started at least that many seconds ago (an upload in progress elsewhere looks exactly
        like an abandoned one)."""
        root = self.root()
        prefix = root.partition("/")[2]
        prefix = f"{prefix}/" if prefix else ""
        aborted = self._abort_journaled(prefix)
        now = datetime.now(UTC)
        with self._guard():
            pages = self.control.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in itertools.islice(pages, MAX_LIST_PAGES):
                for upload in page.get("Uploads", []):
                    started = upload.get("Initiated")
                    if older_than is not None and (
                        not isinstance(started, datetime)
                        or (now - started).total_seconds() < older_than
                    ):
                        continue
                    self.control.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted

    def _abort_journaled(self, prefix: str) -> int:
        if self._journal is None:
            return 0
        aborted = 0
        for entry in self._journal.entries():
            if entry.bucket == self.bucket and entry.key.startswith(prefix):
                with self._guard():
                    try:
                        self.control.abort_multipart_upload(
                            Bucket=self.bucket, Key=entry.key, UploadId=entry.upload_id)
                        aborted += 1
                    except Exception as exc:
                        if self._error_code(exc) not in _GONE_UPLOAD_CODES:
                            raise  # completed or aborted after all: nothing to do
            self._journal.remove(entry.upload_id)
        return aborted


class UploadTooSlow(TimeoutError):
    """A part or a small object was not accepted within the time the rate floor allows."""

    def __init__(self, size: int, seconds: float) -> None:
        super().__init__(f"{size} bytes not accepted within {seconds:.1f} s")
        self.size = size
        self.seconds = seconds


class MultipartUpload(io.RawIOBase):
    """A write-only stream into one S3 object, published only by `commit`.

    Data is cut into `part_size` parts, each an UploadPart on s3fs's event loop, with
    `max_concurrency` buffers of a part's size: the part being filled takes one, the parts in
    flight the others, so memory stays at max_concurrency x part_size. A full part is sent at
    once (a second request while the first one's answer is on its way); the next part is
    filled in the buffer of the oldest one, once that part is accepted. Every `GROW_EVERY` parts the part size
    doubles, so a stream of unknown length reaches far past 10,000 x part_size (S3's limit on
    parts) while a unit of up to `GROW_EVERY` parts keeps the small size. Nothing is sent
    until the first part is full: a small object becomes one PutObject at `commit`, as does an
    empty one. `abort` stops the uploads in flight and aborts the multipart upload, leaving
    nothing. Every request is an operation of the S3 client's public API
    (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload,
    PutObject) sent through `s3_bounded.s3_call`.

    Each part is written once, into a buffer of its own that is reused once the part is
    accepted, and is sent as a seekable file over that buffer (`_PartBody`), never as `bytes`:
    botocore wraps a `bytes` body in `io.BytesIO`, and aiohttp takes a buffer of that, which
    makes the `BytesIO` copy it whole: two copies of every part in flight.

    Why the event loop rather than boto3's client on a thread pool: a request on the loop can
    be cancelled, which closes its connection. A thread blocked in a send to a server that
    takes a byte every few seconds cannot be stopped, and would hold the process at exit.

    `floor` (min_rate, rate_window): a part, or the single PutObject of a small object, that
    is not accepted within rate_window + the bytes in flight / min_rate seconds of being sent
    is cancelled and raises `UploadTooSlow`, so a server that takes a body a byte at a time
    cannot hold a write forever.
    """

    def __init__(
        self, fs: Any, bucket: str, key: str, part_size: int, max_concurrency: int,
        extra: dict[str, Any], journal: UploadJournal | None = None,
        floor: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self._fs = fs
        self._target = {"Bucket": bucket, "Key": key}
        self._part_size = part_size
        self._max_concurrency = max(1, max_concurrency)
        self._extra = extra
        self._journal = journal
        self._floor = floor
        # The part being filled: it grows until the first part is full (a small object never
        # takes a whole part's memory), after which every part has a buffer of its full size.
        self._buffer = bytearray()
        self._filled = 0
        self._spare: list[bytearray] = []
        self._written = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pending: deque[tuple[int, _Sent, bytearray]] = deque()

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        while view:
            limit = self._filling_size()
            taken = min(len(view), limit - self._filled)
            if len(self._buffer) == self._filled:       # still growing: the first part
                self._buffer += view[:taken]
            else:
                self._buffer[self._filled: self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
            if self._filled == limit:
                self._send(self._buffer)
                self._buffer, self._filled = self._free_buffer(), 0
        self._written += size
        return size

    def _free_buffer(self) -> bytearray:
        """A buffer for the next part: a spare one, a new one while fewer than `max_concurrency`
        exist, else the buffer of the oldest part in flight once that part is accepted."""
        size = self._filling_size()
        self._spare = [b for b in self._spare if len(b) == size]
        if not self._spare and len(self._pending) >= self._max_concurrency:
            self._collect_oldest()
            self._spare = [b for b in self._spare if len(b) == size]
        return self._spare.pop() if self._spare else bytearray(size)

    def _filling_size(self) -> int:
        """The size of the part being filled: `part_size`, doubled every `GROW_EVERY` parts."""
        number = len(self._parts) + len(self._pending) + 1
        return self._part_size << ((number - 1) // GROW_EVERY)

    def _call(self, operation: str, **request: Any) -> Any:
        """One request about this object, waited for without a time limit of its own (the
        client's timeouts bound it: these requests carry no body)."""
        return run(self._fs, operation, **self._target, **request)

    def _start(self, operation: str, size: int, **request: Any) -> _Sent:
        """Send a request carrying `size` bytes in flight; `_settle` waits for its answer."""
        allowed = None
        if self._floor is not None:
            min_rate, window = self._floor
            allowed = window + size / min_rate
        future = asyncio.run_coroutine_threadsafe(
            s3_call(self._fs, operation, **self._target, **request), self._fs.loop)
        deadline = None if allowed is None else time.monotonic() + allowed
        return _Sent(future, deadline, size, allowed)

    def _settle(self, sent: _Sent) -> Any:
        """The answer to `sent`, or `UploadTooSlow` (the request cancelled) past its deadline."""
        timeout = None if sent.deadline is None else max(sent.deadline - time.monotonic(), 0.0)
        done, _ = wait([sent.future], timeout=timeout)
        if not done:
            sent.future.cancel()
            raise UploadTooSlow(sent.size, sent.allowed or 0.0)
        return sent.future.result()

    def _send(self, buffer: bytearray, size: int | None = None) -> None:
        """Upload `buffer` (its first `size` bytes) as the next part; `buffer` is not touched
        again until the part is accepted."""
        if self._upload_id is None:
            self._upload_id = self._call("create_multipart_upload", **self._extra)["UploadId"]
            if self._journal is not None:
                self._journal.add(self._target["Bucket"], self._target["Key"], self._upload_id)
        while len(self._pending) >= self._max_concurrency:
            self._collect_oldest()
        size = len(buffer) if size is None else size
        number = len(self._parts) + len(self._pending) + 1
        in_flight = size * (len(self._pending) + 1)
        sent = self._start("upload_part", in_flight, UploadId=self._upload_id,
                           PartNumber=number, Body=_PartBody(memoryview(buffer)[:size]))
        self._pending.append((number, sent, buffer))

    def _collect_oldest(self) -> None:
        number, sent, buffer = self._pending.popleft()
        answer = self._settle(sent)
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        part.update({k: v for k, v in answer.items() if k.startswith("Checksum")})
        self._parts.append(part)
        self._spare.append(buffer)

    def commit(self) -> None:
        if self._upload_id is None:
            body = _PartBody(memoryview(self._buffer)[: self._filled])
            self._settle(self._start("put_object", self._filled, Body=body, **self._extra))
        else:
            if self._filled:
                self._send(self._buffer, self._filled)
            while self._pending:
                self._collect_oldest()
            self._call("complete_multipart_upload", UploadId=self._upload_id,
                       MultipartUpload={"Parts": self._parts})
            self._forget()
        self._release()
        self._upload_id = None
        self.close()

    def _release(self) -> None:
        self._buffer = bytearray()
        self._filled = 0
        self._spare.clear()

    def _forget(self) -> None:
        if self._journal is not None and self._upload_id is not None:
            self._journal.remove(self._upload_id)

    def abort(self) -> None:
        """Best effort: a failure here leaves an unfinished upload for `cleanup_temp`."""
        pending = [sent.future for _, sent, _ in self._pending]
        for future in pending:
            future.cancel()
        wait(pending, timeout=60)
        self._pending.clear()
        self._release()
        if self._upload_id is not None:
            try:
                self._call("abort_multipart_upload", UploadId=self._upload_id)
            except Exception:  # noqa: BLE001, S110 - the journal entry stays: the next cleanup_temp aborts it
                pass
            else:
                self._forget()
            self._upload_id = None
        self.close()


class _PartBody(SeekableReader):
    """One part as a read-only, seekable file over the upload's buffer, without a copy.

    The S3 client reads it in pieces (its checksum, the signature's SHA-256, then the socket)
    and seeks back to the start to send it again on a retry: the public form of a body that
    boto3 documents ("bytes or seekable file-like object")."""

    def __init__(self, view: memoryview) -> None:
        super().__init__(len(view))
        self._view = view

    def read(self, size: int | None = -1) -> bytes:
        start = min(self._pos, len(self._view))
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        end = min(end, start + BODY_READ)
        self._pos = max(self._pos, end)
        return bytes(self._view[start:end])

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        start = min(self._pos, len(self._view))
        n = min(len(target), len(self._view) - start)
        target[:n] = self._view[start: start + n]
        self._pos = start + n
        return n


@dataclass(frozen=True)
class _Sent:
    """A request on its way: its future, when it must be answered by, what it carries."""

    future: Future[Any]
    deadline: float | None
    size: int
    allowed: float | None
