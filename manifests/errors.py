"""Errors of the manifest layer: every problem names the file, the field and what is wrong."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one manifest."""

    source: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.field}: {self.reason}" if self.field else f"{where}{self.reason}"


class ManifestError(Exception):
    """Base of the manifest layer's errors."""


class ManifestInvalid(ManifestError):
    """A manifest failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid manifest"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


class UnknownSchema(ManifestInvalid):
    """A manifest written by a newer arkeep: never guess at a format we do not know."""


class ReleaseNotFound(ManifestError):
    pass


class AmbiguousRelease(ManifestError):
    def __init__(self, ref: str, candidates: list[str]) -> None:
        self.candidates = candidates
        super().__init__(
            f"'{ref}' matches {len(candidates)} releases: {', '.join(candidates)}; give the full id"
        )



class ReleaseNameClash(ManifestError):
    """The id new names map to already belongs to a release with other names: adding to it
    would merge two products. Carries the release that holds the id."""

    def __init__(self, rid: str, holder: object, title: str) -> None:
        self.rid, self.holder = rid, holder
        super().__init__(f"{rid} is already the release '{title}', whose names differ from these")
