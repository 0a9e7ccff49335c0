"""The hosted-CI workflow (issue 14.5) cannot run on the machines this project is built on; it
stays honest by saying so and by running only commands that do run here."""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# What .ci/run and scripts/test run here, and README.md's install and test commands.
RUN_HERE = {
    "scripts/test",
    'python -m pip install -c constraints.txt -e ".[test]"',
    "arkeep --version",
    "python -m pytest",
}


def test_the_workflow_says_it_never_ran_here() -> None:
    head = WORKFLOW.read_text(encoding="utf-8").split("\nname:")[0]
    assert all(line.startswith("#") for line in head.splitlines())
    assert "It has never run" in head and ".ci/run" in head


def test_the_matrix_is_linux_macos_and_windows() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    (oses,) = re.findall(r"^\s+os: \[(.*)\]$", text, flags=re.MULTILINE)
    assert {o.strip() for o in oses.split(",")} == {"ubuntu-latest", "macos-latest", "windows-latest"}


def test_every_step_is_a_command_that_runs_here() -> None:
    runs = re.findall(r"^\s+run: (.*)$", WORKFLOW.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert runs and set(runs) <= RUN_HERE, set(runs) - RUN_HERE
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_linux_job_requires_the_windows_tests() -> None:
    """On Linux scripts/test runs tests/windows under Wine; the hosted job must not pass with
    them skipped (a Wine that could not be set up), so it turns the skip into a failure."""
    text = WORKFLOW.read_text(encoding="utf-8")
    step = text[text.index("- name: scripts/test (Linux)"):].split("\n      - ", 1)[0]
    assert re.search(r'^\s+ARKEEP_REQUIRE_WINDOWS: "1"', step, flags=re.MULTILINE), step
    assert "ARKEEP_REQUIRE_WINDOWS" in (ROOT / "tests" / "windows" / "conftest.py").read_text(
        encoding="utf-8")
