"""Replication targets behind one small protocol: opaque keys and bytes.

Imports nothing of arkeep's (never `archive` or `manifests`) and nothing heavy at import
time: fsspec, s3fs and boto3 load when a backend that needs them is built.
"""

from .base import Backend, UnitInfo, validate_key
from .drive import find_drive, init_drive
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
from .factory import drive_url, kind_of, normal_url, open_backend, place_of

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
