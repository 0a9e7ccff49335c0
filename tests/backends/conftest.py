"""Fixtures for the backend tests: one harness per kind of backend, and the S3 server."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends import Backend, drive_url, init_drive, open_backend
from backends.base import TEMP_PREFIX
from tests.support import seaweed
from tests.support.seaweed import SeaweedServer

s3_server = pytest.fixture(scope="session", name="s3_server")(seaweed.s3_server)

KINDS = ("dir", "drive", "memory", "s3")


@pytest.fixture(autouse=True)
def isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may pick up the developer's AWS config, credentials or instance role."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_env(s3_server: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> SeaweedServer:
    """The AWS credential chain and endpoint pointed at the test server."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def bucket(s3_server: SeaweedServer) -> str:
    """A fresh bucket name, not yet created."""
    return s3_server.new_bucket_name()


@dataclass
class Harness:
    """A backend plus kind-specific ways to look behind it."""

    kind: str
    backend: Backend
    raw_entries: Callable[[], set[str]]
    """Everything physically there, temp files and unfinished uploads included."""
    plant_leftover: Callable[[], None]
    """Leave what a write killed halfway would leave."""


def _local_harness(kind: str, backend: Backend, root: Callable[[], Path]) -> Harness:
    def raw_entries() -> set[str]:
        base = root()
        return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}

    def plant_leftover() -> None:
        folder = root() / "units" / "zz"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{TEMP_PREFIX}crashed").write_bytes(b"half a unit")

    return Harness(kind, backend, raw_entries, plant_leftover)


@pytest.fixture
def dir_harness(tmp_path: Path) -> Harness:
    root = tmp_path / "nas" / "arkeep"
    backend = open_backend("nas", str(root), create=True)
    return _local_harness("dir", backend, lambda: root)


@pytest.fixture
def drive_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    mounts = tmp_path / "media"
    drive = mounts / "USB-STICK"
    drive.mkdir(parents=True)
    uuid = init_drive(drive)
    monkeypatch.setenv("ARKEEP_DRIVE_PATHS", str(mounts))
    backend = open_backend("usb", drive_url(uuid, "arkeep"))
    return _local_harness("drive", backend, lambda: drive / "arkeep")


@pytest.fixture
def memory_harness() -> Iterator[Harness]:
    backend = open_backend("mem", f"memory://arkeep-{secrets.token_hex(6)}", create=True)
    fs = backend.fs  # type: ignore[attr-defined]
    root = backend.root()  # type: ignore[attr-defined]

    def raw_entries() -> set[str]:
        return {p[len(root) + 1 :] for p in fs.find(root)}

    def plant_leftover() -> None:
        fs.pipe_file(f"{root}/units/zz/{TEMP_PREFIX}crashed", b"half a unit")

    yield Harness("memory", backend, raw_entries, plant_leftover)
    fs.rm(root, recursive=True)


@pytest.fixture
def s3_harness(s3_env: SeaweedServer, bucket: str) -> Harness:
    backend = open_backend("cloud", f"s3://{bucket}/arkeep", create_bucket=True)
    backend.check()
    client = s3_env.client()

    def raw_entries() -> set[str]:
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return {o["Key"].removeprefix("arkeep/") for o in objects} | {
            "upload:" + u["Key"].removeprefix("arkeep/") for u in uploads
        }

    def plant_leftover() -> None:
        client.create_multipart_upload(Bucket=bucket, Key="arkeep/units/zz/crashed.zip")

    return Harness("s3", backend, raw_entries, plant_leftover)


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest) -> Harness:
    """The contract suite's subject: each kind of backend in turn."""
    return request.getfixturevalue(f"{request.param}_harness")
