"""The unlock agent: the archive secret kept in memory for a while, so that commands skip the unlock.

Every command pays the passphrase's scrypt (about half a second, on purpose) and, in a terminal,
the typing. `arkeep unlock --for 15m` does it once: a small process of the user's own holds the
keyring in memory, answers the user's later commands over a local socket (a named pipe on
Windows), and ends when its time is up, on `arkeep lock`, or when its socket disappears (the
runtime directory is removed at logout on systemd machines). Nothing of the secret is written to
disk; the agent refuses core dumps and, on Linux, being traced by other processes of the user.

Who can ask: the socket sits in a directory only the user can enter (0700), and each connection
must also prove it knows a random key kept beside it (mode 0600). On Windows the pipe's name is
public, so its security descriptor names the user alone (archive/system/winpipe.py) and the key
is in the user's profile. This is ssh-agent's trust model: any program the user runs can use the
secret while the agent lives. docs/THREATS.md says what that means; without `arkeep unlock`
nothing changes.

Run as `python -m archive.crypto.agent ADDRESS SECONDS` by `start_agent`, the recovery code on
its stdin (never in argv).
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

from archive.crypto.keyring import Keyring
from archive.errors import ArkeepError
from archive.system import oscompat

READY = b"arkeep-agent-ready\n"
GET, STOP, ASK_EXPIRY = b"get", b"stop", b"expiry"
MAX_SECONDS = 24 * 3600
START_SECONDS = 60      # how long `unlock` waits for the agent to listen (Python's start, scrypt-free)
# Each caller is answered in a thread of its own, so that one that connects and stalls delays
# nobody else; it is dropped after REQUEST_SECONDS without a request, and at most CALLERS wait.
REQUEST_SECONDS = 10
CALLERS = 16


class AgentError(ArkeepError):
    """The agent could not be started or asked."""


@dataclass(frozen=True)
class AgentPlace:
    """Where the agent of one archive (by key id) listens, and the file of its access key."""
    address: str
    keyfile: Path
    family: str

    @classmethod
    def for_key(cls, key_id: str) -> AgentPlace:
        run = oscompat.runtime_dir()
        if oscompat.WINDOWS:
            user = os.environ.get("USERNAME", "user")
            return cls(rf"\\.\pipe\arkeep-agent-{user}-{key_id}", run / f"agent-{key_id}.key", "AF_PIPE")
        return cls(str(run / f"agent-{key_id}.sock"), run / f"agent-{key_id}.key", "AF_UNIX")

    def present(self) -> bool:
        return self.keyfile.is_file()

    def authkey(self) -> bytes | None:
        try:
            return self.keyfile.read_bytes()
        except OSError:
            return None

    def forget(self) -> None:
        for path in (self.keyfile, Path(self.address) if self.family == "AF_UNIX" else None):
            if path is not None:
                oscompat.unlink(path, missing_ok=True)


def _ask(place: AgentPlace, request: bytes) -> bytes | None:
    """The agent's answer, or None when none runs there (stale files are removed)."""
    authkey = place.authkey()
    if authkey is None:
        return None
    try:
        with Client(place.address, family=place.family, authkey=authkey) as conn:
            conn.send_bytes(request)
            return conn.recv_bytes(256)
    except AuthenticationError:         # files of another agent than the one listening
        return None
    except (OSError, EOFError, ValueError):
        place.forget()
        return None


def agent_keyring(key_id: str) -> Keyring | None:
    """The keyring an agent holds for this archive, if one runs and it is this archive's."""
    answer = _ask(AgentPlace.for_key(key_id), GET)
    if not answer:
        return None
    try:
        keyring = Keyring.from_recovery_code(answer.decode("ascii"))
    except (ArkeepError, UnicodeDecodeError, ValueError):
        return None
    return keyring if keyring.key_id == key_id else None


def agent_expiry(key_id: str) -> float | None:
    """When the agent of this archive ends (seconds since the epoch), or None if none runs."""
    answer = _ask(AgentPlace.for_key(key_id), ASK_EXPIRY)
    try:
        return float(answer) if answer else None
    except ValueError:
        return None


def stop_agent(key_id: str) -> bool:
    """End the agent of this archive; True if one was running."""
    place = AgentPlace.for_key(key_id)
    stopped = _ask(place, STOP) is not None
    place.forget()
    return stopped


def start_agent(keyring: Keyring, seconds: float) -> float:
    """Start (or restart) the agent for `keyring`; returns when it ends (epoch seconds)."""
    if not 0 < seconds <= MAX_SECONDS:
        raise AgentError(f"an unlock lasts between 1 second and {MAX_SECONDS // 3600} hours")
    stop_agent(keyring.key_id)
    place = AgentPlace.for_key(keyring.key_id)
    flags: dict = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
                   if oscompat.WINDOWS else {"start_new_session": True})
    proc = subprocess.Popen([sys.executable, "-m", "archive.crypto.agent", place.address, str(seconds)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            close_fds=True, **flags)
    assert proc.stdin and proc.stdout
    proc.stdin.write(keyring.recovery_code.encode("ascii") + b"\n")
    proc.stdin.close()
    said: list[bytes] = []
    reader = threading.Thread(target=lambda: said.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_SECONDS)          # an agent that hangs before listening is not waited for
    if said != [READY]:
        proc.kill()
        raise AgentError("the unlock agent did not start; commands will ask for the passphrase")
    proc.stdout.close()
    return time.time() + seconds


def _harden() -> None:
    """No core dump of this process, and on Linux no tracing by the user's other processes."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)      # PR_SET_DUMPABLE = 4
        except (OSError, AttributeError):
            pass


def _listen(place: AgentPlace) -> Any:
    """The agent's door: a Unix socket in the private runtime folder, or on Windows a named pipe
    whose security descriptor names this user alone (archive/system/winpipe.py). Connections come
    unauthenticated: `_answer` checks the access key in the caller's own thread."""
    if place.family != "AF_PIPE":
        return Listener(place.address, family=place.family)
    from archive.system.winpipe import PrivatePipeListener

    # The agent this one replaces answered `stop` and is ending: until its process is gone its
    # pipe still exists, and Windows refuses a first instance of a name in use (access denied).
    deadline = time.monotonic() + 5
    while True:
        try:
            return PrivatePipeListener(place.address)
        except PermissionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve(code: str, address: str, seconds: float) -> None:
    """The agent's life: answer until the time is up, `stop`, or the socket is gone."""
    keyring = Keyring.from_recovery_code(code)
    place = AgentPlace.for_key(keyring.key_id)
    if place.address != address:
        raise AgentError("the agent was started for another archive")
    authkey = secrets.token_bytes(32)
    place.forget()
    listener = _listen(place)
    fd = os.open(place.keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(authkey)
    ends = time.time() + seconds

    def end() -> None:
        place.forget()
        os._exit(0)

    def watch() -> None:
        while time.time() < ends:
            if not place.keyfile.exists():
                end()
            time.sleep(min(1.0, max(0.05, ends - time.time())))
        end()

    threading.Thread(target=watch, daemon=True).start()
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    sys.stdout.close()
    answer = code.encode("ascii")
    del code
    callers = threading.BoundedSemaphore(CALLERS)

    def reply(conn: Any) -> None:
        try:
            with conn:
                deliver_challenge(conn, authkey)
                answer_challenge(conn, authkey)
                if not conn.poll(REQUEST_SECONDS):
                    return
                request = conn.recv_bytes(16)
                if request == GET:
                    conn.send_bytes(answer)
                elif request == ASK_EXPIRY:
                    conn.send_bytes(str(ends).encode())
                elif request == STOP:
                    conn.send_bytes(b"ok")
                    end()
        except (AuthenticationError, OSError, EOFError):    # a stranger, or a caller gone
            pass
        finally:
            callers.release()

    while True:
        try:
            conn = listener.accept()
        except (OSError, EOFError):
            continue
        if not callers.acquire(blocking=False):
            conn.close()        # CALLERS already waiting: this one asks again or unlocks itself
            continue
        threading.Thread(target=reply, args=(conn,), daemon=True).start()


def main(argv: list[str]) -> int:
    _harden()
    address, seconds = argv[0], float(argv[1])
    code = sys.stdin.readline().strip()
    sys.stdin.close()
    serve(code, address, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
