"""A licence imported without any release still travels to every remote and comes back on rebuild."""
from __future__ import annotations

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
