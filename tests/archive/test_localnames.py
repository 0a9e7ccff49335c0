"""Names Windows and case-folding file systems refuse, as restore writes them (issue 14.2)."""
from __future__ import annotations

from archive.system.localnames import local_names, windows_name


def test_names_windows_refuses() -> None:
    assert windows_name("setup:x64?.exe") == ("setup_x64_.exe", "Windows refuses :? in a name")
    assert windows_name('a"b<c>d|e*.msi')[0] == "a_b_c_d_e_.msi"
    assert windows_name("readme. ")[0] == "readme_"
    assert windows_name("CON")[0] == "_CON"
    assert windows_name("nul.txt")[0] == "_nul.txt"
    assert windows_name("com1.tar.gz")[0] == "_com1.tar.gz"
    assert windows_name("CONSOLE.exe") == ("CONSOLE.exe", None)
    assert windows_name("setup.exe") == ("setup.exe", None)


def test_a_long_name_is_shortened_in_its_stem() -> None:
    name, why = windows_name("x" * 300 + ".exe", room=100)
    assert name == "x" * 96 + ".exe" and why is not None and "longer" in why


def test_names_that_differ_only_in_case() -> None:
    mapped = local_names(["Setup.exe", "setup.exe", "SETUP.EXE"], windows=False, folds_case=True)
    assert [n for n, _ in mapped] == ["Setup.exe", "setup (2).exe", "SETUP (3).EXE"]
    assert mapped[0][1] is None and "only in case" in (mapped[1][1] or "")
    kept = local_names(["Setup.exe", "setup.exe"], windows=False, folds_case=False)
    assert kept == [("Setup.exe", None), ("setup.exe", None)]


def test_a_mapped_name_that_meets_another_file() -> None:
    mapped = local_names(["a:b.exe", "a_b.exe"], windows=True, folds_case=True)
    assert [n for n, _ in mapped] == ["a_b.exe", "a_b (2).exe"]
