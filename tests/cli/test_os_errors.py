"""Wrong paths are wrong input (issue 12, item 10): exit 2 and one line that says what is wrong,
never a raw OS error with exit 3. Run as separate processes without a terminal, as cron would."""
from __future__ import annotations

import os
from pathlib import Path

from tests.archive.test_errors_cli import env_for, one_line_error
from tests.conftest import run_arkeep


def _archived(store_dir: Path, tmp_path: Path) -> dict[str, str]:
    env = env_for(store_dir)
    setup = tmp_path / "setup.exe"
    setup.write_bytes(b"MZ installer" * 50)
    assert run_arkeep("add", setup, "--product", "Foo", "--version", "1.0", env=env).returncode == 0
    return env


def test_restore_into_a_file(store_dir: Path, tmp_path: Path) -> None:
    env = _archived(store_dir, tmp_path)
    plain = tmp_path / "notes.txt"
    plain.write_text("mine")
    one_line_error(run_arkeep("restore", "foo@1.0", "--to", plain, env=env), 2,
                   f"{plain} is a file, not a directory")
    one_line_error(run_arkeep("restore", "foo@1.0", "--to", plain / "sub", env=env), 2,
                   f"{plain} is a file, not a directory")
    assert plain.read_text() == "mine"


def test_rebuild_from_a_path_that_does_not_exist(tmp_path: Path) -> None:
    env = env_for(tmp_path / "new-store")
    missing = tmp_path / "nonexistent"
    line = one_line_error(run_arkeep("rebuild", "--from", missing, env=env), 2,
                          f"{missing} does not exist")
    assert "holds no arkeep key" not in line
    plain = tmp_path / "a-file"
    plain.write_text("x")
    one_line_error(run_arkeep("rebuild", "--from", plain, env=env), 2, f"{plain} is a file")
    assert not (tmp_path / "new-store").exists()


def test_rebuild_from_a_file_url_reads_it_as_the_backend_does(tmp_path: Path) -> None:
    """The check of a local source and the backend spell a URL the same way (backends.normal_url):
    `file://` with %-escapes names the same path for both."""
    env = env_for(tmp_path / "new-store")
    plain = tmp_path / "a file"
    plain.write_text("x")
    one_line_error(run_arkeep("rebuild", "--from", plain.as_uri(), env=env), 2,
                   f"{plain} is a file")
    assert "%20" in plain.as_uri() and not (tmp_path / "new-store").exists()


def test_an_overlong_product_name(store_dir: Path, tmp_path: Path) -> None:
    setup = tmp_path / "setup.exe"
    setup.write_bytes(b"MZ installer" * 50)
    line = one_line_error(run_arkeep("add", setup, "--product", "P" * 300, "--version", "1",
                                     env=env_for(store_dir)), 2, "product name is 300 characters long")
    assert "File name too long" not in line
    releases = store_dir / "manifests" / "releases"
    assert not releases.exists() or not os.listdir(releases)
    assert not list((store_dir / "objects").glob("??/??/*")), "refused only after storing the file"
