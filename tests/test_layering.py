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
    (fake / "a.py").write_text("import archive.storage.store\n")
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



def _module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Our modules and the modules of ours each one imports (at any depth in the file, but not
    under `if TYPE_CHECKING:`), `from package import module` resolved to the module."""
    modules = {module_name(p, root): p for pkg in OURS for p in sources(pkg, root)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        guarded = _type_checking_lines(path)
        edges = set()
        for line, target in imported_modules(path, root):
            if line in guarded:
                continue
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def _type_checking_lines(path: Path) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    """No two modules of ours import each other, directly or round a longer circle: a package's
    __init__ re-exporting its parts counts, lazy imports inside functions count too."""
    assert _cycles(_module_graph()) == []


def test_the_circle_check_sees_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# The rooms of archive/ (docs/ARCHITECTURE.md), lowest first: a module imports from its own room
# and from rooms before it, never from a later one. errors.py sits below them all.
ROOMS = ("system", "crypto", "storage", "seal", "replicate", "intake", "present", "ops", "cli")
# Imports that still go upwards, each with the work that removes it.
KNOWN_UPWARD: set[tuple[str, str]] = set()   # none left; an entry here names the work that removes it


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    def rank(module: str) -> int | None:
        parts = module.split(".")
        if parts[0] != "archive" or len(parts) < 2:
            return None
        if parts[1] in ROOMS:
            return ROOMS.index(parts[1])
        return -1 if parts[1] == "errors" else len(ROOMS)    # __main__ sits on top
    found = set()
    for module, targets in graph.items():
        mine = rank(module)
        if mine is None:
            continue
        for target in targets:
            theirs = rank(target)
            if theirs is not None and theirs > mine:
                found.add((module, target))
    return found


def test_every_module_of_archive_lives_in_a_room() -> None:
    loose = {module_name(p, ROOT) for p in sources("archive")} - {"archive", "archive.__main__", "archive.errors"}
    assert sorted(m for m in loose if m.split(".")[1] not in ROOMS) == []


def test_rooms_import_only_downwards() -> None:
    assert upward_imports(_module_graph()) == KNOWN_UPWARD


def test_the_room_check_sees_an_upward_import() -> None:
    graph = {"archive.system.paths": {"archive.cli.main"}, "archive.cli.main": {"archive.system.paths"}}
    assert upward_imports(graph) == {("archive.system.paths", "archive.cli.main")}
