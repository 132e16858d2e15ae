"""Latencies composed for many columns at once (:func:`endpoint_latencies`) against each
column composed on its own (:func:`endpoint_latency` of a solution of that load alone).

Each column chooses its own grids; the columns that chose the same grid are composed there
together. The generated designs reach every step kind, holder and time shape
(tests/estimate/designs.py); the loads run from light to beyond saturation.
"""

from __future__ import annotations

import importlib
import math
import random

import numpy as np
import pytest

import designkit as dk
from tests.estimate.designs import FAMILIES, loaded

latency = importlib.import_module("designkit.estimate.latency")
api = importlib.import_module("designkit.estimate.api")
solve = importlib.import_module("designkit.estimate.solve")

CASES = [(family, seed) for family in FAMILIES if family != "calibrated" for seed in (1, 2)]
LOADS = (0.2, 0.5, 0.8, 0.95, 1.5)
"""Scales as shares of the one that puts the busiest station at utilization 0.9."""


@pytest.mark.parametrize(("family", "seed"), CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_loads_composed_together_are_each_load_composed_alone(family: str,
                                                              seed: int) -> None:
    design = FAMILIES[family](random.Random(f"{family}-{seed}"))
    base = loaded(design, 0.9)
    totals = [base * share for share in LOADS]
    _, program, load, _, _ = api.prepare(design, None, None, 0.0, 1.0)
    together = solve.Solution(program, totals[0], solve.trials(program, load, totals),
                              solve.flows_of(program, load))
    saturated = 0
    for i in range(len(program.endpoints)):
        if together.endpoint_rate[i] <= 0:
            continue
        rows = latency.endpoint_latencies(together, i)
        for k, total in enumerate(totals):
            alone = latency.endpoint_latency(solve.solve(program, load, total), i)
            expected = [alone.p50, alone.p95, alone.p99, alone.mean]
            assert np.allclose(rows[:, k], expected, rtol=1e-9, atol=1e-12), (i, total)
            saturated += math.isinf(alone.p95)
    assert saturated, "the last load saturates something"


def test_the_capacity_curve_is_an_estimate_at_each_load() -> None:
    """The p95 curve (every load a column) is what an estimate at each load reads."""
    design = dk.template("payments-saga")
    estimate = dk.estimate(design)
    name = next(iter(estimate.endpoints))
    totals = [0.5, 1.0, 2.0, 4.0]
    curve = api.p95_curve(design, None, 0.0, totals, [name])[name]
    each = [dk.estimate(design, scale=t).endpoints[name].p95_ms
            for t in totals]
    assert np.allclose(curve, each, rtol=1e-9)
    assert api.p95_curve(design, None, 0.0, [0.0, 1.0], [name])[name] == [math.inf, each[1]]


def test_many_columns_of_a_long_sequence_stay_bounded_in_memory() -> None:
    """Sixteen columns of a chain of 150 cache calls: a sequence's steps are multiplied
    one at a time (not all 150 spectra of 16 rows held at once: 79 MB) and the waits kept
    are bounded in cells (:data:`KEPT_WAIT_CELLS`, 32 MB), whatever the columns — with the
    same numbers as each column alone."""
    import tracemalloc

    d = dk.Design(name="chain")
    ep = d.service("api", workers=100_000, io="async").endpoint("GET /x", cpu_ms=1.0)
    for i in range(150):
        d.cache(f"c{i}", service_ms=1.0)
        ep.call(f"c{i}")
    d.set_load("api GET /x", 100)
    _, program, load, _, _ = api.prepare(d, None, None, 0.0, 1.0)
    totals = np.linspace(0.5, 5.0, 16).tolist()
    together = solve.Solution(program, 1.0, solve.trials(program, load, totals),
                              solve.flows_of(program, load))
    tracemalloc.start()
    try:
        rows = latency.endpoint_latencies(together, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MB"  # (137 MB before either bound)
    alone = latency.endpoint_latency(solve.solve(program, load, totals[-1]), 0)
    assert rows[1, -1] == pytest.approx(alone.p95, rel=1e-9)


def test_the_capacity_curve_composes_its_loads_a_group_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    design = dk.template("flash-sale")
    names = list(dk.estimate(design).endpoints)
    totals = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
    whole = api.p95_curve(design, None, 0.0, totals, names)
    monkeypatch.setattr(latency, "COMPOSED_AT_ONCE", 3)  # (3 + 3 + 1)
    assert api.p95_curve(design, None, 0.0, totals, names) == whole


@pytest.mark.parametrize("columns", [1, 16])
def test_a_grids_composer_keeps_at_most_64_waits_and_32_mb(columns: int) -> None:
    """The waits a grid's composer keeps: at most :data:`KEPT_WAITS` of them (one column:
    64 × 32 KB, as many stations as a 10,000-component design has would otherwise stay),
    and at most :data:`KEPT_WAIT_CELLS` cells whatever the columns."""
    spectra = importlib.import_module("designkit.estimate.spectra")
    composer = importlib.import_module("designkit.estimate.composer")
    d = dk.Design(name="chain")
    ep = d.service("api", workers=100_000, io="async").endpoint("GET /x", cpu_ms=1.0)
    for i in range(150):
        d.cache(f"c{i}", service_ms=1.0)
        ep.call(f"c{i}")
    d.set_load("api GET /x", 100)
    _, program, load, _, _ = api.prepare(d, None, None, 0.0, 1.0)
    totals = np.linspace(0.5, 5.0, columns).tolist()
    solution = solve.Solution(program, 1.0, solve.trials(program, load, totals),
                              solve.flows_of(program, load))
    made = composer.composer_of(solution, 2048)
    made.own(0)
    kept = [(len([w for w in g.waits.values() if w is not None]),
             sum(w.size for w in g.waits.values() if w is not None))
            for g in made.grids.values()]
    assert max(n for n, _ in kept) == spectra.KEPT_WAITS
    assert max(cells for _, cells in kept) <= spectra.KEPT_WAIT_CELLS
