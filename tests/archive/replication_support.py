"""Shared by the replication tests: a fast store, sample releases, remote listings, byte flips.

Import the fixtures into a test module with
`from tests.archive.replication_support import fast_template, store_dir, recovery_code`
(they override conftest's store_dir and recovery_code for that module).
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


from archive.crypto.keyring import Keyring
from archive.replicate.audit_copy import copy_key, own_copy_name
from archive.replicate.plan import plan_units
from archive.storage.store import Store
from archive.replicate.units import KEY_UNIT, UnitNamer
from tests.conftest import PASSPHRASE

KEY = "ACME-KEY-9Q2W-7XZE-31PL"
LOG_COPY = re.compile(r"(log|history)/[0-9a-f]{64}\.zip")     # the audit log, earlier versions
PRODUCT = "Acme Studio"
INSTALLER = "AcmeStudio-Setup-7.5.1-x64.exe"
RID = "acme-studio@7.5.1"








@dataclass
class Sample:
    installer: Path
    license_file: Path
    key_file: Path
    rid: str = RID


def make_sample(base: Path, version: str = "7.5.1", size: int = 200_000) -> Sample:
    """An 'installer' of random bytes, a licence file and a key file, in `base`."""
    src = base / f"src-{version}"
    src.mkdir(parents=True)
    installer = src / INSTALLER.replace("7.5.1", version)
    installer.write_bytes(os.urandom(size))
    lic = src / f"EULA-{version}.txt"
    lic.write_text(f"{PRODUCT} {version} end user licence agreement\n")
    key = base / f"key-{version}.txt"
    key.write_text(KEY + "\n")
    return Sample(installer, lic, key, f"acme-studio@{version}")


def add_sample(cli, base: Path, version: str = "7.5.1", size: int = 200_000, key: bool = True) -> Sample:  # type: ignore[no-untyped-def]
    sample = make_sample(base, version, size)
    args: list[str | Path] = ["add", sample.installer, "--product", PRODUCT, "--version", version,
                              "--vendor", "Acme Corp", "--license-file", sample.license_file]
    if key:
        args += ["--key-file", sample.key_file]
    result = cli(*args)
    assert result.code == 0, result.err
    return sample


def secret_of(store_dir: Path) -> Keyring:
    return Store.open(store_dir).unlock(PASSPHRASE)


def wanted_keys(store_dir: Path) -> set[str]:
    """The keys a complete replica of this store holds for its contents: key.toml and one
    bundle per unit (replica_keys adds the audit log's copy)."""
    store = Store.open(store_dir)
    plan = plan_units(store, store.unlock(PASSPHRASE))
    return {KEY_UNIT} | {w.unit.key for w in plan.units}


def log_copy_key(store_dir: Path) -> str | None:
    """The key of this store's copy of its audit log on remotes (log/<name>.zip), once made."""
    store = Store.open(store_dir)
    name = own_copy_name(store, store.unlock(PASSPHRASE))
    return copy_key(name) if name else None


def replica_keys(store_dir: Path) -> set[str]:
    """Every key a replica synced from this store alone holds: wanted_keys and, once the store
    has synced its audit log, that copy."""
    log = log_copy_key(store_dir)
    return wanted_keys(store_dir) | ({log} if log else set())


def _without_logs(keys_found: set[str]) -> set[str]:
    return {k for k in keys_found if not LOG_COPY.fullmatch(k)}


def release_keys(store_dir: Path, rid: str) -> set[str]:
    """The remote keys of one release's units: its objects, its licences and its manifest."""
    store = Store.open(store_dir)
    namer = UnitNamer(store.unlock(PASSPHRASE))
    release = store.catalog.load_release(rid)
    refs = [namer.object(a.blake3) for a in release.artifacts]
    refs += [namer.license(lid) for lid in release.licenses] + [namer.release(rid)]
    return {u.key for u in refs}


def object_unit_key(store_dir: Path, rid: str, filename: str) -> str:
    store = Store.open(store_dir)
    release = store.catalog.load_release(rid)
    art = next(a for a in release.artifacts if a.filename == filename)
    return UnitNamer(store.unlock(PASSPHRASE)).object(art.blake3).key


def dir_listing(root: Path) -> set[str]:
    """Every file under root, as a POSIX relative path, temp files and markers included, but
    the audit log's copies (log/<name>.zip: compare with replica_keys to count them)."""
    return _without_logs({p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()})


def s3_listing(server, bucket: str, prefix: str, with_log: bool = False) -> set[str]:  # type: ignore[no-untyped-def]
    """Every key under prefix/; the audit log's copy only `with_log`."""
    client = server.client()
    keys_found: set[str] = set()
    token = None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix + "/"}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)
        keys_found |= {o["Key"][len(prefix) + 1:] for o in page.get("Contents", [])}
        if not page.get("IsTruncated"):
            return keys_found if with_log else _without_logs(keys_found)
        token = page["NextContinuationToken"]


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Flip one bit of a file in place (read-only files included)."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(data))


def b3sum(path: Path) -> str:
    return subprocess.run(["b3sum", "--no-names", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def sevenzip(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["7zz", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=60)
