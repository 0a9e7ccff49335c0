"""Asking before something is deleted: a question on a terminal, `--yes` everywhere else."""
from __future__ import annotations

import sys

from archive.errors import UsageError


def confirmed(question: str, yes: bool, flag: str = "--yes") -> bool:
    """True to go on. With `yes` nothing is asked; on a terminal the user answers y or n;
    without one (cron, a pipe) the command is refused, naming the flag that says yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: no terminal to ask on; give {flag} to go ahead")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
