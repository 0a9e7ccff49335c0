"""Replication targets behind one small protocol: opaque keys and bytes.

Imports nothing of arkeep's (never `archive` or `manifests`) and nothing heavy at import
time: fsspec, s3fs and boto3 load when a backend that needs them is built.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AccessDenied,
    BackendError,
    BadAnswer,
    BucketMissing,
    InvalidKey,
    InvalidRemote,
    MissingDependency,
    NoSpace,
    NotConnected,
    NotFound,
    UnconfirmedWrite,
    Unreachable,
    Unsupported,
)

if TYPE_CHECKING:
    from .base import Backend, UnitInfo, validate_key
    from .drive import find_drive, init_drive
    from .factory import drive_url, kind_of, normal_url, open_backend, place_of

# Loaded on first use: `archive` reaches backends.localfiles (its durable writes) on every
# command, and most commands never open a remote.
_LAZY = {"Backend": "base", "UnitInfo": "base", "validate_key": "base", "find_drive": "drive",
         "init_drive": "drive", "drive_url": "factory", "kind_of": "factory",
         "normal_url": "factory", "open_backend": "factory", "place_of": "factory"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backends' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AccessDenied",
    "Backend",
    "BackendError",
    "BadAnswer",
    "BucketMissing",
    "InvalidKey",
    "InvalidRemote",
    "MissingDependency",
    "NoSpace",
    "NotConnected",
    "NotFound",
    "UnconfirmedWrite",
    "UnitInfo",
    "Unreachable",
    "Unsupported",
    "drive_url",
    "find_drive",
    "init_drive",
    "kind_of",
    "normal_url",
    "open_backend",
    "place_of",
    "validate_key",
]
