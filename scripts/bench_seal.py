#!/usr/bin/env python3
"""Side-by-side timing of arkeep's sealing against 7-Zip and stock pyzipper.

    .venv/bin/python scripts/bench_seal.py [--size-mib 1024] [--runs 3] [--dir DIR] [--no-pyzipper]

Makes a random file in a temporary directory, then for each operation does one warm-up and
`--runs` timed runs (ours and 7-Zip's alternating) and prints the median wall times, seconds per
GiB, and the median per-run ratio to the 7-Zip command that does the same job (below 1.00 means
arkeep is faster). Page cache warm; `sync` (untimed) before every run; no fsync inside any timed
run, on either side. Needs `7zz` on PATH.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.seal.engine import seal, unseal

PASSWORD = "BENCH-ABCD-EFGH-IJKL-MNOP-QRST-UVWX"


def make_random_file(path: Path, size: int) -> None:
    """`size` pseudo-random bytes, the same every time (BLAKE3's extendable output)."""
    import blake3

    stream = blake3.blake3(b"bench_seal 20261125")
    with open(path, "wb") as f:
        for pos in range(0, size, 64 << 20):
            f.write(stream.digest(length=min(64 << 20, size - pos), seek=pos))


def _cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and of its finished children (7zz)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Row:
    name: str
    peer: str
    ours: float  # median wall seconds
    theirs: float
    ratio: float  # median of per-run wall ratios
    best_ratio: float  # best of ours / best of theirs: the least noisy estimate on a busy machine
    ours_cpu: float  # median CPU seconds
    theirs_cpu: float


def timed_pair(name: str, peer_name: str, ours: Callable[[], object], peer: Callable[[], object],
               before_ours: Callable[[], object], before_peer: Callable[[], object],
               runs: int) -> Row:
    """Median wall and CPU seconds of `ours` and `peer`, and the median per-run wall ratio.

    The two alternate (which one goes first alternates too) so that noise from other processes
    on the machine hits both alike; dirty pages are flushed (untimed) before every run.
    """
    walls: dict[str, list[float]] = {"ours": [], "peer": []}
    cpus: dict[str, list[float]] = {"ours": [], "peer": []}
    for i in range(runs + 1):  # the first round is the warm-up
        order = (("ours", ours, before_ours), ("peer", peer, before_peer))
        for key, fn, before in (order if i % 2 else order[::-1]):
            before()
            os.sync()
            cpu, start = _cpu_seconds(), time.perf_counter()
            fn()
            if i:
                walls[key].append(time.perf_counter() - start)
                cpus[key].append(_cpu_seconds() - cpu)
    ratios = [a / b for a, b in zip(walls["ours"], walls["peer"], strict=True)]
    med = statistics.median
    return Row(name, peer_name, med(walls["ours"]), med(walls["peer"]), med(ratios),
               min(walls["ours"]) / min(walls["peer"]), med(cpus["ours"]), med(cpus["peer"]))


def timed(fn: Callable[[], object], before: Callable[[], object], runs: int) -> float:
    times = []
    for i in range(runs + 1):
        before()
        os.sync()
        start = time.perf_counter()
        fn()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rm(*paths: Path) -> Callable[[], None]:
    def remove() -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    return remove


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", help="where to put the temporary files (default: system temp)")
    ap.add_argument("--no-pyzipper", action="store_true", help="skip the (slow) pyzipper row")
    args = ap.parse_args()
    if not shutil.which("7zz"):
        print("7zz is not on PATH", file=sys.stderr)
        return 2
    size = args.size_mib << 20
    gib = size / (1 << 30)
    pw = PASSWORD.encode()
    with tempfile.TemporaryDirectory(prefix="bench-seal-", dir=args.dir) as tmp:
        d = Path(tmp)
        src = d / "object.bin"
        make_random_file(src, size)
        ours, theirs = d / "ours.zip", d / "theirs.zip"
        out_ours, out_dir = d / "ours.out", d / "x"

        def our_seal() -> None:
            with open(src, "rb") as s, open(ours, "wb") as o:
                seal(s, o, password=pw, entry_name="object", size=size, compress=False)

        def our_unseal() -> None:
            with open(ours, "rb") as s, open(out_ours, "wb") as o:
                unseal(s, o, password=pw)

        def our_test() -> None:
            with open(ours, "rb") as s:
                unseal(s, None, password=pw)

        def pyzipper_seal() -> None:
            import pyzipper
            with pyzipper.AESZipFile(theirs, "w", compression=zipfile.ZIP_STORED,
                                     encryption=pyzipper.WZ_AES) as z:
                z.setpassword(pw)
                with z.open("object", "w", force_zip64=True) as w, open(src, "rb") as s:
                    while chunk := s.read(1 << 20):
                        w.write(chunk)

        seven_a = ["7zz", "a", "-tzip", "-mem=AES256", "-mx0", f"-p{PASSWORD}", str(theirs),
                   str(src)]
        rows = [timed_pair("seal", "7zz a -tzip -mem=AES256 -mx0", our_seal,
                           lambda: run(seven_a), rm(ours), rm(theirs), args.runs)]
        rows.append(timed_pair(
            "unseal to a file", "7zz x", our_unseal,
            lambda: run(["7zz", "x", "-y", f"-p{PASSWORD}", f"-o{out_dir}", str(theirs)]),
            rm(out_ours), rm(out_dir), args.runs))
        rows.append(timed_pair(
            "authenticate only", "7zz t", our_test,
            lambda: run(["7zz", "t", f"-p{PASSWORD}", str(theirs)]), lambda: None,
            lambda: None, args.runs))
        pyz = None if args.no_pyzipper else timed(pyzipper_seal, rm(theirs), max(1, args.runs))

    print(f"{args.size_mib} MiB random file, medians of {args.runs} alternating runs after a "
          f"warm-up, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print("wall s are medians; ratio = median of per-run ours/7zz; best = fastest ours / fastest 7zz;"
          " CPU = user+sys s")
    print(f"{'operation':<19}{'arkeep s':>9}{'s/GiB':>7}{'7zz s':>7}{'s/GiB':>7}{'ratio':>7}"
          f"{'best':>6}{'CPU ours':>10}{'7zz':>6}  peer")
    for r in rows:
        print(f"{r.name:<19}{r.ours:>9.2f}{r.ours / gib:>7.2f}{r.theirs:>7.2f}"
              f"{r.theirs / gib:>7.2f}{r.ratio:>7.2f}{r.best_ratio:>6.2f}{r.ours_cpu:>10.2f}"
              f"{r.theirs_cpu:>6.2f}  {r.peer}")
    if pyz is not None:
        seal_s = rows[0].ours
        print(f"{'pyzipper seal':<20}{pyz:>10.2f}{pyz / gib:>8.2f}   (stock, 1 MiB writes; "
              f"arkeep is {pyz / seal_s:.1f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
