"""A licence imported without any release still travels to every remote and comes back on rebuild."""
from __future__ import annotations

import json
from pathlib import Path

KEY = "SHEET-ONLY-KEY-8812-QQ"


def test_licence_without_release_is_replicated_and_rebuilt(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          monkeypatch) -> None:
    sheet = tmp_path / "licences.csv"
    sheet.write_text(f"Product,License Key,Licensed To\nSublime Text,{KEY},Jane Doe\n", encoding="utf-8")
    imported = cli("import", "csv", sheet)
    assert imported.code == 0, imported.err
    assert cli("list", "--json").out.strip() == "[]", "the licence names no version: no release"
    nas = tmp_path / "nas"
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    synced = cli("sync")
    assert synced.code == 0, synced.err
    assert KEY.encode() not in b"".join(p.read_bytes() for p in nas.rglob("*") if p.is_file())

    monkeypatch.setenv("ARKEEP_STORE", str(tmp_path / "new-machine"))
    rebuilt = cli("rebuild", "--from", nas)
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    licences = list((tmp_path / "new-machine" / "manifests" / "licenses").glob("lic-*.toml"))
    assert len(licences) == 1
    text = licences[0].read_text()
    assert "Sublime Text" in text and "Jane Doe" in text and KEY not in text


def test_licence_without_release_is_listed_and_shown(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     monkeypatch) -> None:
    """`list --licenses` and `show lic-…` reach a licence no release names; the import note no
    longer says it stays unreplicated (the test above shows sync and rebuild carry it)."""
    sheet = tmp_path / "licences.csv"
    sheet.write_text(f"Product,License Key,Licensed To\nSublime Text,{KEY},Jane Doe\n", encoding="utf-8")
    imported = cli("import", "csv", sheet)
    assert imported.code == 0, imported.err
    assert "not replicated" not in imported.err and "only releases" not in imported.err
    assert "arkeep list --licenses" in imported.err

    listed = cli("list", "--licenses", "--json")
    assert listed.code == 0, listed.err
    (entry,) = json.loads(listed.out)
    lid = entry["id"]
    assert entry["product"] == "Sublime Text" and entry["kind"] == "serial"
    assert entry["has_key"] is True and entry["releases"] == [] and "key" not in entry
    text = cli("list", "--licenses")
    assert text.code == 0 and lid in text.out and "Sublime Text" in text.out and "no release" in text.out
    assert cli("list", "--licenses", "nothing-like-it").out.strip() == "No licence records match."

    shown = cli("show", lid)
    assert shown.code == 0, shown.err
    assert f"Licence {lid} for Sublime Text" in shown.out and "Jane Doe" in shown.out
    assert KEY not in shown.out and "hidden" in shown.out
    revealed = cli("show", lid, "--reveal", "--json")
    assert revealed.code == 0 and json.loads(revealed.out)["key"] == KEY
    assert cli("show", "lic-0000000000").code == 2
    assert KEY not in listed.out + text.out
