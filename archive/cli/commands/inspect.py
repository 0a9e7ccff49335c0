"""arkeep inspect"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from archive.cli.context import Context

HELP = "read product, vendor, version and platform from an installer, without running it"
EXAMPLES = """examples:
  arkeep inspect ContosoLedger-4.2.1-x64.msi
  arkeep inspect hello_2.10-3_amd64.deb --json
  arkeep inspect OFFICE_2010.iso            (volume label and the installers inside)

Reads Windows programs and installers (NSIS, Inno Setup, ...), MSI, .deb, RPM, macOS .pkg,
AppImage, ISO 9660 images and zip archives. Each value says where in the file it was read;
what the file does not say is reported as such, never guessed.
Exit status: 0 read, 1 the file is damaged or not what its name says, 2 no such file,
3 a Python package arkeep needs is missing (the message names it).
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("inspect", parents=[common], help=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Identify a file by its bytes and read what it records about "
                                   "the software: product, vendor, exact version, architecture, "
                                   "signer. Nothing is run and nothing is stored.")
    p.add_argument("file", type=Path, metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.intake.inspect import inspect_file

    found = inspect_file(args.file)
    if ctx.json:
        ctx.emit_json(found.to_data())
    else:
        ctx.say("\n".join(describe(found)))
    if found.damaged:
        ctx.note(f"arkeep: problem: {args.file}: {found.problems[0]}")
        return 1
    return 0


def describe(found: Any, indent: str = "") -> list[str]:
    """An inspection as lines of text: each value with where it was read."""
    from archive.present.humanize import human_size

    lines = [f"{indent}{found.path}", f"{indent}  format          {found.label}, {human_size(found.size)}"]
    rows = found.ordered_fields()
    width = max([len(v) for _, v, _ in rows] + [10])
    width = min(width, 44)
    for name, value, source in rows:
        if name == "image_kind":
            continue
        shown = value if len(value) <= width else value[:width - 1] + "…"
        lines.append(f"{indent}  {name:<15} {shown:<{width}}  ({source})")
    for text in found.problems:
        lines.append(f"{indent}  problem: {text}")
    for text in found.notes:
        lines.append(f"{indent}  note: {text}")
    missing = [n for n in ("product", "version") if n not in found.fields]
    hints = {k: v for k, v in found.hints.items() if k in missing}
    if hints and not found.damaged:
        said = ", ".join(f"{k} {v!r}" for k, v in hints.items())
        lines.append(f"{indent}  the file name suggests {said} (a guess from the name, not read "
                     "from the file)")
    if found.inner:
        lines.append(f"{indent}  inside:")
    for inner in found.inner:
        lines.extend(describe(inner, indent + "    "))
    return lines
