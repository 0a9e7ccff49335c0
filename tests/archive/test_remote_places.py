"""Issue 11 item 5 and issue 12 item 4: one place is one remote, and a missing place is refused.

`remote add` normalises what the user typed (trailing slashes, `./`, `..`, symlinks, `file://`,
`s3://bucket/prefix/`) and refuses a second remote for a place that one already uses, since two
names for one folder would count one copy twice toward 3-2-1; `rebuild` reuses the configured
remote at its source instead of adding `origin` beside it. A folder that does not exist is
refused unless `--create`: an unmounted NAS must not be refilled on the system disk.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.archive.replication_support import add_sample, dir_listing
from tests.conftest import run_arkeep


def remotes(cli, *store: Path) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    listed = cli(*(("--store", store[0]) if store else ()), "remote", "list", "--json")
    assert listed.code == 0, listed.err
    return [(r["name"], r["kind"], r["url"]) for r in json.loads(listed.out)]


@pytest.mark.parametrize("spelling", ["{d}/./", "{d}/", "{d}//", "file://{d}", "{d}/sub/..",
                                      "{link}", "{link}/."])
def test_a_second_remote_for_the_same_folder_is_refused(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         spelling: str) -> None:
    nas = tmp_path / "nas"
    (nas / "sub").mkdir(parents=True)
    link = tmp_path / "nas-link"
    link.symlink_to(nas)
    assert cli("remote", "add", "nas", nas).code == 0
    result = cli("remote", "add", "nas2", spelling.format(d=nas, link=link))
    assert result.code == 2, result.out + result.err
    assert result.err.strip() == (f"arkeep: error: remote 'nas' already stores to {nas}; one place "
                                  "counts as one copy, so it cannot be added again as 'nas2'")
    assert remotes(cli) == [("nas", "dir", str(nas))]


def test_a_remote_url_is_stored_in_one_spelling(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "nas" / "arkeep").mkdir(parents=True)
    assert cli("remote", "add", "nas", f"file://{tmp_path}/nas/./x/../arkeep/").code == 0
    assert remotes(cli) == [("nas", "dir", str(tmp_path / "nas" / "arkeep"))]


def test_a_second_remote_for_the_same_bucket_prefix_is_refused(cli, store_dir: Path, s3_env) -> None:  # type: ignore[no-untyped-def]
    bucket = s3_env.new_bucket_name("places")
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep/").code == 0
    result = cli("remote", "add", "cloud2", f"s3://{bucket}/arkeep")
    assert result.code == 2, result.out + result.err
    assert "remote 'cloud' already stores to" in result.err
    assert remotes(cli) == [("cloud", "s3", f"s3://{bucket}/arkeep")]
    # Another prefix in the same bucket is another place.
    assert cli("remote", "add", "cloud2", f"s3://{bucket}/other").code == 0


def test_rebuild_reuses_the_remote_at_its_source_instead_of_adding_origin(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    add_sample(cli, tmp_path)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("sync").code == 0
    # Rebuilding from the same place, spelled differently, into the store that knows it as 'nas'.
    cli("rebuild", "--from", f"{nas}/./")
    assert [name for name, _, _ in remotes(cli)] == ["nas"]
    # A fresh rebuild brings 'nas' back (its sealed configuration) and adds no 'origin'; the
    # same place cannot then be added a second time.
    fresh = tmp_path / "fresh"
    rebuilt = cli("--store", fresh, "rebuild", "--from", f"{nas}/./")
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert [name for name, _, _ in remotes(cli, fresh)] == ["nas"]
    again = cli("--store", fresh, "remote", "add", "nas2", f"{nas}/")
    assert again.code == 2 and "already stores to" in again.err


def test_a_missing_folder_is_refused_unless_create(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ghost = tmp_path / "nonexistent" / "path"
    result = cli("remote", "add", "ghost", ghost)
    assert result.code == 2, result.out + result.err
    assert result.err.strip() == (f"arkeep: error: {ghost} does not exist (is the disk or share "
                                  "mounted?); add --create to make a new folder there")
    assert not ghost.exists() and not ghost.parent.exists()
    assert remotes(cli) == []
    made = cli("remote", "add", "ghost", ghost, "--create")
    assert made.code == 0, made.err
    assert ghost.is_dir() and remotes(cli) == [("ghost", "dir", str(ghost))]
    assert "--create" in run_arkeep("remote", "add", "--help").stdout


def test_a_folder_that_cannot_be_made_is_a_clear_error_and_no_remote(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    """--create asks the backend to make the folder; below a plain file it cannot."""
    plain = tmp_path / "file"
    plain.write_text("x")
    result = cli("remote", "add", "nas", plain / "sub", "--create")
    assert result.code == 3, result.out + result.err
    assert result.err.strip() == ("arkeep: error: remote 'nas' failed: ENOTDIR (Not a directory); "
                                  f"could not make the folder {plain / 'sub'}: check the path and "
                                  "its permissions")
    assert remotes(cli) == [] and plain.read_text() == "x"


def test_the_kind_of_a_remote_is_the_one_its_url_names(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    """arkeep.toml's `kind` is for people: a hand-edited or missing one changes nothing, since
    the URL decides which backend opens the remote (backends.kind_of)."""
    import tomllib

    import tomli_w
    nas, usb = tmp_path / "nas", tmp_path / "usb"
    nas.mkdir()
    usb.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    config_path = store_dir / "arkeep.toml"
    config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    config["remotes"]["nas"]["kind"] = "s3"
    del config["remotes"]["usb"]["kind"]
    config_path.write_text(tomli_w.dumps(config), encoding="utf-8")
    assert [(name, kind) for name, kind, _ in remotes(cli)] == [("nas", "dir"), ("usb", "drive")]


def test_a_file_is_not_a_folder(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "file"
    plain.write_text("x")
    result = cli("remote", "add", "nas", plain, "--create")
    assert result.code == 2 and "is not a directory" in result.err
    assert dir_listing(tmp_path) >= {"file"} and os.path.isfile(plain)


def test_a_drive_added_outside_the_mount_roots_is_found_where_it_was_added(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    """Issue 12 item 7: no ARKEEP_DRIVE_PATHS, a mount point nowhere near /media or /mnt."""
    assert "ARKEEP_DRIVE_PATHS" not in os.environ
    add_sample(cli, tmp_path)
    usb = tmp_path / "elsewhere" / "usb1"
    usb.mkdir(parents=True)
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    result = cli("sync", "--json")
    assert result.code == 0, result.err
    assert [(r["remote"], r["status"]) for r in json.loads(result.out)] == [("usb", "synced")]
    assert "key.toml" in dir_listing(usb / "arkeep")
    assert cli("verify", "--remote", "usb").code == 0
    helped = run_arkeep("remote", "add", "--help").stdout
    assert "ARKEEP_DRIVE_PATHS" in helped and "where it was added" in helped


def test_a_folder_on_a_drive_remote_is_the_same_place_as_the_drive(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    usb = tmp_path / "usb1"
    usb.mkdir()
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    result = cli("remote", "add", "nas", f"{usb}/arkeep/")
    assert result.code == 2, result.out + result.err
    assert "remote 'usb' already stores to drive://" in result.err
    assert cli("remote", "add", "nas", usb, "--create").code == 0     # the drive's root is not
    # A second drive remote for the same drive and folder is refused too.
    again = cli("remote", "add", "usb2", usb, "--drive")
    assert again.code == 2 and "remote 'usb' already stores to" in again.err
