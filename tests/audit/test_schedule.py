"""`arkeep schedule` (issue 15, item 3): the systemd units pass `systemd-analyze verify`, the
launchd agent parses with plistlib, the task with an XML parser, the cron line with a shell's
rules; --install and --uninstall work in a temporary HOME and XDG_CONFIG_HOME, and the command
they install runs."""
from __future__ import annotations

import json
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.archive.replication_support import add_sample

TASK = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
SCHEDULED = ["-m", "archive", "--store"]     # then the store, then the audit's words
AUDIT_WORDS = ["audit", "--due", "--notify", "--quiet"]


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's HOME, XDG_CONFIG_HOME and XDG_RUNTIME_DIR of our own (no user manager runs)."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return home


def printed(cli, fmt: str, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("schedule", "--format", fmt, "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def systemd_verify(unit_dir: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: scripts/test installs the Debian package systemd"
    return subprocess.run([tool, "--user", "verify", f"{unit_dir}/arkeep-audit.service",
                           f"{unit_dir}/arkeep-audit.timer"], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, check=False)


def test_the_systemd_units_pass_systemd_analyze_verify(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, user_home: Path) -> None:
    data = printed(cli, "systemd", "--at", "04:30")
    assert data["command"] == [sys.executable, *SCHEDULED, str(store_dir), *AUDIT_WORDS]
    units = tmp_path / "units"
    units.mkdir()
    texts = {}
    for f in data["files"]:
        name = Path(f["path"]).name
        assert Path(f["path"]).parent == user_home / ".config" / "systemd" / "user"
        (units / name).write_text(f["text"])
        texts[name] = f["text"]
    timer = texts["arkeep-audit.timer"].splitlines()
    assert {"Persistent=true", "OnCalendar=*-*-* 04:30:00", "RandomizedDelaySec=60min",
            "WantedBy=timers.target"} <= set(timer)
    checked = systemd_verify(units, tmp_path / "runtime")
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    # The check can fail: a unit with a broken calendar does not pass.
    (units / "arkeep-audit.timer").write_text(texts["arkeep-audit.timer"].replace("04:30", "27:30"))
    assert systemd_verify(units, tmp_path / "runtime").returncode != 0


def test_a_store_path_with_spaces_and_percent_signs_survives_every_format(  # type: ignore[no-untyped-def]
        cli, fast_template, tmp_path: Path, user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "my store 100%"
    shutil.copytree(fast_template[0], store)
    monkeypatch.setenv("ARKEEP_STORE", str(store))
    units = tmp_path / "units"
    units.mkdir()
    for f in printed(cli, "systemd")["files"]:
        (units / Path(f["path"]).name).write_text(f["text"])
    checked = systemd_verify(units, tmp_path / "runtime")
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    service = (units / "arkeep-audit.service").read_text()
    assert '--store "' + str(store).replace("%", "%%") + '" audit' in service
    line = printed(cli, "cron")["files"][0]["text"]
    command = line.split("   # ")[0].split(" ", 5)[5].replace("\\%", "%")   # as cron hands it on
    assert shlex.split(command) == [sys.executable, *SCHEDULED, str(store), *AUDIT_WORDS]


def test_the_launchd_agent_and_the_task_parse(cli, store_dir: Path, user_home: Path) -> None:  # type: ignore[no-untyped-def]
    agent_file = printed(cli, "launchd", "--at", "05:15")["files"][0]
    assert agent_file["path"] == str(user_home / "Library" / "LaunchAgents"
                                     / "org.arkeep.arkeep-audit.plist")
    agent = plistlib.loads(agent_file["text"].encode())
    assert agent["Label"] == "org.arkeep.arkeep-audit"
    assert agent["ProgramArguments"] == [sys.executable, *SCHEDULED, str(store_dir), *AUDIT_WORDS]
    assert agent["StartCalendarInterval"] == {"Hour": 5, "Minute": 15}
    task_text = printed(cli, "task")["files"][0]["text"]
    root = ET.fromstring(task_text.encode("utf-16"))     # as schtasks reads the file
    assert root.tag == f"{TASK}Task"
    trigger = root.find(f"{TASK}Triggers/{TASK}CalendarTrigger")
    assert trigger is not None
    assert trigger.findtext(f"{TASK}StartBoundary").endswith("T03:00:00")
    assert trigger.findtext(f"{TASK}ScheduleByDay/{TASK}DaysInterval") == "1"
    assert trigger.findtext(f"{TASK}RandomDelay") == "PT60M"
    assert root.findtext(f"{TASK}Settings/{TASK}StartWhenAvailable") == "true"
    assert root.findtext(f"{TASK}Actions/{TASK}Exec/{TASK}Command") == sys.executable
    arguments = root.findtext(f"{TASK}Actions/{TASK}Exec/{TASK}Arguments")
    assert arguments.split() == [*SCHEDULED, str(store_dir), *AUDIT_WORDS]


def test_install_runs_in_a_temporary_home_and_uninstall_removes_it(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, user_home: Path) -> None:
    unit_dir = user_home / ".config" / "systemd" / "user"
    result = cli("schedule", "--format", "systemd", "--install")
    assert result.code == 0, result.err
    assert sorted(p.name for p in unit_dir.iterdir()) == ["arkeep-audit.service", "arkeep-audit.timer"]
    # No user manager runs in this HOME: the commands that start the timer are said, not run.
    assert "to finish, run:\n  systemctl --user daemon-reload\n  systemctl --user enable --now " \
           "arkeep-audit.timer" in result.out
    assert systemd_verify(unit_dir, tmp_path / "runtime").returncode == 0
    # What the timer runs works: an audit of this store with the calendar, exit 0.
    add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    exec_line = next(line for line in (unit_dir / "arkeep-audit.service").read_text().splitlines()
                     if line.startswith("ExecStart="))
    argv = shlex.split(exec_line.removeprefix("ExecStart=").replace("%%", "%"))
    env = {k: v for k, v in os.environ.items() if k not in ("ARKEEP_STORE", "ARKEEP_PASSPHRASE")}
    ran = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                         start_new_session=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    launchd = cli("schedule", "--format", "launchd", "--install")
    assert launchd.code == 0, launchd.err
    agent = user_home / "Library" / "LaunchAgents" / "org.arkeep.arkeep-audit.plist"
    assert plistlib.loads(agent.read_bytes())["Label"] == "org.arkeep.arkeep-audit"
    assert cli("schedule", "--format", "launchd", "--uninstall").code == 0
    assert not agent.exists()
    removed = cli("schedule", "--format", "systemd", "--uninstall")
    assert removed.code == 0 and list(unit_dir.iterdir()) == []
    again = cli("schedule", "--format", "systemd", "--uninstall")
    assert again.code == 2 and "no systemd schedule named arkeep-audit" in again.err


def test_bad_input_is_refused_and_nothing_is_written(cli, store_dir: Path, user_home: Path) -> None:  # type: ignore[no-untyped-def]
    for args, words in ((("--at", "25:00"), "time of day"),
                        (("--at", "noon"), "time of day"),
                        (("--name", "../evil"), "letters, digits"),
                        (("--format", "anacron", "--install"), "unknown format"),
                        (("--format", "cron", "--install"), "does not edit your crontab"),
                        (("--format", "task", "--install"), "schtasks is not here")):
        result = cli("schedule", *args)
        assert result.code == 2, (args, result.out, result.err)
        assert words in result.err
    with pytest.raises(SystemExit):
        cli("schedule", "--install", "--uninstall")
    assert sorted(p.name for p in user_home.rglob("*")) == [".config"]
