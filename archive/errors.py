"""Errors the command line turns into one clear line and an exit code.

Each error's message is written for the user: what happened and what to do. None of them ever
carries a licence key, a passphrase or the recovery code.
"""
from __future__ import annotations

EXIT_OK = 0
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


class UnknownRelease(UsageError):
    pass


class StoreMissing(UsageError):
    pass


class StoreLocked(ArkeepError):
    """Another arkeep process holds the store's lock."""

    exit_code = EXIT_ENVIRONMENT


class IntegrityError(ArkeepError):
    """Stored bytes do not match their digest or authentication code."""

    exit_code = EXIT_PROBLEM


class EnvironmentFailure(ArkeepError):
    """The disk, a remote or the system failed: full, unreachable, permission denied."""

    exit_code = EXIT_ENVIRONMENT
