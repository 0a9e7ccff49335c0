"""One guard for every path arkeep writes on behalf of a manifest or a bundle."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from archive.errors import IntegrityError, UsageError
from manifests.schema import unsafe_filename_reason


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


def check_readable_file(path: Path, directory_hint: str = "give the files inside it") -> int:
    """Refuse what is not a readable regular file, saying which; return its size."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} is a directory; {directory_hint}")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: permission denied; arkeep cannot read it")
    return st.st_size


def make_target_dir(path: Path, what: str = "directory") -> None:
    """Create the directory arkeep writes into (with its parents); refuse, as wrong input, a
    path that is or runs through a file."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        culprit = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise UsageError(f"{culprit} is a file, not a directory; give a {what} to write into") from None
    except OSError as exc:
        from archive.errors import environment_error
        raise environment_error(exc, f"cannot create {path}") from None


def local_source_problem(path: Path) -> str | None:
    """Why a local path cannot be a replica to read from (missing, or a file), or None."""
    if not path.exists():
        return f"{path} does not exist; give the folder, drive or S3 URL of a replica"
    if not path.is_dir():
        return f"{path} is a file, not a directory; give the folder that holds the replica"
    return None
