"""`arkeep add`: archive installers with their licence files, invoices and key as one release."""
from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import IntegrityError, SecretNeeded, UsageError, environment_error
from archive.intake.authenticity import (
    REFUSED,
    anchors_for,
    can_carry_authenticode,
    check_path,
    openpgp_evidence,
)
from archive.intake.openpgp import BAD_SIGNATURE as BAD_PGP
from archive.intake.openpgp import (
    SIGNATURE_SUFFIXES,
    gpg_available,
    is_clearsigned,
    signature_beside,
)
from archive.intake.openpgp import check as pgp_check
from archive.intake.purchase import LicenseFields, Purchase, licence_for
from archive.intake.trust import Anchors, store_trusted
from archive.replicate.at_rest import kept_encrypted, refuse_keys_in_installers
from archive.storage.hashing import Progress
from archive.storage.store import Store
from archive.system.paths import check_readable_file
from manifests.errors import ReleaseNameClash
from manifests.model import Artifact, License, Release, name_problem
from manifests.schema import unsafe_filename_reason

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.intake.fetch import Fetched  # (http.client, ssl) only for add URL
    from manifests.provenance import Authenticity

EXTRA_MEDIA_TYPES = {
    ".deb": "application/vnd.debian.binary-package", ".rpm": "application/x-rpm",
    ".msi": "application/x-msi", ".exe": "application/vnd.microsoft.portable-executable",
    ".dmg": "application/x-apple-diskimage", ".pkg": "application/x-newton-compatible-pkg",
    ".iso": "application/x-iso9660-image", ".appimage": "application/x-executable",
    ".lic": "text/plain", ".key": "text/plain", ".eml": "message/rfc822",
    ".msg": "application/vnd.ms-outlook",
}


@dataclass(frozen=True)
class AddRequest:
    product: str
    version: str
    installers: tuple[Path, ...]
    vendor: str | None = None
    edition: str | None = None
    platform: str | None = None
    license_files: tuple[Path, ...] = ()
    invoices: tuple[Path, ...] = ()
    receipts: tuple[Path, ...] = ()
    key: str | None = field(default=None, repr=False)
    # More candidate keys, each with where it came from (kept in the licence record's extra keys).
    extra_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    license_id: str | None = None
    license: LicenseFields = field(default_factory=LicenseFields)
    source_url: str | None = None
    # Per file name: where values were read from that file ([artifact.detected] in the manifest).
    detected: dict[str, dict[str, str]] = field(default_factory=dict)
    # Trust anchors beyond the system's for checking signatures, and whether a file whose
    # signature does not match its bytes is archived all the same (recorded either way).
    ca_files: tuple[Path, ...] = ()
    accept_unverified: bool = False
    # OpenPGP: detached signatures given (each pairs with the installer it is named after, or
    # with the only one), and the public keys trusted for them. A signature beside a local
    # installer (setup.exe.asc) is found without being named.
    signatures: tuple[Path, ...] = ()
    openpgp_keys: tuple[Path, ...] = ()
    # Installers `add URL` downloaded: where from, when, and how (keyed by the downloaded path).
    downloads: dict[Path, Fetched] = field(default_factory=dict)


@dataclass(frozen=True)
class AddResult:
    release: Release
    license: License | None
    created: bool
    new_artifacts: tuple[Artifact, ...]
    new_objects: int
    unchanged: bool


def media_type(path: Path) -> str:
    ext = path.suffix.lower()
    return EXTRA_MEDIA_TYPES.get(ext) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def check_input_file(path: Path) -> int:
    """Refuse what cannot be archived before anything is written; return the size."""
    size = check_readable_file(path)
    if size == 0:
        raise UsageError(f"{path} is empty; an empty file is almost certainly an incomplete download")
    reason = unsafe_filename_reason(path.name)
    if reason:
        raise UsageError(f"{path}: the file name {reason}")
    return size


def add_release(store: Store, request: AddRequest, keyring: Keyring | None = None,
                progress_for: Callable[[str, int], Progress | None] | None = None) -> AddResult:
    """Ingest every file, then write the licence record and the release manifest.

    Objects land first and manifests last, so a crash leaves at worst unreferenced objects,
    never a manifest that names a missing object.
    """
    if not request.installers:
        raise UsageError("give at least one installer file")
    request = checked_names(request)
    if (request.key is not None or request.extra_keys) and keyring is None:
        raise UsageError("a licence key is encrypted with the archive secret: the passphrase is needed")
    if request.key is not None and not request.key.strip():
        raise UsageError("the licence key is empty")
    pairs = signature_pairs(request)
    roles = [("installer", p) for p in request.installers] + \
            [("signature", p) for p in dict.fromkeys(pairs.values())] + \
            [("license-file", p) for p in request.license_files] + \
            [("invoice", p) for p in request.invoices] + [("receipt", p) for p in request.receipts]
    sizes = {p: check_input_file(p) for _, p in roles}
    names = [p.name for _, p in roles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"two files share the name {dupes[0]!r}; a release restores files by name")
    rid, existing = find_release_for(store, request.product, request.version, request.edition,
                                     request.platform)
    if request.license_id and not store.catalog.has_license(request.license_id):
        raise UsageError(f"no licence record '{request.license_id}' in this store")

    if keyring is None and any(kept_encrypted(role) for role, _ in roles):
        raise SecretNeeded("licence files, invoices and receipts are kept encrypted at rest: "
                           "the passphrase is needed")
    refuse_keys_in_installers(request.installers, _known_keys(store, request, keyring))
    # Trust anchors are read before anything is stored, so that a bad --ca-file stops here.
    anchors = anchors_for((*request.ca_files, *store_trusted(store.root, "roots"))) \
        if request.ca_files or any(can_carry_authenticode(p) for p in request.installers) else None

    new_objects = 0
    ingested: list[tuple[str, Path, str, int]] = []
    for role, path in roles:
        progress = progress_for(path.name, sizes[path]) if progress_for else None
        result = store.ingest(path, progress, keyring if kept_encrypted(role) else None)
        new_objects += result.new
        ingested.append((role, path, result.digest, result.size))

    evidence = _signatures(store, request, ingested, anchors) if anchors is not None else {}
    pgp = _openpgp(store, request, ingested, pairs)
    lic = _license_for(store, request, existing, keyring)
    lic_id = lic.id if lic else request.license_id
    now = datetime.now(UTC).replace(microsecond=0)
    artifacts = [replace(_artifact(request, role, path, digest, size, lic_id, evidence.get(path)),
                         openpgp=pgp.get(path))
                 for role, path, digest, size in ingested]
    return _write(store, request, rid, existing, artifacts, lic, lic_id, now, new_objects)


def signature_pairs(request: AddRequest) -> dict[Path, Path]:
    """Installer -> its detached OpenPGP signature: a given one named after it (setup.exe.asc),
    or the only one given for the only installer, or one found beside a local installer."""
    pairs: dict[Path, Path] = {}
    left = list(request.signatures)
    for installer in request.installers:
        named = [s for s in left if s.name in (installer.name + x for x in SIGNATURE_SUFFIXES)]
        if named:
            pairs[installer] = named[0]
            left.remove(named[0])
        elif installer not in request.downloads and (beside := signature_beside(installer)):
            pairs[installer] = beside
    if left and len(request.installers) == 1 and request.installers[0] not in pairs:
        pairs[request.installers[0]] = left.pop(0)
    if left:
        raise UsageError(f"the signature {left[0].name} is named after none of the installers "
                         "(setup.exe.asc signs setup.exe)")
    return pairs


def _openpgp(store: Store, request: AddRequest, ingested: list[tuple[str, Path, str, int]],
             pairs: dict[Path, Path]) -> dict[Path, Authenticity]:
    """OpenPGP evidence for each installer with a detached signature, or clearsigned itself,
    checked on the stored bytes; a signature that does not match stops the add unless accepted."""
    found: dict[Path, Authenticity] = {}
    for role, path, digest, _ in ingested:
        if role != "installer":
            continue
        stored = store.object_path(digest)
        signature = pairs.get(path)
        if signature is None and not is_clearsigned(stored):
            continue
        if signature not in request.signatures and not gpg_available():
            continue      # found, not asked for: without GnuPG it is archived unchecked
        keys = (*request.openpgp_keys, *store_trusted(store.root, "openpgp"))
        result = pgp_check(stored, signature, keys)
        record = openpgp_evidence(result, [str(k) for k in keys],
                                  signature.name if signature else None)
        if result.verdict == BAD_PGP and not request.accept_unverified:
            raise IntegrityError(f"{path.name}: {result.reason}. The release was not written; give "
                                 "--accept-unverified to archive it anyway (the finding is recorded)")
        found[path] = record
    return found


def _artifact(request: AddRequest, role: str, path: Path, digest: str, size: int,
              lic_id: str | None, evidence: Authenticity | None) -> Artifact:
    fetched = request.downloads.get(path)
    if fetched is not None:
        source_url, retrieved = fetched.final_url, fetched.retrieved
    else:
        source_url, retrieved = (request.source_url if role == "installer" else None), None
    return Artifact(role=role, filename=path.name, size=size, blake3=digest,
                    media_type=media_type(path), license=None if role == "signature" else lic_id,
                    source_url=source_url,
                    retrieved=retrieved, detected=dict(request.detected.get(path.name, {})),
                    authenticity=evidence, download=fetched.record if fetched else None)


def _signatures(store: Store, request: AddRequest, ingested: list[tuple[str, Path, str, int]],
                anchors: Anchors) -> dict[Path, Authenticity]:
    """The Authenticode evidence of each installer that is a Windows program, checked on the
    stored object (the archived bytes). A signature that does not vouch for the bytes stops the
    add before any manifest is written, unless the user accepts it."""
    programs = [(path, store.object_path(digest)) for role, path, digest, _ in ingested
                if role == "installer" and not store.is_encrypted(digest)
                and can_carry_authenticode(store.object_path(digest))]
    found: dict[Path, Authenticity] = {}
    for path, stored in programs:
        record = check_path(stored, anchors)
        if record is None:
            continue
        if record.verdict in REFUSED and not request.accept_unverified:
            raise IntegrityError(f"{path.name}: {record.reason}. The release was not written; give "
                                 "--accept-unverified to archive it anyway (the finding is recorded)")
        found[path] = record
    return found


def checked_names(request: AddRequest) -> AddRequest:
    """The request with its names trimmed (a blank edition or platform is none); a name that
    cannot be a release's (empty, too long, control characters) is refused before anything
    is written."""
    names = {"product": request.product, "version": request.version,
             "edition": request.edition, "platform": request.platform}
    for field_name, value in names.items():
        reason = name_problem(field_name, value)
        if reason:
            raise UsageError(f"the {field_name} name {reason}; give --{field_name} with a real value")
    return replace(request, product=request.product.strip(), version=request.version.strip(),
                   edition=(request.edition or "").strip() or None,
                   platform=(request.platform or "").strip() or None)


def find_release_for(store: Store, product: str, version: str, edition: str | None,
                     platform: str | None, pending: dict[str, Release] | None = None
                     ) -> tuple[str, Release | None]:
    """The id and existing release these names belong to; names whose id already holds a
    release with other names are refused with the flags that name that release."""
    import shlex

    try:
        return store.catalog.release_for_names(product, version, edition, platform, pending)
    except ReleaseNameClash as exc:
        held: Release = exc.holder  # type: ignore[assignment]
        flags = " ".join(f"--{name} {shlex.quote(value)}" for name, value in (
            ("product", held.product), ("version", held.version), ("edition", held.edition),
            ("platform", held.platform)) if value)
        raise UsageError(f"{exc.rid} already holds the release '{held.title}', named differently "
                         f"from '{' '.join(filter(None, (product, version, edition, platform)))}'; "
                         f"to add files to it give {flags}; to archive this one apart give it "
                         "another --edition") from None


def _known_keys(store: Store, request: AddRequest, keyring: Keyring | None) -> list[str]:
    """The keys this add knows in clear: given now, or in the licence record it links to."""
    found = ([request.key] if request.key else []) + [value for _, value in request.extra_keys]
    if request.license_id and keyring is not None:
        box = keyring.box
        lic = store.catalog.load_license(request.license_id)
        found += [box.open(s.token) for s in lic.secrets() if s.token]
    return found


def _license_for(store: Store, request: AddRequest, existing: Release | None,
                 keyring: Keyring | None) -> License | None:
    """The licence record of this purchase (ops/purchase.py: joined to the one it belongs to,
    or new) when the user gave a key, licence files, invoices or purchase details."""
    if request.license_id:
        return None
    if request.key is None and not request.extra_keys and not request.license.any_given() \
            and not request.license_files and not request.invoices:
        return None
    box = keyring.box if keyring is not None else None
    purchase = Purchase(product=request.product, vendor=request.vendor, key=request.key,
                        extra_keys=request.extra_keys, fields=request.license,
                        has_license_files=bool(request.license_files))
    return licence_for(store, purchase, box, existing.licenses if existing is not None else ())


def _write(store: Store, request: AddRequest, rid: str, existing: Release | None,
           artifacts: list[Artifact], lic: License | None, lic_id: str | None,
           now: datetime, new_objects: int) -> AddResult:
    if existing is None:
        release = Release(id=rid, product=request.product, version=request.version, created=now,
                          vendor=request.vendor, edition=request.edition, platform=request.platform,
                          licenses=(lic_id,) if lic_id else (), artifacts=tuple(artifacts))
        fresh = tuple(artifacts)
    else:
        known = {(a.blake3, a.filename) for a in existing.artifacts}
        fresh = tuple(a for a in artifacts if (a.blake3, a.filename) not in known)
        clash = {a.filename for a in existing.artifacts} & {a.filename for a in fresh}
        if clash:
            raise UsageError(f"{rid} already has a different file named {min(clash)!r}; "
                             "archive it under another version or name")
        licenses = existing.licenses + ((lic_id,) if lic_id and lic_id not in existing.licenses else ())
        release = replace(existing, licenses=licenses, artifacts=existing.artifacts + fresh)
    lic_changed = lic is not None and (not store.catalog.has_license(lic.id)
                                       or store.catalog.load_license(lic.id) != lic)
    unchanged = existing is not None and release == existing and not lic_changed
    try:
        if lic is not None and lic_changed:
            store.catalog.write_license(lic)
        if not unchanged:
            store.catalog.write_release(release)
    except OSError as exc:
        # The objects are in place; without its manifest the release is simply not archived yet.
        raise environment_error(exc, f"cannot write the manifest of {rid}") from None
    return AddResult(release=release, license=lic, created=existing is None, new_artifacts=fresh,
                     new_objects=new_objects, unchanged=unchanged)
