"""The recovery kit as a printable page: HTML with the recovery code as text and as a QR code.

Open it in any browser and print it (or "print to PDF"). Everything is inline: no script, no
font, no image file, no network, so the page prints the same in 2045. The QR code is an inline
SVG drawn by segno and holds exactly the recovery code as printed. The steps are those of
docs/RECOVERY.md: 7-Zip opens every bundle with the code; b3sum proves each file.
"""
from __future__ import annotations

import html
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from archive.errors import MissingModule
from archive.present.kit import (
    ALPHABET,
    replica_lines,
    s3_fetch_command,
    steps_for,
    write_recovery_kit,
)
from archive.replicate.remotes import RemoteSpec, remote_kind_label

HTML_SUFFIXES = (".html", ".htm")

STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 46em; margin: 2em auto;
       color: #000; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.4em; }
.code { font-family: 'DejaVu Sans Mono', Consolas, monospace; font-size: 1.5em; letter-spacing: 0.08em;
        border: 2px solid #000; padding: 0.5em 0.8em; display: inline-block; margin: 0.4em 0; }
.qr { float: right; margin: 0 0 1em 1.5em; text-align: center; font-size: 0.8em; }
pre, code { font-family: 'DejaVu Sans Mono', Consolas, monospace; font-size: 0.9em; }
pre { background: #f4f4f4; border: 1px solid #ccc; padding: 0.5em; white-space: pre; font-size: 0.8em; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: 0.2em 0.6em; text-align: left; }
.warn { border-left: 4px solid #000; padding-left: 0.8em; }
@media print { body { margin: 0; } pre { background: none; font-size: 7.5pt; } a { color: #000; text-decoration: none; } }
"""


def is_html(path: Path) -> bool:
    return path.suffix.lower() in HTML_SUFFIXES


def write_kit(path: Path, code: str, key_id: str, store: Path,
              remotes: Iterable[RemoteSpec] = ()) -> None:
    """The kit `path` asks for: the printable HTML page for .html/.htm, else the text kit."""
    if is_html(path):
        write_html_kit(path, code, key_id, store, remotes)
    else:
        write_recovery_kit(path, code, key_id, store, remotes)


def require_kit_support(path: Path) -> None:
    """Fail before anything is created when the kit asked for cannot be drawn (init must never
    make a store whose recovery code went nowhere)."""
    if is_html(path):
        qr_svg("CHECK")


def qr_svg(code: str) -> str:
    try:
        import segno
    except ImportError as exc:
        raise MissingModule.from_import_error(exc, "drawing the QR code of an .html recovery kit") \
            from None
    return segno.make(code, error="m", micro=False).svg_inline(scale=5, border=4, dark="#000",
                                                               light="#fff", title="recovery code")


def kit_html(code: str, key_id: str, store: Path, remotes: Iterable[RemoteSpec] = (),
             created: datetime | None = None) -> str:
    e = html.escape
    remotes = list(remotes)
    created = created or datetime.now(UTC)
    rows = "".join(
        f"<tr><td>{e(r.name)}</td><td>{e(remote_kind_label(r))}</td>"
        f"<td>{'offsite' if r.offsite else 'onsite'}</td>"
        f"<td><code>{e(line.split(': ', 1)[1])}</code></td></tr>"
        for r, line in zip(remotes, replica_lines(remotes)))
    remote_table = (f"<table><tr><th>name</th><th>kind</th><th></th><th>where</th></tr>{rows}</table>"
                    if rows else "<p>No remotes yet: <code>arkeep remote add NAME URL</code>, then "
                                 "<code>arkeep sync</code>, then print a new kit.</p>")
    steps = "".join(f"<li><p><b>{e(s.title)}.</b> {e(s.text)}</p><pre>{e(s.commands)}</pre></li>\n"
                    for s in steps_for(code))
    fetches = "".join(f"<p>{e(r.name)}:</p><pre>{e(s3_fetch_command(r) or '')}</pre>"
                      for r in remotes if r.kind == "s3")
    s3 = (f"<h2>An S3 replica</h2><p>Download it first, with its access key in "
          f"<code>AWS_ACCESS_KEY_ID</code> and <code>AWS_SECRET_ACCESS_KEY</code>, then set "
          f"<code>REPLICA=\"$HOME/s3-replica\"</code> in step 1.</p>{fetches}") if fetches else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>arkeep recovery kit {e(key_id)}</title>
<style>{STYLE}</style></head>
<body>
<div class="qr">{qr_svg(code)}<br>the recovery code</div>
<h1>arkeep recovery kit</h1>
<p>Archive key id <b>{e(key_id)}</b> · printed {created:%Y-%m-%d %H:%M} UTC<br>
Store: <code>{e(str(store))}</code></p>

<h2>Recovery code</h2>
<p>The password of every bundle. Type it exactly as printed, upper case, with the dashes:</p>
<div class="code">{e(code)}</div>
<p>{e(ALPHABET)}</p>
<p class="warn">Keep this page somewhere safe and away from the computer: anyone who holds it and a
copy of your archive can open every bundle. You do not need your passphrase to use it.
Delete the file once it is printed.</p>

<h2>Where the copies are (as of the date above)</h2>
{remote_table}
<p>A drive is found by the marker file at its root wherever it is mounted: the drive whose
<code>.arkeep-drive.toml</code> holds the uuid above; its replica is the folder named there.</p>

<h2>Getting an installer and its key back with 7-Zip and b3sum alone</h2>
<p>You need one replica, this code, 7-Zip (<code>7zz</code> on Linux and macOS, <code>7z.exe</code>
on Windows) and <code>b3sum</code>. No arkeep, no Python, no passphrase. docs/RECOVERY.md says the
same at length, Windows included.</p>
<ol>
{steps}</ol>
{s3}
<h2>With arkeep and the passphrase</h2>
<pre>arkeep rebuild --from REPLICA
arkeep restore PRODUCT@VERSION --to DIR</pre>
<p>REPLICA is a path or <code>s3://bucket/prefix</code>. A release exported with
<code>arkeep export … --zip FILE</code> opens with the same code.</p>
</body></html>
"""


def write_html_kit(path: Path, code: str, key_id: str, store: Path,
                   remotes: Iterable[RemoteSpec] = ()) -> None:
    """Write the page readable by the owner only; refuse to replace an existing file."""
    text = kit_html(code, key_id, store, remotes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
