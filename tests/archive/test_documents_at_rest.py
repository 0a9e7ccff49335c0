"""Documents that carry the key (receipts, licence files, invoices) are never in clear at rest.

Issue 12.3: a receipt or licence file holding the key was stored as a plain object, so
`grep -r KEY store/` found it, and `export --bagit` said "keys masked" while writing it. End to
end through the command line, as separate processes: after add, sync, every export, rebuild
and repair, `grep -r` finds the key nowhere but where we put it on purpose.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pyzipper

from manifests.model import Artifact
from archive.storage.store import Store
from tests.conftest import PASSPHRASE, run_arkeep

KEY = "RCPT-7Q4Z-KX2M-99PL-SECRET"
RID = "docs-suite@4.2"


def grep(key: str, *roots: Path) -> list[str]:
    """`grep -r` as a person would run it: every file holding the key in clear (also UTF-16)."""
    found: list[str] = []
    utf16 = "".join(re.escape(c) + r"\x00" for c in key)
    for pattern, how in ((key, "-F"), (utf16, "-P")):
        result = subprocess.run(["grep", "-rla", how, "--", pattern, *map(str, roots)],
                                capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"})
        assert result.returncode in (0, 1), result.stderr
        found += result.stdout.decode().splitlines()
    return found


def make_documents(home: Path) -> dict[str, Path]:
    home.mkdir(parents=True, exist_ok=True)
    files = {"installer": home / "DocsSuite-4.2-setup.exe", "receipt": home / "receipt.eml",
             "license": home / "license.lic", "invoice": home / "invoice.pdf", "key": home / "key.txt"}
    files["installer"].write_bytes(os.urandom(200_000))
    files["receipt"].write_bytes(
        b"From: shop@example.com\r\nSubject: Your order 5521\r\nContent-Type: text/plain\r\n\r\n"
        b"Thank you for your order 5521.\r\nYour licence key: " + KEY.encode() + b"\r\n")
    files["license"].write_bytes(b"[License]\nName=A. User\nSerial=" + KEY.encode() + b"\n")
    files["invoice"].write_bytes(b"%PDF-1.4\n% invoice 5521, key " + KEY.encode("utf-16-le") + b"\n")
    files["key"].write_text(KEY + "\n")
    return files


def env_for(store: Path) -> dict[str, str]:
    return {**os.environ, "ARKEEP_STORE": str(store), "ARKEEP_PASSPHRASE": PASSPHRASE}


def add_receipt(store_dir: Path, tmp_path: Path) -> tuple[Store, Artifact]:
    """Docs Suite 4.2: the installer and the receipt that prints the key."""
    files = make_documents(tmp_path / "src")
    added = run_arkeep("add", files["installer"], "--product", "Docs Suite", "--version", "4.2",
                       "--receipt", files["receipt"], env=env_for(store_dir))
    assert added.returncode == 0, added.stderr
    store = Store.open(store_dir)
    return store, next(a for a in store.catalog.load_release(RID).artifacts if a.role == "receipt")


def test_no_document_key_in_clear_in_store_exports_or_replica(store_dir: Path, tmp_path: Path,
                                                               recovery_code: str) -> None:
    files = make_documents(tmp_path / "src")
    env = env_for(store_dir)
    out = tmp_path / "out"
    replica = tmp_path / "nas"

    def arkeep(*args: object, code: int = 0) -> str:
        result = run_arkeep(*args, env=env)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert KEY not in result.stdout + result.stderr
        return result.stdout

    arkeep("add", files["installer"], "--product", "Docs Suite", "--version", "4.2",
           "--key-file", files["key"], "--receipt", files["receipt"],
           "--license-file", files["license"], "--invoice", files["invoice"])
    assert grep(KEY, store_dir) == []
    store = Store.open(store_dir)
    release = store.catalog.load_release(RID)
    assert {a.role for a in release.artifacts if store.is_encrypted(a.blake3)} == \
        {"receipt", "license-file", "invoice"}
    # The installer stays a plain object that b3sum checks by hand.
    installer = release.installers()[0]
    assert store.object_path(installer.blake3).is_file()

    replica.mkdir()
    arkeep("remote", "add", "nas", replica)
    arkeep("sync")
    verified = arkeep("verify")
    assert verified.startswith("OK")

    bag_masked = arkeep("export", RID, "--bagit", out / "bag")
    assert "keys masked" in bag_masked and "left out" in bag_masked
    csv_masked = arkeep("export", "--csv", out / "inventory.csv")
    assert "keys masked" in csv_masked
    zipped = arkeep("export", RID, "--zip", out / "release.zip")
    assert "holds the licence keys" in zipped
    arkeep("--store", tmp_path / "rebuilt", "rebuild", "--from", replica)

    roots = [store_dir, replica, out, tmp_path / "rebuilt"]
    assert grep(KEY, *roots) == []
    # The rebuilt store keeps the documents encrypted too.
    rebuilt = Store.open(tmp_path / "rebuilt")
    assert all(rebuilt.is_encrypted(a.blake3) for a in release.artifacts if a.role != "installer")

    # The zip holds the key, inside its encryption, on purpose; 7-Zip's password opens it.
    with pyzipper.AESZipFile(out / "release.zip") as zf:
        zf.setpassword(store.unlock(PASSPHRASE).zip_password)
        assert zf.read("receipt.eml") == files["receipt"].read_bytes()
        assert KEY in zf.read("LICENSE.txt").decode()

    # --reveal: the bag holds the documents and says so.
    revealed = arkeep("export", RID, "--bagit", out / "bag-revealed", "--reveal")
    assert "in clear" in revealed
    assert (out / "bag-revealed" / "data" / "receipt.eml").read_bytes() == files["receipt"].read_bytes()

    # Restore gives every file back byte for byte, from the store and from the rebuilt store.
    for store_root, target in ((store_dir, out / "restored"), (tmp_path / "rebuilt", out / "restored2")):
        result = run_arkeep("--store", store_root, "restore", RID, "--to", target, env=env)
        assert result.returncode == 0, result.stderr
        for name in ("installer", "receipt", "license", "invoice"):
            assert (target / files[name].name).read_bytes() == files[name].read_bytes(), name


def test_repair_encrypts_documents_of_an_older_store(store_dir: Path, tmp_path: Path) -> None:
    """A store from before encryption at rest holds its documents as plain objects: they keep
    working; `verify` says so, and `repair` encrypts them."""
    files = make_documents(tmp_path / "src")
    env = env_for(store_dir)
    added = run_arkeep("add", files["installer"], "--product", "Docs Suite", "--version", "4.2",
                       "--key-file", files["key"], "--receipt", files["receipt"], env=env)
    assert added.returncode == 0, added.stderr
    store = Store.open(store_dir)
    receipt = next(a for a in store.catalog.load_release(RID).artifacts if a.role == "receipt")
    enc = store.encrypted_path(receipt.blake3)
    enc.unlink()                                        # as an older arkeep left it
    shutil.copyfile(files["receipt"], store.object_path(receipt.blake3))
    assert grep(KEY, store_dir) != []

    verified = run_arkeep("verify", env=env)
    assert verified.returncode == 0 and "1 document(s)" in verified.stderr
    restored = run_arkeep("restore", RID, "--to", tmp_path / "old", env=env)
    assert restored.returncode == 0, restored.stderr
    (tmp_path / "nas").mkdir()
    assert run_arkeep("remote", "add", "nas", tmp_path / "nas", env=env).returncode == 0
    repaired = run_arkeep("repair", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "1 document(s)" in repaired.stdout and "encrypted at rest" in repaired.stdout
    assert grep(KEY, store_dir) == []
    assert store.is_encrypted(receipt.blake3) and not store.object_path(receipt.blake3).exists()
    again = run_arkeep("restore", RID, "--to", tmp_path / "new", env=env)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "new" / "receipt.eml").read_bytes() == files["receipt"].read_bytes()


def test_repair_encrypts_old_documents_of_a_store_without_remotes(store_dir: Path,
                                                                  tmp_path: Path) -> None:
    """A store that never had a replica must be able to leave its plain documents behind too:
    repair mends the local store and says that nothing can be fetched."""
    env = env_for(store_dir)
    store, receipt = add_receipt(store_dir, tmp_path)
    store.encrypted_path(receipt.blake3).unlink()          # as an older arkeep left it
    shutil.copyfile(tmp_path / "src" / "receipt.eml", store.object_path(receipt.blake3))
    assert grep(KEY, store_dir) != []
    repaired = run_arkeep("repair", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "no remotes" in repaired.stderr and "encrypted at rest" in repaired.stdout
    assert grep(KEY, store_dir) == []
    again = run_arkeep("restore", RID, "--to", tmp_path / "new", env=env)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "new" / "receipt.eml").read_bytes() == \
        (tmp_path / "src" / "receipt.eml").read_bytes()


def test_verify_without_the_passphrase_finds_a_damaged_encrypted_document(store_dir: Path,
                                                                           tmp_path: Path) -> None:
    env = env_for(store_dir)
    store, receipt = add_receipt(store_dir, tmp_path)
    path = store.encrypted_path(receipt.blake3)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[60] ^= 1
    path.write_bytes(bytes(data))
    no_pass = {k: v for k, v in env.items() if k != "ARKEEP_PASSPHRASE"}
    for environment in (no_pass, env):
        result = run_arkeep("verify", env=environment)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "receipt.eml" in result.stdout and "encrypted copy damaged" in result.stdout


def test_a_key_in_a_small_installer_is_refused(store_dir: Path, tmp_path: Path) -> None:
    files = make_documents(tmp_path / "src")
    serial = tmp_path / "src" / "serial.reg"
    serial.write_bytes(b"REGEDIT4\n\"Serial\"=\"" + KEY.encode() + b"\"\n")
    result = run_arkeep("add", files["installer"], serial, "--product", "Docs Suite", "--version",
                        "4.2", "--key-file", files["key"], env=env_for(store_dir))
    assert result.returncode == 2 and "serial.reg holds the licence key" in result.stderr
    assert grep(KEY, store_dir) == []


def test_a_document_needs_the_passphrase_to_be_added(store_dir: Path, tmp_path: Path) -> None:
    files = make_documents(tmp_path / "src")
    env = {k: v for k, v in env_for(store_dir).items() if k != "ARKEEP_PASSPHRASE"}
    result = run_arkeep("add", files["installer"], "--product", "Docs Suite", "--version", "4.2",
                        "--receipt", files["receipt"], env=env)
    assert result.returncode == 2 and "passphrase is needed" in result.stderr
    assert grep(KEY, store_dir) == []


def test_prune_deletes_an_encrypted_document_no_release_names(store_dir: Path, tmp_path: Path) -> None:
    env = env_for(store_dir)
    store, receipt = add_receipt(store_dir, tmp_path)
    assert store.is_encrypted(receipt.blake3)
    assert run_arkeep("remove", RID, "--yes", env=env).returncode == 0
    pruned = run_arkeep("prune", "--yes", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert not store.has_object(receipt.blake3)
    assert list((store_dir / "objects").rglob("*.enc")) == []
