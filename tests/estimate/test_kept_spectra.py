"""A program keeps its design's times as spectra on the grids composed so far: another
load (a slider, a sweep) composes with the same arrays — the same numbers as made afresh,
the arrays read-only, their cells bounded."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

import designkit as dk
from designkit.estimate import api
from designkit.estimate.program import KEPT_CELLS

spectra = importlib.import_module("designkit.estimate.spectra")


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
    monkeypatch.setattr(spectra, "KEPT_CELLS", 2 * 2048)
    api.PROGRAMS.clear()
    assert percentiles(dk.estimate(design)) == expected
    program = next(iter(api.PROGRAMS.programs()))
    assert len(program.spectra) == 2 and program.spectra.cells == 2 * 2048
    assert percentiles(dk.estimate(design)) == expected


def _overlaps(pmf: np.ndarray, ratio: int, size: int) -> np.ndarray:
    """Rebinning by its definition: each fine cell's mass spread evenly over its width
    [i − ½, i + ½), given to each coarse cell [(j − ½)r, (j + ½)r) in proportion to their
    overlap (fine cells of width 1), normalised to what the fine grid holds."""
    out = np.zeros(size)
    for i, mass in enumerate(pmf.tolist()):
        low, high = i - 0.5, i + 0.5
        for j in range(max(0, math.floor((low / ratio) + 0.5)),
                       min(size, math.floor((high / ratio) + 0.5) + 1)):
            overlap = min(high, (j + 0.5) * ratio) - max(low, (j - 0.5) * ratio)
            if overlap > 0:
                out[j] += mass * overlap
    return out / pmf.sum()


@pytest.mark.parametrize("ratio", [2, 4, 8, 64, 1024, 4096, 2 ** 40])
def test_rebinning_gives_each_coarse_cell_what_overlaps_it(ratio: int) -> None:
    # several distributions at once (rows), each as its own overlap arithmetic; a ratio
    # far beyond the grid puts everything in the first cell
    from designkit.maths.distributions import Grid

    rng = np.random.default_rng(ratio % 1000)
    rows = rng.random((3, 2048)) * np.array([[1.0], [0.0], [1.0]])
    rows[1, :5] = [0.1, 0.2, 0.3, 0.0, 0.4]
    rows[2, 1000:] = 0.0
    got = spectra.rebin_rows(rows, Grid(step=float(ratio), size=2048), ratio)
    for row, fine in zip(got, rows, strict=True):
        assert np.allclose(row, _overlaps(fine, ratio, 2048), rtol=1e-12, atol=1e-15)


def test_rebinning_a_heavy_tails_grid_keeps_its_mass_and_mean() -> None:
    from designkit.maths.distributions import Grid

    fine = Grid(step=0.25, size=1 << 17).exponential(400.0)
    big = spectra.rebin(fine, Grid(step=1.0, size=1 << 17), 4)
    assert float(big.pmf.sum()) == pytest.approx(1.0, abs=1e-9)
    assert big.mean() == pytest.approx(fine.mean(), rel=1e-4)
