"""Old system disks for the harvest tests: folders laid out like Windows, macOS and Linux disks,
with registry hives written by hivex (`hivexregedit --merge`) from .reg text.

The Windows product-key bytes come from published examples where there are any: the
DigitalProductId and DigitalProductId4 of a Windows 11 24H2 VM and the key bytes of a Windows
Server 2019 evaluation, both with their keys, from dissect.target's tests
(tests/plugins/os/windows/test_productkey.py). Keys of our own (the third-party serials, the
Office 2010 key) are made up, and encoded by `encode_key` below, written from the format's
description independently of arkeep's decoder.
"""
from __future__ import annotations

import plistlib
from pathlib import Path

from tests.support.regf_empty import write_hive

ALPHABET = "BCDFGHJKMPQRTVWXY2346789"

# Published: a Windows 11 24H2 VM's values (key VK7JG-NPHTM-C97JM-9MPGT-3V66T, Windows's default
# key for a Pro digital licence) and a Windows Server 2019 evaluation's 15 key bytes.
WIN11_DPID = bytes.fromhex(
    "a40000000300000030303333302d38303030302d30303030302d414139363500ec0c00005b54485d5831392d3938383431000000"
    "ec0c00000000a8d27b6e89814f6d0900000000004d700f685d032237000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000d7b3eb3a")
WIN11_KEY = "VK7JG-NPHTM-C97JM-9MPGT-3V66T"
SERVER2019_BYTES = bytes.fromhex("d71000000000288b1b9eaf44f3d70800")[:15]
SERVER2019_KEY = "J4WNC-H9BG3-6XRX4-3XD8K-Y7XRX"

# Made up for these tests (any 25 characters of the alphabet make a key the format can hold).
WIN7_KEY = "HQ7DP-KM2GX-CRW8T-J3VYB-64Q9R"
OFFICE2010_KEY = "TK3GW-4RDX8-PJ9MC-YVQ2T-BH6KF"
VMWARE_SERIAL = "5A02H-AU243-TZJ49-GTC7K-3C61N"
WINRAR_KEY = "RAR registration data\nJane Doe\nSingle PC usage license\nUID=1a2b3c4d5e6f7a8b9c0d\n" \
             "64122122509c0d6b1e4f2e1d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2\n"
TOTALCMD_KEY = "Total Commander licence\nRegistered to: Jane Doe\nLicence no. 123456\n"
SUBLIME_KEY = "----- BEGIN LICENSE -----\nJane Doe\nSingle User License\nEA7E-1234567\n" \
              "0C1D2E3F 4A5B6C7D 8E9F0A1B 2C3D4E5F\n------ END LICENSE ------\n"
BC_KEY = "--- BEGIN LICENSE KEY ---\nH1bJTd2SauPv5Garuaq0Ig43uqq5NJOEw94wxdZTpU-pFB9GmyPk677gJ\n" \
         "--- END LICENSE KEY -----\n"
JETBRAINS_KEY = "<certificate-key>\nJANEDOE-ABCDE-12345-FGHIJ\n"

SECRETS = (WIN7_KEY, OFFICE2010_KEY, VMWARE_SERIAL, SERVER2019_KEY, "UID=1a2b3c4d5e6f7a8b9c0d",
           "Licence no. 123456", "EA7E-1234567", "H1bJTd2SauPv5Garuaq0Ig43uqq5NJOEw94wxdZTpU",
           "JANEDOE-ABCDE-12345-FGHIJ")


def encode_key(key: str) -> bytes:
    """The 15 bytes a product key is kept as: base 24, least significant byte first; a key with
    an N (Windows 8 and later) keeps the N's position as its most significant digit and sets bit
    3 of the last byte."""
    chars = key.replace("-", "")
    new = "N" in chars
    if new:
        pos = chars.index("N")
        digits = [pos] + [ALPHABET.index(c) for c in chars[:pos] + chars[pos + 1:]]
    else:
        digits = [ALPHABET.index(c) for c in chars]
    number = 0
    for d in digits:
        number = number * 24 + d
    raw = bytearray(number.to_bytes(15, "little"))
    if new:
        raw[14] |= 0x08
    return bytes(raw)


def dpid_with(key_bytes: bytes, offset: int = 52, size: int = 164) -> bytes:
    blob = bytearray(size)
    blob[0:4] = size.to_bytes(4, "little")
    blob[offset:offset + 15] = key_bytes
    return bytes(blob)


def reg_hex(data: bytes, kind: int = 3) -> str:
    return f"hex({kind:x}):" + ",".join(f"{b:02x}" for b in data)


def sz(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def software_reg(win_dpid: bytes, win_dpid4: bytes | None = None) -> str:
    office = dpid_with(encode_key(OFFICE2010_KEY), offset=808, size=1272)
    office_volume = dpid_with(bytes(15), offset=808, size=1272)
    lines = [
        "Windows Registry Editor Version 5.00", "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]",
        f'"ProductName"={sz("Windows 7 Professional")}',
        f'"RegisteredOwner"={sz("Jane Doe")}',
        f'"DigitalProductId"={reg_hex(win_dpid)}',
    ]
    if win_dpid4 is not None:
        lines.append(f'"DigitalProductId4"={reg_hex(win_dpid4)}')
    lines += [
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Office\14.0\Registration\{90140000-0011-0000-0000-0000000FF1CE}]",
        f'"ProductName"={sz("Microsoft Office Professional Plus 2010")}',
        f'"DigitalProductId"={reg_hex(office)}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Office\14.0\Registration\{90140000-0012-0000-0000-0000000FF1CE}]",
        f'"ProductName"={sz("Microsoft Office Standard 2010")}',
        f'"DigitalProductId"={reg_hex(office_volume)}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Office\16.0\Registration\{90160000-0011-0000-0000-0000000FF1CE}]",
        f'"ProductName"={sz("Microsoft Office Professional Plus 2016")}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Office\ClickToRun\Configuration]",
        f'"ProductReleaseIds"={sz("ProPlus2016Retail")}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\VMware, Inc.\VMware Workstation\License.ws.16.0.e5.202001]",
        f'"Serial"={sz(VMWARE_SERIAL)}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\WinRAR archiver]",
        f'"DisplayName"={sz("WinRAR 5.91 (64-bit)")}',
        f'"DisplayVersion"={sz("5.91.0")}',
        f'"Publisher"={sz("win.rar GmbH")}',
        f'"InstallDate"={sz("20200614")}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\{5E4F3A2B-OFFICE}]",
        f'"DisplayName"={sz("Microsoft Office Professional Plus 2016")}',
        f'"DisplayVersion"={sz("16.0.4266.1001")}',
        f'"Publisher"={sz("Microsoft Corporation")}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\KB123456]",
        f'"DisplayName"={sz("Security Update for Office (KB123456)")}',
        f'"ParentKeyName"={sz("OFFICE16")}',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Hidden]",
        f'"DisplayName"={sz("A system component")}',
        '"SystemComponent"=dword:00000001',
        "",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\Total Commander]",
        f'"DisplayName"={sz("Total Commander (Remove or Repair)")}',
        f'"DisplayVersion"={sz("10.00")}',
        f'"Publisher"={sz("Ghisler Software GmbH")}',
        "",
    ]
    return "\n".join(lines) + "\n"


def ntuser_reg() -> str:
    return "\n".join([
        "Windows Registry Editor Version 5.00", "",
        r"[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Uninstall\Adobe Creative Cloud]",
        f'"DisplayName"={sz("Adobe Creative Cloud")}',
        f'"DisplayVersion"={sz("5.9.0.372")}',
        f'"Publisher"={sz("Adobe Inc.")}',
        "",
        r"[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Uninstall\Sublime Text_is1]",
        f'"DisplayName"={sz("Sublime Text")}',
        f'"DisplayVersion"={sz("Build 4169")}',
        "",
    ]) + "\n"


def windows_disk(root: Path, win_dpid: bytes | None = None, win_dpid4: bytes | None = None) -> Path:
    """A Windows system disk: SOFTWARE and one user's NTUSER.DAT, program folders, AppData."""
    config = root / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    dpid = win_dpid if win_dpid is not None else dpid_with(encode_key(WIN7_KEY))
    write_hive(config / "SOFTWARE", software_reg(dpid, win_dpid4), r"HKEY_LOCAL_MACHINE\SOFTWARE")
    home = root / "Users" / "jane"
    roaming = home / "AppData" / "Roaming"
    roaming.mkdir(parents=True)
    write_hive(home / "NTUSER.DAT", ntuser_reg(), "HKEY_CURRENT_USER", name="NTUSER.DAT")
    (root / "Users" / "Public").mkdir()
    (root / "Program Files" / "WinRAR").mkdir(parents=True)
    (root / "Program Files" / "WinRAR" / "rarreg.key").write_text(WINRAR_KEY)
    (root / "totalcmd").mkdir()
    (root / "totalcmd" / "wincmd.key").write_text(TOTALCMD_KEY)
    (roaming / "Sublime Text" / "Local").mkdir(parents=True)
    (roaming / "Sublime Text" / "Local" / "License.sublime_license").write_text(SUBLIME_KEY)
    (roaming / "Scooter Software" / "Beyond Compare 4").mkdir(parents=True)
    (roaming / "Scooter Software" / "Beyond Compare 4" / "BC4Key.txt").write_text(BC_KEY)
    (roaming / "JetBrains" / "IntelliJIdea2023.2").mkdir(parents=True)
    (roaming / "JetBrains" / "IntelliJIdea2023.2" / "idea.key").write_bytes(
        b"\xff\xff" + JETBRAINS_KEY.encode("utf-16-le"))
    return root


def mac_disk(root: Path) -> Path:
    """A macOS disk: two app bundles (XML and binary Info.plist), a Sublime Text licence."""
    apps = root / "Applications"
    for name, version, fmt in (("Sublime Text", "4169", plistlib.FMT_XML),
                               ("Beyond Compare", "4.4.7", plistlib.FMT_BINARY)):
        contents = apps / f"{name}.app" / "Contents"
        contents.mkdir(parents=True)
        info = {"CFBundleName": name, "CFBundleShortVersionString": version,
                "CFBundleIdentifier": f"com.example.{name.replace(' ', '').lower()}"}
        (contents / "Info.plist").write_bytes(plistlib.dumps(info, fmt=fmt))
    (root / "Library" / "Application Support").mkdir(parents=True)
    support = root / "Users" / "jane" / "Library" / "Application Support"
    (support / "Sublime Text" / "Local").mkdir(parents=True)
    (support / "Sublime Text" / "Local" / "License.sublime_license").write_text(SUBLIME_KEY)
    return root


VMWARE_LINUX_SERIAL = "JU090-6039P-08409-8J0QH-2YR7F"      # made up
OLD_IDEA_KEY = "<certificate-key>\nOLDIDEA-2019-LICENCE\n"


def linux_disk(root: Path) -> Path:
    """A Linux disk: VMware's licence file in /etc, Sublime Text in ~/.config, an IntelliJ IDEA
    2019 licence in its pre-2020 folder."""
    vmware = root / "etc" / "vmware"
    vmware.mkdir(parents=True)
    (vmware / "license-ws-170-e5-202208").write_text(
        '# VMware software license\nStartFields = "Cpt, ProductID, LicenseVersion, LicenseType"\n'
        f'Serial = "{VMWARE_LINUX_SERIAL}"\nLicenseVersion = "17.0"\n')
    home = root / "home" / "jane"
    (home / ".config" / "sublime-text" / "Local").mkdir(parents=True)
    (home / ".config" / "sublime-text" / "Local" / "License.sublime_license").write_text(SUBLIME_KEY)
    (home / ".IntelliJIdea2019.3" / "config").mkdir(parents=True)
    (home / ".IntelliJIdea2019.3" / "config" / "idea.key").write_bytes(
        b"\xff\xff" + OLD_IDEA_KEY.encode("utf-16-le"))
    return root
