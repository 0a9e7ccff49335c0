"""`arkeep trust add | list | remove`: what this store trusts beyond the system's store.

Root certificates (for Authenticode chains) and OpenPGP public keys (for signatures) the user
imports once; `add` and `verify --authenticity` use them without being told each time. They are
kept per store under trust/ (one file each, named by fingerprint), as the user's own decision on
this machine; what was trusted when a file was archived is frozen in its manifest anyway.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archive.errors import UsageError
from archive.intake import openpgp
from archive.intake.trust import cert_info, store_trust_dir, store_trusted
from archive.storage.store import Store
from archive.system import durable

ROOTS, OPENPGP = "roots", "openpgp"
MAX_FILE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Trusted:
    kind: str          # roots or openpgp
    ident: str         # SHA-256 of the certificate, or the key's fingerprint
    name: str
    path: Path


def add_trusted(store: Store, source: Path) -> list[Trusted]:
    """Keep the certificates or OpenPGP public keys in `source`; what was added, in order."""
    try:
        if source.stat().st_size > MAX_FILE:
            raise UsageError(f"{source} is larger than any file of certificates or keys")
        data = source.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    certificates = _certificates(data)
    if certificates:
        return [_keep_root(store, c) for c in certificates]
    keys = _openpgp_keys(data)
    if keys:
        return [_keep_key(store, fpr, uid, armored) for fpr, uid, armored in keys]
    raise UsageError(f"{source} holds neither an X.509 certificate (PEM or DER) nor an OpenPGP "
                     "public key")


def list_trusted(store: Store) -> list[Trusted]:
    out = []
    for path in store_trusted(store.root, ROOTS):
        found = _certificates(path.read_bytes())
        name = cert_info(found[0]).name if found else "(unreadable)"
        out.append(Trusted(ROOTS, path.stem, name, path))
    for path in store_trusted(store.root, OPENPGP):
        keys = _openpgp_keys(path.read_bytes())
        out.append(Trusted(OPENPGP, path.stem, keys[0][1] if keys else "(unreadable)", path))
    return out


def remove_trusted(store: Store, ident: str) -> Trusted:
    wanted = ident.strip().lower()
    found = [t for t in list_trusted(store) if len(wanted) >= 8 and t.ident.lower().startswith(wanted)]
    if not found:
        raise UsageError(f"nothing trusted in this store starts with {ident!r} (`arkeep trust list`)")
    if len(found) > 1:
        raise UsageError(f"{ident!r} names {len(found)} entries; give more of the fingerprint")
    durable.remove(found[0].path)
    return found[0]


def _certificates(data: bytes) -> list:
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        pass
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return []


def _keep_root(store: Store, cert: object) -> Trusted:
    from cryptography.hazmat.primitives.serialization import Encoding

    info = cert_info(cert)
    path = store_trust_dir(store.root, ROOTS) / f"{info.sha256}.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    durable.write_atomic(path, cert.public_bytes(Encoding.PEM).decode("ascii"),  # type: ignore[attr-defined]
                         mode=0o644, newline="\n")
    return Trusted(ROOTS, info.sha256, info.name, path)


def _openpgp_keys(data: bytes) -> list[tuple[str, str, str]]:
    """(fingerprint, first user id, armored minimal export) of each public key in `data`."""
    gpg = openpgp.gpg_path()
    with tempfile.TemporaryDirectory(prefix="arkeep-gpg-") as home:
        base = [gpg, "--homedir", home, "--batch", "--no-tty"]
        done = subprocess.run([*base, "--status-fd", "1", "--import"], input=data,
                              capture_output=True, timeout=120, check=False)
        if b"IMPORT_OK" not in done.stdout:
            return []
        listing = subprocess.run([*base, "--with-colons", "--list-keys"], capture_output=True,
                                 text=True, timeout=120, check=False).stdout
        keys: list[tuple[str, str]] = []
        expect_fpr = False
        for line in listing.splitlines():
            fields = line.split(":")
            if fields[0] == "pub":
                expect_fpr = True
            elif fields[0] == "fpr" and expect_fpr:
                keys.append((fields[9], ""))
                expect_fpr = False
            elif fields[0] == "uid" and keys and not keys[-1][1]:
                keys[-1] = (keys[-1][0], fields[9])
        out = []
        for fpr, uid in keys:
            armored = subprocess.run([*base, "--armor", "--export-options", "export-minimal",
                                      "--export", fpr], capture_output=True, text=True, timeout=120,
                                     check=False).stdout
            out.append((fpr, uid or fpr, armored))
        return out


def _keep_key(store: Store, fpr: str, uid: str, armored: str) -> Trusted:
    path = store_trust_dir(store.root, OPENPGP) / f"{fpr}.asc"
    path.parent.mkdir(parents=True, exist_ok=True)
    durable.write_atomic(path, armored, mode=0o644, newline="\n")
    return Trusted(OPENPGP, fpr, uid, path)
