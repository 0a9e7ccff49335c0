"""The recovery kit: a page to print and keep away from the computer."""
from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from archive.replicate.remotes import RemoteSpec, remote_kind_label, remote_where

KIT_TEMPLATE = """ARKEEP RECOVERY KIT
===================

Archive key id : {key_id}
Created        : {created}
Store          : {store}

RECOVERY CODE (the password of every bundle; type it exactly as printed, with the dashes):

    {code}

Keep this page somewhere safe and away from the computer: anyone who holds it and a copy of
your archive can open every bundle. You do not need the passphrase to use it.

To get an installer and its key back with 7-Zip alone (no arkeep needed), see docs/RECOVERY.md:
  1. Extract every bundle of a replica:
       7zz x -p'{code}' -orecovered 'REPLICA/units/*/*.zip'
  2. Every file that ends in .toml is a manifest. Find the release you want:
       grep -l '^kind = "release"' recovered/*.toml | xargs grep -H -m 2 -e '^product = ' -e '^version = '
  3. Each [[artifact]] in it names its `filename`, its `blake3` and the `unit` that holds it:
       cp recovered/UNIT "FILENAME" && b3sum "FILENAME"   (must print the blake3 value)
  4. The licence records are the .toml files with kind = "license"; the key is in `key`.

With arkeep and your passphrase, `arkeep rebuild --from REPLICA` brings the whole store back.
"""


def write_recovery_kit(path: Path, code: str, key_id: str, store: Path,
                       remotes: Iterable[RemoteSpec] = ()) -> None:
    """Write the kit readable by the owner only; refuse to replace an existing file."""
    text = KIT_TEMPLATE.format(code=code, key_id=key_id, store=store,
                               created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    where = [f"  {r.name} ({remote_kind_label(r)}, {'offsite' if r.offsite else 'onsite'}): "
             f"{remote_where(r)}" for r in remotes]
    if where:
        text += "\nWhere the copies are (a drive is found by its marker, wherever it is mounted):\n"
        text += "\n".join(where) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
