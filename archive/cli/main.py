"""The command line: parse, run one command, turn every known error into one clear line."""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from archive.cli.context import Context
from archive.errors import (
    EXIT_ENVIRONMENT,
    EXIT_PROBLEM,
    EXIT_USAGE,
    ArkeepError,
    MissingModule,
)
from manifests.errors import (
    AmbiguousRelease,
    ManifestError,
    ManifestInvalid,
    ReleaseNameClash,
    ReleaseNotFound,
)

OUR_PACKAGES = ("archive", "backends", "manifests")  # an import of ours that fails is a bug
# Each command module in the order `arkeep --help` lists them, with the command words it
# registers (tests/cli/test_command_words.py checks the words against what each one registers).
COMMAND_WORDS: dict[str, tuple[str, ...]] = {
    "init": ("init",), "add": ("add",), "inspect": ("inspect",), "scan": ("scan",),
    "harvest": ("harvest",), "importer": ("import",), "catalog": ("list", "show"),
    "remove": ("remove", "prune"), "remote": ("remote",), "sync": ("sync",),
    "status": ("status", "whereis"), "check": ("check",), "verify": ("verify",),
    "audit": ("audit",), "due": ("due",), "schedule": ("schedule",),
    "repair": ("repair", "rebuild"), "restore": ("restore",), "export": ("export",),
    "key": ("key",), "session": ("unlock", "lock"), "log": ("log",),
    "seats": ("assign", "unassign", "handover"), "notify": ("notify",), "trust": ("trust",),
    "completion": ("completion",),
}
_MODULE_OF_WORD = {word: module for module, words in COMMAND_WORDS.items() for word in words}
# Global options that take the next word as their value (`--wait` alone is rewritten first).
_VALUE_OPTIONS = ("--store", "--passphrase-file", "--passphrase-command", "--wait")


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"archive.cli.commands.{name}")


EPILOG = """commands by job:
  set up       init, key passwd, key export [--recovery-kit kit.html], completion bash|zsh|fish,
               unlock [--for 15m] / lock (no passphrase for a while: an agent holds the secret),
               notify add URL | list | remove | test (where notices of problems go)
  people       key add NAME | list | remove NAME | passwd [NAME] (one passphrase per person),
               key split --shares N --threshold K | join (recovery sheets for heirs),
               log [PRODUCT@VERSION] (who changed or revealed what),
               assign PRODUCT@VERSION --to PERSON | unassign | handover PERSON (seats)
  archive      add [FILE|URL], inspect, scan, import FORMAT FILE (1password, bitwarden, keepass, lastpass, csv),
               harvest [ROOT] (keys and licence files on a running system or an old disk)
  forget       remove PRODUCT@VERSION | --license ID, prune (objects no release names)
  look         list, show, whereis, status
  replicate    remote add | list | remove, sync
  check        check PRODUCT@VERSION, status --ready, verify [--remote NAME | --all], repair,
               verify --authenticity (signatures again, offline), trust add | list | remove,
               audit (a rolling re-read of every replica, run daily),
               due (licences that expire, renew or end soon), schedule [--install] (run
               audit --due --notify daily: systemd, launchd, Task Scheduler, cron)
  get back     restore, export --zip | --bagit DIR | --csv FILE, rebuild --from URL

The store is $ARKEEP_STORE or --store, else ~/.local/share/arkeep. The passphrase comes from a
hidden prompt, $ARKEEP_PASSPHRASE, --passphrase-file or a command that prints it
(--passphrase-command, $ARKEEP_PASSPHRASE_COMMAND: a password manager or the OS keyring), never
from the command line.
Exit status: 0 all well, 1 a problem was found, 2 wrong input, 3 an environment failure.
"""


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command name (defaults are set once, on the top parser)."""
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("global options")
    g.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                   help="the store directory (default: $ARKEEP_STORE)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="machine-readable output on stdout")
    g.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                   help="print only problems")
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show a traceback on errors")
    g.add_argument("--passphrase-file", metavar="F", default=argparse.SUPPRESS,
                   help="read the passphrase from the first line of F")
    g.add_argument("--passphrase-command", metavar="CMD", default=argparse.SUPPRESS,
                   help="run CMD (no shell) and take the first line it prints as the passphrase, "
                        "e.g. 'secret-tool lookup arkeep store' or 'pass show arkeep' "
                        "(also $ARKEEP_PASSPHRASE_COMMAND)")
    g.add_argument("--wait", metavar="[SECONDS]", type=_seconds, default=argparse.SUPPRESS,
                   help="when another arkeep is writing to the store (a long sync), wait for it "
                        "to finish, at most SECONDS if given, instead of stopping at once")
    return common


class _VersionAction(argparse.Action):
    """`arkeep --version`: the installed package's version, looked up only when asked (the
    metadata machinery costs start-up time every other command would pay)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version
        try:
            number = version("arkeep")
        except PackageNotFoundError:
            number = "unknown (not installed; run from a source tree)"
        print(f"arkeep {number}")
        parser.exit()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds, 0 or more")
    return value


def _wait_without_seconds(argv: list[str]) -> list[str]:
    """`--wait` alone means no limit: argparse would take the next word (a command, a file)
    as its value, so a `--wait` not followed by a number becomes `--wait=inf`."""
    out = list(argv)
    for i, word in enumerate(out):
        if word == "--":
            break
        if word == "--wait":
            following = out[i + 1] if i + 1 < len(out) else ""
            try:
                float(following)
            except ValueError:
                out[i] = "--wait=inf"
    return out


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `only` (a module of COMMAND_WORDS) the top level and that
    module's commands alone: argparse spends ~0.4 ms on each of the ~50 parsers, which every
    command would otherwise pay at start-up for the others' options."""
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="arkeep", parents=[common], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keep the software you paid for restorable for decades: installers, licence "
                    "keys and invoices in a BLAKE3 content-addressed store, replicated as AES-256 "
                    "bundles that 7-Zip opens with your recovery code.")
    parser.add_argument("--version", action=_VersionAction, help="print arkeep's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_WORDS if only is None else (only,):
        command_module(name).register(sub, common)
    parser.set_defaults(root_parser=parser)     # what `completion` describes, without a circle
    return parser


def module_for(argv: Sequence[str]) -> str | None:
    """The command module that `argv` runs, when one parser of it is enough to parse it: not
    for help or the version at the top level, a word that is no command (argparse then lists
    them all), or `completion` (which describes every command)."""
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help", "--version", "--"):
            return None
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            module = _MODULE_OF_WORD.get(word)
            return None if module == "completion" else module
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = _wait_without_seconds(list(sys.argv[1:] if argv is None else argv))
    args = build_parser(module_for(words)).parse_args(words)
    ctx = Context.from_args(args)
    code = EXIT_ENVIRONMENT
    try:
        code = int(args.run(args, ctx))
        return code
    except KeyboardInterrupt:
        ctx.close_bars()
        print("arkeep: interrupted; nothing half-written counts as stored", file=sys.stderr)
        code = 130
        return code
    except Exception as exc:  # noqa: BLE001 - the one place every error is reported
        ctx.close_bars()
        code, message = describe(exc)
        if ctx.debug or code is None:
            traceback.print_exc()
        print(f"arkeep: error: {message}", file=sys.stderr)
        code = code if code is not None else EXIT_ENVIRONMENT
        return code
    finally:
        _record(args, ctx, code)


# Commands that read secrets out of the store: recorded whenever they unlocked it. Any other
# command is recorded when it took the store lock to write.
_REVEALING = {"show", "restore", "export", "key"}


def _command_words(args: argparse.Namespace) -> str:
    words = [args.command]
    for sub in ("key_command", "remote_command", "notify_command", "verb"):
        if getattr(args, sub, None):
            words.append(getattr(args, sub))
    return " ".join(words)


def _target(args: argparse.Namespace) -> str | None:
    for name in ("release", "slot", "slot_option", "name"):
        value = getattr(args, name, None)
        if isinstance(value, str) and value:
            return value
    product, version = getattr(args, "product", None), getattr(args, "release_version", None)
    if isinstance(product, str) and isinstance(version, str):
        return f"{product}@{version}"
    return None


def _record(args: argparse.Namespace, ctx: Context, code: int) -> None:
    """One audit log entry for a command that changed the store or revealed its secrets. Input
    refused (exit 2) is checked before anything is written: it leaves an entry only when the
    store was unlocked for it (an attempt by a key holder, such as removing the last slot),
    so a mistyped path leaves the store as it was."""
    if not ctx.opened or (code == EXIT_USAGE and ctx.keyring is None):
        return
    store = ctx.opened[0]
    revealing = args.command in _REVEALING and store.unlocked_slot is not None
    if not (store.wrote or revealing):
        return
    from archive.ops.activity import record

    why = record(store, _command_words(args), _target(args), code, ctx.keyring)
    if why is not None and code == 0:
        # After a failure the error already said what went wrong (often the same full disk).
        ctx.note(f"arkeep: this command is not in the audit log ({why})")


def describe(exc: BaseException) -> tuple[int | None, str]:
    """Exit code and one-line message; code None means a bug (the traceback is printed)."""
    if isinstance(exc, ArkeepError):
        return exc.exit_code, str(exc)
    if isinstance(exc, (ReleaseNotFound, AmbiguousRelease, ReleaseNameClash)):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, ManifestInvalid):
        return EXIT_PROBLEM, f"damaged manifest: {exc}; `arkeep verify` lists every problem"
    if isinstance(exc, ManifestError):
        return EXIT_PROBLEM, str(exc)
    backend_error = _backend_error_type()
    if backend_error is not None and isinstance(exc, backend_error):
        return EXIT_ENVIRONMENT, str(exc)
    if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] not in OUR_PACKAGES:
        return EXIT_ENVIRONMENT, str(MissingModule.from_import_error(exc, "this command"))
    if isinstance(exc, OSError):
        return EXIT_ENVIRONMENT, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return None, f"unexpected {type(exc).__name__}; this is a bug in arkeep (run with --debug and report it)"


def _backend_error_type() -> type[BaseException] | None:
    try:
        from backends.errors import BackendError
    except ImportError:
        return None
    return BackendError


if __name__ == "__main__":
    sys.exit(main())
