"""arkeep sync"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from archive.cli.context import Context
from archive.errors import EXIT_ENVIRONMENT

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
takes it). The audit log goes along, sealed (log/<name>.zip); a remote's copy is replaced only
by a log that begins with it: one edited, or holding entries this store lacks, is named (exit
1) and left as it is.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sync", parents=[common], help="copy the archive, sealed, to remotes",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--rescan", action="store_true", help="rebuild the ledger from fresh listings")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.open_store()
    ctx.unlock_early(store)     # the scrypt runs while the modules below load

    from archive.cli.replicas import chosen_remotes, say_if_kit_outdated
    from archive.replicate.remotes import ledger_of
    from archive.replicate.sync import sync_remotes

    specs = chosen_remotes(store, args.names)
    keyring = ctx.unlock(store)

    def show(result: RemoteSyncResult) -> None:
        ctx.close_bars()
        _show(ctx, result)

    with store.writing("arkeep sync"), ledger_of(store) as ledger:
        try:
            results, plan = sync_remotes(store, keyring, specs, ledger, rescan=args.rescan,
                                         progress_for=ctx.bar, each=show)
        finally:
            ctx.close_bars()
    if not any(r.status == "failed" for r in results):
        say_if_kit_outdated(ctx, store)     # after a failure, its one line is what matters
    for what, name, why in plan.held_back:
        print(f"PROBLEM {what} / {name}: {why}; not sent to any remote", file=ctx.out)
    rows = [_row(r) for r in results]
    if ctx.json:
        held = [f"{w} / {n}: {y}; not sent" for w, n, y in plan.held_back]
        ctx.emit_json([{**row, "problems": row.get("problems", []) + held} if held else row
                       for row in rows])
    if any(r.status == "failed" for r in results):
        return EXIT_ENVIRONMENT
    return 1 if plan.held_back or any(r.get("problems") for r in rows) else 0


def _row(result: RemoteSyncResult) -> dict:
    if result.status == "failed":
        return {"remote": result.remote, "status": "failed", "message": result.message}
    row = {"remote": result.remote, "status": result.status, "message": result.message,
           "pushed": result.pushed, "pushed_bytes": result.pushed_bytes,
           "already_present": result.present, "removed": result.removed,
           "key_sent": result.key_sent, "log_sent": result.log_sent,
           "history_sent": result.history_sent}
    if result.errors:
        row["problems"] = list(result.errors)
    return row


def _show(ctx: Context, result: RemoteSyncResult) -> None:
    from archive.present.humanize import count, human_size

    name = result.remote
    if result.status == "failed":
        ctx.note(f"{name}: FAILED: {result.message}")
        return
    if result.status == "skipped":
        ctx.say(f"{name}: skipped, {result.message}")
    elif result.status == "up-to-date":
        ctx.say(f"{name}: up to date ({count(result.present, 'unit')})")
    else:
        ctx.say(f"{name}: {_sent(result, human_size(result.pushed_bytes))}")
    if result.removed:
        ctx.say(f"{name}: deleted {count(result.removed, 'unit')} of removed "
                "releases and pruned objects")
    for problem in result.errors:
        print(f"PROBLEM {name}: {problem}", file=ctx.out)


def _sent(result: RemoteSyncResult, size: str) -> str:
    """'sent 5 units (1.2 MiB) and the key file, 3 already there': the key file is no unit,
    so the counts agree with the next sync's 'up to date (8 units)'."""
    from archive.present.humanize import count

    units = result.pushed - result.key_sent
    text = f"sent {count(units, 'unit')} ({size})" if units else "sent no unit"
    if result.key_sent:
        text += " and the key file"
    return text + f", {result.present} already there"
