"""OpenPGP: Debian's own clearsigned InRelease checked with debian-archive-keyring, and detached
signatures made here with a throw-away key (gpg in a temporary home), through add, show and
verify --authenticity; flipped bytes and a signature moved to another file are caught."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from archive.errors import UsageError
from archive.intake import openpgp
from archive.storage.store import Store
from tests.authenticity.conftest import PYTHON_EXE, flipped

INRELEASE = Path(__file__).parent.parent / "data" / "openpgp" / "debian-bookworm-InRelease"
DEBIAN_KEYS = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SIGNER = "Fabrikam Releases <releases@fabrikam.test>"


def need_debian_keys() -> Path:
    if not DEBIAN_KEYS.is_file():
        pytest.fail("the Debian package debian-archive-keyring is not installed", pytrace=False)
    return DEBIAN_KEYS


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory):
    """(public key file, a function that signs a file detached) of a throw-away vendor key."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    gpg = [openpgp.gpg_path(), "--homedir", str(home), "--batch", "--no-tty", "--pinentry-mode",
           "loopback", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", SIGNER, "ed25519", "sign", "never"], check=True,
                   capture_output=True, timeout=120)
    public = home / "fabrikam.asc"
    public.write_bytes(subprocess.run([*gpg, "--armor", "--export", "releases@fabrikam.test"],
                                      check=True, capture_output=True, timeout=60).stdout)

    def sign(path: Path) -> Path:
        out = path.with_name(path.name + ".asc")
        subprocess.run([*gpg, "--armor", "--detach-sign", "--output", str(out), str(path)],
                       check=True, capture_output=True, timeout=60)
        return out

    return public, sign


def test_debian_inrelease_is_debians() -> None:
    check = openpgp.check(INRELEASE, None, [need_debian_keys()])
    assert check.verdict == openpgp.VALID
    assert check.user_id == "Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>"
    assert check.primary_fingerprint == "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"
    assert check.created is not None and check.created.year == 2026
    assert check.key                      # the signer's key, exported to be kept


def test_debian_inrelease_tampered_or_without_keys(tmp_path: Path) -> None:
    text = INRELEASE.read_bytes()
    at = text.index(b"Codename: bookworm") + 10
    bad = flipped(INRELEASE, at, tmp_path / "InRelease")
    assert openpgp.check(bad, None, [need_debian_keys()]).verdict == openpgp.BAD_SIGNATURE
    no_key = openpgp.check(INRELEASE, None, [])
    assert no_key.verdict == openpgp.NO_KEY and "6ED0E7B82643E131" in no_key.reason
    plain = tmp_path / "plain.txt"
    plain.write_text("nothing signed here\n")
    assert openpgp.check(plain, None, [need_debian_keys()]).verdict == openpgp.UNREADABLE


def test_a_detached_signature_and_a_moved_one(tmp_path: Path, vendor) -> None:
    public, sign = vendor
    target = tmp_path / "python.exe"
    shutil.copy(PYTHON_EXE, target)
    signature = sign(target)
    good = openpgp.check(target, signature, [public])
    assert good.verdict == openpgp.VALID and good.user_id == SIGNER
    other = flipped(PYTHON_EXE, 0x1000, tmp_path / "other.exe")
    assert openpgp.check(other, signature, [public]).verdict == openpgp.BAD_SIGNATURE
    broken = flipped(signature, len(signature.read_bytes()) // 2, tmp_path / "broken.asc")
    assert openpgp.check(target, broken, [public]).verdict != openpgp.VALID
    junk = tmp_path / "junk.asc"
    junk.write_text("not a key\n")
    with pytest.raises(UsageError, match="holds no OpenPGP public key"):
        openpgp.check(target, signature, [junk])


def test_add_finds_the_signature_beside_and_verify_keeps_the_key(
        store_dir: Path, cli, tmp_path: Path, vendor) -> None:
    public, sign = vendor
    target = tmp_path / "python.exe"
    shutil.copy(PYTHON_EXE, target)
    sign(target)
    done = cli("add", target, "--product", "Python embeddable", "--version", "3.13.2",
               "--openpgp-key", public)
    assert done.code == 0, done.err
    assert f"OpenPGP (python.exe.asc): signed by {SIGNER}" in done.out
    release = Store.open(store_dir).catalog.resolve("python-embeddable@3.13.2")
    assert [a.role for a in release.artifacts] == ["installer", "signature"]
    record = release.artifacts[0].openpgp
    assert record.verdict == "valid" and record.anchor and record.signature_file == "python.exe.asc"
    assert release.artifacts[0].authenticity.verdict == "valid"    # Authenticode as well
    again = cli("verify", "--authenticity")        # no key named: the one kept in the manifest
    assert again.code == 0, again.out + again.err
    assert again.out.count("ok ") == 2
    assert f"signed by {SIGNER}" in cli("show", "python-embeddable@3.13.2").out


def test_add_refuses_a_file_its_signature_does_not_match(
        store_dir: Path, cli, tmp_path: Path, vendor) -> None:
    public, sign = vendor
    target = tmp_path / "python.exe"
    shutil.copy(PYTHON_EXE, target)
    signature = sign(target)
    text = tmp_path / "notes.txt"
    text.write_text("release notes\n")
    moved = tmp_path / "notes.txt.asc"
    shutil.copy(signature, moved)
    refused = cli("add", text, "--product", "Notes", "--version", "1", "--openpgp-key", public)
    assert refused.code == 1 and "OpenPGP signature does not match" in refused.err
    assert "notes" not in cli("list").out.lower()
    unknown = cli("add", target, "--product", "P", "--version", "1")      # no key given
    assert unknown.code == 0, unknown.err
    assert "not among the keys given" in unknown.out


def test_add_a_clearsigned_file_with_the_debian_keyring(store_dir: Path, cli, tmp_path: Path) -> None:
    target = tmp_path / "InRelease"
    shutil.copy(INRELEASE, target)
    done = cli("add", target, "--product", "Debian archive index", "--version", "bookworm",
               "--openpgp-key", need_debian_keys())
    assert done.code == 0, done.err
    assert "OpenPGP (clearsigned): signed by Debian Archive Automatic Signing Key (12/bookworm)" \
        in done.out
    store = Store.open(store_dir)
    art = store.catalog.resolve("debian-archive-index@bookworm").artifacts[0]
    obj = store.object_path(art.blake3)
    obj.chmod(0o600)
    data = bytearray(obj.read_bytes())
    data[data.index(b"Codename: bookworm") + 10] ^= 0x01
    obj.write_bytes(bytes(data))
    bad = cli("verify", "--authenticity")
    assert bad.code == 1
    assert "the OpenPGP signature was valid when archived and is bad-signature now" in bad.out
