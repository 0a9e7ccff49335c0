"""Shared by the commands that touch remotes: choose them and open their backends."""
from __future__ import annotations

from typing import Any

from archive.errors import UsageError
from archive.replicate.ledger import Ledger
from archive.replicate.remotes import RemoteSpec, get_remote, load_remotes, open_remote
from archive.storage.store import Store


def ledger_of(store: Store) -> Ledger:
    return Ledger(store.state_dir / "ledger.sqlite")


def chosen_remotes(store: Store, names: list[str] | None) -> list[RemoteSpec]:
    if names:
        return [get_remote(store, n) for n in names]
    remotes = list(load_remotes(store).values())
    if not remotes:
        raise UsageError("this store has no remotes yet; `arkeep remote add NAME URL` adds one")
    return remotes


def open_backends(specs: list[RemoteSpec], ledger: Ledger) -> list[Any]:
    return [open_remote(s, last_seen=ledger.last_seen(s.name)) for s in specs]
