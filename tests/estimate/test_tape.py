"""The array machinery under the estimator: levels, batched trials, rebinning, lazy tables and
programs kept while a design is unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

import designkit as dk
from designkit.estimate import api
from designkit.estimate.program import compile_design
from designkit.estimate.result import EndpointEstimate, LazyTable
from designkit.estimate.solve import solve, trials
from designkit.estimate.spectra import rebin
from designkit.estimate.tape import _layers, tape_of
from designkit.maths.distributions import Grid


def test_levels_are_longest_paths_and_a_cycle_is_none() -> None:
    # 0 and 1 need nothing; 2 needs 0; 3 needs 1 and 2; 4 needs 3 and 0.
    owner = np.array([2, 3, 3, 4, 4, 0, 1])
    needs = np.array([0, 1, 2, 3, 0, -1, -1])
    assert _layers(owner, needs, 5).tolist() == [0, 0, 1, 2, 3]  # type: ignore[union-attr]
    # 0 needs 1, 1 needs 0: no order exists.
    assert _layers(np.array([0, 1]), np.array([1, 0]), 2) is None


def test_a_trial_of_several_loads_equals_one_solution_per_load() -> None:
    design = dk.template("flash-sale")
    program = compile_design(design)
    workload = dict(design.workload)
    scales = [0.5, 1.0, 1.5]
    batch = trials(program, workload, scales)
    for column, scale in enumerate(scales):
        one = solve(program, workload, scale)
        assert batch.utilization[:, column].tolist() == pytest.approx(
            [s.utilization for s in one.stations], rel=1e-12)
        assert batch.endpoint_mean[:, column].tolist() == pytest.approx(
            [m.mean for m in one.endpoint_moments], rel=1e-12)


def test_holds_that_nest_in_themselves_make_the_tape_iterate() -> None:
    flash = compile_design(dk.template("flash-sale"))
    tape = tape_of(flash)
    assert not tape.cyclic and len(tape.endpoint_slot) == len(flash.endpoints)
    assert tape_of(flash) is tape  # built once per program
    # The saga handler holds an orders-svc thread while it calls orders-svc's confirm
    # endpoint, which needs another orders-svc thread: the station holds over itself.
    saga = compile_design(dk.template("payments-saga"))
    assert tape_of(saga).cyclic
    solution = solve(saga, dict(dk.template("payments-saga").workload))
    assert 1 < solution.iterations < 100


def test_rebinning_keeps_the_mass_and_moves_quantiles_less_than_a_coarse_cell() -> None:
    fine = Grid.covering(64.0, 2048)
    coarse = Grid.covering(256.0, 2048)  # cells four times wider
    dist = fine.exponential(5.0)
    rebinned = rebin(dist, coarse, 4)
    assert float(rebinned.pmf.sum()) == pytest.approx(1.0, abs=1e-12)
    for q in (0.5, 0.95, 0.99):
        assert abs(rebinned.quantile(q) - dist.quantile(q)) < coarse.step
    assert rebinned.mean() == pytest.approx(5.0, rel=2e-3)


def test_a_lazy_table_computes_each_value_once_and_only_when_read() -> None:
    made: list[str] = []

    def make(key: str) -> EndpointEstimate:
        made.append(key)
        return EndpointEstimate(1.0, 2.0, 2.0, 3.0, 4.0, False)

    table = LazyTable(["a GET /x", "b GET /y"], make)
    assert len(table) == 2 and list(table) == ["a GET /x", "b GET /y"]
    assert "a GET /x" in table and made == []
    assert table["a GET /x"].p95_ms == 3.0
    assert table["a GET /x"] is table["a GET /x"]
    assert made == ["a GET /x"]
    with pytest.raises(KeyError):
        table["c GET /z"]


def test_an_unchanged_design_reuses_its_program_and_a_changed_one_does_not() -> None:
    design = dk.template("flash-sale")
    api.PROGRAMS.clear()
    before = dk.estimate(design)
    assert len(api.PROGRAMS) == 1
    program = api.PROGRAMS.programs()[0]
    dk.estimate(design, scale=1.2)
    assert api.PROGRAMS.programs() == [program]
    # A change in place — a field of a nested part — is seen: new program, new numbers.
    design.components["order-projector"].replicas *= 2  # type: ignore[union-attr]
    after = dk.estimate(design)
    assert len(api.PROGRAMS) == 2
    station = "order-projector workers"
    assert after.station(station).utilization == pytest.approx(
        before.station(station).utilization / 2, rel=1e-6)
    # A change that makes the design invalid is reported, not estimated from the old program
    # (a wrong value is refused where it is set; a dangling name is found by the check).
    with pytest.raises(dk.DesignError, match="replicas"):
        design.components["order-projector"].replicas = 0  # type: ignore[union-attr]
    design.endpoint("order-projector POST /v1/order-events").steps[0].call = "nowhere"  # type: ignore[union-attr]
    with pytest.raises(dk.DesignError, match="unknown component 'nowhere'"):
        dk.estimate(design)


def test_percentiles_do_not_depend_on_the_order_they_are_read_in() -> None:
    design = dk.template("payments-saga")
    forward = dk.estimate(design, scale=1.1)
    backward = dk.estimate(design, scale=1.1)
    keys = list(forward.endpoints)
    first = {k: forward.endpoints[k].p99_ms for k in keys}
    second = {k: backward.endpoints[k].p99_ms for k in reversed(keys)}
    assert first == second
    assert all(math.isfinite(v) for v in first.values())
