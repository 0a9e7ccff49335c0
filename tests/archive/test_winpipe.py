"""The security descriptor of the unlock agent's named pipe (archive/system/winpipe.py): the text
is made here on any platform; tests/windows/test_agent_on_windows.py reads it back from a pipe."""
from __future__ import annotations

import sys

import pytest

from archive.errors import EnvironmentFailure
from archive.system.winpipe import PrivatePipeListener, pipe_sddl


def test_the_pipe_names_one_user_and_inherits_nothing() -> None:
    assert pipe_sddl("S-1-5-21-3623811015-3361044348-30300820-1013") == \
        "D:P(A;;FA;;;S-1-5-21-3623811015-3361044348-30300820-1013)"
    assert pipe_sddl("S-1-5-18") == "D:P(A;;FA;;;S-1-5-18)"


@pytest.mark.parametrize("sid", [
    "", "WD", "S-1-5", "S-1-5-21-1-2-3-1001)(A;;FA;;;WD", "S-1-5-21-1-2-3-1001 ", "s-1-5-18",
    "S-1-5-21-1-2-3-1001\n(A;;FA;;;AN)", "S-1-" + "-".join(["1"] * 20),
])
def test_anything_but_a_sid_is_refused(sid: str) -> None:
    with pytest.raises(ValueError, match="not a security identifier"):
        pipe_sddl(sid)


@pytest.mark.skipif(sys.platform == "win32", reason="the refusal off Windows")
def test_no_named_pipe_off_windows() -> None:
    with pytest.raises(EnvironmentFailure, match="Windows"):
        PrivatePipeListener(r"\\.\pipe\arkeep-test")
