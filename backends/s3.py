"""S3-compatible storage: s3fs moves the bytes, boto3 handles the bucket.

Atomicity comes from S3 itself: an object appears only when its PutObject or its multipart
upload completes, and an upload abandoned by an exception is aborted. No conditional puts
(`If-None-Match`): SeaweedFS answers them with 412, which s3fs turns into `OSError(EINVAL)`,
and s3fs's `xb` mode stored an empty object over an existing one when closed with no data.
Units are content-addressed, so overwriting one with the same bytes is harmless.

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

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from .base import GuardedFile, key_problem
from .errors import (
    S3_PACKAGES,
    AccessDenied,
    BackendError,
    BucketMissing,
    InvalidRemote,
    MissingDependency,
    Unreachable,
    Unsupported,
    safe_url,
)
from .fsspec_backend import FsspecBackend

MiB = 1 << 20
MAX_PARTS = 10_000
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


@dataclass(frozen=True)
class S3Options:
    """How to reach and use a bucket. Credentials are deliberately not options: they come
    from the standard AWS chain (environment, profile, instance role), never from config.

    endpoint_url: explicit endpoint; else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; else AWS.
    create_bucket: create the bucket if it is missing (with Object Lock if `lock_mode`).
    versioning: turn bucket versioning on if it is off.
    storage_class: e.g. `STANDARD_IA`, `GLACIER_IR`, `DEEP_ARCHIVE`, applied to every write.
    lock_mode, lock_days: Object Lock retention for every write (the bucket must have it).
    part_size: multipart part size; also the read-ahead block. Objects up to 10,000 parts
        when streamed through `open_write` (156 GiB at 16 MiB); `put_file` scales parts up.
    max_concurrency: parts in flight at once for `put_file`/`get_file` (memory: this many
        parts).
    """

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    create_bucket: bool = False
    versioning: bool = False
    storage_class: str | None = None
    lock_mode: str | None = None
    lock_days: int = 0
    part_size: int = 16 * MiB
    max_concurrency: int = 4
    addressing_style: str | None = None


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


def _import_clients(name: str) -> tuple[Any, Any, Any]:
    try:
        import boto3
        import s3fs
        from botocore.config import Config
    except ImportError as exc:
        raise MissingDependency(name, S3_PACKAGES) from exc
    return boto3, s3fs, Config


class S3Backend(FsspecBackend):
    """A prefix in an S3 bucket on AWS or any S3-compatible server."""

    def __init__(self, name: str, url: str, options: S3Options | None = None) -> None:
        self.options = options = options or S3Options()
        if options.lock_mode is not None and options.lock_mode not in LOCK_MODES:
            raise InvalidRemote(name, f"lock_mode must be one of {', '.join(LOCK_MODES)}")
        if options.lock_mode and options.lock_days < 1:
            raise InvalidRemote(name, "lock_days must be at least 1 with a lock_mode")
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
        session = boto3.session.Session(profile_name=options.profile, region_name=options.region)
        self._make_control = lambda: session.client(
            "s3", endpoint_url=self.endpoint_url, config=config(**CONTROL_CONFIG, s3=s3_config)
        )
        self._control: Any = None
        fs = s3fs.S3FileSystem(
            profile=options.profile,
            endpoint_url=self.endpoint_url,
            client_kwargs={"region_name": options.region} if options.region else {},
            config_kwargs={**DATA_CONFIG, "s3": s3_config},
            skip_instance_cache=True,
            use_listings_cache=False,
            default_block_size=options.part_size,
            max_concurrency=options.max_concurrency,
            s3_additional_kwargs=(
                {"StorageClass": options.storage_class} if options.storage_class else {}
            ),
        )
        fs.retries = 1
        root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        display = f"s3://{root}"
        super().__init__(name, display, fs, root)
        self._ready = False

    # -- the bucket -------------------------------------------------------------------------

    @property
    def control(self) -> Any:
        """The boto3 client with short timeouts, for bucket-level calls."""
        if self._control is None:
            with self._guard():
                self._control = self._make_control()
        return self._control

    def _translate(self, exc: Exception, key: str | None = None) -> BackendError | None:
        error = super()._translate(exc, key)
        if type(error) is Unreachable:
            where = safe_url(self.endpoint_url) if self.endpoint_url else "AWS"
            error.rehint(f"check the network and that the S3 endpoint ({where}) is up, then retry")
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
        self._ready = True

    def root(self) -> str:
        if not self._ready:
            self.check()
        return self._root

    def _require_root(self, root: str) -> None:
        """Prefixes need not exist in S3; `check` has verified the bucket."""

    def _create_bucket(self) -> None:
        if not self.options.create_bucket:
            raise BucketMissing(self.name, f"'{self.bucket}' does not exist")
        request: dict[str, Any] = {"Bucket": self.bucket}
        region = self.control.meta.region_name
        if region and region != "us-east-1" and not self.endpoint_url:
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
        if not self.options.lock_mode:
            return {}
        until = datetime.now(timezone.utc) + timedelta(days=self.options.lock_days)
        return {"ObjectLockMode": self.options.lock_mode, "ObjectLockRetainUntilDate": until}

    def _object_key(self, path: str) -> str:
        return path.split("/", 1)[1]

    def _verify_size(self, key: str, path: str, expected: int) -> None:
        stored = int(self.fs.info(path)["size"])
        if stored != expected:
            self.fs.rm_file(path)
            raise BackendError(self.name, f"stored {stored} bytes of {expected}", key=key)

    @contextmanager
    def open_write(self, key: str) -> Iterator[BinaryIO]:
        """See `Backend.open_write`. Streams in `part_size` parts, one in flight at a time."""
        path = self._path(key)
        extra = self._write_kwargs()
        with self._guard(key):
            raw = self.fs.open(path, "wb", block_size=self.options.part_size, **extra)
        guarded = GuardedFile(raw, lambda exc: self._translate(exc, key), owns_raw=False)
        try:
            yield guarded  # type: ignore[misc]
            with self._guard(key):
                written = raw.tell()
                if written == 0:
                    self._discard(raw)
                    self.fs.call_s3(
                        "put_object", Bucket=self.bucket, Key=self._object_key(path),
                        Body=b"", **extra,
                    )
                else:
                    raw.close()
                self._verify_size(key, path, written)
        except BaseException:
            self._discard(raw)
            raise
        finally:
            guarded.close()

    @staticmethod
    def _discard(raw: Any) -> None:
        """Abort the upload; marking the file closed keeps its finaliser from committing."""
        try:
            if not raw.closed:
                raw.discard()
        except Exception:
            pass
        raw.closed = True

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """See `Backend.put_file`. Uploads up to `max_concurrency` parts at once."""
        path = self._path(key)
        size = os.path.getsize(local_path)
        chunk = max(self.options.part_size, math.ceil(size / MAX_PARTS))
        with self._guard(key):
            self.fs.put_file(
                os.fspath(local_path), path, chunksize=chunk,
                max_concurrency=self.options.max_concurrency, **self._write_kwargs(),
            )
            self._verify_size(key, path, size)

    def _download(self, key: str, local_path: Path) -> None:
        path = self._path(key)
        with self._guard(key):
            self.fs.get_file(path, os.fspath(local_path), chunksize=self.options.part_size)
        with open(local_path, "rb+") as handle:
            os.fsync(handle.fileno())

    def cleanup_temp(self) -> int:
        """Abort unfinished multipart uploads under this remote's prefix."""
        root = self.root()
        prefix = root.partition("/")[2]
        prefix = f"{prefix}/" if prefix else ""
        aborted = 0
        with self._guard():
            pages = self.control.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    self.control.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted
