"""What every command gets: the store location, output switches, and secrets asked for on demand."""
from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from archive.cli.progress import Bars
from archive.errors import UsageError
from archive.storage.store import Store, default_store_path
from archive.system.oscompat import has_terminal

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

MAX_SECRET_FILE = 64 * 1024
PASSPHRASE_COMMAND_ENV = "ARKEEP_PASSPHRASE_COMMAND"
SECRET_COMMAND_TIMEOUT = 120     # seconds: a password manager may ask its own question


@dataclass
class Context:
    store_path: Path
    json: bool = False
    quiet: bool = False
    debug: bool = False
    wait: float = 0.0
    passphrase_file: Path | None = None
    passphrase_command: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _bars: Bars | None = None
    # For the audit log (archive/storage/audit_log.py): the stores this command opened and the
    # keyring it unlocked, if any.
    opened: list[Store] = field(default_factory=list)
    keyring: Keyring | None = None
    _early: tuple[Store, Any, dict[str, Any]] | None = None
    _early_read: tuple[Store, str] | None = None    # the store and passphrase unlock_early used

    @classmethod
    def from_args(cls, args: Any) -> Context:
        store = getattr(args, "store", None)
        pf = getattr(args, "passphrase_file", None)
        return cls(store_path=Path(store).expanduser() if store else default_store_path(),
                   json=getattr(args, "json", False), quiet=getattr(args, "quiet", False),
                   debug=getattr(args, "debug", False), passphrase_file=Path(pf) if pf else None,
                   passphrase_command=getattr(args, "passphrase_command", None),
                   wait=getattr(args, "wait", 0.0))

    # -- output ------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """Human output on stdout, suppressed by --quiet and by --json."""
        if not self.quiet and not self.json:
            print(text, file=self.out)

    def note(self, text: str) -> None:
        """Remarks on stderr (warnings, hints); suppressed by --quiet."""
        if not self.quiet:
            print(text, file=self.err)

    def emit_json(self, data: Any) -> None:
        # json.dump hands the stream one small string per token: 4 million writes (2.5 s) for
        # `list --json` over 100,000 releases. Joined in batches, the writes are few and the
        # memory stays that of one batch, not of the whole text.
        encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
        batch: list[str] = []
        for chunk in encoder.iterencode(data):
            batch.append(chunk)
            if len(batch) >= 65536:
                self.out.write("".join(batch))
                batch.clear()
        batch.append("\n")
        self.out.write("".join(batch))

    # -- progress ----------------------------------------------------------------------------
    def progress_enabled(self) -> bool:
        """Bars only for a person watching: stderr is a terminal, and neither --quiet nor --json."""
        return not self.quiet and not self.json and _isatty(self.err)

    def bar(self, label: str, total: int) -> Callable[[int], None] | None:
        """A byte progress bar (bytes, rate, ETA) on stderr, only on a terminal; closed by
        close_bars()."""
        if self._bars is None:
            self._bars = Bars(self.err, self.progress_enabled())
        return self._bars.bar(label, total)

    def file_bar(self, name: str, total: int) -> Callable[[int], None] | None:
        return self.bar(name, total)

    def close_bars(self) -> None:
        if self._bars is not None:
            self._bars.close()

    # -- the store and secrets ---------------------------------------------------------------
    def open_store(self) -> Store:
        store = Store.open(self.store_path)
        self.opened.append(store)
        store.lock_wait = self.wait
        store.lock_waiting = lambda holder: self.note(
            f"arkeep: the store is in use by {holder}; waiting"
            + (" for it" if self.wait == float("inf") else f" up to {self.wait:g} s") + " …")
        return store

    def passphrase(self, confirm: bool = False, prompt: str = "Passphrase: ") -> str:
        """From --passphrase-file, --passphrase-command, ARKEEP_PASSPHRASE,
        ARKEEP_PASSPHRASE_COMMAND or a hidden prompt; never from argv."""
        if self.passphrase_file is not None:
            return read_secret_file(self.passphrase_file, "passphrase file")
        if self.passphrase_command is not None:
            return run_secret_command(self.passphrase_command, "--passphrase-command")
        env = os.environ.get("ARKEEP_PASSPHRASE")
        if env is not None:
            return env
        command = os.environ.get(PASSPHRASE_COMMAND_ENV)
        if command:
            return run_secret_command(command, PASSPHRASE_COMMAND_ENV)
        if not has_terminal():
            raise UsageError("a passphrase is needed: set ARKEEP_PASSPHRASE, use --passphrase-file FILE, "
                             "or run arkeep in a terminal")
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Same passphrase again: ") != first:
            raise UsageError("the two passphrases differ; nothing was changed")
        return first

    def unlock_early(self, store: Store) -> None:
        """Start the unlock of `store` in a thread when the passphrase is given (a file, a
        command or the environment), so that the command's imports and first reads overlap
        the scrypt (half a second on purpose; it releases the GIL, and a second core is
        usually there). `unlock` collects it, with its error if it failed. Without a given
        passphrase nothing starts: an agent answers at once, and a prompt waits for `unlock`."""
        if self._early is not None or not self.passphrase_given():
            return
        import threading

        passphrase = self.passphrase()      # read here: its errors are the command's own
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["keyring"] = store.unlock(passphrase)
            except BaseException as exc:  # noqa: BLE001 - handed to unlock(), raised there
                box["error"] = exc
        thread = threading.Thread(target=work, name="arkeep-unlock", daemon=True)
        thread.start()
        self._early = (store, thread, box)
        self._early_read = (store, passphrase)

    def early_passphrase(self, store: Store) -> str | None:
        """The passphrase an early unlock of `store` started with (read once: a command given
        by --passphrase-command is not run twice), or None if none was started."""
        if self._early_read is not None and self._early_read[0] is store:
            return self._early_read[1]
        return None

    def unlock(self, store: Store) -> Keyring:
        """The store's keyring, made once here and handed to whatever needs a key: from the
        passphrase given (a file, a command or the environment), else from an `arkeep unlock`
        agent, else asked."""
        if self._early is not None and self._early[0] is store:
            _, thread, box = self._early
            self._early = None
            thread.join()
            if "error" in box:
                raise box["error"]
            self.keyring = box["keyring"]
            return box["keyring"]
        if self.keyring is not None and self._early_read is not None \
                and self._early_read[0] is store:
            return self.keyring         # collected already, from the passphrase read once
        keyring = None if self.passphrase_given() else _agent_keyring(store)
        if keyring is None:
            keyring = store.unlock(self.passphrase())
        self.keyring = keyring
        return keyring

    def keyring_at_hand(self, store: Store) -> Keyring | None:
        """The keyring when it needs no prompt: a passphrase given (a file, a command or the
        environment), or an `arkeep unlock` agent."""
        if self.passphrase_given():
            return self.unlock(store)
        held = _agent_keyring(store)
        if held is not None:
            self.keyring = held
        return held

    def passphrase_given(self) -> bool:
        return (self.passphrase_file is not None or self.passphrase_command is not None
                or os.environ.get("ARKEEP_PASSPHRASE") is not None
                or bool(os.environ.get(PASSPHRASE_COMMAND_ENV)))


def _agent_keyring(store: Store) -> Keyring | None:
    from archive.crypto.agent import agent_keyring
    from archive.errors import ArkeepError

    try:
        return agent_keyring(store.key_id)
    except (ArkeepError, OSError):      # no private runtime folder: no agent to ask
        return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False




def read_secret_file(path: Path, what: str) -> str:
    """The first line of a small file (a trailing newline is not part of a secret)."""
    try:
        if path.stat().st_size > MAX_SECRET_FILE:
            raise UsageError(f"{path}: a {what} is at most {MAX_SECRET_FILE} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the {what} ({type(exc).__name__})") from None
    value = text.rstrip("\r\n")
    if not value:
        raise UsageError(f"{path}: the {what} is empty")
    return value


def run_secret_command(command: str, what: str) -> str:
    """The first line a command prints on stdout: a password manager (`pass show arkeep`), the OS
    keyring (`secret-tool lookup arkeep store`, `security find-generic-password -w -s arkeep`).
    Run without a shell; its stderr and stdin stay the user's (it may ask something). Nothing it
    printed is ever repeated in an error."""
    import shlex
    import subprocess
    try:
        argv = shlex.split(command, posix=os.name != "nt")
    except ValueError:
        raise UsageError(f"{what}: the command cannot be split into words (an unclosed quote?)") \
            from None
    if not argv:
        raise UsageError(f"{what} is empty")
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, timeout=SECRET_COMMAND_TIMEOUT,
                                check=False)
    except FileNotFoundError:
        raise UsageError(f"{what}: {argv[0]} was not found") from None
    except PermissionError:
        raise UsageError(f"{what}: {argv[0]} cannot be run (permission denied)") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{what}: {argv[0]} did not finish within {SECRET_COMMAND_TIMEOUT} s") \
            from None
    if result.returncode != 0:
        raise UsageError(f"{what}: {argv[0]} exited with status {result.returncode}; no "
                         "passphrase was read")
    try:
        text = result.stdout[:MAX_SECRET_FILE].decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what}: {argv[0]} printed something that is not UTF-8 text") from None
    value = text.split("\n", 1)[0].rstrip("\r")
    if not value:
        raise UsageError(f"{what}: {argv[0]} printed an empty first line; no passphrase was read")
    return value
