"""export --csv (read back with the csv module), export --bagit (checked with the Library of
Congress bagit library), and the printable recovery kit."""
from __future__ import annotations

import csv
import os
import random
import re
import stat
import subprocess
import sys
from pathlib import Path

import bagit
import pytest

from archive.crypto import keys
from archive.ops.init import init_store
from archive.present.kit_html import qr_svg
from archive.storage.store import Store
from tests.conftest import PASSPHRASE, ROOT

KEY = "EXPORT-KEY-4F7A-99QX-SECRET"
KEY2 = "EXPORT-KEY2-1111-SECRET"


def add_release(cli, tmp_path: Path, product: str = "Acme Studio", version: str = "7.5.1",  # type: ignore[no-untyped-def]
                key: str | None = KEY, installer: str = "AcmeStudio-7.5.1-x64.exe",
                extra: tuple[str, ...] = ()) -> Path:
    src = tmp_path / f"src-{product}-{version}-{key}".replace(" ", "_")
    src.mkdir(parents=True, exist_ok=True)
    inst = src / installer
    rng = random.Random(f"{product}@{version}")       # the same release: the same bytes
    inst.write_bytes(rng.randbytes(50_000))
    invoice = src / "invoice-2024.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice " + rng.randbytes(64))
    args = ["add", inst, "--product", product, "--version", version, "--invoice", invoice, *extra]
    if key is not None:
        kf = src / "key.txt"
        kf.write_text(key + "\n")
        args += ["--key-file", kf]
    result = cli(*args)
    assert result.code == 0, result.err
    return inst


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


# ---- CSV ---------------------------------------------------------------------------------------

def test_inventory_csv_one_row_per_release_and_licence(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_release(cli, tmp_path)
    add_release(cli, tmp_path, key=KEY2)                # the same release, a second licence
    add_release(cli, tmp_path, product="=HYPERLINK(\"http://x\")", version="1", key=None,
                installer="evil.exe")
    out = tmp_path / "inventory.csv"
    result = cli("export", "--csv", out)
    assert result.code == 0, result.err
    rows = read_rows(out)
    assert len(rows) == 3
    acme = [r for r in rows if r["release"] == "acme-studio@7.5.1"]
    assert len(acme) == 2 and len({r["license"] for r in acme}) == 2
    assert all(r["key"] == "(hidden)" and r["installers"] == "AcmeStudio-7.5.1-x64.exe" for r in acme)
    # The invoice proves the first licence (artifacts link to the licence they belong to).
    assert sorted(r["invoices"] for r in acme) == ["", "invoice-2024.pdf"]
    evil = next(r for r in rows if r["version"] == "1")
    assert evil["product"].startswith("'=")             # a spreadsheet shows it, never runs it
    assert evil["key"] == ""                            # a licence record (the invoice) without a key
    raw = out.read_bytes()
    assert KEY.encode() not in raw and KEY2.encode() not in raw
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    again = cli("export", "--csv", out)
    assert again.code == 2 and "--force" in again.err
    revealed = cli("export", "--csv", out, "--force", "--reveal")
    assert revealed.code == 0
    assert {r["key"] for r in read_rows(out) if r["release"] == "acme-studio@7.5.1"} == {KEY, KEY2}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    one = tmp_path / "one.csv"
    assert cli("export", "acme-studio@7.5.1", "--csv", one).code == 0
    assert {r["release"] for r in read_rows(one)} == {"acme-studio@7.5.1"}


def test_inventory_lists_licences_no_release_names(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     keepass_kdbx) -> None:
    from tests.formats.conftest import import_args
    assert cli(*import_args(keepass_kdbx, tmp_path)).code == 0
    out = tmp_path / "inv.csv"
    assert cli("export", "--csv", out).code == 0
    rows = read_rows(out)
    vw = next(r for r in rows if r["product"] == "Vectorworks")
    assert vw["release"] == "" and vw["license_kind"] == "subscription" and vw["key"] == "(hidden)"
    assert vw["account_hint"] == "(hidden)" and vw["extra_keys"] == "(hidden)"


# ---- BagIt -------------------------------------------------------------------------------------

def test_bag_is_valid_for_the_library_of_congress_validator(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = add_release(cli, tmp_path, installer="Setup 100% v7.5.1.exe")
    bag_dir = tmp_path / "bags" / "acme"
    result = cli("export", "acme-studio@7.5.1", "--bagit", bag_dir)
    assert result.code == 0, result.err
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert bag.is_valid()
    assert bag.algorithms == ["sha512"]
    # Keys masked: the invoice, a document that can print the key, is left out and named.
    assert sorted(bag.payload_files()) == ["data/Setup 100% v7.5.1.exe"]
    assert (bag_dir / "data" / inst.name).read_bytes() == inst.read_bytes()
    assert bag.info["External-Identifier"] == "acme-studio@7.5.1"
    assert bag.info["Payload-Oxum"] == f"{inst.stat().st_size}.1"
    assert bag.info["Arkeep-Withheld"] == "invoice-2024.pdf"
    assert "invoice-2024.pdf" in (bag_dir / "arkeep" / "WITHHELD.txt").read_text()
    assert "1 document(s) that can hold a key left out (invoice-2024.pdf" in result.out
    tags = set(bag.tagfile_entries())
    assert {"blake3sums.txt", "arkeep/release.toml", "bag-info.txt"} <= tags
    assert any(re.fullmatch(r"arkeep/lic-[a-z0-9]+\.toml", t) for t in tags)
    # BLAKE3 as a tag file that b3sum checks, and nothing named like a manifest of another algorithm.
    checked = subprocess.run(["b3sum", "--check", "blake3sums.txt"], cwd=bag_dir, capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert sorted(p.name for p in bag_dir.glob("*manifest-*.txt")) == ["manifest-sha512.txt",
                                                                        "tagmanifest-sha512.txt"]
    for path in bag_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    # The bagit.py command line agrees.
    cli_check = subprocess.run([sys.executable, "-m", "bagit", "--validate", str(bag_dir)],
                               capture_output=True, text=True, check=False)
    assert cli_check.returncode == 0, cli_check.stderr


def test_a_flipped_byte_in_the_payload_makes_the_bag_invalid(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = add_release(cli, tmp_path)
    bag_dir = tmp_path / "bag"
    assert cli("export", "acme-studio@7.5.1", "--bagit", bag_dir).code == 0
    payload = bag_dir / "data" / inst.name
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0x01
    payload.write_bytes(bytes(data))
    assert not bagit.Bag(str(bag_dir)).is_valid()
    with pytest.raises(bagit.BagValidationError) as caught:
        bagit.Bag(str(bag_dir)).validate()
    assert any(isinstance(d, bagit.ChecksumMismatch) and d.path == f"data/{inst.name}"
               for d in caught.value.details)
    assert subprocess.run(["b3sum", "--check", "--quiet", "blake3sums.txt"], cwd=bag_dir,
                          capture_output=True, check=False).returncode != 0


def test_bag_with_reveal_holds_the_key_and_refuses_a_used_dir(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_release(cli, tmp_path)
    bag_dir = tmp_path / "bag"
    assert cli("export", "acme-studio@7.5.1", "--bagit", bag_dir, "--reveal").code == 0
    assert bagit.Bag(str(bag_dir)).is_valid()
    assert KEY in (bag_dir / "arkeep" / "LICENSE.txt").read_text()
    lic_toml = next((bag_dir / "arkeep").glob("lic-*.toml"))
    assert f'key = "{KEY}"' in lic_toml.read_text()
    assert stat.S_IMODE(lic_toml.stat().st_mode) == 0o600
    assert sorted(bagit.Bag(str(bag_dir)).payload_files()) == ["data/AcmeStudio-7.5.1-x64.exe",
                                                                "data/invoice-2024.pdf"]
    assert not (bag_dir / "arkeep" / "WITHHELD.txt").exists()
    again = cli("export", "acme-studio@7.5.1", "--bagit", bag_dir)
    assert again.code == 2 and "not an empty directory" in again.err


def test_a_corrupt_object_is_never_bagged(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_release(cli, tmp_path)
    store = Store.open(store_dir)
    art = store.catalog.load_release("acme-studio@7.5.1").installers()[0]
    obj = store.object_path(art.blake3)
    os.chmod(obj, 0o644)
    data = bytearray(obj.read_bytes())
    data[10] ^= 0xFF
    obj.write_bytes(bytes(data))
    result = cli("export", "acme-studio@7.5.1", "--bagit", tmp_path / "bag")
    assert result.code == 1 and "corrupt" in result.err
    assert not (tmp_path / "bag").exists()
    assert not [p for p in tmp_path.iterdir() if ".arkeep-bag-" in p.name]


def test_export_needs_a_release_except_for_csv(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("export", "--bagit", tmp_path / "b")
    assert result.code == 2 and "name the release" in result.err
    add_release(cli, tmp_path)
    z = tmp_path / "a.zip"
    assert cli("export", "acme-studio@7.5.1", "--zip", z).code == 0 and z.is_file()


# ---- the printable recovery kit ------------------------------------------------------------------

def recovery_md_code_line(code: str) -> str:
    """docs/RECOVERY.md's line that sets the code, with `code` in it (the kit prints it so)."""
    doc = (ROOT / "docs" / "RECOVERY.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", doc, flags=re.DOTALL)
    (line,) = [ln for b in blocks for ln in b.splitlines() if ln.startswith("CODE='")]
    return line.replace("ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567", code)


def test_key_export_html_kit(cli, store_dir: Path, tmp_path: Path, recovery_code: str) -> None:  # type: ignore[no-untyped-def]
    import html as htmllib

    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("remote", "add", "vault", tmp_path / "vault", "--create", "--offsite").code == 0
    kit = tmp_path / "kit.html"
    result = cli("key", "export", "--recovery-kit", kit)
    assert result.code == 0, result.err
    assert recovery_code not in result.out + result.err
    assert stat.S_IMODE(kit.stat().st_mode) == 0o600
    page = kit.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.split("<body>")[0]
    assert f'<div class="code">{recovery_code}</div>' in page
    assert qr_svg(recovery_code) in page and "<svg" in page
    assert "nas" in page and "vault" in page and "offsite" in page
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", page))
    assert recovery_md_code_line(recovery_code) in text
    for step in ("grep -rl --include='*.toml' '^kind = \"release\"' .", "b3sum \"../$NAME\"",
                 "arkeep rebuild --from REPLICA"):
        assert step in text
    from lxml import etree
    etree.fromstring(page.split("\n", 1)[1].encode(), etree.HTMLParser(recover=False))
    again = cli("key", "export", "--recovery-kit", kit)
    assert again.code == 2 and "already exists" in again.err
    txt = tmp_path / "kit.txt"
    assert cli("key", "export", "--recovery-kit", txt).code == 0
    assert "<html" not in txt.read_text() and recovery_code in txt.read_text()


def test_init_writes_the_html_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_N", 2**12)
    kit = tmp_path / "kit.HTML"
    result = init_store(tmp_path / "store", PASSPHRASE, kit)
    page = kit.read_text()
    assert result.recovery_code in page and qr_svg(result.recovery_code) in page
    assert "No remotes yet" in page


@pytest.mark.parametrize("suffix", [".html", ".txt"])
def test_the_kit_names_a_drive_by_its_marker_not_by_the_path_it_was_added_at(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, suffix: str) -> None:
    """Issue 12.16: a drive is mounted elsewhere next year; the kit must say how to find it."""
    import html as htmllib
    import tomllib

    mount = tmp_path / "media" / "USB-STICK-7"
    mount.mkdir(parents=True)
    assert cli("remote", "add", "usb7", mount, "--drive", "--offsite").code == 0
    uuid = tomllib.loads((mount / ".arkeep-drive.toml").read_text())["uuid"]
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    kit = tmp_path / f"kit{suffix}"
    assert cli("key", "export", "--recovery-kit", kit).code == 0
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", kit.read_text()))
    assert str(mount) not in text and "USB-STICK-7" not in text
    drive_line = " ".join(text.split())         # the text kit wraps long lines at a space
    assert f'.arkeep-drive.toml says uuid = "{uuid}", folder arkeep' in drive_line
    assert "usb7" in text and str(tmp_path / "nas") in text
