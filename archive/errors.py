"""Errors the command line turns into one clear line and an exit code.

Each error's message is written for the user: what happened and what to do. None of them ever
carries a licence key, a passphrase or the recovery code.
"""
from __future__ import annotations

import errno

EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class ArkeepError(Exception):
    """Base of every error arkeep reports to the user."""

    exit_code = EXIT_ENVIRONMENT


class UsageError(ArkeepError):
    """The user's input was wrong: a missing file, a bad option, an unknown release."""

    exit_code = EXIT_USAGE


class WrongPassphrase(UsageError):
    pass


class SecretNeeded(UsageError):
    """An operation needs the passphrase (e.g. to read an object kept encrypted at rest)."""


class StoreMissing(UsageError):
    pass


class StoreLocked(ArkeepError):
    """Another arkeep process holds the store's lock."""

    exit_code = EXIT_ENVIRONMENT


class IntegrityError(ArkeepError):
    """Stored bytes do not match their digest or authentication code."""

    exit_code = EXIT_PROBLEM


class IndexStale(ArkeepError):
    """The catalog index said something the files no longer say: it is checked deeply and the
    work planned again (never reported as such unless that fails too)."""

    exit_code = EXIT_ENVIRONMENT


class EnvironmentFailure(ArkeepError):
    """The disk, a remote or the system failed: full, unreachable, permission denied."""

    exit_code = EXIT_ENVIRONMENT


# The pip package of a module whose name differs from it; any other module is its own package.
PACKAGE_OF = {"tomli_w": "tomli-w", "Cryptodome": "pycryptodomex", "dateutil": "python-dateutil",
              "argon2": "argon2-cffi"}


class MissingModule(EnvironmentFailure):
    """A Python package arkeep depends on is missing or cannot be loaded: a partial or broken
    install, never a damaged input. The one place that words it, so every command says the same."""

    def __init__(self, module: str, needed_for: str, *, broken: bool = False) -> None:
        self.module = module.split(".")[0]
        self.package = PACKAGE_OF.get(self.module, self.module)
        state = "is installed but cannot be loaded" if broken else "is not installed"
        super().__init__(f"{needed_for} needs the Python package {self.package}, which {state}: "
                         f"reinstall arkeep, or run `pip install {self.package}` in its environment")

    @classmethod
    def from_import_error(cls, exc: ImportError, needed_for: str) -> MissingModule:
        """The error for an `import` that failed; `exc.name` is the module that was not found
        (or, for a DLL or a name that would not load, the module that was)."""
        return cls(exc.name or "unknown", needed_for, broken=not isinstance(exc, ModuleNotFoundError))


def environment_error(exc: OSError, what: str) -> EnvironmentFailure:
    """One line for a failed disk operation, naming what we were doing."""
    if exc.errno == errno.ENOSPC:
        return EnvironmentFailure(f"{what}: the disk is full; free some space and run the command again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return EnvironmentFailure(f"{what}: permission denied ({exc.strerror})")
    return EnvironmentFailure(f"{what}: {exc.strerror or exc}")
