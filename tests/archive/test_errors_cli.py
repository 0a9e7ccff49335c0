"""Errors as a user meets them: exit code, one clear line, no traceback (unless --debug).

Every test runs arkeep as a separate process without a controlling terminal, as cron would.
Exit codes (DESIGN.md): 1 a problem was found, 2 the user's input was wrong, 3 the environment.
"""
from __future__ import annotations

import ctypes
import filecmp
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, run_arkeep

ROOT = Path(__file__).resolve().parents[2]
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def env_for(store: Path, **extra: str | None) -> dict[str, str]:
    env = {**os.environ, "ARKEEP_STORE": str(store), "ARKEEP_PASSPHRASE": PASSPHRASE}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """Assert the exit code and a single 'arkeep: error:' line holding every fragment."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("arkeep: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def add(env: dict[str, str], *files: str | Path, cwd: Path | None = None,
        product: str = "Foo") -> subprocess.CompletedProcess[str]:
    return run_arkeep("add", *files, "--product", product, "--version", "1.0", env=env, cwd=cwd)


def store_files(store: Path) -> dict[str, bytes]:
    """Every file of the store but the lock file (which a refused writer may create, empty)."""
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*"))
            if p.is_file() and p.name != "lock"}


@pytest.fixture
def env(store_dir: Path) -> dict[str, str]:
    return env_for(store_dir)


@pytest.fixture
def installer(tmp_path: Path) -> Path:
    path = tmp_path / "setup.exe"
    path.write_bytes(os.urandom(4096))
    return path


def test_missing_file(env: dict[str, str], tmp_path: Path, store_dir: Path) -> None:
    before = store_files(store_dir)
    line = one_line_error(add(env, tmp_path / "nope.exe"), 2, "nope.exe", "no such file")
    assert str(tmp_path) in line
    assert store_files(store_dir) == before


def test_missing_file_among_good_ones_writes_nothing(env: dict[str, str], tmp_path: Path,
                                                      installer: Path, store_dir: Path) -> None:
    before = store_files(store_dir)
    one_line_error(add(env, installer, tmp_path / "nope.exe"), 2, "nope.exe")
    assert store_files(store_dir) == before                  # checked before anything is stored


def test_a_directory_given_as_a_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    one_line_error(add(env, tmp_path / "folder"), 2, "is a directory")


def test_a_named_pipe_is_not_a_regular_file(env: dict[str, str], tmp_path: Path) -> None:
    """A path whose read would fail (or block forever): refused before it is opened."""
    fifo = tmp_path / "pipe.exe"
    os.mkfifo(fifo)
    one_line_error(add(env, fifo), 2, "pipe.exe", "not a regular file")


def drop_root_file_powers() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    set, so that even root is refused a chmod-000 file (what `setpriv --bounding-set` does)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file(env: dict[str, str], tmp_path: Path, store_dir: Path) -> None:
    """chmod 000 stops every user but root. When the suite runs as root (as in CI containers),
    arkeep runs without root's power to bypass file permissions, so the read really is denied;
    no skip either way."""
    locked = tmp_path / "locked.exe"
    locked.write_bytes(b"MZ" + os.urandom(100))
    locked.chmod(0o000)
    kwargs = {"preexec_fn": drop_root_file_powers} if os.geteuid() == 0 else {}
    result = subprocess.run([sys.executable, "-m", "archive", "add", str(locked),
                             "--product", "Foo", "--version", "1"], env=env, cwd=ROOT,
                            capture_output=True, text=True, start_new_session=True, **kwargs)
    one_line_error(result, 2, "locked.exe", "permission denied")
    assert list((store_dir / "objects").rglob("*")) == []


def test_empty_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "empty.exe").touch()
    one_line_error(add(env, tmp_path / "empty.exe"), 2, "empty.exe", "is empty")


@pytest.mark.parametrize("option", ["--key-file", "--license-file", "--invoice"])
def test_missing_companion_file(env: dict[str, str], installer: Path, tmp_path: Path,
                                option: str) -> None:
    result = run_arkeep("add", installer, "--product", "Foo", "--version", "1",
                        option, tmp_path / "gone.txt", env=env)
    one_line_error(result, 2, "gone.txt")


def test_empty_key_file(env: dict[str, str], installer: Path, tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("\n")
    result = run_arkeep("add", installer, "--product", "Foo", "--version", "1",
                        "--key-file", tmp_path / "key.txt", env=env)
    one_line_error(result, 2, "empty")


ODD_NAMES = ["Ünïcødé – setup (x64) [v2].exe", "name with  spaces.msi", "it's \"quoted\" & $HOME.exe",
             "-x.exe", "日本語インストーラ.exe", "semi;colon|pipe*star?.bin"]


def test_unicode_and_odd_file_names_are_archived_and_restored(env: dict[str, str],
                                                              tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i, name in enumerate(ODD_NAMES):
        (src / name).write_bytes(f"installer {i} ".encode() + os.urandom(500))
    args = ["./" + n if n.startswith("-") else n for n in ODD_NAMES]
    added = add(env, *args, cwd=src, product="Odd Names")
    assert added.returncode == 0, added.stderr
    shown = json.loads(run_arkeep("show", "odd names@1.0", "--json", env=env).stdout)
    assert [a["filename"] for a in shown["artifacts"]] == ODD_NAMES
    target = tmp_path / "out"
    restored = run_arkeep("restore", "odd-names@1.0", "--to", target, env=env)
    assert restored.returncode == 0, restored.stderr
    assert sorted(os.listdir(target)) == sorted(ODD_NAMES)
    for name in ODD_NAMES:
        assert filecmp.cmp(src / name, target / name, shallow=False), name


def test_a_control_character_in_a_file_name_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "evil\x1b[31mred.exe"
    bad.write_bytes(b"x")
    one_line_error(add(env, bad), 2, "control character")


def test_wrong_passphrase(store_dir: Path, tmp_path: Path, installer: Path) -> None:
    key = tmp_path / "key.txt"
    key.write_text("SOME-KEY-1\n")
    before = store_files(store_dir)
    env = env_for(store_dir, ARKEEP_PASSPHRASE="not the passphrase")
    result = run_arkeep("add", installer, "--product", "Foo", "--version", "1", "--key-file", key, env=env)
    one_line_error(result, 2, "wrong passphrase")
    assert store_files(store_dir) == before
    pw = tmp_path / "pw.txt"
    pw.write_text("also wrong\n")
    result = run_arkeep("key", "export", "--recovery-kit", tmp_path / "kit.txt", "--passphrase-file", pw,
                        env=env_for(store_dir, ARKEEP_PASSPHRASE=None))
    one_line_error(result, 2, "wrong passphrase")
    assert not (tmp_path / "kit.txt").exists()


def test_wrong_passphrase_for_sync_and_restore_from(store_dir: Path, tmp_path: Path, installer: Path) -> None:
    """sync and restore --from unlock in a thread while they load: a wrong passphrase is still
    the one clear line, and nothing reaches the remote or the target."""
    good = env_for(store_dir)
    assert run_arkeep("add", installer, "--product", "Foo", "--version", "1", env=good).returncode == 0
    nas = tmp_path / "nas"
    assert run_arkeep("remote", "add", "nas", nas, "--create", env=good).returncode == 0
    wrong = env_for(store_dir, ARKEEP_PASSPHRASE="not the passphrase")
    one_line_error(run_arkeep("sync", "nas", env=wrong), 2, "wrong passphrase")
    assert list(nas.iterdir()) == []
    assert run_arkeep("sync", "nas", env=good).returncode == 0
    one_line_error(run_arkeep("restore", "foo@1", "--to", tmp_path / "out", "--from", "nas", env=wrong),
                   2, "wrong passphrase")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    restored = run_arkeep("restore", "foo@1", "--to", tmp_path / "out", "--from", "nas", env=good)
    assert restored.returncode == 0, restored.stderr


def test_no_passphrase_and_no_terminal(store_dir: Path, tmp_path: Path, installer: Path) -> None:
    key = tmp_path / "key.txt"
    key.write_text("SOME-KEY-1\n")
    env = env_for(store_dir, ARKEEP_PASSPHRASE=None)
    result = run_arkeep("add", installer, "--product", "Foo", "--version", "1", "--key-file", key, env=env)
    one_line_error(result, 2, "passphrase is needed", "ARKEEP_PASSPHRASE", "--passphrase-file")


def test_unknown_release(env: dict[str, str], tmp_path: Path) -> None:
    one_line_error(run_arkeep("show", "Photoshop@99", env=env), 2, "Photoshop@99", "arkeep list")
    one_line_error(run_arkeep("restore", "Photoshop@99", "--to", tmp_path / "t", env=env), 2,
                   "Photoshop@99")
    assert not (tmp_path / "t").exists()


def test_ambiguous_release(env: dict[str, str], installer: Path) -> None:
    for platform in ("windows", "macos"):
        r = run_arkeep("add", installer, "--product", "Foo", "--version", "1", "--platform", platform,
                       env=env)
        assert r.returncode == 0, r.stderr
    one_line_error(run_arkeep("show", "foo@1", env=env), 2, "foo@1+macos", "foo@1+windows")


@pytest.mark.parametrize("content", [b"schema = 1\nkind = ", b"\xff\xfe\x00garbage",
                                     b'schema = 1\nkind = "release"\nid = "broken@1"\n'])
def test_malformed_manifest_in_the_store(env: dict[str, str], store_dir: Path, content: bytes,
                                        installer: Path) -> None:
    assert run_arkeep("add", installer, "--product", "Good", "--version", "2", env=env).returncode == 0
    path = store_dir / "manifests" / "releases" / "broken@1.toml"
    path.write_bytes(content)
    listing = run_arkeep("list", env=env)
    warnings = [line for line in listing.stderr.splitlines() if line.strip()]
    assert listing.returncode == 1 and "Traceback" not in listing.stderr
    assert len(warnings) == 1 and str(path) in warnings[0] and "damaged manifest" in warnings[0]
    assert "arkeep verify" in warnings[0]
    assert "good@2" in listing.stdout, "one damaged manifest must not hide the others"
    one_line_error(run_arkeep("show", "broken@1", env=env), 1, str(path), "damaged manifest")
    assert run_arkeep("show", "good@2", env=env).returncode == 0
    verify = run_arkeep("verify", env=env)
    assert verify.returncode == 1 and "broken@1" in verify.stdout and "Traceback" not in verify.stderr


def test_damaged_key_file(env: dict[str, str], store_dir: Path, tmp_path: Path, installer: Path) -> None:
    key_toml = store_dir / "key.toml"
    key_toml.chmod(0o600)
    key_toml.write_text(key_toml.read_text().replace("nonce = ", 'nonce = "AAAA"\nold_nonce = '))
    key = tmp_path / "key.txt"
    key.write_text("K\n")
    result = run_arkeep("add", installer, "--product", "Foo", "--version", "1", "--key-file", key, env=env)
    one_line_error(result, 2, "key.toml", "damaged")


HOLD_LOCK = textwrap.dedent("""
    import sys
    from pathlib import Path
    from archive.storage.store import Store
    with Store(Path(sys.argv[1])).writing("arkeep add"):
        print("locked", flush=True)
        sys.stdin.read()
""")


def test_second_writer_while_the_lock_is_held(env: dict[str, str], store_dir: Path,
                                              installer: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store_dir)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = store_files(store_dir)
        result = add(env, installer)
        one_line_error(result, 3, f"pid {holder.pid}", socket.gethostname(), "try again")
        assert store_files(store_dir) == before
        assert run_arkeep("list", env=env).returncode == 0        # readers are not locked out
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    assert add(env, installer).returncode == 0


def test_store_missing(tmp_path: Path) -> None:
    env = env_for(tmp_path / "no-store-here")
    line = one_line_error(run_arkeep("list", env=env), 2, "no arkeep store", "arkeep init")
    assert str(tmp_path / "no-store-here") in line
    one_line_error(run_arkeep("--store", tmp_path / "elsewhere", "verify", env=env), 2, "elsewhere")


def test_usage_errors_exit_2(env: dict[str, str], installer: Path) -> None:
    r = run_arkeep("add", installer, "--version", "1", env=env)         # --product missing
    assert r.returncode == 2 and "--product" in r.stderr and "Traceback" not in r.stderr
    r = run_arkeep("frobnicate", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run_arkeep("add", installer, "--product", "F", "--version", "1", "--key-file", "k",
                   "--key-stdin", env=env)
    assert r.returncode == 2 and "not allowed with" in r.stderr


def test_debug_shows_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    result = run_arkeep("--debug", "show", "Photoshop@99", env=env)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("arkeep: error: no release matches")
    result = run_arkeep("add", tmp_path / "nope.exe", "--product", "F", "--version", "1", "--debug", env=env)
    assert result.returncode == 2 and "Traceback" in result.stderr
