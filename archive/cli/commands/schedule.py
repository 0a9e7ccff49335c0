"""arkeep schedule"""
from __future__ import annotations

import argparse

from archive.cli.context import Context

EXAMPLES = """examples:
  arkeep schedule                       print the systemd user timer (Linux), launchd agent (macOS)
                                        or Task Scheduler XML (Windows) for a daily audit
  arkeep schedule --install             install it for the current user and start it
  arkeep schedule --uninstall
  arkeep schedule --format cron --at 04:30
  arkeep schedule --format task > arkeep-audit.xml
  arkeep schedule --install --passphrase-command 'secret-tool lookup arkeep store'

The scheduled command is `arkeep audit --due --notify --quiet` on this store, run by the Python
that runs this arkeep: a rolling re-read of every connected replica (a 30th each day, without the
passphrase), the licences' calendar, and a notice through `arkeep notify` when something needs
attention. A run missed while the machine was off happens when it is next on (systemd
Persistent=true, launchd, Task Scheduler StartWhenAvailable); the start is spread over an hour.
arkeep does not edit a crontab: --format cron prints the line for `crontab -e`.
No passphrase is stored for it; with --passphrase-command CMD (a password manager or the OS
keyring that can answer without you) the scheduled audit runs CMD and is a full one.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("schedule", parents=[common], help="run the audit and the calendar check "
                       "daily (systemd, launchd, Task Scheduler, cron)", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Print, install or uninstall a daily `arkeep audit --due "
                                   "--notify` for the current user.")
    # The formats and the default name are ops/schedule.py's (not imported here: the parser is
    # built on every start, and ops/ is loaded only by the command that runs).
    p.add_argument("--format", metavar="{systemd,launchd,task,cron}",
                   help="default: this platform's scheduler")
    p.add_argument("--at", default="03:00", metavar="HH:MM", help="time of day (default 03:00)")
    p.add_argument("--name", help="the unit, agent or task name (default arkeep-audit; one per "
                                  "store)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--install", action="store_true", help="install it for the current user")
    what.add_argument("--uninstall", action="store_true", help="remove what --install installed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.schedule import (
        DEFAULT_NAME,
        Plan,
        check_name,
        command,
        default_format,
        files_for,
        homes,
        install,
        parse_time,
        uninstall,
    )

    hour, minute = parse_time(args.at)
    fmt = args.format or default_format()
    store = ctx.open_store()
    plan = Plan(command(store.root, ctx.passphrase_command), hour, minute,
                check_name(args.name or DEFAULT_NAME))
    home, config_home = homes()
    if args.install or args.uninstall:
        done = (install if args.install else uninstall)(fmt, plan, home, config_home)
        if ctx.json:
            ctx.emit_json({"format": fmt, "written": [str(p) for p in done.written],
                           "removed": [str(p) for p in done.removed], "ran": done.ran,
                           "todo": done.todo})
            return 0
        for path in done.written:
            ctx.say(f"wrote {path}")
        for path in done.removed:
            ctx.say(f"removed {path}")
        for line in done.ran:
            ctx.say(f"ran {line}")
        if done.todo:
            ctx.say("to finish, run:" if args.install else "then run:")
            for line in done.todo:
                ctx.say(f"  {line}")
        return 0
    files = files_for(fmt, plan, home, config_home)
    if ctx.json:
        ctx.emit_json({"format": fmt, "command": list(plan.argv),
                       "files": [{"path": str(f.path) if f.path else None, "text": f.text}
                                 for f in files]})
        return 0
    for f in files:
        if f.path is not None and len(files) > 1:
            ctx.out.write(f"# {f.path}\n")
        ctx.out.write(f.text)
        if len(files) > 1:
            ctx.out.write("\n")
    return 0
