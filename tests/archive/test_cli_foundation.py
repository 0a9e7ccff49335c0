"""The main job end to end through the command line: add, list, show, verify, restore.

Most tests run arkeep in-process (`cli`); a few as a separate process without a terminal
(`run_arkeep`), which is how scripts and cron use it.
"""
from __future__ import annotations

import filecmp
import json
import os
import stat
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.errors import IntegrityError
from archive.ops.restore import restore_release
from archive.system.paths import safe_join
from archive.storage.store import Store
from manifests.model import Artifact, Release
from tests.conftest import PASSPHRASE, run_arkeep

KEY = "ARKEEP-TEST-KEY-7F3A-91QZ-XK42"
RID = "acme-studio@7.5.1+windows-x64"








def b3sum(path: Path) -> str:
    return subprocess.run(["b3sum", "--no-names", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and permission bits."""
    return {str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    paths = {
        "installer": src / "AcmeStudio-7.5.1-x64.exe",
        "license": src / "copyright",
        "invoice": src / "invoice 2024-03.pdf",
        "key": tmp_path / "key.txt",
    }
    paths["installer"].write_bytes(os.urandom(300_000) + b"MZ tail")
    paths["license"].write_text("Acme Studio EULA\nYou may install on two machines.\n")
    paths["invoice"].write_bytes(b"%PDF-1.4 invoice 4711 " + os.urandom(2000))
    paths["key"].write_text(KEY + "\n")
    return paths


def add_args(files: dict[str, Path], *extra: str | Path) -> list[str | Path]:
    return ["add", files["installer"], "--product", "Acme Studio", "--version", "7.5.1",
            "--vendor", "Acme Corp", "--platform", "windows-x64",
            "--license-file", files["license"], "--invoice", files["invoice"],
            "--key-file", files["key"], *extra]


@pytest.fixture
def archived(cli, store_dir: Path, files: dict[str, Path]) -> Store:  # type: ignore[no-untyped-def]
    result = cli(*add_args(files, "--licensed-to", "Jane Doe", "--order-number", "ORD-4711",
                           "--price", "199.00", "--currency", "eur", "--purchased", "2024-03-01"))
    assert result.code == 0, result.err
    return Store.open(store_dir)


def the_release(store: Store) -> Release:
    return store.catalog.load_release(RID)


# -- add, list, show ------------------------------------------------------------------------------

def test_add_then_list_and_show(cli, archived: Store, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    release = the_release(archived)
    assert [(a.role, a.filename) for a in release.artifacts] == [
        ("installer", "AcmeStudio-7.5.1-x64.exe"), ("license-file", "copyright"),
        ("invoice", "invoice 2024-03.pdf")]
    assert len(release.licenses) == 1
    assert all(a.license == release.licenses[0] for a in release.artifacts)
    # Every stored object is named by what b3sum prints for the original file; the installer is
    # kept as it is, the licence file and the invoice encrypted at rest under the same name.
    for art, key in zip(release.artifacts, ("installer", "license", "invoice")):
        assert art.blake3 == b3sum(files[key])
        assert art.size == files[key].stat().st_size
        if key == "installer":
            assert archived.object_path(art.blake3).name == art.blake3
            assert filecmp.cmp(archived.object_path(art.blake3), files[key], shallow=False)
        else:
            assert archived.encrypted_path(art.blake3).name == art.blake3 + ".enc"
            assert not archived.object_path(art.blake3).exists()
            with archived.open_object(art.blake3, archived.unlock(PASSPHRASE)) as f:
                assert f.read() == files[key].read_bytes()

    listed = cli("list")
    assert listed.code == 0 and RID in listed.out and "Acme Studio 7.5.1" in listed.out
    assert cli("list", "photoshop").out.strip() == "No releases match."
    as_json = json.loads(cli("list", "--json").out)
    assert [(r["id"], r["files"], r["licenses"], r["vendor"]) for r in as_json] == [(RID, 3, 1, "Acme Corp")]
    assert as_json[0]["size"] == sum(files[k].stat().st_size for k in ("installer", "license", "invoice"))

    shown = cli("show", "ACME STUDIO@7.5.1")
    assert shown.code == 0, shown.err
    assert KEY not in shown.out + shown.err
    assert "hidden; --reveal shows it" in shown.out
    assert "AcmeStudio-7.5.1-x64.exe" in shown.out and "Jane Doe" in shown.out
    assert "199.00 EUR" in shown.out

    shown_json = json.loads(cli("show", "acme-studio@7.5.1", "--json").out)
    record = shown_json["license_records"][0]
    assert record["has_key"] is True and "key" not in record
    assert KEY not in json.dumps(shown_json)
    assert record["order_number"] == "ORD-4711" and record["purchase_date"] == "2024-03-01"


def test_show_reveal_prints_the_key(cli, archived: Store) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli("show", RID, "--reveal", "--json").out)
    assert data["license_records"][0]["key"] == KEY
    text = cli("show", RID, "--reveal")
    assert text.code == 0 and KEY in text.out


def test_adding_the_same_release_twice_changes_nothing(cli, archived: Store,  # type: ignore[no-untyped-def]
                                                       files: dict[str, Path]) -> None:
    def archive_files() -> dict[str, tuple[bytes, int]]:
        # The audit log (log/audit.jsonl) records every writing command, one that found nothing
        # to do included; everything else stays byte for byte.
        return {k: v for k, v in snapshot(archived.root).items() if not k.startswith("log/")}

    before = archive_files()
    logged = len(cli("log").out.splitlines())
    again = cli(*add_args(files))
    assert again.code == 0, again.err
    assert "already archived" in again.out
    assert archive_files() == before
    as_json = json.loads(cli(*add_args(files), "--json").out)
    assert as_json["unchanged"] is True and as_json["new_objects"] == 0
    assert archive_files() == before
    assert len(cli("log").out.splitlines()) == logged + 2


def test_adding_a_file_to_an_existing_release_updates_it(cli, archived: Store,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.eml"
    receipt.write_text("From: shop@example.com\n\nThanks!\n")
    result = cli("add", receipt, "--product", "Acme Studio", "--version", "7.5.1",
                 "--platform", "windows-x64")
    assert result.code == 0, result.err
    assert "Updated" in result.out and "receipt.eml" in result.out
    release = the_release(archived)
    assert [a.filename for a in release.artifacts][-1] == "receipt.eml"
    assert len(release.licenses) == 1


def test_a_different_file_under_a_name_already_archived_is_refused(cli, archived: Store,  # type: ignore[no-untyped-def]
                                                                   files: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    before = snapshot(archived.root / "manifests")
    other = tmp_path / "other"
    other.mkdir()
    impostor = other / files["installer"].name
    impostor.write_bytes(b"a different build")
    result = cli("add", impostor, "--product", "Acme Studio", "--version", "7.5.1",
                 "--platform", "windows-x64")
    assert result.code == 2 and "already has a different file named" in result.err
    assert snapshot(archived.root / "manifests") == before


def test_several_installers_at_once_and_duplicate_names(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    a, b = tmp_path / "setup-x86.exe", tmp_path / "setup-x64.exe"
    a.write_bytes(b"32-bit")
    b.write_bytes(b"64-bit")
    assert cli("add", a, b, "--product", "Foo", "--version", "1").code == 0
    release = Store.open(store_dir).catalog.load_release("foo@1")
    assert [x.filename for x in release.installers()] == ["setup-x86.exe", "setup-x64.exe"]
    (tmp_path / "d").mkdir()
    twin = tmp_path / "d" / "setup-x86.exe"
    twin.write_bytes(b"other")
    result = cli("add", a, twin, "--product", "Bar", "--version", "1")
    assert result.code == 2 and "share the name" in result.err
    assert not Store.open(store_dir).catalog.has_release("bar@1")


def test_key_from_stdin_in_a_separate_process(store_dir: Path, files: dict[str, Path]) -> None:
    env = {**os.environ}
    result = run_arkeep("add", files["installer"], "--product", "Stdin", "--version", "1",
                        "--key-stdin", env=env, input=b"STDIN-KEY-0042-ZZ\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""                 # no progress bar and no noise without a terminal
    shown = run_arkeep("show", "stdin@1", "--reveal", "--json", env=env)
    assert json.loads(shown.stdout)["license_records"][0]["key"] == "STDIN-KEY-0042-ZZ"
    empty = run_arkeep("add", files["invoice"], "--product", "Stdin", "--version", "2",
                       "--key-stdin", env=env, input=b"\n")
    assert empty.returncode == 2 and "no licence key" in empty.stderr


def test_no_licence_key_in_plain_text_anywhere_in_the_store(cli, archived: Store,  # type: ignore[no-untyped-def]
                                                            recovery_code: str) -> None:
    # Touch everything that writes to the store once more.
    assert cli("verify").code == 0
    assert cli("show", RID, "--reveal").code == 0
    needles = [KEY.encode(), KEY.lower().encode(), KEY.encode("utf-16-le"),
               recovery_code.encode(), recovery_code.replace("-", "").encode()]
    scanned = 0
    for path in archived.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            scanned += 1
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {path}"
    assert scanned >= 7   # arkeep.toml, key.toml, lock, 3 objects, 2 manifests


# -- verify -----------------------------------------------------------------------------------------

def test_verify_ok(cli, archived: Store) -> None:  # type: ignore[no-untyped-def]
    result = cli("verify")
    assert result.code == 0, result.out + result.err
    assert result.out.startswith("OK:") and "PROBLEM" not in result.out
    data = json.loads(cli("verify", "--json").out)
    assert data["ok"] is True and data["problems"] == [] and data["objects_checked"] == 3


def test_verify_finds_one_flipped_byte_and_names_release_and_file(cli, archived: Store) -> None:  # type: ignore[no-untyped-def]
    art = the_release(archived).artifacts[0]
    obj = archived.object_path(art.blake3)
    os.chmod(obj, 0o644)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01
    obj.write_bytes(data)
    os.chmod(obj, 0o444)
    result = cli("verify")
    assert result.code == 1
    problems = [line for line in result.out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1
    assert RID in problems[0] and art.filename in problems[0] and "BLAKE3" in problems[0]
    report = json.loads(cli("verify", "--json").out)
    assert report["ok"] is False
    assert [(p["release"], p["file"]) for p in report["problems"]] == [(RID, art.filename)]


def test_verify_names_a_missing_object(cli, archived: Store) -> None:  # type: ignore[no-untyped-def]
    art = the_release(archived).artifacts[2]
    archived.stored_path(art.blake3).unlink()
    result = cli("verify")
    assert result.code == 1
    line = next(line for line in result.out.splitlines() if line.startswith("PROBLEM"))
    assert RID in line and art.filename in line and "missing" in line


def test_verify_names_a_missing_licence_record_and_a_bad_manifest(cli, archived: Store) -> None:  # type: ignore[no-untyped-def]
    lid = the_release(archived).licenses[0]
    archived.catalog.license_path(lid).unlink()
    (archived.catalog.releases_dir / "broken@1.toml").write_text("schema = 1\nkind = ")
    result = cli("verify")
    assert result.code == 1
    assert any(lid in line and RID in line for line in result.out.splitlines())
    assert any("broken@1" in line and "TOML" in line for line in result.out.splitlines())


# -- restore ----------------------------------------------------------------------------------------

def test_restore_is_byte_identical_with_the_key(cli, archived: Store, files: dict[str, Path],  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    target = tmp_path / "restored"
    result = cli("restore", "Acme Studio@7.5.1", "--to", target)
    assert result.code == 0, result.err
    for key in ("installer", "license", "invoice"):
        restored = target / files[key].name
        assert filecmp.cmp(restored, files[key], shallow=False), key
        assert b3sum(restored) == b3sum(files[key])
    licence = (target / "LICENSE.txt").read_text()
    assert KEY in licence and "Jane Doe" in licence and "ORD-4711" in licence
    assert stat.S_IMODE((target / "LICENSE.txt").stat().st_mode) == 0o600
    assert sorted(os.listdir(target)) == sorted(
        ["AcmeStudio-7.5.1-x64.exe", "copyright", "invoice 2024-03.pdf", "LICENSE.txt"])
    assert KEY not in result.out + result.err


def test_restore_never_overwrites_without_force(cli, archived: Store, files: dict[str, Path],  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    target = tmp_path / "restored"
    assert cli("restore", RID, "--to", target).code == 0
    edited = target / files["installer"].name
    edited.write_bytes(b"the user's own edit")
    before = snapshot(target)
    again = cli("restore", RID, "--to", target)
    assert again.code == 2 and "--force" in again.err and "already exists" in again.err
    assert snapshot(target) == before
    forced = cli("restore", RID, "--to", target, "--force")
    assert forced.code == 0, forced.err
    assert filecmp.cmp(edited, files["installer"], shallow=False)
    assert not [n for n in os.listdir(target) if n.startswith(".arkeep-restore-")]


def test_restore_from_a_corrupt_object_writes_no_file_of_that_name(cli, archived: Store,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    art = the_release(archived).artifacts[0]
    obj = archived.object_path(art.blake3)
    os.chmod(obj, 0o644)
    data = bytearray(obj.read_bytes())
    data[0] ^= 0xFF
    obj.write_bytes(data)
    target = tmp_path / "restored"
    result = cli("restore", RID, "--to", target)
    assert result.code == 1
    assert art.filename in result.err and "corrupt" in result.err
    assert "Traceback" not in result.err
    assert not (target / art.filename).exists()
    assert not [n for n in os.listdir(target) if n.startswith(".arkeep-restore-")]


def test_restore_with_a_missing_object_says_so(cli, archived: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    art = the_release(archived).artifacts[1]
    archived.stored_path(art.blake3).unlink()
    result = cli("restore", RID, "--to", tmp_path / "t")
    assert result.code == 1 and art.filename in result.err and "missing" in result.err
    assert not (tmp_path / "t" / art.filename).exists()


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("points", ["outside", "inside"])
def test_restore_refuses_a_planted_symlink(cli, archived: Store, files: dict[str, Path],  # type: ignore[no-untyped-def]
                                           tmp_path: Path, force: bool, points: str) -> None:
    target = tmp_path / "restored"
    target.mkdir()
    victim = (tmp_path / "victim.txt") if points == "outside" else (target / "victim.txt")
    victim.write_text("precious")
    link = target / files["installer"].name
    link.symlink_to(victim)
    result = cli("restore", RID, "--to", target, *(["--force"] if force else []))
    assert result.code in (1, 2), result.out + result.err
    assert "Traceback" not in result.err
    assert victim.read_text() == "precious"
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert not (target / "copyright").exists()                 # refused before writing anything


def test_restore_refuses_a_symlink_at_license_txt(cli, archived: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "restored"
    target.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (target / "LICENSE.txt").symlink_to(victim)
    result = cli("restore", RID, "--to", target, "--force")
    assert result.code in (1, 2) and victim.read_text() == "precious"


@pytest.mark.parametrize("hostile", ["../evil", "../../evil", "/tmp/evil-arkeep-abs", "sub/evil", ".."])
def test_restore_refuses_a_manifest_with_a_hostile_file_name(cli, archived: Store,  # type: ignore[no-untyped-def]
                                                             files: dict[str, Path], tmp_path: Path,
                                                             hostile: str) -> None:
    path = archived.catalog.release_path(RID)
    text = path.read_text()
    name = files["installer"].name
    assert f'filename = "{name}"' in text
    path.write_text(text.replace(f'filename = "{name}"', f'filename = "{hostile}"'))
    outer = tmp_path / "outer"
    target = outer / "target"
    outer.mkdir()
    before_outer = sorted(os.listdir(outer))
    before_tmp = sorted(os.listdir(tmp_path))
    result = cli("restore", RID, "--to", target)
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.err and str(path) in result.err
    assert sorted(os.listdir(outer)) == before_outer
    assert sorted(os.listdir(tmp_path)) == before_tmp
    assert not Path("/tmp/evil-arkeep-abs").exists()
    assert not target.exists() or os.listdir(target) == []
    assert cli("verify").code == 1


@pytest.mark.parametrize("hostile", ["../evil", "/tmp/evil-arkeep-abs2", "a/../../evil", ".."])
def test_restore_guards_paths_even_for_a_release_that_bypassed_validation(archived: Store,
                                                                          tmp_path: Path,
                                                                          hostile: str) -> None:
    """Second line of defence: restore_release itself never writes outside the target."""
    good = the_release(archived)
    bad = Release(id=good.id, product=good.product, version=good.version, created=good.created,
                  artifacts=(Artifact(role="installer", filename=hostile, size=good.artifacts[0].size,
                                      blake3=good.artifacts[0].blake3),))
    outer = tmp_path / "outer"
    outer.mkdir()
    with pytest.raises(IntegrityError, match="refusing to write"):
        restore_release(archived, bad, outer / "target", keyring=None)
    assert os.listdir(outer) in ([], ["target"])
    assert not (outer / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/evil-arkeep-abs2").exists()


def test_safe_join(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "setup.exe") == Path(os.path.realpath(tmp_path)) / "setup.exe"
    for bad in ("../x", "/etc/passwd", "a/b", "..", "", "x\x00y"):
        with pytest.raises(IntegrityError):
            safe_join(tmp_path, bad)


def test_an_archived_license_txt_is_not_replaced_by_the_licence_record(cli, store_dir: Path,  # type: ignore[no-untyped-def]
                                                                       files: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    """A vendor licence file called LICENSE.txt must come back byte for byte; the rendered
    licence record with the key goes next to it under another name."""
    vendor_license = tmp_path / "LICENSE.txt"
    vendor_license.write_text("Vendor EULA: the original text, byte for byte.\n")
    assert cli("add", files["installer"], "--product", "Lic", "--version", "1",
               "--license-file", vendor_license, "--key-file", files["key"]).code == 0
    target = tmp_path / "restored"
    result = cli("restore", "lic@1", "--to", target)
    assert result.code == 0, result.err
    assert filecmp.cmp(target / "LICENSE.txt", vendor_license, shallow=False)
    assert KEY in (target / "LICENSE-KEY.txt").read_text()
    assert "LICENSE-KEY.txt" in result.out


def test_restore_without_a_key_needs_no_passphrase(cli, store_dir: Path, files: dict[str, Path],  # type: ignore[no-untyped-def]
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("add", files["installer"], "--product", "Free", "--version", "1",
               "--license-kind", "other", "--seller", "Shop").code == 0
    assert cli("add", files["installer"], "--product", "Billed", "--version", "1",
               "--invoice", files["invoice"]).code == 0
    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    env = {k: v for k, v in os.environ.items() if k != "ARKEEP_PASSPHRASE"}
    result = run_arkeep("restore", "free@1", "--to", tmp_path / "t", env=env)
    assert result.returncode == 0, result.stderr
    assert filecmp.cmp(tmp_path / "t" / files["installer"].name, files["installer"], shallow=False)
    assert "Key" not in (tmp_path / "t" / "LICENSE.txt").read_text()
    # An invoice is kept encrypted at rest: restoring it asks for the passphrase.
    billed = run_arkeep("restore", "billed@1", "--to", tmp_path / "b", env=env)
    assert billed.returncode == 2 and "passphrase is needed" in billed.stderr


def test_the_whole_job_in_separate_processes(store_dir: Path, files: dict[str, Path],
                                             tmp_path: Path) -> None:
    env = {**os.environ, "ARKEEP_STORE": str(store_dir), "ARKEEP_PASSPHRASE": PASSPHRASE}
    added = run_arkeep(*add_args(files), env=env)
    assert added.returncode == 0, added.stderr
    assert RID in added.stdout and KEY not in added.stdout
    assert run_arkeep("verify", env=env).returncode == 0
    target = tmp_path / "restored"
    restored = run_arkeep("restore", "acme studio@7.5.1", "--to", target, env=env)
    assert restored.returncode == 0, restored.stderr
    assert filecmp.cmp(target / files["installer"].name, files["installer"], shallow=False)
    assert KEY in (target / "LICENSE.txt").read_text()
    when = datetime.now(timezone.utc)
    assert the_release(Store.open(store_dir)).created <= when


def test_json_output_is_json_dumps_with_indent_two_however_it_is_batched() -> None:
    """emit_json writes in batches; the text must be what json.dumps(indent=2) gives, across
    batch boundaries, with non-ASCII kept and dates as strings."""
    import io
    from datetime import date

    from archive.cli.context import Context

    data = [{"id": f"tool-{i:05d}@1.0", "title": "Wörterbuch ✓", "date": date(2026, 3, 3),
             "files": [{"n": i, "ok": i % 2 == 0, "none": None}]} for i in range(6000)]
    out = io.StringIO()
    Context(store_path=Path("unused"), json=True, out=out).emit_json(data)
    text = out.getvalue()
    assert text == json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    assert json.loads(text)[5999]["date"] == "2026-03-03" and "Wörterbuch ✓" in text


def test_licence_kind_follows_what_was_given(cli, store_dir: Path, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    """A licence made from --license-file alone is a licence-file licence, not a serial; with a
    key it is a serial; --license-kind always wins."""
    def kind_of(rid: str) -> str:
        (record,) = json.loads(cli("show", rid, "--json").out)["license_records"]
        return record["kind"]

    assert cli("add", files["installer"], "--product", "Lf", "--version", "1",
               "--license-file", files["license"]).code == 0
    assert kind_of("lf@1") == "licence-file"
    assert cli("add", files["installer"], "--product", "Lf", "--version", "2",
               "--license-file", files["license"], "--key-file", files["key"]).code == 0
    assert kind_of("lf@2") == "serial"
    assert cli("add", files["installer"], "--product", "Lf", "--version", "3",
               "--license-file", files["license"], "--license-kind", "volume").code == 0
    assert kind_of("lf@3") == "volume"
