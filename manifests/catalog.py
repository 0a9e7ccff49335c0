"""The manifests directory of a store: one TOML file per release and per licence record.

Layout: `releases/<release id>.toml` and `licenses/<licence id>.toml`. Files are replaced
atomically (temp file in the same directory, fsync, rename), so a reader never sees half a file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

from .codec import license_to_toml, parse_license, parse_release, release_to_toml
from .errors import AmbiguousRelease, ManifestInvalid, Problem, ReleaseNotFound
from .model import License, Release, slugify
from .schema import LICENSE_ID, RELEASE_ID


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Catalog:
    """Reads and writes the manifests under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.releases_dir = self.root / "releases"
        self.licenses_dir = self.root / "licenses"

    def release_path(self, rid: str) -> Path:
        if not RELEASE_ID.match(rid):
            raise ValueError(f"not a release id: {rid!r}")
        return self.releases_dir / f"{rid}.toml"

    def license_path(self, lid: str) -> Path:
        if not LICENSE_ID.match(lid):
            raise ValueError(f"not a licence id: {lid!r}")
        return self.licenses_dir / f"{lid}.toml"

    def release_files(self) -> list[Path]:
        return _manifest_files(self.releases_dir)

    def license_files(self) -> list[Path]:
        return _manifest_files(self.licenses_dir)

    def read_release_file(self, path: Path) -> Release:
        release = parse_release(path.read_bytes(), str(path))
        if path.name != f"{release.id}.toml":
            raise ManifestInvalid([Problem(str(path), "id", f"'{release.id}' does not match the file name")])
        return release

    def read_license_file(self, path: Path) -> License:
        return parse_license(path.read_bytes(), str(path))

    def releases(self, damaged: list[ManifestInvalid] | None = None) -> Iterator[Release]:
        """Every valid release. An invalid manifest raises, or is set aside in `damaged` when
        given, so that one damaged file does not hide every other release."""
        for path in self.release_files():
            try:
                yield self.read_release_file(path)
            except ManifestInvalid as exc:
                if damaged is None:
                    raise
                damaged.append(exc)

    def has_release(self, rid: str) -> bool:
        return self.release_path(rid).is_file()

    def load_release(self, rid: str) -> Release:
        path = self.release_path(rid)
        if not path.is_file():
            raise ReleaseNotFound(f"no release '{rid}' in this store")
        return self.read_release_file(path)

    def has_license(self, lid: str) -> bool:
        return self.license_path(lid).is_file()

    def load_license(self, lid: str) -> License:
        path = self.license_path(lid)
        if not path.is_file():
            raise ReleaseNotFound(f"no licence record '{lid}' in this store")
        return self.read_license_file(path)

    def write_release(self, release: Release) -> Path:
        path = self.release_path(release.id)
        write_atomic(path, release_to_toml(release))
        return path

    def write_license(self, lic: License) -> Path:
        path = self.license_path(lic.id)
        write_atomic(path, license_to_toml(lic), mode=0o600)
        return path

    def resolve(self, ref: str) -> Release:
        """Find the release meant by `PRODUCT@VERSION` (name or slug, any case) or a full id."""
        damaged: list[ManifestInvalid] = []
        matches = find_matches(ref, self.releases(damaged))
        if not matches:
            for exc in damaged:
                if exc.problems and Path(exc.problems[0].source).stem == ref.strip().lower():
                    raise exc
            hint = f" ({len(damaged)} damaged manifest(s): `arkeep verify` names them)" if damaged else ""
            raise ReleaseNotFound(f"no release matches '{ref}'; `arkeep list` shows what is archived{hint}")
        if len(matches) > 1:
            raise AmbiguousRelease(ref, sorted(r.id for r in matches))
        return matches[0]

    def search(self, query: str | None, damaged: list[ManifestInvalid] | None = None) -> list[Release]:
        found = [r for r in self.releases(damaged) if matches_query(r, query)]
        return sorted(found, key=lambda r: (r.product.lower(), r.version, r.id))


def _manifest_files(directory: Path) -> list[Path]:
    """The manifests in `directory`; not the `.tmp-*.toml` files write_atomic leaves after a crash."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.toml") if not p.name.startswith("."))


def find_matches(ref: str, releases: Iterator[Release]) -> list[Release]:
    wanted = ref.strip().lower()
    product, at, version = wanted.rpartition("@")
    exact: list[Release] = []
    loose: list[Release] = []
    for r in releases:
        if r.id == wanted:
            exact.append(r)
        elif at and product in (r.product.lower(), slugify(r.product)) and \
                version in (r.version.lower(), slugify(r.version)):
            loose.append(r)
    return exact or loose


def matches_query(release: Release, query: str | None) -> bool:
    if not query:
        return True
    hay = " ".join(filter(None, (release.id, release.product, release.version, release.vendor,
                                 release.edition, release.platform,
                                 *(a.filename for a in release.artifacts)))).lower()
    return all(word in hay for word in query.lower().split())
