"""OpenPGP signatures: a detached `.asc`/`.sig` beside a file, or a clearsigned file (a vendor's
SHA256SUMS.asc, Debian's InRelease), checked against public keys the user names.

The cryptography is GnuPG's: `gpg` runs with a throw-away home holding only the keys given, and
its machine-readable status lines (GnuPG's doc/DETAILS: GOODSIG, VALIDSIG, BADSIG, ERRSIG,
NO_PUBKEY, EXPKEYSIG, REVKEYSIG) are read here; nothing of OpenPGP is parsed by hand. The key
that made a good signature is exported (minimal) so the manifest can keep it, and the check can
be made again later with that key alone.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import EnvironmentFailure, UsageError

if TYPE_CHECKING:
    import subprocess

SIGNATURE_SUFFIXES = (".asc", ".sig", ".gpg")
CLEARSIGNED = b"-----BEGIN PGP SIGNED MESSAGE-----"
TIMEOUT = 120
MAX_KEY_FILE = 16 * 1024 * 1024

VALID = "valid"
BAD_SIGNATURE = "bad-signature"
NO_KEY = "no-key"              # signed by a key that is not among the keys given
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class PgpCheck:
    verdict: str
    reason: str
    user_id: str | None = None
    fingerprint: str | None = None          # of the signing (sub)key
    primary_fingerprint: str | None = None
    created: datetime | None = None
    key: bytes | None = None                # the signer's public key, minimal export (binary)
    notes: tuple[str, ...] = ()


def gpg_available() -> bool:
    return shutil.which("gpg") is not None


def gpg_path() -> str:
    path = shutil.which("gpg")
    if path is None:
        raise EnvironmentFailure("checking OpenPGP signatures needs GnuPG's gpg: install the "
                                 "package gnupg (Debian, Homebrew) or Gpg4win")
    return path


def is_clearsigned(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(CLEARSIGNED) + 3).lstrip(b"\xef\xbb\xbf").startswith(CLEARSIGNED)
    except OSError:
        return False


def signature_beside(path: Path) -> Path | None:
    """`setup.exe.asc` (or .sig, .gpg) next to `setup.exe`, if there is one."""
    for suffix in SIGNATURE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def check(data: Path, signature: Path | None, keys: Iterable[Path | bytes]) -> PgpCheck:
    """Check `signature` (detached) over `data`, or `data` as a clearsigned file when `signature`
    is None, with only `keys` (files, or key bytes) trusted."""
    import tempfile  # only when gpg runs, as subprocess

    gpg = gpg_path()
    with tempfile.TemporaryDirectory(prefix="arkeep-gpg-") as home:
        for key in keys:
            _import(gpg, home, key)
        args = [gpg, "--homedir", home, "--batch", "--no-tty", "--status-fd", "1",
                "--trust-model", "always", "--verify"]
        args += [str(signature), str(data)] if signature is not None else [str(data)]
        done = _run(args)
        result = _judge(done.stdout)
        if result.verdict == VALID and result.primary_fingerprint:
            exported = _run([gpg, "--homedir", home, "--batch", "--export-options", "export-minimal",
                             "--export", result.primary_fingerprint], text=False)
            result = PgpCheck(**{**result.__dict__, "key": exported.stdout or None})
        return result


def _run(args: list[str], text: bool = True) -> subprocess.CompletedProcess:
    import subprocess  # only when gpg runs: with threading and signal, ~4 ms of every add

    try:
        return subprocess.run(args, capture_output=True, text=text, timeout=TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EnvironmentFailure(f"gpg did not finish within {TIMEOUT} s") from None
    except OSError as exc:
        raise EnvironmentFailure(f"cannot run gpg: {exc.strerror or exc}") from None


def _import(gpg: str, home: str, key: Path | bytes) -> None:
    if isinstance(key, Path):
        try:
            if key.stat().st_size > MAX_KEY_FILE:
                raise UsageError(f"{key} is larger than any file of public keys")
            data = key.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the OpenPGP key {key}: {exc.strerror or exc}") from None
        label = str(key)
    else:
        data, label = key, "a key kept in the manifest"
    import subprocess

    done = subprocess.run([gpg, "--homedir", home, "--batch", "--no-tty", "--status-fd", "1",
                           "--import"], input=data, capture_output=True, timeout=TIMEOUT, check=False)
    if b"IMPORT_OK" not in done.stdout:
        raise UsageError(f"{label} holds no OpenPGP public key gpg can import")


def _judge(status: str) -> PgpCheck:
    good = bad = None
    valid: list[str] = []
    missing = None
    notes: list[str] = []
    for line in status.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        word, *rest = line[9:].split(" ", 1)
        tail = rest[0] if rest else ""
        if word == "GOODSIG" and good is None:
            good = tail.split(" ", 1)
        elif word == "VALIDSIG" and not valid:
            valid = tail.split(" ")
        elif word == "BADSIG":
            bad = tail.split(" ", 1)
        elif word in ("ERRSIG", "NO_PUBKEY") and missing is None:
            missing = tail.split(" ")[0]
        elif word in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG"):
            notes.append({"EXPKEYSIG": "the signing key has expired since",
                          "REVKEYSIG": "the signing key was REVOKED",
                          "EXPSIG": "the signature itself has expired"}[word])
            if good is None:
                good = tail.split(" ", 1)
    if bad is not None:
        user = bad[1] if len(bad) > 1 else None
        return PgpCheck(BAD_SIGNATURE, "the OpenPGP signature does not match the file: it changed "
                        "after signing, or the signature is of another file", user_id=user)
    if good is not None and valid:
        created = datetime.fromtimestamp(int(valid[2]), UTC) if valid[2].isdigit() else None
        primary = valid[9] if len(valid) > 9 else valid[0]
        user = good[1] if len(good) > 1 else None
        return PgpCheck(VALID, f"signed by {user or valid[0]}", user_id=user, fingerprint=valid[0],
                        primary_fingerprint=primary, created=created, notes=tuple(notes))
    if missing is not None:
        return PgpCheck(NO_KEY, f"signed by key {missing}, which is not among the keys given "
                        "(--openpgp-key F)")
    return PgpCheck(UNREADABLE, "no OpenPGP signature could be read")
