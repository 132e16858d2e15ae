"""Numeric distributions against exact results: within 0.5 % on percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from designkit.flow.times import Constant, Exponential, Spec, shape_of
from designkit.maths import queueing as q
from designkit.maths.distributions import Dist, Grid
from designkit.maths.queueing import erlang_c
from tests import oracles as o

REL = 0.005



def station(grid: Grid, lam: float, service: Spec, c: int, ca2: float = 1.0) -> Dist:
    """The sojourn at a c-server station on ``grid`` as the latency composer builds it: the
    wait (Erlang C, exponential when waiting; Allen–Cunneen's mean) then the service."""
    mean, scv = service.mean, service.scv
    if lam >= c / mean:
        return grid.never()
    if abs(scv - 1.0) < 1e-9 and abs(ca2 - 1.0) < 1e-9:
        return grid.mmc_sojourn(lam, 1.0 / mean, c)
    p_wait = float(erlang_c(c, lam * mean)) if lam > 0 else 0.0
    mean_wait = p_wait / (c / mean - lam) * (ca2 + scv) / 2.0
    return grid.waiting(p_wait, mean_wait) + service.dist(grid)


def hypoexponential_cdf(t: float, rates: list[float]) -> float:
    """Exact CDF of a sum of independent exponentials with distinct rates."""
    survival = 0.0
    for i, ri in enumerate(rates):
        weight = math.prod(rj / (rj - ri) for j, rj in enumerate(rates) if j != i)
        survival += weight * math.exp(-ri * t)
    return 1.0 - survival


def test_pdq_tandem_percentiles() -> None:
    # Three M/M/1 stations, lambda = 0.1, demands 1, 2, 3: each sojourn is exponential
    # with rate 1/D - lambda, the total a hypoexponential: p50/p95/p99 = 6.772/17.699/24.720.
    lam, demands = 0.1, (1.0, 2.0, 3.0)
    rates = [1 / d - lam for d in demands]
    exact = [o.solve_increasing(lambda t: hypoexponential_cdf(t, rates), p, hi=10.0)
             for p in (0.5, 0.95, 0.99)]
    assert [round(x, 3) for x in exact] == [6.772, 17.699, 24.72]
    grid = Grid.covering(120.0)
    total = grid.mmc_sojourn(lam, 1.0, 1) + grid.mmc_sojourn(lam, 0.5, 1) + grid.mmc_sojourn(
        lam, 1 / 3, 1)
    assert total.mean() == pytest.approx(7.8968, rel=1e-3)
    for p, value in zip((0.5, 0.95, 0.99), exact, strict=True):
        assert total.quantile(p) == pytest.approx(value, rel=REL)


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.75, 1.0, 1), (90, 10, 10), (1.5, 1.0, 2),
                                              (1.0, 1.0, 2)])
def test_mmc_station_quantiles(lam: float, mu: float, c: int) -> None:
    grid = Grid.covering(40.0 / (c * mu - lam) + 10 / mu)
    dist = station(grid, lam, Exponential(1 / mu), c)
    for p in (0.5, 0.95, 0.99):
        assert dist.quantile(p) == pytest.approx(o.mmc_sojourn_quantile(p, lam, mu, c), rel=REL)
    assert dist.mean() == pytest.approx(o.mmc_wait(lam, mu, c) + 1 / mu, rel=REL)


def test_maximum_of_two_exponentials() -> None:
    grid = Grid.covering(30.0)
    both = Dist.maximum([grid.exponential(1.0), grid.exponential(1.0)])
    # P(max <= t) = (1 - e^-t)^2, so the q-quantile is -ln(1 - sqrt(q)); mean 1.5.
    for p in (0.5, 0.95, 0.99):
        assert both.quantile(p) == pytest.approx(-math.log(1 - math.sqrt(p)), rel=REL)
    assert both.mean() == pytest.approx(1.5, rel=REL)


def test_mixture_of_hit_and_miss() -> None:
    grid = Grid.covering(100.0)
    hit, miss = grid.point(1.0), grid.point(20.0)
    mixed = Dist.mixture([(0.9, hit), (0.1, miss)])
    assert mixed.mean() == pytest.approx(2.9)
    assert mixed.quantile(0.5) == pytest.approx(1.0, abs=grid.step)
    assert mixed.quantile(0.95) == pytest.approx(20.0, abs=grid.step)


def test_lognormal_percentiles() -> None:
    m, s = q.lognormal_from_percentiles(120, 400)
    mean, _ = q.lognormal_moments(m, s)
    grid = Grid.covering(6000.0)
    dist = grid.lognormal(m, s)
    assert dist.quantile(0.5) == pytest.approx(120, rel=REL)
    assert dist.quantile(0.95) == pytest.approx(400, rel=REL)
    assert dist.mean() == pytest.approx(mean, rel=REL)


@pytest.mark.parametrize("scv", [0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
def test_moments_are_kept(scv: float) -> None:
    grid = Grid.covering(500.0)
    dist = shape_of(5.0, scv).dist(grid)
    x = np.arange(grid.size) * grid.step
    mean = float(np.dot(x, dist.pmf))
    var = float(np.dot((x - mean) ** 2, dist.pmf))
    assert mean == pytest.approx(5.0, rel=REL)
    assert var / mean**2 == pytest.approx(scv, abs=0.01)


def test_a_sum_of_exponentials_is_an_erlang() -> None:
    grid = Grid.covering(80.0)
    one = grid.exponential(2.0)
    erlang3 = one + one + one
    # Erlang-3 with rate 1/2: P(T <= t) = 1 - e^{-t/2}(1 + t/2 + t^2/8).
    exact = o.solve_increasing(lambda t: 1 - math.exp(-t / 2) * (1 + t / 2 + t * t / 8), 0.95)
    assert erlang3.quantile(0.95) == pytest.approx(exact, rel=REL)
    assert erlang3.mean() == pytest.approx(6.0, rel=REL)


def test_saturated_station_is_infinite_not_nan() -> None:
    grid = Grid.covering(10.0)
    dist = station(grid, 2.0, Exponential(1.0), 1)
    assert dist.saturated
    assert dist.quantile(0.95) == math.inf and dist.mean() == math.inf
    chained = dist + grid.exponential(1.0)
    assert chained.quantile(0.5) == math.inf
    assert not math.isnan(chained.mean())


def test_allen_cunneen_station_has_the_approximate_mean() -> None:
    grid = Grid.covering(200.0)
    dist = station(grid, 0.8, Constant(1.0), 1)     # M/D/1 at rho 0.8: W = 2, T = 3
    assert dist.mean() == pytest.approx(3.0, rel=REL)


def test_grids_must_match() -> None:
    with pytest.raises(ValueError, match="different grids"):
        Grid.covering(1.0).zero() + Grid.covering(2.0).zero()
