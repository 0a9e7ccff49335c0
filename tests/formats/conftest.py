"""Fixtures for the import/export tests: a fast store, and export files of every password manager
written here in each one's documented export shape (every secret in them is a distinct string,
so a byte search of the store proves none was stored in clear)."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archive.crypto.keys import SecretBox
from archive.storage.store import Store
from manifests.model import License, release_id
from tests.conftest import PASSPHRASE

KDBX_PASSWORD = "kdbx-master-Pa55"








# ---- looking into a store ------------------------------------------------------------------

def store_bytes(store: Path) -> bytes:
    """Every byte of every file under the store (objects, manifests, ledger, config)."""
    return b"\n".join(p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file())


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def licences(store: Path) -> list[License]:
    s = Store.open(store)
    return [s.catalog.read_license_file(p) for p in s.catalog.license_files()]


def box(store: Path) -> SecretBox:
    return Store.open(store).unlock(PASSPHRASE).box


def by_product(store: Path) -> dict[str, License]:
    return {lic.product or "": lic for lic in licences(store)}


def opened(store: Path, lic: License) -> dict[str, object]:
    """The licence's secrets in clear: key, account_hint, and extra keys by their labels."""
    b = box(store)
    labels = lic.extra.get("extra_key_labels", [])
    return {"key": b.open(lic.key.token) if lic.key and lic.key.token else None,
            "account_hint": b.open(lic.account_hint.token) if lic.account_hint and lic.account_hint.token else None,
            "extra": {label: b.open(s.token or "") for label, s in zip(labels, lic.extra_keys)}}


# ---- export files ----------------------------------------------------------------------------

@dataclass
class Export:
    """One export file and what it must turn into."""

    fmt: str
    path: Path
    secrets: list[str]                       # every secret value in the file
    expected: dict[str, dict[str, object]]   # product -> fields of the licence record
    releases: list[str] = field(default_factory=list)
    skipped: int = 0


def write_csv(path: Path, header: list[str], rows: list[list[str]], **kw: object) -> Path:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, **kw)  # type: ignore[arg-type]
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    return path


@pytest.fixture
def bitwarden_json(tmp_path: Path) -> Export:
    """`bw export --format json`: folders, a secure note (type 2) with custom fields (one hidden),
    a login, a card and an identity."""
    doc = {
        "encrypted": False,
        "folders": [{"id": "f0a1", "name": "Software"}],
        "items": [
            {"id": "9c1f6c1e-0001", "organizationId": None, "folderId": "f0a1", "type": 2,
             "reprompt": 0, "name": "Affinity Photo", "notes": "Bought in the Black Friday sale",
             "favorite": False, "secureNote": {"type": 0}, "collectionIds": None,
             "revisionDate": "2024-01-10T10:00:00.000Z", "creationDate": "2019-11-29T09:00:00.000Z",
             "deletedDate": None,
             "fields": [
                 {"name": "License Key", "value": "BW-AFF-7Q2W-XK42-SECRET", "type": 1, "linkedId": None},
                 {"name": "Version", "value": "1.10.6", "type": 0, "linkedId": None},
                 {"name": "Platform", "value": "windows-x64", "type": 0, "linkedId": None},
                 {"name": "Licensed To", "value": "Jane Doe", "type": 0, "linkedId": None},
                 {"name": "Purchase Date", "value": "2019-11-29", "type": 0, "linkedId": None},
                 {"name": "Price", "value": "$24.99", "type": 0, "linkedId": None},
                 {"name": "Store", "value": "Serif", "type": 0, "linkedId": None},
                 {"name": "Download page", "value": "https://store.serif.com/", "type": 0, "linkedId": None},
                 {"name": "Registration PIN", "value": "BW-PIN-88112", "type": 1, "linkedId": None},
                 {"name": "Boxed copy", "value": True, "type": 2, "linkedId": None},
             ]},
            {"id": "9c1f6c1e-0002", "organizationId": None, "folderId": None, "type": 1, "reprompt": 0,
             "name": "Webmail", "notes": None, "favorite": True,
             "login": {"uris": [{"match": None, "uri": "https://mail.example.com"}],
                       "username": "jane@example.com", "password": "BW-WEBMAIL-PW-123", "totp": None}},
            {"id": "9c1f6c1e-0003", "type": 3, "name": "Visa", "folderId": None,
             "card": {"cardholderName": "Jane Doe", "brand": "Visa", "number": "4111111111111111",
                      "expMonth": "1", "expYear": "2030", "code": "123"}},
            {"id": "9c1f6c1e-0004", "type": 4, "name": "Me", "folderId": None,
             "identity": {"firstName": "Jane", "lastName": "Doe"}},
        ],
    }
    path = tmp_path / "bitwarden_export_20240110.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return Export("bitwarden", path, ["BW-AFF-7Q2W-XK42-SECRET", "BW-PIN-88112"],
                  {"Affinity Photo": {"key": "BW-AFF-7Q2W-XK42-SECRET", "licensed_to": "Jane Doe",
                                      "purchase_date": "2019-11-29", "price": "24.99",
                                      "currency": "USD", "seller": "Serif", "kind": "serial",
                                      "extra_secret": ("Registration PIN", "BW-PIN-88112"),
                                      "extra": {"Download page": "https://store.serif.com/",
                                                "Boxed copy": "true"},
                                      "notes": "Bought in the Black Friday sale"}},
                  releases=["affinity-photo@1.10.6+windows-x64"], skipped=3)


@pytest.fixture
def bitwarden_csv(tmp_path: Path) -> Export:
    """Bitwarden's CSV export: custom fields as `name: value` lines in the `fields` column."""
    header = ["folder", "favorite", "type", "name", "notes", "fields", "reprompt", "login_uri",
              "login_username", "login_password", "login_totp"]
    rows = [
        ["Software", "", "note", "Beyond Compare", "Pro edition",
         "License Key: BWCSV-BC4-KEY-0042\nVersion: 4.4.7\nLicensed To: Jane Doe\nSeats: 2", "0", "", "", "", ""],
        ["", "1", "login", "Webmail", "", "", "0", "https://mail.example.com", "jane@example.com",
         "BWCSV-WEBMAIL-PW", ""],
    ]
    path = write_csv(tmp_path / "bitwarden_export.csv", header, rows)
    return Export("bitwarden", path, ["BWCSV-BC4-KEY-0042"],
                  {"Beyond Compare": {"key": "BWCSV-BC4-KEY-0042", "licensed_to": "Jane Doe",
                                      "seats": 2, "notes": "Pro edition"}},
                  releases=["beyond-compare@4.4.7"], skipped=1)


LASTPASS_NOTE = """NoteType:Software License
Language:en-US
License Key:LP-IDEA-KEY-5567-SECRET
Licensee:Jane Doe
Version:2024.1
Publisher:JetBrains
Support Email:sales@jetbrains.com
Website:https://www.jetbrains.com/idea/
Price:249.00
Purchase Date:January,15,2024
Order Number:JB-778812
Number of Licenses:1
Order Total:$249.00
Notes:Renews every January.
Upgrade from Community."""


@pytest.fixture
def lastpass_csv(tmp_path: Path) -> Export:
    """LastPass's CSV export: secure notes have url http://sn and their fields in `extra`."""
    header = ["url", "username", "password", "totp", "extra", "name", "grouping", "fav"]
    rows = [
        ["http://sn", "", "", "", LASTPASS_NOTE, "IntelliJ IDEA Ultimate", "Licenses", "0"],
        ["https://github.com/login", "jane", "LP-GITHUB-PW-991", "", "", "GitHub", "Dev", "0"],
        ["http://sn", "", "", "", ("NoteType:Credit Card\nLanguage:en-US\nName on Card:Jane Doe\n"
         "Type:Visa\nNumber:4111111111111111\nSecurity Code:123\nNotes:"), "Visa", "", "0"],
        ["http://sn", "", "", "", "Wi-Fi at home is on the router sticker", "Wi-Fi", "", "0"],
    ]
    path = write_csv(tmp_path / "lastpass_export.csv", header, rows)
    return Export("lastpass", path, ["LP-IDEA-KEY-5567-SECRET"],
                  {"IntelliJ IDEA Ultimate": {"key": "LP-IDEA-KEY-5567-SECRET", "licensed_to": "Jane Doe",
                                              "vendor": "JetBrains", "price": "249.00",
                                              "purchase_date": "2024-01-15", "order_number": "JB-778812",
                                              "seats": 1, "extra": {"Support Email": "sales@jetbrains.com",
                                                                    "Order Total": "$249.00"},
                                              "notes": "Renews every January.\nUpgrade from Community."}},
                  releases=["intellij-idea-ultimate@2024.1"], skipped=3)


LICENCE_FILE = b"-----BEGIN LICENSE-----\nJane Doe\nSingle User License\n-----END LICENSE-----\n"


@pytest.fixture
def onepassword_1pux(tmp_path: Path) -> Export:
    """1Password's .1pux: a zip with export.attributes, export.data (JSON) and files/."""
    def f(title: str, fid: str, value: dict[str, object]) -> dict[str, object]:
        return {"title": title, "id": fid, "value": value, "indexAtSource": 0, "guarded": False,
                "multiline": False, "dontGenerate": False,
                "inputTraits": {"keyboard": "default", "correction": "default", "capitalization": "default"}}
    licence = {
        "uuid": "q5mwl3m6lyo4nhh7xbs2ynb2ia", "favIndex": 0, "createdAt": 1614298956,
        "updatedAt": 1635346445, "state": "active", "categoryUuid": "100",
        "details": {
            "loginFields": [], "notesPlain": "Upgrade from CS5", "passwordHistory": [],
            "sections": [
                {"title": "", "name": "", "fields": [
                    f("version", "product_version", {"string": "13.0"}),
                    f("license key", "reg_code", {"string": "OP-PS6-1234-5678-SECRET"}),
                ]},
                {"title": "Customer", "name": "customer", "fields": [
                    f("licensed to", "reg_name", {"string": "Jane Doe"}),
                    f("registered email", "reg_email", {"email": {"email_address": "jane@example.com",
                                                                  "provider": None}}),
                    f("company", "company", {"string": "Doe Design"}),
                ]},
                {"title": "Publisher", "name": "publisher", "fields": [
                    f("download page", "download_link", {"url": "https://www.adobe.com/downloads"}),
                    f("publisher", "publisher_name", {"string": "Adobe"}),
                    f("retail price", "retail_price", {"string": "699.00"}),
                ]},
                {"title": "Order", "name": "order", "fields": [
                    f("purchase date", "order_date", {"date": 1336348800}),
                    f("order number", "order_number", {"string": "AD-2012-77"}),
                    f("order total", "order_total", {"string": "$699.00"}),
                ]},
                {"title": "Activation", "name": "Section_x1", "fields": [
                    f("deactivation code", "x2", {"concealed": "OP-DEACT-CODE-424242"}),
                    f("licence file", "x3", {"file": {"fileName": "photoshop.lic",
                                                      "documentId": "ndjq6ehzftbalkvhsqkpkxepe4",
                                                      "decryptedSize": len(LICENCE_FILE)}}),
                ]},
            ]},
        "overview": {"subtitle": "13.0", "urls": [], "title": "Adobe Photoshop CS6", "url": "", "ps": 0,
                     "pbe": 0.0, "pgrng": False, "tags": ["software"]},
    }
    login = {"uuid": "aaaabbbbccccddddeeeeffff00", "categoryUuid": "001", "state": "active",
             "createdAt": 1614298956, "updatedAt": 1614298956,
             "details": {"loginFields": [
                 {"value": "jane", "id": "", "name": "username", "fieldType": "T", "designation": "username"},
                 {"value": "OP-SITE-PW-777", "id": "", "name": "password", "fieldType": "P",
                  "designation": "password"}], "notesPlain": "", "sections": [], "passwordHistory": []},
             "overview": {"subtitle": "jane", "title": "Example Forum", "url": "https://forum.example.com",
                          "urls": [{"label": "", "url": "https://forum.example.com"}], "tags": []}}
    card = {"uuid": "cardcardcardcardcardcard00", "categoryUuid": "002", "state": "active",
            "details": {"sections": [{"title": "", "fields": [
                f("number", "ccnum", {"creditCardNumber": "4111111111111111"})]}]},
            "overview": {"title": "Visa"}}
    data = {"accounts": [{"attrs": {"accountName": "Jane", "name": "Jane Doe", "avatar": "",
                                    "email": "jane@example.com", "uuid": "ACCOUNTUUID",
                                    "domain": "https://my.1password.com/"},
                          "vaults": [{"attrs": {"uuid": "vaultuuid", "desc": "", "avatar": "",
                                                "name": "Personal", "type": "P"},
                                      "items": [licence, login, card]}]}]}
    path = tmp_path / "1PasswordExport-ACCOUNTUUID-20240110-101010.1pux"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("export.attributes", json.dumps({"version": 3, "description": "1Password Unencrypted Export",
                                                     "createdAt": 1704881410}))
        zf.writestr("export.data", json.dumps(data))
        zf.writestr("files/ndjq6ehzftbalkvhsqkpkxepe4__photoshop.lic", LICENCE_FILE)
    return Export("1password", path, ["OP-PS6-1234-5678-SECRET", "OP-DEACT-CODE-424242"],
                  {"Adobe Photoshop CS6": {"key": "OP-PS6-1234-5678-SECRET", "licensed_to": "Jane Doe",
                                           "email": "jane@example.com", "company": "Doe Design",
                                           "vendor": "Adobe", "price": "699.00",
                                           "purchase_date": "2012-05-07", "order_number": "AD-2012-77",
                                           "extra_secret": ("deactivation code", "OP-DEACT-CODE-424242"),
                                           "extra": {"order total": "$699.00",
                                                     "download page": "https://www.adobe.com/downloads"},
                                           "notes": "Upgrade from CS5"}},
                  releases=["adobe-photoshop-cs6@13.0"], skipped=2)


@pytest.fixture
def onepassword_csv(tmp_path: Path) -> Export:
    """A 1Password CSV export of the Software License category (1Password 7 lets you pick columns)."""
    header = ["Title", "Version", "License Key", "Licensed To", "Registered Email", "Company",
              "Publisher", "Retail Price", "Purchase Date", "Order Number", "Notes"]
    rows = [["Sketch", "99.1", "OPCSV-SKETCH-KEY-31", "Jane Doe", "jane@example.com", "Doe Design",
             "Bohemian Coding", "$99.00", "2023-08-01", "SK-1", "Mac only"]]
    path = write_csv(tmp_path / "1password-software.csv", header, rows)
    return Export("1password", path, ["OPCSV-SKETCH-KEY-31"],
                  {"Sketch": {"key": "OPCSV-SKETCH-KEY-31", "licensed_to": "Jane Doe", "vendor": "Bohemian Coding",
                              "price": "99.00", "currency": "USD", "purchase_date": "2023-08-01",
                              "notes": "Mac only"}},
                  releases=["sketch@99.1"])


@pytest.fixture(scope="session")
def kdbx_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KeePass database made with pykeepass: a Licenses group, custom attributes (one protected),
    an attachment, and an unrelated login elsewhere. Made once: creating one runs Argon2 with
    KeePass's default cost; the copy the tests open has it turned down to milliseconds."""
    from pykeepass import create_database

    path = tmp_path_factory.mktemp("kdbx") / "Passwords.kdbx"
    kp = create_database(str(path), password=KDBX_PASSWORD)
    kdf = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    kdf["I"].value, kdf["M"].value = 1, 1024 * 1024
    group = kp.add_group(kp.root_group, "Licenses")
    sublime = kp.add_entry(group, "Sublime Text", "", "KP-SUBLIME-KEY-9001", url="https://www.sublimetext.com",
                           notes="Personal licence")
    sublime.set_custom_property("Version", "4.169")
    sublime.set_custom_property("Licensed To", "Jane Doe")
    sublime.set_custom_property("Seats", "1")
    sublime.set_custom_property("Maintenance until", "2027-05-01")
    sublime.set_custom_property("Unlock PIN", "KP-PIN-5150", protect=True)
    sublime.set_custom_property("Build channel", "stable")
    binary = kp.add_binary(LICENCE_FILE)
    sublime.add_attachment(binary, "sublime_license.txt")
    account = kp.add_entry(group, "Vectorworks", "jane.doe", "KP-VW-ACCOUNT-PW-66")
    account.set_custom_property("License Key", "KP-VW-SERIAL-7777")
    account.set_custom_property("License Type", "subscription")
    kp.add_entry(kp.root_group, "Bank", "jane", "KP-BANK-PW-1")
    kp.save()
    return path


@pytest.fixture
def keepass_kdbx(kdbx_template: Path, tmp_path: Path) -> Export:
    path = tmp_path / kdbx_template.name
    shutil.copyfile(kdbx_template, path)
    return Export("keepass", path, ["KP-SUBLIME-KEY-9001", "KP-PIN-5150", "KP-VW-ACCOUNT-PW-66",
                                    "KP-VW-SERIAL-7777", KDBX_PASSWORD],
                  {"Sublime Text": {"key": "KP-SUBLIME-KEY-9001", "licensed_to": "Jane Doe", "seats": 1,
                                    "maintenance_end": "2027-05-01",
                                    "extra_secret": ("Unlock PIN", "KP-PIN-5150"),
                                    "extra": {"url": "https://www.sublimetext.com", "Build channel": "stable"},
                                    "notes": "Personal licence"},
                   "Vectorworks": {"key": "KP-VW-SERIAL-7777", "kind": "subscription",
                                   "account_hint": "jane.doe",
                                   "extra_secret": ("password", "KP-VW-ACCOUNT-PW-66")}},
                  releases=["sublime-text@4.169"], skipped=1)


@pytest.fixture
def keepassxc_csv(tmp_path: Path) -> Export:
    header = ["Group", "Title", "Username", "Password", "URL", "Notes", "TOTP", "Icon", "Last Modified", "Created"]
    rows = [
        ["Root/Licenses", "Beyond Compare", "", "KPXC-BC-KEY-4242", "https://www.scootersoftware.com",
         "Version: 4.4.7\nLicensed to: Jane Doe\nKept on the NAS too", "", "0",
         "2024-01-01T10:00:00Z", "2023-06-01T10:00:00Z"],
        ["Root", "Bank", "jane", "KPXC-BANK-PW", "https://bank.example.com", "", "", "0",
         "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"],
    ]
    path = write_csv(tmp_path / "keepassxc.csv", header, rows, quoting=csv.QUOTE_ALL)
    return Export("keepass", path, ["KPXC-BC-KEY-4242"],
                  {"Beyond Compare": {"key": "KPXC-BC-KEY-4242", "licensed_to": "Jane Doe",
                                      "notes": "Kept on the NAS too"}},
                  releases=["beyond-compare@4.4.7"], skipped=1)


@pytest.fixture
def spreadsheet_csv(tmp_path: Path) -> Export:
    header = ["Product", "Version", "Vendor", "Serial Number", "Licensed to", "Seats", "Purchased",
              "Price", "Seller", "Maintenance until", "Platform", "Notes", "Cost centre"]
    rows = [
        ["Microsoft Office", "2019 Professional", "Microsoft", "SS-OFFICE-KEY-AAAA", "Jane Doe", "1",
         "2019-03-01", "439,99 €", "Amazon", "", "windows-x64", "In the drawer", "IT-42"],
        ["Ableton Live Suite", "11", "Ableton", "SS-ABLETON-KEY-BBBB", "", "", "03/04/2021", "", "",
         "2024-02-24", "", "", ""],
    ]
    path = write_csv(tmp_path / "licences.csv", header, rows)
    return Export("csv", path, ["SS-OFFICE-KEY-AAAA", "SS-ABLETON-KEY-BBBB"],
                  {"Microsoft Office": {"key": "SS-OFFICE-KEY-AAAA", "licensed_to": "Jane Doe", "seats": 1,
                                        "vendor": "Microsoft", "purchase_date": "2019-03-01",
                                        "price": "439.99", "currency": "EUR", "seller": "Amazon",
                                        "extra": {"Cost centre": "IT-42"}, "notes": "In the drawer"},
                   "Ableton Live Suite": {"key": "SS-ABLETON-KEY-BBBB", "maintenance_end": "2024-02-24",
                                          # 03/04/2021 could be March or April: kept as text, not guessed
                                          "extra": {"Purchased": "03/04/2021"}}},
                  # a space in a version is not a hyphen: the id says so with a digest
                  releases=[release_id("Microsoft Office", "2019 Professional", None, "windows-x64"),
                            "ableton-live-suite@11"])


ALL_EXPORTS = ("bitwarden_json", "bitwarden_csv", "lastpass_csv", "onepassword_1pux", "onepassword_csv",
               "keepass_kdbx", "keepassxc_csv", "spreadsheet_csv")


@pytest.fixture(params=ALL_EXPORTS)
def export_file(request: pytest.FixtureRequest) -> Export:
    return request.getfixturevalue(request.param)


def import_args(export: Export, tmp_path: Path) -> list[str]:
    """`import FORMAT FILE` (+ the KDBX password from a file, never argv)."""
    args = ["import", export.fmt, str(export.path)]
    if export.path.suffix == ".kdbx":
        pw = tmp_path / "kdbx-pass.txt"
        pw.write_text(KDBX_PASSWORD + "\n")
        os.chmod(pw, 0o600)
        args += ["--password-file", str(pw)]
    return args
