"""arkeep completion: shell completion scripts generated from the argument parser itself,
so every command, subcommand and option arkeep knows is completed, and nothing it does not.
The generators live in `archive.cli.completion_scripts`, imported only when this command runs."""
from __future__ import annotations

import argparse

from archive.cli.context import Context

SHELLS = ("bash", "zsh", "fish")
EXAMPLES = """examples:
  arkeep completion bash > ~/.local/share/bash-completion/completions/arkeep
  arkeep completion zsh > "${fpath[1]}/_arkeep"        (then start a new shell)
  arkeep completion fish > ~/.config/fish/completions/arkeep.fish
  source <(arkeep completion bash)                     (this shell only)
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("completion", parents=[common], help="print a shell completion script",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=SHELLS, help="bash, zsh or fish")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.cli.completion_scripts import bash_script, command_tree, fish_script, zsh_script

    tree = command_tree(args.root_parser)
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell](tree)
    ctx.out.write(script)
    return 0
