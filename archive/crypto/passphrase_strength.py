"""Judging a new passphrase (init, key passwd) before it wraps the archive secret.

Whoever copies `key.toml` (it is in the store and on every replica) can guess the passphrase
offline for as long as they like, at scrypt's price per guess. So a new passphrase is estimated
with zxcvbn (Dropbox's estimator: dictionaries of common passwords, names and words, l33t
substitutions, keyboard walks, repeats, sequences and dates; an entropy count by character
classes would call "Password2026!" strong) and:

- below FLOOR_LOG10 guesses it is refused, unless the user says --weak-passphrase-ok;
- below GOOD_LOG10 it is accepted with a warning;
- above, nothing is said.

The floors assume an attacker with GPUs at about 10^5 scrypt (N=2^16, r=8, p=2) guesses a
second: 10^10 guesses is about a day, 10^14 about thirty years. A passphrase from the
environment or a file is judged like a typed one: it wraps the same key.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from archive.errors import UsageError

FLOOR_LOG10 = 10.0
GOOD_LOG10 = 14.0
OVERRIDE_FLAG = "--weak-passphrase-ok"
# Words an attacker would try first against an arkeep key file.
CONTEXT_WORDS = ("arkeep", "archive", "passphrase", "installer", "licence", "license", "backup")


class WeakPassphrase(UsageError):
    """A new passphrase below the floor (exit 2); the message never quotes it."""


@dataclass(frozen=True)
class Strength:
    guesses_log10: float
    warning: str          # zxcvbn's feedback, generic text that never quotes the passphrase

    @property
    def verdict(self) -> str:
        if self.guesses_log10 < FLOOR_LOG10:
            return "weak"
        return "fair" if self.guesses_log10 < GOOD_LOG10 else "strong"


def estimate(passphrase: str, context: Iterable[str] = ()) -> Strength:
    """zxcvbn's estimate of the guesses needed (it reads the first 72 characters: a lower bound
    for a longer passphrase)."""
    from zxcvbn import zxcvbn
    result = zxcvbn(passphrase, user_inputs=[*CONTEXT_WORDS, *context])
    warning = str(result.get("feedback", {}).get("warning") or "")
    return Strength(float(result["guesses_log10"]), warning)


def check_new_passphrase(passphrase: str, weak_ok: bool, warn: Callable[[str], None],
                         context: Iterable[str] = ()) -> Strength:
    """Refuse a weak new passphrase (unless weak_ok), warn about a fair one."""
    strength = estimate(passphrase, context)
    about = f"about 10^{int(strength.guesses_log10)} guesses"
    why = f" ({strength.warning.rstrip('.')})" if strength.warning else ""
    if strength.verdict == "weak":
        if not weak_ok:
            raise WeakPassphrase(
                f"this passphrase is too easy to guess{why}: {about}, while anyone with a copy of "
                "key.toml (every replica has one) can guess offline; choose a longer one, e.g. five "
                f"random words, or accept the risk with {OVERRIDE_FLAG}")
        warn(f"warning: a weak passphrase ({about}), accepted because of {OVERRIDE_FLAG}")
    elif strength.verdict == "fair":
        warn(f"warning: this passphrase would fall to a determined offline attacker ({about}"
             f"{'; ' + strength.warning.rstrip('.') if strength.warning else ''}); "
             "a longer one (five random words) is safer")
    return strength
