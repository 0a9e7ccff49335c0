"""arkeep notify add | remove | list | test"""
from __future__ import annotations

import argparse
import sys

from archive.cli.context import Context

EXAMPLES = """examples:
  arkeep notify add 'mailto://me:app-password@smtp.example.org?to=me@example.org'
  arkeep notify add 'ntfy://ntfy.sh/my-arkeep-topic'
  arkeep notify add -                 (the URL on standard input: it stays out of the shell history)
  arkeep notify add --ping https://hc-ping.com/<uuid>    (start/success/fail pings)
  arkeep notify list
  arkeep notify remove 2
  arkeep notify test

Notices go through Apprise: one URL per service (mail, ntfy, Matrix, Slack, Telegram, Discord,
Pushover, JSON or form posts, and many more; see https://github.com/caronc/apprise/wiki).
`arkeep audit --notify` and `arkeep due --notify` send one when they find something wrong, and
ping the --ping URL when they start (URL/start), succeed (URL) or fail (URL/fail), as a scheduled
run does (`arkeep schedule`). The URLs are kept in the store's arkeep.toml, which is then readable
by its owner only; `list` never shows a URL whole. No licence key, passphrase or recovery code is
ever part of a notice.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("notify", parents=[common], help="where notices of problems are sent",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    nsub = p.add_subparsers(dest="notify_command", metavar="COMMAND", required=True)
    add = nsub.add_parser("add", parents=[common], help="add an Apprise URL (or --ping URL)",
                          epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("url", metavar="URL", help="an Apprise URL, or - to read it from standard input")
    add.add_argument("--ping", action="store_true",
                     help="a Healthchecks-style URL pinged at start, success and failure")
    add.set_defaults(run=run_add)
    raw = argparse.RawDescriptionHelpFormatter
    rm = nsub.add_parser("remove", parents=[common], help="remove a notice URL (or --ping)",
                         epilog=EXAMPLES, formatter_class=raw)
    rm.add_argument("which", nargs="?", metavar="NUMBER", help="its number in `arkeep notify list`")
    rm.add_argument("--ping", action="store_true", help="remove the ping URL")
    rm.set_defaults(run=run_remove)
    ls = nsub.add_parser("list", parents=[common], help="the configured URLs, credentials hidden",
                         epilog=EXAMPLES, formatter_class=raw)
    ls.set_defaults(run=run_list)
    test = nsub.add_parser("test", parents=[common], help="send a test notice and a ping",
                           epilog=EXAMPLES, formatter_class=raw)
    test.set_defaults(run=run_test)


def _url(text: str) -> str:
    from archive.errors import UsageError
    if text != "-":
        return text
    line = sys.stdin.readline(8192).strip()
    if not line:
        raise UsageError("standard input held no URL; nothing was changed")
    return line


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.notify import add
    shown = add(ctx.open_store(), _url(args.url), ping=args.ping)
    ctx.say(f"{'ping' if args.ping else 'notices'}: {shown} added; `arkeep notify test` sends a "
            "test")
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    from archive.errors import UsageError
    from archive.ops.notify import remove
    if not args.ping and args.which is None:
        raise UsageError("give the number of the URL to remove (`arkeep notify list`), or --ping")
    shown = remove(ctx.open_store(), args.which, ping=args.ping)
    ctx.say(f"removed {shown}")
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.notify import listing, load
    rows = listing(load(ctx.open_store()))
    if ctx.json:
        ctx.emit_json(rows)
        return 0
    if not rows:
        ctx.say("no notices configured; `arkeep notify add URL` adds one")
    for row in rows:
        label = f"{row['number']}." if row["number"] else "ping"
        ctx.say(f"{label:<5} {row['service']:<10} {row['url']}")
    return 0


def run_test(args: argparse.Namespace, ctx: Context) -> int:
    from archive.errors import EXIT_ENVIRONMENT, UsageError
    from archive.ops.notify import Notice, load, ping, send
    store = ctx.open_store()
    cfg = load(store)
    if cfg.empty:
        raise UsageError("no notices configured; `arkeep notify add URL` adds one")
    notice = Notice("arkeep: test notice", [f"A test notice from the arkeep store at {store.root}.",
                                            "Notices of problems will look like this."],
                    failure=False)
    deliveries = send(cfg, notice)
    pinged = ping(cfg, "success", "arkeep notify test")
    if pinged is not None:
        deliveries.append(pinged)
    code = EXIT_ENVIRONMENT if any(not d.ok for d in deliveries) else 0
    if ctx.json:
        ctx.emit_json({"ok": code == 0, "deliveries": [d.data() for d in deliveries]})
    report(ctx, deliveries, always=True)
    return code


def report(ctx: Context, deliveries: list, always: bool = False) -> None:
    """One line per delivery that failed (and, with `always`, per one that worked), on stderr
    unless --json (the caller puts them in its document)."""
    if ctx.json:
        return
    for d in deliveries:
        if not d.ok:
            print(f"arkeep: the {d.kind} to {d.target} failed: {d.reason}", file=ctx.err)
        elif always:
            ctx.say(f"{d.kind} sent to {d.target}")


def tell_failure(cfg: object, command: str, exc: BaseException) -> list:
    """A run with --notify that stopped on an error: one notice and the /fail ping, with our own
    one-line message (never built from a secret) or, for anything else, only the error's type."""
    from archive.errors import ArkeepError
    from archive.ops.notify import Notice, finished
    from backends.errors import BackendError
    from manifests.errors import ManifestError

    known = isinstance(exc, (ArkeepError, BackendError, ManifestError))
    message = str(exc) if known else f"unexpected {type(exc).__name__} (run it by hand with --debug)"
    notice = Notice(f"{command} could not run", [f"{command} stopped: {message}"])
    return finished(cfg, notice, False, f"{command} stopped: {message}"[:500])  # type: ignore[arg-type]
