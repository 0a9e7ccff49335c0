"""S3 against a real server (SeaweedFS): failures that must be fast and clear, and the
bucket features the backend offers."""

from __future__ import annotations

import random
import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backends import (
    AccessDenied,
    BackendError,
    BucketMissing,
    InvalidRemote,
    MissingDependency,
    Unreachable,
    Unsupported,
    open_backend,
)
from backends import s3
from backends.s3 import S3Backend
from tests.support.seaweed import SeaweedServer

MiB = 1 << 20


def timed_failure(operation: Callable[[], object]) -> tuple[BackendError, float]:
    start = time.monotonic()
    with pytest.raises(BackendError) as caught:
        operation()
    return caught.value, time.monotonic() - start


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_wrong_secret_is_access_denied_fast(
    s3_env: SeaweedServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-" + s3_env.secret_key[::-1]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    for operation in ("check", "list"):
        backend = open_backend("cloud", f"s3://{bucket}/arkeep", create_bucket=True)
        error, took = timed_failure(lambda: list(backend.list()) if operation == "list"
                                    else backend.check())
        assert isinstance(error, AccessDenied), error
        assert took < 3
        text = str(error)
        assert "'cloud'" in text and "AWS_SECRET_ACCESS_KEY" in text
        assert wrong not in text and s3_env.secret_key not in text


def test_unknown_access_key_is_access_denied(
    s3_env: SeaweedServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKNOSUCHKEY")
    error, _ = timed_failure(open_backend("cloud", f"s3://{bucket}").check)
    assert isinstance(error, AccessDenied)


def test_no_credentials_at_all_is_access_denied(
    s3_env: SeaweedServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    error, took = timed_failure(open_backend("cloud", f"s3://{bucket}").check)
    assert isinstance(error, AccessDenied), error
    assert "NoCredentialsError" in str(error) and took < 5


def test_closed_port_is_unreachable_fast(s3_env: SeaweedServer, closed_port: int) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    backend = open_backend("cloud", "s3://bucket/arkeep", endpoint_url=endpoint)
    error, took = timed_failure(lambda: backend.exists("key.toml"))
    assert isinstance(error, Unreachable), error
    assert took < 10
    assert "'cloud'" in str(error) and endpoint in str(error)


def test_credentials_in_an_endpoint_never_reach_a_message(
    s3_env: SeaweedServer, closed_port: int
) -> None:
    endpoint = f"http://user:s3cr3tvalue@127.0.0.1:{closed_port}"
    error, _ = timed_failure(
        lambda: open_backend("cloud", "s3://bucket", endpoint_url=endpoint).check()
    )
    assert "s3cr3tvalue" not in str(error)


def test_silent_port_is_unreachable_within_seconds(
    s3_env: SeaweedServer, silent_port: int
) -> None:
    backend = open_backend("cloud", "s3://bucket", endpoint_url=f"http://127.0.0.1:{silent_port}")
    error, took = timed_failure(backend.check)
    assert isinstance(error, Unreachable), error
    # Two attempts of a 5 s read timeout: ~10.5 s here. The bound leaves room for a loaded CI
    # machine and still fails botocore's defaults (60 s per read, five retries: minutes).
    assert took < 25


def test_missing_bucket(s3_env: SeaweedServer, bucket: str) -> None:
    error, _ = timed_failure(open_backend("cloud", f"s3://{bucket}/arkeep").check)
    assert isinstance(error, BucketMissing)
    assert bucket in str(error) and "create_bucket" in str(error)
    error, _ = timed_failure(lambda: list(open_backend("cloud", f"s3://{bucket}").list()))
    assert isinstance(error, BucketMissing)

    open_backend("cloud", f"s3://{bucket}/arkeep", create_bucket=True).check()
    s3_env.client().head_bucket(Bucket=bucket)
    open_backend("cloud", f"s3://{bucket}/arkeep").check()


def test_bucket_deleted_while_in_use(s3_env: SeaweedServer, bucket: str) -> None:
    backend = open_backend("cloud", f"s3://{bucket}", create_bucket=True)
    backend.check()
    s3_env.client().delete_bucket(Bucket=bucket)
    error, _ = timed_failure(lambda: list(backend.list()))
    assert isinstance(error, BucketMissing)


def test_versioning_is_switched_on(s3_env: SeaweedServer, bucket: str) -> None:
    backend = open_backend("cloud", f"s3://{bucket}/v", create_bucket=True, versioning=True)
    assert isinstance(backend, S3Backend)
    assert backend.features().versioning
    for data in (b"one", b"two"):
        with backend.open_write("key.toml") as handle:
            handle.write(data)
    versions = s3_env.client().list_object_versions(Bucket=bucket, Prefix="v/key.toml")
    assert len(versions["Versions"]) == 2
    assert [u.key for u in backend.list()] == ["key.toml"]


def test_object_lock_retention_on_every_write(
    s3_env: SeaweedServer, bucket: str, tmp_path: Path
) -> None:
    backend = open_backend(
        "cloud", f"s3://{bucket}/locked", create_bucket=True,
        lock_mode="GOVERNANCE", lock_days=2,
    )
    assert isinstance(backend, S3Backend)
    assert backend.features().object_lock
    with backend.open_write("units/a.zip") as handle:
        handle.write(b"streamed")
    source = tmp_path / "file.bin"
    source.write_bytes(b"uploaded")
    backend.put_file("units/b.zip", source)
    client = s3_env.client()
    soon = datetime.now(timezone.utc) + timedelta(days=2)
    for key in ("locked/units/a.zip", "locked/units/b.zip"):
        retention = client.get_object_retention(Bucket=bucket, Key=key)["Retention"]
        assert retention["Mode"] == "GOVERNANCE"
        assert abs(retention["RetainUntilDate"] - soon) < timedelta(minutes=5)


def test_object_lock_on_a_bucket_without_it_is_refused(s3_env: SeaweedServer, bucket: str) -> None:
    open_backend("plain", f"s3://{bucket}", create_bucket=True).check()
    backend = open_backend("cloud", f"s3://{bucket}", lock_mode="COMPLIANCE", lock_days=1)
    error, _ = timed_failure(backend.check)
    assert isinstance(error, Unsupported)
    assert "Object Lock" in str(error)


def test_storage_class_on_every_write(s3_env: SeaweedServer, bucket: str, tmp_path: Path) -> None:
    """A small object (one PutObject) and a large one (a multipart upload) alike."""
    backend = open_backend(
        "cloud", f"s3://{bucket}", create_bucket=True, storage_class="STANDARD_IA",
        part_size=5 * MiB,
    )
    with backend.open_write("a.zip") as handle:
        handle.write(b"x")
    source = tmp_path / "b.bin"
    source.write_bytes(b"y")
    backend.put_file("b.zip", source)
    with backend.open_write("c.zip") as handle:
        handle.write(b"z" * (6 * MiB))
    client = s3_env.client()
    assert client.head_object(Bucket=bucket, Key="c.zip")["ETag"].strip('"').endswith("-2")
    for key in ("a.zip", "b.zip", "c.zip"):
        assert client.head_object(Bucket=bucket, Key=key)["StorageClass"] == "STANDARD_IA"


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("s3://", {}),
        ("s3://Bad_Bucket/x", {}),
        ("s3://bucket/../x", {}),
        ("s3://user:pw@bucket/x", {}),
        ("s3://bucket/x", {"no_such_option": 1}),
        ("s3://bucket/x", {"lock_mode": "FOREVER", "lock_days": 1}),
        ("s3://bucket/x", {"lock_mode": "GOVERNANCE"}),
        ("s3://bucket/x", {"part_size": 1024}),
    ],
)
def test_invalid_remote_configuration(url: str, options: dict[str, object]) -> None:
    with pytest.raises(InvalidRemote) as caught:
        open_backend("cloud", url, **options)
    assert "'cloud'" in str(caught.value) and "pw" not in str(caught.value)


def test_missing_s3fs_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(MissingDependency) as caught:
        open_backend("cloud", "s3://bucket/x")
    assert "pip install 's3fs>=2025.9.0' 'boto3>=1.41'" in str(caught.value)
    assert "needs a Python package that is not installed: s3fs, boto3;" in str(caught.value)
    assert "'cloud'" in str(caught.value)


def test_streamed_writes_are_multipart_with_parts_of_the_configured_size(
    s3_env: SeaweedServer, bucket: str
) -> None:
    backend = open_backend("cloud", f"s3://{bucket}", create_bucket=True, part_size=5 * MiB,
                           upload_concurrency=2)
    with backend.open_write("units/big.zip") as handle:
        for _ in range(23):
            handle.write(b"\x5a" * MiB)
    head = s3_env.client().head_object(Bucket=bucket, Key="units/big.zip")
    assert head["ContentLength"] == 23 * MiB
    assert head["ETag"].strip('"').endswith("-5"), "4 full parts of 5 MiB and the rest"


def test_a_long_stream_doubles_its_part_size(
    s3_env: SeaweedServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every GROW_EVERY parts the part size doubles (2,500 in use; 2 here): 5, 5, 10, 10 MiB
    and the rest is 5 parts where a constant 5 MiB would take 7."""
    monkeypatch.setattr(s3, "GROW_EVERY", 2)
    backend = open_backend("cloud", f"s3://{bucket}", create_bucket=True, part_size=5 * MiB)
    data = random.Random(7).randbytes(33 * MiB)
    with backend.open_write("units/long.zip") as handle:
        for start in range(0, len(data), 4 * MiB):
            handle.write(data[start:start + 4 * MiB])
    head = s3_env.client().head_object(Bucket=bucket, Key="units/long.zip")
    assert head["ETag"].strip('"').endswith("-5")
    assert s3_env.client().get_object(Bucket=bucket, Key="units/long.zip")["Body"].read() == data


def test_an_upload_that_vanishes_mid_write_is_a_translated_error(
    s3_env: SeaweedServer, bucket: str
) -> None:
    backend = open_backend("cloud", f"s3://{bucket}", create_bucket=True, part_size=5 * MiB)
    client = s3_env.client()
    with pytest.raises(BackendError) as caught:
        with backend.open_write("units/unit.zip") as handle:
            handle.write(b"\x01" * 6 * MiB)
            [upload] = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            handle.write(b"\x02" * 6 * MiB)
    assert "NoSuchUpload" in str(caught.value)
    assert not backend.exists("units/unit.zip")
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket)


def test_an_unknown_profile_is_access_denied(s3_env: SeaweedServer) -> None:
    with pytest.raises(AccessDenied) as caught:
        open_backend("cloud", "s3://bucket", profile="no-such-profile")
    assert "ProfileNotFound" in str(caught.value)


def test_a_region_outside_us_east_1_creates_the_bucket_there(
    s3_env: SeaweedServer, bucket: str
) -> None:
    backend = open_backend("cloud", f"s3://{bucket}", create_bucket=True, region="eu-west-1")
    backend.check()
    s3_env.client().head_bucket(Bucket=bucket)
