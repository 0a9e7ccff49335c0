"""arkeep unlock [--for 15m], arkeep lock"""
from __future__ import annotations

import argparse
import re
import time

from archive.cli.context import Context
from archive.errors import UsageError

UNLOCK_EXAMPLES = """examples:
  arkeep unlock                 (15 minutes)
  arkeep unlock --for 2h
  arkeep lock

For a while, commands of this archive need no passphrase: a small process of yours keeps the
archive secret in memory (never on disk) and ends when the time is up, on `arkeep lock`, or at
logout where the system empties the runtime directory. Any program you run meanwhile can ask it,
as with ssh-agent; docs/THREATS.md says what that means. --passphrase-file and ARKEEP_PASSPHRASE
still take precedence when given.
"""
UNITS = {"s": 1, "m": 60, "h": 3600}


def duration(text: str) -> float:
    """'90s', '15m', '2h' or plain seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use e.g. 90s, 15m or 2h")
    return float(m[1]) * UNITS[m[2] or "s"]


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("unlock", parents=[common], help="skip the passphrase for a while (an agent)",
                       epilog=UNLOCK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--for", dest="seconds", type=duration, default=15 * 60, metavar="DURATION",
                   help="how long, e.g. 90s, 15m, 2h (default 15m, at most 24h)")
    p.set_defaults(run=run_unlock)
    q = sub.add_parser("lock", parents=[common], help="end an `arkeep unlock` at once",
                       epilog=UNLOCK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.set_defaults(run=run_lock)


def run_unlock(args: argparse.Namespace, ctx: Context) -> int:
    from archive.crypto.agent import MAX_SECONDS, start_agent

    if not 1 <= args.seconds <= MAX_SECONDS:
        raise UsageError("--for is between 1 second and 24 hours")
    store = ctx.open_store()
    keyring = store.unlock(ctx.passphrase())
    ends = start_agent(keyring, args.seconds)
    if ctx.json:
        ctx.emit_json({"key_id": keyring.key_id, "until": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                                         time.localtime(ends))})
        return 0
    ctx.say(f"Unlocked until {time.strftime('%H:%M', time.localtime(ends))}: commands for this "
            f"archive (key id {keyring.key_id}) need no passphrase; `arkeep lock` ends it now.")
    return 0


def run_lock(args: argparse.Namespace, ctx: Context) -> int:
    from archive.crypto.agent import stop_agent

    store = ctx.open_store()
    stopped = stop_agent(store.key_id)
    if ctx.json:
        ctx.emit_json({"key_id": store.key_id, "was_unlocked": stopped})
    else:
        ctx.say("Locked: commands ask for the passphrase again." if stopped else
                "Nothing to lock: this archive was not unlocked.")
    return 0
