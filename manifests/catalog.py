"""The manifests directory of a store: one TOML file per release and per licence record.

Layout: `releases/<release id>.toml` and `licenses/<licence id>.toml`. Files are replaced
atomically (temp file in the same directory, fsync, rename), so a reader never sees half a file.
Before a file is replaced or deleted its bytes are kept in `history/<kind>s/<id>/<revision>.toml`.
With an index path (a store's `state/catalog-index.sqlite`), list, search, look-ups and
replication plans go through a rebuildable index of the files (manifests/index.py); the files
stay the only source of truth, and every release handed out is read from its file.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .codec import license_to_toml, parse_license, parse_release, release_to_toml
from .errors import AmbiguousRelease, ManifestInvalid, Problem, ReleaseNameClash, ReleaseNotFound
from .index import (
    IndexUnavailable,
    ManifestIndex,
    ReleaseEntry,
    ReleaseOutline,
    ReleaseSummary,
    Snapshot,
)
from .model import License, Release, legacy_release_id, release_id, release_identity, slugify
from .schema import LICENSE_ID, RELEASE_ID
from .stamp import revision_of, stamp

HISTORY = "history"


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a mix.

    A copy, kept small on purpose, of `backends/localfiles.write_atomic`, the durable write the
    rest of arkeep uses (`archive/system/durable.py`): `manifests` may import neither `archive`
    nor `backends` (tests/test_layering.py). Same steps: temp file beside `path`, fsync, rename,
    directory fsync, temp removed on any error."""
    import tempfile  # here, not at the top: `arkeep list` never writes

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".toml")
    try:
        # newline="\n": the same bytes on Windows, where text files would get CRLF and the
        # manifest's BLAKE3 line (computed over LF text) would no longer match it
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable. Windows cannot open a directory (NTFS journals the
    rename itself): a no-op there. The copy of `backends/localfiles.fsync_dir` that goes with
    `write_atomic`'s."""
    if os.name == "nt":
        return
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def delete_durably(path: Path) -> None:
    """Remove `path` and make the removal durable (the directory fsynced); gone already is fine."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)


def _counts(r: Release) -> tuple[int, int, int]:
    """(files, their size, licences) of a release, as the index keeps them."""
    return len(r.artifacts), sum(a.size for a in r.artifacts), len(r.licenses)


class Catalog:
    """Reads and writes the manifests under one directory."""

    def __init__(self, root: Path, index_path: Path | None = None) -> None:
        self.root = Path(root)
        self.releases_dir = self.root / "releases"
        self.licenses_dir = self.root / "licenses"
        self._index = None if index_path is None else ManifestIndex(
            index_path, {"release": self.releases_dir, "license": self.licenses_dir},
            {"release": lambda path, data: self._parse_release(path, data),
             "license": lambda path, data: parse_license(data, str(path))})

    def _parse_release(self, path: Path, data: bytes) -> Release:
        release = parse_release(data, str(path))
        if path.name != f"{release.id}.toml":
            raise ManifestInvalid([Problem(str(path), "id", f"'{release.id}' does not match the file name")])
        return release

    def _indexed(self, kind: str = "release", full: bool = False) -> ManifestIndex | None:
        """The index, brought up to date for `kind`; None where it cannot be used."""
        if self._index is None:
            return None
        try:
            self._index.ensure([kind], full=full)
        except IndexUnavailable:
            return None
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()

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
        return self._parse_release(path, path.read_bytes())

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

    def release_for_names(self, product: str, version: str, edition: str | None = None,
                          platform: str | None = None,
                          pending: dict[str, Release] | None = None) -> tuple[str, Release | None]:
        """The id a release with these names has in this store, and the release if it exists.

        The id is release_id's; a release an older arkeep stored under the legacy id of the
        same names is found there. An id that holds a release with other names (an old lossy
        id, or a digest collision) raises ReleaseNameClash: never two products in one release.
        `pending` holds releases about to be written in the same run, by id.
        """
        pending = pending or {}
        wanted = release_identity(product, version, edition, platform)

        def existing(rid: str) -> Release | None:
            if rid in pending:
                return pending[rid]
            return self.load_release(rid) if self.has_release(rid) else None

        rid = release_id(product, version, edition, platform)
        found = existing(rid)
        if found is not None:
            if release_identity(found.product, found.version, found.edition, found.platform) != wanted:
                raise ReleaseNameClash(rid, found, found.title)
            return rid, found
        legacy = legacy_release_id(product, version, edition, platform)
        old = existing(legacy) if legacy != rid else None
        if old is not None and \
                release_identity(old.product, old.version, old.edition, old.platform) == wanted:
            return legacy, old
        return rid, None

    def has_license(self, lid: str) -> bool:
        return self.license_path(lid).is_file()

    def load_license(self, lid: str) -> License:
        path = self.license_path(lid)
        if not path.is_file():
            raise ReleaseNotFound(f"no licence record '{lid}' in this store")
        return self.read_license_file(path)

    def write_release(self, release: Release, revision: int | None = None) -> Path:
        """Write a release manifest; `revision`: the one it had on a replica it is taken back
        from, else the file's next (see stamp.py)."""
        path = self.release_path(release.id)
        self._write("release", path, release_to_toml(release), release, revision)
        return path

    def write_license(self, lic: License, revision: int | None = None) -> Path:
        path = self.license_path(lic.id)
        self._write("license", path, license_to_toml(lic), lic, revision, mode=0o600)
        return path

    @staticmethod
    def revision(path: Path) -> int:
        """The revision line of a manifest file (0 for none or no file), digest not checked."""
        try:
            with open(path, "rb") as f:
                return revision_of(f.read(64))
        except FileNotFoundError:
            return 0

    def _write(self, kind: str, path: Path, text: str, parsed: Release | License,
               revision: int | None, mode: int = 0o644) -> None:
        index = self._index if self._index is not None and self._index.fresh_before_write(kind) \
            else None
        text = stamp(text, self.revision(path) + 1 if revision is None else revision)
        self._keep_previous(kind, path, mode)
        write_atomic(path, text, mode=mode)
        if index is not None:
            index.record_write(kind, path, text.encode("utf-8"), parsed)

    def delete_release(self, rid: str) -> None:
        """Remove a release manifest (its objects are not touched); the index sees it gone."""
        self._keep_previous("release", self.release_path(rid))
        delete_durably(self.release_path(rid))

    def delete_license(self, lid: str) -> None:
        self._keep_previous("license", self.license_path(lid), 0o600)
        delete_durably(self.license_path(lid))

    # -- earlier versions ------------------------------------------------------------------
    def history_dir(self, kind: str, ident: str) -> Path:
        """Where the earlier versions of a manifest are kept; `ident` is checked as the id of its
        kind (ValueError otherwise), so no name leads outside."""
        path = self.release_path(ident) if kind == "release" else self.license_path(ident)
        return self.root / HISTORY / f"{kind}s" / path.stem

    def _keep_previous(self, kind: str, path: Path, mode: int = 0o644) -> None:
        """Before a manifest is replaced or deleted, keep its bytes as they were, named by their
        revision (`history/<kind>s/<id>/<revision>.toml`); a revision kept already is not
        written again."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        kept = self.history_dir(kind, path.stem) / f"{revision_of(data[:64]):06d}.toml"
        if kept.exists():
            if kept.read_bytes() == data:
                return
            kept = kept.with_name(f"{kept.stem}-{len(list(kept.parent.iterdir()))}.toml")
        write_atomic(kept, data.decode("utf-8", errors="replace"), mode=mode)

    def add_version(self, kind: str, ident: str, data: bytes) -> bool:
        """Keep `data` as an earlier version of a manifest, named as `_keep_previous` names it
        (a version brought back from a replica); False when those bytes are kept already."""
        folder = self.history_dir(kind, ident)
        if any(p.read_bytes() == data for p in self.versions(kind, ident)):
            return False
        kept = folder / f"{revision_of(data[:64]):06d}.toml"
        if kept.exists():
            kept = kept.with_name(f"{kept.stem}-{len(list(folder.iterdir()))}.toml")
        write_atomic(kept, data.decode("utf-8", errors="replace"),
                     mode=0o600 if kind == "license" else 0o644)
        return True

    def versions(self, kind: str, ident: str) -> list[Path]:
        """The kept earlier versions of a manifest, oldest first."""
        folder = self.history_dir(kind, ident)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.toml") if p.is_file() and not p.name.startswith("."))

    def entries(self, query: str | None = None,
                damaged: list[ManifestInvalid] | None = None) -> list[ReleaseEntry]:
        """What `list --json` shows: the releases matching `query`, from the index (see index.py
        for how fresh it is), or from the files where no index can be used."""
        return self._listed(query, damaged, lambda index: index.entries,
                            lambda r: ReleaseEntry(r.id, r.product, r.version, r.vendor, r.edition,
                                                   r.platform, r.title, *_counts(r)))

    def summaries(self, query: str | None = None,
                  damaged: list[ManifestInvalid] | None = None) -> list[ReleaseSummary]:
        """The same releases as `entries`, with only what `list` prints: (id, title, files, size,
        licences). Plain tuples of five, so a listing of 100,000 builds no more than it needs."""
        return self._listed(query, damaged, lambda index: index.summaries,
                            lambda r: (r.id, r.title, *_counts(r)))

    def _listed(self, query: str | None, damaged: list[ManifestInvalid] | None,
                read: Callable[[ManifestIndex], Callable[[str | None], list]],
                of_release: Callable[[Release], Any]) -> list:
        index = self._indexed()
        if index is not None:
            try:
                found = self._checked(index, query, read(index))
                if found is not None:
                    if damaged is not None:
                        damaged.extend(exc for _, exc in index.damaged())
                    return found
            except IndexUnavailable:
                pass
        return [of_release(r) for r in self.search(query, damaged)]

    def _checked(self, index: ManifestIndex, query: str | None,
                 read: Callable[[str | None], list]) -> list | None:
        """A full listing from the index, rebuilt once if its count disagrees with the files
        (a damaged page); None if it still does (then the files are read instead)."""
        found = read(query)
        if query or index.agrees(len(found)):
            return found
        index.rebuild()
        index = self._indexed()
        if index is None:
            return None
        found = read(query)
        return found if index.agrees(len(found)) else None

    def check_index(self, deep: bool = False) -> None:
        """Check every manifest file against the index (the full check), e.g. before `verify`,
        so that a manifest edited in place shows in `list` from then on; `deep` reads every
        file and compares its BLAKE3 too (when the index was caught saying something else)."""
        if self._index is not None:
            try:
                self._index.ensure(("release", "license"), full=True, deep=deep)
            except IndexUnavailable:
                pass

    def snapshot(self) -> Snapshot | None:
        """Every manifest as a fully checked index knows it; None where no index can be used."""
        if self._index is None:
            return None
        try:
            return self._index.snapshot()
        except IndexUnavailable:
            return None

    def outlines(self) -> list[ReleaseOutline]:
        """Every release in list order with its artifacts and licence ids (what `status`
        needs): from the index after a full check, so a manifest edited in place counts too;
        else from the files. A damaged manifest raises, as `search` does: the files are then
        read, so the error is the one reading them gives."""
        index = self._indexed(full=True)
        if index is not None:
            try:
                if not index.damaged():
                    return index.outlines()
            except IndexUnavailable:
                pass
        return [ReleaseOutline.of(r) for r in self.search(None)]

    def resolve(self, ref: str) -> Release:
        """Find the release meant by `PRODUCT@VERSION` (name or slug, any case) or a full id.

        With an index, candidates come from it and each is then read from its file and checked
        again; no match, or any disagreement (a file edited in place), means a full check of
        the files and a second try, then a deep one (every file read and its BLAKE3 compared)
        and a third: a "not found" is only ever said after every file was read.
        """
        index = self._indexed()
        if index is None:
            return self._resolve_scan(ref)
        try:
            found = self._resolve_indexed(ref, index)
            for deep in (False, True):
                if found is not None:
                    break
                index.ensure(["release"], full=True, deep=deep)
                found = self._resolve_indexed(ref, index)
            if found is not None:
                return found
            if index.match_ids(ref):        # files changing under us: read them all
                return self._resolve_scan(ref)
            damaged = [exc for _, exc in index.damaged()]
        except IndexUnavailable:
            return self._resolve_scan(ref)
        raise _not_found(ref, damaged, self._near(ref))

    def _resolve_indexed(self, ref: str, index: ManifestIndex) -> Release | None:
        """The release, or None when the index and the files disagree or nothing matched."""
        ids = index.match_ids(ref)
        if not ids:
            return None
        releases = []
        for rid in ids:
            path = self.release_path(rid)
            try:
                releases.append(self.read_release_file(path))
            except (FileNotFoundError, ManifestInvalid):
                return None
        if len(find_matches(ref, iter(releases))) != len(releases):
            return None
        if len(releases) > 1:
            raise AmbiguousRelease(ref, sorted(r.id for r in releases))
        return releases[0]

    def _near(self, ref: str) -> list[str]:
        """Close matches for a reference nothing matched (only on that error path)."""
        try:
            entries = self.entries(None, [])
        except (OSError, ManifestInvalid):
            return []
        return close_matches(ref, [f"{e.product}@{e.version}" for e in entries])

    def _resolve_scan(self, ref: str) -> Release:
        damaged: list[ManifestInvalid] = []
        matches = find_matches(ref, self.releases(damaged))
        if not matches:
            raise _not_found(ref, damaged, self._near(ref))
        if len(matches) > 1:
            raise AmbiguousRelease(ref, sorted(r.id for r in matches))
        return matches[0]

    def search(self, query: str | None, damaged: list[ManifestInvalid] | None = None) -> list[Release]:
        found = [r for r in self.releases(damaged) if matches_query(r, query)]
        return sorted(found, key=lambda r: (r.product.lower(), r.version, r.id))


def close_matches(ref: str, refs: list[str], n: int = 3) -> list[str]:
    """The `PRODUCT@VERSION`s in `refs` that `ref` probably meant: the same product in another
    version (or any version, for a bare product name), then the closest spellings (difflib)."""
    import difflib

    wanted = ref.strip().lower()
    product = wanted.rpartition("@")[0] if "@" in wanted else wanted
    lowered = {r.lower(): r for r in refs}
    same = sorted((r for low, r in lowered.items() if low.rpartition("@")[0] == product),
                  key=lambda r: -difflib.SequenceMatcher(None, wanted, r.lower()).ratio())
    close = difflib.get_close_matches(wanted, list(lowered), n=n, cutoff=0.6)
    return list(dict.fromkeys(same[:n] + [lowered[c] for c in close]))[:n]


def _not_found(ref: str, damaged: list[ManifestInvalid], near: list[str] = ()) -> Exception:
    """The error for a reference nothing matches: the damaged manifest it names, if any; else
    what it probably meant."""
    for exc in damaged:
        if exc.problems and Path(exc.problems[0].source).stem == ref.strip().lower():
            return exc
    hint = f" ({len(damaged)} damaged manifest(s): `arkeep verify` names them)" if damaged else ""
    if near:
        said = ", ".join(f"'{r}'" for r in near[:-1]) + (" or " if len(near) > 1 else "") + f"'{near[-1]}'"
        return ReleaseNotFound(f"no release matches '{ref}'; did you mean {said}? "
                               f"`arkeep list` shows what is archived{hint}")
    return ReleaseNotFound(f"no release matches '{ref}'; `arkeep list` shows what is archived{hint}")


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
