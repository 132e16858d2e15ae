"""Queueing formulas against closed forms and published results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from designkit.maths import queueing as q
from tests import oracles as o


def test_mm1_closed_form() -> None:
    # lambda = 0.75, S = 1: R = S / (1 - rho) = 4, U = 75 %, p95 = R * ln 20.
    assert o.mm1_response(0.75, 1.0) == pytest.approx(4.0, rel=1e-12)
    assert o.mmc_wait(0.75, 1.0, 1) + 1.0 == pytest.approx(4.0, rel=1e-12)
    assert o.mmc_sojourn_quantile(0.95, 0.75, 1.0, 1) == pytest.approx(11.9829, abs=1e-4)
    assert o.mmc_sojourn_quantile(0.95, 0.75, 1.0, 1) == pytest.approx(4 * math.log(20))


def test_mm10_closed_form() -> None:
    assert q.erlang_b(10, 9.0) == pytest.approx(0.167963, abs=1e-6)
    assert q.erlang_c(10, 9.0) == pytest.approx(0.668732, abs=1e-6)
    assert o.mmc_wait(90, 10, 10) + 0.1 == pytest.approx(0.166873, abs=1e-6)
    assert [round(o.mmc_sojourn_quantile(p, 90, 10, 10), 5) for p in (0.5, 0.95, 0.99)] == [
        0.13291, 0.43609, 0.62499]


def test_mm2_closed_form() -> None:
    assert q.erlang_c(2, 1.5) == pytest.approx(0.642857, abs=1e-6)
    assert o.mmc_wait(1.5, 1.0, 2) + 1.0 == pytest.approx(2.285714, abs=1e-6)
    assert o.mmc_sojourn_quantile(0.95, 1.5, 1.0, 2) == pytest.approx(6.47658, abs=1e-5)
    assert q.erlang_c(2, 1.0) == pytest.approx(1 / 3, abs=1e-15)


def test_sojourn_cdf_when_theta_equals_mu() -> None:
    # c = 2, mu = 1, lambda = 1: theta = c*mu - lambda = mu, the removable singularity.
    t = np.linspace(0, 10, 11)
    exact = q.mmc_sojourn_cdf(t, 1.0, 1.0, 2)
    near = q.mmc_sojourn_cdf(t, 1.0 - 1e-7, 1.0, 2)
    assert np.allclose(exact, near, atol=1e-6)
    assert not np.isnan(exact).any()


def test_gross_harris_example_three_stations() -> None:
    # lambda = 35/60 per minute through M/M/1 (D = 0.5), M/M/3 (D = 3.342), M/M/7 (D = 9.2228).
    lam = 35 / 60
    total = sum(o.mmc_wait(lam, 1 / d, c) + d for c, d in ((1, 0.5), (3, 3.342), (7, 9.2228)))
    assert total == pytest.approx(17.0146, abs=1e-4)


def test_pdq_open_series_residences() -> None:
    # PDQ's open-circuit example: lambda = 0.1, demands 1, 2, 3 -> 1.1111, 2.5000, 4.2857.
    residences = [o.mm1_response(0.1, d) for d in (1.0, 2.0, 3.0)]
    assert [round(r, 4) for r in residences] == [1.1111, 2.5, 4.2857]
    assert sum(residences) == pytest.approx(7.8968, abs=1e-4)


def test_erlang_c_large_c_is_stable() -> None:
    value = q.erlang_c(100_000, 99_000.0)
    assert 0 < value < 1e-2 and math.isfinite(value)
    assert q.erlang_b(100_000, 50_000.0) == pytest.approx(0.0, abs=1e-300)


def test_erlang_vectorized_matches_scalar() -> None:
    loads = np.array([0.5, 3.0, 8.9])
    assert np.allclose(q.erlang_c(10, loads), [q.erlang_c(10, a) for a in loads])


def test_saturation_is_infinite_never_nan() -> None:
    assert o.mmc_wait(10, 1, 10) == math.inf
    assert o.mmc_wait(11, 1, 10) == math.inf
    assert o.mm1_response(1.0, 1.0) == math.inf
    assert o.mmc_sojourn_quantile(0.95, 2.0, 1.0, 2) == math.inf
    assert o.pollaczek_khinchine_wait(2.0, 1.0, 1.0) == math.inf
    assert o.kingman_wait(1.0, 1.0, 1.0, 1.0) == math.inf
    assert o.allen_cunneen_wait(20, 1.0, 10, 0.5, 0.5) == math.inf
    waits = o.mmc_wait(np.array([0.0, 5.0, 10.0, 20.0]), 1.0, 10)
    assert not np.isnan(waits).any()
    assert waits[0] == 0 and np.isinf(waits[2:]).all()


def test_pollaczek_khinchine_md1_and_mm1() -> None:
    # M/D/1: Wq = rho S / (2 (1 - rho)); M/M/1: Wq = rho S / (1 - rho).
    assert o.pollaczek_khinchine_wait(0.8, 1.0, 0.0) == pytest.approx(2.0)
    assert o.pollaczek_khinchine_wait(0.8, 1.0, 1.0) == pytest.approx(4.0)


def test_allen_cunneen_reduces_to_exact_cases() -> None:
    assert o.allen_cunneen_wait(90, 0.1, 10) == pytest.approx(o.mmc_wait(90, 10, 10))
    assert o.allen_cunneen_wait(0.8, 1.0, 1, 1.0, 0.0) == pytest.approx(
        o.pollaczek_khinchine_wait(0.8, 1.0, 0.0))


def test_lognormal_fit_reproduces_its_percentiles() -> None:
    m, s = q.lognormal_from_percentiles(120, 400)
    assert math.exp(m) == pytest.approx(120)
    assert math.exp(m + q.Z95 * s) == pytest.approx(400)
    with pytest.raises(ValueError):
        q.lognormal_from_percentiles(400, 120)


def test_gamma_fit_has_the_moments() -> None:
    k, theta = o.gamma_from_moments(2.0, 0.25)
    assert k * theta == pytest.approx(2.0)
    assert 1 / k == pytest.approx(0.25)


@pytest.mark.parametrize("counts", [[[1, 2, 16], [4, 8, 3]], [[2, 40, 300], [1, 16, 17]]],
                         ids=["every count stepped", "every kind of count"])
def test_erlang_b_of_arrays_is_each_element_s(counts: list[list[int]]) -> None:
    # any shape, whichever ways its elements go: each is the scalar recursion's (to its
    # last bits where both step; 10⁻¹³ for the sums and the closed form)
    from designkit.maths.special import erlang_b_array

    servers = np.array(counts, dtype=float)
    load = servers * np.array([[0.5, 0.9, 0.7], [0.2, 0.95, 0.6]])
    got = erlang_b_array(servers, load)
    assert got.shape == servers.shape
    for (i, j), c in np.ndenumerate(servers):
        value = 1.0
        for k in range(1, int(c) + 1):
            value = load[i, j] * value / (k + load[i, j] * value)
        assert got[i, j] == pytest.approx(value, rel=1e-12)
    assert erlang_b_array(servers[0], load[0]).tolist() == got[0].tolist()
