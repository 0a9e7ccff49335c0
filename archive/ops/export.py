"""`arkeep export PRODUCT@VERSION --zip FILE`: one self-contained AES-256 zip of a release.

Meant to be handed over or burnt to disc: the installers, licence files and invoices under
their real names, `manifest.toml` (the release and its licence records, keys in clear inside the
encryption) and `LICENSE.txt`. 7-Zip opens it with the recovery code. Entry names are visible
without the password, as in every zip: that is the price of a file a person can double-click.

The zip may be unpacked on any machine, so each entry gets a name that Windows, macOS and Linux
all accept (`archive/system/localnames.py`, as restore does on Windows), shortened to leave room
for the folder it is unpacked into; `manifest.toml` inside keeps every original name.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyzipper

from archive.errors import IntegrityError, UsageError
from archive.ops.restore import LICENSE_TXT
from archive.present.render import license_text
from archive.replicate.sealing import sealed_license_bytes
from archive.storage.hashing import copy_checked
from archive.storage.store import Store
from archive.system import durable
from archive.system.localnames import MAX_PATH, local_names
from manifests.codec import release_to_toml
from manifests.model import Release

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

MANIFEST_TOML = "manifest.toml"
# An entry name leaves this much of Windows' path limit for the folder the zip is unpacked into.
FOLDER_ROOM = 60


@dataclass(frozen=True)
class ExportResult:
    path: Path
    entries: tuple[str, ...]
    size: int
    renamed: tuple[tuple[str, str, str], ...] = ()     # (archived name, entry name, why)


def export_zip(store: Store, release: Release, keyring: Keyring, dest: Path, force: bool = False,
               progress_for: Callable[[str, int], Callable[[int], None] | None] | None = None) -> ExportResult:
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists; use --force to replace it")
    if dest.is_dir():
        raise UsageError(f"{dest} is a directory; give a file name ending in .zip")
    box = keyring.box
    licenses = [store.catalog.load_license(lid) for lid in release.licenses]
    names = [a.filename for a in release.artifacts]
    if MANIFEST_TOML in names or LICENSE_TXT in names:
        raise UsageError(f"{release.id} has a file named like the export's own {MANIFEST_TOML}/{LICENSE_TXT}")
    mapped = local_names(names, windows=True, folds_case=True, room=MAX_PATH - FOLDER_ROOM)
    renamed = tuple((name, entry, why) for name, (entry, why) in zip(names, mapped) if why is not None)
    manifest = release_to_toml(release) + "".join(
        "\n# ---- licence record ----\n" + sealed_license_bytes(lic, box).decode() for lic in licenses)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with durable.writing(dest, f"cannot write {dest}", mode=0o600, prefix=".arkeep-export-",
                         suffix=".zip") as out, \
            pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_STORED,
                                encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(keyring.zip_password)
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        for art, (entry, _) in zip(release.artifacts, mapped):
            progress = progress_for(art.filename, art.size) if progress_for else None
            _add_object(zf, store, keyring, entry, art.blake3,
                        f"{release.id} / {art.filename}", progress)
        zf.writestr(MANIFEST_TOML, manifest.encode("utf-8"))
        if licenses:
            zf.writestr(LICENSE_TXT, "\n".join(license_text(release, lic, box) for lic in licenses))
    entries = tuple([entry for entry, _ in mapped] + [MANIFEST_TOML] + ([LICENSE_TXT] if licenses else []))
    return ExportResult(dest, entries, dest.stat().st_size, renamed)


def _add_object(zf: pyzipper.AESZipFile, store: Store, keyring: Keyring, name: str, digest: str,
                label: str, progress: Callable[[int], None] | None) -> None:
    """The object's plaintext (decrypted if it is kept encrypted at rest) into the zip."""
    if not store.has_object(digest):
        raise IntegrityError(f"{label}: the object is missing from the store; run `arkeep repair`")
    info = zf.zipinfo_cls(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = pyzipper.ZIP_STORED
    with store.open_object(digest, keyring, label) as src, zf.open(info, "w", force_zip64=True) as out:
        copy_checked(src, out, digest, label, "nothing was exported. Run `arkeep repair`",
                     store.stored_path(digest).stat().st_size, progress)
