"""The estimator at the edges of the design's bounds: many servers, many retries, tiny and
huge times, overflowing loads. Every answer is a number a closed form gives, or ``inf``
with a saturated flag — never NaN, a hang, a warning or a traceback.

Reference values marked "60 digits" were computed with mpmath (mp.dps = 40–60) from the
definitions: Erlang B as ``P(N = c) / P(N ≤ c)`` for ``N ~ Poisson(a)`` (a direct sum of
the Poisson terms near the mode, or ``P(N = c)`` alone where ``P(N > c) < e⁻⁷⁰``), Erlang C
as ``c·B / (c − a(1 − B))``, and the M/M/c sojourn quantiles by root-finding on its
distribution function.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import designkit as dk
from designkit.estimate.external import (
    backoff_ms,
    backoff_total_ms,
    call_dist,
    call_moments,
    geometric_sum,
)
from designkit.estimate.program import compile_design
from designkit.estimate.solve import solve
from designkit.flow.nodes import ExternalCall
from designkit.flow.times import Lognormal, Spec
from designkit.maths import queueing as q
from designkit.maths import special
from designkit.maths.distributions import Grid
from designkit.model.resilience import Retries
from designkit.model.times import Time
from tests import oracles as o

REL = 0.005  # the grid's resolution, as in test_estimate.py

# (c, a, Erlang B, Erlang C): 60 digits, rounded to 17 significant
ERLANG = [
    (2, 1.5, 0.3103448275862069, 0.64285714285714286),
    (10, 9.0, 0.16796322629158645, 0.668731524107697),
    (100, 90.0, 0.026957380464359215, 0.21694048090636638),
    (101, 90.0, 0.023457935035861724, 0.18070419801958626),
    (150, 140.0, 0.028233738262632136, 0.30352932765203737),
    (1000, 950.0, 0.0036492936889424099, 0.068253415377141424),
    (1000, 999.0, 0.024199178595561825, 0.96123926040841911),
    (100_000, 90_000.0, 1.98003409635906e-236, 1.98003409635906e-235),
    (100_000, 99_700.0, 0.00096901064201016547, 0.24432307808257419),
    (100_000, 110_000.0, 0.090999801051759342, 1.0),
    (1_000_000, 999_000.0, 0.00028742137577686792, 0.22330339029134409),
    (10**9, 999_970_000.0, 9.7077781482403522e-6, 0.24448231057903005),
    (10**9, 999_000_000.0, 6.4386619861932585e-223, 6.4386619861932585e-220),
    (10**9, 2e9, 0.5000000005, 1.0),
    (150, 1000.0, 0.85017598430540152, 1.0),  # far above saturation (a ≥ 2(c + 1))
    (1000, 2500.0, 0.60026607656086028, 1.0),
    (100_000, 300_000.0, 0.66666833330833402, 1.0),
    (10**9, 2.5e9, 0.60000000026666667, 1.0),
    (101, 204.0, 0.50953666373005315, 1.0),
    # the sum of the recursion's terms (17 … 100 servers), and one exponential where
    # Poisson's tail beyond c is negligible
    (17, 12.0, 0.040900034367945155, 0.1266300961664736),
    (64, 50.0, 0.008439426655940717, 0.03745142002549334),
    (32, 4.0, 1.2840148538428429e-18, 1.4674455472489633e-18),
    (64, 16.0, 1.0269523243213103e-19, 1.3692697657617469e-19),
    (100, 20.0, 2.799666325499081e-37, 3.4995829068738514e-37),
    (40, 0.001, 1.2243924342937596e-168, 1.2244230448698813e-168),
]


@pytest.fixture(autouse=True)
def _no_warnings():  # type: ignore[no-untyped-def]
    """A warning (overflow, invalid value…) reaches the user: here it fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def single_station(workers: int, cpu_ms: object, rps: float, replicas: int = 1,
                   io: str = "blocking") -> dk.Design:
    design = dk.Design(name="station")
    design.service("api", replicas=replicas, workers=workers, io=io).endpoint(
        "GET /x", cpu_ms=cpu_ms)
    design.set_load("api GET /x", rps)
    return design


def assert_sane(estimate: dk.Estimate) -> None:
    """No NaN anywhere; infinite latencies only with the saturated flag, and a saturated
    endpoint only behind a saturated station."""
    assert "NaN" not in estimate.to_json() and "nan%" not in str(estimate)
    for endpoint in estimate.endpoints.values():
        values = (endpoint.mean_ms, endpoint.p50_ms, endpoint.p95_ms, endpoint.p99_ms)
        assert not any(math.isnan(v) for v in values)
        assert endpoint.saturated == math.isinf(endpoint.mean_ms)
        if endpoint.saturated:
            assert estimate.saturated
        else:
            assert all(math.isfinite(v) for v in values)
            assert endpoint.p50_ms <= endpoint.p95_ms <= endpoint.p99_ms
    for component in estimate.components.values():
        for station in component.stations.values():
            assert not math.isnan(station.utilization) and not math.isnan(station.wait_ms)
            assert station.saturated == (station.utilization >= 1 or math.isinf(station.wait_ms))


# -- 1. Erlang formulas in constant time ---------------------------------------------------


@pytest.mark.parametrize(("c", "a", "b", "wait"), ERLANG)
def test_erlang_b_and_c_equal_60_digit_values(c: int, a: float, b: float, wait: float) -> None:
    assert q.erlang_b(c, a) == pytest.approx(b, rel=1e-11)
    assert q.erlang_c(c, a) == pytest.approx(wait, rel=1e-11)


def test_erlang_closed_form_joins_the_recursion_without_a_seam() -> None:
    # Above RECURSION_MAX servers the closed form; it must agree with the exact recursion
    # (run here by hand) wherever the recursion is cheap enough to run.
    def recursion(c: int, a: float) -> float:
        b = 1.0
        for k in range(1, c + 1):
            b = a * b / (k + a * b)
        return b

    for c in (special.RECURSION_MAX + 1, 137, 500, 2_000, 20_000):
        for rho in (0.05, 0.5, 0.9, 1 - 1 / math.sqrt(c), 0.999, 1.0, 1.3, 1.9):
            exact = recursion(c, rho * c)
            assert q.erlang_b(c, rho * c) == pytest.approx(exact, rel=1e-11, abs=1e-300)


def test_erlang_is_vectorized_over_server_counts_and_loads() -> None:
    c = np.array([row[0] for row in ERLANG], dtype=float)
    a = np.array([row[1] for row in ERLANG])
    assert np.allclose(q.erlang_c(c, a), [row[3] for row in ERLANG], rtol=1e-11, atol=0)


def test_erlang_cost_does_not_grow_with_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The recursion is the only per-server loop: it must never run for a large count.
    steps: list[int] = []
    real = special._recursion

    def counted(servers: np.ndarray, load: np.ndarray) -> np.ndarray:
        steps.append(int(servers.max()))
        return real(servers, load)

    monkeypatch.setattr(special, "_recursion", counted)
    for c in (10**5, 10**9, 10**15):
        assert 0.1 < q.erlang_c(c, c - math.sqrt(c)) < 0.3  # Halfin–Whitt: β = 1
        assert q.erlang_b(c, 0.5 * c) == 0.0  # e^(−0.15 c): no double holds it
    q.erlang_c(np.array([4.0, 10.0**9]), np.array([3.0, 0.9e9]))
    assert steps == [4]


def test_erlang_of_no_load_and_of_an_underflowing_load() -> None:
    assert q.erlang_b(10**6, 0.0) == 0.0 and q.erlang_c(10**6, 0.0) == 0.0
    assert q.erlang_b(101, 1e-300) == 0.0 and q.erlang_b(10**9, 5e-324) == 0.0
    assert q.erlang_b(101, 1e300) == pytest.approx(1 - 101e-300, rel=1e-15)
    assert q.erlang_b(0, 5.0) == 1.0


@pytest.mark.parametrize(("x", "value"), [  # e^(x²) erfc(x): 60 digits
    (0.0, 1.0), (1e-8, 0.9999999887162084), (0.5, 0.6156903441929259), (1.0, 0.427583576155807),
    (3.9, 0.14031418160068973), (10.0, 0.05614099274382259), (25.9, 0.021767181150738214),
    (26.0, 0.021683584850562907), (26.1, 0.021600627726346206), (30.0, 0.01879588886141675),
    (100.0, 0.005641613782989433), (1e4, 5.641895807268084e-05), (1e8, 5.641895835477562e-09),
])
def test_erfcx_equals_60_digit_values(x: float, value: float) -> None:
    assert float(special.erfcx(x)) == pytest.approx(value, rel=1e-13)


@pytest.mark.parametrize(("c", "lam", "quantiles"), [
    (10**5, 99_700.0, (0.693963980928093, 2.99654907392214, 4.60598698635624)),
    (10**9, 999_970_000.0, (0.693155330208746, 2.99574042320279, 4.60517833563689)),
    (10**5, 50_000.0, (math.log(2), math.log(20), math.log(100))),  # C = 1e-8391: no wait
])
def test_mmc_sojourn_quantiles_with_many_servers(c: int, lam: float,
                                                 quantiles: tuple[float, ...]) -> None:
    got = [o.mmc_sojourn_quantile(p, lam, 1.0, c) for p in (0.5, 0.95, 0.99)]
    assert got == pytest.approx(quantiles, rel=1e-9)


def test_a_station_of_a_billion_servers_in_the_estimator() -> None:
    # 10,000 replicas of 100,000 workers: 10,000 M/M/100000 queues at a = 99,700.
    # C = 0.24432307808257419 (60 digits), W = C / (cμ − λ) = C / 0.3 ms.
    design = single_station(100_000, 1000.0, 99_700.0 * 10_000, replicas=10_000)
    e = dk.estimate(design)
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(1000.0 + 0.24432307808257419 / 0.3, rel=1e-9)
    assert (ep.p50_ms, ep.p95_ms, ep.p99_ms) == pytest.approx(
        (693.963980928093, 2996.54907392214, 4605.98698635624), rel=REL)
    station = e.station("api workers")
    assert station.servers == 10**9 and station.utilization == pytest.approx(0.997)
    assert e.max_scale == pytest.approx(1 / 0.997, rel=1e-6)


# -- 2. retries: bounded loops, closed-form sums ---------------------------------------------


def external(latency: float = 50.0, timeout_ms: float | None = None, failure: float = 0.5,
             retries: int = 100, backoff: str = "exponential", jitter: bool = True,
             base_ms: float = 100.0, station: int | None = None) -> ExternalCall:
    return ExternalCall("p", Spec(latency), timeout_ms,
                        Retries(max=retries, backoff=backoff, jitter=jitter, base_ms=base_ms),
                        failure, None, station)


def test_backoff_sums_in_closed_form_and_without_overflow() -> None:
    for backoff in ("none", "constant", "exponential"):
        for jitter in (False, True):
            call = external(backoff=backoff, jitter=jitter)
            for n in (0, 1, 2, 7, 100):
                direct = sum(backoff_ms(call, k) for k in range(1, n + 1))
                assert backoff_total_ms(call, n) == pytest.approx(direct, rel=1e-15)
    call = external(jitter=False)
    assert backoff_total_ms(call, 100) == 100.0 * (2.0**100 - 1)
    assert backoff_ms(call, 1025) == math.inf and backoff_total_ms(call, 10**6) == math.inf


def test_geometric_sum() -> None:
    for r in (0.0, 1e-9, 0.3, 0.5, 0.999999, 1.0, 1.5):
        for n in (1, 2, 10, 101):
            assert geometric_sum(r, n) == pytest.approx(sum(r**k for k in range(n)),
                                                        rel=1e-12)
    assert geometric_sum(2.0, 5000) == math.inf


def test_call_moments_with_100_exponential_retries() -> None:
    # f = ½: E[K] = 2 − 2⁻¹⁰⁰; retry j (backoff 50·2^(j−1) ms with jitter) is reached with
    # probability 2⁻ʲ, so the backoffs add up to 25 ms a retry: 2,500 ms, plus 2 × 50 ms.
    info, mean, var = call_moments(external())
    assert info.expected == pytest.approx(2.0, rel=1e-15)
    assert mean == pytest.approx(2600.0, rel=1e-12)
    assert math.isfinite(var) and var > 0


def test_call_moments_with_a_timeout_against_a_direct_sum() -> None:
    # Latency exponential, mean 50, cut at 200: P(timeout) = e⁻⁴, E[min] = 50(1 − e⁻⁴).
    call = external(timeout_ms=200.0, failure=0.3)
    p_timeout = math.exp(-4.0)
    f = 1 - 0.7 * (1 - p_timeout)
    attempt = 50.0 * (1 - math.exp(-4.0))
    weights = [f ** (k - 1) * (1 - f) for k in range(1, 101)] + [f**100]
    expected = sum(w * (k * attempt + 50.0 * (2 ** (k - 1) - 1))
                   for k, w in enumerate(weights, start=1))
    info, mean, _ = call_moments(call)
    assert info.p_timeout == pytest.approx(p_timeout, rel=1e-12)
    assert info.failure == pytest.approx(f, rel=1e-12)
    assert mean == pytest.approx(expected, rel=1e-12)


def test_call_variance_against_draws() -> None:
    # No timeout: every attempt is a typical one, Var = E[K]·Var[A] + Var(K·E[A] + B(K));
    # a million draws.
    call = external(latency=20.0, failure=0.4, retries=5, backoff="exponential", jitter=False,
                    base_ms=10.0)
    _, mean, var = call_moments(call)
    rng = np.random.default_rng(7)
    n = 1_000_000
    attempts = np.minimum(rng.geometric(0.6, n), 6)
    times = rng.gamma(attempts, 20.0) + 10.0 * (2.0 ** (attempts - 1) - 1)
    assert mean == pytest.approx(times.mean(), rel=3e-3)
    assert var == pytest.approx(times.var(), rel=1e-2)
    constant = external(latency=100.0, failure=0.5, retries=1, backoff="constant",
                        jitter=False, base_ms=50.0)
    constant = ExternalCall("p", Spec(100.0, 0.0), None, constant.retries, 0.5, None, None)
    assert call_moments(constant)[1:] == (175.0, 5625.0)  # 100 or 250 ms, ½ each


def test_call_variance_with_timeouts_against_draws() -> None:
    # Attempts cut at a timeout near the latency's mean (P(timeout) = e⁻¹): a retried call
    # made failed attempts — mostly timeouts, exactly 100 ms — not typical ones, so its
    # variance is not E[K]·Var[A] + Var(K·E[A] + B(K)) (that gives 2 % less here).
    call = ExternalCall("p", Spec(100.0), 100.0, Retries(max=3, backoff="constant",
                        base_ms=50), 0.1, None, None)
    info, mean, var = call_moments(call)
    rng = np.random.default_rng(11)
    n = 4_000_000
    total, going = np.zeros(n), np.ones(n, dtype=bool)
    for k in range(1, 5):
        latency = rng.exponential(100.0, n)
        failed = (latency > 100.0) | (rng.random(n) < 0.1)
        total += np.where(going, np.minimum(latency, 100.0), 0.0)
        if k < 4:
            total += np.where(going & failed, 50.0, 0.0)
        going &= failed
    typical = info.expected * (call.latency.cut(100.0)[2] - call.latency.cut(100.0)[1] ** 2)
    assert mean == pytest.approx(total.mean(), rel=2e-3)
    assert var == pytest.approx(total.var(), rel=4e-3)
    assert abs(typical + _spread_of_counts(call) - var) > 0.015 * var  # (the cruder sum)
    # and the same model as the call's composed distribution, on fine cells
    dist = call_dist(call, Grid.covering(1024.0, 1 << 17))
    cells = np.arange(dist.grid.size) * dist.grid.step
    assert float(dist.pmf @ cells) == pytest.approx(mean, rel=1e-4)
    assert float(dist.pmf @ (cells - mean) ** 2) == pytest.approx(var, rel=1e-3)


def _spread_of_counts(call: ExternalCall) -> float:
    """Var(K·E[A] + B(K)) of ``call``: the spread of the call's mean over its attempts."""
    first = call.latency.cut(call.timeout_ms)[1]
    weights = list(call_moments(call)[0].weights())
    times = [k * first + backoff_total_ms(call, k - 1) for k in range(1, len(weights) + 1)]
    mean = sum(w * t for w, t in zip(weights, times, strict=True))
    return sum(w * (t - mean) ** 2 for w, t in zip(weights, times, strict=True))


@pytest.mark.parametrize("spec", [
    Spec(10.0, 0.0), Spec(10.0, 1.0), Spec(10.0, 4.0), Spec(10.0, 0.25), Spec(10.0, 0.01),
    Spec.of(Time(p50=8.0, p95=40.0)),
], ids=["constant", "exponential", "hyperexponential", "gamma", "narrow gamma", "lognormal"])
@pytest.mark.parametrize("limit", [0.5, 9.0, 10.0, 30.0, 1e5])
def test_a_time_cut_at_a_timeout_against_integrals(spec: Spec, limit: float) -> None:
    # E[min(L, t)] = ∫₀ᵗ P(L > u) du and E[min(L, t)²] = ∫₀ᵗ 2u P(L > u) du, the survival
    # read from the time's own distribution on a fine grid.
    grid = Grid.covering(min(limit, 2000.0) * 1.01, 400_000)
    u = np.concatenate([[0.0], grid.edges])
    survival = np.concatenate([[1.0], 1.0 - np.cumsum(spec.dist(grid).pmf)])  # at the edges
    inside = u <= limit
    over, first, second = spec.cut(limit)
    if limit <= 2000.0:
        if limit != spec.mean or spec.scv > 0:  # (a constant at its timeout is in time)
            assert over == pytest.approx(survival[inside][-1], abs=2e-4)
        assert first == pytest.approx(np.trapezoid(survival[inside], u[inside]), rel=2e-3)
        assert second == pytest.approx(np.trapezoid(2 * u[inside] * survival[inside],
                                                    u[inside]), rel=2e-3)
    else:  # beyond any mass: the time's own moments
        assert over == pytest.approx(0.0, abs=1e-12)
        assert (first, second) == pytest.approx((spec.mean, spec.var + spec.mean**2), rel=1e-9)


def retried(timeout_ms: float | None, failure: float = 0.5, io: str = "async") -> dk.Design:
    design = dk.Design(name="retried")
    kwargs = {} if timeout_ms is None else {"timeout_ms": timeout_ms}
    design.external("p", latency_ms=50.0, failure_rate=failure,
                    retries={"max": 100, "backoff": "exponential", "jitter": True}, **kwargs)
    design.service("api", io=io, workers=50).endpoint("POST /x").call("p")
    design.set_load("api POST /x", 10)
    return design


def test_100_exponential_retries_give_the_exact_distribution() -> None:
    # The call: K ~ geometric(½) attempts (at most 101), each exponential with mean 50 ms,
    # with 50·(2^(K−1) − 1) ms of backoff before the last: P(T ≤ t) = Σₖ P(K = k)·
    # Erlang(k, 1/50)(t − 50(2^(k−1) − 1)). Its quantiles (by bisection on that sum) are
    # 100.505, 958.434 and 3564.17 ms; the mean is 2,600 ms.
    e = dk.estimate(retried(None))
    ep = e.endpoints["api POST /x"]
    assert ep.mean_ms == pytest.approx(2600.0, rel=1e-9)
    assert (ep.p50_ms, ep.p95_ms, ep.p99_ms) == pytest.approx(
        (100.50452154008505, 958.4344685339249, 3564.1693348206063), rel=REL)
    assert_sane(e)


def test_100_exponential_retries_with_a_timeout() -> None:
    # f = 1 − ½·(1 − e⁻⁴) > ½: each retry is reached more often than its backoff halves,
    # E[call] = Σ (2f)ʲ·25 + … ≈ 7.2 s at 10/s: the 50 blocking workers saturate (ρ = 1.45).
    e = dk.estimate(retried(200.0, io="blocking"))
    assert_sane(e)
    ep = e.endpoints["api POST /x"]
    call = compile_design(retried(200.0)).endpoints[0].steps.items[0]
    assert isinstance(call, ExternalCall)
    assert ep.saturated and e.station("api workers").utilization == pytest.approx(
        0.01 * call_moments(call)[1] / 50)
    assert 0 < e.max_scale < 1
    quick = dk.estimate(retried(200.0, failure=0.3))
    assert_sane(quick)
    assert not quick.endpoints["api POST /x"].saturated


def test_every_attempt_failing_gives_a_finite_capacity_and_no_hang() -> None:
    # Failure 1: all 101 attempts, 101 × 50 ms, and 50·(2¹⁰⁰ − 1) ms of backoff: a worker is
    # held 6.3·10³¹ ms, so 50 workers saturate at 50 / (0.01/ms × that) of the load.
    e = dk.estimate(retried(None, failure=1.0, io="blocking"))
    hold = 101 * 50.0 + 50.0 * (2.0**100 - 1)
    assert e.station("api workers").service_ms == pytest.approx(hold, rel=1e-12)
    assert e.max_scale == pytest.approx(50 / (0.01 * hold), rel=1e-3)
    assert e.endpoints["api POST /x"].saturated
    assert_sane(e)


def test_a_call_on_a_grid_much_shorter_than_its_backoffs() -> None:
    # The later attempts' mass lies beyond the grid: it is the tail, not wrapped around.
    call = external(jitter=False)
    dist = call_dist(call, Grid.covering(1000.0, 2048))
    # within 1,000 ms: 1 attempt, or 2 (100 ms backoff), 3 (300), 4 (700)
    assert dist.tail == pytest.approx(1 - dist.cdf(1000.0), abs=1e-12)
    assert 0.06 < dist.tail < 0.125  # P(K > 4) = 1/16, plus the slow ones of the first four
    assert not np.isnan(dist.pmf).any()


def test_many_constant_backoffs_do_not_wrap_around_the_grid() -> None:
    # 1 ms attempts failing 99 % of the time, 1 s apart: attempt k ends at k + 1000(k − 1).
    # Those beyond the grid's 10 s are its tail — not summed round onto its first seconds.
    call = ExternalCall("p", Spec(1.0, 0.0), None, Retries(max=100, backoff="constant",
                        base_ms=1000.0), 0.99, None, None)
    dist = call_dist(call, Grid.covering(10_000.0, 2048))
    for k in (1, 3, 5, 9):
        assert dist.cdf(k + 1000.0 * (k - 1) + 500.0) == pytest.approx(1 - 0.99**k, abs=1e-6)
    assert dist.tail == pytest.approx(0.99**10, abs=1e-6)


# -- 3. wide tails, huge variability, overflowing loads --------------------------------------


def test_lognormal_tails_far_beyond_any_bound_stay_finite() -> None:
    # p50 0.001 ms, p95 10⁹ ms: s = 16.8, mean e^(m + s²/2) ≈ 10⁵⁸ ms, scv e^(s²) ≈ 10¹²².
    m, s = q.lognormal_from_percentiles(0.001, 1e9)
    mean, scv = q.lognormal_moments(m, s)
    assert math.isfinite(mean) and math.isfinite(scv)
    spec = Lognormal(m, s)
    assert (spec.mean, spec.scv) == (mean, scv)
    dist = spec.dist(Grid.covering(1e12, 2048))
    assert not np.isnan(dist.pmf).any()
    assert dist.quantile(0.5) == pytest.approx(0.001, abs=dist.grid.step)
    p_over, first, second = spec.cut(200.0)
    assert p_over == pytest.approx(0.5 * math.erfc((math.log(200) - m) / (s * math.sqrt(2))))
    assert 0 < first < 200 and 0 < second < 200**2
    huge = Spec(1.0, 1e300)  # the hyperexponential of scv 10³⁰⁰
    assert not np.isnan(huge.dist(Grid.covering(10.0, 2048)).pmf).any()
    assert all(math.isfinite(v) for v in huge.cut(5.0))


def test_the_widest_tail_a_design_may_state() -> None:
    # p95 = 100 × p50 (the bound): a lognormal of scv ≈ 2,440, mean 49.0 ms.
    # Its median is 1/8,000 of its 99.99th percentile: a grid wide enough for the 10⁻⁴ trace
    # of the tail has the median in its first cell; the grid leaves up to 10⁻³ beyond.
    s = math.log(100) / q.Z95
    e = dk.estimate(single_station(100_000, {"p50": 1.0, "p95": 100.0}, 50))
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(math.exp(s * s / 2), rel=1e-6)
    assert (ep.p50_ms, ep.p95_ms, ep.p99_ms) == pytest.approx(
        (1.0, 100.0, math.exp(2.3263478740408408 * s)), rel=REL)
    assert_sane(e)


def test_a_load_that_overflows_is_infinite_and_saturated() -> None:
    # 10⁹ requests/s × 10³⁰⁸: no double holds the rate (was: nan% utilization)
    e = dk.estimate(single_station(10, 1.0, 1e9), scale=1e308)
    station = e.station("api workers")
    assert station.utilization == math.inf and station.saturated
    assert station.wait_ms == math.inf and station.service_ms == 1.0
    assert e.endpoints["api GET /x"].saturated and "nan" not in str(e).lower()
    assert e.to_dict()["endpoints"]["api GET /x"]["rps"] is None  # JSON has no Infinity
    assert "∞" in str(e)
    assert_sane(e)
    # 100/s × 10³⁰⁸ fits a double per ms (10³⁰⁷), not per second: ρ = 10³⁰⁶
    near = dk.estimate(single_station(10, 1.0, 100), scale=1e308)
    assert near.station("api workers").utilization == pytest.approx(1e306)
    assert "1e+308%" in str(near) and len(max(str(near).splitlines(), key=len)) < 150
    assert_sane(near)


def test_a_load_that_underflows_is_none() -> None:
    e = dk.estimate(single_station(1, 1000.0, 1.0), scale=1e-300)
    assert e.endpoints["api GET /x"].mean_ms == pytest.approx(1000.0, rel=1e-12)
    assert e.max_scale == pytest.approx(1e300, rel=1e-6)
    assert_sane(e)


def test_a_one_day_time_of_scv_100_saturates_cleanly() -> None:
    e = dk.estimate(single_station(100_000, {"mean": 86_400_000, "scv": 100}, 100))
    assert e.station("api workers").utilization == pytest.approx(100 * 86_400 / 100_000)
    assert e.endpoints["api GET /x"].saturated
    assert e.max_scale == pytest.approx(100_000 / 8_640_000, rel=1e-6)
    assert_sane(e)


# -- 5. nonsense estimates the testers saw, each kept as a design --------------------------


def test_a_tiny_time_of_high_variance_is_not_saturated_at_0_percent() -> None:
    # Was: SATURATED at 0 % utilization with a NaN wait — E[S²] = 101·10⁻⁶⁰⁰ underflowed to
    # 0 and 0 / 0 became the scv.
    e = dk.estimate(single_station(10, {"mean": 1e-300, "scv": 100}, 100))
    station = e.station("api workers")
    assert not station.saturated and station.wait_ms == 0.0
    assert station.utilization == pytest.approx(1e-302)
    ep = e.endpoints["api GET /x"]
    assert not ep.saturated and ep.mean_ms == pytest.approx(1e-300)
    assert_sane(e)


def test_a_short_gamma_on_a_long_grid_keeps_its_mass() -> None:
    # Was: SATURATED — the gamma's density, far narrower than one cell of the endpoint's
    # grid, was sampled between its points and all of its mass was lost. Now: an M/M/1 at
    # ρ = 0.1 (μ − λ = 0.0009/ms) after a 0.001 ms cpu.
    design = dk.Design(name="short")
    design.cache("c", service_ms=1000.0)
    design.service("api", workers=10, io="async").endpoint(
        "GET /x", cpu_ms={"mean": 0.001, "scv": 0.5}).call("c")
    design.set_load("api GET /x", 0.1)
    e = dk.estimate(design)
    ep = e.endpoints["api GET /x"]
    assert not ep.saturated and not e.saturated
    assert ep.mean_ms == pytest.approx(0.001 + 1 / 0.0009, rel=1e-9)
    assert (ep.p50_ms, ep.p95_ms, ep.p99_ms) == pytest.approx(
        (math.log(2) / 0.0009, math.log(20) / 0.0009, math.log(100) / 0.0009), rel=REL)
    grid = Grid(step=1.0, size=2048)
    assert grid.gamma(2.0, 0.0005).pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert grid.gamma(1.0001, 0.5).pmf.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("scale", "cumulative"), [  # P(4, x / scale), 60 digits
    (0.1, (0.73497408470263829, 0.99978862149653324, 0.99999995913241052)),
    (0.3, (0.088267151734732371, 0.73497408470263829, 0.96622660480085815)),
    (2.0, (0.00013336965051406238, 0.0072921665052112795, 0.038269054289622293)),
])
def test_a_gamma_narrower_than_a_cell_has_exact_cell_masses(
        scale: float, cumulative: tuple[float, ...]) -> None:
    # shape 4 (scv ¼) with a standard deviation of 0.2, 0.6 and 4 cells
    dist = Grid(step=1.0, size=2048).gamma(4.0, scale)
    assert dist.cumulative[:3] == pytest.approx(cumulative, abs=2e-6)


def test_a_gamma_near_shape_1_has_its_first_cell_exact() -> None:
    # P(1.5, x) = erf(√x) − 2√(x/π)e⁻ˣ: x^½ near 0 defeats Simpson's rule there
    dist = Grid(step=1.0, size=2048).gamma(1.5, 1.0)
    assert dist.cumulative[0] == pytest.approx(0.1987480430987992, abs=5e-6)


def test_rebinning_onto_cells_beyond_any_integer() -> None:
    from designkit.estimate.spectra import rebin

    fine = Grid(step=1e-3 / 2048, size=2048).exponential(1e-4)
    coarse = rebin(fine, Grid(step=2.0**70 * fine.grid.step, size=2048), 2**70)
    assert coarse.pmf[0] == pytest.approx(1.0, abs=1e-6) and coarse.pmf[1:].sum() == 0.0


def test_the_mean_is_never_below_the_service_time() -> None:
    # Was: mean 0.981 ms for a 1 ms cpu of scv 100 — the grid left the rare slow phase's
    # tail (and its share of the mean) beyond its end. The mean is now the exact sum.
    for cpu in ({"mean": 1.0, "scv": 100}, {"p50": 1.0, "p95": 100.0}, 1.0):
        e = dk.estimate(single_station(100_000, cpu, 100))
        spec = Spec.of(Time.model_validate(cpu))
        assert e.endpoints["api GET /x"].mean_ms >= spec.mean * (1 - 1e-12)


def test_the_mean_with_parallel_branches_is_never_below_its_slowest_branch() -> None:
    # With parallel steps the mean is the grid's (Clark's approximation of a maximum is
    # off by 4 % for two exponentials), which left out the slow phase's tail: 0.98 ms for
    # 1 ms of cpu and two empty branches. Now at least the slowest branch's mean.
    design = single_station(100_000, {"mean": 1.0, "scv": 100}, 100)
    design.components["api"].endpoints["GET /x"].parallel(2)  # type: ignore[union-attr]
    ep = dk.estimate(design).endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(1.0, rel=1e-9)


def test_a_huge_retry_backoff_does_not_flatten_the_percentiles() -> None:
    # Was: p50 0 ms and a mean of 4·10⁹ ms for a 50 ms call retried 100 times: one grid
    # wide enough for 2¹⁰⁰ × 100 ms held the whole call in its first cell.
    design = dk.Design(name="backoff")
    design.external("p", latency_ms=50.0, failure_rate=0.5,
                    retries={"max": 100, "backoff": "exponential"})
    design.service("api", io="async", workers=50).endpoint("POST /x").call("p")
    design.set_load("api POST /x", 10)
    ep = dk.estimate(design).endpoints["api POST /x"]
    # 50 ms a try; backoff 100·2^(j−1) before retry j, reached with probability 2⁻ʲ
    assert ep.mean_ms == pytest.approx(2 * 50 + 100 * 50.0, rel=1e-9)
    assert 50 < ep.p50_ms < 200 and ep.p50_ms < ep.p95_ms < ep.p99_ms < 1e5


def test_a_callee_far_shorter_than_its_caller_is_rebinned_in_place() -> None:
    # Was: an 8 TiB array — the caller's cells are 2⁴⁰ of the callee's, and the callee's
    # distribution was padded to a whole caller cell before summing it.
    design = dk.Design(name="rebin")
    design.service("b", io="async").endpoint("GET /tiny", cpu_ms={"mean": 0.0005, "scv": 0})
    design.service("a", io="async", workers=100_000).endpoint(
        "GET /x", cpu_ms=86_400_000).call("b GET /tiny")
    design.set_load("a GET /x", 0.5)
    e = dk.estimate(design)
    ep = e.endpoints["a GET /x"]
    assert ep.p50_ms == pytest.approx(86_400_000 * math.log(2), rel=REL)
    assert e.endpoints["b GET /tiny"].p50_ms == pytest.approx(0.0005, rel=REL)
    assert_sane(e)


def test_an_exponential_far_longer_than_its_grid() -> None:
    # Was: NaN — at frequency 0 the geometric sum was (1 − q)/(1 − q) with q rounded to 1.
    dist = Grid(step=1.0, size=2048).exponential(1e30)
    assert dist.pmf.sum() == pytest.approx(2047.5e-30, rel=1e-6)
    assert not np.isnan(dist.pmf).any()


def test_an_unloaded_solution_has_no_nan_for_any_station() -> None:
    design = single_station(4, {"mean": 5e-324, "scv": 100}, 1e-300)
    solution = solve(compile_design(design), dict(design.workload))
    assert not any(math.isnan(v) for s in solution.stations
                   for v in (s.scv, s.wait, s.p_wait, s.utilization))


def test_an_unloaded_endpoint_beside_a_vanishing_load_warns_nothing() -> None:
    # found by the fuzzer: a denormal workload's capacity search reaches an infinite scale,
    # where the endpoint without traffic gave 0 × ∞ (a RuntimeWarning, then NaN)
    import warnings

    d = dk.Design(name="vanishing")
    d.cache("cache")
    svc = d.service("api")
    svc.endpoint("DELETE /r").cache("cache")
    svc.endpoint("POST /", cpu_ms=1.192092896e-07)
    d.set_load("api POST /", 2.421483101897346e-302)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = dk.estimate(d)
    assert e.station("api workers").utilization == pytest.approx(2.9e-312, rel=0.01)
    assert math.isinf(e.max_scale) or e.max_scale > 1e300


def test_bounded_waits_at_a_vanishing_load_warn_nothing() -> None:
    # found by the fuzzer: at 1e-7 requests/s a lock inside 650 async workers has bounded
    # classes whose wait over an exponential's overflowed a double (a RuntimeWarning)
    from pathlib import Path

    design = dk.load(Path(__file__).with_name("cases") / "vanishing-held-waits.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = dk.estimate(design, scale=5.2887e-10)
    assert not e.endpoints["api GET /x"].saturated
    assert math.isfinite(e.endpoints["api GET /x"].p99_ms)


def test_holds_too_short_to_square_are_estimated() -> None:
    # found by the fuzzer: a blocking service's hold of 1e-167 ms (its statements take no
    # time) squared to zero in the spread of the holds behind a pool (a ZeroDivisionError)
    from pathlib import Path

    design = dk.load(Path(__file__).with_name("cases") / "vanishing-hold-times.yaml")
    e = dk.estimate(design)
    assert e.endpoints["api GET /x"].mean_ms == pytest.approx(0.0, abs=1e-9)
    assert not e.endpoints["api GET /x"].saturated
