"""Issue 11: metadata as safe as the bytes. Each case was seen losing data on 3ee906e.

A manifest changed in place (bit rot: size, inode and mtime kept), an older sealed manifest put
back on a replica (a rollback), a stale or damaged catalog index, a damaged object added again.
Each ends with the good copy intact everywhere and a clear report.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from archive.storage.store import Store
from manifests.stamp import check_stamp
from tests.archive.replication_support import add_sample, dir_listing, release_keys

RID = "acme-studio@7.5.1"


def rot_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Change bytes of a file the way disk rot does: same inode, size and mtime."""
    st = path.stat()
    data = path.read_bytes()
    assert len(old) == len(new) and data.count(old) == 1, (old, data)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(data.index(old))
        f.write(new)
    os.chmod(path, st.st_mode & 0o777)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


def add_invoice(cli, store_dir: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """Add a newer invoice to the release (the installer given again: it is stored once)."""
    installer = next(p for p in (store_dir.parent).glob("src-7.5.1/*.exe"))
    invoice = store_dir.parent / name
    invoice.write_bytes(b"%PDF-1.4 " + name.encode())
    result = cli("add", installer, "--product", "Acme Studio", "--version", "7.5.1",
                 "--invoice", invoice)
    assert result.code == 0, result.err


def snapshot(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in dir_listing(root)}


def manifest_path(store_dir: Path, rid: str = RID) -> Path:
    return store_dir / "manifests" / "releases" / f"{rid}.toml"


@pytest.fixture
def replicated(cli, store_dir: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A release synced to a folder remote 'nas'; returns the remote's root."""
    add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    result = cli("sync")
    assert result.code == 0, result.err
    return nas


def test_manifests_carry_a_revision_and_a_digest_line_checkable_with_b3sum(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    add_sample(cli, tmp_path)
    path = manifest_path(store_dir)
    data = path.read_bytes()
    assert check_stamp(data, str(path)).revision == 1
    body, last = data[:data.rstrip(b"\n").rfind(b"\n") + 1], data.splitlines()[-1]
    import subprocess
    found = subprocess.run(["b3sum", "--no-names"], input=body, capture_output=True,
                           check=True).stdout.decode().strip()
    assert last.decode() == f"# arkeep-blake3: {found}"
    # Adding to the release writes it again: the next revision.
    add_invoice(cli, store_dir, "invoice.pdf")
    assert check_stamp(path.read_bytes(), str(path)).revision == 2


def test_bit_rot_in_a_local_manifest_is_named_and_never_pushed(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, replicated: Path) -> None:
    nas = replicated
    path = manifest_path(store_dir)
    good = path.read_bytes()
    before = snapshot(nas)
    rot_in_place(path, b'vendor = "Acme Corp"', b'vendor = "Acme Corq"')

    result = cli("verify")
    assert result.code == 1
    assert RID in result.out and "changed since arkeep wrote it" in result.out

    result = cli("verify", "--remote", "nas")
    assert result.code == 1
    assert "changed since arkeep wrote it" in result.out
    assert "content does not match" not in result.out     # the good remote copy is not blamed
    assert snapshot(nas) == before

    # The index rebuilt from the rotten file, then sync: the rot goes nowhere, the rest goes on.
    (store_dir / "state" / "catalog-index.sqlite").unlink()
    add_sample(cli, tmp_path, version="8.0")
    result = cli("sync")
    assert result.code == 1
    assert "changed since arkeep wrote it" in result.out and "not sent" in result.out
    after = snapshot(nas)
    assert all(after[k] == v for k, v in before.items() if k != "key.toml")
    assert release_keys(store_dir, "acme-studio@8.0") <= set(after)

    result = cli("repair")
    assert result.code == 0, result.out + result.err
    assert "taken back" in result.err + result.out
    assert path.read_bytes() == good
    kept = list((store_dir / "manifests" / "replaced").iterdir())
    assert len(kept) == 1 and b"Acme Corq" in kept[0].read_bytes()
    assert cli("verify").code == 0
    assert cli("verify", "--remote", "nas").code == 0
    assert all(snapshot(nas)[k] == v for k, v in before.items() if k != "key.toml")


def test_a_rolled_back_replica_is_reported_and_never_adopted(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, replicated: Path) -> None:
    nas = replicated
    manifest_units = {k: (nas / k).read_bytes() for k in release_keys(store_dir, RID)}
    add_invoice(cli, store_dir, "invoice-2.pdf")
    assert cli("sync").code == 0
    newer = manifest_path(store_dir).read_bytes()
    changed = [k for k, v in manifest_units.items() if (nas / k).read_bytes() != v]
    assert len(changed) == 1, changed      # only the release manifest's unit was rewritten
    (nas / changed[0]).write_bytes(manifest_units[changed[0]])      # the rollback

    result = cli("verify", "--remote", "nas")
    assert result.code == 1
    assert "older revision (1; the store has 2)" in result.out

    result = cli("rebuild", "--from", nas, "--name", "nas")
    assert result.code == 2
    assert "--merge" in result.err and "already holds this archive" in result.err
    assert manifest_path(store_dir).read_bytes() == newer

    result = cli("rebuild", "--from", nas, "--name", "nas", "--merge", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert any("older revision" in line for line in report["kept_local"])
    assert manifest_path(store_dir).read_bytes() == newer
    shown = cli("show", "Acme Studio@7.5.1", "--json")
    assert "invoice-2.pdf" in shown.out

    assert cli("sync").code == 0          # the newer version goes back over the rollback
    assert (nas / changed[0]).read_bytes() != manifest_units[changed[0]]
    assert cli("verify", "--remote", "nas").code == 0


def test_sync_never_overwrites_a_newer_revision_on_a_replica_and_repair_takes_it(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, replicated: Path) -> None:
    nas = replicated
    older = manifest_path(store_dir).read_bytes()
    add_invoice(cli, store_dir, "invoice-2.pdf")
    assert cli("sync").code == 0
    on_nas = snapshot(nas)
    # This store goes back to the older manifest (a restore from an old backup of the disk).
    path = manifest_path(store_dir)
    os.chmod(path, 0o644)
    path.write_bytes(older)
    result = cli("sync")
    assert result.code == 1
    assert "holds revision 2, newer than this store's 1" in result.out
    assert snapshot(nas) == on_nas
    result = cli("repair")
    assert result.code == 0, result.out + result.err
    assert "invoice-2.pdf" in cli("show", "Acme Studio@7.5.1", "--json").out
    assert cli("verify", "--remote", "nas").code == 0


def test_a_stale_index_never_blocks_sync_or_repair(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    sample = add_sample(cli, tmp_path)
    path = manifest_path(store_dir)
    old = os.stat(path).st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(old, old))
    text = path.read_bytes()
    digest = Store.open(store_dir).catalog.load_release(RID).artifacts[0].blake3
    wrong = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    # An edit in place with the old mtime kept, indexed, then reverted the same way.
    rot_in_place(path, digest.encode(), wrong.encode())
    (store_dir / "state" / "catalog-index.sqlite").unlink()
    assert cli("list").code in (0, 1)
    rot_in_place(path, wrong.encode(), digest.encode())
    assert path.read_bytes() == text
    result = cli("status", "--json")
    assert "missing from the local store" not in result.out
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    result = cli("sync")
    assert result.code == 0, result.out + result.err
    assert release_keys(store_dir, RID) <= dir_listing(nas)
    assert cli("verify", "--remote", "nas").code == 0
    assert cli("repair").code == 0
    del sample


def test_a_damaged_index_page_never_makes_list_say_the_store_is_empty(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    add_sample(cli, tmp_path)
    add_sample(cli, tmp_path, version="8.0")
    assert cli("list").code == 0
    index = store_dir / "state" / "catalog-index.sqlite"
    with sqlite3.connect(index) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    found = []
    for page in range(1, pages):       # every page but the header's, one at a time
        original = index.read_bytes()
        damaged = bytearray(original)
        damaged[page * page_size:(page + 1) * page_size] = os.urandom(page_size)
        index.write_bytes(bytes(damaged))
        result = cli("list", "--json")
        index.write_bytes(original)
        ids = sorted(r["id"] for r in json.loads(result.out)) if result.out.strip() else []
        found.append((page, result.code, ids))
    assert all(ids == ["acme-studio@7.5.1", "acme-studio@8.0"] for _, _, ids in found), found


def test_adding_the_original_bytes_again_heals_a_damaged_object(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    sample = add_sample(cli, tmp_path)
    store = Store.open(store_dir)
    art = next(a for a in store.catalog.load_release(RID).artifacts if a.role == "installer")
    obj = store.object_path(art.blake3)
    os.chmod(obj, 0o644)
    with open(obj, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    assert cli("verify").code == 1
    result = cli("add", sample.installer, "--product", "Acme Studio", "--version", "7.5.1")
    assert result.code == 0, result.err
    assert cli("verify").code == 0


def test_one_damaged_manifest_never_stops_the_others_from_replicating(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    add_sample(cli, tmp_path)
    (manifest_path(store_dir, "broken@1.0")).write_text('schema = 1\nkind = "release"\nversion = ""\n')
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    result = cli("sync")
    assert result.code == 1
    assert "broken@1.0 / manifest" in result.out and "not sent" in result.out
    assert release_keys(store_dir, RID) <= dir_listing(nas)


GOLDEN = Path(__file__).resolve().parent.parent / "data" / "store-3ee906e"


def test_a_store_and_replica_written_by_3ee906e_open_verify_and_sync_unchanged(  # type: ignore[no-untyped-def]
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/data/store-3ee906e: a store (one release, its licence, a folder replica synced and
    verified) written by arkeep 3ee906e, before manifests had revision and digest lines."""
    import shutil

    store, replica = tmp_path / "store", tmp_path / "replica"
    shutil.copytree(GOLDEN / "store", store)
    shutil.copytree(GOLDEN / "replica", replica)
    (store / "tmp").mkdir(exist_ok=True)        # git keeps no empty folder
    config = store / "arkeep.toml"
    config.write_text(config.read_text().replace("/tmp/golden/replica", str(replica)))
    monkeypatch.setenv("ARKEEP_STORE", str(store))
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "correct horse battery staple")
    before = snapshot(replica)

    assert cli("verify").code == 0
    result = cli("verify", "--remote", "nas")
    assert result.code == 0, result.out
    result = cli("sync", "--json")
    assert result.code == 0, result.err
    row = json.loads(result.out)[0]
    # Nothing sealed again; key.toml alone may be rewritten, to carry the remote list.
    assert row["pushed"] == int(row["key_sent"])
    after = snapshot(replica)
    assert {k: v for k, v in after.items() if k != "key.toml"} == \
        {k: v for k, v in before.items() if k != "key.toml"}
    out = tmp_path / "restored"
    assert cli("restore", "Acme Golden@1.0", "--to", out).code == 0
    assert (out / "Acme-Setup-1.0.exe").read_bytes() == \
        bytes((i * 7 + 3) % 251 for i in range(40000))

    # Its first change by this arkeep gives the manifest its lines; only that unit is sent.
    path = manifest_path(store, "acme-golden@1.0")
    assert check_stamp(path.read_bytes(), str(path)).revision == 0
    invoice = tmp_path / "invoice-2.pdf"
    invoice.write_bytes(b"%PDF-1.4 a second invoice")
    installer = out / "Acme-Setup-1.0.exe"
    assert cli("add", installer, "--product", "Acme Golden", "--version", "1.0",
               "--invoice", invoice).code == 0
    assert check_stamp(path.read_bytes(), str(path)).revision == 1
    result = cli("sync", "--json")
    assert result.code == 0, result.err
    row = json.loads(result.out)[0]
    assert row["pushed"] - int(row["key_sent"]) == 2       # the invoice and the manifest
    assert cli("verify", "--remote", "nas").code == 0
