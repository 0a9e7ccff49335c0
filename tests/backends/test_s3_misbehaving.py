"""S3 endpoints that answer wrongly: a proxy in front of SeaweedFS that lies, and small fake
servers on loopback (tests/support/loopback_s3.py) for what SeaweedFS never does.

Each case ends in a translated error naming the remote, never in a deleted good copy, a hang or
memory growing with what the server sends.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from backends import Backend, BadAnswer, UnconfirmedWrite, Unreachable, open_backend
from backends import s3_bounded
from backends.s3 import MultipartUpload
from backends.upload_journal import UploadJournal
from tests.support.loopback_s3 import Lies, Misbehaviour, fake_s3, forwarding
from tests.support.seaweed import SeaweedServer

MiB = 1 << 20


def test_a_size_mismatch_after_a_write_deletes_nothing(s3_env: SeaweedServer, bucket: str) -> None:
    """Item 7: the size read back differs (a stale read, another writer): the object stays."""
    client = s3_env.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="arkeep/units/ab/good.zip", Body=b"the good copy")
    lies = Lies(head_size=lambda key, real: real + 7 if key.startswith("arkeep/units/") else None)
    with forwarding(s3_env.endpoint, lies) as proxy:
        backend = open_backend("cloud", f"s3://{bucket}/arkeep", endpoint_url=proxy)
        with pytest.raises(UnconfirmedWrite) as caught:
            with backend.open_write("units/ab/good.zip") as out:
                out.write(b"the new copy!")
    text = str(caught.value)
    assert "remote 'cloud' could not confirm a write ('units/ab/good.zip')" in text
    assert "sent 13 bytes, the store reports 20" in text and "left in place" in text
    assert any(seen.startswith("HEAD arkeep/units/ab/good.zip") for seen in lies.seen)
    stored = client.get_object(Bucket=bucket, Key="arkeep/units/ab/good.zip")["Body"].read()
    assert stored == b"the new copy!"


def test_a_part_the_server_fails_once_is_sent_again_whole(s3_env: SeaweedServer, bucket: str) -> None:
    """The client retries an UploadPart answered with a 500: the part's body (a file over the
    upload's buffer, not a copy) is read again from its start, and the object holds every byte
    once. The first part's buffer is reused for a later part only once its part is accepted."""
    client = s3_env.client()
    client.create_bucket(Bucket=bucket)
    data = random.Random(19).randbytes(23 * MiB)  # parts of 5 MiB: 1-4 whole, 5 the rest
    failed: list[str] = []

    def fail(command: str, key: str, query: str) -> int | None:
        if command == "PUT" and "partNumber=2&" in f"{query}&" and not failed:
            failed.append(key)
            return 500
        return None

    lies = Lies(fail=fail)
    with forwarding(s3_env.endpoint, lies) as proxy:
        backend = open_backend("cloud", f"s3://{bucket}/arkeep", endpoint_url=proxy,
                               part_size=5 * MiB, upload_concurrency=2)
        with backend.open_write("units/ab/unit.zip") as out:
            for start in range(0, len(data), 3 * MiB):      # writes that straddle the parts
                out.write(data[start:start + 3 * MiB])
    assert failed == ["arkeep/units/ab/unit.zip"]
    assert sum("failed with 500" in seen for seen in lies.seen) == 1
    head = client.head_object(Bucket=bucket, Key="arkeep/units/ab/unit.zip")
    assert head["ETag"].strip('"').endswith("-5")
    stored = client.get_object(Bucket=bucket, Key="arkeep/units/ab/unit.zip")["Body"].read()
    assert stored == data


# -- a fake endpoint on loopback (item 8: bounded; item 9: an unreadable answer) ----------------


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any credentials: the fake server checks no signature."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key")


def fake_backend(url: str, **options: object) -> Backend:
    return open_backend("cloud", "s3://bkt/arkeep", endpoint_url=url, **options)


def test_a_listing_in_malformed_xml_is_an_unreadable_answer(fake_env: None) -> None:
    with fake_s3(Misbehaviour(listing="malformed")) as url:
        with pytest.raises(BadAnswer) as caught:
            list(fake_backend(url).list("units/"))
    text = str(caught.value)
    assert text.startswith("remote 'cloud' gave an answer that could not be read")
    assert "cannot be reached" not in text and "network" not in text


@pytest.mark.parametrize("listing", ["endless", "endless-fresh"])
def test_a_listing_that_repeats_itself_ends(fake_env: None, listing: str) -> None:
    how = Misbehaviour(listing=listing)
    with fake_s3(how) as url:
        with pytest.raises(BadAnswer, match="listing repeats itself"):
            list(fake_backend(url).list("units/"))
    assert how.pages_served == 2


def test_a_listing_that_never_ends_stops_at_the_page_limit(
    fake_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_bounded, "MAX_LIST_PAGES", 5)
    how = Misbehaviour(listing="endless-growing")
    with fake_s3(how) as url:
        with pytest.raises(BadAnswer, match="did not end after 5 pages"):
            list(fake_backend(url).list("units/"))
    assert how.pages_served == 5


def test_a_body_that_ignores_the_range_is_refused_unread(fake_env: None, tmp_path: Path) -> None:
    how = Misbehaviour(objects={"arkeep/key.toml": 300}, body="ignores-range")
    with fake_s3(how) as url:
        backend = fake_backend(url)
        with pytest.raises(BadAnswer, match="the byte range was ignored"):
            with backend.open_read("key.toml") as f:
                f.read(64 * 1024)
        with pytest.raises(BadAnswer):
            backend.get_file("key.toml", tmp_path / "key.toml")
    assert how.bytes_sent < 200 * MiB < how.huge
    assert not (tmp_path / "key.toml").exists()


def test_a_body_longer_than_asked_is_cut_at_the_size_asked(fake_env: None, tmp_path: Path) -> None:
    how = Misbehaviour(objects={"arkeep/units/ab/unit.zip": 300}, body="overlong")
    with fake_s3(how) as url:
        backend = fake_backend(url)
        with backend.open_read("units/ab/unit.zip") as f:
            assert f.read() == b"x" * 300
        backend.get_file("units/ab/unit.zip", tmp_path / "unit.zip")
    assert (tmp_path / "unit.zip").read_bytes() == b"x" * 300
    assert how.bytes_sent < 200 * MiB < how.huge


def test_a_dribbled_body_ends_at_the_rate_floor(fake_env: None, tmp_path: Path) -> None:
    """One byte every 0.2 s against a floor of 100 bytes/s over 0.5 s windows."""
    how = Misbehaviour(objects={"arkeep/units/ab/unit.zip": 1000}, body="dribble")
    with fake_s3(how) as url:
        backend = fake_backend(url, min_rate=100, rate_window=0.5)
        with pytest.raises(Unreachable, match="below the floor of 100 bytes/s") as caught:
            with backend.open_read("units/ab/unit.zip") as f:
                f.read()
        assert "remote 'cloud'" in str(caught.value)
        with pytest.raises(Unreachable, match="below the floor"):
            backend.get_file("units/ab/unit.zip", tmp_path / "unit.zip")
    assert how.bytes_sent < 1000


# -- item 10: a writer's own unfinished uploads are aborted, whatever their age -------------------


def test_cleanup_aborts_the_uploads_its_journal_proves_were_its_own(
    s3_env: SeaweedServer, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = s3_env.client()
    url = f"s3://{bucket}/arkeep"
    journal = tmp_path / "uploads"
    first = open_backend("cloud", url, create_bucket=True, part_size=5 * MiB)
    first.journal_uploads(journal)
    # A writer that dies mid-upload (killed, or its abort lost with the server): nothing aborts.
    monkeypatch.setattr(MultipartUpload, "abort", lambda self: None)
    with pytest.raises(RuntimeError):
        with first.open_write("units/ab/big.zip") as out:
            out.write(b"x" * (6 * MiB))
            raise RuntimeError("killed")
    # A completed upload whose entry outlived it (killed between completing and forgetting).
    with first.open_write("units/ab/done.zip") as out:
        out.write(b"y" * (6 * MiB))
    done = client.create_multipart_upload(Bucket=bucket, Key="arkeep/units/ab/done.zip")
    client.abort_multipart_upload(Bucket=bucket, Key="arkeep/units/ab/done.zip",
                                  UploadId=done["UploadId"])
    UploadJournal(journal).add(bucket, "arkeep/units/ab/done.zip", done["UploadId"])
    # Uploads nobody can prove are ours: another machine's, young, and one outside the prefix.
    client.create_multipart_upload(Bucket=bucket, Key="arkeep/units/cd/elsewhere.zip")
    client.create_multipart_upload(Bucket=bucket, Key="other/units/ab/big.zip")
    assert len(UploadJournal(journal).entries()) == 2

    later = open_backend("cloud", url)
    later.journal_uploads(journal)
    # AWS answers NoSuchUpload for the finished one; SeaweedFS acknowledges the abort: 1 or 2.
    assert later.cleanup_temp(older_than=24 * 3600) in (1, 2)
    left = {u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}
    assert left == {"arkeep/units/cd/elsewhere.zip", "other/units/ab/big.zip"}
    assert UploadJournal(journal).entries() == []
    assert later.info("units/ab/done.zip").size == 6 * MiB


@pytest.mark.parametrize("size", [1 * MiB, 12 * MiB], ids=["put", "multipart"])
def test_an_upload_the_server_never_takes_ends_at_the_rate_floor(fake_env: None, size: int) -> None:
    """The server takes the body a byte every 0.2 s (a connection that never times out): with a
    floor of 20 MB/s over 0.5 s windows, the write ends as unreachable within seconds."""
    how = Misbehaviour(stall_puts=30)
    with fake_s3(how) as url:
        backend = fake_backend(url, part_size=5 * MiB, min_rate=20_000_000, rate_window=0.5)
        with pytest.raises(Unreachable) as caught:
            with backend.open_write("units/ab/unit.zip") as out:
                out.write(b"x" * size)
    text = str(caught.value)
    assert "remote 'cloud' cannot be reached ('units/ab/unit.zip')" in text
    assert "below the floor of 20,000,000 bytes/s" in text
    assert "arkeep/units/ab/unit.zip" not in how.objects


def test_an_endless_list_of_unfinished_uploads_ends(
    fake_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cleanup_temp (run by every sync) pages through unfinished uploads: at most
    MAX_LIST_PAGES pages, here 5."""
    import backends.s3 as s3_module
    monkeypatch.setattr(s3_module, "MAX_LIST_PAGES", 5)
    how = Misbehaviour(listing="endless-uploads")
    with fake_s3(how) as url:
        assert fake_backend(url).cleanup_temp(older_than=3600) == 0
    assert how.pages_served == 5


def test_a_listing_in_directory_tree_order_is_accepted(s3_env: SeaweedServer, bucket: str) -> None:
    """SeaweedFS lists `p/a/b` before `p/a-c` (its directory tree), not in UTF-8 order; that is
    no reason to call the listing unreadable."""
    client = s3_env.client()
    client.create_bucket(Bucket=bucket)
    keys = ["units/a/b", "units/a/z/y", "units/a-c", "units/a.d", "units/a0", "units/ab"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=f"arkeep/{key}", Body=b"x")
    backend = open_backend("cloud", f"s3://{bucket}/arkeep")
    assert sorted(u.key for u in backend.list("units/")) == sorted(keys)


@pytest.mark.parametrize("error, printed", [
    (ConnectionResetError("Cannot write to closing transport"), False),
    (ValueError("a bug of ours"), True),
], ids=["dropped-connection", "other-error"])
def test_a_body_cut_by_the_server_prints_no_traceback(
    fake_env: None, caplog: pytest.LogCaptureFixture, error: Exception, printed: bool
) -> None:
    """The server closes the connection while aiohttp's task sends a part: the upload raises
    Unreachable (the one line the user sees), and the orphaned sending task's exception, which
    nobody awaits any more, must not add asyncio's "Task exception was never retrieved" and a
    traceback to stderr. Any other orphaned exception is still reported."""
    import asyncio

    backend = fake_backend("http://127.0.0.1:9")

    async def sending() -> None:
        raise error

    async def orphaned() -> None:
        task = asyncio.ensure_future(sending())
        await asyncio.sleep(0)
        assert task.done()
        del task          # dropped unretrieved: asyncio reports it from the task's finaliser

    caplog.set_level("ERROR", logger="asyncio")
    asyncio.run_coroutine_threadsafe(orphaned(), backend.fs.loop).result(timeout=10)
    assert ("never retrieved" in caplog.text) is printed, caplog.text
