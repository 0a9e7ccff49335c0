"""Shared by the commands that touch remotes: the remotes named on the command line."""
from __future__ import annotations

from typing import Any

from archive.errors import UsageError
from archive.replicate.remotes import RemoteSpec, get_remote, load_remotes
from archive.storage.store import Store


def chosen_remotes(store: Store, names: list[str] | None) -> list[RemoteSpec]:
    if names:
        return [get_remote(store, n) for n in names]
    remotes = list(load_remotes(store).values())
    if not remotes:
        raise UsageError("this store has no remotes yet; `arkeep remote add NAME URL` adds one")
    return remotes


def say_if_kit_outdated(ctx: Any, store: Store) -> None:
    """After a change to the replicas: a note when the printed recovery kit no longer lists them."""
    from archive.ops.recovery_kit import kit_reminder

    reminder = kit_reminder(store)
    if reminder:
        ctx.note(reminder)
