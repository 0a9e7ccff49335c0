"""S3 remotes through the command line: what the user sees when credentials or the endpoint are wrong.

Run as separate processes without a terminal (as cron would), so that each run builds its S3
clients from the environment afresh.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path


import pytest

from archive.replicate.ledger import PRESENT, UNKNOWN, Ledger
from archive.storage.store import Store
from archive.replicate.units import UnitNamer
from tests.archive.replication_support import (
    PRODUCT,
    add_sample,
    dir_listing,
    s3_listing,
    wanted_keys,
)
from tests.conftest import PASSPHRASE, run_arkeep
from tests.support.loopback_s3 import Lies, forwarding


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**changes: str) -> dict[str, str]:
    out = dict(os.environ)
    out.update(changes)
    return out


def assert_one_clean_line(err: str, *secrets: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("arkeep: error: ")
    assert "Traceback" not in err
    for secret in secrets:
        assert secret not in err


def test_remote_add_with_a_wrong_secret_key(cli, store_dir: Path, s3_env) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{s3_env.new_bucket_name('creds')}/arkeep"
    wrong = "wrong" + s3_env.secret_key[5:]
    started = time.monotonic()
    result = run_arkeep("remote", "add", "cloud", url, env=env(AWS_SECRET_ACCESS_KEY=wrong))
    assert time.monotonic() - started < 10
    assert result.returncode == 3, result.stderr
    assert_one_clean_line(result.stderr, wrong, s3_env.secret_key)
    assert "remote 'cloud' denied access" in result.stderr
    assert wrong not in result.stdout and s3_env.secret_key not in result.stdout
    assert json.loads(cli("remote", "list", "--json").out) == []   # not added


def test_remote_add_with_an_unknown_access_key(store_dir: Path, s3_env) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{s3_env.new_bucket_name('creds')}/arkeep"
    result = run_arkeep("remote", "add", "cloud", url, env=env(AWS_ACCESS_KEY_ID="AKNOBODY"))
    assert result.returncode == 3
    assert_one_clean_line(result.stderr, s3_env.secret_key)
    assert "remote 'cloud'" in result.stderr


def test_sync_to_a_closed_port_fails_fast_naming_the_remote(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            s3_env) -> None:
    add_sample(cli, tmp_path)
    bucket = s3_env.new_bucket_name("closed")
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    endpoint = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = run_arkeep("sync", env=env(AWS_ENDPOINT_URL=endpoint))
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cloud: FAILED: remote 'cloud' cannot be reached" in result.stderr
    assert endpoint in result.stderr and "Traceback" not in result.stderr
    assert s3_env.secret_key not in result.stdout + result.stderr
    # The other remote went on.
    assert "nas: sent" in result.stdout
    assert dir_listing(tmp_path / "nas") == wanted_keys(store_dir)
    # And when the endpoint is back, the bucket catches up.
    assert cli("sync").code == 0
    assert s3_listing(s3_env, bucket, "arkeep") == wanted_keys(store_dir)


def test_remote_add_to_a_closed_port(store_dir: Path, s3_env) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{s3_env.new_bucket_name('closed')}/arkeep"
    started = time.monotonic()
    result = run_arkeep("remote", "add", "cloud", url, "--endpoint-url",
                        f"http://127.0.0.1:{closed_port()}")
    assert time.monotonic() - started < 10
    assert result.returncode == 3
    assert_one_clean_line(result.stderr, s3_env.secret_key)
    assert "remote 'cloud' cannot be reached" in result.stderr


def test_a_missing_bucket_that_may_not_be_created(store_dir: Path, s3_env) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{s3_env.new_bucket_name('absent')}/arkeep"
    result = run_arkeep("remote", "add", "cloud", url, "--no-create-bucket")
    assert result.returncode == 3
    assert_one_clean_line(result.stderr, s3_env.secret_key)
    assert "remote 'cloud'" in result.stderr and "bucket" in result.stderr.lower()


def test_sync_with_wrong_credentials_keeps_the_ledger_honest(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                             s3_env) -> None:
    add_sample(cli, tmp_path)
    bucket = s3_env.new_bucket_name("later")
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    result = run_arkeep("sync", "--json", env=env(AWS_SECRET_ACCESS_KEY="x" * 30))
    assert result.returncode == 3
    rows = json.loads(result.stdout)
    assert rows == [{"remote": "cloud", "status": "failed", "message": rows[0]["message"]}]
    assert "denied access" in rows[0]["message"]
    where = json.loads(cli("whereis", "acme-studio@7.5.1", "--json").out)
    assert all(i["copies"]["cloud"]["state"] == "unknown" for i in where["items"])


def test_sync_never_deletes_a_manifest_whose_size_reads_back_wrong(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11, item 7: the size read back after overwriting a release's manifest differs (a
    store with stale reads, two writers): the unit stays in the bucket, the ledger says unknown
    rather than present, and the next sync checks it again."""
    sample = add_sample(cli, tmp_path)
    bucket = s3_env.new_bucket_name("stale")
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    assert cli("sync").code == 0
    invoice = tmp_path / "invoice-2.pdf"
    invoice.write_bytes(b"%PDF-1.4 a second invoice\n")
    assert cli("add", invoice, "--product", PRODUCT, "--version", "7.5.1").code == 0
    store = Store.open(store_dir)
    manifest = UnitNamer(store.unlock(PASSPHRASE)).release(sample.rid)
    lies = Lies(head_size=lambda key, real: real + 1 if key == f"arkeep/{manifest.key}" else None)
    with forwarding(s3_env.endpoint, lies) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy)
        result = cli("sync")
    assert result.code == 3, result.err
    assert "remote 'cloud' could not confirm a write" in result.err
    assert manifest.key in s3_listing(s3_env, bucket, "arkeep")
    with Ledger(store.state_dir / "ledger.sqlite") as ledger:
        assert ledger.by_unit("cloud")[manifest.name].state == UNKNOWN
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint)
    assert cli("sync").code == 0
    with Ledger(store.state_dir / "ledger.sqlite") as ledger:
        assert ledger.by_unit("cloud")[manifest.name].state == PRESENT
    assert s3_listing(s3_env, bucket, "arkeep") == wanted_keys(store_dir)
    verified = cli("verify", "--remote", "cloud")
    assert verified.code == 0, verified.out + verified.err


# -- a misbehaving endpoint (issue 11, items 8 and 9): exit 3 naming the remote, bounded memory ----

MEMORY_LIMIT_MB = 150
PEAK = """
import json, resource, subprocess, sys
try:
    proc = subprocess.run([sys.executable, "-m", "archive", *sys.argv[1:]], capture_output=True,
                          text=True, timeout=120)
    code, err, out = proc.returncode, proc.stderr, proc.stdout
except subprocess.TimeoutExpired as exc:
    code, err, out = None, "still running after 120 s", ""
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "stderr": err, "stdout": out, "maxrss_kib": usage.ru_maxrss}))
"""


def peak_run(*args: str | Path) -> tuple[int | None, str, float]:
    """Exit code, stderr (stdout where stderr is empty) and peak RSS (MB) of one arkeep run in a
    fresh wrapper process."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", PEAK, *map(str, args)], capture_output=True,
                         text=True, check=True, start_new_session=True).stdout
    data = json.loads(out)
    return data["code"], data["stderr"] or data["stdout"], data["maxrss_kib"] / 1024


@pytest.fixture
def fake_endpoint(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Start a fake S3 endpoint behaving as asked; the AWS chain points at it."""
    from contextlib import ExitStack

    from tests.support.loopback_s3 import fake_s3
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    stack = ExitStack()

    def start(how):  # type: ignore[no-untyped-def]
        url = stack.enter_context(fake_s3(how))
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        return url
    with stack:
        yield start


@pytest.mark.parametrize("verb", [("verify", "--remote", "cloud"), ("sync", "cloud")])
def test_an_endless_listing_ends_with_exit_3_in_bounded_memory(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, fake_endpoint, verb: tuple[str, ...]) -> None:
    from tests.support.loopback_s3 import Misbehaviour
    add_sample(cli, tmp_path)
    fake_endpoint(Misbehaviour(listing="endless-fresh"))
    assert cli("remote", "add", "cloud", "s3://bkt/arkeep").code == 0
    code, err, peak = peak_run(*verb)
    print(f"{' '.join(verb)}: exit {code}, peak RSS {peak:.1f} MB")
    assert code == 3, err
    assert "Traceback" not in err
    assert "remote 'cloud' gave an answer that could not be read" in err
    assert peak < MEMORY_LIMIT_MB


def test_rebuild_from_an_endpoint_that_ignores_range_ends_with_exit_3_in_bounded_memory(  # type: ignore[no-untyped-def]
        tmp_path: Path, fake_endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.loopback_s3 import Misbehaviour
    how = Misbehaviour(objects={"arkeep/key.toml": 300}, body="ignores-range")
    fake_endpoint(how)
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "a passphrase that never gets used")
    code, err, peak = peak_run("--store", tmp_path / "new-store", "rebuild", "--from",
                               "s3://bkt/arkeep")
    print(f"rebuild: exit {code}, peak RSS {peak:.1f} MB, server sent {how.bytes_sent:,} bytes")
    assert code == 3, err
    assert_one_clean_line(err)
    assert "gave an answer that could not be read" in err and "key.toml" in err
    assert peak < MEMORY_LIMIT_MB


def test_a_listing_in_malformed_xml_says_the_answer_could_not_be_read(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, fake_endpoint) -> None:
    from tests.support.loopback_s3 import Misbehaviour
    add_sample(cli, tmp_path)
    fake_endpoint(Misbehaviour(listing="malformed"))
    assert cli("remote", "add", "cloud", "s3://bkt/arkeep").code == 0
    result = run_arkeep("sync", "cloud")
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cloud: FAILED: "), result.stderr
    assert "remote 'cloud' gave an answer that could not be read" in result.stderr
    assert "cannot be reached" not in result.stderr


def test_a_sync_killed_mid_upload_leaves_no_upload_open_after_the_next_sync(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env) -> None:
    """Issue 11, item 10: a writer killed in the middle of a multipart upload leaves it open (its
    parts billed); the next sync of the same store aborts it at once, not only a day later,
    and leaves alone an upload it cannot prove is its own."""
    import signal
    import subprocess
    import sys
    add_sample(cli, tmp_path, size=48 * 1024 * 1024)
    bucket = s3_env.new_bucket_name("orphans")
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep").code == 0
    client = s3_env.client()
    foreign = client.create_multipart_upload(Bucket=bucket, Key="arkeep/units/zz/another.zip")

    def ours() -> list[str]:
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix="arkeep/").get("Uploads", [])
        return [u["UploadId"] for u in uploads if u["UploadId"] != foreign["UploadId"]]

    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "archive", "sync", "cloud"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        # Killed once its upload is recorded: a kill between the server handing out the upload
        # id and the record being written leaves one only the 24-hour rule catches.
        journal = store_dir / "state" / "uploads" / "cloud"
        while proc.poll() is None and not (ours() and list(journal.glob("*.json"))):
            time.sleep(0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)   # the process we started, by its pid
            proc.wait()
            break
        proc.wait()
        for key in wanted_keys(store_dir):      # it finished first: start from nothing again
            client.delete_object(Bucket=bucket, Key=f"arkeep/{key}")
    else:
        raise AssertionError("never caught the sync in the middle of an upload")
    assert ours()
    result = run_arkeep("sync", "cloud")
    assert result.returncode == 0, result.stderr
    assert ours() == []
    left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in left] == [foreign["UploadId"]]
    assert s3_listing(s3_env, bucket, "arkeep") == wanted_keys(store_dir)
