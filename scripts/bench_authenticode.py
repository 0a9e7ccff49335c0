#!/usr/bin/env python3
"""How long checking an Authenticode signature takes on a big signed program, beside osslsigncode.

    .venv/bin/python scripts/bench_authenticode.py [--size-mib 1024] [--runs 3]

Removes the signature from the PSF's python.exe (tests/data/authenticode), appends `--size-mib`
of random bytes, signs the result with osslsigncode and a throw-away certificate, then prints the
median wall time of arkeep's check (archive/intake/authenticode.check_file, page cache warm), the
peak memory of this process, and the median time and peak memory of `osslsigncode verify` on the
same file. Needs osslsigncode and openssl.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.intake.authenticode import check_file  # noqa: E402
from archive.intake.trust import Anchors  # noqa: E402

PYTHON_EXE = ROOT / "tests" / "data" / "authenticode" / "python-3.13.2-amd64.exe"


def run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=1800)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-authenticode-") as tmp:
        work = Path(tmp)
        run(["osslsigncode", "remove-signature", "-in", str(PYTHON_EXE), "-out", "plain.exe"], work)
        with open(work / "plain.exe", "ab") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1024 * 1024))
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out",
             "c.pem", "-subj", "/CN=Bench/O=Bench", "-days", "3", "-addext",
             "extendedKeyUsage=codeSigning"], work)
        run(["osslsigncode", "sign", "-certs", "c.pem", "-key", "k.pem", "-h", "sha256", "-in",
             "plain.exe", "-out", "signed.exe"], work)
        signed = work / "signed.exe"
        check_file(signed, Anchors())                      # warm the page cache
        ours = []
        for _ in range(args.runs):
            start = time.perf_counter()
            verdict = check_file(signed, Anchors()).verdict
            ours.append(time.perf_counter() - start)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        theirs, their_rss = [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(["/usr/bin/time", "-f", "%M", "osslsigncode", "verify", "-in",
                                   str(signed)], capture_output=True, text=True, timeout=1800)
            theirs.append(time.perf_counter() - start)
            their_rss = max(their_rss, int(done.stderr.strip().splitlines()[-1]) // 1024)
        print(f"file: {signed.stat().st_size:,} bytes; arkeep verdict {verdict}")
        print(f"arkeep check_file: {statistics.median(ours):.2f} s (median of {args.runs}), "
              f"peak RSS of this process {rss} MB")
        print(f"osslsigncode verify: {statistics.median(theirs):.2f} s (median of {args.runs}), "
              f"peak RSS {their_rss} MB")
        print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
