"""arkeep repair, arkeep rebuild"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from archive.cli.context import Context

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.storage.store import Store

REPAIR_EXAMPLES = """examples:
  arkeep verify --all && arkeep repair

A local manifest changed outside arkeep (its digest line does not match) is taken back from the
newest authentic copy on a remote, and so is one a remote holds in a newer revision; the file
it replaces is kept under manifests/replaced/. Local objects are re-hashed; a bad or missing
one is fetched from a remote that has a good copy. Remote copies known to be missing or bad
(from `verify --remote`, a listing, or a sync) are sent again from the local store and read
back. Documents an older arkeep kept plain are encrypted at rest. A store with no remotes gets
the local part only.
"""
REBUILD_EXAMPLES = """examples:
  ARKEEP_STORE=~/arkeep arkeep rebuild --from s3://my-bucket/arkeep
  arkeep --store ~/arkeep rebuild --from /media/me/USB1/arkeep

On a new machine: the passphrase and any one replica give back the whole store, and every
remote it had (names, URLs, drives, offsite flags, S3 endpoints; never credentials), from the
remote list sealed in the replica's key.toml. A replica that is one of those remotes keeps its
name; otherwise it is added as --name (origin).
Into a store that already holds this archive, rebuild refuses unless --merge is given; with
it, a manifest is taken from the replica only where the store has none or an older revision.
The replica's copy of the audit log comes back too (into a store whose log is its beginning).

An heir with the recovery code (or K recovery sheets, `arkeep key join`) and no passphrase:
  arkeep key join --shares-file shares.txt          (prints the recovery code)
  arkeep rebuild --from s3://my-bucket/arkeep --recovery-code --slot ann
asks for the code, rebuilds, and gives the store a key slot 'ann' with a new passphrase.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("repair", parents=[common], help="mend missing or corrupt copies from good ones",
                       epilog=REPAIR_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help="only these remotes")
    p.set_defaults(run=run_repair)
    r = sub.add_parser("rebuild", parents=[common], help="rebuild the store from one replica",
                       epilog=REBUILD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--from", dest="source", required=True, metavar="URL")
    r.add_argument("--name", default="origin", help="name to give that replica as a remote (default origin)")
    r.add_argument("--endpoint-url", metavar="URL")
    r.add_argument("--merge", action="store_true",
                   help="into a store that already holds this archive: bring in only the "
                        "manifests it lacks or holds in an older revision, and report the rest")
    r.add_argument("--recovery-code", action="store_true",
                   help="open the replica with the recovery code instead of a passphrase (asked "
                        "for, or the first line of standard input); needs --slot")
    r.add_argument("--slot", metavar="NAME",
                   help="with --recovery-code: the key slot to add for you, with a new passphrase")
    r.add_argument("--new-passphrase-file", type=Path, metavar="F",
                   help="with --slot: read the new passphrase from a file instead of a prompt")
    r.add_argument("--weak-passphrase-ok", action="store_true",
                   help="with --slot: accept a new passphrase that is easy to guess")
    r.set_defaults(run=run_rebuild)


def run_repair(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.replicas import chosen_remotes
    from archive.ops.repair import repair
    from archive.replicate.remote_config import refresh_key_file
    from archive.replicate.remotes import ledger_of, load_remotes, open_backends

    store = ctx.open_store()
    # A store without remotes still has local mending to do (documents kept plain by an older
    # arkeep are encrypted here); only the fetching from replicas has nothing to work with.
    specs = chosen_remotes(store, args.names) if args.names or load_remotes(store) else []
    if not specs:
        ctx.note("this store has no remotes: only the local store is mended; nothing damaged can "
                 "be fetched back (`arkeep remote add NAME URL` adds a replica)")
    keyring = ctx.unlock(store)
    with store.writing("arkeep repair"), ledger_of(store) as ledger:
        refresh_key_file(store, keyring)
        report = repair(store, keyring, open_backends(specs, ledger), ledger, ctx.bar)
        ctx.close_bars()
    if ctx.json:
        ctx.emit_json({"ok": report.ok, "manifests_fixed": report.manifests_fixed,
                       "manifests_unfixable": report.manifests_unfixable,
                       "held_back": report.held_back, "local_fixed": report.local_fixed,
                       "local_unfixable": report.local_unfixable, "remote_fixed": report.remote_fixed,
                       "remote_failed": report.remote_failed, "skipped": report.skipped,
                       "encrypted_documents": report.encrypted})
        return 0 if report.ok else 1
    for name, why in report.skipped.items():
        ctx.say(f"{name}: skipped ({why})")
    for ref in report.manifests_fixed:
        ctx.say(f"local store: manifest {ref} taken back; the file it replaced is kept under "
                "manifests/replaced/")
    for ref in report.manifests_unfixable:
        print(f"PROBLEM local manifest {ref} is damaged and no reachable remote holds a good copy",
              file=ctx.out)
    for line in report.held_back:
        print(f"PROBLEM {line}; not sent to any remote", file=ctx.out)
    ctx.say(f"local store: {len(report.local_fixed)} object(s) restored from a replica")
    if report.encrypted:
        ctx.say(f"local store: {report.encrypted} document(s) (licence files, invoices, receipts) "
                "now encrypted at rest")
    for digest in report.local_unfixable:
        print(f"PROBLEM local object {digest[:16]}… has no good copy on any reachable remote", file=ctx.out)
    for name, count in report.remote_fixed.items():
        ctx.say(f"{name}: {count} unit(s) written again and read back")
    for name, why in report.remote_failed.items():
        print(f"PROBLEM {name}: {why}", file=ctx.out)
    return 0 if report.ok else 1


def run_rebuild(args: argparse.Namespace, ctx: Context) -> int:
    from archive.errors import WrongPassphrase
    from archive.present.humanize import count
    from archive.replicate.rebuild import finish_rebuild, rebuild
    from archive.replicate.remote_config import restore_remotes
    from archive.replicate.remotes import open_url

    _check_source(args.source)
    heir = _heir(args, ctx)
    name = _replica_name(ctx, args)
    backend = open_url(args.source, args.endpoint_url, name=name)
    keyring = heir[0] if heir else None
    passphrase = None if heir else ctx.passphrase()
    try:
        result = rebuild(ctx.store_path, passphrase, backend, ctx.bar, merge=args.merge,
                         keyring=keyring, new_slot=(args.slot, heir[1]) if heir else None)
    except WrongPassphrase:
        # A damaged key.toml fails its authentication exactly as a wrong passphrase does.
        raise WrongPassphrase(f"wrong passphrase for the key file on {backend.url} (or that key file "
                              "is damaged, or from before a `key passwd`: another replica tells; "
                              "`arkeep verify --remote` names it from a machine with the store)") from None
    ctx.close_bars()
    store = result.store
    with store.writing("arkeep rebuild"):
        keyring = keyring or store.unlock(passphrase or "")
        restored = restore_remotes(store, keyring)
        name = _keep_replica_as_remote(store, name, args)
        if heir:
            _add_heir_slot(store, keyring, args.slot, heir[1])
        finish_rebuild(store)
    if ctx.json:
        ctx.emit_json({"store": str(store.root), "releases": result.releases, "licenses": result.licenses,
                       "objects_fetched": result.objects_fetched, "bytes_fetched": result.bytes_fetched,
                       "remote": name, "remotes_restored": restored, "problems": result.problems,
                       "taken": result.taken, "kept_local": result.kept_local,
                       "slot_added": args.slot if heir else None})
    else:
        ctx.say(f"Rebuilt {store.root} from {backend.url}: {count(result.releases, 'release')}, "
                f"{count(result.licenses, 'licence record')}, {count(result.objects_fetched, 'object')} fetched "
                f"({result.objects_present} already present), every one checked against its BLAKE3.")
        ctx.say(f"  the replica is remote '{name}'")
        if restored:
            ctx.say(f"  remotes brought back from its sealed configuration: {', '.join(restored)}")
        if heir:
            ctx.say(f"  key slot '{args.slot}' added: your new passphrase opens this store "
                    "(`arkeep sync` carries it to the replicas)")
        for line in result.taken:
            ctx.say(f"taken: {line}")
        for line in result.kept_local:
            ctx.say(f"kept: {line}")
        for p in result.problems:
            print(f"PROBLEM {p}", file=ctx.out)
    return 1 if result.problems else 0


def _heir(args: argparse.Namespace, ctx: Context) -> tuple[Keyring, str] | None:
    """With --recovery-code: the keyring from the code and the new passphrase for --slot, both
    asked for before anything is fetched (a mistake costs nothing)."""
    import getpass
    import sys

    from archive.cli.commands.key import _new_passphrase
    from archive.cli.context import has_terminal
    from archive.crypto import slots
    from archive.crypto.keyring import Keyring
    from archive.errors import UsageError

    if not args.recovery_code:
        if args.slot or args.new_passphrase_file:
            raise UsageError("--slot and --new-passphrase-file go with --recovery-code (with a "
                             "passphrase, `arkeep key add NAME` adds a slot after the rebuild)")
        return None
    if not args.slot:
        raise UsageError("--recovery-code needs --slot NAME: the rebuilt store gets a key slot of "
                         "your own, since no passphrase of its key file is known to you")
    slots.check_name(args.slot)
    if has_terminal():
        code = getpass.getpass("Recovery code: ")
    else:
        code = sys.stdin.readline(256)
    keyring = Keyring.from_recovery_code(code.strip())
    return keyring, _new_passphrase(args, ctx)


def _add_heir_slot(store: Store, keyring: Keyring, name: str, passphrase: str) -> None:
    from archive.ops.key_slots import add_slot

    add_slot(store, keyring, name, passphrase)
    store.unlocked_slot = name


def _replica_name(ctx: Context, args: argparse.Namespace) -> str:
    """The name the replica goes by in the ledger: that of the configured remote at the same
    place when the store already has one, else --name (refused if it names another place)."""
    from archive.errors import UsageError
    from archive.replicate.remotes import load_remotes, place, same_place, spec_for
    from archive.storage.store import Store

    if not (ctx.store_path / "arkeep.toml").exists():
        return args.name
    store = Store.open(ctx.store_path)
    spec = spec_for(args.name, args.source, endpoint_url=args.endpoint_url, create_bucket=False)
    other = same_place(store, spec)
    if other is not None:
        return other.name
    taken = load_remotes(store).get(args.name)
    if taken is not None and place(taken) != place(spec):
        raise UsageError(f"a remote named '{args.name}' already stores to {taken.url}; "
                         "give the replica another name with --name")
    return args.name


def _keep_replica_as_remote(store: Store, name: str, args: argparse.Namespace) -> str:
    """Add the replica as a remote unless one at the same place is configured; return its name.
    A remote brought back from the replica's configuration takes over what the ledger learnt."""
    from archive.replicate.ledger import Ledger
    from archive.replicate.remotes import load_remotes, same_place, save_remote, spec_for

    spec = spec_for(name, args.source, endpoint_url=args.endpoint_url)
    other = same_place(store, spec)
    if other is not None and other.name != name:
        with Ledger(store.state_dir / "ledger.sqlite") as ledger:
            ledger.rename_remote(name, other.name)
        return other.name
    if name not in load_remotes(store):
        save_remote(store, spec)
    return name


def _check_source(source: str) -> None:
    """A local source given by path must exist and be a folder (exit 2, not a reach failure)."""
    from pathlib import Path

    from archive.errors import UsageError
    from archive.system.paths import local_source_problem
    from backends import kind_of, normal_url

    if kind_of(source) == "dir":
        problem = local_source_problem(Path(normal_url("source", source)))
        if problem:
            raise UsageError(problem)
