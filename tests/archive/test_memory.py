"""Peak memory of `arkeep add` stays flat however big the installer (the issue: 2 GB under 150 MB).

A 300 MB file keeps the suite fast; streaming in fixed chunks means the size does not matter,
and a whole-file read would show up as 300+ MB here just as it would as 2 GB there.
The file is sparse (a hole after 4 MiB of random bytes): cheap on disk, but every byte of it is
still read, hashed and written by arkeep.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from archive.storage.hashing import hash_file

SIZE = 300 * 1024 * 1024
LIMIT_MB = 150

# A fresh wrapper process: RUSAGE_CHILDREN then covers arkeep alone, not earlier children of pytest.
WRAPPER = textwrap.dedent("""
    import json, resource, subprocess, sys
    proc = subprocess.run([sys.executable, "-m", "archive", *sys.argv[1:]], capture_output=True, text=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"code": proc.returncode, "stderr": proc.stderr, "maxrss_kib": usage.ru_maxrss}))
""")


def peak_of(*args: str | Path) -> tuple[int, float]:
    """Exit code and peak RSS in MB of one arkeep run."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *map(str, args)], capture_output=True,
                         text=True, check=True, start_new_session=True).stdout
    data = json.loads(out)
    assert data["code"] == 0, data["stderr"]
    return data["code"], data["maxrss_kib"] / 1024     # Linux reports KiB


def test_peak_memory_of_add_stays_under_150_mb(store_dir: Path, tmp_path: Path) -> None:
    big = tmp_path / "big-installer.iso"
    with open(big, "wb") as f:
        f.write(os.urandom(4 * 1024 * 1024))
        f.truncate(SIZE)
        f.seek(SIZE - 4096)
        f.write(os.urandom(4096))
    try:
        _, baseline = peak_of("list")
        _, peak = peak_of("add", big, "--product", "Big", "--version", "1")
        print(f"peak RSS: arkeep list {baseline:.1f} MB, arkeep add (300 MB file) {peak:.1f} MB")
        assert peak < LIMIT_MB, f"arkeep add peaked at {peak:.1f} MB for a 300 MB file"
        # The measurement can fail: the file really went through the process.
        stored = list((store_dir / "objects").rglob("*"))
        objects = [p for p in stored if p.is_file()]
        assert len(objects) == 1 and objects[0].stat().st_size == SIZE
        assert objects[0].name == hash_file(big)
    finally:
        shutil.rmtree(store_dir / "objects", ignore_errors=True)   # 300 MB need not outlive the test
        big.unlink(missing_ok=True)


def test_the_measurement_sees_a_whole_file_read(tmp_path: Path) -> None:
    """Guard against a wrapper that measures nothing: reading 200 MB at once must show up."""
    script = "import sys; data = open(sys.argv[1], 'rb').read(); print(len(data))"
    big = tmp_path / "f"
    with open(big, "wb") as f:
        f.truncate(200 * 1024 * 1024)
    wrapper = WRAPPER.replace('[sys.executable, "-m", "archive", *sys.argv[1:]]',
                              '[sys.executable, "-c", ' + repr(script) + ', *sys.argv[1:]]')
    out = subprocess.run([sys.executable, "-c", wrapper, str(big)], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out)["maxrss_kib"] / 1024 > 200
