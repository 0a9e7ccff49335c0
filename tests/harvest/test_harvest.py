"""harvest over folders laid out like old system disks: hives written by hivex, licence files
where the programs keep them, macOS bundles' Info.plist in XML and binary form."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from archive.intake.harvest.plan import plan_harvest
from tests.harvest.disks import (
    BC_KEY,
    OFFICE2010_KEY,
    SECRETS,
    SERVER2019_BYTES,
    SERVER2019_KEY,
    SUBLIME_KEY,
    VMWARE_SERIAL,
    WIN7_KEY,
    WIN11_DPID,
    WINRAR_KEY,
    dpid_with,
    mac_disk,
    windows_disk,
)
from tests.support.regf_empty import hivex_available

@pytest.fixture(autouse=True)
def _hivex() -> None:
    """The hives here are written by hivex: without it these tests fail saying so (as the
    inspect tests do without makensis or wixl), never pass by skipping."""
    if not hivex_available():
        pytest.fail("hivexregedit (Debian package libwin-hivex-perl) writes the test hives: "
                    "scripts/test installs it")


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    return windows_disk(tmp_path / "disk")


def _keys(plan) -> dict[str, str]:
    return {f.product: f.key for f in plan.findings if f.recoverable}


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def test_windows_disk_gives_every_key_and_says_why_the_others_have_none(disk: Path) -> None:
    plan = plan_harvest(disk)
    keys = _keys(plan)
    assert keys["Windows 7 Professional"] == WIN7_KEY
    assert keys["Microsoft Office Professional Plus 2010"] == OFFICE2010_KEY
    assert keys["VMware Workstation"] == VMWARE_SERIAL
    assert keys["WinRAR"] == WINRAR_KEY
    assert keys["Sublime Text"] == SUBLIME_KEY
    assert keys["Beyond Compare"] == BC_KEY
    assert "JANEDOE-ABCDE-12345-FGHIJ" in keys["JetBrains IntelliJIdea2023.2"]     # UTF-16 after FF FF
    assert "Licence no. 123456" in keys["Total Commander"]
    third_party = {"VMware Workstation", "WinRAR", "Sublime Text", "Beyond Compare",
                   "JetBrains IntelliJIdea2023.2", "Total Commander"}
    assert third_party <= set(keys)
    windows = next(f for f in plan.findings if f.product == "Windows 7 Professional")
    assert windows.licensed_to == "Jane Doe" and "byte 52" in windows.how
    lost = {f.product: f for f in plan.findings if not f.recoverable}
    assert "volume-licence" in lost["Microsoft Office Standard 2010"].reason
    assert lost["Microsoft Office Standard 2010"].kind == "volume"
    office2016 = lost["Microsoft Office Professional Plus 2016"]       # said once, for two places
    assert "last five characters" in office2016.reason and len(office2016.also) == 1
    assert "Microsoft Office 2013 or later" not in lost
    assert "account.adobe.com" in lost["Adobe Creative Cloud"].reason
    assert keys.get("WinRAR") and next(f for f in plan.findings if f.product == "WinRAR").version == "5.91.0"
    names = {i.name for i in plan.installed}
    assert {"WinRAR 5.91 (64-bit)", "Microsoft Office Professional Plus 2016", "Adobe Creative Cloud",
            "Sublime Text", "Total Commander (Remove or Repair)"} == names    # no update, no component
    winrar = next(i for i in plan.installed if i.name.startswith("WinRAR"))
    assert (winrar.version, winrar.publisher, str(winrar.install_date)) == ("5.91.0", "win.rar GmbH", "2020-06-14")
    assert [p.where for p in plan.problems] == ["firmware"]     # the OEM key is not on a disk


def test_windows_8_encoding_and_digitalproductid4_on_disk(tmp_path: Path) -> None:
    # The published Windows 11 value (a generic key: said so, not recorded) beside one holding a
    # published evaluation key in the Windows 8 encoding.
    plan = plan_harvest(windows_disk(tmp_path / "a", win_dpid=dpid_with(SERVER2019_BYTES),
                                     win_dpid4=dpid_with(WIN11_DPID[52:67], offset=808, size=1272)))
    assert _keys(plan)["Windows 7 Professional"] == SERVER2019_KEY
    generic = [f for f in plan.findings if not f.recoverable and "generic key" in (f.reason or "")]
    assert len(generic) == 1 and "DigitalProductId4" in generic[0].where
    assert generic[0].key is None


def test_the_plan_shows_no_key_and_json_neither_unless_revealed(cli, disk: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    monkeypatch.setenv("ARKEEP_STORE", str(tmp_path / "none"))
    r = cli("harvest", disk)
    assert r.code == 0, r.err
    assert "HQ7DP-•••••-…" in r.out and "(licence file," in r.out
    assert "Office 2013 and later keep no full key" in r.out and "volume-licence" in r.out
    j = cli("harvest", disk, "--json")
    data = json.loads(j.out)
    for text in (r.out + r.err, j.out + j.err):
        for secret in SECRETS:
            assert secret not in text
    assert len(data["keys"]) == 8 and data["installed"][0]["archived"] is None
    revealed = cli("harvest", disk, "--reveal", "--json")
    assert WIN7_KEY in revealed.out


def test_apply_records_encrypted_keys_links_releases_and_adds_nothing_twice(
        cli, store_dir: Path, disk: Path, tmp_path: Path) -> None:
    installer = tmp_path / "winrar-x64-591.exe"
    installer.write_bytes(b"MZ" + os.urandom(2000))
    assert cli("add", installer, "--product", "WinRAR", "--version", "5.91").code == 0
    before = _tree(disk)
    r = cli("harvest", disk, "--apply", "--yes", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    recorded = {x["product"]: x for x in data["recorded"]}
    assert len(recorded) == 9 and all(x["action"] == "new" for x in recorded.values())
    assert recorded["WinRAR"]["release"] == "winrar@5.91"
    assert recorded["Windows 7 Professional"]["release"] is None
    winrar = [i for i in data["installed"] if i["name"].startswith("WinRAR")][0]
    assert winrar["archived"] and not [i for i in data["installed"]
                                       if i["name"].startswith("Sublime")][0]["archived"]
    stored = b"".join(p.read_bytes() for p in store_dir.rglob("*") if p.is_file())
    for secret in SECRETS:
        assert secret.encode() not in stored and secret not in r.out + r.err
    assert _tree(disk) == before                       # nothing written under ROOT
    again = cli("harvest", disk, "--apply", "--yes", "--json")
    assert {x["action"] for x in json.loads(again.out)["recorded"]} == {"unchanged"}
    assert len(list((store_dir / "manifests").rglob("lic-*.toml"))) == 9
    adobe = json.loads(cli("--json", "show", recorded["Adobe Creative Cloud"]["license"]).out)
    assert "account.adobe.com" in json.dumps(adobe) and "subscription" in json.dumps(adobe)
    shown = cli("show", "winrar@5.91", "--reveal")
    assert shown.code == 0 and "UID=1a2b3c4d5e6f7a8b9c0d" in shown.out and "rarreg.key" in shown.out


def test_a_read_only_disk_is_read_and_left_alone(tmp_path: Path) -> None:
    disk = windows_disk(tmp_path / "ro")
    for dirpath, dirnames, filenames in os.walk(disk):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        before = _tree(disk)
        plan = plan_harvest(disk)
        assert _keys(plan)["Windows 7 Professional"] == WIN7_KEY
        assert _tree(disk) == before
    finally:
        for dirpath, dirnames, _ in os.walk(disk):
            for name in dirnames:
                (Path(dirpath) / name).chmod(0o755)


@pytest.mark.parametrize("damage, said", [
    (lambda b: b[:6000], "truncated"),
    (lambda b: b"REGF" + b[4:], "no 'regf' signature"),
    (lambda b: b[:4096] + bytes(len(b) - 4096), "damaged"),
    (lambda b: b[:4096] + b"hbin" + os.urandom(len(b) - 4100), "damaged"),
    (lambda b: b"", "no 'regf' signature"),
])
def test_a_damaged_hive_is_named_and_the_rest_goes_on(tmp_path: Path, damage, said: str) -> None:
    disk = windows_disk(tmp_path / "d")
    software = disk / "Windows" / "System32" / "config" / "SOFTWARE"
    software.write_bytes(damage(software.read_bytes()))
    plan = plan_harvest(disk)
    problem = [p for p in plan.problems if p.where == str(software)]
    assert problem and said in problem[0].reason
    assert "Windows 7 Professional" not in _keys(plan)
    assert _keys(plan)["WinRAR"] == WINRAR_KEY                    # the files are still read
    assert any(i.name == "Sublime Text" for i in plan.installed)  # and the user's hive


def test_a_hive_of_an_unknown_version_or_not_closed_cleanly_is_read_with_a_warning(tmp_path: Path) -> None:
    import struct

    from tests.support.regf_empty import _checksum
    disk = windows_disk(tmp_path / "v")
    software = disk / "Windows" / "System32" / "config" / "SOFTWARE"
    data = bytearray(software.read_bytes())
    struct.pack_into("<I", data, 0x18, 9)            # format 1.9
    struct.pack_into("<I", data, 0x08, 7)            # secondary sequence differs
    struct.pack_into("<I", data, 0x1FC, _checksum(bytes(data[:508])))
    software.write_bytes(bytes(data))
    plan = plan_harvest(disk)
    reasons = " ".join(p.reason for p in plan.problems)
    assert "format version 1.9" in reasons and "not closed cleanly" in reasons
    assert _keys(plan)["Windows 7 Professional"] == WIN7_KEY


def test_an_unreadable_profile_and_licence_file_are_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything; the permission check needs an ordinary user")
    disk = windows_disk(tmp_path / "u")
    rar = disk / "Program Files" / "WinRAR" / "rarreg.key"
    rar.chmod(0)
    plan = plan_harvest(disk)
    assert any(p.where == str(rar) and "cannot be read" in p.reason for p in plan.problems)


def test_a_binary_or_huge_licence_file_is_named_not_kept(tmp_path: Path) -> None:
    disk = windows_disk(tmp_path / "b")
    (disk / "Program Files" / "WinRAR" / "rarreg.key").write_bytes(bytes(range(256)))
    (disk / "totalcmd" / "wincmd.key").write_bytes(b"x" * (17 * 1024))
    plan = plan_harvest(disk)
    reasons = {p.where.rsplit("/", 1)[-1]: p.reason for p in plan.problems}
    assert "not text" in reasons["rarreg.key"] and "larger than 16 KiB" in reasons["wincmd.key"]
    assert "WinRAR" not in _keys(plan)


def test_macos_disk_bundles_in_xml_and_binary_plists(tmp_path: Path) -> None:
    disk = mac_disk(tmp_path / "mac")
    broken = disk / "Applications" / "Broken.app" / "Contents"
    broken.mkdir(parents=True)
    (broken / "Info.plist").write_bytes(b"<?xml version='1.0'?><plist><dict><key>")
    plan = plan_harvest(disk)
    assert plan.systems == ("macos",)
    apps = {(i.name, i.version) for i in plan.installed}
    assert apps == {("Sublime Text", "4169"), ("Beyond Compare", "4.4.7")}
    assert _keys(plan)["Sublime Text"] == SUBLIME_KEY
    assert any("Broken.app" in p.where for p in plan.problems)


def test_root_must_be_a_folder(cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for target, said in ((tmp_path / "missing", "no such folder"), (tmp_path / "file", "is not a folder")):
        r = cli("harvest", target)
        assert r.code == 2 and said in r.err and "Traceback" not in r.err


def test_hostile_cells_behind_a_valid_root_never_stop_the_harvest(tmp_path: Path) -> None:
    """Random bytes where the keys, lists and values should be: each run ends, the hive is
    either named as damaged or yields what it can, and the files are still read."""
    import random

    disk = windows_disk(tmp_path / "h")
    software = disk / "Windows" / "System32" / "config" / "SOFTWARE"
    good = software.read_bytes()
    for seed in range(12):
        rnd = random.Random(seed)
        data = bytearray(good)
        for _ in range(200):                       # flip bytes past the root key's cell
            data[rnd.randrange(4096 + 0x80, len(data))] = rnd.randrange(256)
        software.write_bytes(bytes(data))
        plan = plan_harvest(disk)
        assert _keys(plan)["WinRAR"] == WINRAR_KEY
        for f in plan.findings:
            assert f.where and (f.key is not None or f.reason)


def _msdm(key: bytes) -> bytes:
    body = (1).to_bytes(4, "little") + bytes(4) + (1).to_bytes(4, "little") + bytes(4) \
        + len(key).to_bytes(4, "little") + key
    return b"MSDM" + (36 + len(body)).to_bytes(4, "little") + b"\x03" + bytes(27) + body


def test_the_oem_key_in_the_running_computers_firmware(tmp_path: Path) -> None:
    from archive.intake.harvest.layout import Layout
    from archive.intake.harvest.plan import harvest_layout
    from archive.intake.harvest.sources import table

    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "MSDM").write_bytes(_msdm(SERVER2019_KEY.encode()))
    plan = harvest_layout(Layout(root=None, firmware=[tables]), table())
    assert _keys(plan)["Microsoft Windows (OEM key in the firmware)"] == SERVER2019_KEY
    (tables / "MSDM").write_bytes(_msdm(b"W269N-WFGWX-YVC9B-4J6C9-T83GX"))
    generic = harvest_layout(Layout(root=None, firmware=[tables]), table()).findings
    assert "generic key" in generic[0].reason
    (tables / "MSDM").write_bytes(_msdm(b"not a key at all, 29 bytes..."))
    bad = harvest_layout(Layout(root=None, firmware=[tables]), table()).findings
    assert bad[0].key is None and "five groups" in bad[0].reason


def test_a_profile_whose_hive_cannot_be_opened_is_named_and_the_rest_goes_on(tmp_path: Path) -> None:
    disk = windows_disk(tmp_path / "p")
    ntuser = disk / "Users" / "jane" / "NTUSER.DAT"
    ntuser.unlink()
    ntuser.mkdir()                                   # even root cannot read a folder as a hive
    (disk / "Users" / "bob" / "AppData" / "Roaming").mkdir(parents=True)
    (disk / "Users" / "bob" / "NTUSER.DAT").symlink_to("/nonexistent/NTUSER.DAT")
    plan = plan_harvest(disk)
    reasons = {p.where: p.reason for p in plan.problems}
    assert "cannot be read" in reasons[str(ntuser)]
    assert "symbolic link" in reasons[str(disk / "Users" / "bob" / "NTUSER.DAT")]
    assert _keys(plan)["Windows 7 Professional"] == WIN7_KEY and _keys(plan)["Sublime Text"]


def test_symbolic_links_on_the_disk_are_not_followed_off_it(tmp_path: Path) -> None:
    outside = tmp_path / "host-secret"
    outside.mkdir()
    (outside / "rarreg.key").write_text("HOST FILE, NOT THE DISK'S\n")
    disk = windows_disk(tmp_path / "l")
    winrar = disk / "Program Files" / "WinRAR"
    (winrar / "rarreg.key").unlink()
    winrar.rmdir()
    winrar.symlink_to(outside)
    (disk / "totalcmd" / "wincmd.key").unlink()
    (disk / "totalcmd" / "wincmd.key").symlink_to(outside / "rarreg.key")
    plan = plan_harvest(disk)
    assert not any("HOST FILE" in (f.key or "") for f in plan.findings)
    assert "WinRAR" not in _keys(plan) and "Total Commander" not in _keys(plan)


def test_fifos_and_devices_under_familiar_names_do_not_hang_the_harvest(tmp_path: Path) -> None:
    disk = windows_disk(tmp_path / "f")
    rar = disk / "Program Files" / "WinRAR" / "rarreg.key"
    ntuser = disk / "Users" / "jane" / "NTUSER.DAT"
    for p in (rar, ntuser):
        p.unlink()
        os.mkfifo(p)                               # opening one to read would wait for a writer
    mac = mac_disk(tmp_path / "m")
    info = mac / "Applications" / "Sublime Text.app" / "Contents" / "Info.plist"
    info.unlink()
    os.mkfifo(info)
    plan = plan_harvest(disk)
    reasons = {p.where: p.reason for p in plan.problems}
    assert "not a regular file" in reasons[str(rar)] and "not a regular file" in reasons[str(ntuser)]
    assert _keys(plan)["Windows 7 Professional"] == WIN7_KEY
    mac_plan = plan_harvest(mac)
    assert any(p.where == str(info) and "not a regular file" in p.reason for p in mac_plan.problems)
    assert {i.name for i in mac_plan.installed} == {"Beyond Compare"}


def test_linux_disk_licence_files_in_etc_and_the_homes(tmp_path: Path) -> None:
    from tests.harvest.disks import OLD_IDEA_KEY, VMWARE_LINUX_SERIAL, linux_disk

    plan = plan_harvest(linux_disk(tmp_path / "linux"))
    assert plan.systems == ("linux",)
    keys = _keys(plan)
    assert keys["VMware Workstation"] == VMWARE_LINUX_SERIAL
    assert keys["Sublime Text"] == SUBLIME_KEY
    assert keys["JetBrains IntelliJIdea2019.3"] == OLD_IDEA_KEY
    vmware = next(f for f in plan.findings if f.product == "VMware Workstation")
    assert vmware.how == "the file's Serial line"


def test_a_vmware_licence_file_without_a_serial_line_says_so(tmp_path: Path) -> None:
    from tests.harvest.disks import linux_disk

    disk = linux_disk(tmp_path / "linux")
    (disk / "etc" / "vmware" / "license-ws-170-e5-202208").write_text("# emptied by hand\n")
    lost = {f.product: f for f in plan_harvest(disk).findings if not f.recoverable}
    assert lost["VMware Workstation"].reason == "the file has no Serial line"


def test_the_running_linux_or_macos_system_is_read_from_this_users_home(tmp_path: Path,
                                                                        monkeypatch) -> None:
    import sys

    if sys.platform == "win32":
        pytest.skip("the running Windows is read through its registry (tests/windows)")
    home = tmp_path / "jane"
    (home / ".config" / "sublime-text" / "Local").mkdir(parents=True)
    (home / ".config" / "sublime-text" / "Local" / "License.sublime_license").write_text(SUBLIME_KEY)
    monkeypatch.setenv("HOME", str(home))
    plan = plan_harvest(None)
    assert plan.root is None and _keys(plan)["Sublime Text"] == SUBLIME_KEY
    assert str(home / ".config" / "sublime-text" / "Local" / "License.sublime_license") in plan.read


def test_a_windows_xp_disk_profiles_in_documents_and_settings_and_office_2003(tmp_path: Path) -> None:
    from tests.harvest.disks import encode_key, reg_hex, sz
    from tests.support.regf_empty import write_hive

    office2003 = "CPM9T-TVPQ6-YK8BH-F2RJ7-4D2TW"          # made up
    root = tmp_path / "xp"
    config = root / "WINDOWS" / "system32" / "config"       # XP's own spelling
    config.mkdir(parents=True)
    write_hive(config / "software", "\n".join([
        "Windows Registry Editor Version 5.00", "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]",
        f'"ProductName"={sz("Microsoft Windows XP")}',
        f'"DigitalProductId"={reg_hex(dpid_with(encode_key(WIN7_KEY)))}', "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Office\11.0\Registration\{90110409-6000-11D3-8CFE-0150048383C9}]",
        f'"ProductName"={sz("Microsoft Office Professional Edition 2003")}',
        f'"DigitalProductId"={reg_hex(dpid_with(encode_key(office2003)))}', ""]) + "\n",
        r"HKEY_LOCAL_MACHINE\SOFTWARE")
    profile = root / "Documents and Settings" / "Jane"
    (profile / "Application Data" / "WinRAR").mkdir(parents=True)
    (profile / "Application Data" / "WinRAR" / "rarreg.key").write_text(WINRAR_KEY)
    (root / "Documents and Settings" / "All Users").mkdir()
    plan = plan_harvest(root)
    keys = _keys(plan)
    assert keys["Microsoft Windows XP"] == WIN7_KEY
    assert keys["Microsoft Office Professional Edition 2003"] == office2003
    assert keys["WinRAR"] == WINRAR_KEY
    assert plan.systems == ("windows",)


def test_windows_old_keeps_the_key_of_the_windows_before_an_upgrade(tmp_path: Path) -> None:
    from tests.harvest.disks import encode_key, reg_hex, sz
    from tests.support.regf_empty import write_hive

    # Windows 10 now (a digital licence: the published generic key), Windows 7's key in Windows.old
    disk = windows_disk(tmp_path / "up", win_dpid=WIN11_DPID)
    config = disk / "Windows.old" / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    write_hive(config / "SOFTWARE", "\n".join([
        "Windows Registry Editor Version 5.00", "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]",
        f'"ProductName"={sz("Windows 7 Home Premium")}',
        f'"DigitalProductId"={reg_hex(dpid_with(encode_key(WIN7_KEY)))}', ""]) + "\n",
        r"HKEY_LOCAL_MACHINE\SOFTWARE")
    plan = plan_harvest(disk)
    assert _keys(plan)["Windows 7 Home Premium"] == WIN7_KEY
    found = next(f for f in plan.findings if f.product == "Windows 7 Home Premium")
    assert "before an upgrade" in found.where
    assert any("generic key" in (f.reason or "") for f in plan.findings)


def test_a_hive_is_read_through_a_map_of_the_file_and_let_go(tmp_path: Path) -> None:
    from archive.intake.harvest.hives import OfflineHive

    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc/self/maps to see the process's file maps")
    disk = windows_disk(tmp_path / "map")
    software = disk / "Windows" / "System32" / "config" / "SOFTWARE"
    hive = OfflineHive(software, "SOFTWARE")
    assert str(software) in maps.read_text()            # mapped, not copied into memory
    assert hive.values("Microsoft\\Windows NT\\CurrentVersion")["ProductName"] == "Windows 7 Professional"
    hive.close()
    assert str(software) not in maps.read_text()
    plan_harvest(disk)
    assert str(software) not in maps.read_text()        # the harvest lets go of every map


def test_a_look_up_stops_after_so_many_subkeys(tmp_path: Path, monkeypatch) -> None:
    """A damaged index can repeat one list of 65,535 keys 65,535 times: a look-up stops counting
    (here at 3, the Uninstall key holding 4) and names the hive as damaged."""
    from archive.intake.harvest import hives

    disk = windows_disk(tmp_path / "loop")
    software = disk / "Windows" / "System32" / "config" / "SOFTWARE"
    monkeypatch.setattr(hives, "MAX_LOOKUP", 3)
    hive = hives.OfflineHive(software, "SOFTWARE")
    with pytest.raises(hives.HiveUnreadable, match="more than 3 subkeys"):
        hive.values("Microsoft\\Windows\\CurrentVersion\\Uninstall\\Not there")
    hive.close()
    monkeypatch.setattr(hives, "MAX_LOOKUP", 2)             # Microsoft\Office holds 3
    plan = plan_harvest(disk)
    assert any("more than 2 subkeys" in p.reason for p in plan.problems)
    assert _keys(plan)["WinRAR"] == WINRAR_KEY


def test_the_mapped_stream_reads_as_regipy_expects_a_file_to(tmp_path: Path) -> None:
    """regipy joins a value of more than 16 KiB (a 'db' record, which Windows writes and hivex
    does not) after asking `seek(0, 2)` for the file's size: the map must answer like a file.
    A read never takes more than MAX_READ, whatever size a damaged value claims."""
    import mmap

    from archive.intake.harvest.hives import MAX_READ, MappedStream

    data = bytes(range(256)) * (MAX_READ // 256 + 100)
    (tmp_path / "f").write_bytes(data)
    with open(tmp_path / "f", "rb") as f:
        stream = MappedStream(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    assert stream.seek(0, 2) == len(data)
    assert stream.seek(10) == 10 and stream.read(5) == data[10:15] and stream.tell() == 15
    assert len(stream.read(2**31)) == MAX_READ and len(stream.read()) <= MAX_READ
    stream.seek(len(data) - 3)
    assert stream.read(100) == data[-3:]
    stream.close()


def test_regipy_joins_a_db_value_through_the_map(tmp_path: Path) -> None:
    """The 'db' record of a value over 16 KiB, laid out as the format describes (a list of
    segment offsets, each segment a cell of at most 16,344 bytes), joined by regipy's own code
    reading through the map."""
    import mmap
    import struct
    from types import SimpleNamespace

    from regipy.registry import NKRecord

    from archive.intake.harvest.hives import MappedStream

    value = bytes(range(256)) * 100                        # 25,600 bytes: two segments
    first, second = value[:0x3FD8], value[0x3FD8:]
    base = 4096                                            # cells are addressed after the header
    data = bytearray(base + 64)
    list_at = len(data) - base - 4
    data += struct.pack("<II", 0, 0)                       # the segment list, filled below
    seg1 = len(data) - base - 4
    data += first
    seg2 = len(data) - base - 4
    data += second
    struct.pack_into("<II", data, base + 4 + list_at, seg1, seg2)
    (tmp_path / "hive").write_bytes(bytes(data))
    with open(tmp_path / "hive", "rb") as f:
        stream = MappedStream(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    db = struct.pack("<2sHI", b"db", 2, list_at)
    joined = NKRecord._parse_indirect_block(stream, SimpleNamespace(value=db, size=len(value)))
    assert joined == value
    stream.close()


def test_without_regipy_harvest_names_the_package_not_damage(tmp_path: Path) -> None:
    from tests.inspect.test_install import arkeep_without

    disk = windows_disk(tmp_path / "nr")
    done = arkeep_without("regipy", "--store", tmp_path / "no-store", "harvest", disk)
    assert done.returncode == 3, done.stderr
    assert "the Python package regipy, which is not installed" in done.stderr
    assert "damaged" not in done.stdout + done.stderr and "Traceback" not in done.stderr
