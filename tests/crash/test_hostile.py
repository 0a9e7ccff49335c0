"""Hostile input: manifests and bundles written to hurt, symlinks planted in a restore target,
the wrong secret. Each gets a clear error, and nothing is written outside the target: the
directory around every target is snapshotted before and compared after.

Then property-based fuzzing: the manifest reader on arbitrary text and on mutated valid
manifests (only ManifestInvalid may escape, and nothing it accepts carries an unsafe file name),
and the bundle reader on mutated valid bundles (only arkeep's own errors may escape, and
whatever it accepts is exactly the sealed plaintext). FUZZ_EXAMPLES examples each (200 by
default; ARKEEP_FUZZ_EXAMPLES raises it).
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pyzipper
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import ArkeepError
from archive.crypto.keyring import Keyring
from archive.replicate.plan import plan_units
from archive.seal.engine import BundleRefused, WrongSecret, seal, unseal
from archive.replicate.sealing import seal_unit, sealed_release_bytes, unseal_unit_to_file
from archive.storage.store import Store
from archive.replicate.units import UnitNamer
from manifests.codec import parse_license, parse_release
from manifests.errors import ManifestInvalid
from manifests.schema import unsafe_filename_reason

from .conftest import one_line
from .sweep import Finding, Lab

FUZZ_EXAMPLES = int(os.environ.get("ARKEEP_FUZZ_EXAMPLES", "200"))
DATA = Path(__file__).resolve().parents[1] / "data"
RID = "crash-test@1.0"

# -- a small store with one release, synced to a directory remote -----------------------------------


@dataclass
class World:
    lab: Lab
    store: Path
    nas: Path
    out: Path  # the directory around every restore target; nothing may change in it

    @property
    def target(self) -> Path:
        return self.out / "target"

    def release(self) -> Any:
        return Store.open(self.store).catalog.load_release(RID)

    def unit_path(self, filename: str) -> Path:
        """The bundle of one artifact of the release on the remote."""
        art = next(a for a in self.release().artifacts if a.filename == filename)
        return self.nas / UnitNamer(self.lab.keyring).object(art.blake3).key

    def wanted(self, filename: str) -> Any:
        art = next(a for a in self.release().artifacts if a.filename == filename)
        return next(w for w in plan_units(Store.open(self.store), self.lab.keyring).units
                    if w.unit.ref == art.blake3)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lab, Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    lab = Lab(root / "lab", big=256 * 1024, medium=64 * 1024, seed=11, fast_kdf=True)
    store = lab.new_store(root / "store")
    lab.add_release(store)
    nas = root / "nas"
    nas.mkdir()
    lab.run("--store", store, "remote", "add", "nas", nas)
    lab.run("--store", store, "sync", "nas")
    return lab, store, nas


@pytest.fixture
def world(base: tuple[Lab, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    lab, store, nas = base
    home = tmp_path / "home"
    shutil.copytree(store, home / "store")
    shutil.copytree(nas, home / "nas")
    config = home / "store" / "arkeep.toml"
    config.write_text(config.read_text().replace(str(nas), str(home / "nas")))
    out = tmp_path / "out"
    out.mkdir()
    (out / "victim.txt").write_text("must never change\n")
    (out / "elsewhere").mkdir()
    monkeypatch.setenv("ARKEEP_PASSPHRASE", lab.env["ARKEEP_PASSPHRASE"])
    monkeypatch.setenv("ARKEEP_STORE", str(home / "store"))
    return World(lab, home / "store", home / "nas", out)


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every entry under `root` (but `skip`): its type and its content or link target."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(root.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", "")
        else:
            found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.name.startswith((".arkeep-", ".tmp-"))]


# -- hostile manifests in the store ----------------------------------------------------------------

HOSTILE_NAMES = [
    "../evil.exe", "../../../../tmp/evil.exe", "/etc/evil.exe", "sub/evil.exe", "..\\evil.exe",
    "C:evil.exe", "evil\x00.exe", "evil\n.exe", "evil\x1b[31m.exe", "evil\r.exe", ".", "..", "",
    "e" * 300 + ".exe",
]


def rewrite_release(world: World, edit: Callable[[dict[str, Any]], None]) -> Path:
    path = world.store / "manifests" / "releases" / f"{RID}.toml"
    table = tomllib.loads(path.read_text())
    edit(table)
    path.write_text(tomli_w.dumps(table))
    return path


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
def test_a_manifest_with_a_hostile_file_name(world: World, name: str, cli) -> None:  # type: ignore[no-untyped-def]
    def edit(table: dict[str, Any]) -> None:
        table["artifact"][0]["filename"] = name
    path = rewrite_release(world, edit)
    before = snapshot(world.out)
    result = cli("restore", RID, "--to", world.target, "--force")
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "damaged manifest" in lines[0] and str(path) in lines[0] \
        and "artifact[0].filename" in lines[0], lines
    assert "\x1b" not in result.err and "\x00" not in result.err  # shown escaped, never raw
    assert snapshot(world.out) == before
    result = cli("verify")
    assert result.code == 1 and "artifact[0].filename" in result.out and RID in result.out


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
def test_restore_refuses_a_hostile_name_even_past_the_manifest_reader(world: World, name: str) -> None:
    """Defence in depth: a Release built in memory (no parser) with a hostile name still writes
    nothing outside the target."""
    from archive.ops.restore import restore_release
    store = Store.open(world.store)
    release = world.release()
    evil = replace(release, artifacts=(replace(release.artifacts[0], filename=name),)
                   + release.artifacts[1:])
    before = snapshot(world.out, skip=world.target)
    with pytest.raises(ArkeepError):
        restore_release(store, evil, world.target, world.lab.keyring, force=True)
    assert snapshot(world.out, skip=world.target) == before
    assert not world.target.exists() or list(world.target.iterdir()) == []


def test_symlinks_planted_in_the_restore_target(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    """A target holding symlinks named like the release's files (and its LICENSE.txt), pointing
    at a file outside and at a path that does not exist yet: restore refuses, with or without
    --force, and neither outside path is touched."""
    release = world.release()
    target = world.target
    target.mkdir()
    (target / release.artifacts[0].filename).symlink_to(world.out / "victim.txt")
    (target / "LICENSE.txt").symlink_to(world.out / "victim.txt")
    (target / release.artifacts[1].filename).symlink_to(world.out / "elsewhere" / "new.exe")
    before = snapshot(world.out)
    for extra in ((), ("--force",), ("--force", "--from", "nas")):
        result = cli("restore", RID, "--to", target, *extra)
        lines = result.err.strip().splitlines()
        assert result.code in (1, 2) and len(lines) == 1, result
        assert any(s in lines[0] for s in ("refusing to write", "will not write through it",
                                           "already exists")), result
    assert snapshot(world.out) == before
    assert (world.out / "victim.txt").read_text() == "must never change\n"
    assert not (world.out / "elsewhere" / "new.exe").exists()


def test_oversized_and_deeply_nested_manifests(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    """Each is named with what is wrong; the good release beside them still restores."""
    releases = world.store / "manifests" / "releases"
    cases = {
        "huge@1.toml": ("schema = 1\nkind = 'release'\nnotes = '" + "x" * (5 * 1024 * 1024) + "'\n",
                        "larger than"),
        "deep@1.toml": ("schema = 1\nkind = 'release'\nx = " + "[" * 100_000 + "]" * 100_000 + "\n",
                        "nested too deeply"),
        "tables@1.toml": ("schema = 1\nkind = 'release'\nx = " + "{a = " * 50_000 + "1" + "}" * 50_000
                          + "\n", "nested too deeply"),
        # tomllib is quadratic in the parts of a dotted key: this took minutes before the guard
        "dotted@1.toml": ("schema = 1\nkind = 'release'\n" + ".".join(["a"] * 60_000) + " = 1\n",
                          "dotted key of more than"),
        "quoted@1.toml": ("schema = 1\nkind = 'release'\n" + ".".join(['"a\\"b"'] * 60_000)
                          + " = 1\n", "dotted key of more than"),
        "binary@1.toml": ("\x00\xff" * 100, "not"),
    }
    for name, (text, _) in cases.items():
        (releases / name).write_bytes(text.encode("utf-8", "surrogateescape")
                                      if name != "binary@1.toml" else b"\x00\xff" * 100)
    result = cli("verify")
    assert result.code == 1 and "Traceback" not in result.err
    for name, (_, reason) in cases.items():
        lines = [line for line in result.out.splitlines() if name.removesuffix(".toml") in line]
        assert lines and any(reason in line for line in lines), (name, result.out[-2000:])
    result = cli("restore", "huge@1", "--to", world.target)
    assert result.code == 1 and "larger than" in result.err and len(result.err.strip().splitlines()) == 1
    result = cli("list")  # lists the good release; says (exit 1) that some manifests are damaged
    assert RID in result.out and "damaged" in result.err and "Traceback" not in result.err, result
    result = cli("restore", RID, "--to", world.target)
    assert result.code == 0, result
    assert leftovers(world.target) == []


def test_a_manifest_naming_an_object_that_does_not_exist(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    """The last file of the release names an object that is nowhere: verify names it, restore
    stops at it (the files before it are complete and verified, no temp file stays) with a line
    that says to run repair, and nothing lands outside the target."""
    ghost = "ab" * 32

    def edit(table: dict[str, Any]) -> None:
        table["artifact"][-1]["blake3"] = ghost
    rewrite_release(world, edit)
    last = world.release().artifacts[-1].filename
    result = cli("verify")
    assert result.code == 1 and f"{RID} / {last}: object missing from the store" in result.out
    before = snapshot(world.out, skip=world.target)
    result = cli("restore", RID, "--to", world.target)
    assert result.code == 1 and "missing from the store" in result.err and "repair" in result.err
    assert snapshot(world.out, skip=world.target) == before
    assert not (world.target / last).exists() and leftovers(world.target) == []
    result = cli("restore", RID, "--to", world.out / "t2", "--from", "nas", "--force")
    assert result.code != 0 and "Traceback" not in result.err, result


# -- hostile units on a remote -----------------------------------------------------------------------


def flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x40
    return bytes(out)


def mac_offset(data: bytes) -> int:
    from archive.seal.zip_layout import read_layout
    layout = read_layout(io.BytesIO(data), len(data))
    return layout.payload_offset + layout.sealed_size - 10


def zip_with(entries: dict[str, bytes], password: bytes | None, deflate: bool = False) -> bytes:
    buf = io.BytesIO()
    method = pyzipper.ZIP_DEFLATED if deflate else pyzipper.ZIP_STORED
    if password is None:
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, data in entries.items():
                zf.writestr(zipfile.ZipInfo(name), data)
    else:
        with pyzipper.AESZipFile(buf, "w", compression=method, encryption=pyzipper.WZ_AES) as zf:
            zf.setpassword(password)
            for name, data in entries.items():
                zf.writestr(name, data)
    return buf.getvalue()


class Zeros:
    """`size` zero bytes as a stream (a bomb's payload, never held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


BOMB_SIZE = 64 * 1024 * 1024


def bomb(entry: str, password: bytes, declared: int | None = None) -> bytes:
    """A deflated bundle of BOMB_SIZE zero bytes (~64 KiB on the remote); with `declared`, its
    headers are patched to declare that many bytes instead (the MAC covers only the data)."""
    out = io.BytesIO()
    seal(Zeros(BOMB_SIZE), out, password=password, entry_name=entry, size=BOMB_SIZE, compress=True)
    data = bytearray(out.getvalue())
    if declared is not None:
        eocd = data.rfind(b"PK\x05\x06")
        cd_offset = struct.unpack_from("<I", data, eocd + 16)[0]
        struct.pack_into("<I", data, cd_offset + 24, declared)  # central header, uncompressed
        desc = data.rfind(b"PK\x07\x08", 0, cd_offset)
        struct.pack_into("<I", data, desc + 12, declared)  # data descriptor, uncompressed
    return bytes(data)


def hostile_units(world: World) -> dict[str, bytes]:
    """Name -> bytes to put in place of the installer's bundle on the remote."""
    original = world.unit_path(world.lab.installer.name).read_bytes()
    unit = world.wanted(world.lab.installer.name).unit
    password = world.lab.keyring.zip_password
    other = Keyring(b"\x01" * 20).zip_password
    plain = world.lab.installer.read_bytes()
    return {
        "empty file": b"",
        "truncated to 30 bytes": original[:30],
        "truncated to half": original[: len(original) // 2],
        "last byte missing": original[:-1],
        "flipped byte in the local header": flip(original, 8),
        "flipped byte in the entry name": flip(original, 31),
        "flipped byte in the data": flip(original, len(original) // 2),
        "flipped byte in the MAC": flip(original, mac_offset(original)),
        "flipped byte in the central directory": flip(original, original.rfind(b"PK\x01\x02") + 10),
        "flipped byte in the end record": flip(original, original.rfind(b"PK\x05\x06") + 12),
        "zip entry ../../evil.exe (right password)": zip_with({"../../evil.exe": plain}, password),
        "zip entry /tmp/evil.exe (right password)": zip_with({"/tmp/evil.exe": plain}, password),
        "zip with the right entry and ../evil.exe": zip_with({unit.entry_name: plain,
                                                              "../evil.exe": b"MZ evil"}, password),
        "unencrypted zip entry ../evil.exe": zip_with({"../evil.exe": plain}, None),
        "unencrypted zip with the right entry": zip_with({unit.entry_name: plain}, None),
        "zip bomb declaring 64 MiB": bomb(unit.entry_name, password),
        "zip bomb inflating past what it declares": bomb(unit.entry_name, password,
                                                         declared=len(plain)),
        "sealed with another archive's secret": zip_with({unit.entry_name: plain}, other),
        "another object's bundle": world.unit_path(world.lab.invoice.name).read_bytes(),
    }


def test_hostile_units_on_a_remote_are_refused_by_every_reader(world: World) -> None:
    """Each hostile unit in turn, read the way verify --remote, rebuild, repair and restore --from
    read it: refused with arkeep's own error, no output file, nothing written anywhere but the
    temp directory, which is empty again. Returns quickly: the bomb is refused by what it
    declares, before inflating."""
    import time

    from archive.replicate.ledger import Ledger
    from archive.ops.verify_remote import verify_remote
    from archive.replicate.remotes import get_remote, open_remote
    store = Store.open(world.store)
    wanted = world.wanted(world.lab.installer.name)
    bundle = world.unit_path(world.lab.installer.name)
    work = world.out / "work"
    work.mkdir()
    tried = 0
    for name, data in hostile_units(world).items():
        bundle.write_bytes(data)
        before = snapshot(world.out, skip=work)
        dest = work / "object"
        started = time.monotonic()
        with open(bundle, "rb") as f, pytest.raises(ArkeepError):
            unseal_unit_to_file(f, wanted.unit, world.lab.keyring, dest, wanted.expected_digest,
                                f"test: {name}", max_size=wanted.size)
        assert time.monotonic() - started < 5, name
        assert not dest.exists() and list(work.iterdir()) == [], name
        assert snapshot(world.out, skip=work) == before, name
        backend = open_remote(get_remote(store, "nas"))
        with Ledger(store.state_dir / "ledger.sqlite") as ledger:
            report = verify_remote(backend, world.lab.keyring, plan_units(store, world.lab.keyring), ledger)
        findings = {Finding.of(f) for f in report.problems}
        assert findings == {Finding(RID, world.lab.installer.name, "remote nas", "bad")}, \
            (name, report.problems)
        tried += 1
    assert not list(world.out.rglob("*evil*"))
    print(f"\n{tried} hostile units refused by the unit reader and by verify --remote")


def test_rebuild_verify_and_restore_from_a_remote_full_of_hostile_units(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    """Three objects of the release replaced on the remote (a ../ zip, a zip bomb, a truncated
    bundle): verify --remote names the three, restore --from stops at the first with nothing
    outside the target, rebuild fetches nothing bad and names each problem; nothing is written
    outside the new store."""
    units = hostile_units(world)
    lab = world.lab
    world.unit_path(lab.installer.name).write_bytes(units["zip entry ../../evil.exe (right password)"])
    invoice = world.wanted(lab.invoice.name)
    world.unit_path(lab.invoice.name).write_bytes(bomb(invoice.unit.entry_name, lab.keyring.zip_password))
    lic = world.unit_path(lab.license_file.name)
    lic.write_bytes(lic.read_bytes()[:-40])
    result = cli("verify", "--remote", "nas")
    assert result.code == 1
    for name in (lab.installer.name, lab.invoice.name, lab.license_file.name):
        assert f"PROBLEM {RID} / {name}: bad copy" in result.out, result.out
    before = snapshot(world.out, skip=world.target)
    result = cli("restore", RID, "--to", world.target, "--from", "nas")
    assert result.code == 1 and "nas" in result.err and len(result.err.strip().splitlines()) == 1, result
    assert snapshot(world.out, skip=world.target) == before
    assert leftovers(world.target) == [] and not list(world.target.rglob("*evil*"))
    assert not (world.target / lab.installer.name).exists()
    new = world.out / "rebuilt"
    before = snapshot(world.out, skip=new)
    result = lab.run("--store", new, "rebuild", "--from", world.nas, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    for name in (lab.installer.name, lab.invoice.name, lab.license_file.name):
        assert f"{RID} / {name}" in result.stdout, result.stdout
    # The bomb is refused by what it declares, not after 64 MiB were inflated to disk.
    assert f"{RID} / {lab.invoice.name}: the bundle declares {BOMB_SIZE} bytes" in result.stdout, \
        result.stdout
    assert snapshot(world.out, skip=new) == before
    rebuilt = Store.open(new)
    assert [d for d, _ in rebuilt.iter_objects()] == []  # no bad object was adopted
    assert leftovers(new) == [] and not list(new.rglob("*evil*"))


def test_a_hostile_sealed_manifest_on_a_remote(world: World) -> None:
    """A release unit that authenticates (sealed with the right secret, as a compromised machine
    could) but names a file '../../evil.exe' and an object that is not there: rebuild refuses
    the manifest by name, writes no release, nothing outside the new store."""
    lab = world.lab
    namer = UnitNamer(lab.keyring)
    release = world.release()
    text = sealed_release_bytes(release, namer).decode().replace(
        f'filename = "{lab.installer.name}"', 'filename = "../../evil.exe"')
    unit = namer.release(RID)
    buf = io.BytesIO()
    data = text.encode()
    seal_unit(io.BytesIO(data), len(data), unit, buf, lab.keyring)
    (world.nas / unit.key).write_bytes(buf.getvalue())
    new = world.out / "rebuilt"
    before = snapshot(world.out, skip=new)
    result = lab.run("--store", new, "rebuild", "--from", world.nas, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    assert "artifact[0].filename" in result.stdout and "path separator" in result.stdout, result.stdout
    assert snapshot(world.out, skip=new) == before
    assert Store.open(new).catalog.release_files() == []
    assert not list(world.out.rglob("*evil*"))


def test_the_wrong_secret(world: World, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A wrong passphrase: restore (of a release with a key), verify --remote and rebuild stop
    with exit 2 before writing anything; rebuild does not even create the target."""
    lab = world.lab
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "not the passphrase")
    before = snapshot(world.out)
    for args in (("restore", RID, "--to", world.target), ("verify", "--remote", "nas")):
        result = cli(*args)
        assert result.code == 2 and "wrong passphrase" in result.err, (args, result)
    env = {**lab.env, "ARKEEP_PASSPHRASE": "not the passphrase"}
    result = lab.run("--store", world.out / "rebuilt", "rebuild", "--from", world.nas, env=env,
                     check=False)
    one_line(result, 2, "wrong passphrase")
    assert snapshot(world.out) == before


# -- property-based fuzzing ---------------------------------------------------------------------------

GOLDEN_RELEASE = (DATA / "golden-release.toml").read_text()
GOLDEN_LICENSE = (DATA / "golden-license.toml").read_text()
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COUNTS: dict[str, int] = {}


def parse_any(text: str | bytes) -> None:
    """Only ManifestInvalid may escape, and an accepted release has only safe file names."""
    for parse in (parse_release, parse_license):
        try:
            obj = parse(text, "fuzz")
        except ManifestInvalid:
            continue
        for art in getattr(obj, "artifacts", ()):
            assert unsafe_filename_reason(art.filename) is None, art.filename


@st.composite
def mutated(draw: Any, source: str) -> str:
    """A valid manifest with a few edits: slices replaced, deleted or duplicated, lines swapped."""
    text = source
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "duplicate", "swap"]))
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 40)))
        if kind == "replace":
            text = text[:i] + draw(st.text(max_size=20)) + text[j:]
        elif kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            piece = draw(st.sampled_from(['"', "'", "[", "]", "{", "}", "=", "\n", "\\", "..", "/",
                                          "\x00", "[[artifact]]\n", "schema = 2\n", "filename = \"../x\"\n",
                                          "size = -1\n", '"""', "1e999", "\u202e"]))
            text = text[:i] + piece + text[i:]
        elif kind == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            lines = text.splitlines(keepends=True)
            if len(lines) > 1:
                a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                lines[a], lines[b] = lines[b], lines[a]
                text = "".join(lines)
    return text


@FUZZ
@given(st.one_of(st.text(max_size=2000), st.binary(max_size=2000)))
def test_fuzz_manifest_reader_on_arbitrary_input(data: str | bytes) -> None:
    COUNTS["manifest, arbitrary"] = COUNTS.get("manifest, arbitrary", 0) + 1
    parse_any(data)


@FUZZ
@given(st.one_of(mutated(GOLDEN_RELEASE), mutated(GOLDEN_LICENSE)))
def test_fuzz_manifest_reader_on_mutated_manifests(text: str) -> None:
    COUNTS["manifest, mutated"] = COUNTS.get("manifest, mutated", 0) + 1
    parse_any(text)
    parse_any(text.encode("utf-8", "surrogatepass"))


PLAIN = bytes(range(256)) * 12 + b"installer bytes " * 100  # compresses: both methods get used
PASSWORD = Keyring(b"\x07" * 20).zip_password


def _bundle(compress: bool) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(PLAIN), out, password=PASSWORD, entry_name="f" * 64, size=len(PLAIN),
         compress=compress)
    return out.getvalue()


BUNDLES = {"stored": _bundle(False), "deflated": _bundle(True)}
PLAIN_DIGEST = hashlib.sha256(PLAIN).hexdigest()


@st.composite
def mutated_bundle(draw: Any) -> bytes:
    data = bytearray(BUNDLES[draw(st.sampled_from(sorted(BUNDLES)))])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "flip", "set", "truncate", "delete", "insert", "dup"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[i:]
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 32))]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        else:
            j = min(len(data), i + draw(st.integers(1, 64)))
            data[j:j] = data[i:j]
    return bytes(data)


@FUZZ
@given(mutated_bundle())
def test_fuzz_bundle_reader_on_mutated_bundles(data: bytes) -> None:
    """Only ArkeepError subclasses escape; an accepted bundle gives exactly the sealed bytes."""
    COUNTS["bundle, mutated"] = COUNTS.get("bundle, mutated", 0) + 1
    out = io.BytesIO()
    try:
        result = unseal(io.BytesIO(data), out, password=PASSWORD, max_size=1 << 20)
    except ArkeepError:
        return
    assert hashlib.sha256(out.getvalue()).hexdigest() == PLAIN_DIGEST
    assert result.plain_size == len(PLAIN)


def test_fuzz_counts() -> None:
    """Runs after the three fuzz tests (file order) and prints how many examples each ran."""
    print("\nfuzz examples run: " + ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items())))


def test_bundle_refused_before_output_when_it_declares_too_much() -> None:
    """The bundle reader checks what a bundle declares before writing a byte (the zip bomb's
    first line of defence; the second is the inflate bound)."""
    out = io.BytesIO()
    with pytest.raises(BundleRefused):
        unseal(io.BytesIO(bomb("f" * 64, PASSWORD)), out, password=PASSWORD, max_size=1 << 20)
    assert out.getvalue() == b""
    with pytest.raises(WrongSecret):
        unseal(io.BytesIO(BUNDLES["stored"]), out, password=b"wrong", max_size=1 << 20)
    assert out.getvalue() == b""
