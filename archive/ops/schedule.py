"""`arkeep schedule`: the files that run `arkeep audit --due --notify` every day, for the current
user, in the form of each platform's scheduler.

- systemd: a user service and timer (`Persistent=true`: a run missed while the machine was off
  happens at the next boot; `RandomizedDelaySec`: machines do not all start at the same second),
  in `$XDG_CONFIG_HOME/systemd/user/`;
- launchd: a user agent in `~/Library/LaunchAgents/` (launchd runs a missed calendar job when
  the Mac wakes);
- Windows Task Scheduler: a task's XML (`StartWhenAvailable`, a random delay), registered with
  `schtasks /Create /XML`;
- cron: one crontab line (printed only: arkeep does not edit a crontab).

Each runs the Python that runs this arkeep, with the store named by `--store`, so that neither
PATH nor the environment of the scheduler matters. No passphrase is involved: the audit checks
the sealed bytes against their recorded digests (see docs/THREATS.md), and a licence key never
goes into a notice.
"""
from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from archive.errors import UsageError
from archive.system import durable

FORMATS = ("systemd", "launchd", "task", "cron")
DEFAULT_NAME = "arkeep-audit"
RANDOM_DELAY_MINUTES = 60
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"


@dataclass(frozen=True)
class Plan:
    """What one schedule is: the command, when, and the name of its files or task."""
    argv: tuple[str, ...]
    hour: int
    minute: int
    name: str = DEFAULT_NAME

    @property
    def label(self) -> str:         # launchd's reverse-DNS label
        return f"org.arkeep.{self.name}"


@dataclass(frozen=True)
class ScheduleFile:
    path: Path | None           # where --install puts it (None: not a file, e.g. a cron line)
    text: str


def default_format() -> str:
    if sys.platform == "darwin":
        return "launchd"
    if os.name == "nt":
        return "task"
    return "systemd" if shutil.which("systemctl") or shutil.which("systemd-analyze") else "cron"


def parse_time(text: str) -> tuple[int, int]:
    try:
        hour_text, minute_text = text.split(":")
        hour, minute = int(hour_text), int(minute_text)
    except ValueError:
        raise UsageError(f"--at takes a time of day such as 03:00, not {text!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise UsageError(f"--at takes a time of day such as 03:00, not {text!r}")
    return hour, minute


def check_name(name: str) -> str:
    if not name or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
        raise UsageError("--name takes letters, digits, - and _ only (it names the unit, agent "
                         "or task)")
    return name


def command(store: Path, passphrase_command: str | None = None,
            python: str | None = None) -> tuple[str, ...]:
    """The scheduled command: this Python running arkeep on this store; with a passphrase
    command (a password manager, the OS keyring) the audit is a full one."""
    unlock = ("--passphrase-command", passphrase_command) if passphrase_command else ()
    return (python or sys.executable, "-m", "archive", "--store", str(Path(store).absolute()),
            *unlock, "audit", "--due", "--notify", "--quiet")


# -- the four forms ---------------------------------------------------------------------------

def _systemd_quote(word: str) -> str:
    """One word of an ExecStart= line: quoted when needed, with systemd's own escapes (a `%`
    is a specifier, a `\\` an escape, `$` a variable)."""
    word = word.replace("\\", "\\\\").replace("%", "%%").replace("$", "$$").replace('"', '\\"')
    return f'"{word}"' if any(c in word for c in " \t'\";") or not word else word


def systemd_units(plan: Plan, config_home: Path) -> list[ScheduleFile]:
    where = config_home / "systemd" / "user"
    exec_line = " ".join(_systemd_quote(w) for w in plan.argv)
    service = (
        "[Unit]\n"
        "Description=arkeep: re-read a slice of every replica and check the licences' calendar\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={exec_line}\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n")
    timer = (
        "[Unit]\n"
        f"Description=arkeep: daily audit ({plan.name})\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {plan.hour:02d}:{plan.minute:02d}:00\n"
        "Persistent=true\n"
        f"RandomizedDelaySec={RANDOM_DELAY_MINUTES}min\n"
        f"Unit={plan.name}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n")
    return [ScheduleFile(where / f"{plan.name}.service", service),
            ScheduleFile(where / f"{plan.name}.timer", timer)]


def launchd_agent(plan: Plan, home: Path) -> list[ScheduleFile]:
    logs = home / "Library" / "Logs"
    agent = {
        "Label": plan.label,
        "ProgramArguments": list(plan.argv),
        "StartCalendarInterval": {"Hour": plan.hour, "Minute": plan.minute},
        "RunAtLoad": False,
        "ProcessType": "Background",
        "LowPriorityIO": True,
        "StandardOutPath": str(logs / f"{plan.name}.log"),
        "StandardErrorPath": str(logs / f"{plan.name}.log"),
    }
    text = plistlib.dumps(agent, sort_keys=False).decode("utf-8")
    return [ScheduleFile(home / "Library" / "LaunchAgents" / f"{plan.label}.plist", text)]


def task_xml(plan: Plan) -> list[ScheduleFile]:
    """A Task Scheduler task (schema 1.2, Windows 7 and later)."""
    ET.register_namespace("", TASK_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        node = ET.SubElement(parent, f"{{{TASK_NS}}}{tag}")
        if text is not None:
            node.text = text
        return node

    task = ET.Element(f"{{{TASK_NS}}}Task", {"version": "1.2"})
    info = sub(task, "RegistrationInfo")
    sub(info, "Description", "arkeep: re-read a slice of every replica and check the licences' "
                             "calendar")
    trigger = sub(sub(task, "Triggers"), "CalendarTrigger")
    sub(trigger, "StartBoundary", f"2026-01-01T{plan.hour:02d}:{plan.minute:02d}:00")
    sub(trigger, "Enabled", "true")
    sub(trigger, "RandomDelay", f"PT{RANDOM_DELAY_MINUTES}M")
    sub(sub(trigger, "ScheduleByDay"), "DaysInterval", "1")
    principal = sub(sub(task, "Principals"), "Principal", None)
    principal.set("id", "Author")
    sub(principal, "LogonType", "InteractiveToken")
    sub(principal, "RunLevel", "LeastPrivilege")
    settings = sub(task, "Settings")
    for tag, value in (("MultipleInstancesPolicy", "IgnoreNew"),
                       ("DisallowStartIfOnBatteries", "false"),
                       ("StopIfGoingOnBatteries", "false"),
                       ("StartWhenAvailable", "true"),      # a missed run happens when it can
                       ("RunOnlyIfNetworkAvailable", "false"),
                       ("ExecutionTimeLimit", "PT12H"),
                       ("Priority", "7")):
        sub(settings, tag, value)
    actions = sub(task, "Actions")
    actions.set("Context", "Author")
    exec_node = sub(actions, "Exec")
    sub(exec_node, "Command", plan.argv[0])
    sub(exec_node, "Arguments", subprocess.list2cmdline(list(plan.argv[1:])))
    ET.indent(task)
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode") + "\n"
    return [ScheduleFile(None, text)]


def cron_line(plan: Plan) -> list[ScheduleFile]:
    # cron gives `%` a meaning of its own (a new line): escaped wherever it appears.
    words = " ".join(shlex.quote(w) for w in plan.argv).replace("%", "\\%")
    return [ScheduleFile(None, f"{plan.minute} {plan.hour} * * * {words}   # {plan.name}\n")]


def files_for(fmt: str, plan: Plan, home: Path, config_home: Path) -> list[ScheduleFile]:
    if fmt == "systemd":
        return systemd_units(plan, config_home)
    if fmt == "launchd":
        return launchd_agent(plan, home)
    if fmt == "task":
        return task_xml(plan)
    if fmt == "cron":
        return cron_line(plan)
    raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def homes() -> tuple[Path, Path]:
    """The user's home and configuration folder, as the platform's scheduler finds them."""
    home = Path(os.environ.get("HOME") or Path.home())
    config = os.environ.get("XDG_CONFIG_HOME")
    return home, Path(config) if config else home / ".config"


# -- installing -------------------------------------------------------------------------------

@dataclass
class Installed:
    written: list[Path]
    removed: list[Path]
    ran: list[str]             # commands run, as a person would type them
    todo: list[str]            # commands the user still has to run (no scheduler reachable)


def _run(argv: list[str], done: Installed) -> None:
    line = " ".join(shlex.quote(a) for a in argv)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        done.todo.append(line)
        return
    (done.ran if result.returncode == 0 else done.todo).append(line)


def _user_manager_running() -> bool:
    """A systemd user manager to talk to: its private socket under XDG_RUNTIME_DIR."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(runtime) and Path(runtime, "systemd", "private").exists() \
        and shutil.which("systemctl") is not None


def install(fmt: str, plan: Plan, home: Path, config_home: Path) -> Installed:
    done = Installed([], [], [], [])
    if fmt == "cron":
        raise UsageError("arkeep does not edit your crontab: add the line `arkeep schedule "
                         "--format cron` prints with `crontab -e`")
    files = files_for(fmt, plan, home, config_home)
    if fmt == "task":
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            xml = Path(tmp) / f"{plan.name}.xml"
            xml.write_text(files[0].text, encoding="utf-16")
            if shutil.which("schtasks") is None:
                raise UsageError("schtasks is not here (this is not Windows): save the XML "
                                 "`arkeep schedule --format task` prints and import it in Task "
                                 "Scheduler")
            _run(["schtasks", "/Create", "/TN", plan.name, "/XML", str(xml), "/F"], done)
        return done
    for f in files:
        assert f.path is not None
        f.path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_atomic(f.path, f.text, mode=0o644, newline="\n")
        done.written.append(f.path)
    if fmt == "systemd":
        timer = f"{plan.name}.timer"
        if _user_manager_running():
            _run(["systemctl", "--user", "daemon-reload"], done)
            _run(["systemctl", "--user", "enable", "--now", timer], done)
        else:
            done.todo += ["systemctl --user daemon-reload",
                          f"systemctl --user enable --now {timer}"]
    elif fmt == "launchd":
        agent = str(files[0].path)
        step = ["launchctl", "bootstrap", f"gui/{os.getuid()}", agent] \
            if hasattr(os, "getuid") else ["launchctl", "load", agent]
        if shutil.which("launchctl"):
            _run(step, done)
        else:
            done.todo.append(" ".join(shlex.quote(a) for a in step))
    return done


def uninstall(fmt: str, plan: Plan, home: Path, config_home: Path) -> Installed:
    done = Installed([], [], [], [])
    if fmt == "cron":
        raise UsageError(f"arkeep does not edit your crontab: remove the line ending in "
                         f"`# {plan.name}` with `crontab -e`")
    if fmt == "task":
        if shutil.which("schtasks") is None:
            raise UsageError("schtasks is not here (this is not Windows): delete the task "
                             f"{plan.name} in Task Scheduler")
        _run(["schtasks", "/Delete", "/TN", plan.name, "/F"], done)
        return done
    files = files_for(fmt, plan, home, config_home)
    if fmt == "systemd" and _user_manager_running():
        _run(["systemctl", "--user", "disable", "--now", f"{plan.name}.timer"], done)
    if fmt == "launchd" and shutil.which("launchctl") and hasattr(os, "getuid"):
        _run(["launchctl", "bootout", f"gui/{os.getuid()}/{plan.label}"], done)
    for f in files:
        assert f.path is not None
        if f.path.exists():
            f.path.unlink()
            done.removed.append(f.path)
    if fmt == "systemd" and _user_manager_running():
        _run(["systemctl", "--user", "daemon-reload"], done)
    if not done.removed and not done.ran:
        raise UsageError(f"no {fmt} schedule named {plan.name} is installed for this user")
    return done
