"""`arkeep export PRODUCT@VERSION --bagit DIR`: a release as a BagIt bag (RFC 8493, version 1.0).

Written by our own code, so any BagIt tool can check it and nothing of arkeep is needed to read
it. The layout:

    bagit.txt                 version and tag file encoding
    bag-info.txt              Payload-Oxum, Bagging-Date, External-Identifier (the release id), …
    data/FILENAME             every artifact of the release under its own name
    manifest-sha512.txt       SHA-512 of every payload file (what BagIt tools verify)
    blake3sums.txt            BLAKE3 of every payload file, in `b3sum --check` form (a tag file:
                              named so that no validator mistakes it for a manifest of an unknown
                              algorithm)
    arkeep/release.toml       the release manifest as the store holds it
    arkeep/LICENSE-ID.toml    each licence record; its secrets masked unless revealed
    arkeep/LICENSE.txt        the licence records as text
    arkeep/WITHHELD.txt       without --reveal: the documents left out, and why
    tagmanifest-sha512.txt    SHA-512 of every tag file above

Without --reveal the bag holds no key in clear: the keys are masked, and the documents that
can print one (every artifact but the installers: licence files, invoices, receipts, docs; the
store keeps them encrypted at rest) are left out and named in WITHHELD.txt and bag-info.txt.
With --reveal they are decrypted into data/ with the keys, and the bag says so.

Each payload file is re-hashed with BLAKE3 on the way and checked against the manifest, so a
corrupt object is never bagged. The bag is written under a temporary name beside DIR, made
durable (every file and folder fsynced) and renamed into place when complete.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.crypto.keys import SecretBox
from archive.errors import IntegrityError, UsageError, environment_error
from archive.present.humanize import human_size
from archive.present.render import license_text
from archive.replicate.at_rest import kept_encrypted
from archive.replicate.sealing import sealed_license_bytes
from archive.storage.hashing import CHUNK, copy_checked
from archive.storage.store import Store
from archive.system import durable
from archive.system.localnames import MAX_PATH, local_names
from archive.system.paths import safe_join
from manifests.codec import license_to_toml, release_to_toml
from manifests.model import License, Release, Secret

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

BAGIT_VERSION = "1.0"
B3SUMS = "blake3sums.txt"
TAG_DIR = "arkeep"
MASKED = "(hidden; `arkeep export --bagit --reveal` writes it)"
WITHHELD = "WITHHELD.txt"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class BagResult:
    path: Path
    files: int
    payload_bytes: int
    revealed: bool
    withheld: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str, str], ...] = ()     # (archived name, name in data/, why)


def encode_path(name: str) -> str:
    """A path as written in a manifest: CR and LF percent-encoded, `%` itself left alone.

    RFC 8493 §2.1.3 also asks for `%` as `%25`, but no validator decodes it (the Library of
    Congress bagit-python and bagit-java among them: LibraryOfCongress/bagit-python#157,
    bagit-spec#46), so an encoded `%` would make every one of them report the file as missing.
    We write what the validators people have read. Artifact names never hold CR or LF."""
    return name.replace("\r", "%0D").replace("\n", "%0A")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def masked_license(lic: License) -> License:
    def mask(s: Secret | None) -> Secret | None:
        return None if s is None else Secret(plain=MASKED)
    return replace(lic, key=mask(lic.key), account_hint=mask(lic.account_hint),  # type: ignore[misc]
                   extra_keys=tuple(Secret(plain=MASKED) for _ in lic.extra_keys))


# A payload name leaves this much of Windows' path limit for the bag's folder and `data/`.
BAG_FOLDER_ROOM = 66


def export_bag(store: Store, release: Release, dest: Path, keyring: Keyring | None = None,
               progress_for: Callable[[str, int], Progress | None] | None = None) -> BagResult:
    """Write the bag at `dest` (absent or an empty directory). `keyring` reveals the keys and
    the documents that can carry them; without it they are masked and left out."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} already exists and is not an empty directory; give a new one")
    licenses = [store.catalog.load_license(lid) for lid in release.licenses]
    box = keyring.box if keyring is not None else None
    withheld = tuple(a.filename for a in release.artifacts
                     if keyring is None and (kept_encrypted(a.role) or store.is_encrypted(a.blake3)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.arkeep-bag-"))
    try:
        os.chmod(work, 0o700 if box is not None else 0o755)
        payload, renamed = _write_payload(store, release, work, keyring, set(withheld), progress_for)
        tags = _write_tags(work, release, licenses, box, payload, withheld)
        _write_lines(work / "tagmanifest-sha512.txt",
                     [f"{_sha512_file(work / t)}  {encode_path(t)}" for t in tags])
        durable.sync_tree(work)
        if dest.exists():
            dest.rmdir()
        durable.replace(work, dest)
        durable.fsync_dir(dest.parent)
    except OSError as exc:
        raise environment_error(exc, f"cannot write the bag at {dest}") from None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return BagResult(dest, len(payload), sum(size for _, _, _, size in payload), box is not None,
                     withheld, renamed)


def _write_payload(store: Store, release: Release, work: Path, keyring: Keyring | None,
                   withheld: set[str], progress_for: Callable[[str, int], Progress | None] | None
                   ) -> tuple[list[tuple[str, str, str, int]], tuple[tuple[str, str, str], ...]]:
    """Copy every artifact not withheld into data/; return (bag path, sha512, blake3, size) for
    each, and the files given a name that every system accepts (a bag travels; the release's
    TOML in the bag keeps the archived names)."""
    data = work / "data"
    data.mkdir()
    out = []
    kept = [a for a in release.artifacts if a.filename not in withheld]
    mapped = local_names([a.filename for a in kept], windows=True, folds_case=True,
                         room=MAX_PATH - BAG_FOLDER_ROOM)
    renamed = tuple((a.filename, name, why) for a, (name, why) in zip(kept, mapped) if why is not None)
    for art, (name, _) in zip(kept, mapped):
        label = f"{release.id} / {art.filename}"
        if not store.has_object(art.blake3):
            raise IntegrityError(f"{label}: the object is missing from the store; run `arkeep repair`")
        target = safe_join(data, name)
        progress = progress_for(art.filename, art.size) if progress_for else None
        with store.open_object(art.blake3, keyring, label) as src:
            sha, size = _copy_hashing(src, art.size, target, art.blake3, label, progress)
        out.append((f"data/{name}", sha, art.blake3, size))
    return out, renamed


def _copy_hashing(src: BinaryIO, size_hint: int, target: Path, digest: str, label: str,
                  progress: Progress | None) -> tuple[str, int]:
    """The object into `target`, checked against its BLAKE3; its SHA-512 for the bag's manifest.
    Made durable with the whole bag, before the bag takes its name."""
    sha = hashlib.sha512()
    with open(target, "wb") as out:
        size = copy_checked(src, out, digest, label, "no bag was written. Run `arkeep repair`",
                            size_hint, progress, also=(sha,))
    os.chmod(target, 0o644)
    return sha.hexdigest(), size


def _write_tags(work: Path, release: Release, licenses: list[License], box: SecretBox | None,
                payload: list[tuple[str, str, str, int]], withheld: tuple[str, ...]) -> list[str]:
    """Every tag file but the tag manifest; return their paths relative to the bag."""
    total = sum(size for _, _, _, size in payload)
    info = [
        ("Bag-Software-Agent", f"arkeep {_version()}".strip()),
        ("Bagging-Date", datetime.now(UTC).date().isoformat()),
        ("Payload-Oxum", f"{total}.{len(payload)}"),
        ("Bag-Size", human_size(total)),
        ("External-Identifier", release.id),
        ("External-Description", _one_line(release.title)),
    ]
    if release.vendor:
        info.append(("Source-Organization", _one_line(release.vendor)))
    info += [("Arkeep-License", lic.id) for lic in licenses]
    info.append(("Arkeep-Keys", "revealed" if box is not None else "masked"))
    info += [("Arkeep-Withheld", _one_line(name)) for name in withheld]
    _write_lines(work / "bagit.txt", [f"BagIt-Version: {BAGIT_VERSION}",
                                      "Tag-File-Character-Encoding: UTF-8"])
    _write_lines(work / "bag-info.txt", [f"{k}: {v}" for k, v in info])
    _write_lines(work / "manifest-sha512.txt", [f"{sha}  {encode_path(p)}" for p, sha, _, _ in payload])
    _write_lines(work / B3SUMS, [f"{b3}  {encode_path(p)}" for p, _, b3, _ in payload])
    tags = ["bagit.txt", "bag-info.txt", "manifest-sha512.txt", B3SUMS]
    (work / TAG_DIR).mkdir()
    (work / TAG_DIR / "release.toml").write_text(release_to_toml(release), encoding="utf-8")
    tags.append(f"{TAG_DIR}/release.toml")
    secret_mode = 0o600 if box is not None else 0o644
    for lic in licenses:
        text = sealed_license_bytes(lic, box).decode() if box else license_to_toml(masked_license(lic))
        path = work / TAG_DIR / f"{lic.id}.toml"
        path.write_text(text, encoding="utf-8")
        os.chmod(path, secret_mode)
        tags.append(f"{TAG_DIR}/{lic.id}.toml")
    if withheld:
        _write_lines(work / TAG_DIR / WITHHELD, [
            "Left out of this bag because they can print the licence key (the store keeps them",
            "encrypted at rest); `arkeep export --bagit DIR --reveal` includes them:", ""]
            + [f"  {name}" for name in withheld])
        tags.append(f"{TAG_DIR}/{WITHHELD}")
    if licenses:
        path = work / TAG_DIR / "LICENSE.txt"
        path.write_text("\n".join(license_text(release, lic, box) for lic in licenses), encoding="utf-8")
        os.chmod(path, secret_mode)
        tags.append(f"{TAG_DIR}/LICENSE.txt")
    return tags


def _write_lines(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def _sha512_file(path: Path) -> str:
    sha = hashlib.sha512()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("arkeep")
    except PackageNotFoundError:
        return ""
