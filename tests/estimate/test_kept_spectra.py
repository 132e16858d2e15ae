"""A program keeps its design's times as spectra on the grids composed so far: another
load (a slider, a sweep) composes with the same arrays — the same numbers as made afresh,
the arrays read-only, their cells bounded."""

from __future__ import annotations

import numpy as np
import pytest

import designkit as dk
from designkit.estimate import api
from designkit.estimate import latency as latency_module
from designkit.estimate.program import KEPT_CELLS


def percentiles(estimate: dk.Estimate) -> list[tuple[float, float, float]]:
    return [(e.p50_ms, e.p95_ms, e.p99_ms) for e in estimate.endpoints.values()]


def fresh(design: dk.Design, scale: float) -> list[tuple[float, float, float]]:
    api.PROGRAMS.clear()
    return percentiles(dk.estimate(design, scale=scale))


@pytest.mark.parametrize("name", ["flash-sale", "payments-saga", "dashboard-slow"])
def test_kept_times_give_the_numbers_made_afresh(name: str) -> None:
    design = dk.template(name)
    expected = {scale: fresh(design, scale) for scale in (0.5, 0.9)}
    api.PROGRAMS.clear()
    first = percentiles(dk.estimate(design, scale=0.9))
    program = next(iter(api.PROGRAMS.programs()))
    assert program.spectra  # kept by the first estimate
    assert percentiles(dk.estimate(design, scale=0.5)) == expected[0.5]
    assert percentiles(dk.estimate(design, scale=0.9)) == expected[0.9] == first
    kept = [s for s in program.spectra.values() if s is not None]
    assert all(isinstance(s, np.ndarray) and not s.flags.writeable for s in kept)
    assert program.spectra.cells == sum(grid.size for grid, _ in program.spectra)
    assert program.spectra.cells <= KEPT_CELLS


def test_kept_cells_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    design = dk.template("payments-saga")
    expected = fresh(design, 1.0)
    monkeypatch.setattr(latency_module, "KEPT_CELLS", 2 * 2048)
    api.PROGRAMS.clear()
    assert percentiles(dk.estimate(design)) == expected
    program = next(iter(api.PROGRAMS.programs()))
    assert len(program.spectra) == 2 and program.spectra.cells == 2 * 2048
    assert percentiles(dk.estimate(design)) == expected


def test_rebinning_indexes_are_kept_for_small_grids_only() -> None:
    # where each half-cell of a callee lands on its caller's cells is kept per size and
    # ratio for grids up to KEPT_REBINS cells; a heavy tail's 131,072 cells are not kept
    # (64 of them would hold 150 MB) — the same cells either way
    from designkit.maths.distributions import Grid

    fine = Grid(step=0.25, size=1 << 17).exponential(400.0)
    coarse = Grid(step=1.0, size=1 << 17)
    before = latency_module._kept_landing.cache_info().currsize
    big = latency_module._rebin(fine, coarse, 4)
    assert latency_module._kept_landing.cache_info().currsize == before
    small_fine = Grid(step=0.25, size=2048).exponential(40.0)
    small = latency_module._rebin(small_fine, Grid(step=1.0, size=2048), 4)
    assert latency_module._kept_landing.cache_info().currsize >= 1
    assert float(big.pmf.sum()) == pytest.approx(1.0, abs=1e-9)
    assert big.mean() == pytest.approx(fine.mean(), rel=1e-4)
    assert small.mean() == pytest.approx(small_fine.mean(), rel=1e-4)
