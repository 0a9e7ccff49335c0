"""Printing the recovery kit, and telling the user when the printed one is out of date.

The kit lists the replicas as they were when it was printed; in 2045 it may be all that is
left. `state/printed-kit.toml` keeps what the last kit printed for this store listed (the
replica lines, no secret), so that `remote add`, `remote remove`, `sync` and `key passwd` can
say when the page in the drawer no longer matches the replicas.
"""
from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

from archive.crypto.keyring import Keyring
from archive.present.kit import replica_lines
from archive.present.kit_html import write_kit
from archive.replicate.remotes import RemoteSpec, load_remotes
from archive.storage.store import Store
from archive.system import durable

PRINTED_KIT = "printed-kit.toml"
NEW_KIT = "print a new one: arkeep key export --recovery-kit kit.html"


def export_kit(store: Store, keyring: Keyring, path: Path) -> None:
    """Write the kit (HTML for .html/.htm, text otherwise) and remember what it lists."""
    remotes = list(load_remotes(store).values())
    write_kit(path, keyring.recovery_code, keyring.key_id, store.root, remotes)
    record_printed_kit(store, remotes)


def record_printed_kit(store: Store, remotes: list[RemoteSpec]) -> None:
    table = {"printed": datetime.now(UTC).replace(microsecond=0),
             "replicas": dict(zip((r.name for r in remotes), replica_lines(remotes)))}
    # `.tmp-*.toml` beside it, as every TOML file of the store (Store.clean_tmp clears them)
    durable.write_atomic(store.state_dir / PRINTED_KIT, tomli_w.dumps(table), mode=0o644,
                         newline="\n", prefix=".tmp-", suffix=".toml")


def kit_reminder(store: Store) -> str | None:
    """One line when the last printed kit does not list the replicas as they are; else None."""
    remotes = list(load_remotes(store).values())
    now = dict(zip((r.name for r in remotes), replica_lines(remotes)))
    try:
        record = tomllib.loads((store.state_dir / PRINTED_KIT).read_text(encoding="utf-8"))
        printed, then = record["printed"], dict(record["replicas"])
    except FileNotFoundError:
        return None         # no kit printed by this arkeep: `init` showed the code, nothing to compare
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
        return f"The record of the last printed recovery kit cannot be read: {NEW_KIT}."
    if then == now:
        return None
    changed = sorted(name for name in now if then.get(name) != now[name])
    gone = sorted(set(then) - set(now))
    what = "; ".join(part for part in (
        f"it does not list {', '.join(changed)}" if changed else "",
        f"it lists {', '.join(gone)}, no longer a replica" if gone else "") if part)
    when = printed.strftime("%Y-%m-%d") if isinstance(printed, datetime) else str(printed)
    return f"The recovery kit printed on {when} is out of date ({what}): {NEW_KIT}."
