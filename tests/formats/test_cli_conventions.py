"""Command-line conventions: examples in every help, grouped --help, --json on every read command
with its shape documented in docs/JSON.md, and shell completion generated from the parser."""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archive.cli.completion_scripts import command_tree
from archive.cli.main import EPILOG, build_parser
from tests.conftest import ROOT
from tests.formats.test_export import add_release

READ_COMMANDS = ("list", "show", "whereis", "status", "status --ready", "check", "verify",
                 "remote list", "import --dry-run", "due", "notify list", "audit", "schedule")


def subparsers(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                full = f"{path} {name}".strip()
                found.append((full, child))
                found.extend(subparsers(child, full))
    return found


def test_every_subcommand_help_ends_with_examples() -> None:
    missing = [name for name, p in subparsers(build_parser()) if "example" not in (p.epilog or "").lower()]
    assert missing == []
    for name, p in subparsers(build_parser()):
        assert f"arkeep {name.split()[0]}" in (p.epilog or ""), name


def test_top_level_help_groups_every_command() -> None:
    top = [name for name, _ in subparsers(build_parser()) if " " not in name]
    assert "commands by job:" in EPILOG
    grouped = EPILOG.split("commands by job:")[1].split("\n\n")[0]
    assert [n for n in top if n not in grouped] == []


def test_completion_scripts_know_every_command_and_option(cli) -> None:  # type: ignore[no-untyped-def]
    tree = command_tree(build_parser())
    names = [n.path.split()[-1] for n in tree.walk() if n.path]
    options = {o for n in tree.walk() for opt in n.options for o in opt.names}
    assert {"import", "check", "completion", "export", "passwd"} <= set(names)
    for shell in ("bash", "zsh", "fish"):
        result = cli("completion", shell)
        assert result.code == 0, result.err
        for name in names:
            assert name in result.out, (shell, name)
        for option in options:
            needle = option if shell != "fish" else (f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}")
            assert needle in result.out, (shell, option)
        binary = shutil.which(shell)
        if binary:
            syntax = subprocess.run([binary, "-n"], input=result.out, capture_output=True, text=True,
                                    check=False)
            assert syntax.returncode == 0, (shell, syntax.stderr)


def test_bash_completion_completes(cli) -> None:  # type: ignore[no-untyped-def]
    script = cli("completion", "bash").out
    probe = script + """
complete_at() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _arkeep; echo "${COMPREPLY[*]}"; }
complete_at arkeep imp
complete_at arkeep key ex
complete_at arkeep --store /s export --ba
complete_at arkeep import bitw
complete_at arkeep status --re
"""
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["import", "export", "--bagit", "bitwarden bitwarden-json bitwarden-csv", "--ready"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion_completes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "arkeep.fish"
    script.write_text(cli("completion", "fish").out)
    command = f"source {script}; complete -C 'arkeep key ex'; complete -C 'arkeep export --ba'"
    out = subprocess.run(["fish", "--no-config", "-c", command], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[0].startswith("export\t") and "--bagit" in out


def test_every_read_command_has_json_documented_in_json_md(cli, store_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            bitwarden_json) -> None:
    add_release(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    doc = (ROOT / "docs" / "JSON.md").read_text()
    args = {"show": ["acme-studio@7.5.1"], "whereis": ["acme-studio@7.5.1"], "check": ["acme-studio@7.5.1"],
            "import --dry-run": ["bitwarden", str(bitwarden_json.path)]}
    for command in READ_COMMANDS:
        words = command.split()
        argv = [words[0], *args.get(command, []), *words[1:], "--json"]
        result = cli(*argv)
        assert result.code in (0, 1), (command, result.err)
        json.loads(result.out)
        assert f"## `arkeep {words[0]}" in doc and f"{command}".split()[-1] in doc, command
    if any(name == "inspect" for name, _ in subparsers(build_parser())):
        assert "## `arkeep inspect" in doc


def test_the_cli_starts_without_importing_the_heavy_modules() -> None:
    probe = ("import sys, archive.cli.main as m; m.build_parser(); "
             "heavy = [n for n in sys.modules if n.split('.')[0] in ('pykeepass', 'segno', 'bagit', 'lxml') "
             "or n.startswith(('archive.intake.importers', 'archive.ops', 'archive.cli.completion_scripts'))]; "
             "print(heavy)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("words", [["restore", "{rid}", "--to", "{out}"], ["audit", "nas", "--budget", "1"]])
def test_commands_that_unseal_nothing_do_not_load_the_sealing_engine(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, words: list[str]) -> None:
    """A restore from the store and an audit without the passphrase read no bundle's contents:
    the engine and pycryptodomex (cffi, pycparser: ~60 ms) stay unloaded, as before the regroup
    of `archive/` (issue 13: restore had become 1.21 x slower)."""
    from tests.archive.replication_support import add_sample

    sample = add_sample(cli, tmp_path)
    assert cli("remote", "add", "nas", tmp_path / "nas", "--create").code == 0
    assert cli("sync").code == 0
    if words[0] == "audit":
        monkeypatch.delenv("ARKEEP_PASSPHRASE")     # its digest mode (restore decrypts the licence)
    argv = [w.format(rid=sample.rid, out=tmp_path / "out") for w in words]
    probe = ("import sys; from archive.cli.main import main; "
             f"code = main(['--store', {str(store_dir)!r}, *{argv!r}]); "
             "print(code, [n for n in sys.modules if n.startswith(('archive.seal', 'Cryptodome'))])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
