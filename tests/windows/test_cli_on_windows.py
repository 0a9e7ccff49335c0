"""The CLI end to end on Windows CPython (under Wine): a store made, filled, checked, replicated
to a folder and rebuilt from it, with the files restored byte for byte.

The installer is a real signed Windows program: the python.exe and python313.dll of the
embeddable CPython these tests run on.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.seaweed import SeaweedServer

from .conftest import WindowsPython, WinResult, winpath

KEY = "WIN7-ABCD-EFGH-2026-KEEP"
RELEASE = "python-embeddable@3.13.2"


def ok(result: WinResult) -> WinResult:
    assert result.code == 0, f"exit {result.code}\n{result.out}\n{result.err}"
    return result


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def installers(win: WindowsPython, into: Path) -> list[Path]:
    into.mkdir()
    files = [into / "python.exe", into / "python313.dll"]
    for file in files:
        shutil.copyfile(win.python.parent / file.name, file)
    return files


def test_it_is_windows(windows_python: WindowsPython) -> None:
    result = ok(windows_python.run("-c", "import os, sys; print(sys.platform, os.name)"))
    assert result.out.split() == ["win32", "nt"]


def test_store_folder_remote_and_rebuild(windows_python: WindowsPython, tmp_path: Path) -> None:
    win = windows_python
    store, other = winpath(tmp_path / "store"), winpath(tmp_path / "rebuilt")
    files = installers(win, tmp_path / "in")
    (tmp_path / "key.txt").write_text(KEY + "\n", encoding="utf-8")
    (tmp_path / "licence.lic").write_bytes(b"licensed to: a Windows user\n")
    (tmp_path / "invoice.txt").write_text("Invoice 2026-0042: 49.00 EUR\n", encoding="utf-8")

    init = ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    assert "Created an arkeep store" in init.out
    added = ok(win.arkeep("--store", store, "add", "--product", "Python embeddable",
                          "--version", "3.13.2", "--platform", "windows-x64",
                          "--key-file", winpath(tmp_path / "key.txt"),
                          "--license-file", winpath(tmp_path / "licence.lic"),
                          "--invoice", winpath(tmp_path / "invoice.txt"),
                          *[winpath(f) for f in files]))
    assert RELEASE in added.out
    assert KEY not in added.out + added.err
    assert RELEASE in ok(win.arkeep("--store", store, "list")).out
    assert KEY in ok(win.arkeep("--store", store, "show", "--reveal", RELEASE)).out
    ok(win.arkeep("--store", store, "verify"))

    ok(win.arkeep("--store", store, "restore", RELEASE, "--to", winpath(tmp_path / "restored")))
    for file in files:
        assert digest(tmp_path / "restored" / file.name) == digest(file)

    bundle = tmp_path / "release.zip"
    ok(win.arkeep("--store", store, "export", RELEASE, "--zip", winpath(bundle)))
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
    assert any(name.endswith("python313.dll") for name in names), names

    folder = tmp_path / "replica"
    ok(win.arkeep("--store", store, "remote", "add", "--create", "shelf", winpath(folder)))
    ok(win.arkeep("--store", store, "sync"))
    ok(win.arkeep("--store", store, "verify", "--remote", "shelf"))

    ok(win.arkeep("--store", other, "rebuild", "--from", winpath(folder)))
    ok(win.arkeep("--store", other, "restore", RELEASE, "--to", winpath(tmp_path / "again")))
    for file in files:
        assert digest(tmp_path / "again" / file.name) == digest(file)
    assert KEY in ok(win.arkeep("--store", other, "show", "--reveal", RELEASE)).out


def test_s3_remote_and_rebuild_from_it(windows_python: WindowsPython, s3_server: SeaweedServer,
                                       tmp_path: Path) -> None:
    """SeaweedFS runs on the Linux side; Windows CPython reaches it on loopback."""
    win = windows_python
    store, other = winpath(tmp_path / "store"), winpath(tmp_path / "rebuilt")
    files = installers(win, tmp_path / "in")
    (tmp_path / "key.txt").write_text(KEY + "\n", encoding="utf-8")
    aws = {**s3_server.env(), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": winpath(tmp_path / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": winpath(tmp_path / "no-aws-credentials")}
    url = f"s3://{s3_server.new_bucket_name('windows')}/arkeep"

    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    ok(win.arkeep("--store", store, "add", "--product", "Python embeddable", "--version", "3.13.2",
                  "--platform", "windows-x64", "--key-file", winpath(tmp_path / "key.txt"),
                  *[winpath(f) for f in files]))
    ok(win.arkeep("--store", store, "remote", "add", "cloud", url, env=aws))
    ok(win.arkeep("--store", store, "sync", env=aws))
    ok(win.arkeep("--store", store, "verify", "--remote", "cloud", env=aws))

    ok(win.arkeep("--store", other, "rebuild", "--from", url, env=aws))
    ok(win.arkeep("--store", other, "restore", RELEASE, "--to", winpath(tmp_path / "again")))
    for file in files:
        assert digest(tmp_path / "again" / file.name) == digest(file)
    assert KEY in ok(win.arkeep("--store", other, "show", "--reveal", RELEASE)).out


def test_restore_of_names_windows_refuses(windows_python: WindowsPython, tmp_path: Path) -> None:
    """A release archived on Linux with names Windows cannot have, restored on Windows: each file
    is written under a name Windows accepts, the output says which, nothing is written over."""
    files = {"setup:x64.exe": b"colon", "CON": b"device", "readme. ": b"trailing",
             "Setup.exe": b"upper", "setup.exe": b"lower"}
    source = tmp_path / "in"
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    win = windows_python
    linux = {**os.environ, "ARKEEP_PASSPHRASE": win.env["ARKEEP_PASSPHRASE"]}
    store = tmp_path / "store"
    for args in (["init", "--weak-passphrase-ok"],
                 ["add", "--product", "Odd", "--version", "1", *map(str, source.iterdir())]):
        subprocess.run([sys.executable, "-m", "archive", "--store", str(store), *args],
                       env=linux, check=True, capture_output=True)

    out = ok(win.arkeep("--store", winpath(store), "restore", "odd@1",
                        "--to", winpath(tmp_path / "out"))).out
    written = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert written["setup_x64.exe"] == b"colon"
    assert written["_CON"] == b"device"
    assert written["readme_"] == b"trailing"
    assert sorted(v for k, v in written.items() if k.lower().startswith("setup")
                  and k.lower().endswith(".exe") and "x64" not in k) == [b"lower", b"upper"]
    assert "archived as 'setup:x64.exe'" in out and "reserved device name" in out


def test_a_big_installer_takes_the_portable_copy_path(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    """Past PIPELINE_FROM a file is copied and hashed by the read -> hash -> write threads that
    stand in for copy_file_range, which Windows does not have; sealing it too."""
    win = windows_python
    shown = ok(win.run("-c", "import os; from archive.storage.hashing import PIPELINE_FROM; "
                             "print(hasattr(os, 'copy_file_range'), PIPELINE_FROM)")).out.split()
    assert shown[0] == "False"
    big = tmp_path / "in" / "big-setup.exe"
    big.parent.mkdir()
    with big.open("wb") as f:
        for _ in range(int(shown[1]) // (1 << 20) + 4):
            f.write(os.urandom(1 << 20))
    store = winpath(tmp_path / "store")
    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    ok(win.arkeep("--store", store, "add", "--product", "Big", "--version", "1", winpath(big)))
    ok(win.arkeep("--store", store, "verify"))
    ok(win.arkeep("--store", store, "restore", "big@1", "--to", winpath(tmp_path / "out")))
    assert digest(tmp_path / "out" / big.name) == digest(big)
    ok(win.arkeep("--store", store, "export", "big@1", "--zip", winpath(tmp_path / "big.zip")))
    with zipfile.ZipFile(tmp_path / "big.zip") as z:
        assert any(i.filename.endswith(big.name) and i.file_size == big.stat().st_size
                   for i in z.infolist())


def test_a_drive_remote_found_again_where_it_moved(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    """A drive remote is synced, then found by its marker under ARKEEP_DRIVE_PATHS\\USER\\LABEL
    after it moved (as a drive mounted elsewhere next time), and verified there; then on a
    drive letter of its own."""
    win = windows_python
    store = winpath(tmp_path / "store")
    files = installers(win, tmp_path / "in")
    drive = tmp_path / "mnt" / "USB"
    drive.mkdir(parents=True)
    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    ok(win.arkeep("--store", store, "add", "--product", "Python embeddable", "--version", "3.13.2",
                  *[winpath(f) for f in files]))
    ok(win.arkeep("--store", store, "remote", "add", "--drive", "usb", winpath(drive)))
    ok(win.arkeep("--store", store, "sync"))

    media = tmp_path / "media"
    (media / "alice").mkdir(parents=True)
    drive.rename(media / "alice" / "BACKUP")
    moved = {"ARKEEP_DRIVE_PATHS": winpath(tmp_path / "nowhere") + ";" + winpath(media)}
    ok(win.arkeep("--store", store, "verify", "--remote", "usb", env=moved))
    ok(win.arkeep("--store", store, "sync", env=moved))

    # then as Windows mounts a USB drive: a drive letter of its own (Wine's are links in the
    # prefix's dosdevices), no ARKEEP_DRIVE_PATHS
    letter = Path(win.env["WINEPREFIX"]) / "dosdevices" / "r:"
    assert not letter.exists() and not letter.is_symlink(), "R: is taken in this Wine prefix"
    stick = tmp_path / "stick"
    (media / "alice" / "BACKUP").rename(stick)
    unplugged = win.arkeep("--store", store, "verify", "--remote", "usb")
    assert unplugged.code != 0 and "not connected" in unplugged.out + unplugged.err
    letter.symlink_to(stick)
    try:
        ok(win.arkeep("--store", store, "verify", "--remote", "usb"))
    finally:
        letter.unlink()


def test_repair_replaces_a_damaged_read_only_object(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    """Objects are read-only; Windows refuses to rename onto one: repair must still put the good
    copy from the folder replica in its place."""
    win = windows_python
    store = tmp_path / "store"
    files = installers(win, tmp_path / "in")
    ok(win.arkeep("--store", winpath(store), "init", "--weak-passphrase-ok"))
    ok(win.arkeep("--store", winpath(store), "add", "--product", "Python embeddable",
                  "--version", "3.13.2", *[winpath(f) for f in files]))
    ok(win.arkeep("--store", winpath(store), "remote", "add", "--create", "shelf",
                  winpath(tmp_path / "replica")))
    ok(win.arkeep("--store", winpath(store), "sync"))

    objects = [p for p in (store / "objects").rglob("*") if p.is_file()]
    victim = max(objects, key=lambda p: p.stat().st_size)
    victim.chmod(0o644)
    with victim.open("r+b") as f:
        f.seek(1000)
        f.write(b"bit rot")
    victim.chmod(0o444)
    assert win.arkeep("--store", winpath(store), "verify").code == 1
    ok(win.arkeep("--store", winpath(store), "repair"))
    ok(win.arkeep("--store", winpath(store), "verify"))
    ok(win.arkeep("--store", winpath(store), "restore", RELEASE, "--to", winpath(tmp_path / "out")))
    for file in files:
        assert digest(tmp_path / "out" / file.name) == digest(file)


def test_inspect_and_add_read_a_real_nsis_installer(
        windows_python: WindowsPython, nsis_exe: Path, tmp_path: Path) -> None:
    """An installer made by makensis, read on Windows CPython: product, vendor and version."""
    win = windows_python
    shown = ok(win.arkeep("inspect", winpath(nsis_exe))).out
    assert "Fabrikam Paint" in shown and "Fabrikam, Inc." in shown and "7.5.0.1210" in shown
    store = winpath(tmp_path / "store")
    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    added = ok(win.arkeep("--store", store, "add", winpath(nsis_exe))).out
    assert "Fabrikam Paint" in added


def test_schedule_prints_a_task_whose_command_runs_the_audit_and_due_on_windows(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    """issue 15: on Windows `arkeep schedule` is a Task Scheduler task by default; the XML parses,
    and its Command with its Arguments (split as Windows splits them) run the audit, with the
    calendar, on this store and its folder remote without a passphrase."""
    import json
    import shlex
    import xml.etree.ElementTree as ET

    win = windows_python
    store = winpath(tmp_path / "my store")
    files = installers(win, tmp_path / "in")
    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    ok(win.arkeep("--store", store, "add", winpath(files[0]), "--product", "Python Embeddable",
                  "--version", "3.13.2", "--expires", "2020-01-01"))
    (tmp_path / "nas").mkdir()
    ok(win.arkeep("--store", store, "remote", "add", "nas", winpath(tmp_path / "nas")))
    ok(win.arkeep("--store", store, "sync"))
    data = json.loads(ok(win.arkeep("--store", store, "schedule", "--json")).out)
    assert data["format"] == "task"
    ns = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
    task = ET.fromstring(data["files"][0]["text"].encode("utf-16"))
    command = task.findtext(f"{ns}Actions/{ns}Exec/{ns}Command")
    arguments = task.findtext(f"{ns}Actions/{ns}Exec/{ns}Arguments")
    assert command and command.lower().endswith("python.exe")
    assert task.findtext(f"{ns}Settings/{ns}StartWhenAvailable") == "true"
    # The arguments as CommandLineToArgvW reads them (no backslash before a quote here).
    argv = [w.strip('"') for w in shlex.split(arguments, posix=False)]
    assert argv == ["-m", "archive", "--store", store, "audit", "--due", "--notify", "--quiet"]
    ran = win.run(*argv[:-1], "--json")
    report = json.loads(ran.out)
    assert ran.code == 1, ran.out + ran.err                     # the licence expired in 2020
    assert [r["mode"] for r in report["remotes"]] == ["full"]   # ARKEEP_PASSPHRASE is set here
    assert report["due"][0]["state"] == "overdue"
    due = win.arkeep("--store", store, "due")
    assert due.code == 1 and "expired on 2020-01-01" in due.out
