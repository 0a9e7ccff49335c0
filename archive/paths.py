"""One guard for every path arkeep writes on behalf of a manifest or a bundle."""
from __future__ import annotations

import os
from pathlib import Path

from manifests.schema import unsafe_filename_reason

from .errors import IntegrityError, UsageError


def safe_join(base: Path, name: str) -> Path:
    """`base/name` for a single file name, refusing anything that could land outside `base`."""
    reason = unsafe_filename_reason(name)
    if reason:
        raise IntegrityError(f"refusing to write {name!r}: the name {reason}")
    base_real = os.path.realpath(base)
    target = os.path.join(base_real, name)
    if os.path.commonpath([base_real, os.path.realpath(target)]) != base_real:
        raise IntegrityError(f"refusing to write {name!r}: it resolves outside {base}")
    if os.path.islink(target):
        raise UsageError(f"{target} is a symbolic link; arkeep will not write through it")
    return Path(target)
