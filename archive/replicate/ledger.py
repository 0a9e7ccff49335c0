"""The replica ledger: which unit is on which remote, and when and how it was last verified.

A cache of facts learned from listings, writes and reads, kept in SQLite under `state/`. It is
never the only record of anything: `sync --rescan` rebuilds it by listing the remotes.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

PRESENT, BAD, MISSING = "present", "bad", "missing"
# A write the remote could not confirm (it reported another size): the object may be good or
# not; it counts as no copy until a listing or a read checks it again.
UNKNOWN = "unknown"
HOW_WRITTEN, HOW_LISTED, HOW_READ = "written", "listed", "read"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS copies (
    remote TEXT NOT NULL,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    state TEXT NOT NULL,
    size INTEGER,
    source_digest TEXT,
    updated TEXT NOT NULL,
    verified_at TEXT,
    verified_how TEXT,
    PRIMARY KEY (remote, unit)
);
CREATE INDEX IF NOT EXISTS copies_ref ON copies (ref);
CREATE TABLE IF NOT EXISTS retired (
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    retired_at TEXT NOT NULL,
    PRIMARY KEY (kind, ref)
);
CREATE TABLE IF NOT EXISTS key_files (
    remote TEXT PRIMARY KEY,
    wrapping TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_logs (
    remote TEXT PRIMARY KEY,
    entries INTEGER NOT NULL,
    head TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime TEXT,
    updated TEXT NOT NULL,
    key TEXT,
    plain_size INTEGER,
    plain_digest TEXT
);
CREATE TABLE IF NOT EXISTS remotes_seen (
    remote TEXT PRIMARY KEY,
    last_seen TEXT,
    last_sync TEXT
);
"""


_COLUMNS = ("remote", "unit", "kind", "ref", "state", "size", "source_digest", "updated",
            "verified_at", "verified_how", "sealed_digest")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Copy:
    remote: str
    unit: str
    kind: str
    ref: str
    state: str
    size: int | None
    source_digest: str | None
    updated: datetime
    verified_at: datetime | None
    verified_how: str | None
    # BLAKE3 of the unit's bytes as sealed (the whole zip), learnt when it was written or read
    # back authenticated: checking a copy against it needs no passphrase.
    sealed_digest: str | None = None


class LogCopyRecord(NamedTuple):
    """The copy of the store's audit log on one remote, as last written or read back: its key
    there, its lines, the hash of its last entry, its sealed size and the remote's time for it,
    and the size and BLAKE3 of the log it holds."""

    key: str
    lines: int
    head: str
    size: int
    mtime: datetime | None
    plain_size: int
    plain_digest: str


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(copies)")}
        if "sealed_digest" not in columns:      # ledgers written before audits
            self.db.execute("ALTER TABLE copies ADD COLUMN sealed_digest TEXT")
        logs = {row[1] for row in self.db.execute("PRAGMA table_info(audit_logs)")}
        for column, kind in (("key", "TEXT"), ("plain_size", "INTEGER"), ("plain_digest", "TEXT")):
            if column not in logs:          # ledgers of the hour before these columns
                self.db.execute(f"ALTER TABLE audit_logs ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:  # noqa: PYI034 - Ledger is never subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, remote: str, unit: str, kind: str, ref: str, state: str, size: int | None,
               source_digest: str | None = None, verified_how: str | None = None,
               when: datetime | None = None, sealed_digest: str | None = None) -> None:
        """Record what we now know of one copy; a verification updates the verified columns.

        `sealed_digest`: the BLAKE3 of the unit's bytes as they are on the remote, when known;
        "" says the bytes may have changed (read by content only), which forgets the old one,
        as do a listing and a size that changed."""
        when = when or now()
        verified = _iso(when) if verified_how else None
        self.db.execute(
            """INSERT INTO copies (remote, unit, kind, ref, state, size, source_digest, updated,
                                   verified_at, verified_how, sealed_digest)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (remote, unit) DO UPDATE SET
                 kind=excluded.kind, ref=excluded.ref, state=excluded.state,
                 size=COALESCE(excluded.size, copies.size),
                 source_digest=COALESCE(excluded.source_digest, copies.source_digest),
                 updated=excluded.updated,
                 verified_at=COALESCE(excluded.verified_at, copies.verified_at),
                 verified_how=COALESCE(excluded.verified_how, copies.verified_how),
                 sealed_digest=CASE
                   WHEN excluded.sealed_digest = '' THEN NULL
                   WHEN excluded.sealed_digest IS NOT NULL THEN excluded.sealed_digest
                   WHEN excluded.verified_how IN ('written', 'listed') THEN NULL
                   WHEN excluded.size IS NOT NULL AND excluded.size IS NOT copies.size THEN NULL
                   ELSE copies.sealed_digest END""",
            (remote, unit, kind, ref, state, size, source_digest, _iso(when), verified, verified_how,
             sealed_digest))

    def mark(self, remote: str, unit: str, state: str) -> None:
        self.db.execute("UPDATE copies SET state=?, updated=? WHERE remote=? AND unit=?",
                        (state, _iso(now()), remote, unit))

    def key_file_seen(self, remote: str, wrapping: str) -> None:
        """The remote's key.toml holds this wrapping of the secret (keys.wrapping_id)."""
        self.db.execute("INSERT OR REPLACE INTO key_files (remote, wrapping, updated) VALUES (?, ?, ?)",
                        (remote, wrapping, _iso(now())))

    def key_file_wrapping(self, remote: str) -> str | None:
        """The wrapping last seen in or written to the remote's key.toml, if known."""
        row = self.db.execute("SELECT wrapping FROM key_files WHERE remote=?", (remote,)).fetchone()
        return row[0] if row else None

    def log_copy_seen(self, remote: str, copy: LogCopyRecord) -> None:
        """What the remote's copy of this store's audit log held when sync wrote it or read it
        back and found it to be the store's."""
        self.db.execute("INSERT OR REPLACE INTO audit_logs (remote, entries, head, size, mtime, "
                        "updated, key, plain_size, plain_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (remote, copy.lines, copy.head, copy.size, _iso(copy.mtime), _iso(now()),
                         copy.key, copy.plain_size, copy.plain_digest))

    def log_copy(self, remote: str) -> LogCopyRecord | None:
        row = self.db.execute("SELECT entries, head, size, mtime, key, plain_size, plain_digest "
                              "FROM audit_logs WHERE remote=?", (remote,)).fetchone()
        if row is None or row[4] is None or row[5] is None:
            return None
        return LogCopyRecord(str(row[4]), int(row[0]), str(row[1]), int(row[2]), _dt(row[3]),
                             int(row[5]), str(row[6]))

    def forget_remote(self, remote: str) -> None:
        self.db.execute("DELETE FROM audit_logs WHERE remote=?", (remote,))
        self.db.execute("DELETE FROM key_files WHERE remote=?", (remote,))
        self.db.execute("DELETE FROM copies WHERE remote=?", (remote,))
        self.db.execute("DELETE FROM remotes_seen WHERE remote=?", (remote,))

    def forget_copy(self, remote: str, unit: str) -> None:
        self.db.execute("DELETE FROM copies WHERE remote=? AND unit=?", (remote, unit))

    def retire(self, kind: str, refs: Iterable[str]) -> None:
        """Note that these manifests or objects left the store (`remove`, `prune`): sync then
        deletes their units from each remote. Kept after that, for remotes not yet synced."""
        stamp = _iso(now())
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO retired (kind, ref, retired_at) VALUES (?, ?, ?)",
                                [(kind, ref, stamp) for ref in refs])

    def retired(self) -> list[tuple[str, str]]:
        return [(k, r) for k, r in self.db.execute("SELECT kind, ref FROM retired ORDER BY rowid")]

    def rename_remote(self, old: str, new: str) -> None:
        """What was learnt under `old` is now known of `new` (the same place under its own name)."""
        with self.transaction():
            self.db.execute("UPDATE OR REPLACE copies SET remote=? WHERE remote=?", (new, old))
            self.db.execute("UPDATE OR REPLACE remotes_seen SET remote=? WHERE remote=?", (new, old))
            self.db.execute("UPDATE OR REPLACE key_files SET remote=? WHERE remote=?", (new, old))
            self.db.execute("UPDATE OR REPLACE audit_logs SET remote=? WHERE remote=?", (new, old))

    def copies(self, remote: str | None = None, ref: str | None = None) -> Iterator[Copy]:
        sql, args = "SELECT * FROM copies WHERE 1=1", []
        if remote is not None:
            sql += " AND remote=?"
            args.append(remote)
        if ref is not None:
            sql += " AND ref=?"
            args.append(ref)
        sql = sql.replace("*", ", ".join(_COLUMNS), 1)
        for row in self.db.execute(sql, args):
            yield Copy(row[0], row[1], row[2], row[3], row[4], row[5], row[6], _dt(row[7]),
                       _dt(row[8]), row[9], row[10])

    def states_by_ref(self, remotes: Iterable[str]) -> dict[str, dict[str, tuple[str, datetime | None]]]:
        """ref -> remote -> (state, verified_at) of every copy on `remotes`, in one query
        (`status` over every release). Where one remote holds a ref under two units, the row
        recorded first is overwritten by the later one, as when iterating `copies(ref=...)`."""
        names = list(remotes)
        out: dict[str, dict[str, tuple[str, datetime | None]]] = {}
        times: dict[str | None, datetime | None] = {None: None, "": None}
        if not names:
            return out
        # `+remote`: one scan of the table in rowid order, no look-up per row and no sort.
        rows = self.db.execute(
            f"SELECT ref, remote, state, verified_at FROM copies "
            f"WHERE +remote IN ({', '.join('?' * len(names))}) ORDER BY rowid", names)
        for ref, remote, state, verified_at in rows:
            when = times.get(verified_at, times)    # a few distinct times: parse each once
            if when is times:
                when = times[verified_at] = datetime.fromisoformat(verified_at)
            held = out.get(ref)
            if held is None:
                out[ref] = {remote: (state, when)}
            else:
                held[remote] = (state, when)
        return out

    def by_unit(self, remote: str) -> dict[str, Copy]:
        return {c.unit: c for c in self.copies(remote)}

    def seen(self, remote: str, synced: bool = False) -> None:
        stamp = _iso(now())
        self.db.execute(
            """INSERT INTO remotes_seen (remote, last_seen, last_sync) VALUES (?, ?, ?)
               ON CONFLICT (remote) DO UPDATE SET last_seen=excluded.last_seen,
                 last_sync=COALESCE(excluded.last_sync, remotes_seen.last_sync)""",
            (remote, stamp, stamp if synced else None))

    def last_seen(self, remote: str) -> datetime | None:
        row = self.db.execute("SELECT last_seen FROM remotes_seen WHERE remote=?", (remote,)).fetchone()
        return _dt(row[0]) if row else None

    def transaction(self) -> _Tx:
        return _Tx(self.db)

    def record_many(self, rows: Iterable[tuple]) -> None:
        with self.transaction():
            for row in rows:
                self.record(*row)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
