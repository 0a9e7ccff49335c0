#!/usr/bin/env python3
"""How long `harvest` takes over a big SOFTWARE hive, beside hivex reading the same keys.

    .venv/bin/python scripts/bench_harvest.py [--programs 2000] [--filler 20000] [--runs 3]

Writes (with hivexregedit --merge, as the tests do) a SOFTWARE hive holding `--programs`
uninstall entries and `--filler` other keys with a value each, lays it out as a Windows disk,
then prints the hive's size, the median wall time of `plan_harvest` over the disk (every source
of the table, the installed programs), the peak memory of this process, and the median time of
`hivexregedit --export` of the Uninstall key alone (a C library behind a Perl script) for scale.
Needs hivexregedit (Debian libwin-hivex-perl).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.intake.harvest.plan import plan_harvest  # noqa: E402
from tests.support.regf_empty import write_hive  # noqa: E402

UNINSTALL = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"


def reg_text(programs: int, filler: int) -> str:
    lines = ["Windows Registry Editor Version 5.00", ""]
    for n in range(programs):
        lines += [f"[{UNINSTALL}\\Program {n:05d}]", f'"DisplayName"="Program {n:05d}"',
                  f'"DisplayVersion"="{n % 17}.{n % 5}.{n}"', '"Publisher"="Bench Software"',
                  '"InstallDate"="20240131"', ""]
    for n in range(filler):
        lines += [f"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Filler\\Group {n // 500:03d}\\Key {n:06d}]",
                  f'"Value"="{"x" * 64}"', ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", type=int, default=2000)
    ap.add_argument("--filler", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk"
        config = disk / "Windows" / "System32" / "config"
        config.mkdir(parents=True)
        t0 = time.perf_counter()
        hive = write_hive(config / "SOFTWARE", reg_text(args.programs, args.filler),
                          r"HKEY_LOCAL_MACHINE\SOFTWARE")
        made = time.perf_counter() - t0
        ours, theirs = [], []
        plan = None
        for _ in range(args.runs + 1):                      # the first run warms up
            t0 = time.perf_counter()
            plan = plan_harvest(disk)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(["hivexregedit", "--export", str(hive),
                            r"\Microsoft\Windows\CurrentVersion\Uninstall"],
                           check=True, stdout=subprocess.DEVNULL)
            theirs.append(time.perf_counter() - t0)
        assert plan is not None and len(plan.installed) == args.programs
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"hive: {hive.stat().st_size / 2**20:.1f} MiB ({args.programs} programs, "
              f"{args.filler} other keys; written by hivexregedit in {made:.1f} s)")
        print(f"arkeep harvest (plan_harvest): {statistics.median(ours[1:]):.2f} s median of "
              f"{args.runs}; peak RSS {peak:.0f} MiB")
        print(f"hivexregedit --export of Uninstall: {statistics.median(theirs[1:]):.2f} s median")


if __name__ == "__main__":
    main()
