"""arkeep verify"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from archive.cli.context import Context
from archive.errors import EXIT_ENVIRONMENT, UsageError

if TYPE_CHECKING:
    from archive.ops.verify import VerifyReport
    from archive.storage.store import Store

EXAMPLES = """examples:
  arkeep verify                  re-hash every object, check every manifest
  arkeep verify --sample 0.1     re-hash a random tenth of the objects
  arkeep verify --json
  arkeep verify --authenticity   check every archived signature again, offline

Exit status: 0 when all is well, 1 when a problem was found (each is listed).
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("give a fraction above 0 and at most 1, e.g. 0.1")
    return value


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("verify", parents=[common], help="check the archive's integrity",
                       description="Check that every manifest is valid, every reference resolves and "
                                   "every object still has the BLAKE3 digest it is named by.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sample", type=_fraction, metavar="FRACTION", help="re-hash only this fraction")
    p.add_argument("--remote", metavar="NAME", help="verify a remote's copies instead")
    p.add_argument("--all", action="store_true", help="verify the local store and every remote")
    p.add_argument("--authenticity", action="store_true",
                   help="check the signatures of archived programs again, offline, against the "
                        "evidence recorded when they were archived")
    p.add_argument("--ca-file", action="append", type=Path, default=[], metavar="F",
                   help="with --authenticity: also trust the root certificates in F (PEM)")
    p.add_argument("--openpgp-key", action="append", type=Path, default=[], metavar="F",
                   help="with --authenticity: also trust this OpenPGP public key")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.verify import VerifyReport, verify_store
    from archive.present.humanize import count, human_size

    if args.authenticity:
        if args.remote or args.all or args.sample:
            raise UsageError("--authenticity checks the local store's files; give it alone")
        return _authenticity(args, ctx)
    if args.ca_file or args.openpgp_key:
        raise UsageError("--ca-file and --openpgp-key go with --authenticity")
    store = ctx.open_store()
    if args.remote or args.all:
        ctx.unlock_early(store)     # the scrypt runs while the remote's modules load
    report = VerifyReport()
    unreachable = 0
    if not args.remote:
        # Objects kept encrypted at rest are decrypted and re-hashed when the passphrase is at
        # hand (--passphrase-file, ARKEEP_PASSPHRASE); else their stored digest is checked.
        report = verify_store(store, sample=args.sample, keyring=ctx.keyring_at_hand(store),
                              progress_for=lambda total: ctx.bar("verify", total))
        ctx.close_bars()
        if report.plain_documents:
            ctx.note(f"note: {report.plain_documents} document(s) (licence files, invoices, "
                     "receipts) are stored unencrypted; `arkeep repair` encrypts them")
    if args.remote or args.all:
        unreachable = _verify_remotes(store, args, ctx, report)
    # Only remotes that could not be reached: an environment failure (3), not damage found (1).
    failed = 0 if report.ok else (EXIT_ENVIRONMENT if unreachable == len(report.problems) else 1)
    if ctx.json:
        ctx.emit_json({"ok": report.ok, "releases": report.releases, "licenses": report.licenses,
                       "objects_checked": report.objects_checked, "bytes_checked": report.bytes_checked,
                       "problems": [{"release": p.release, "file": p.filename, "copy": p.copy,
                                     "problem": p.what} for p in report.problems],
                       "unreferenced_objects": report.unreferenced})
        return failed
    for problem in report.problems:
        print(f"PROBLEM {problem}", file=ctx.out)
    if report.unreferenced:
        n = len(report.unreferenced)
        ctx.note(f"note: {count(n, 'object')} {'is' if n == 1 else 'are'} not referenced by any "
                 "manifest (`arkeep prune` deletes them)")
    summary = (f"{count(report.releases, 'release')}, {count(report.licenses, 'licence record')}, "
               f"{count(report.objects_checked, 'unit')} ({human_size(report.bytes_checked)}) checked")
    if report.ok:
        ctx.say(f"OK: {summary}.")
        return 0
    print(f"{count(len(report.problems), 'problem')} found in {summary}.", file=ctx.out)
    return failed


def _authenticity(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.authenticity import recheck_store
    from archive.present.authenticity import data, summary
    from archive.present.humanize import count

    store = ctx.open_store()
    found = recheck_store(store, args.ca_file, openpgp_keys=args.openpgp_key)
    bad = [r for r in found if r.problem]
    if ctx.json:
        ctx.emit_json({"ok": not bad, "checked": len(found), "files": [
            {"release": r.release, "file": r.artifact.filename, "problem": r.problem,
             "recorded": data(r.recorded), "now": data(r.now) if r.now else None}
            for r in found]})
        return 1 if bad else 0
    for r in found:
        if r.problem:
            print(f"PROBLEM {r.release} / {r.artifact.filename}: {r.problem}", file=ctx.out)
        elif r.now is not None:
            ctx.say(f"ok      {r.release} / {r.artifact.filename}: {summary(r.now)}")
    if not found:
        ctx.say("No archived file carries signature evidence (only Windows programs archived "
                "by an arkeep that checks signatures do).")
        return 0
    if bad:
        print(f"{count(len(bad), 'problem')} in {count(len(found), 'signed file')}.", file=ctx.out)
        return 1
    ctx.say(f"OK: {count(len(found), 'file')} checked against the evidence recorded.")
    return 0


def _verify_remotes(store: Store, args: argparse.Namespace, ctx: Context, report: VerifyReport) -> int:
    """Add every remote's findings to `report`; an unreachable remote is a finding too.

    A drive that is not plugged in is skipped with a note under --all, and is an error when it
    is the one remote asked for: "OK, 0 units checked" would be a false comfort. Returns how
    many remotes could not be reached.
    """
    from archive.cli.replicas import chosen_remotes
    from archive.ops.verify import Finding
    from archive.ops.verify_remote import verify_remote
    from archive.replicate.audit_copy import check_copies
    from archive.replicate.plan import UnitPlan, replan_on_stale
    from archive.replicate.remotes import ledger_of, open_backends
    from archive.replicate.replica_key import read_replica_key
    from backends.errors import BackendError, NotConnected

    specs = chosen_remotes(store, [args.remote] if args.remote else None)
    # After `arkeep unlock` the agent's keyring, and no passphrase: a replica's key file that is
    # not the store's is then classified without trying the passphrase on it.
    keyring = None if ctx.passphrase_given() else ctx.keyring_at_hand(store)
    passphrase = None
    if keyring is None:
        passphrase = ctx.early_passphrase(store)
        if passphrase is not None:
            keyring = ctx.unlock(store)     # at once if --all's local check has collected it
        else:
            passphrase = ctx.passphrase()
            keyring = store.unlock(passphrase)

    def verify_all(plan: UnitPlan) -> tuple[list[Finding], int]:
        found: list[Finding] = []
        unreachable = 0
        if args.remote:     # under --all the local check already names these
            found += [Finding(f"{why}; the remote copies were not compared with it", what, name)
                      for what, name, why in plan.held_back]
        for spec, backend in zip(specs, open_backends(specs, ledger)):
            try:
                part = verify_remote(backend, keyring, plan, ledger, args.sample, ctx.bar)
                key_file = read_replica_key(backend, store, passphrase)
                if key_file.wrapping:
                    ledger.key_file_seen(spec.name, key_file.wrapping)
                key_problem = key_file.problem()
                log_problems = check_copies(store, keyring, backend, ledger)
            except NotConnected as exc:
                if args.remote:
                    raise
                ctx.note(f"{spec.name}: skipped, {exc}")
                continue
            except BackendError as exc:
                found.append(Finding(f"cannot be checked: {exc}", copy=f"remote {spec.name}"))
                unreachable += 1
                continue
            finally:
                ctx.close_bars()
            report.releases = max(report.releases, part.releases)
            report.licenses = max(report.licenses, part.licenses)
            report.objects_checked += part.objects_checked
            report.bytes_checked += part.bytes_checked
            found += part.problems
            if key_problem:
                found.append(Finding(key_problem, copy=f"remote {spec.name}"))
            found += [Finding(what, copy=f"remote {spec.name}") for what in log_problems]
        return found, unreachable

    with store.writing("arkeep verify"), ledger_of(store) as ledger:
        found, unreachable = replan_on_stale(store, keyring, verify_all)
    report.problems.extend(found)
    return unreachable
