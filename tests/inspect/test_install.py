"""One install, every feature (issue 14.4): the wheel installed alone, with no extra, reads real
installers; and a package missing from an install is named as such, never called damage."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "archive", "backends", "manifests")

# Runs arkeep with one top-level module made unimportable, as in an install that lacks it.
WITHOUT_MODULE = """\
import sys

class Without:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == sys.argv[1]:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Without())
from archive.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def arkeep_without(module: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_MODULE, module, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(("fixture", "module"), [
    ("nsis_exe", "pefile"), ("msi_file", "olefile"), ("iso_file", "pycdlib"),
    ("iso_file", "olefile"),             # the MSI on the disc needs it: nested readers say so too
])
def test_a_missing_module_is_named_with_its_package_not_called_damage(
        request: pytest.FixtureRequest, fixture: str, module: str) -> None:
    path = request.getfixturevalue(fixture)
    done = arkeep_without(module, "inspect", path)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"the Python package {module}, which is not installed" in lines[0]
    assert f"pip install {module}" in lines[0]
    assert "damaged" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_the_same_file_reads_when_nothing_is_missing(nsis_exe: Path) -> None:
    """The blocker itself changes nothing else: with an unrelated module blocked, it reads."""
    done = arkeep_without("no_such_module_at_all", "inspect", nsis_exe)
    assert done.returncode == 0, done.stderr
    assert "Fabrikam Paint" in done.stdout


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def run(args: list[str | Path], cwd: Path, what: str) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={k: v for k, v in os.environ.items()
                                            if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    assert done.returncode == 0, f"{what} failed ({done.returncode}): {done.stderr[-1500:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """arkeep's wheel built from a copy of the sources, installed with no extra into a new empty
    venv with the pinned versions, as `pip install -c constraints.txt arkeep-*.whl` does."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=skip)
        else:
            shutil.copy(ROOT / name, src / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", src],
        work, "pip wheel")
    (wheel,) = (work / "dist").glob("arkeep-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv], work, "python -m venv")
    python = bin_dir(venv) / "python"
    run([python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel], work,
        "pip install the wheel")
    run([python, "-m", "pip", "check"], work, "pip check")
    return venv


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_wheel_alone_reads_pe_msi_iso_and_deb(
        installed_wheel: Path, nsis_exe: Path, msi_file: Path, iso_file: Path, deb_file: Path,
        tmp_path: Path) -> None:
    arkeep = bin_dir(installed_wheel) / "arkeep"
    assert run([arkeep, "--version"], tmp_path, "arkeep --version").startswith("arkeep 0.")
    read = {}
    for path in (nsis_exe, msi_file, iso_file, deb_file):
        data = json.loads(run([arkeep, "inspect", path, "--json"], tmp_path, f"inspect {path.name}"))
        assert not data["damaged"] and not data["problems"], data["problems"]
        read[data["format"]] = (data["fields"].get("product"), data["fields"].get("version"))
    assert read["pe"] == ("Fabrikam Paint", "7.5.0.1210")
    assert read["msi"] == ("Contoso Ledger", "4.2.1")
    assert read["iso9660"] == ("Contoso Ledger", "4.2.1")       # read from the MSI inside
    assert read["deb"] == ("hello", deb_file.name.split("_")[1])


# Run in the installed venv: every distribution arkeep's metadata requires without an extra is
# installed, and every top-level module it provides imports.
IMPORT_EVERY_REQUIREMENT = """\
import importlib, importlib.metadata as md, re
provides = {}
for module, dists in md.packages_distributions().items():
    for dist in dists:
        provides.setdefault(re.sub(r"[-_.]+", "-", dist).lower(), []).append(module)
names = [re.match(r"[A-Za-z0-9_.-]+", r)[0] for r in md.requires("arkeep") if "extra ==" not in r]
for name in names:
    key = re.sub(r"[-_.]+", "-", name).lower()
    md.distribution(name)
    modules = [m for m in provides.get(key, []) if not m.startswith("_") and m.isidentifier()]
    assert modules, name
    for module in modules:
        importlib.import_module(module)
    print(name, *sorted(modules))
"""


@pytest.mark.slow
def test_the_wheel_alone_has_every_reader_import_and_the_kit_need(
        installed_wheel: Path, tmp_path: Path) -> None:
    """What inspect, scan, harvest, import keepass, notices and the .html recovery kit import,
    without an extra: every core requirement installed, each of its modules importable."""
    python = bin_dir(installed_wheel) / "python"
    out = run([python, "-c", IMPORT_EVERY_REQUIREMENT], tmp_path, "importing the requirements")
    imported = dict(line.split(" ", 1) for line in out.splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert len(imported) == len(project["dependencies"]), out
    for module in ("pefile", "olefile", "pycdlib", "rpmfile", "pypdf", "pykeepass", "segno",
                   "regipy", "asn1crypto", "apprise"):
        assert any(module in mods.split() for mods in imported.values()), (module, out)


def test_scan_without_pefile_stops_naming_it_instead_of_skipping_installers_as_damaged(
        nsis_exe: Path, tmp_path: Path) -> None:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    shutil.copy(nsis_exe, folder / nsis_exe.name)
    done = arkeep_without("pefile", "--store", tmp_path / "store", "scan", folder)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "pip install pefile" in done.stderr and "damaged" not in done.stdout + done.stderr


@pytest.mark.slow
def test_the_wheel_alone_harvests_a_windows_disk(installed_wheel: Path, tmp_path: Path) -> None:
    """The sources table ships in the wheel and regipy comes with it: a hive is read."""
    from tests.harvest.disks import WIN7_KEY, windows_disk

    disk = windows_disk(tmp_path / "disk")
    arkeep = bin_dir(installed_wheel) / "arkeep"
    data = json.loads(run([arkeep, "--store", tmp_path / "no-store", "harvest", disk, "--json",
                           "--reveal"], tmp_path, "arkeep harvest"))
    keys = {k["product"]: k["key"] for k in data["keys"]}
    assert keys["Windows 7 Professional"] == WIN7_KEY and len(keys) == 8
