"""Fidelity sweep: the estimate against ``dk.simulate`` on generated designs of every step kind.

Every family of ``tests/estimate/designs.py`` (call, transaction, lock, loop, cache,
parallel, publish, and all of them in one endpoint), several seeds each, loaded so that the
estimate's busiest station is at a low (0.3) and a high (0.8) utilization. Each case is
simulated over independent replications (seeds 0, 1, …) long enough together for
``--completions`` of its least-used endpoint; the table has, per endpoint with traffic, the
estimate and the simulation's mean and p95, the difference, and the half-width of the
simulation's 95 % confidence interval (from the spread of the replications). ``ok`` when
|difference| ≤ 5 % + that half-width.

Run: ``python benchmarks/fidelity_step_kinds.py [--seeds 1-4] [--rhos 0.3,0.8]
[--families calls,lock] [--completions 21000] [--replications 8]`` (about 2–3 s a case
on one core at the defaults).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.estimate.designs import FAMILIES, Case, Row, compare


def seeds(text: str) -> list[int]:
    """``"1-4"`` or ``"1,3,7"``."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def line(row: Row) -> str:
    verdicts = ["ok" if row.agrees(m) else "NO" for m in ("mean", "p95")]
    return (f"| {row.case} | {row.endpoint} | {row.rho:.2f} "
            f"| {row.est_mean:.3f} | {row.sim_mean:.3f} | {row.error('mean'):+.1%} "
            f"| ±{row.half_mean / row.sim_mean:.1%} | {verdicts[0]} "
            f"| {row.est_p95:.3f} | {row.sim_p95:.3f} | {row.error('p95'):+.1%} "
            f"| ±{row.half_p95 / row.sim_p95:.1%} | {verdicts[1]} | {row.completions:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seeds", default="1-4")
    parser.add_argument("--rhos", default="0.3,0.8")
    parser.add_argument("--completions", type=int, default=21_000)
    parser.add_argument("--replications", type=int, default=8)
    args = parser.parse_args()
    print("| case | endpoint | ρ | est mean | sim mean | diff | CI | | est p95 | sim p95 "
          "| diff | CI | | completions |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|")
    tally = [0, 0]
    start = time.perf_counter()
    for family in args.families.split(","):
        for seed in seeds(args.seeds):
            for rho in (float(r) for r in args.rhos.split(",")):
                for row in compare(Case(family, seed, rho), args.completions,
                                   args.replications):
                    print(line(row), flush=True)
                    tally[0] += row.agrees("mean") and row.agrees("p95")
                    tally[1] += 1
    print(f"\n{tally[0]} of {tally[1]} endpoint cases agree (mean and p95 within 5 % + CI); "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
