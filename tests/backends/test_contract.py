"""The backend contract (see backends/base.py), run against every kind of backend."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backends import (
    BackendError,
    InvalidKey,
    InvalidRemote,
    NotFound,
    UnitInfo,
    kind_of,
    open_backend,
    validate_key,
)
from backends.errors import AccessDenied, NoSpace, Unreachable, translate

from .conftest import Harness

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


class Boom(Exception):
    """Raised by a test inside a with-block."""


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes without holding a generator's state."""
    block = hashlib.sha256(f"{seed}".encode()).digest() * (MiB // 32)
    return (block * (size // len(block) + 1))[:size]


def write(harness: Harness, key: str, data: bytes, chunk: int = MiB) -> None:
    with harness.backend.open_write(key) as handle:
        for start in range(0, len(data), chunk):
            handle.write(data[start : start + chunk])


def read(harness: Harness, key: str) -> bytes:
    with harness.backend.open_read(key) as handle:
        return handle.read()


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * MiB + 7])
def test_round_trip(harness: Harness, size: int) -> None:
    data = payload(size, size)
    write(harness, "units/ab/unit.zip", data)
    assert read(harness, "units/ab/unit.zip") == data
    assert harness.backend.info("units/ab/unit.zip").size == size


def test_round_trip_larger_than_a_multipart_part(harness: Harness, tmp_path: Path) -> None:
    if harness.kind != "s3":
        pytest.skip("only S3 has parts")
    data = payload(40 * MiB, 40)
    write(harness, "units/big/streamed.zip", data, chunk=4 * MiB)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    harness.backend.put_file("units/big/put.zip", source)
    for key in ("units/big/streamed.zip", "units/big/put.zip"):
        back = tmp_path / key.replace("/", "_")
        harness.backend.get_file(key, back)
        assert back.read_bytes() == data
    assert {u.size for u in harness.backend.list("units/big/")} == {len(data)}
    assert not [e for e in harness.raw_entries() if e.startswith("upload:")]


def test_put_file_and_get_file(harness: Harness, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    source = local / "installer.exe"
    source.write_bytes(payload(2 * MiB + 3, 7))
    harness.backend.put_file("units/cd/installer.zip", source)
    target = local / "restored.zip"
    harness.backend.get_file("units/cd/installer.zip", target)
    assert target.read_bytes() == source.read_bytes()
    assert sorted(os.listdir(local)) == ["installer.exe", "restored.zip"]


def test_read_handle_is_seekable(harness: Harness) -> None:
    data = payload(100_000, 3)
    write(harness, "key.toml", data)
    with harness.backend.open_read("key.toml") as handle:
        assert handle.seekable() and handle.readable()
        handle.seek(50_000)
        assert handle.read(10) == data[50_000:50_010]
        assert handle.tell() == 50_010
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == data[-5:]


# -- exists / info / list -----------------------------------------------------------------


def test_exists_info_and_not_found(harness: Harness) -> None:
    backend = harness.backend
    assert not backend.exists("units/ab/missing.zip")
    with pytest.raises(NotFound) as caught:
        backend.info("units/ab/missing.zip")
    assert backend.name in str(caught.value)
    with pytest.raises(NotFound):
        with backend.open_read("units/ab/missing.zip"):
            pass
    write(harness, "units/ab/present.zip", b"x" * 10)
    assert backend.exists("units/ab/present.zip")
    info = backend.info("units/ab/present.zip")
    assert info == UnitInfo("units/ab/present.zip", 10, info.mtime)
    assert info.mtime is not None and info.mtime.tzinfo is not None
    assert not backend.exists("units/ab"), "a directory is not a key"


def test_get_file_of_missing_key_leaves_no_local_file(harness: Harness, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    with pytest.raises(NotFound):
        harness.backend.get_file("units/ab/missing.zip", local / "out.zip")
    assert os.listdir(local) == []


def test_list_sees_exactly_what_was_put(harness: Harness) -> None:
    keys = {
        "key.toml": 3,
        "units/ab/one.zip": 0,
        "units/ab/two.zip": 1234,
        "units/cd/three.zip": 5,
        "manifests/m.zip": 17,
    }
    for key, size in keys.items():
        write(harness, key, payload(size))
    harness.plant_leftover()
    listed = {u.key: u.size for u in harness.backend.list()}
    assert listed == keys
    assert {u.key for u in harness.backend.list("units/")} == {
        k for k in keys if k.startswith("units/")
    }
    assert {u.key for u in harness.backend.list("units/a")} == {
        "units/ab/one.zip", "units/ab/two.zip"
    }
    assert list(harness.backend.list("nothing/")) == []


def test_list_of_an_empty_remote_is_empty(harness: Harness) -> None:
    assert list(harness.backend.list()) == []


# -- overwrite / delete -------------------------------------------------------------------


def test_overwrite_replaces_the_whole_object(harness: Harness) -> None:
    write(harness, "units/ab/unit.zip", payload(5000, 1))
    write(harness, "units/ab/unit.zip", b"short")
    assert read(harness, "units/ab/unit.zip") == b"short"
    write(harness, "units/ab/unit.zip", b"")
    assert harness.backend.info("units/ab/unit.zip").size == 0, "the caller wrote zero bytes"


def test_delete(harness: Harness) -> None:
    write(harness, "units/ab/unit.zip", b"data")
    harness.backend.delete("units/ab/unit.zip")
    assert not harness.backend.exists("units/ab/unit.zip")
    harness.backend.delete("units/ab/unit.zip")
    harness.backend.delete("never/was.zip")


# -- atomicity ----------------------------------------------------------------------------


def test_nothing_is_visible_before_the_write_completes(harness: Harness) -> None:
    with harness.backend.open_write("units/ab/unit.zip") as handle:
        handle.write(b"partial")
        assert not harness.backend.exists("units/ab/unit.zip")
        assert list(harness.backend.list()) == []
    assert read(harness, "units/ab/unit.zip") == b"partial"


@pytest.mark.parametrize("size", [0, 1000, 17 * MiB])
def test_exception_in_open_write_leaves_nothing(harness: Harness, size: int) -> None:
    if size > MiB and harness.kind != "s3":
        pytest.skip("only S3 starts a multipart upload for large writes")
    before = harness.raw_entries()
    with pytest.raises(Boom):
        with harness.backend.open_write("units/ab/unit.zip") as handle:
            handle.write(payload(size))
            raise Boom
    assert not harness.backend.exists("units/ab/unit.zip")
    assert list(harness.backend.list()) == []
    assert harness.raw_entries() == before
    assert harness.backend.cleanup_temp() == 0


def test_exception_while_overwriting_keeps_the_old_object(harness: Harness) -> None:
    write(harness, "units/ab/unit.zip", b"the good copy")
    with pytest.raises(Boom):
        with harness.backend.open_write("units/ab/unit.zip") as handle:
            handle.write(b"a half-written replacement")
            raise Boom
    assert read(harness, "units/ab/unit.zip") == b"the good copy"
    assert harness.backend.cleanup_temp() == 0


def test_cleanup_temp_removes_crash_leftovers(harness: Harness) -> None:
    write(harness, "units/ab/unit.zip", b"keep me")
    harness.plant_leftover()
    assert len(harness.raw_entries()) == 2
    assert harness.backend.cleanup_temp() == 1
    assert harness.raw_entries() == {"units/ab/unit.zip"}
    assert harness.backend.cleanup_temp() == 0


def test_cleanup_temp_spares_a_write_in_progress_whatever_its_age(dir_harness: Harness) -> None:
    """A local write holds a lock on its temp file (backends/localfiles.py) until the rename:
    a cleaner, even one told to remove every leftover, leaves it alone."""
    backend = dir_harness.backend
    dir_harness.plant_leftover()
    with backend.open_write("units/ab/unit.zip") as handle:
        handle.write(b"a unit being written")
        handle.flush()
        assert backend.cleanup_temp(older_than=None) == 1          # the crashed one only
        temps = [e for e in dir_harness.raw_entries() if e.startswith("units/ab/.arkeep-tmp-")]
        assert len(temps) == 1
    assert read(dir_harness, "units/ab/unit.zip") == b"a unit being written"
    assert dir_harness.raw_entries() == {"units/ab/unit.zip"}


def test_check_passes(harness: Harness) -> None:
    harness.backend.check()


# -- keys ---------------------------------------------------------------------------------

BAD_KEYS = [
    "", "/abs/key", "a//b", "a/", "../up", "a/../b", "./a", "a/./b", "back\\slash",
    "ctl\x00", "tab\tkey", "new\nline", "sp ace", "ümlaut", "a:b", ".arkeep-tmp-x",
    "units/.arkeep-drive.toml", "x" * 600, "a/" + "b" * 256,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_rejected_everywhere(harness: Harness, key: str) -> None:
    backend = harness.backend
    for operation in (backend.exists, backend.info, backend.delete):
        with pytest.raises(InvalidKey):
            operation(key)
    with pytest.raises(InvalidKey):
        with backend.open_write(key):
            pass
    with pytest.raises(InvalidKey):
        with backend.open_read(key):
            pass
    assert harness.raw_entries() == set()


@pytest.mark.parametrize("key", ["key.toml", "units/ab/" + "0" * 64 + ".zip", "a-b_c.d/E9"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize("prefix", ["/", "../", "a//", "sp ace/"])
def test_invalid_list_prefixes(dir_harness: Harness, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        list(dir_harness.backend.list(prefix))


# -- the error table ----------------------------------------------------------------------


class FakeClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"An error occurred ({code}) with secret s3cr3tvalue")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 403}}


class EndpointConnectionError(Exception):
    kwargs = {"endpoint_url": "http://user:pw@host:9000/bucket?X-Amz-Signature=abc"}


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OSError(errno.ENOSPC, "No space left"), NoSpace),
        (PermissionError(errno.EACCES, "denied"), AccessDenied),
        (OSError(errno.EROFS, "read-only"), AccessDenied),
        (FileNotFoundError(errno.ENOENT, "gone"), NotFound),
        (OSError(errno.EIO, "io"), Unreachable),
        (TimeoutError(), Unreachable),
        (OSError(errno.EBADMSG, "odd"), BackendError),
        (FakeClientError("SignatureDoesNotMatch"), AccessDenied),
        (FakeClientError("InvalidAccessKeyId"), AccessDenied),
        (EndpointConnectionError(), Unreachable),
    ],
)
def test_error_table(exc: Exception, kind: type[BackendError]) -> None:
    error = translate(exc, "remote-x", key="units/a.zip")
    assert type(error) is kind
    assert error is not None and error.remote == "remote-x"
    text = str(error)
    assert "remote-x" in text and "\n" not in text
    assert "s3cr3tvalue" not in text and "pw" not in text and "Signature=" not in text


def test_error_table_looks_through_the_cause_chain() -> None:
    try:
        try:
            raise FakeClientError("NoSuchBucket")
        except FakeClientError as inner:
            raise FileNotFoundError("bucket/key") from inner
    except FileNotFoundError as outer:
        error = translate(outer, "r")
    assert type(error).__name__ == "BucketMissing"


def test_error_table_leaves_caller_errors_alone() -> None:
    assert translate(ValueError("a bug"), "r") is None
    assert translate(KeyError("x"), "r") is None


# -- import hygiene -----------------------------------------------------------------------


def test_backends_import_nothing_of_ours_and_nothing_heavy() -> None:
    code = (
        "import sys, backends\n"
        "backends.open_backend('d', '.')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('archive', 'manifests', 's3fs', 'boto3', 'botocore', 'aiobotocore')]\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    for source in (ROOT / "backends").glob("*.py"):
        text = source.read_text()
        assert "from archive" not in text and "import archive" not in text, source
        assert "from manifests" not in text and "import manifests" not in text, source


# -- building backends from URLs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/mnt/nas/arkeep", "dir"),
        ("relative/dir", "dir"),
        ("file:///mnt/nas", "dir"),
        ("drive://5d0c3a59-7a5e-4bd1-9b8e-2f7f0a6f4a10/arkeep", "drive"),
        ("s3://bucket/prefix", "s3"),
        ("memory://x", "fsspec"),
        ("sftp://host/path", "fsspec"),
    ],
)
def test_kind_of(url: str, kind: str) -> None:
    assert kind_of(url) == kind


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("drive://", {}),
        ("drive://not-a-uuid/x", {}),
        ("drive://5d0c3a59-7a5e-4bd1-9b8e-2f7f0a6f4a10/../x", {}),
        ("/tmp/x", {"bogus": 1}),
        ("nosuchprotocol://x", {}),
    ],
)
def test_open_backend_rejects_bad_remotes(url: str, options: dict[str, object]) -> None:
    with pytest.raises(InvalidRemote) as caught:
        open_backend("r1", url, **options)
    assert "'r1'" in str(caught.value)


def test_a_directory_remote_is_not_created_unless_asked(tmp_path: Path) -> None:
    backend = open_backend("nas", str(tmp_path / "not-mounted"))
    with pytest.raises(Unreachable):
        backend.check()
    with pytest.raises(Unreachable):
        with backend.open_write("units/ab/unit.zip") as handle:
            handle.write(b"x")
    assert not (tmp_path / "not-mounted").exists()
    assert open_backend("nas", f"file://{tmp_path}/made", create=True).url == str(
        tmp_path / "made"
    )
    assert (tmp_path / "made").is_dir()


def test_a_zip_streamed_into_open_write_reads_back(harness: Harness) -> None:
    """Sealing writes bundles straight into `open_write`: seekable or not, zipfile copes."""
    with harness.backend.open_write("units/ab/bundle.zip") as handle:
        with zipfile.ZipFile(handle, "w") as archive:
            with archive.open("0", "w") as entry:
                entry.write(payload(300_000, 9))
    with harness.backend.open_read("units/ab/bundle.zip") as handle:
        with zipfile.ZipFile(handle) as archive:
            assert archive.read("0") == payload(300_000, 9)


# -- local specifics --------------------------------------------------------------------------


def test_a_full_disk_is_no_space_and_leaves_nothing(
    dir_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(NoSpace) as caught:
        with dir_harness.backend.open_write("units/ab/unit.zip") as handle:
            handle.write(b"x" * 1000)
    assert "'nas'" in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    monkeypatch.undo()
    assert not dir_harness.backend.exists("units/ab/unit.zip")
    assert dir_harness.raw_entries() == set()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_a_read_only_directory_is_access_denied(dir_harness: Harness, tmp_path: Path) -> None:
    root = tmp_path / "nas" / "arkeep"
    root.chmod(0o555)
    try:
        with pytest.raises(AccessDenied):
            with dir_harness.backend.open_write("key.toml") as handle:
                handle.write(b"x")
    finally:
        root.chmod(0o755)


def test_listing_an_unmounted_directory_is_an_error_not_an_empty_remote(tmp_path: Path) -> None:
    backend = open_backend("nas", str(tmp_path / "mnt" / "nas"))
    with pytest.raises(Unreachable):
        list(backend.list())
