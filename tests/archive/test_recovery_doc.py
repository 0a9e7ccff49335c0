"""The 2045 drill: docs/RECOVERY.md followed literally, with 7-Zip, b3sum and a POSIX shell alone.

The document's ```sh blocks run, in order, in one bash session whose PATH holds only the tools
the document names (7zz, b3sum, rclone and the POSIX text tools): no arkeep, no Python. Only
the lines that set a variable (REPLICA=, CODE=, UNIT=, ...) get this test's values, as the
person would type theirs. What the test then checks, it reads from the session's output or the
files the commands wrote, as the person would on screen. A command that drifts from the format
fails here.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archive.replicate.units import UnitNamer
from archive.storage.store import Store
from tests.archive.replication_support import KEY, PASSPHRASE, PRODUCT, add_sample
from tests.conftest import ROOT

DOC = ROOT / "docs" / "RECOVERY.md"
TOOLS = ("7zz", "b3sum", "rclone", "grep", "awk", "xargs", "sed", "tail", "cat", "mv", "mkdir")
SENTINEL = "__drill_step_done__"
MULTI_LINE_KEY = ("-----BEGIN TREE LICENSE-----\nTREE-ENT-7Q4K-PL2M-88ZX\n"
                  'Licensee: "Hartmann & Söhne" C:\\Plans\\\n-----END TREE LICENSE-----')
WIN_KEY = "TREE-WIN-3F7H-9KLM"


def doc_blocks(lang: str = "sh") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def block(starting: str) -> str:
    """The one sh block of the document whose first command line starts with `starting`."""
    found = [b for b in doc_blocks() if starting in b.splitlines()[0] or
             any(line.startswith(starting) for line in b.splitlines())]
    assert len(found) == 1, f"expected one block with {starting!r} in {DOC.name}, found {len(found)}"
    return found[0]


def filled(text: str, **values: str) -> str:
    """`text` with each `NAME='example'` line set to this drill's value, nothing else changed."""
    for name, value in values.items():
        text, n = re.subn(rf"^{name}='[^'\n]*'$", f"{name}='{value}'", text, flags=re.M)
        assert n == 1, f"{DOC.name}: the block has no `{name}='…'` line to fill in:\n{text}"
    return text


class Shell:
    """One bash session, as a person at a terminal: state (cd, variables) carries over."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        tools = home / "tools"
        tools.mkdir(parents=True)
        for name in TOOLS:
            found = shutil.which(name)
            assert found, f"{name} is not installed (scripts/test installs it)"
            (tools / name).symlink_to(found)
        env = {"PATH": str(tools), "HOME": str(home), "LANG": "C.UTF-8", **(extra_env or {})}
        self.proc = subprocess.Popen([shutil.which("bash") or "/bin/bash", "--norc", "--noprofile"],
                                     cwd=home, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")

    def run(self, commands: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(commands + f"\necho {SENTINEL}\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if line.rstrip("\n") == SENTINEL:
                return "".join(out)
            out.append(line)
        raise AssertionError("the shell ended early:\n" + "".join(out))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@dataclass
class Drill:
    store_dir: Path
    code: str
    originals: dict[str, bytes] = field(repr=False)      # file name -> bytes archived


@pytest.fixture
def drill(cli, store_dir: Path, tmp_path: Path) -> Drill:  # type: ignore[no-untyped-def]
    """Three releases: Acme Studio 7.5.1 (installer, licence file, key); Tree Planner 2024
    Enterprise for windows-x64 (two installers, a key) and for macos-arm64 (a multi-line key)."""
    first = add_sample(cli, tmp_path)
    src = tmp_path / "tree"
    src.mkdir()
    setup, addons, dmg = src / "TreePlanner-2024-setup.exe", src / "TreePlanner-addons.msi", \
        src / "TreePlanner-2024.dmg"
    for path, size in ((setup, 150_000), (addons, 40_000), (dmg, 90_000)):
        path.write_bytes(os.urandom(size))
    (src / "win.key").write_text(WIN_KEY + "\n")
    (src / "mac.key").write_text(MULTI_LINE_KEY + "\n", encoding="utf-8")
    common = ["--product", "Tree Planner", "--version", "2024", "--edition", "Enterprise"]
    assert cli("add", setup, addons, *common, "--platform", "windows-x64",
               "--key-file", src / "win.key").code == 0
    assert cli("add", dmg, *common, "--platform", "macos-arm64", "--key-file", src / "mac.key").code == 0
    code = Store.open(store_dir).unlock(PASSPHRASE).recovery_code
    originals = {p.name: p.read_bytes() for p in (first.installer, first.license_file, setup, addons, dmg)}
    return Drill(store_dir, code, originals)


def licence_unit(store_dir: Path, release_id: str) -> str:
    """The path in a replica of a release's licence record bundle (to damage it, as a disk would)."""
    store = Store.open(store_dir)
    (lid,) = store.catalog.load_release(release_id).licenses
    return UnitNamer(store.unlock(PASSPHRASE)).license(lid).key


def flip_a_byte_of_the_content(bundle: Path) -> None:
    """One bit of the sealed record changed, its zip headers intact: what bit rot looks like."""
    with zipfile.ZipFile(bundle) as z:
        (info,) = z.infolist()
    data = bytearray(bundle.read_bytes())
    start = info.header_offset + 30 + int.from_bytes(data[info.header_offset + 26:info.header_offset + 28],
                                                     "little") \
        + int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    at = start + 18 + (info.compress_size - 28) // 2        # past salt and check, before the MAC
    data[at] ^= 0x04
    bundle.write_bytes(bytes(data))


def find_releases(sh: Shell) -> dict[str, dict[str, str]]:
    """Step 3's output, as the person reads it: file -> its product, version, edition, platform."""
    out = sh.run(block("grep -rl --include='*.toml' '^kind = \"release\"'"))
    found: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        m = re.fullmatch(r'(\S+\.toml): (product|version|edition|platform) = "(.*)"', line)
        assert m, f"step 3 printed an unexpected line: {line!r}\n{out}"
        found.setdefault(m[1], {})[m[2]] = m[3]
    return found


def artifacts_of(manifest: str) -> list[dict[str, str]]:
    out = []
    for part in manifest.split("[[artifact]]")[1:]:
        fields = dict(re.findall(r'^(role|filename|blake3|unit) = "([^"]*)"$', part, flags=re.M))
        assert set(fields) == {"role", "filename", "blake3", "unit"}, part
        out.append(fields)
    return out


def key_as_read(record: str) -> str:
    """The key as docs/RECOVERY.md step 5 says to read it: between double quotes, or every
    character after `key = '''` and its line break up to the closing `'''`."""
    literal = re.search(r"^key = '''\n(.*?)'''$", record, flags=re.M | re.S)
    if literal:
        return literal[1]
    basic = re.search(r'^key = "([^"\\]*)"$', record, flags=re.M)
    assert basic, record
    return basic[1]


def take_out(sh: Shell, artifact: dict[str, str], work: Path) -> str:
    """Step 4 for one artifact; returns what b3sum printed."""
    out = sh.run(filled(block("mv \"$UNIT\""), UNIT=artifact["unit"], NAME=artifact["filename"]))
    line = out.strip().splitlines()[-1]
    assert (work / artifact["filename"]).is_file(), out
    return line


def check_all(sh: Shell) -> str:
    return sh.run(block("for f in *.toml; do"))


def test_drill_from_a_folder_replica_with_a_damaged_bundle(cli, drill: Drill, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    nas, usb = tmp_path / "NAS share", tmp_path / "backup disk"      # spaces: quoting must hold
    for name, where in (("nas", nas), ("usb", usb)):
        assert cli("remote", "add", name, where, "--create").code == 0
    assert cli("sync").code == 0
    bundle = licence_unit(drill.store_dir, "tree-planner@2024+enterprise+macos-arm64")
    flip_a_byte_of_the_content(nas / bundle)
    damaged = Path(bundle).stem

    work = tmp_path / "person"
    sh = Shell(work)
    try:
        # 1. A typing mistake first: 7-Zip says so, then the corrected code opens the manifests.
        typo = drill.code[:-1] + ("A" if drill.code[-1] != "A" else "B")
        opened = sh.run(filled(block("7zz x -p\"$CODE\" -aoa \"$REPLICA/units"), REPLICA=str(nas), CODE=typo))
        assert "Wrong password" in opened
        opened = sh.run(f"CODE='{drill.code}'\n" + block("7zz x -p\"$CODE\" -aoa \"$REPLICA/units").splitlines()[-1])
        recovered = work / "recovered"
        manifests = sorted(recovered.iterdir())
        assert manifests and all(p.suffix == ".toml" for p in manifests), "only manifests come out"
        assert len(manifests) == 3 + 3, "three releases and three licence records"
        # 7-Zip blames the password for the damaged bundle only, and still writes the file.
        assert "Wrong password?" in opened and damaged in opened
        assert (recovered / f"{damaged}.toml").exists()

        # 2. The hand check names the damaged record and only it.
        assert check_all(sh).splitlines() == [f"DAMAGED: {damaged}.toml"]
        assert MULTI_LINE_KEY.replace("ENT", "GNT") not in (recovered / f"{damaged}.toml").read_text("utf-8",
                                                                                                      "replace")
        retaken = sh.run(filled(block("OTHER="), OTHER=str(usb), U=damaged))
        assert "Everything is Ok" in retaken, retaken
        assert check_all(sh) == "", "after the other replica's copy every manifest checks"

        # 3. Find the release: the two Tree Planner releases differ by platform.
        releases = find_releases(sh)
        assert sorted((r["product"], r["version"], r.get("edition", ""), r.get("platform", ""))
                      for r in releases.values()) == [
            (PRODUCT, "7.5.1", "", ""), ("Tree Planner", "2024", "Enterprise", "macos-arm64"),
            ("Tree Planner", "2024", "Enterprise", "windows-x64")]

        for wanted in ("windows-x64", "macos-arm64"):
            (file,) = [f for f, r in releases.items() if r.get("platform") == wanted]
            manifest = sh.run(f"cat {file}")
            # 4. Each artifact out under its real name, proved by b3sum.
            for artifact in artifacts_of(manifest):
                printed = take_out(sh, artifact, work)
                assert printed.split()[0] == artifact["blake3"], printed
                assert (work / artifact["filename"]).read_bytes() == drill.originals[artifact["filename"]]
            # 5. The key, read as the document says.
            (lid,) = re.findall(r'"(lic-[0-9a-z]+)"', re.search(r"^licenses = \[(.*?)\]", manifest,
                                                                  flags=re.M | re.S)[1])
            record = sh.run(filled(block("LIC="), LIC=lid))
            assert 'kind = "license"' in record
            assert key_as_read(record) == (MULTI_LINE_KEY if wanted == "macos-arm64" else WIN_KEY)
        assert {"TreePlanner-2024-setup.exe", "TreePlanner-addons.msi", "TreePlanner-2024.dmg"} <= \
            {p.name for p in work.iterdir()}
    finally:
        sh.close()


def test_drill_from_an_s3_replica_fetched_with_rclone(cli, drill: Drill, s3_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = s3_env.new_bucket_name("drill")
    assert cli("remote", "add", "cloud", f"s3://{bucket}/arkeep", "--offsite").code == 0
    assert cli("sync").code == 0
    kit = tmp_path / "kit.txt"
    assert cli("key", "export", "--recovery-kit", kit).code == 0
    kit_text = kit.read_text()
    assert s3_env.endpoint in kit_text and f"{bucket}/arkeep" in kit_text
    assert s3_env.access_key not in kit_text and s3_env.secret_key not in kit_text

    work = tmp_path / "person"
    sh = Shell(work)
    try:
        # The S3 section: credentials as the person sets them, the command as the kit prints it.
        (fetch,) = [b for b in doc_blocks() if "rclone copy" in b]
        exported = re.sub(r"^export AWS_ACCESS_KEY_ID=.*$",
                          f"export AWS_ACCESS_KEY_ID='{s3_env.access_key}' "
                          f"AWS_SECRET_ACCESS_KEY='{s3_env.secret_key}'", fetch, flags=re.M)
        (kit_fetch,) = re.findall(r"^    (rclone copy .*\n    .*)$", kit_text, flags=re.M)
        kit_fetch = kit_fetch.replace("\n    ", "\n")
        doc_fetch = exported.split("\n", 1)[1].strip()
        assert re.sub(r"'[^']*'", "'…'", kit_fetch) == re.sub(r"'[^']*'", "'…'", doc_fetch)
        fetched = sh.run(exported.split("\n", 1)[0] + "\n" + kit_fetch + "\necho rclone=$?")
        assert "rclone=0" in fetched, fetched
        replica = work / "s3-replica"
        assert (replica / "key.toml").is_file() and list(replica.glob("units/*/*.zip"))

        sh.run(filled(block("7zz x -p\"$CODE\" -aoa \"$REPLICA/units"), REPLICA=str(replica), CODE=drill.code))
        assert check_all(sh) == ""
        releases = find_releases(sh)
        (file,) = [f for f, r in releases.items() if r["product"] == PRODUCT]
        manifest = sh.run(f"cat {file}")
        for artifact in artifacts_of(manifest):
            assert take_out(sh, artifact, work).split()[0] == artifact["blake3"]
            assert (work / artifact["filename"]).read_bytes() == drill.originals[artifact["filename"]]
        (lid,) = re.findall(r'"(lic-[0-9a-z]+)"', manifest.split("[[artifact]]")[0])
        assert key_as_read(sh.run(filled(block("LIC="), LIC=lid))) == KEY
    finally:
        sh.close()


def test_the_kit_gives_the_documents_commands(cli, drill: Drill, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every command of the document's procedure is on the printed kit, character for character,
    with the recovery code filled in; no printed command line is long enough to wrap."""
    from archive.present.kit import COMMAND_WIDTH

    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    for name in ("kit.txt", "kit.html"):
        assert cli("key", "export", "--recovery-kit", tmp_path / name).code == 0
    text = (tmp_path / "kit.txt").read_text()
    page = (tmp_path / "kit.html").read_text()
    import html

    # Not on the kit: the S3 download (its own section there) and recombining recovery sheets
    # (the kit holds the code itself; tests/archive/test_shamir.py runs that block).
    procedure = [b for b in doc_blocks() if "rclone" not in b and "ssss-combine" not in b]
    assert len(procedure) == 6
    for doc_block in procedure:
        mine = doc_block.replace("ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567", drill.code)
        assert "\n".join(f"    {line}" for line in mine.splitlines()) in text, mine
        assert f"<pre>{html.escape(mine)}</pre>" in page, mine
    assert all(len(line) <= COMMAND_WIDTH + 4 for line in text.splitlines()), \
        [line for line in text.splitlines() if len(line) > COMMAND_WIDTH + 4]
    assert "white-space: pre;" in page
    for kit in (text, page):
        assert "the digits 2 to 7 only" in kit and drill.code in kit and "nas" in kit
    assert re.search(r"Printed +: \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)


def test_a_replica_added_after_the_kit_was_printed_is_named_until_a_new_kit_is(cli, drill: Drill, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("key", "export", "--recovery-kit", tmp_path / "kit1.txt").code == 0
    added = cli("remote", "add", "nas", tmp_path / "nas", "--create")
    assert added.code == 0 and "out of date (it does not list nas)" in added.err, added.err
    synced = cli("sync")
    assert synced.code == 0 and "out of date" in synced.err
    assert cli("key", "export", "--recovery-kit", tmp_path / "kit2.txt").code == 0
    assert "out of date" not in cli("sync").err
    assert "nas" in (tmp_path / "kit2.txt").read_text()
    removed = cli("remote", "remove", "nas")
    assert "it lists nas, no longer a replica" in removed.err, removed.err
