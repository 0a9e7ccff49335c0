"""Compare two versions of arkeep from `scripts/bench --json` files, row by row.

Run the bench once per version with the same script, alternating versions (the older one with its
own checkout's Python: `OLD/.venv/bin/python scripts/bench.py --quick --json before-1.json`),
then:

    python scripts/bench_compare.py --before before-1.json before-2.json --after after-1.json after-2.json

For every row both versions have, it prints the median of arkeep's time in each version, their
quotient (after / before: below 1 is faster) and, where the row has a peer, the median of the
ratios to the peer in each version: the ratio cancels most of the load that differs between runs,
so read it first when the machine was shared.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

Key = tuple[str, str, str]


def rows_of(paths: list[Path]) -> dict[Key, list[dict]]:
    out: dict[Key, list[dict]] = {}
    for path in paths:
        for row in json.loads(path.read_text())["rows"]:
            if row.get("ours_s") is not None:
                out.setdefault((row["section"], row["operation"], row["peer"]), []).append(row)
    return out


def median_ratio(rows: list[dict]) -> float | None:
    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    return statistics.median(ratios) if ratios else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, nargs="+", required=True, help="JSON of the older version")
    ap.add_argument("--after", type=Path, nargs="+", required=True, help="JSON of the newer version")
    args = ap.parse_args()
    before, after = rows_of(args.before), rows_of(args.after)
    print(f"{'section':16} {'operation':60} {'before':>8} {'after':>8} {'after/before':>12}"
          f"  {'peer ratio before':>17} {'after':>6}")
    for key, rows in after.items():
        if key not in before:
            continue
        t_after = statistics.median(r["ours_s"] for r in rows)
        t_before = statistics.median(r["ours_s"] for r in before[key])
        r_before, r_after = median_ratio(before[key]), median_ratio(rows)
        ratios = f"  {r_before:17.2f} {r_after:6.2f}" if r_before and r_after else ""
        label = key[1] + (f" vs {key[2]}" if key[2] else "")
        print(f"{key[0][:16]:16} {label[:60]:60} {t_before:7.3f}s {t_after:7.3f}s "
              f"{t_after / t_before:12.2f}{ratios}")
    missing = sorted(k[1] for k in before if k not in after) + sorted(k[1] for k in after if k not in before)
    if missing:
        print(f"\nrows only one version has: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
