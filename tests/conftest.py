"""Shared fixtures: a store made once per session and copied per test (scrypt is slow on purpose)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.crypto import keys
from archive.cli.main import main as arkeep_main
from archive.ops.init import init_store

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An initialised empty store and its recovery code."""
    base = tmp_path_factory.mktemp("template")
    store = base / "store"
    kit = base / "kit.txt"
    env = {**os.environ, "ARKEEP_PASSPHRASE": PASSPHRASE, "ARKEEP_STORE": str(store)}
    subprocess.run([sys.executable, "-m", "archive", "init", "--recovery-kit", str(kit)],
                   check=True, env=env, capture_output=True)
    code = next(line.strip() for line in kit.read_text().splitlines()
                if line.strip().count("-") == 7 and len(line.strip()) == 39)
    return store, code


@pytest.fixture(scope="session")
def fast_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An initialised store whose key is wrapped with cheap scrypt parameters.

    The KDF's real strength is tested in tests/archive/test_keys.py (with `template_store`);
    elsewhere it would cost half a second per unlock. The parameters travel in key.toml, so
    subprocesses and rebuilt stores unlock fast too.
    """
    store = tmp_path_factory.mktemp("fast-template") / "store"
    mp = pytest.MonkeyPatch()
    mp.setattr(keys, "SCRYPT_N", 2**12)
    mp.setattr(keys, "SCRYPT_P", 1)
    try:
        result = init_store(store, PASSPHRASE)
    finally:
        mp.undo()
    return store, result.recovery_code


@pytest.fixture
def store_dir(fast_template: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template store, set as ARKEEP_STORE with the passphrase in the env."""
    store = tmp_path / "store"
    shutil.copytree(fast_template[0], store)
    monkeypatch.setenv("ARKEEP_STORE", str(store))
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("ARKEEP_DRIVE_PATHS", raising=False)
    return store


@pytest.fixture
def recovery_code(fast_template: tuple[Path, str]) -> str:
    return fast_template[1]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run arkeep in-process: cli('add', 'f', '--product', 'x', ...) -> CliResult."""
    def run(*args: str | Path) -> CliResult:
        code = arkeep_main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return run


def run_arkeep(*args: str | Path, env: dict[str, str] | None = None, input: bytes | None = None,
               cwd: Path | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run arkeep as a separate process without a controlling terminal (a `timeout` turns a hang
    into subprocess.TimeoutExpired)."""
    return subprocess.run([sys.executable, "-m", "archive", *map(str, args)], env=env,
                          input=input.decode() if input is not None else None, capture_output=True,
                          text=True, cwd=cwd, start_new_session=True, timeout=timeout)


# The S3 server (SeaweedFS), shared by every test that needs one: one per test process.
from tests.support import seaweed  # noqa: E402

s3_server = pytest.fixture(scope="session", name="s3_server")(seaweed.s3_server)


@pytest.fixture
def s3_env(s3_server: "seaweed.SeaweedServer", monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """AWS credential chain and endpoint pointed at the test server, nothing of the developer's."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
