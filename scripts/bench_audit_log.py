#!/usr/bin/env python3
"""What the audit log's copy on a remote costs as the log grows (archive/replicate/audit_copy.py).

    .venv/bin/python scripts/bench_audit_log.py [--entries 200000] [--runs 3]

Writes a store whose log holds `--entries` valid entries (chained and keyed, as `append` writes
them, but written in one go), then times, in this process, each step over a folder remote: the
first sync of the log (sealed and written), a sync with nothing new (the stat and prefix-digest
check, no read back), a sync after the copy's time changed (read back, checked, compared, written
again), the check `verify --remote` makes, and what `rebuild` does with the copy (read, checked,
written into a new store). Prints the median wall time of each and the peak RSS of the process,
which should not grow with the log.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.crypto import keys  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    keys.SCRYPT_N, keys.SCRYPT_P = 2**10, 1       # the unlock is not what is measured here

    from archive.ops.init import init_store
    from archive.replicate.audit_copy import check_copies, push_log, take_log
    from archive.replicate.ledger import Ledger
    from archive.replicate.remotes import open_remote, spec_for
    from archive.storage import audit_log
    from archive.storage.store import Store

    with tempfile.TemporaryDirectory(prefix="arkeep-bench-log-") as tmp:
        base = Path(tmp)
        passphrase = "a passphrase for the bench only"
        init_store(base / "store", passphrase)
        store = Store.open(base / "store")
        keyring = store.unlock(passphrase)
        path = audit_log.log_path(store)
        path.parent.mkdir(exist_ok=True)
        prev = audit_log.GENESIS
        with path.open("w", encoding="utf-8") as f:
            for seq in range(1, args.entries + 1):
                entry = {"seq": seq, "at": "2026-12-05T09:00:00+00:00", "user": "me",
                         "host": "laptop", "slot": "owner", "command": "show",
                         "target": f"Product {seq % 97}@1.{seq % 13}", "exit": 0, "prev": prev}
                entry["hash"] = audit_log._digest(entry)
                entry["mac"] = keyring.audit_mac(entry["hash"])
                prev = entry["hash"]
                f.write(json.dumps(entry, separators=(",", ":")) + "\n")
        (base / "nas").mkdir()
        backend = open_remote(spec_for("nas", str(base / "nas")))
        ledger = Ledger(store.state_dir / "ledger.sqlite")
        print(f"log: {args.entries:,} entries, {path.stat().st_size / 2**20:.1f} MiB; peak RSS "
              f"before {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

        def copy_path() -> Path:
            return next((base / "nas" / "log").iterdir())

        def first() -> None:
            for p in (base / "nas" / "log").glob("*.zip"):
                p.unlink()
            ledger.db.execute("DELETE FROM audit_logs")
            assert push_log(store, keyring, backend, ledger).sent

        def nothing_new() -> None:
            assert not push_log(store, keyring, backend, ledger).sent

        touches = [0]

        def touched() -> None:
            touches[0] += 1000              # another time each run: each run reads back
            os.utime(copy_path(), (touches[0], touches[0]))
            assert not push_log(store, keyring, backend, ledger).sent

        def rebuild_part() -> None:
            new = base / f"new-{time.monotonic_ns()}"
            assert take_log(Store.create(new, store.wrapped_key()), keyring, backend).taken

        steps: list[tuple[str, Callable[[], object]]] = [
            ("first sync of the log (sealed, written)", first),
            ("sync, nothing new (no read back)", nothing_new),
            ("sync, the copy's time changed (read back)", touched),
            ("verify --remote's check of the copies",
             lambda: check_copies(store, keyring, backend, ledger)),
            ("rebuild's part (read, checked, written)", rebuild_part),
        ]
        for label, step in steps:
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                step()
                times.append(time.perf_counter() - started)
            print(f"{label:44s} {statistics.median(times):7.3f} s   peak RSS "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:4.0f} MiB")
        ledger.close()


if __name__ == "__main__":
    main()
