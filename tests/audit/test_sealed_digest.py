"""The ledger keeps the BLAKE3 of each unit's sealed bytes as written (issue 15, item 2)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from archive.replicate.ledger import HOW_LISTED, HOW_READ, PRESENT, Ledger
from tests.archive.replication_support import add_sample, b3sum


def test_sync_records_the_digest_of_every_unit_as_it_lies_on_the_remote(cli, store_dir: Path,
                                                                       tmp_path: Path) -> None:
    add_sample(cli, tmp_path)
    add_sample(cli, tmp_path, version="7.6.0", size=3_000_000)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    with Ledger(store_dir / "state" / "ledger.sqlite") as ledger:
        copies = list(ledger.copies("nas"))
    assert len(copies) >= 6
    for copy in copies:
        path = next((tmp_path / "nas").rglob(copy.unit + "*"))
        assert copy.sealed_digest == b3sum(path), copy.unit


def test_a_ledger_from_before_audits_gains_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE copies (remote TEXT NOT NULL, unit TEXT NOT NULL, kind TEXT NOT NULL,
                      ref TEXT NOT NULL, state TEXT NOT NULL, size INTEGER, source_digest TEXT,
                      updated TEXT NOT NULL, verified_at TEXT, verified_how TEXT,
                      PRIMARY KEY (remote, unit))""")
        db.execute("INSERT INTO copies VALUES ('nas', 'u1', 'object', 'r', 'present', 10, NULL, "
                   "'2026-01-01T00:00:00+00:00', NULL, NULL)")
    db.close()
    with Ledger(path) as ledger:
        (copy,) = ledger.copies("nas")
        assert copy.sealed_digest is None and copy.size == 10
        ledger.record("nas", "u1", "object", "r", PRESENT, 10, sealed_digest="ab" * 32,
                      verified_how=HOW_READ)
        assert next(ledger.copies("nas")).sealed_digest == "ab" * 32
        ledger.record("nas", "u1", "object", "r", PRESENT, 10, verified_how=HOW_READ)
        assert next(ledger.copies("nas")).sealed_digest == "ab" * 32      # same bytes, kept
        ledger.record("nas", "u1", "object", "r", PRESENT, 11, verified_how=HOW_READ)
        assert next(ledger.copies("nas")).sealed_digest is None           # size changed
        ledger.record("nas", "u1", "object", "r", PRESENT, 11, sealed_digest="cd" * 32,
                      verified_how=HOW_READ)
        ledger.record("nas", "u1", "object", "r", PRESENT, 11, verified_how=HOW_LISTED)
        assert next(ledger.copies("nas")).sealed_digest is None           # a listing knows no bytes
