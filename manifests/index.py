"""A rebuildable SQLite index of a manifests directory, for fast list, search and look-up.

The TOML manifests are the only source of truth. This index is a cache of what they say (one
row per file: its identity, its BLAKE3, and the few fields that list, search, resolve, status
and the replication plan need), kept in `state/` and rebuilt from the manifests whenever it is missing,
damaged, of another version, or stale. Deleting it loses nothing.

Staleness, measured per directory (`releases/`, `licenses/`), two ways:

- quick (every list, search and look-up): one `stat` of the directory. Creating, removing or
  renaming a manifest (which is how arkeep, git, `sed -i` and most editors write) changes the
  directory's inode/mtime; then the files are checked one by one (below). Right after a change
  the directory's mtime may sit in the same clock tick as a later change, so while it is younger
  than RACY_NS the file names and inode numbers are compared too (one `scandir`, no `stat`).
- full (the replication plan, `verify`, `status`, and whenever the quick check fails): every
  file's inode, size and mtime are compared with the index; files that differ, are new, or were
  indexed within RACY_NS of their mtime are read again (and re-parsed only if their BLAKE3
  changed). At 100k releases this costs ~0.7 s, most of it one `stat` per file.

A manifest edited in place (same file, same inode: `>>`, nano) leaves the directory untouched,
so only a full check sees it. Look-ups never show stale data anyway: the release returned by
`Catalog.resolve` is read from its TOML file, and a mismatch with the index triggers a full
check. Listing is where an in-place edit can lag, until the next command that runs a full check
(sync, verify, repair, status... or any write through the catalog). A per-file check on every
`list` would cost ~5 µs × 100k files here, more than the whole budget of a list.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable
from operator import itemgetter
from pathlib import Path

from .errors import ManifestInvalid, Problem, UnknownSchema
from .model import License, Release, slugify

INDEX_VERSION = "6"   # 6: no list line (the caller makes it from the fields)
# A file or directory whose mtime is this close to the moment it was indexed may change again
# within the same timestamp tick without its mtime moving: such entries are re-checked.
RACY_NS = 2_000_000_000
# The same for a directory's mtime, which only the quick check relies on: timestamps move at
# least every clock tick (4 ms at HZ=250; finer with multigrain timestamps), so a directory
# whose mtime is older than this has been seen after its last change.
DIR_RACY_NS = 100_000_000
KINDS = ("release", "license")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    indexed_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (kind, name)
);
CREATE INDEX files_damaged ON files (kind, name) WHERE error IS NOT NULL;
CREATE TABLE releases (
    id TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    product TEXT NOT NULL,
    version TEXT NOT NULL,
    vendor TEXT,
    edition TEXT,
    platform TEXT,
    title TEXT NOT NULL,
    files INTEGER NOT NULL,
    size INTEGER NOT NULL,
    nlicenses INTEGER NOT NULL,
    product_lower TEXT NOT NULL,
    product_slug TEXT NOT NULL,
    version_lower TEXT NOT NULL,
    version_slug TEXT NOT NULL,
    hay TEXT NOT NULL,
    PRIMARY KEY (product_lower, version, id)
) WITHOUT ROWID;
CREATE INDEX releases_product ON releases (product_lower);
CREATE INDEX releases_product_slug ON releases (product_slug);
CREATE TABLE artifacts (
    release_id TEXT NOT NULL,
    pos INTEGER NOT NULL,
    filename TEXT NOT NULL,
    blake3 TEXT NOT NULL,
    size INTEGER NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (release_id, pos)
) WITHOUT ROWID;
CREATE TABLE release_licenses (
    release_id TEXT NOT NULL,
    pos INTEGER NOT NULL,
    license_id TEXT NOT NULL,
    PRIMARY KEY (release_id, pos)
) WITHOUT ROWID;
"""


# Plain classes, not dataclasses or namedtuples: those compile code when this module is imported,
# and `arkeep list` has a start-up budget (0.15 s, docs/BENCHMARKS.md).

class ReleaseEntry(tuple):
    """What `arkeep list` shows of one release, straight from the index: (id, product, version,
    vendor, edition, platform, title, files, size, licenses)."""

    __slots__ = ()
    FIELDS = ("id", "product", "version", "vendor", "edition", "platform", "title", "files",
              "size", "licenses")

    def __new__(cls, *values: object) -> ReleaseEntry:  # noqa: PYI034 - never subclassed
        return tuple.__new__(cls, values)

    @classmethod
    def _make(cls, row: Iterable[object]) -> ReleaseEntry:
        return tuple.__new__(cls, row)

    id = property(itemgetter(0))
    product = property(itemgetter(1))
    version = property(itemgetter(2))
    vendor = property(itemgetter(3))
    edition = property(itemgetter(4))
    platform = property(itemgetter(5))
    title = property(itemgetter(6))
    files = property(itemgetter(7))
    size = property(itemgetter(8))
    licenses = property(itemgetter(9))

    def __repr__(self) -> str:
        return f"ReleaseEntry({', '.join(f'{k}={v!r}' for k, v in zip(self.FIELDS, self))})"


ReleaseSummary = tuple[str, str, int, int, int]
"""What `arkeep list` prints of a release: (id, title, files, size of the files, licences)."""


class IndexedRelease:
    """What a replication plan needs of one release manifest."""

    __slots__ = ("artifacts", "digest", "id", "licenses", "path")

    def __init__(self, id: str, path: Path, digest: str,
                 artifacts: tuple[tuple[str, str, int], ...], licenses: tuple[str, ...]) -> None:
        self.id = id
        self.path = path
        self.digest = digest            # BLAKE3 of the TOML file's bytes
        self.artifacts = artifacts      # (file name, blake3, size)
        self.licenses = licenses


class ReleaseOutline:
    """What `status` needs of one release: its id, title, artifacts as (file name, blake3,
    size) and licence ids, in manifest order, and its installers as (file name, blake3)."""

    __slots__ = ("artifacts", "id", "installers", "licenses", "title")

    def __init__(self, id: str, title: str, artifacts: tuple[tuple[str, str, int], ...],
                 licenses: tuple[str, ...],
                 installers: tuple[tuple[str, str], ...] = ()) -> None:
        self.id = id
        self.title = title
        self.artifacts = artifacts
        self.licenses = licenses
        self.installers = installers

    @classmethod
    def of(cls, r: Release) -> ReleaseOutline:
        return cls(r.id, r.title, tuple((a.filename, a.blake3, a.size) for a in r.artifacts),
                   tuple(r.licenses), tuple((a.filename, a.blake3) for a in r.installers()))


class IndexedLicense:
    __slots__ = ("digest", "id", "path")

    def __init__(self, id: str, path: Path, digest: str) -> None:
        self.id = id
        self.path = path
        self.digest = digest


class Snapshot:
    """Every manifest as the index knows it after a full check, in file-name order."""

    __slots__ = ("damaged_licenses", "damaged_releases", "licenses", "releases")

    def __init__(self, releases: list[IndexedRelease], licenses: dict[str, IndexedLicense],
                 damaged_releases: list[ManifestInvalid],
                 damaged_licenses: dict[str, ManifestInvalid]) -> None:
        self.releases = releases
        self.licenses = licenses
        self.damaged_releases = damaged_releases
        self.damaged_licenses = damaged_licenses


class IndexUnavailable(Exception):
    """The index cannot be used here (e.g. a read-only store): read the manifests instead."""


def _digest(data: bytes) -> str:
    import blake3  # only when files are (re)indexed: `list` on a current index never hashes
    return blake3.blake3(data).hexdigest()


def _encode_error(exc: ManifestInvalid) -> str:
    import json
    return json.dumps({"type": "unknown-schema" if isinstance(exc, UnknownSchema) else "invalid",
                       "problems": [[p.source, p.field, p.reason] for p in exc.problems]})


def decode_error(text: str) -> ManifestInvalid:
    import json
    data = json.loads(text)
    cls = UnknownSchema if data.get("type") == "unknown-schema" else ManifestInvalid
    return cls([Problem(*p) for p in data["problems"]])


def _hay(release: Release) -> str:
    return " ".join(filter(None, (release.id, release.product, release.version, release.vendor,
                                  release.edition, release.platform,
                                  *(a.filename for a in release.artifacts)))).lower()


class ManifestIndex:
    """The index file at `path` over the manifests in `dirs` (kind -> directory).

    `parse[kind](path, data)` turns a file's bytes into a Release / License or raises
    ManifestInvalid, exactly as the catalog reads it. The index keeps data only: what `list`
    prints is made from `entries` by the caller (archive/present/listing.py).
    """

    def __init__(self, path: Path, dirs: dict[str, Path],
                 parse: dict[str, Callable[[Path, bytes], object]]) -> None:
        self.path = Path(path)
        self.dirs = dirs
        self.parse = parse
        self._db: sqlite3.Connection | None = None

    # -- the connection ----------------------------------------------------------------------
    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._open()
        except sqlite3.DatabaseError:
            # A damaged or foreign file: it is only a cache, so start again.
            self._discard()
            try:
                db = self._open()
            except (sqlite3.Error, OSError) as exc:
                raise IndexUnavailable(str(exc)) from None
        except (sqlite3.Error, OSError) as exc:
            raise IndexUnavailable(str(exc)) from None
        self._db = db
        return db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                             check_same_thread=False)
        try:
            # A rollback journal, not WAL: no -wal/-shm files lingering next to the cache, and
            # the file changes only when what it says changes. NORMAL still syncs the journal,
            # so a power cut leaves the old or the new index, never a torn one.
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=NORMAL")
            version = None
            if db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
                row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
                version = row[0] if row else None
            if version != self._version():
                self._create(db, self._version())
        except BaseException:
            db.close()
            raise
        return db

    def _version(self) -> str:
        return INDEX_VERSION

    @staticmethod
    def _create(db: sqlite3.Connection, version: str) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                db.execute(f'DROP TABLE IF EXISTS "{name}"')
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('version', ?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _discard(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise IndexUnavailable(str(exc)) from None

    def _run(self, work: Callable[[sqlite3.Connection], object]) -> object:
        """Run `work`; if the file turns out damaged mid-way, rebuild it once and run again."""
        try:
            return work(self._connect())
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise IndexUnavailable(str(exc)) from None
            self._discard()
            try:
                return work(self._connect())
            except sqlite3.Error as again:
                raise IndexUnavailable(str(again)) from None

    # -- freshness ---------------------------------------------------------------------------
    def _meta(self, db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                   (key, value))

    def _dir_state(self, kind: str) -> tuple[str, int, int]:
        """(signature, mtime_ns, when) of a manifests directory ('' if it does not exist)."""
        when = time.time_ns()
        try:
            st = os.stat(self.dirs[kind])
        except FileNotFoundError:
            return "", 0, when
        return f"{st.st_dev}:{st.st_ino}:{st.st_mtime_ns}", st.st_mtime_ns, when

    def _quick_ok(self, db: sqlite3.Connection, kind: str) -> bool:
        sig, mtime_ns, when = self._dir_state(kind)
        if self._meta(db, f"dir:{kind}") != sig:
            return False
        checked = int(self._meta(db, f"checked:{kind}") or 0)
        if mtime_ns < checked - DIR_RACY_NS:
            return True
        # The directory changed near the time it was indexed: compare names and inodes.
        indexed = dict(db.execute("SELECT name, ino FROM files WHERE kind=?", (kind,)).fetchall())
        if self._names_and_inodes(kind) != indexed:
            return False
        if mtime_ns < when - DIR_RACY_NS:
            self._set_meta(db, f"checked:{kind}", str(when))
        return True

    def _names_and_inodes(self, kind: str) -> dict[str, int]:
        found: dict[str, int] = {}
        try:
            with os.scandir(self.dirs[kind]) as entries:
                for entry in entries:
                    if entry.name.endswith(".toml") and not entry.name.startswith("."):
                        found[entry.name] = entry.inode()
        except FileNotFoundError:
            pass
        return found

    def ensure(self, kinds: Iterable[str], full: bool = False, deep: bool = False) -> None:
        """Bring the index up to date for `kinds`: the quick check, else (or if `full`) the full
        one; `deep` reads every file and compares its BLAKE3 too (a file rewritten with its
        old size and mtime restored, as `rsync -t` or a restore from backup can do)."""
        def work(db: sqlite3.Connection) -> None:
            for kind in kinds:
                if full or deep or not self._quick_ok(db, kind):
                    self._full_check(db, kind, deep)
        self._run(work)

    def _full_check(self, db: sqlite3.Connection, kind: str, deep: bool = False) -> None:
        sig, _, when = self._dir_state(kind)
        # Built by sqlite3 itself (no Python per row): at 100k files this check is on the path
        # of every `status`. A file found as `settled` says (same inode, size, mtime, indexed
        # well after that mtime) is not read; the others' rows are fetched one by one.
        settled = set() if deep else set(db.execute(
            "SELECT name, ino, size, mtime_ns FROM files WHERE +kind=? AND mtime_ns < indexed_ns - ?",
            (kind, RACY_NS)))   # +kind: a scan of the table beats 100k look-ups through its key
        hits = 0
        seen: set[str] = set()
        changes: list[tuple[str, os.stat_result, bytes]] = []
        touched: list[tuple[int, int, int, int, str, str]] = []
        directory = self.dirs[kind]
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            name = entry.name
            if not name.endswith(".toml") or name.startswith("."):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            seen.add(name)
            if (name, st.st_ino, st.st_size, st.st_mtime_ns) in settled:
                hits += 1
                continue
            old = db.execute("SELECT ino, size, mtime_ns, indexed_ns, digest FROM files "
                             "WHERE kind=? AND name=?", (kind, name)).fetchone()
            try:
                data = Path(entry.path).read_bytes()
            except FileNotFoundError:
                seen.discard(name)
                continue
            if old is not None and old[4] == _digest(data):
                # Same bytes: only the file's identity or times moved.
                if (old[0], old[1], old[2]) != (st.st_ino, st.st_size, st.st_mtime_ns) \
                        or old[3] < st.st_mtime_ns + RACY_NS:
                    touched.append((st.st_ino, st.st_size, st.st_mtime_ns, when, kind, name))
                continue
            changes.append((name, st, data))
        # Every indexed file seen as settled (the usual case): none is gone.
        indexed = db.execute("SELECT count(*) FROM files WHERE kind=?", (kind,)).fetchone()[0]
        gone = [] if indexed == hits else [
            name for (name,) in db.execute("SELECT name FROM files WHERE kind=?", (kind,))
            if name not in seen]
        db.execute("BEGIN IMMEDIATE")
        try:
            for name in gone:
                self._forget(db, kind, name)
            db.executemany("UPDATE files SET ino=?, size=?, mtime_ns=?, indexed_ns=? "
                           "WHERE kind=? AND name=?", touched)
            for name, st, data in changes:
                self._store(db, kind, name, st, data, when)
            self._set_meta(db, f"dir:{kind}", sig)
            self._set_meta(db, f"checked:{kind}", str(when))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _forget(self, db: sqlite3.Connection, kind: str, name: str) -> None:
        db.execute("DELETE FROM files WHERE kind=? AND name=?", (kind, name))
        if kind == "release":
            rid = name[:-len(".toml")]
            for table, column in (("releases", "id"), ("artifacts", "release_id"),
                                  ("release_licenses", "release_id")):
                db.execute(f"DELETE FROM {table} WHERE {column}=?", (rid,))

    def _store(self, db: sqlite3.Connection, kind: str, name: str, st: os.stat_result, data: bytes,
               when: int) -> None:
        self._forget(db, kind, name)
        error = None
        parsed: object = None
        try:
            parsed = self.parse[kind](self.dirs[kind] / name, data)
        except ManifestInvalid as exc:
            error = _encode_error(exc)
        db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (kind, name, st.st_ino, st.st_size, st.st_mtime_ns, when,
                    _digest(data), error))
        if isinstance(parsed, Release):
            self._store_release(db, name, parsed)

    def _store_release(self, db: sqlite3.Connection, name: str, r: Release) -> None:
        db.execute("INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (r.id, name, r.product, r.version, r.vendor, r.edition, r.platform, r.title,
                    len(r.artifacts), sum(a.size for a in r.artifacts), len(r.licenses),
                    r.product.lower(), slugify(r.product), r.version.lower(), slugify(r.version),
                    _hay(r)))
        db.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?)",
                       [(r.id, i, a.filename, a.blake3, a.size, a.role)
                        for i, a in enumerate(r.artifacts)])
        db.executemany("INSERT INTO release_licenses VALUES (?, ?, ?)",
                       [(r.id, i, lid) for i, lid in enumerate(r.licenses)])

    # -- after a write through the catalog ---------------------------------------------------
    def fresh_before_write(self, kind: str) -> bool:
        """True if the index is current for `kind` now, so a write can be recorded in it."""
        try:
            return bool(self._run(lambda db: self._quick_ok(db, kind)))
        except IndexUnavailable:
            return False

    def record_write(self, kind: str, path: Path, data: bytes, parsed: Release | License) -> None:
        """Record a manifest the catalog has just written, and the directory as it is now.

        Only called when the index was current just before the write, so the new directory
        state differs from the recorded one by this file alone (any change by someone else in
        the same instant is caught by the racy check: the directory's mtime is recent).
        """
        def work(db: sqlite3.Connection) -> None:
            sig, _, when = self._dir_state(kind)
            st = os.stat(path)
            db.execute("BEGIN IMMEDIATE")
            try:
                self._forget(db, kind, path.name)
                db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                           (kind, path.name, st.st_ino, st.st_size, st.st_mtime_ns, when,
                            _digest(data)))
                if isinstance(parsed, Release):
                    self._store_release(db, path.name, parsed)
                self._set_meta(db, f"dir:{kind}", sig)
                self._set_meta(db, f"checked:{kind}", str(when))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        try:
            self._run(work)
        except (IndexUnavailable, OSError):
            pass    # the next reader finds the directory changed and checks the files

    # -- queries -----------------------------------------------------------------------------
    def entries(self, query: str | None) -> list[ReleaseEntry]:
        """Releases matching every word of `query` (all if None), in list order."""
        return [ReleaseEntry._make(row) for batch in self.entry_rows(query) for row in batch]

    def summaries(self, query: str | None) -> list[ReleaseSummary]:
        """(id, title, files, size, licences) of the same releases as `entries`."""
        return [row for batch in self.entry_rows(query, columns="id, title, files, size, nlicenses")
                for row in batch]

    def entry_rows(self, query: str | None, batch: int = 4096,
                   columns: str = "id, product, version, vendor, edition, platform, title, files, "
                                  "size, nlicenses") -> Iterable[list[tuple]]:
        """The same as plain tuples in batches (constant memory for a listing of any size).
        The table is stored in list order (product, version, id), so no sort is needed."""
        words = query.lower().split() if query else []
        sql = f"SELECT {columns} FROM releases"
        if words:
            sql += " WHERE " + " AND ".join("instr(hay, ?) > 0" for _ in words)
        sql += " ORDER BY product_lower, version, id"
        cursor = self._run(lambda db: db.execute(sql, words))
        while True:
            try:
                rows = cursor.fetchmany(batch)  # type: ignore[union-attr]
            except sqlite3.Error as exc:
                raise IndexUnavailable(str(exc)) from None
            if not rows:
                return
            yield rows

    def agrees(self, listed: int) -> bool:
        """Whether a full listing of `listed` releases agrees with the rows of the index's files
        table, and an empty one with the directory: a damaged page can make SQLite return
        nothing from a table without raising any error."""
        def work(db: sqlite3.Connection) -> int:
            return db.execute("SELECT count(*) FROM files WHERE kind='release' AND error IS NULL"
                              ).fetchone()[0]
        try:
            if self._run(work) != listed:
                return False
        except IndexUnavailable:
            return False
        if listed == 0:
            return not self._names_and_inodes("release")
        return True

    def rebuild(self) -> None:
        """Start the index again from the files (after it was caught disagreeing with them)."""
        self._discard()

    def match_ids(self, ref: str) -> list[str]:
        """Ids of the releases `ref` means (exact id first, else product@version by name or
        slug, any case): the catalog's find_matches, answered by the index."""
        wanted = ref.strip().lower()
        product, at, version = wanted.rpartition("@")

        def work(db: sqlite3.Connection) -> list[str]:
            exact = db.execute("SELECT id FROM releases WHERE id=?", (wanted,)).fetchall()
            if exact or not at:
                return [r[0] for r in exact]
            rows = db.execute("SELECT id FROM releases WHERE (product_lower=? OR product_slug=?) "
                              "AND (version_lower=? OR version_slug=?) ORDER BY file",
                              (product, product, version, version)).fetchall()
            return [r[0] for r in rows]
        return self._run(work)  # type: ignore[return-value]

    def damaged(self, kind: str = "release") -> list[tuple[str, ManifestInvalid]]:
        rows = self._run(lambda db: db.execute(
            "SELECT name, error FROM files WHERE kind=? AND error IS NOT NULL ORDER BY name",
            (kind,)).fetchall())
        return [(name, decode_error(error)) for name, error in rows]  # type: ignore[union-attr]

    def snapshot(self) -> Snapshot:
        """Every release and licence manifest after a full check (for replication plans)."""
        self.ensure(KINDS, full=True)

        def work(db: sqlite3.Connection) -> Snapshot:
            arts, lics = self._contents(db)
            releases, damaged = [], []
            rel_dir, lic_dir = self.dirs["release"], self.dirs["license"]
            for name, digest, error in db.execute(
                    "SELECT name, digest, error FROM files WHERE kind='release' ORDER BY name"):
                if error is not None:
                    damaged.append(decode_error(error))
                    continue
                rid = name[:-len(".toml")]
                releases.append(IndexedRelease(rid, rel_dir / name, digest,
                                               tuple(arts.get(rid, ())), tuple(lics.get(rid, ()))))
            licenses, bad_licenses = {}, {}
            for name, digest, error in db.execute(
                    "SELECT name, digest, error FROM files WHERE kind='license' ORDER BY name"):
                lid = name[:-len(".toml")]
                if error is not None:
                    bad_licenses[lid] = decode_error(error)
                else:
                    licenses[lid] = IndexedLicense(lid, lic_dir / name, digest)
            return Snapshot(releases, licenses, damaged, bad_licenses)
        return self._run(work)  # type: ignore[return-value]

    def outlines(self) -> list[ReleaseOutline]:
        """Every valid release in list order, with its artifacts and licence ids, as the index
        knows them now (the caller runs the full check first: see Catalog.outlines)."""
        def work(db: sqlite3.Connection) -> list[ReleaseOutline]:
            lics = self._licenses(db)
            out: list[ReleaseOutline] = []
            rid, title, arts, installers = None, "", [], []

            def outline() -> ReleaseOutline:
                return ReleaseOutline(rid, title, tuple(arts), tuple(lics.get(rid, ())),  # type: ignore[arg-type]
                                      tuple(installers))
            # One pass in list order: the artifacts table is keyed by (release, position).
            for row in db.execute("SELECT r.id, r.title, a.filename, a.blake3, a.size, a.role "
                                  "FROM releases r LEFT JOIN artifacts a ON a.release_id = r.id "
                                  "ORDER BY r.product_lower, r.version, r.id, a.pos"):
                if row[0] != rid:
                    if rid is not None:
                        out.append(outline())
                    rid, title, arts, installers = row[0], row[1], [], []
                if row[2] is not None:
                    arts.append(row[2:5])
                    if row[5] == "installer":
                        installers.append(row[2:4])
            if rid is not None:
                out.append(outline())
            return out
        return self._run(work)  # type: ignore[return-value]

    @staticmethod
    def _contents(db: sqlite3.Connection) -> tuple[dict[str, list[tuple[str, str, int]]],
                                                   dict[str, list[str]]]:
        """Every release's artifacts (file name, blake3, size) and licence ids, in order."""
        arts: dict[str, list[tuple[str, str, int]]] = {}
        for rid, filename, digest, size in db.execute(
                "SELECT release_id, filename, blake3, size FROM artifacts ORDER BY release_id, pos"):
            arts.setdefault(rid, []).append((filename, digest, size))
        return arts, ManifestIndex._licenses(db)

    @staticmethod
    def _licenses(db: sqlite3.Connection) -> dict[str, list[str]]:
        lics: dict[str, list[str]] = {}
        for rid, lid in db.execute(
                "SELECT release_id, license_id FROM release_licenses ORDER BY release_id, pos"):
            lics.setdefault(rid, []).append(lid)
        return lics
