"""Fidelity of ``dk.transient`` (the fluid approximation of a load profile) against
``dk.simulate`` run with the same profile, on the flash-sale template's drop.

The drop: twice the workload for the first minute, back to 1× over the next two. Per
10-second window of arrivals, the mean latency each simulated endpoint's requests had
beside the fluid's mean at the window's middle; then the projector consumers' peak backlog
and when the queues drained (the simulation: the first 10-second window after the peak
whose projector messages took no more than 1.2× their mean at the workload).

Run: ``python benchmarks/fidelity_transient.py [--seconds 240] [--seed 1]`` (about 4
minutes on one core: ~5·10⁶ requests).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import designkit as dk

DROP = dk.LoadProfile(name="the drop", points=[(0, 1), (0, 2), (60, 2), (180, 1)])
SHOWN = ("checkout-api POST /v1/orders", "order-query-api GET /v1/orders/{id}",
         "order-projector POST /v1/order-events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    design = dk.template("flash-sale")
    fluid = dk.transient(design, DROP, until_s=args.seconds)
    base = dk.estimate(design)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run = dk.simulate(design, duration_s=args.seconds, warmup_s=5.0, seed=args.seed,
                          profile=DROP, progress=True)
    took = time.perf_counter() - start
    assert run.timeline is not None
    print(f"# {design.name} under {DROP.name!r}: fluid vs simulation (seed {args.seed}, "
          f"{args.seconds:g} s simulated in {took:.0f} s)\n")
    print("| window s | " + " | ".join(f"{k}: fluid ms | simulated ms | diff" for k in SHOWN)
          + " |")
    print("|---|" + "---|---|---|" * len(SHOWN))
    for lo in range(0, int(args.seconds), 10):
        cells = []
        for key in SHOWN:
            arrived, latency = run.timeline[key]
            inside = (arrived >= lo) & (arrived < lo + 10)
            simulated = float(latency[inside].mean()) if inside.any() else float("nan")
            mid = fluid.endpoints[key][fluid.at(lo + 5)]
            cells.append(f"{mid:,.1f} | {simulated:,.1f} | {mid / simulated - 1:+.0%}")
        print(f"| {lo}–{lo + 10} | " + " | ".join(cells) + " |")
    key = SHOWN[2]
    arrived, latency = run.timeline[key]
    usual = 1.2 * base.endpoints[key].mean_ms
    means = [latency[(arrived >= lo) & (arrived < lo + 10)].mean()
             for lo in range(0, int(args.seconds), 10)]
    peak_window = int(np.nanargmax(means))
    back = next((10 * k for k in range(peak_window, len(means)) if means[k] <= usual), None)
    peak = fluid.stations["order-events consumers"].backlog
    print(f"\nthe projector's consumers: fluid backlog peaks at {peak.max():,.0f} messages at "
          f"{fluid.times_s[int(np.argmax(peak))]:g} s")
    print(f"drained: fluid {fluid.drain_s:g} s; simulation: {key} back within 20 % of its "
          f"mean from the {back}–{(back or 0) + 10} s window")


if __name__ == "__main__":
    main()
