"""What a notice says: the findings of an audit and of the licences' calendar, in words made
from release ids, file names, remote names, licence ids and dates only (never a key, the
passphrase or the recovery code). ops/notify.py sends them."""
from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from archive.ops.notify import Notice
from archive.storage.store import Store

if TYPE_CHECKING:
    from datetime import datetime

    from archive.ops.audit import RemoteAudit
    from archive.ops.due import Calendar
    from archive.replicate.ledger import Ledger


def _where() -> str:
    return socket.gethostname() or "this machine"


def audit_facts(store: Store, ledger: Ledger, results: list[RemoteAudit],
                now: datetime) -> dict[str, Any]:
    """What an audit notice says beyond the audit itself: how long each drive that was not
    plugged in has been away, and how many releases fall short of the copy policy."""
    from archive.ops.status import Policy, status
    from archive.replicate.remotes import load_remotes
    policy = Policy.from_config(store.config)
    remotes = load_remotes(store)
    seen: dict[str, int | None] = {}
    for r in results:
        spec = remotes.get(r.name)
        if r.status == "skipped" and spec is not None and spec.kind == "drive":
            last = ledger.last_seen(r.name)
            seen[r.name] = None if last is None else (now - last).days
    releases, _ = status(store, ledger, remotes, policy, now)
    return {"drive_warn_days": policy.drive_warn_days, "seen_days": seen,
            "short_of_policy": sum(not r.ok for r in releases)}


def audit_notice(results: list[RemoteAudit], drive_warn_days: int | None = None,
                 seen_days: dict[str, int | None] | None = None,
                 short_of_policy: int = 0) -> Notice | None:
    """The problems an audit found, or None when there is nothing to tell. `seen_days`: for
    each drive that was not plugged in, days since it was last seen (None: never);
    `short_of_policy`: releases that fall short of the copy policy (status)."""
    from archive.present.humanize import count
    lines: list[str] = []
    for r in results:
        for p in r.problems:
            what = "; ".join(f"{rel} / {name}" for rel, name in p.labels) or f"{p.kind} {p.ref[:16]}"
            lines.append(f"PROBLEM {r.name}: {what}: {p.problem}")
        if r.status == "failed":
            lines.append(f"FAILED {r.name}: {r.message}")
        days = (seen_days or {}).get(r.name)
        if r.status == "skipped" and drive_warn_days is not None \
                and r.name in (seen_days or {}) and (days is None or days > drive_warn_days):
            lines.append(f"NOT SEEN {r.name}: "
                         + ("never synced" if days is None else f"last seen {days} days ago")
                         + "; plug it in (audits check it whenever it is)")
        if r.overdue:
            lines.append(f"OVERDUE {r.name}: {count(r.overdue, 'copy', 'copies')} not verified "
                         "within the period")
    if short_of_policy:
        verb = "falls" if short_of_policy == 1 else "fall"
        lines.append(f"POLICY: {count(short_of_policy, 'release')} {verb} short of the copy "
                     "policy (3-2-1); `arkeep status` names them")
    if not lines:
        return None
    damaged = sum(len(r.problems) for r in results)
    title = (f"arkeep audit on {_where()}: {count(damaged, 'damaged copy', 'damaged copies')}"
             if damaged else f"arkeep audit on {_where()}: needs attention")
    lines.append("")
    lines.append("`arkeep audit --repair` rewrites damaged copies from the store; "
                 "`arkeep status` says what each replica lacks.")
    return Notice(title, lines)


def joined(first: Notice | None, second: Notice | None) -> Notice | None:
    """One notice saying what both say (an audit run with the calendar check)."""
    if first is None or second is None:
        return first or second
    return Notice(first.title, [*first.lines, "", second.title + ":", *second.lines],
                  first.failure or second.failure)


def due_notice(cal: Calendar) -> Notice | None:
    if not cal.items:
        return None
    overdue = len(cal.overdue)
    title = (f"arkeep on {_where()}: {overdue} licence item(s) overdue" if overdue else
             f"arkeep on {_where()}: {len(cal.items)} licence date(s) coming up")
    lines = [f"{'OVERDUE' if i.overdue else 'due'}: {i.message}" for i in cal.items]
    return Notice(title, lines, failure=bool(overdue))
