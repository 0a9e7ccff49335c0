"""The layering of DESIGN.md: archive imports manifests and backends; they never import archive,
and neither imports the other ("imports nothing of ours")."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("archive", "backends", "manifests")
FORBIDDEN = {"manifests": {"archive", "backends"}, "backends": {"archive", "manifests"}}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Absolute names of everything `path` imports, relative imports resolved, plus string
    arguments of importlib.import_module / __import__ calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix:
                found.append((node.lineno, prefix))
            found.extend((node.lineno, f"{prefix}.{alias.name}" if prefix else alias.name)
                         for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def sources(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def violations(package: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sources(package, root):
        for line, name in imported_modules(path, root):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(root)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_upper_ones(package: str) -> None:
    assert sources(package), f"no sources found under {package}/"
    assert violations(package) == []


def test_the_checker_sees_imports_of_every_form(tmp_path: Path) -> None:
    """The test above must be able to fail: each of these forms is caught."""
    fake = tmp_path / "manifests"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "a.py").write_text("import archive.store\n")
    (fake / "b.py").write_text("from archive import keys\n")
    (fake / "c.py").write_text("import importlib\nimportlib.import_module('backends.base')\n")
    (fake / "d.py").write_text("from . import codec\nfrom .model import Release\n")    # fine
    (fake / "e.py").write_text("def f():\n    from backends.errors import BackendError\n")
    (fake / "f.py").write_text("from .. import archive\n")                            # escapes
    found = violations("manifests", tmp_path)
    assert sorted({v.split(":")[0] for v in found}) == ["manifests/a.py", "manifests/b.py", "manifests/c.py",
                                               "manifests/e.py", "manifests/f.py"]


def test_relative_imports_resolve_inside_the_package() -> None:
    names = [n for _, n in imported_modules(ROOT / "manifests" / "catalog.py")]
    assert "manifests.codec" in names and not any(n.startswith("archive") for n in names)

