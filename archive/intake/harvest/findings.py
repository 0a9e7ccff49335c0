"""What a harvest finds: a licence (or the reason there is none) and a place it could not read."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """A licence found (key set, reason None), or one that is there but holds no key (reason)."""

    source: str
    product: str
    kind: str
    where: str
    how: str
    facts: str
    key: str | None = field(default=None, repr=False)
    reason: str | None = None
    vendor: str | None = None
    version: str | None = None
    licensed_to: str | None = None
    company: str | None = None
    email: str | None = None
    also: tuple[str, ...] = ()           # other places that held the same key
    portal: str | None = None            # where an account's licence is seen (no local key)

    @property
    def recoverable(self) -> bool:
        return self.key is not None and self.reason is None

    @property
    def recordable(self) -> bool:
        """A key, or an account licence whose vendor portal is worth a record of its own."""
        return self.recoverable or self.portal is not None


@dataclass(frozen=True)
class Problem:
    where: str
    reason: str


# -- reading values as the registry gives them ----------------------------------------------
def value_of(values: dict[str, Any], name: str) -> Any:
    if name in values:
        return values[name]
    low = name.casefold()
    return next((v for k, v in values.items() if k.casefold() == low), None)


def text_of(value: Any) -> str | None:
    if isinstance(value, str):
        text = value.replace("\x00", "").strip()
        return text or None
    return None
