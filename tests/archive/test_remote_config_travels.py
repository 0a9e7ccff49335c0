"""Issue 12 item 13: `rebuild --from` brings back every remote, not only an `origin`.

The remotes' configuration (names, URLs, kinds, drive UUIDs and where each drive was added,
offsite flags, the S3 endpoint seen at `remote add`; never credentials) travels sealed inside
key.toml: a replica shows none of it in clear, and a rebuilt store syncs to every remote again.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.archive.replication_support import add_sample, dir_listing, s3_listing, wanted_keys


def remote_rows(cli, *store: str | Path) -> list[tuple]:  # type: ignore[no-untyped-def]
    args = ("--store", store[0]) if store else ()
    listed = cli(*args, "remote", "list", "--json")
    assert listed.code == 0, listed.err
    return [(r["name"], r["kind"], r["url"], r["offsite"], r["label"]) for r in json.loads(listed.out)]


def test_rebuild_brings_back_every_remote_without_credentials(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, s3_env, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    nas.mkdir()
    usb = tmp_path / "elsewhere" / "usb1"
    usb.mkdir(parents=True)
    bucket = s3_env.new_bucket_name("travels")
    url = f"s3://{bucket}/arkeep"
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("remote", "add", "usb", usb, "--drive", "--offsite").code == 0
    assert cli("remote", "add", "cloud", url).code == 0
    before = remote_rows(cli)
    config = (store_dir / "arkeep.toml").read_text()
    assert s3_env.endpoint in config                 # AWS_ENDPOINT_URL at `remote add` is kept
    assert cli("sync").code == 0

    # On every replica the configuration is sealed: nothing of it, and no credential, in clear.
    drive_uuid = next(r[2] for r in before if r[0] == "usb").split("/")[2]
    for replica in (nas / "key.toml", usb / "arkeep" / "key.toml"):
        text = replica.read_text()
        assert 'remotes = "ENC[AES256_GCM,v1,' in text
        for clear in (bucket, str(nas), drive_uuid, "elsewhere", s3_env.endpoint, "cloud",
                      s3_env.access_key, s3_env.secret_key):
            assert clear not in text, clear
    client = s3_env.client()
    cloud_key = client.get_object(Bucket=bucket, Key="arkeep/key.toml")["Body"].read()
    assert cloud_key == (store_dir / "key.toml").read_bytes()
    assert s3_env.secret_key.encode() not in cloud_key and bucket.encode() not in cloud_key

    # A new machine: the passphrase, the NAS, and AWS credentials but no AWS_ENDPOINT_URL.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    new = tmp_path / "new-machine"
    rebuilt = cli("--store", new, "rebuild", "--from", nas, "--json")
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    report = json.loads(rebuilt.out)
    assert report["remote"] == "nas" and report["remotes_restored"] == ["cloud", "nas", "usb"]
    assert remote_rows(cli, new) == before
    assert "origin" not in (new / "arkeep.toml").read_text()
    synced = cli("--store", new, "sync", "--json")
    assert synced.code == 0, synced.out + synced.err
    assert {r["remote"]: r["status"] for r in json.loads(synced.out)} == {
        "cloud": "up-to-date", "nas": "up-to-date", "usb": "up-to-date"}
    want = wanted_keys(store_dir)
    assert dir_listing(nas) == want and dir_listing(usb / "arkeep") == want
    assert s3_listing(s3_env, bucket, "arkeep") == want


def test_a_new_remote_reaches_the_replicas_at_the_next_sync(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    add_sample(cli, tmp_path)
    nas, usb = tmp_path / "nas", tmp_path / "usb"
    nas.mkdir()
    usb.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("sync").code == 0
    assert cli("remote", "add", "vault", usb, "--offsite").code == 0
    assert cli("sync").code == 0
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()
    # Syncing again changes nothing: the sealed list is rewritten only when it changed.
    key_before = (store_dir / "key.toml").read_bytes()
    again = cli("sync", "--json")
    assert {r["status"] for r in json.loads(again.out)} == {"up-to-date"}
    assert (store_dir / "key.toml").read_bytes() == key_before
    rebuilt = cli("--store", tmp_path / "new", "rebuild", "--from", usb)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert [r[:4] for r in remote_rows(cli, tmp_path / "new")] == [
        ("nas", "dir", str(nas), False), ("vault", "dir", str(usb), True)]
