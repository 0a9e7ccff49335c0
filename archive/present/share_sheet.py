"""A recovery sheet: one share of the recovery code, printed for one heir or trustee.

Any K sheets of a set recover the archive's recovery code, with `arkeep key join` or with
`ssss-combine` from Debian's `ssss` package and no arkeep (docs/RECOVERY.md, "Recovery sheets").
A sheet alone, or K-1 of them, reveal nothing about the code. The HTML page is self-contained
like the recovery kit (inline SVG QR code of the share line, no script, no network).
"""
from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path

from archive.present.kit_html import STYLE, qr_svg


def _grouped(line: str) -> str:
    """The share line in groups of eight after its number, for reading aloud and typing."""
    head, _, value = line.rpartition("-")
    return f"{head}-" + " ".join(value[i:i + 8] for i in range(0, len(value), 8))


def _facts(line: str, number: int, count: int, threshold: int, key_id: str,
           holder: str | None) -> tuple[str, list[str], list[str]]:
    title = f"arkeep recovery sheet {number} of {count}"
    about = [(f"Archive key id {key_id}. Any {threshold} of the {count} sheets of this set recover "
             "the recovery code, which opens every bundle of the archive with 7-Zip."),
             (f"This sheet alone, or {threshold - 1} sheet(s), reveal nothing about it. Keep the "
             "sheets apart: with different people or in different places.")]
    if holder:
        about.insert(0, f"Kept by: {holder}")
    steps = [
        ("With arkeep: run `arkeep key join` and type or paste the share lines of "
        f"{threshold} sheets, one per line (the spaces in them do not matter). It prints the "
        "recovery code, or with --name NAME gives you your own passphrase for the store."),
        (f"Without arkeep (Debian/Ubuntu: `sudo apt install ssss`): run `ssss-combine -t "
        f"{threshold}` and enter the share lines of {threshold} sheets, each as ONE line without "
        "spaces. It prints the recovery code (39 characters with dashes)."),
        ("With the recovery code, docs/RECOVERY.md (also in any arkeep recovery kit) says how "
        "7-Zip and b3sum take every installer and key out of a replica."),
    ]
    return title, about, steps


def sheet_text(line: str, number: int, count: int, threshold: int, key_id: str,
               holder: str | None = None, created: datetime | None = None) -> str:
    title, about, steps = _facts(line, number, count, threshold, key_id, holder)
    created = created or datetime.now(UTC)
    out = [title, "=" * len(title), f"printed {created:%Y-%m-%d %H:%M} UTC", ""]
    out += [*about, "", "Share (one line):", "", f"    {line}", "", "The same in groups, for typing:",
            "", f"    {_grouped(line)}", "", "How to recover:"]
    out += [f"  {i}. {s}" for i, s in enumerate(steps, 1)]
    return "\n".join(out) + "\n"


def sheet_html(line: str, number: int, count: int, threshold: int, key_id: str,
               holder: str | None = None, created: datetime | None = None) -> str:
    e = html.escape
    title, about, steps = _facts(line, number, count, threshold, key_id, holder)
    created = created or datetime.now(UTC)
    paras = "".join(f"<p>{e(p)}</p>" for p in about)
    items = "".join(f"<li><p>{e(s)}</p></li>" for s in steps)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(title)} ({e(key_id)})</title>
<style>{STYLE}</style></head>
<body>
<div class="qr">{qr_svg(line)}<br>share {number} of {count}</div>
<h1>{e(title)}</h1>
<p>printed {created:%Y-%m-%d %H:%M} UTC</p>
{paras}
<h2>Share</h2>
<p>One line, exactly as here (the QR code holds the same):</p>
<pre>{e(line)}</pre>
<p>The same in groups of eight, for typing (leave the spaces out for <code>ssss-combine</code>):</p>
<div class="code">{e(_grouped(line))}</div>
<h2>How to recover</h2>
<ol>{items}</ol>
</body></html>
"""


def write_sheet(path: Path, text: str) -> None:
    """Readable by the owner only; an existing file is never replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
