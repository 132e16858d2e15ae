"""Long tandems of M/M/1 stations: the total is a sum of independent exponentials (a
gamma when the stations are alike), so its percentiles are known exactly. Short steps on
the coarse cells of a long chain keep their mean but gain spread; until the grids keep
variance too, long chains' tails are a little high (docs/estimator.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import designkit as dk


def tandem(stations: int) -> dk.Design:
    """``stations`` caches of 1 ms in a row at 500 rps: each an M/M/1 at ρ 0.5, whose
    sojourn is Exp(mean 2 ms)."""
    d = dk.Design(name="tandem")
    ep = d.service("api", workers=100_000, io="async").endpoint("GET /x", cpu_ms=0)
    for i in range(stations):
        d.cache(f"c{i}", service_ms=1.0)
        ep.call(f"c{i}")
    d.set_load("api GET /x", 500)
    return d


def gamma_quantile(p: float, shape: int, scale: float) -> float:
    """The p-quantile of a gamma of integer shape (an Erlang), by bisection on its CDF
    ``1 − e^{−x/θ} Σ_{k<n} (x/θ)^k / k!`` summed in log space."""
    def cdf(x: float) -> float:
        y = x / scale
        terms = np.array([k * math.log(y) - y - math.lgamma(k + 1) for k in range(shape)])
        return 1.0 - float(np.exp(terms).sum())

    lo, hi = 0.0, shape * scale * 4
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize(("stations", "tolerance"), [(10, 0.001), (100, 0.0025)])
def test_tandem_percentiles_are_the_gamma_s(stations: int, tolerance: float) -> None:
    e = dk.estimate(tandem(stations)).endpoints["api GET /x"]
    assert e.mean_ms == pytest.approx(2.0 * stations, rel=1e-9)
    for p, got in ((0.95, e.p95_ms), (0.99, e.p99_ms)):
        assert got == pytest.approx(gamma_quantile(p, stations, 2.0), rel=tolerance)


@pytest.mark.xfail(strict=True, reason=(
    "1,000 stations: the mean is exact but p95 is +2.1 % and p99 +2.9 % (2,149.5 / 2,213.0 "
    "ms against 2,105.2 / 2,150.1): short steps on wide cells keep their mean, not their "
    "variance (issue: grids that keep variance)"))
def test_a_thousand_station_tandem_keeps_its_tail() -> None:
    e = dk.estimate(tandem(1000)).endpoints["api GET /x"]
    assert e.p95_ms == pytest.approx(gamma_quantile(0.95, 1000, 2.0), rel=0.005)
