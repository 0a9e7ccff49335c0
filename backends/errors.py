"""The errors a backend raises, and the one table that turns foreign exceptions into them.

Everything above `backends` catches only `BackendError` and its subclasses: a raw `OSError`,
botocore or aiohttp exception leaving a backend is a bug. Each error names the remote and says
what to do, in one line. Messages are built from our own words plus safe details (an error code,
an errno name, an endpoint without user info), never from a foreign message, so no credential
can leak into them. The foreign exception stays available as `__cause__` for `--debug`.

This module imports nothing heavy: botocore and aiohttp exceptions are recognised by class
name, so translating never drags those packages in.
"""

from __future__ import annotations

import errno
import os
import re
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

S3_PACKAGES = ("s3fs>=2025.9.0", "boto3>=1.41")
"""Install these together, with their lower bounds (pyproject.toml has the same): without
them, pip resolves `boto3 s3fs` to the 2020 s3fs 0.4.2, and installing one after the other
leaves a botocore that aiobotocore rejects."""


class BackendError(Exception):
    """A remote could not do what was asked. Base of every error a backend raises."""

    what = "failed"
    hint = "retry; run with --debug for the underlying error"

    def __init__(
        self, remote: str, detail: str = "", *, key: str | None = None, hint: str | None = None
    ) -> None:
        self.remote = remote
        self.detail = detail
        self.key = key
        if hint is not None:
            self.hint = hint
        super().__init__(self.render())

    def subject(self) -> str:
        return f"remote '{self.remote}'"

    def rehint(self, hint: str) -> None:
        """Replace the advice, e.g. with one that names the endpoint of an S3 remote."""
        self.hint = hint
        self.args = (self.render(),)

    def render(self) -> str:
        text = f"{self.subject()} {self.what}"
        if self.key:
            text += f" ('{self.key}')"
        if self.detail:
            text += f": {self.detail}"
        if self.hint:
            text += f"; {self.hint}"
        return text


class NotFound(BackendError):
    """The key does not exist on the remote."""

    what = "has no such key"
    hint = ""


class InvalidKey(BackendError):
    """A key that could escape the remote's root or that some storage would mangle."""

    what = "refused an invalid key"
    hint = "keys are relative paths of [A-Za-z0-9._-] segments (a bug in the caller)"

    def render(self) -> str:
        text = f"{self.subject()} {self.what} {self.key!r}"
        if self.detail:
            text += f": {self.detail}"
        return f"{text}; {self.hint}"


class Unreachable(BackendError):
    """Connection refused, timed out, name not resolved, or a mount that went away."""

    what = "cannot be reached"
    hint = "check the network or the mount, and that the server is up, then retry"


class BadAnswer(BackendError):
    """The endpoint answered, but not with anything an S3 client can use: XML that does not
    parse, a listing that repeats itself or never ends, a body other than the one asked for.
    Told apart from `Unreachable` because retrying the network will not help."""

    what = "gave an answer that could not be read"
    hint = ("check that the endpoint URL names an S3-compatible server (not a web page or a "
            "proxy that rewrites answers), then retry")


class UnconfirmedWrite(BackendError):
    """A write completed but reading it back disagrees with what was sent (another size).

    The object is left where it is: the answer may be stale (a store with eventual reads
    after an overwrite) or another writer's good copy may have landed on the same key, and
    nothing may delete a copy that can be the good one. The caller counts the copy as
    unknown until a later listing or read checks it."""

    what = "could not confirm a write"
    hint = ("the object was left in place and counts as unknown; the next `arkeep sync` or "
            "`arkeep verify --remote` checks it again")


class AccessDenied(BackendError):
    """Wrong or missing credentials, missing permission, or a read-only medium."""

    what = "denied access"
    hint = "check the credentials and permissions, and that the medium is writable"


class NoSpace(BackendError):
    """The remote is full or over its quota."""

    what = "is out of space"
    hint = "free some space on it or raise its quota, then retry"


class NotConnected(BackendError):
    """A drive remote that is not plugged in. A normal state, not a failure of the drive."""

    what = "is not connected"
    hint = "plug it in (any mount point will do) and retry"

    def __init__(
        self,
        remote: str,
        detail: str = "",
        *,
        last_seen: datetime | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.last_seen = last_seen
        super().__init__(remote, detail, key=key, hint=hint)

    def subject(self) -> str:
        return f"drive remote '{self.remote}'"

    def render(self) -> str:
        text = f"{self.subject()} {self.what}"
        if self.last_seen is not None:
            text += f" (last seen {self.last_seen:%Y-%m-%d %H:%M})"
        if self.detail:
            text += f": {self.detail}"
        return f"{text}; {self.hint}"


class BucketMissing(BackendError):
    """The S3 bucket does not exist and the backend was not allowed to create it."""

    what = "has no bucket"
    hint = "create the bucket, or allow arkeep to create it (create_bucket=True)"


class Unsupported(BackendError):
    """The remote lacks a feature its options ask for (e.g. Object Lock on the bucket)."""

    what = "does not support a requested feature"
    hint = "enable the feature on the remote or drop the option"


class InvalidRemote(BackendError):
    """A remote's URL or options make no sense (a user's input, not an environment failure)."""

    what = "is misconfigured"
    hint = "fix the remote's URL or options"


class MissingDependency(BackendError):
    """An optional Python package this kind of remote needs is not installed."""

    what = "needs a Python package that is not installed"

    def __init__(self, remote: str, packages: tuple[str, ...], *, hint: str | None = None) -> None:
        self.packages = packages
        names = ", ".join(re.split(r"[<>=!~ ;\[]", p, maxsplit=1)[0] for p in packages)
        wanted = " ".join(f"'{p}'" for p in packages)
        super().__init__(remote, names, hint=hint or f"run: pip install {wanted}")


_S3_CODES: dict[str, type[BackendError]] = {
    "AccessDenied": AccessDenied,
    "AccountProblem": AccessDenied,
    "AllAccessDisabled": AccessDenied,
    "ExpiredToken": AccessDenied,
    "InvalidAccessKeyId": AccessDenied,
    "InvalidToken": AccessDenied,
    "SignatureDoesNotMatch": AccessDenied,
    "RequestTimeTooSkewed": AccessDenied,
    "InvalidObjectState": AccessDenied,
    "403": AccessDenied,
    "NoSuchBucket": BucketMissing,
    "NoSuchKey": NotFound,
    "NoSuchVersion": NotFound,
    "NotFound": NotFound,
    "404": NotFound,
    "QuotaExceeded": NoSpace,
    "EntityTooLarge": NoSpace,
    "XMinioStorageFull": NoSpace,
    "InternalError": Unreachable,
    "ServiceUnavailable": Unreachable,
    "SlowDown": Unreachable,
    "RequestTimeout": Unreachable,
    "500": Unreachable,
    "502": Unreachable,
    "503": Unreachable,
    "504": Unreachable,
    "ObjectLockConfigurationNotFoundError": Unsupported,
    "InvalidStorageClass": Unsupported,
    "NotImplemented": Unsupported,
}

_CLASS_NAMES: dict[str, type[BackendError]] = {
    # botocore
    "EndpointConnectionError": Unreachable,
    "ConnectTimeoutError": Unreachable,
    "ReadTimeoutError": Unreachable,
    "ConnectionClosedError": Unreachable,
    "ProxyConnectionError": Unreachable,
    "ResponseStreamingError": Unreachable,
    "SSLError": Unreachable,
    "ResponseParserError": BadAnswer,
    "NoCredentialsError": AccessDenied,
    "PartialCredentialsError": AccessDenied,
    "CredentialRetrievalError": AccessDenied,
    "ProfileNotFound": AccessDenied,
    # aiohttp (under aiobotocore)
    "ClientConnectorError": Unreachable,
    "ServerDisconnectedError": Unreachable,
    "ServerTimeoutError": Unreachable,
    "ClientPayloadError": Unreachable,
    "ClientOSError": Unreachable,
    # fsspec
    "FSTimeoutError": Unreachable,
    # builtins
    "TimeoutError": Unreachable,
}

_ERRNOS: dict[int, type[BackendError]] = {
    errno.ENOENT: NotFound,
    errno.EISDIR: NotFound,
    errno.EACCES: AccessDenied,
    errno.EPERM: AccessDenied,
    errno.EROFS: AccessDenied,
    errno.ENOSPC: NoSpace,
    errno.EFBIG: NoSpace,
    errno.ECONNREFUSED: Unreachable,
    errno.ECONNRESET: Unreachable,
    errno.ECONNABORTED: Unreachable,
    errno.ETIMEDOUT: Unreachable,
    errno.EHOSTUNREACH: Unreachable,
    errno.ENETUNREACH: Unreachable,
    errno.ENETDOWN: Unreachable,
    errno.EPIPE: Unreachable,
    errno.EIO: Unreachable,
    errno.ENXIO: Unreachable,
    errno.ENODEV: Unreachable,
}
for _name, _kind in (("EDQUOT", NoSpace), ("ESTALE", Unreachable), ("ENOTCONN", Unreachable)):
    if hasattr(errno, _name):
        _ERRNOS[getattr(errno, _name)] = _kind

def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first; s3fs hides the ClientError in there."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _s3_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    if code:
        return str(code)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(status) if status else None


def _class_kind(exc: BaseException) -> type[BackendError] | None:
    for cls in type(exc).__mro__:
        kind = _CLASS_NAMES.get(cls.__name__)
        if kind is not None:
            return kind
    return None


def safe_url(url: str) -> str:
    """`url` without user info, query or fragment: fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _class_detail(exc: BaseException) -> str:
    endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") if hasattr(exc, "kwargs") else None
    name = type(exc).__name__
    return f"{name} ({safe_url(endpoint)})" if endpoint else name


def _errno_detail(exc: OSError) -> str:
    if exc.errno is None:
        return type(exc).__name__
    return f"{errno.errorcode.get(exc.errno, exc.errno)} ({os.strerror(exc.errno)})"


def translate(
    exc: BaseException, remote: str, *, key: str | None = None
) -> BackendError | None:
    """The `BackendError` for a foreign exception, or None if it is not a storage error.

    Looks through the whole cause chain, most specific evidence first: an S3 error code, then
    a known connection/credential exception class, then an errno. A storage-looking exception
    matching nothing (an OSError with an unknown errno, any botocore error) still becomes a
    plain `BackendError`, so nothing raw leaks upward. The caller raises the result `from exc`.
    """
    if isinstance(exc, BackendError):
        return exc
    chain = _chain(exc)
    for link in chain:
        code = _s3_code(link)
        if code is not None:
            kind = _S3_CODES.get(code, BackendError)
            return _build(kind, remote, f"S3 error {code}", key)
    for link in chain:
        kind = _class_kind(link)
        if kind is not None:
            return _build(kind, remote, _class_detail(link), key)
    for link in chain:
        if isinstance(link, OSError):
            if isinstance(link, PermissionError):
                kind = AccessDenied
            elif isinstance(link, FileNotFoundError):
                kind = NotFound
            else:
                kind = _ERRNOS.get(link.errno or -1, BackendError)
            return _build(kind, remote, _errno_detail(link), key)
    if any(type(link).__module__.split(".")[0] in ("botocore", "aiobotocore", "aiohttp", "s3fs")
           for link in chain):
        return _build(BackendError, remote, type(exc).__name__, key)
    return None


def _build(kind: type[BackendError], remote: str, detail: str, key: str | None) -> BackendError:
    if kind is NotFound:
        return NotFound(remote, key=key)
    return kind(remote, detail, key=key)
