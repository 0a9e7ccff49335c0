"""The passphrase and licence-key prompts in a Windows console, typed as a person would.

getpass reads a Windows console through msvcrt (the keys, not stdin); the other Windows tests
give the passphrase through ARKEEP_PASSPHRASE. Here Wine's console, a pseudo-terminal on the
Linux side, carries the keys, so Windows CPython's prompt path runs as in cmd.exe or Windows
Terminal. Not covered: Ctrl+C at a prompt (Wine turns it into a console event that leaves the
prompt waiting; Windows hands getpass the character, which raises KeyboardInterrupt).
"""
from __future__ import annotations

from pathlib import Path

from .conftest import PASSPHRASE, WindowsPython, winpath

KEY = "CONS-OLE1-TYPE-D2026"
# typed into the console at init, then given through the environment: both must read the same
UNICODE_PASSPHRASE = "Grüße aus Köln, 東京 und Åre: 2026"


def test_typed_passphrase_and_key_are_hidden_and_work(windows_python: WindowsPython,
                                                      tmp_path: Path) -> None:
    win = windows_python
    store = ("--store", winpath(tmp_path / "store"))
    installer = tmp_path / "setup.exe"
    installer.write_bytes(b"MZ console test installer\n" * 100)

    made = win.console(*store, "init", typed=[("New passphrase: ", PASSPHRASE),
                                             ("Same passphrase again: ", PASSPHRASE)])
    assert made.code == 0, made.out
    assert "Created an arkeep store" in made.out
    added = win.console(*store, "add", winpath(installer), "--product", "Console Test",
                        "--version", "1.0", "--key-stdin",
                        typed=[("Licence key: ", KEY), ("Passphrase: ", PASSPHRASE)])
    assert added.code == 0, added.out
    for shown in (made.out, added.out):
        assert PASSPHRASE not in shown and KEY not in shown  # typed, never echoed

    shown = win.console(*store, "show", "Console Test@1.0", "--reveal",
                        typed=[("Passphrase: ", PASSPHRASE)])
    assert shown.code == 0, shown.out
    assert KEY in shown.out and PASSPHRASE not in shown.out

    wrong = win.console(*store, "show", "Console Test@1.0", "--reveal",
                        typed=[("Passphrase: ", PASSPHRASE + " not")])
    assert wrong.code != 0
    assert "arkeep: error:" in wrong.out and KEY not in wrong.out


def test_a_mistyped_confirmation_creates_nothing(windows_python: WindowsPython,
                                                 tmp_path: Path) -> None:
    win = windows_python
    result = win.console("--store", winpath(tmp_path / "store"), "init",
                         typed=[("New passphrase: ", PASSPHRASE),
                                ("Same passphrase again: ", PASSPHRASE[:-1])])
    assert result.code == 2
    assert "the two passphrases differ; nothing was changed" in result.out
    assert not (tmp_path / "store" / "key.toml").exists()


def test_a_passphrase_beyond_ascii_typed_in_the_console(windows_python: WindowsPython,
                                                        tmp_path: Path) -> None:
    """Typed as UTF-8 into the console at init; later given in ARKEEP_PASSPHRASE (UTF-16 to
    Windows): the same text both ways, so the same key."""
    win = windows_python
    store = ("--store", winpath(tmp_path / "store"))
    made = win.console(*store, "init", typed=[("New passphrase: ", UNICODE_PASSPHRASE),
                                             ("Same passphrase again: ", UNICODE_PASSPHRASE)])
    assert made.code == 0, made.out
    kit = tmp_path / "kit.txt"
    refused = win.arkeep(*store, "key", "export", "--recovery-kit", winpath(kit),
                         env={"ARKEEP_PASSPHRASE": "Grusse aus Koln, Tokyo und Are: 2026"})
    assert refused.code != 0 and not kit.exists()
    unlocked = win.arkeep(*store, "key", "export", "--recovery-kit", winpath(kit),
                          env={"ARKEEP_PASSPHRASE": UNICODE_PASSPHRASE})
    assert unlocked.code == 0, unlocked.out + unlocked.err
    assert kit.stat().st_size > 0


def test_no_console_no_passphrase_is_one_clear_line(windows_python: WindowsPython,
                                                    tmp_path: Path) -> None:
    """Without a console (pipes only, as from a scheduled task) and no ARKEEP_PASSPHRASE, arkeep
    says what to do instead of waiting for keys nobody can type."""
    win = windows_python
    result = win.arkeep("--store", winpath(tmp_path / "store"), "init",
                        env={"ARKEEP_PASSPHRASE": None})
    assert result.code == 2
    assert "a passphrase is needed: set ARKEEP_PASSPHRASE" in result.err
    assert not (tmp_path / "store").exists()
