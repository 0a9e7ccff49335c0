"""arkeep sync"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from archive.cli.context import Context
from archive.errors import EXIT_ENVIRONMENT, ArkeepError

if TYPE_CHECKING:
    from archive.replicate.sync import RemoteSyncResult

EXAMPLES = """examples:
  arkeep sync                 every remote; drives that are not plugged in are skipped
  arkeep sync nas cloud       only these
  arkeep sync --rescan        forget what the ledger believes and list every remote afresh

Only what a remote lacks is sent; an interrupted sync resumes where it stopped. The units of
releases and licence records taken out with `arkeep remove`, and of objects deleted by
`arkeep prune`, are deleted from each remote sync reaches; nothing else is ever deleted there.
A remote that held units and now shows neither key.toml nor units (a share that is not mounted)
is refused with exit 3 and the others still sync; so is one holding another archive's key.toml.
A manifest changed outside arkeep (its digest line does not match) is never sent, nor is the
manifest of a release whose object is missing locally: both are named (exit 1) while the rest
replicates. A manifest a remote holds in a newer revision is not overwritten (`arkeep repair`
takes it).
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sync", parents=[common], help="copy the archive, sealed, to remotes",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--rescan", action="store_true", help="rebuild the ledger from fresh listings")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.replicas import chosen_remotes, ledger_of, open_backends
    from archive.errors import IndexStale
    from archive.present.humanize import count, human_size
    from archive.replicate.plan import UnitPlan, replan_on_stale
    from archive.replicate.remote_config import refresh_key_file
    from archive.replicate.sync import sync_remote
    from backends.errors import BackendError

    store = ctx.open_store()
    specs = chosen_remotes(store, args.names)
    secret = ctx.unlock(store)
    with store.writing("arkeep sync"), ledger_of(store) as ledger:
        refresh_key_file(store, secret)

        def sync_all(plan: UnitPlan) -> tuple[list[dict], bool, UnitPlan]:
            failed, rows = False, []
            for spec, backend in zip(specs, open_backends(specs, ledger)):
                if args.rescan:
                    try:
                        backend.check()
                    except BackendError:
                        pass  # an unplugged drive keeps what the ledger knows; sync_remote says so
                    else:
                        # What its key file was is kept: a rescan of an unmounted share must not
                        # take it for an empty place to fill.
                        wrapping = ledger.key_file_wrapping(spec.name)
                        ledger.forget_remote(spec.name)
                        if wrapping:
                            ledger.key_file_seen(spec.name, wrapping)
                try:
                    result = sync_remote(store, secret, backend, plan, ledger, ctx.bar)
                except IndexStale:
                    raise
                except (BackendError, ArkeepError) as exc:
                    failed = True
                    rows.append({"remote": spec.name, "status": "failed", "message": str(exc)})
                    ctx.note(f"{spec.name}: FAILED: {exc}")
                    continue
                finally:
                    ctx.close_bars()
                rows.append({"remote": spec.name, "status": result.status,
                             "message": result.message, "pushed": result.pushed,
                             "pushed_bytes": result.pushed_bytes,
                             "already_present": result.present, "removed": result.removed,
                             "key_sent": result.key_sent})
                if result.errors:
                    rows[-1]["problems"] = list(result.errors)
                if result.status == "skipped":
                    ctx.say(f"{spec.name}: skipped, {result.message}")
                elif result.status == "up-to-date":
                    ctx.say(f"{spec.name}: up to date ({count(result.present, 'unit')})")
                else:
                    ctx.say(f"{spec.name}: {_sent(result, human_size(result.pushed_bytes))}")
                if result.removed:
                    ctx.say(f"{spec.name}: deleted {count(result.removed, 'unit')} of removed "
                            "releases and pruned objects")
                for problem in result.errors:
                    print(f"PROBLEM {spec.name}: {problem}", file=ctx.out)
            return rows, failed, plan

        rows, failed, plan = replan_on_stale(store, secret, sync_all)
    for what, name, why in plan.held_back:
        print(f"PROBLEM {what} / {name}: {why}; not sent to any remote", file=ctx.out)
    if ctx.json:
        held = [f"{w} / {n}: {y}; not sent" for w, n, y in plan.held_back]
        ctx.emit_json([{**row, "problems": row.get("problems", []) + held} if held else row
                       for row in rows])
    if failed:
        return EXIT_ENVIRONMENT
    return 1 if plan.held_back or any(r.get("problems") for r in rows) else 0


def _sent(result: RemoteSyncResult, size: str) -> str:
    """'sent 5 units (1.2 MiB) and the key file, 3 already there': the key file is no unit,
    so the counts agree with the next sync's 'up to date (8 units)'."""
    from archive.present.humanize import count

    units = result.pushed - result.key_sent
    text = f"sent {count(units, 'unit')} ({size})" if units else "sent no unit"
    if result.key_sent:
        text += " and the key file"
    return text + f", {result.present} already there"
