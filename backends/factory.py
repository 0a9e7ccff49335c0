"""Build the backend for a remote from its URL and options.

| kind    | URL                                   | options                                   |
|---------|---------------------------------------|-------------------------------------------|
| `dir`   | `/path`, `~/path`, `file:///path`     | `create`                                  |
| `drive` | `drive://<uuid>/<subdir>`             | `last_seen`, `where_added`                |
| `s3`    | `s3://bucket/prefix`                  | the fields of `S3Options`                 |
| `fsspec`| any other fsspec URL (`memory://x`)   | `create`, the rest go to the filesystem   |

Each kind's module is imported only when it is built, so `import backends` stays cheap.
"""

from __future__ import annotations

import dataclasses
import os
import uuid as uuidlib
from typing import Any
from urllib.parse import urlsplit

from .base import Backend, key_problem
from .errors import BackendError, InvalidRemote, MissingDependency, safe_url

KINDS = ("dir", "drive", "s3", "fsspec")


def kind_of(url: str) -> str:
    """The kind of remote a URL names (see the table above)."""
    scheme = urlsplit(url).scheme.lower()
    if not scheme or scheme == "file" or (os.name == "nt" and len(scheme) == 1):
        return "dir"
    if scheme in ("drive", "s3"):
        return scheme
    return "fsspec"


def normal_url(name: str, url: str) -> str:
    """The one spelling of a remote's URL, so that the same place is always written the same way.

    A directory: absolute, `~` expanded, `file://` dropped, `.`/`..` and trailing slashes removed
    (symlinks are kept: see `place_of`). S3: `s3://bucket/prefix`, no trailing slash. A drive:
    `drive://<uuid>/<subdir>`. Any other URL: its trailing slashes removed. Raises
    `InvalidRemote` for a URL its kind cannot use.
    """
    kind = kind_of(url)
    try:
        if kind == "dir":
            from .directory import directory_path

            return os.path.normpath(directory_path(url))
        if kind == "s3":
            from .s3 import parse_s3_url

            bucket, prefix = parse_s3_url(name, url)
            return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        if kind == "drive":
            uuid, subdir = parse_drive_url(name, url)
            return drive_url(str(uuidlib.UUID(uuid)), subdir)
    except ValueError as exc:
        raise InvalidRemote(name, f"{safe_url(url)}: {exc}") from exc
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    return f"{scheme.lower()}://{rest.rstrip('/')}" if scheme else url.rstrip("/")


def place_of(name: str, url: str, endpoint_url: str | None = None) -> str:
    """What two remotes share when they are the same place: for a directory its real path
    (symlinks resolved), for S3 the endpoint with bucket and prefix, else the normal URL."""
    normal = normal_url(name, url)
    kind = kind_of(normal)
    if kind == "dir":
        return os.path.realpath(normal)
    if kind == "s3":
        endpoint = (endpoint_url or "").rstrip("/").lower()
        return f"{endpoint}|{normal}"
    return normal


def drive_url(uuid: str, subdir: str = "") -> str:
    """The URL of a drive remote, from what `init_drive` returned and a folder on the drive."""
    return f"drive://{uuid}/{subdir}"


def parse_drive_url(name: str, url: str) -> tuple[str, str]:
    """(uuid, subdir) of `drive://<uuid>/<subdir>`."""
    parts = urlsplit(url)
    subdir = parts.path.strip("/")
    problem = key_problem(subdir) if subdir else None
    if problem:
        raise InvalidRemote(name, f"invalid folder {subdir[:80]!r} on the drive: {problem}")
    if not parts.netloc:
        raise InvalidRemote(name, f"no drive UUID in {url!r}")
    return parts.netloc, subdir


def open_backend(name: str, url: str, **options: Any) -> Backend:
    """The backend for remote `name` at `url`; raises `InvalidRemote` for a bad URL/option."""
    kind = kind_of(url)
    try:
        if kind == "dir":
            from .directory import open_directory

            return open_directory(name, url, **options)
        if kind == "drive":
            from .drive import DriveBackend

            uuid, subdir = parse_drive_url(name, url)
            return DriveBackend(name, uuid, subdir, **options)
        if kind == "s3":
            from .s3 import S3Backend, S3Options

            return S3Backend(name, url, S3Options(**options))
        return open_fsspec(name, url, **options)
    except BackendError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidRemote(name, f"{safe_url(url)}: {exc}") from exc


def open_fsspec(name: str, url: str, *, create: bool = False, **storage_options: Any) -> Backend:
    """A backend for any URL fsspec knows (`memory://`, `sftp://`, `smb://`, ...)."""
    import fsspec
    from fsspec.registry import known_implementations

    from .fsspec_backend import FsspecBackend

    protocol = urlsplit(url).scheme
    try:
        fs, root = fsspec.url_to_fs(url, **storage_options)
    except ImportError as exc:
        advice = known_implementations.get(protocol, {}).get("err")
        raise MissingDependency(name, (protocol,), hint=advice) from exc
    backend = FsspecBackend(name, safe_url(url), fs, root)
    if create:
        with backend._guard():
            fs.makedirs(root, exist_ok=True)
    return backend


def s3_option_names() -> tuple[str, ...]:
    """The option names an s3 remote accepts, without importing s3fs or boto3."""
    from .s3 import S3Options

    return tuple(field.name for field in dataclasses.fields(S3Options))
