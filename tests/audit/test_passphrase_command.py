"""A passphrase from a command (issue 15, item 2): --passphrase-command and
ARKEEP_PASSPHRASE_COMMAND make an unattended audit a full one without the passphrase on disk in
arkeep's files; a command that fails says so without repeating what it printed."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.archive.replication_support import add_sample
from tests.conftest import PASSPHRASE


def helper(tmp_path: Path, name: str, body: str) -> str:
    """A small program standing in for a password manager; returns its command line."""
    script = tmp_path / f"{name}.py"
    script.write_text(body)
    return shlex.join([sys.executable, str(script)])


@pytest.fixture
def synced(cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    return store_dir


def modes(result) -> list[str]:  # type: ignore[no-untyped-def]
    assert result.code == 0, result.out + result.err
    return [r["mode"] for r in json.loads(result.out)["remotes"]]


def test_a_passphrase_command_makes_the_audit_full(  # type: ignore[no-untyped-def]
        cli, synced: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = helper(tmp_path, "good", f"print({PASSPHRASE!r})\nprint('second line ignored')\n")
    assert modes(cli("audit", "--budget", "1", "--json")) == ["digest"]
    assert modes(cli("--passphrase-command", good, "audit", "--budget", "1", "--json")) == ["full"]
    monkeypatch.setenv("ARKEEP_PASSPHRASE_COMMAND", good)
    assert modes(cli("audit", "--budget", "1", "--json")) == ["full"]


def test_a_command_that_fails_says_so_without_what_it_printed(  # type: ignore[no-untyped-def]
        cli, synced: Path, tmp_path: Path) -> None:
    leaky = helper(tmp_path, "leaky", "print('LEAKED-PRINTED-TEXT')\nraise SystemExit(3)\n")
    wrong = helper(tmp_path, "wrong", "print('not the passphrase')\n")
    empty = helper(tmp_path, "empty", "print('')\n")
    for command, words in ((leaky, "exited with status 3; no passphrase was read"),
                           (empty, "printed an empty first line"),
                           ("no-such-program-arkeep --x", "no-such-program-arkeep was not found"),
                           ("'unclosed", "cannot be split into words"),
                           (wrong, "")):
        result = cli("--passphrase-command", command, "audit", "--budget", "1")
        assert result.code == 2, (command, result.out, result.err)
        assert words in result.err
        assert "LEAKED-PRINTED-TEXT" not in result.out + result.err
        assert "not the passphrase" not in result.out + result.err


def test_schedule_carries_the_passphrase_command_into_the_scheduled_run(  # type: ignore[no-untyped-def]
        cli, synced: Path, tmp_path: Path) -> None:
    good = helper(tmp_path, "good", f"print({PASSPHRASE!r})\n")
    printed = cli("--passphrase-command", good, "schedule", "--format", "cron", "--json")
    data = json.loads(printed.out)
    assert data["command"][3:7] == ["--store", str(synced), "--passphrase-command", good]
    assert PASSPHRASE not in printed.out
    argv = [*data["command"][:-1], "--json"]          # as scheduled, with --json for the test
    ran = subprocess.run(argv, capture_output=True, text=True, check=False,
                         start_new_session=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [r["mode"] for r in json.loads(ran.stdout)["remotes"]] == ["full"]


@pytest.mark.parametrize("what", [["--remote", "nas"], ["--all"]])
def test_verify_asks_a_passphrase_command_once(  # type: ignore[no-untyped-def]
        cli, synced: Path, tmp_path: Path, what: list[str]) -> None:
    """verify --remote starts the unlock early and needs the passphrase again for the replica's
    key file; --all also checks the local store first: still one run of the command."""
    runs = tmp_path / "runs"
    counting = helper(tmp_path, "counting", f"with open({str(runs)!r}, 'a') as f:\n"
                                            f"    f.write('x')\nprint({PASSPHRASE!r})\n")
    result = cli("--passphrase-command", counting, "verify", *what)
    assert result.code == 0, result.out + result.err
    assert runs.read_text() == "x"
