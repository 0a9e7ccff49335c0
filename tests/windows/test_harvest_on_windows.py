"""harvest of the running Windows on Windows CPython (under Wine): a serial put in the live
registry with Wine's own `reg add`, a program in the user's uninstall key, a licence file under
%ProgramFiles%; the plan masks the serial, --apply stores it encrypted."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .conftest import TIMEOUT, WindowsPython, winpath
from .test_cli_on_windows import ok

SERIAL = "4C21U-2KK9Q-M8130-4V2QH-CF810"           # made up for this test
VMWARE = r"HKLM\SOFTWARE\VMware, Inc."
UNINSTALL = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Contoso Ledger"
RARREG = "RAR registration data\nJane Doe on Windows\nSingle PC usage license\nUID=99aa88bb77cc\n"


def _reg(win: WindowsPython, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([win.loader, "reg", *args], env=win.env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=TIMEOUT, check=False)


def test_harvest_reads_a_serial_put_in_the_live_registry(windows_python: WindowsPython,
                                                          tmp_path: Path) -> None:
    win = windows_python
    added = _reg(win, "add", VMWARE + r"\VMware Workstation\License.ws.17.0.e5.202208", "/v",
                 "Serial", "/t", "REG_SZ", "/d", SERIAL, "/f")
    assert added.returncode == 0, added.stderr
    assert _reg(win, "add", UNINSTALL, "/v", "DisplayName", "/t", "REG_SZ", "/d", "Contoso Ledger",
                "/f").returncode == 0
    assert _reg(win, "add", UNINSTALL, "/v", "DisplayVersion", "/t", "REG_SZ", "/d", "4.2.1",
                "/f").returncode == 0
    winrar = Path(win.env["WINEPREFIX"]) / "drive_c" / "Program Files" / "WinRAR"
    winrar.mkdir(parents=True, exist_ok=True)
    (winrar / "rarreg.key").write_text(RARREG)
    try:
        store = winpath(tmp_path / "store")
        plan = ok(win.arkeep("--store", winpath(tmp_path / "no-store"), "--json", "harvest"))
        assert SERIAL not in plan.out + plan.err and "UID=99aa88bb77cc" not in plan.out
        data = json.loads(plan.out)
        keys = {k["product"]: k for k in data["keys"]}
        assert keys["VMware Workstation"]["key"] == "4C21U-•••••-…"
        assert "License.ws.17.0.e5.202208" in keys["VMware Workstation"]["where"]
        assert keys["WinRAR"]["key"].startswith("(licence file,")
        assert {"name": "Contoso Ledger", "version": "4.2.1"}.items() <= \
            next(i for i in data["installed"] if i["name"] == "Contoso Ledger").items()
        ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
        applied = ok(win.arkeep("--store", store, "--json", "harvest", "--apply", "--yes"))
        assert SERIAL not in applied.out + applied.err
        recorded = {r["product"]: r for r in json.loads(applied.out)["recorded"]}
        assert recorded["VMware Workstation"]["action"] == "new"
        for path in (tmp_path / "store").rglob("*"):
            if path.is_file():
                assert SERIAL.encode() not in path.read_bytes(), path
        shown = json.loads(ok(win.arkeep("--store", store, "--json", "show",
                                         recorded["VMware Workstation"]["license"], "--reveal")).out)
        assert SERIAL in json.dumps(shown)
        again = ok(win.arkeep("--store", store, "--json", "harvest", "--apply", "--yes"))
        assert {r["action"] for r in json.loads(again.out)["recorded"]} == {"unchanged"}
    finally:
        _reg(win, "delete", VMWARE, "/f")
        _reg(win, "delete", UNINSTALL, "/f")
        (winrar / "rarreg.key").unlink()
