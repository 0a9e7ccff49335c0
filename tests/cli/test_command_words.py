"""The parser built for one command parses exactly as the whole command line does."""
from __future__ import annotations

import argparse

import pytest

from archive.cli.main import COMMAND_WORDS, build_parser, command_module, common_options, module_for


@pytest.mark.parametrize("name", sorted(COMMAND_WORDS))
def test_each_module_registers_the_words_listed_for_it(name: str) -> None:
    sub = argparse.ArgumentParser().add_subparsers()
    command_module(name).register(sub, common_options())
    assert sorted(sub.choices) == sorted(COMMAND_WORDS[name])


def test_the_whole_parser_lists_every_word_once() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    words = [word for words in COMMAND_WORDS.values() for word in words]
    assert sorted(sub.choices) == sorted(words)
    assert len(set(words)) == len(words)


@pytest.mark.parametrize(("argv", "module"), [
    (["list"], "catalog"),
    (["--store", "list", "show", "x@1"], "catalog"),       # a store folder named like a command
    (["--store=/s", "-q", "sync", "nas"], "sync"),
    (["--wait=inf", "--passphrase-file", "add", "unlock"], "session"),
    (["--json", "key", "list"], "key"),
    (["handover", "alice"], "seats"),
    (["-h", "list"], None),                                # the top level's help lists them all
    (["--version"], None),
    (["lisst"], None),                                     # argparse names the valid words
    (["completion", "bash"], None),                        # describes every command
    ([], None),
    (["--store", "/s"], None),
])
def test_the_module_is_found_past_global_options(argv: list[str], module: str | None) -> None:
    assert module_for(argv) == module


@pytest.mark.parametrize("argv", [
    ["list", "--licenses"],
    ["--store", "/s", "--json", "show", "foo@1.0"],
    ["sync", "nas", "--quiet"],
    ["verify", "--remote", "nas"],
    ["key", "add", "--name", "bob"],
    ["assign", "foo@1.0", "--to", "alice", "--machine", "pc1"],
    ["--wait=5", "restore", "foo@1.0", "--to", "/tmp/out"],
    ["unlock", "--for", "15m"],
])
def test_one_commands_parser_parses_as_the_whole_one(argv: list[str]) -> None:
    def parsed(parser: argparse.ArgumentParser) -> dict[str, object]:
        values = vars(parser.parse_args(argv))
        values.pop("root_parser")
        return {k: v for k, v in values.items() if not callable(v)} | {
            "run": getattr(values.get("run"), "__qualname__", None)}

    module = module_for(argv)
    assert module is not None
    assert parsed(build_parser(module)) == parsed(build_parser())
