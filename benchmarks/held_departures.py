"""How the wait for a flow-equivalent server is scaled for how its requests leave.

Blocking workers (c of them) hold a request through 1–20 ms of cpu and one or two
database calls on stations with fewer servers than workers: the workers and what they
hold are one flow-equivalent server (``designkit/maths/closed.py``), whose wait
``designkit.estimate.solve.departures`` scales. This runs the 23 configurations the
scaling was fitted to (11 chosen, 12 drawn with seed 4) at 0.5, 0.8 and 0.95 of their
capacity, against the exact Markov chain of each (``tests.oracles.tandem_chain_response``),
and prints the mean response's error for the scaling as shipped, for the bare
flow-equivalent server (no scaling) and for other exponents of ``q`` — the evidence for
``q ** 1.5``.

Run: ``python benchmarks/held_departures.py`` (about a minute).
"""

from __future__ import annotations

import importlib
import math
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import designkit as dk
from tests.estimate.test_holding import workers_before_stations as design
from tests.oracles import tandem_chain_response

solve = importlib.import_module("designkit.estimate.solve")
SHIPPED = solve.departures

Config = tuple[int, float, list[tuple[int, float]]]


def configs() -> list[Config]:
    chosen: list[Config] = [
        (2, 1.0, [(1, 5.0), (1, 5.0)]), (2, 5.0, [(1, 5.0)]), (3, 1.0, [(2, 5.0)]),
        (4, 1.0, [(1, 5.0), (1, 5.0)]), (4, 10.0, [(2, 5.0)]), (4, 2.0, [(1, 3.0), (2, 8.0)]),
        (6, 10.0, [(1, 2.0), (2, 4.0)]), (3, 0.2, [(1, 5.0)]), (2, 20.0, [(1, 5.0)]),
        (8, 5.0, [(4, 20.0)]), (8, 1.0, [(2, 5.0)])]
    rng = random.Random(4)
    for _ in range(12):
        m = rng.choice([1, 1, 2])
        stations = [(rng.randint(1, 3), round(rng.uniform(1, 10), 1)) for _ in range(m)]
        workers = rng.randint(max(s for s, _ in stations) + 1, 6 if m == 2 else 8)
        chosen.append((workers, round(rng.choice([0.2, 1, 5, 15]), 1), stations))
    return chosen


def exponent(k: float):  # type: ignore[no-untyped-def]
    def scaled(hold_scv, queued_full, station_scv, servers):  # type: ignore[no-untyped-def]
        effective = hold_scv
        if queued_full:
            i = max(range(len(queued_full)), key=queued_full.__getitem__)
            leaving = 1.0 + (station_scv[i] - 1.0) / math.sqrt(max(servers[i], 1))
            effective += (leaving - hold_scv) * queued_full[i] ** k
        return (1.0 + effective) / 2.0
    return scaled


VARIANTS = {"as shipped (q^1.5)": SHIPPED, "bare flow-equivalent server": lambda *a: 1.0,
            "hold's own variability only": exponent(math.inf), "q^1": exponent(1.0),
            "q^2": exponent(2.0), "q^3": exponent(3.0)}


def main() -> None:
    cases = []
    for workers, cpu_ms, stations in configs():
        capacity = dk.estimate(design(workers, cpu_ms, stations, 1.0)).max_scale
        for rho in (0.5, 0.8, 0.95):
            rps = rho * capacity
            exact = tandem_chain_response(rps / 1000.0, workers, cpu_ms, stations,
                                          most=300 if rho > 0.9 else 160)
            cases.append((workers, cpu_ms, stations, rho, rps, exact))
    print(f"{len(cases)} cases: mean response against the exact chain")
    for name, variant in VARIANTS.items():
        solve.departures = variant
        try:
            errors = np.array([dk.estimate(design(w, c, s, rps)).endpoints["api GET /x"]
                               .mean_ms / exact - 1.0 for w, c, s, _, rps, exact in cases])
        finally:
            solve.departures = SHIPPED
        low = np.array([rho <= 0.8 for *_, rho, _, _ in cases])
        print(f"  {name:30s} ρ ≤ 0.8: {errors[low].min():+.1%} … {errors[low].max():+.1%}"
              f"   ρ 0.95: {errors[~low].min():+.1%} … {errors[~low].max():+.1%}"
              f"   rms {math.sqrt(float(np.mean(errors ** 2))):.1%}")


if __name__ == "__main__":
    main()
