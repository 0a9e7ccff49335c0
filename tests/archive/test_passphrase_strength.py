"""A new passphrase is judged (issue 12.17): `init` and `key passwd` refuse one that is easy to
guess unless --weak-passphrase-ok, warn about a fair one, and never echo it."""
from __future__ import annotations

from pathlib import Path

import pytest

from archive.crypto.passphrase_strength import FLOOR_LOG10, GOOD_LOG10, estimate
from tests.conftest import PASSPHRASE, run_arkeep

WEAK = ["tiny", "Summer2026!", "password123456", "aaaaaaaaaaaaaaaaaaaaaaaa", "arkeeparkeep"]
FAIR = "Tr0ub4dor&3"


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passphrases_are_below_the_floor(weak: str) -> None:
    assert estimate(weak).guesses_log10 < FLOOR_LOG10


def test_the_suite_and_demo_passphrases_are_strong() -> None:
    for strong in (PASSPHRASE, "demo passphrase, not for real use", "bench passphrase, not a secret",
                   "crash sweep: correct horse battery staple"):
        assert estimate(strong).guesses_log10 >= GOOD_LOG10, strong
    assert estimate("a much better passphrase").guesses_log10 >= FLOOR_LOG10    # test_keys' new one
    assert FLOOR_LOG10 <= estimate(FAIR).guesses_log10 < GOOD_LOG10


def init(tmp_path: Path, passphrase: str, *extra: str):  # type: ignore[no-untyped-def]
    import os
    env = {**os.environ, "ARKEEP_STORE": str(tmp_path / "store"), "ARKEEP_PASSPHRASE": passphrase}
    return run_arkeep("init", *extra, env=env)


@pytest.mark.parametrize("weak", ["tiny", "Summer2026!"])
def test_init_refuses_a_weak_passphrase_from_the_environment(tmp_path: Path, weak: str) -> None:
    result = init(tmp_path, weak)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "too easy to guess" in lines[0] and "--weak-passphrase-ok" in lines[0]
    assert weak not in result.stdout + result.stderr
    assert not (tmp_path / "store").exists()


def test_init_accepts_a_weak_passphrase_with_the_override_and_says_so(tmp_path: Path) -> None:
    result = init(tmp_path, "tiny", "--weak-passphrase-ok")
    assert result.returncode == 0, result.stderr
    assert "weak passphrase" in result.stderr and "tiny" not in result.stderr
    assert (tmp_path / "store" / "key.toml").is_file()


def test_init_warns_about_a_fair_passphrase_and_is_silent_about_a_strong_one(tmp_path: Path) -> None:
    fair = init(tmp_path / "a", FAIR)
    assert fair.returncode == 0, fair.stderr
    assert "warning:" in fair.stderr and FAIR not in fair.stderr
    strong = init(tmp_path / "b", PASSPHRASE)
    assert strong.returncode == 0 and "warning" not in strong.stderr


def test_key_passwd_judges_the_new_passphrase(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new = tmp_path / "new.txt"
    new.write_text("tiny\n")
    before = (store_dir / "key.toml").read_bytes()
    refused = cli("key", "passwd", "--new-passphrase-file", new)
    assert refused.code == 2 and "too easy to guess" in refused.err and "tiny" not in refused.err
    assert (store_dir / "key.toml").read_bytes() == before
    accepted = cli("key", "passwd", "--new-passphrase-file", new, "--weak-passphrase-ok")
    assert accepted.code == 0, accepted.err
    assert "weak passphrase" in accepted.err
    assert (store_dir / "key.toml").read_bytes() != before
