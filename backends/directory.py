"""A plain directory as a remote: another disk, a NAS mount, a synced folder."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import Unreachable, translate
from .fsspec_backend import FsspecBackend


def directory_path(url: str) -> Path:
    """The absolute path of a directory remote given as a path or a `file://` URL."""
    if url.startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL with a host is not a local directory: {url}")
        url = unquote(parts.path)
        if os.name == "nt" and len(url) > 2 and url[0] == "/" and url[2] == ":":
            url = url[1:]
    return Path(url).expanduser().absolute()


def open_directory(name: str, url: str, *, create: bool = False) -> FsspecBackend:
    """The backend for a local directory.

    The directory must exist unless `create` is true. That is deliberate: when a NAS is not
    mounted its mount point is an empty local directory's parent, and quietly creating the
    remote there would fill the system disk with "replicas" that are not on the NAS.
    """
    from fsspec.implementations.local import LocalFileSystem

    path = directory_path(url)
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            error = translate(exc, name) or Unreachable(name, str(path))
            error.rehint(f"could not make the folder {path}: check the path and its permissions")
            raise error from exc
    return FsspecBackend(name, str(path), LocalFileSystem(), path.as_posix())
