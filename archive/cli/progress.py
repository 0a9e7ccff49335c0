"""Byte progress bars on stderr (tqdm): bytes done, rate and ETA, only on a terminal.

tqdm sizes its bar from the terminal, and a terminal that reports no size (0 x 0: `script`,
a serial console, a pseudo-terminal made by another program) makes it compute a height of -1
and draw nothing at all. The size is therefore read here, with a fallback, and given to tqdm.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TextIO

FALLBACK_COLUMNS = 80
FALLBACK_LINES = 24
LABEL_WIDTH = 30


def terminal_size(stream: TextIO) -> tuple[int, int]:
    """Columns and lines of the terminal behind `stream`; $COLUMNS/$LINES or 80 x 24 when it
    reports none."""
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        columns = lines = 0
    if columns <= 0:
        columns = _env_int("COLUMNS", FALLBACK_COLUMNS)
    if lines <= 0:
        lines = _env_int("LINES", FALLBACK_LINES)
    return columns, lines


def _env_int(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def byte_bar(stream: TextIO, label: str, total: int) -> Any:
    """A tqdm bar counting bytes on `stream`, cleared when closed."""
    from tqdm import tqdm

    columns, lines = terminal_size(stream)
    return tqdm(total=total, desc=label[:LABEL_WIDTH], unit="B", unit_scale=True,
                unit_divisor=1024, file=stream, leave=False, ncols=columns - 1, nrows=lines,
                dynamic_ncols=False)


class Bars:
    """The bars of one command: at most one shown at a time, all closed on exit or error."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self._open: list[Any] = []

    def bar(self, label: str, total: int) -> Callable[[int], None] | None:
        """The update function of a new bar (closing the previous one), or None when disabled."""
        if not self.enabled:
            return None
        self.close()
        bar = byte_bar(self.stream, label, total)
        self._open.append(bar)
        return bar.update

    def close(self) -> None:
        while self._open:
            self._open.pop().close()
