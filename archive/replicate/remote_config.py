"""The remotes' configuration, sealed into key.toml so that it travels to every replica.

`rebuild --from` on a new machine then brings back every remote (names, URLs, kinds, drive
UUIDs, where each drive was added, offsite flags, S3 endpoints and options), not only the one it
read. Credentials are never part of it: S3 takes them from the AWS chain, and only the options
arkeep itself knows for each kind are kept (an fsspec remote's storage options may hold a
password, so none of them travel).

The configuration is TOML, encrypted with AES-256-GCM under a key derived from the archive secret
(`CONTEXT_REMOTE_CONFIG`), in the `remotes` field of key.toml: a replica shows nothing of it in
clear, and older arkeep versions, which ignore fields they do not know, still open the key file.
It is resealed only when the configuration changed, at the next `sync` or `repair`.
"""
from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

import tomli_w

from archive.errors import UsageError
from archive.replicate.remotes import (
    RemoteSpec,
    load_remotes,
    same_place,
    save_remote,
    specs_from_tables,
)
from archive.storage.store import Store
from backends.errors import BackendError

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

FIELD = "remotes"
SCHEMA = 1
_KEPT_OPTIONS = {"dir": {"create"}, "drive": set(), "fsspec": {"create"}}


def _kept_options(spec: RemoteSpec) -> dict[str, Any]:
    if spec.kind == "s3":
        from archive.replicate.remotes import ENV_ENDPOINT
        from backends.factory import s3_option_names
        allowed = set(s3_option_names()) | {ENV_ENDPOINT}
    else:
        allowed = _KEPT_OPTIONS.get(spec.kind, set())
    return {k: v for k, v in spec.options.items() if k in allowed}


def config_tables(specs: dict[str, RemoteSpec]) -> dict[str, Any]:
    """What travels: every remote's table, with only the options arkeep knows for its kind."""
    tables = {}
    for name, spec in specs.items():
        table = spec.to_table()
        table.pop("options", None)
        options = _kept_options(spec)
        if options:
            table["options"] = options
        tables[name] = table
    return tables


def seal_config(keyring: Keyring, specs: dict[str, RemoteSpec]) -> str:
    text = tomli_w.dumps({"schema": SCHEMA, "remotes": config_tables(specs)})
    return keyring.config_box.seal(text)


def open_config(keyring: Keyring, token: str) -> dict[str, RemoteSpec]:
    """The remotes sealed in `token`; a damaged or unknown one raises UsageError."""
    text = keyring.config_box.open(token)
    try:
        table = tomllib.loads(text)
        if table.get("schema") != SCHEMA:
            raise UsageError(f"the sealed remote list has schema {table.get('schema')!r}, unknown "
                             "to this arkeep")
        return specs_from_tables(table.get("remotes", {}))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
        raise UsageError("the sealed remote list in key.toml cannot be read") from None


def refresh_key_file(store: Store, keyring: Keyring) -> bool:
    """Reseal the remote list into the store's key.toml if it changed; True if it was rewritten
    (the next sync then carries the new key file to every remote)."""
    wrapped = store.wrapped_key()
    wanted = config_tables(load_remotes(store))
    token = wrapped.get(FIELD)
    if isinstance(token, str):
        try:
            if config_tables(open_config(keyring, token)) == wanted:
                return False
        except UsageError:
            pass      # damaged: sealed again below
    elif not wanted:
        return False
    wrapped[FIELD] = seal_config(keyring, load_remotes(store))
    store.save_wrapped_key(wrapped)
    return True


def restore_remotes(store: Store, keyring: Keyring) -> list[str]:
    """Bring back the remotes sealed in the store's key.toml (after `rebuild`) that the store
    does not have under that name or at that place; return their names."""
    token = store.wrapped_key().get(FIELD)
    if not isinstance(token, str):
        return []
    configured = load_remotes(store)
    added = []
    for name, spec in open_config(keyring, token).items():
        try:
            if name in configured or same_place(store, spec) is not None:
                continue
        except BackendError:
            continue      # a URL this arkeep cannot use: left out rather than guessed at
        save_remote(store, spec)
        added.append(name)
    return added
