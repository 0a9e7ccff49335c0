"""The clock of the commands that judge time (audit, due, status): now, or, for tests and
rehearsals only, the ISO 8601 time in ARKEEP_NOW. Its own small module, so that `status` and
`due` need not load the audit to ask the time."""
from __future__ import annotations

import os
from datetime import UTC, datetime

from archive.errors import UsageError
from archive.replicate.ledger import now as ledger_now

CLOCK_ENV = "ARKEEP_NOW"


def clock() -> datetime:
    """Now, or the time in ARKEEP_NOW (tests simulate a month of daily runs with it)."""
    text = os.environ.get(CLOCK_ENV)
    if not text:
        return ledger_now()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{CLOCK_ENV} must be an ISO 8601 time such as 2026-01-31T03:00:00+00:00, "
                         f"not {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
