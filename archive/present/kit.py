"""The recovery kit: a page to print and keep away from the computer.

The kit carries docs/RECOVERY.md's procedure in short: the same commands, character for
character (tests/archive/test_recovery_doc.py runs the document's and compares the kit's), with
the recovery code filled in, so that they copy and paste from the page as they are. No command
line is longer than COMMAND_WIDTH characters, so a printer never wraps one inside a word.
"""
from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from archive.replicate.remotes import RemoteSpec, remote_kind_label, remote_where, s3_endpoint

EXAMPLE_CODE = "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"
COMMAND_WIDTH = 88
ALPHABET = ("The code uses the letters A to Z and the digits 2 to 7 only: a 0 is the letter O, "
            "a 1 is the letter I, an 8 is the letter B.")


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    commands: str       # a POSIX shell block, exactly as in docs/RECOVERY.md


STEPS = (
    Step("Open the manifests only",
         "Set where the replica is and the code as printed. After a typing mistake in the code, "
         "correct CODE and run the last line again.",
         "REPLICA='/media/you/USB1/arkeep'\n"
         f"CODE='{EXAMPLE_CODE}'\n"
         "mkdir -p recovered && cd recovered\n"
         "7zz x -p\"$CODE\" -aoa \"$REPLICA/units/*/*.zip\" '*.toml'\n"),
    Step("Check every manifest",
         "Prints each manifest whose content is not what arkeep wrote. Never trust one named "
         "DAMAGED: one changed letter makes a plausible wrong key.",
         "for f in *.toml; do\n"
         "  last=$(tail -n 1 \"$f\")\n"
         "  case $last in\n"
         "    '# arkeep-blake3: '*) [ \"$(sed '$d' \"$f\" | b3sum --no-names)\" = \"${last#*: }\" ] ||\n"
         "                          echo \"DAMAGED: $f\" ;;\n"
         "    *) echo \"NOT CHECKED (written before 2026-12): $f\" ;;\n"
         "  esac\n"
         "done\n"),
    Step("A damaged bundle",
         "7-Zip blames the password for a damaged bundle ('Data Error in encrypted file. Wrong "
         "password?') and still writes what it read. Take each file named DAMAGED, or in an "
         "ERROR line, from another replica (U: its name without .toml), then check again.",
         "OTHER='/mnt/nas/arkeep'\n"
         "U='3b1bce4e2b6f0f6e55c9b83a7d1d2a7c4b9d3e0f1a2b3c4d5e6f708192a3f0405'\n"
         "7zz x -p\"$CODE\" -aoa \"$OTHER\"/units/*/\"$U\".zip\n"),
    Step("Find the release",
         "Each release's product, version, edition and platform, after its file name.",
         "grep -rl --include='*.toml' '^kind = \"release\"' . | xargs awk '\n"
         "  FNR == 1 { top = 1 }  /^\\[/ { top = 0 }\n"
         "  top && /^(product|version|edition|platform) = / { print FILENAME \": \" $0 }'\n"),
    Step("Take out the installer under its real name",
         "Each [[artifact]] of the release names its role, filename, blake3 and the unit that "
         "holds it. b3sum must print the artifact's blake3 value.",
         "UNIT='1db097cf386bf319e3a6a6ac5d27e28b66d4d7bf3c2c04ec4e0b92cdd7c3f0a5'\n"
         "NAME='hello_2.10-3_amd64.deb'\n"
         "7zz x -p\"$CODE\" -aoa \"$REPLICA\"/units/*/\"$UNIT\".zip\n"
         "mv \"$UNIT\" \"../$NAME\"\n"
         "b3sum \"../$NAME\"\n"),
    Step("The key",
         "The release's `licenses` names its licence records. key = \"…\": the key is between "
         "the quotes; key = ''' : the key is every character from the next line up to the "
         "closing ''', line breaks included.",
         "LIC='lic-0a1b2c3d4e'\n"
         "grep -rl --include='*.toml' \"^id = \\\"$LIC\\\"\" . | xargs cat\n"),
)


def steps_for(code: str) -> list[Step]:
    """The steps with `code` in place of the example code."""
    return [Step(s.title, s.text, s.commands.replace(EXAMPLE_CODE, code)) for s in STEPS]


def s3_fetch_command(spec: RemoteSpec) -> str | None:
    """docs/RECOVERY.md's rclone command for an S3 replica, its endpoint and place filled in."""
    if spec.kind != "s3":
        return None
    parts = urlsplit(spec.url)
    place = f"{parts.netloc}{parts.path}".rstrip("/")
    endpoint = s3_endpoint(spec)
    provider = f"--s3-provider Other --s3-env-auth --s3-endpoint '{endpoint}'" if endpoint \
        else "--s3-provider AWS --s3-env-auth"
    return f"rclone copy {provider} \\\n  ':s3:{place}' \"$HOME/s3-replica\""


def replica_lines(remotes: Iterable[RemoteSpec]) -> list[str]:
    """One line per replica as a person finds it in 2045 (what the printed-kit record compares)."""
    lines = []
    for r in remotes:
        line = f"{r.name} ({remote_kind_label(r)}, {'offsite' if r.offsite else 'onsite'}): {remote_where(r)}"
        if r.kind == "s3":
            line += ("; credentials: the access key given to arkeep for it (AWS_ACCESS_KEY_ID / "
                     "~/.aws/credentials), never on this page")
        lines.append(line)
    return lines


def wrapped(text: str, indent: str = "") -> list[str]:
    """Prose lines of at most COMMAND_WIDTH characters, never broken inside a word or a path."""
    return textwrap.wrap(text, COMMAND_WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False)


def kit_text(code: str, key_id: str, store: Path, remotes: Iterable[RemoteSpec] = (),
             printed: datetime | None = None) -> str:
    remotes = list(remotes)
    printed = printed or datetime.now(UTC)
    out = ["ARKEEP RECOVERY KIT", "===================", "",
           f"Archive key id : {key_id}", f"Printed        : {printed:%Y-%m-%d %H:%M} UTC",
           f"Store          : {store}", "",
           "RECOVERY CODE (the password of every bundle; type it exactly as printed, with the dashes):",
           "", f"    {code}", "", *wrapped(ALPHABET), "",
           "Keep this page somewhere safe and away from the computer: anyone who holds it and a",
           "copy of your archive can open every bundle. You do not need the passphrase to use it.",
           "", "WHERE THE COPIES ARE (as of the date above)", ""]
    if remotes:
        for line in replica_lines(remotes):
            out += wrapped(line, indent="  ")
        out += ["", *wrapped("A drive is found by the marker file at its root, wherever it is "
                             "mounted; its replica is the folder named.")]
    else:
        out += ["  None yet: `arkeep remote add NAME URL`, `arkeep sync`, then print a new kit."]
    out += ["", "GETTING AN INSTALLER AND ITS KEY BACK WITH 7-ZIP AND B3SUM ALONE",
            "(no arkeep, no passphrase; docs/RECOVERY.md says the same at length)", ""]
    for number, step in enumerate(steps_for(code), 1):
        out += [*wrapped(f"{number}. {step.title}. {step.text}"), ""]
        out += [f"    {line}" for line in step.commands.splitlines()] + [""]
    fetches = [(r.name, s3_fetch_command(r)) for r in remotes if r.kind == "s3"]
    if fetches:
        out += ["An S3 replica: download it first, with its access key in AWS_ACCESS_KEY_ID and",
                "AWS_SECRET_ACCESS_KEY, then set REPLICA=\"$HOME/s3-replica\" in step 1.", ""]
        for name, command in fetches:
            out += [f"  {name}:"] + [f"    {line}" for line in (command or "").splitlines()] + [""]
    out += wrapped("With arkeep and your passphrase, `arkeep rebuild --from REPLICA` brings the "
                   "whole store back.")
    return "\n".join(out) + "\n"


def write_recovery_kit(path: Path, code: str, key_id: str, store: Path,
                       remotes: Iterable[RemoteSpec] = ()) -> None:
    """Write the kit readable by the owner only; refuse to replace an existing file."""
    text = kit_text(code, key_id, store, remotes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
