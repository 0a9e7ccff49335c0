"""The store's remotes: their configuration in arkeep.toml and the backends behind them.

Configuration holds names, URLs, kinds and options, never credentials: S3 credentials come from
the standard AWS chain (environment, profile, instance role) at run time.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.errors import UsageError
from archive.replicate.ledger import Ledger
from archive.storage.store import Store

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DRIVE_SUBDIR = "arkeep"
# The endpoint AWS_ENDPOINT_URL named when an S3 remote was added: used when the environment names
# none (a new machine after `rebuild`); an explicit --endpoint-url is `endpoint_url` and always wins.
ENV_ENDPOINT = "env_endpoint_url"


@dataclass(frozen=True)
class RemoteSpec:
    name: str
    url: str
    kind: str
    offsite: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""      # where the user pointed at when adding it (a drive's mount point)

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"url": self.url, "kind": self.kind, "offsite": self.offsite}
        if self.label:
            table["label"] = self.label
        if self.options:
            table["options"] = dict(self.options)
        return table


def remote_where(spec: RemoteSpec) -> str:
    """Where a person finds a replica (the recovery kit): a drive by its marker's uuid and the
    folder on it, never by the path it was added at, since mount points change."""
    if spec.kind == "drive":
        from backends.drive import MARKER
        from backends.factory import parse_drive_url
        uuid, subdir = parse_drive_url(spec.name, spec.url)
        return f'the drive whose {MARKER} says uuid = "{uuid}", folder {subdir or "/"}'
    endpoint = s3_endpoint(spec)
    return f"{spec.url} at {endpoint}" if endpoint else spec.url


def s3_endpoint(spec: RemoteSpec) -> str | None:
    """The endpoint an S3 remote was added with; None for AWS itself and for other kinds."""
    options = spec.options or {}
    return options.get("endpoint_url") or options.get(ENV_ENDPOINT) or None


def remote_kind_label(spec: RemoteSpec) -> str:
    return {"dir": "folder", "drive": "external drive", "s3": "S3 storage"}.get(spec.kind, spec.kind)


def load_remotes(store: Store) -> dict[str, RemoteSpec]:
    return specs_from_tables(store.config.get("remotes", {}))


def specs_from_tables(remotes: dict[str, Any]) -> dict[str, RemoteSpec]:
    """RemoteSpecs from `[remotes.NAME]` tables (arkeep.toml, or a replica's sealed copy). The
    kind is the one its URL names (`backends.kind_of`, which also picks the backend that opens
    it); the `kind` written beside the URL is for people reading the file."""
    from backends import kind_of
    out = {}
    for name, table in sorted(remotes.items()):
        out[name] = RemoteSpec(name=name, url=table["url"], kind=kind_of(table["url"]),
                               offsite=bool(table.get("offsite", False)),
                               options=dict(table.get("options", {})), label=table.get("label", ""))
    return out


def get_remote(store: Store, name: str) -> RemoteSpec:
    remotes = load_remotes(store)
    if name not in remotes:
        known = ", ".join(remotes) or "none yet"
        raise UsageError(f"no remote named '{name}' (remotes: {known}); `arkeep remote add` creates one")
    return remotes[name]


def save_remote(store: Store, spec: RemoteSpec) -> None:
    config = store.config
    config.setdefault("remotes", {})[spec.name] = spec.to_table()
    store.save_config(config)


def delete_remote(store: Store, name: str) -> None:
    get_remote(store, name)
    config = store.config
    del config["remotes"][name]
    store.save_config(config)


def spec_for(name: str, url: str, drive: bool = False, offsite: bool | None = None,
             endpoint_url: str | None = None, create_bucket: bool = True) -> RemoteSpec:
    """Turn what the user typed into a remote; a drive gets its marker written here.

    The URL is spelt once (`backends.normal_url`) and its kind is the one `backends.kind_of`
    names. Nothing else is checked or made here: `refuse_same_place`, then
    `refuse_missing_folder`, then `open_remote(spec, create=...)` (the backend makes a missing
    folder when asked to).
    """
    from backends import drive_url, init_drive, kind_of, normal_url
    if not NAME.match(name):
        raise UsageError(f"'{name}' is not a usable remote name: lower-case letters, digits, - and _")
    if drive:
        root = Path(normal_url(name, url))
        if not root.is_dir():
            raise UsageError(f"{root} is not a directory; give the drive's mount point")
        uuid = init_drive(root, name=name)  # the drive's folder is made by its first write
        return RemoteSpec(name, drive_url(uuid, DRIVE_SUBDIR), "drive", bool(offsite), label=str(root))
    url = normal_url(name, url)
    kind = kind_of(url)
    options: dict[str, Any] = {}
    if kind == "s3":
        if endpoint_url:
            options["endpoint_url"] = endpoint_url
        elif env_endpoint():
            options[ENV_ENDPOINT] = env_endpoint()
        options["create_bucket"] = create_bucket
        offsite = True if offsite is None else offsite
    return RemoteSpec(name, url, kind, bool(offsite), options)


def endpoint_of(spec: RemoteSpec) -> str | None:
    """The S3 endpoint a remote uses: explicit, else the environment's, else the one seen at add."""
    return spec.options.get("endpoint_url") or env_endpoint() or spec.options.get(ENV_ENDPOINT)


def env_endpoint() -> str | None:
    """The S3 endpoint the AWS tools would use from the environment, if one is set."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def refuse_missing_folder(spec: RemoteSpec, create: bool) -> None:
    """A folder remote whose folder does not exist is refused unless `create`: an unmounted NAS
    leaves an empty mount point (or none), and filling that would put the "replica" on the
    system disk. Checks only; with `create`, `open_remote(spec, create=True)` makes it."""
    if spec.kind != "dir":
        return
    target = Path(spec.url)
    if target.is_dir():
        return
    if target.exists():
        raise UsageError(f"{target} is not a directory")
    if not create:
        raise UsageError(f"{target} does not exist (is the disk or share mounted?); "
                         "add --create to make a new folder there")


def place(spec: RemoteSpec) -> str:
    """Where a remote's data lives, the same string for every spelling of one place."""
    from backends import place_of
    return place_of(spec.name, spec.url, endpoint_of(spec) if spec.kind == "s3" else None)


def places(spec: RemoteSpec) -> set[str]:
    """`place`, and for a drive also the folder it was added at: a folder remote there is the
    same copy as the drive remote."""
    found = {place(spec)}
    if spec.kind == "drive" and spec.label:
        from backends import place_of
        from backends.factory import parse_drive_url
        subdir = parse_drive_url(spec.name, spec.url)[1]
        found.add(place_of(spec.name, os.path.join(spec.label, subdir)))
    return found


def same_place(store: Store, spec: RemoteSpec) -> RemoteSpec | None:
    """The configured remote (other than `spec` itself) that lives where `spec` does, if any."""
    here = places(spec)
    for other in load_remotes(store).values():
        if other.name != spec.name and places(other) & here:
            return other
    return None


def refuse_same_place(store: Store, spec: RemoteSpec) -> None:
    """A second remote for one place would count one copy twice toward 3-2-1."""
    other = same_place(store, spec)
    if other is not None:
        raise UsageError(f"remote '{other.name}' already stores to {other.url}; one place counts "
                         f"as one copy, so it cannot be added again as '{spec.name}'")


def open_remote(spec: RemoteSpec, last_seen: Any = None, *, create: bool = False) -> Any:
    """The backend for a remote (imports fsspec, and s3fs/boto3 for S3, only now). `create`
    has the backend make a folder remote's missing folder (`remote add --create`); an S3
    bucket is made by the `create_bucket` option, a drive's folder by its first write."""
    from backends import open_backend
    options = dict(spec.options)
    if create and spec.kind in ("dir", "fsspec"):
        options["create"] = True
    if options.pop(ENV_ENDPOINT, None) and not options.get("endpoint_url"):
        options["endpoint_url"] = endpoint_of(spec)
    if spec.kind == "drive":
        options["last_seen"] = last_seen
        if spec.label:
            options["where_added"] = spec.label
    return open_backend(spec.name, spec.url, **options)


def open_backends(specs: list[RemoteSpec], ledger: Ledger) -> list[Any]:
    """The backends of `specs`, each told when the ledger last saw it (a drive says so when
    it is not plugged in)."""
    return [open_remote(s, last_seen=ledger.last_seen(s.name)) for s in specs]


def ledger_of(store: Store) -> Ledger:
    return Ledger(store.state_dir / "ledger.sqlite")


def open_url(url: str, endpoint_url: str | None = None, name: str = "source") -> Any:
    """A backend for a replica given only by URL (rebuild on a new machine), named `name`:
    the ledger records what it holds under that name."""
    from backends import kind_of, normal_url, open_backend
    url = normal_url(name, url)
    options: dict[str, Any] = {}
    if kind_of(url) == "s3" and endpoint_url:
        options["endpoint_url"] = endpoint_url
    return open_backend(name, url, **options)
