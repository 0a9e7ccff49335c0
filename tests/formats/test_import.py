"""`arkeep import FORMAT FILE`: every manager's export becomes licence records, keys encrypted."""
from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from archive.intake.importers import import_file
from archive.storage.store import Store
from manifests.model import License
from tests.conftest import PASSPHRASE, run_arkeep
from tests.formats.conftest import (
    KDBX_PASSWORD,
    LICENCE_FILE,
    Export,
    box,
    by_product,
    import_args,
    licences,
    opened,
    snapshot,
    store_bytes,
    write_csv,
)


def check_record(store: Path, lic: License, expected: dict[str, object]) -> None:
    secrets = opened(store, lic)
    for name, want in expected.items():
        if name == "key":
            assert secrets["key"] == want
        elif name == "account_hint":
            assert secrets["account_hint"] == want
        elif name == "extra_secret":
            label, value = want  # type: ignore[misc]
            assert secrets["extra"][label] == value  # type: ignore[index]
        elif name == "extra":
            for k, v in want.items():  # type: ignore[attr-defined]
                assert lic.extra.get(k) == v, (k, lic.extra)
        else:
            got = getattr(lic, name)
            got = got.isoformat() if hasattr(got, "isoformat") else got
            assert got == want, name


def test_each_export_becomes_licence_records(cli, store_dir: Path, export_file: Export,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    result = cli(*import_args(export_file, tmp_path), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["imported"] == len(export_file.expected)
    assert data["skipped"] == export_file.skipped
    records = by_product(store_dir)
    assert sorted(records) == sorted(export_file.expected)
    for product, expected in export_file.expected.items():
        check_record(store_dir, records[product], expected)
        assert records[product].extra["import"]["file"] == export_file.path.name
    store = Store.open(store_dir)
    assert sorted(r.id for r in store.catalog.releases()) == sorted(export_file.releases)
    for release in store.catalog.releases():
        assert len(release.licenses) == 1 and release.licenses[0] in {r.id for r in records.values()}
    # Not one secret of the export file is anywhere in the store, in any file, in clear.
    everything = store_bytes(store_dir)
    for secret in export_file.secrets:
        assert secret.encode() not in everything, secret
    # Nor in what the command printed.
    for secret in export_file.secrets:
        assert secret not in result.out + result.err


def test_importing_twice_changes_nothing(cli, store_dir: Path, export_file: Export, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli(*import_args(export_file, tmp_path)).code == 0
    before = snapshot(store_dir / "manifests")
    again = cli(*import_args(export_file, tmp_path), "--json")
    assert again.code == 0
    data = json.loads(again.out)
    assert data["imported"] == 0 and data["unchanged"] == len(export_file.expected)
    assert snapshot(store_dir / "manifests") == before


def test_dry_run_shows_the_mapping_and_writes_nothing(cli, store_dir: Path, export_file: Export,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    before = snapshot(store_dir)
    result = cli(*import_args(export_file, tmp_path), "--dry-run")
    assert result.code == 0, result.err
    assert snapshot(store_dir) == before
    assert "Nothing was written" in result.out
    assert "-> key" in result.out and "••••••" in result.out
    for secret in export_file.secrets:
        assert secret not in result.out + result.err
    as_json = json.loads(cli(*import_args(export_file, tmp_path), "--dry-run", "--json").out)
    assert as_json["dry_run"] is True and snapshot(store_dir) == before
    for item in as_json["items"]:
        assert item["license"] is None
        for row in item["mapping"]:
            assert set(row) == {"from", "to", "secret", "value"}
            if row["secret"]:
                assert row["value"] == "••••••"


def test_attachments_become_licence_file_artifacts(cli, store_dir: Path, onepassword_1pux: Export,  # type: ignore[no-untyped-def]
                                                   keepass_kdbx: Export, tmp_path: Path) -> None:
    assert cli(*import_args(onepassword_1pux, tmp_path)).code == 0
    assert cli(*import_args(keepass_kdbx, tmp_path)).code == 0
    store = Store.open(store_dir)
    for rid, name in (("adobe-photoshop-cs6@13.0", "photoshop.lic"), ("sublime-text@4.169", "sublime_license.txt")):
        release = store.catalog.load_release(rid)
        (art,) = release.artifacts
        assert (art.role, art.filename, art.license) == ("license-file", name, release.licenses[0])
        # A licence file is kept encrypted at rest (issue 12.3), never plain.
        assert not store.object_path(art.blake3).exists()
        with store.open_object(art.blake3, store.unlock(PASSPHRASE)) as f:
            assert f.read() == LICENCE_FILE
        assert LICENCE_FILE not in store.encrypted_path(art.blake3).read_bytes()
    assert cli("verify").code == 0


def test_login_items_only_with_all(cli, store_dir: Path, bitwarden_json: Export) -> None:  # type: ignore[no-untyped-def]
    result = cli("import", "bitwarden", bitwarden_json.path, "--all", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["imported"] == 2
    assert {s["reason"] for s in data["skipped_items"]} == {"a payment card is not a licence",
                                                           "an identity is not a licence"}
    webmail = by_product(store_dir)["Webmail"]
    assert webmail.kind == "account"
    secrets = opened(store_dir, webmail)
    assert secrets["account_hint"] == "jane@example.com"
    assert secrets["extra"]["password"] == "BW-WEBMAIL-PW-123"
    assert b"BW-WEBMAIL-PW-123" not in store_bytes(store_dir)


def test_lastpass_note_lines_and_multiline_notes(cli, store_dir: Path, lastpass_csv: Export) -> None:  # type: ignore[no-untyped-def]
    assert cli("import", "lastpass", lastpass_csv.path).code == 0
    (lic,) = licences(store_dir)
    assert "Language" not in lic.extra                  # LastPass bookkeeping
    assert lic.extra["Website"] == "https://www.jetbrains.com/idea/"
    assert lic.extra["import"]["category"] == "Software License"
    assert lic.extra["import"]["folder"] == "Licenses"


def test_map_overrides_column_names(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "inventar.csv", ["Programm", "Fassung", "Seriennummer", "Gekauft", "Lagerort"],
                     [["Capture One", "23", "MAP-C1-KEY-777", "2023-02-01", "Regal 3"]])
    plain = json.loads(cli("import", "csv", path, "--dry-run", "--json").out)
    assert not plain["items"][0]["has_key"]
    result = cli("import", "csv", path, "--map", "Programm=product", "--map", "Fassung=version",
                 "--map", "Seriennummer=key", "--map", "Gekauft=purchase_date", "--json")
    assert result.code == 0, result.err
    (lic,) = licences(store_dir)
    assert lic.product == "Capture One" and lic.purchase_date.isoformat() == "2023-02-01"
    assert opened(store_dir, lic)["key"] == "MAP-C1-KEY-777"
    assert lic.extra["Lagerort"] == "Regal 3"
    assert Store.open(store_dir).catalog.has_release("capture-one@23")
    bad = cli("import", "csv", path, "--map", "Nope=key")
    assert bad.code == 2 and "Nope" in bad.err
    bad = cli("import", "csv", path, "--map", "Seriennummer=serial_no")
    assert bad.code == 2 and "is not a field" in bad.err


def test_concealed_fields_without_a_home_stay_secret(store_dir: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", ["Product", "License Key", "Recovery code", "Admin password"],
                     [["Tool", "K-1", "RC-SECRET-1", "ADMIN-SECRET-2"]])
    items = import_file("csv", path)
    concealed = {f.label for f in items[0].fields if f.concealed}
    assert concealed == {"Recovery code", "Admin password"}


@pytest.mark.parametrize("content, where", [
    ('{"encrypted": false, "items": [{"type": 2, "name": "X", "fields": "SECRET-IN-BAD-FIELD"}]}',
     "item 1: 'fields' is not a list"),
    (('{"encrypted": false, "items": [{"type": 2, "name": "X", "fields": [{"name": "k", "value": "S1"}, '
     '"SECRET-IN-BAD-FIELD"]}]}'), "item 1: field 2 is not an object"),
    ('{"encrypted": false, "items": [{"type": 2, "name": "X", "notes": ["SECRET-IN-BAD-FIELD"]}]}',
     "item 1: 'notes' is not text"),
    ('{"encrypted": false, "items": [{"type": 2, "name": "SECRET-IN-BAD-FIELD" ', "not valid JSON (line 1"),
    ('{"encrypted": true, "data": "SECRET-IN-BAD-FIELD", "items": []}', "encrypted Bitwarden export"),
])
def test_malformed_files_are_named_without_values(cli, store_dir: Path, tmp_path: Path, content: str,  # type: ignore[no-untyped-def]
                                                  where: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    before = snapshot(store_dir)
    result = cli("import", "bitwarden", path)
    assert result.code == 2
    assert str(path) in result.err and where in result.err
    assert "SECRET-IN-BAD-FIELD" not in result.err + result.out
    assert snapshot(store_dir) == before


def test_malformed_csv_and_zip(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("url,username,password,totp,extra,name,grouping,fav\nhttp://sn,,,,x,Y,,0,EXTRA-SECRET\n")
    result = cli("import", "lastpass", ragged)
    assert result.code == 2 and "row 1" in result.err and "EXTRA-SECRET" not in result.err
    wrong = tmp_path / "not-lastpass.csv"
    wrong.write_text("a,b\n1,SECRET-CELL\n")
    result = cli("import", "lastpass", wrong)
    assert result.code == 2 and "no column 'url'" in result.err and "SECRET-CELL" not in result.err
    pux = tmp_path / "x.1pux"
    with zipfile.ZipFile(pux, "w") as zf:
        zf.writestr("export.attributes", "{}")
    result = cli("import", "1password", pux)
    assert result.code == 2 and "no export.data" in result.err
    with zipfile.ZipFile(pux, "w") as zf:
        zf.writestr("export.data", json.dumps({"accounts": [{"vaults": [{"attrs": {}, "items": [
            {"categoryUuid": "100", "overview": "SECRET-OVERVIEW"}]}]}]}))
    result = cli("import", "1password", pux)
    assert result.code == 2 and "item 1 overview is not an object" in result.err
    assert "SECRET-OVERVIEW" not in result.err
    missing = cli("import", "csv", tmp_path / "nope.csv")
    assert missing.code == 2 and "no such file" in missing.err


def test_kdbx_password_comes_from_a_file_never_argv(cli, store_dir: Path, keepass_kdbx: Export,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not it\n")
    result = cli("import", "keepass", keepass_kdbx.path, "--password-file", wrong)
    assert result.code == 2 and "wrong password" in result.err
    # Without a terminal and without --password-file: a clear error, not a hang.
    proc = run_arkeep("import", "keepass", keepass_kdbx.path,
                      env={**__import__("os").environ, "ARKEEP_STORE": str(store_dir)})
    assert proc.returncode == 2 and "password" in proc.stderr
    assert KDBX_PASSWORD not in proc.stderr


def test_new_user_bitwarden_and_lastpass_then_csv(store_dir: Path, bitwarden_json: Export,
                                                  lastpass_csv: Export, tmp_path: Path) -> None:
    """The issue's walk-through, as a separate process: two imports, keys never in clear, then
    an inventory with one row each and no key."""
    import csv
    import os

    env = {**os.environ}
    for export in (bitwarden_json, lastpass_csv):
        proc = run_arkeep("import", export.fmt, export.path, env=env)
        assert proc.returncode == 0, proc.stderr
    everything = store_bytes(store_dir)
    for secret in bitwarden_json.secrets + lastpass_csv.secrets:
        assert secret.encode() not in everything
    shown = run_arkeep("show", "intellij-idea-ultimate@2024.1", "--reveal", env=env)
    assert "LP-IDEA-KEY-5567-SECRET" in shown.stdout
    out = tmp_path / "inventory.csv"
    proc = run_arkeep("export", "--csv", out, env=env)
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["product"] for r in rows) == ["Affinity Photo", "IntelliJ IDEA Ultimate"]
    assert all(r["key"] == "(hidden)" for r in rows)
    text = out.read_text(encoding="utf-8-sig")
    for secret in bitwarden_json.secrets + lastpass_csv.secrets:
        assert secret not in text
    assert box(store_dir) is not None


def test_reserved_extra_names_and_records_without_release(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "r.csv", ["Product", "Serial", "import", "extra_key_labels"],
                     [["Tool", "RES-KEY-1", "from the old PC", "x"]])
    result = cli("import", "csv", path, "--json")
    data = json.loads(result.out)
    assert data["without_release"] == [1]
    (lic,) = licences(store_dir)
    assert lic.extra["import (2)"] == "from the old PC" and lic.extra["extra_key_labels (2)"] == "x"
    assert lic.extra["import"]["format"] == "csv"
    text = cli("import", "csv", write_csv(tmp_path / "s.csv", ["Product", "Serial"], [["Other", "RES-KEY-2"]]))
    assert "name no version" in text.err


def test_bitwarden_organisation_collections_act_as_folders(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps({"encrypted": False, "collections": [{"id": "c1", "name": "Software Licenses"}],
                                "items": [{"type": 1, "name": "Team Figma", "collectionIds": ["c1"],
                                           "login": {"username": "it@example.com", "password": "ORG-PW"}}]}))
    (item,) = import_file("bitwarden", path)
    assert item.folder == "Software Licenses" and item.licence_like


def test_keepassxc_csv_serial_in_the_password_field(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """KeePassXC has no serial field: a product key kept as the Password is the licence key,
    also when the entry has a user name (the registration e-mail); a password that is not
    key-shaped next to a user name stays an account's password."""
    header = ["Group", "Title", "Username", "Password", "URL", "Notes", "TOTP", "Icon",
              "Last Modified", "Created"]
    rows = [
        ["Root/Software", "WinRAR", "jane@example.com", "Q7W8E-R9T0Y-U1I2O-P3A4S", "", "", "", "0",
         "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"],
        ["Root/Software", "Adobe account", "jane@example.com", "hunter2-not-a-key", "", "", "", "0",
         "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"],
    ]
    path = write_csv(tmp_path / "keepassxc.csv", header, rows, quoting=csv.QUOTE_ALL)
    result = cli("import", "keepass", path, "--json")
    assert result.code == 0, result.err
    kinds = {i["title"]: (i["kind"], i["has_key"]) for i in json.loads(result.out)["items"]}
    assert kinds == {"WinRAR": ("serial", True), "Adobe account": ("account", False)}
    records = by_product(store_dir)
    check_record(store_dir, records["WinRAR"], {"kind": "serial", "key": "Q7W8E-R9T0Y-U1I2O-P3A4S",
                                                "account_hint": "jane@example.com"})
    assert opened(store_dir, records["Adobe account"])["extra"]["password"] == "hunter2-not-a-key"
