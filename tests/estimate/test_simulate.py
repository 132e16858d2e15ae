"""The simulator: reproducible, exact where queueing theory is exact, and a cross-check of
the estimator on every template.

Sampling noise: the simulated p95 of ``n`` independent response times has a relative
standard error of about 1.5/√n for an exponential-like tail (more when the queue is
correlated in time); every run here is seeded, so results are deterministic, and every
tolerance is chosen from the spread over other seeds, not tuned to one.
"""

from __future__ import annotations

import functools
import json
import math
import sys

import pytest

import designkit as dk
from designkit.estimate.program import compile_design
from designkit.estimate.sim_stations import StationStats
from designkit.estimate.simulate import simulate
from designkit.estimate.solve import solve
from designkit.maths.queueing import erlang_c
from tests.oracles import mmc_sojourn_quantile

# runs shorter than a full study: their "simulate longer" warnings are expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*simulate longer:RuntimeWarning")

SEED = 20240601


def single_station(workers: int, cpu_ms: float, rps: float) -> dk.Design:
    design = dk.Design(name="station")
    design.service("api", workers=workers).endpoint("GET /x", cpu_ms=cpu_ms)
    design.set_load("api GET /x", rps)
    return design


# -- basics --------------------------------------------------------------------------------


def test_reproducible_with_a_seed() -> None:
    design = dk.template("flash-sale")
    first = simulate(design, duration_s=0.5, seed=7, progress=False)
    again = simulate(design, duration_s=0.5, seed=7, progress=False)
    other = simulate(design, duration_s=0.5, seed=8, progress=False)
    assert first.to_dict() == again.to_dict()
    assert first.to_dict() != other.to_dict()


@pytest.mark.parametrize(("workers", "cpu_ms", "rps"), [
    pytest.param(1, 1.0, 700.0, id="M/M/1 at 70%"),
    pytest.param(10, 10.0, 800.0, id="M/M/10 at 80%"),
])
def test_mmc_mean_and_p95_are_exact(workers: int, cpu_ms: float, rps: float) -> None:
    # 200,000 requests; over seeds 0-5 the error of mean and p95 stayed within 2 %.
    lam, mu = rps / 1000.0, 1.0 / cpu_ms
    mean = float(erlang_c(workers, lam / mu)) / (workers * mu - lam) + 1.0 / mu
    p95 = mmc_sojourn_quantile(0.95, lam, mu, workers)
    e = simulate(single_station(workers, cpu_ms, rps), duration_s=200_000 / rps, seed=SEED,
                 progress=False)
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(mean, rel=0.03)
    assert ep.p95_ms == pytest.approx(p95, rel=0.03)
    assert not ep.saturated
    station = e.station("api workers")
    assert station.utilization == pytest.approx(lam / mu / workers, rel=0.02)
    assert station.arrival_rps == pytest.approx(rps, rel=0.01)
    assert station.service_ms == pytest.approx(cpu_ms, rel=0.02)
    assert station.busy == pytest.approx(lam / mu, rel=0.02)
    assert e.bottleneck_station == "api workers"


def test_saturation_is_flagged_as_infinity_and_null() -> None:
    e = simulate(single_station(1, 10.0, 120.0), duration_s=20, seed=SEED, progress=False)
    ep = e.endpoints["api GET /x"]
    assert ep.saturated and math.isinf(ep.p95_ms) and math.isinf(ep.mean_ms)
    station = e.station("api workers")
    assert station.saturated and station.utilization >= 0.99 and math.isinf(station.wait_ms)
    assert e.saturated
    assert e.max_scale == pytest.approx(1 / 1.2, rel=1e-4)  # the estimator's
    data = json.loads(e.to_json())
    assert data["endpoints"]["api GET /x"]["p95_ms"] is None
    assert "NaN" not in e.to_json() and "Infinity" not in e.to_json()


def test_a_load_just_above_capacity_is_saturated() -> None:
    # ρ = 1.05 from an empty start.
    e = simulate(single_station(4, 10.0, 420.0), duration_s=30, seed=SEED, progress=False)
    assert e.endpoints["api GET /x"].saturated
    assert e.station("api workers").saturated


def test_a_queue_still_growing_at_the_end_is_saturated() -> None:
    # The rule behind "saturated" besides utilization ≥ 0.99: waits in the window's last
    # quarter above twice the first quarter's plus 1 % of the time between them.
    stats = StationStats(capacity=1, warm=0.0, end=1000.0)
    for t in range(1000):
        stats.waited(float(t), t / 10.0)  # the wait grows by 0.1 ms every ms
    stats.area = 950.0
    assert stats.growing and stats.saturated
    steady = StationStats(capacity=1, warm=0.0, end=1000.0)
    for t in range(1000):
        steady.waited(float(t), 5.0 + (t % 7))
    steady.area = 950.0
    assert not steady.growing and not steady.saturated


def test_parallel_branches_wait_for_the_slowest() -> None:
    # Two independent M/M/1 branches at ρ = 0.1: the max of two exponentials (the estimate's
    # grid maximum is exact for independent branches; fork-join correlation is small here).
    design = dk.Design(name="par")
    design.cache("a", service_ms=5.0)
    design.cache("b", service_ms=5.0)
    endpoint = design.service("api", io="async", workers=1000).endpoint("GET /x")
    branches = endpoint.parallel(2)
    branches.branch(0).call("a")
    branches.branch(1).call("b")
    design.set_load("api GET /x", 20)
    expected = dk.estimate(design).endpoints["api GET /x"]
    got = simulate(design, duration_s=3000, seed=SEED, progress=False).endpoints["api GET /x"]
    # Over seeds 1-3 and SEED: mean −1.7…−0.5 %, p95 −1.1…+0.5 % (fork-join: both queues
    # see the same arrivals, so the branches are slightly positively correlated).
    assert got.mean_ms == pytest.approx(expected.mean_ms, rel=0.03)
    assert got.p95_ms == pytest.approx(expected.p95_ms, rel=0.03)


def test_external_retries_backoff_and_load() -> None:
    # Attempts fail independently with p = 0.3, up to 3 attempts, 20 ms (mean) backoff:
    # E[attempts] = 1 + 0.3 + 0.09 = 1.39; mean = 1.39 × 10 + (0.3 + 0.09) × 20 = 21.7 ms.
    design = dk.Design(name="ext")
    design.external("p", latency_ms=10.0, failure_rate=0.3,
                    retries={"max": 2, "backoff": "constant", "base_ms": 40, "jitter": True})
    design.service("api", io="async", workers=1000).endpoint("POST /x").call("p")
    design.set_load("api POST /x", 200)
    e = simulate(design, duration_s=500, seed=SEED, progress=False)
    assert e.endpoints["api POST /x"].mean_ms == pytest.approx(21.7, rel=0.02)
    assert e.components["p"].arrival_rps == pytest.approx(200 * 1.39, rel=0.01)
    assert e.endpoints["api POST /x"].mean_ms == pytest.approx(
        dk.estimate(design).endpoints["api POST /x"].mean_ms, rel=0.02)


def test_open_breaker_sends_nothing_and_takes_no_time() -> None:
    design = dk.Design(name="breaker")
    design.external("p", latency_ms=100.0, circuit_breaker=True, concurrency=10)
    design.service("api", io="async", workers=100).endpoint("POST /x", cpu_ms=1.0).call("p")
    design.set_load("api POST /x", 50)
    e = simulate(design, duration_s=100, seed=SEED, scenario=dk.Scenario(failing={"p": 0.9}),
                 progress=False)
    assert e.components["p"].arrival_rps == 0
    assert e.endpoints["api POST /x"].mean_ms == pytest.approx(1.0, rel=0.05)


def test_published_messages_run_their_handler_without_waiting() -> None:
    design = dk.Design(name="pub")  # 20 consumers: 5 handlers run at once on average
    design.queue("events", engine="rabbitmq", partitions=4, service_ms=1.0, consumers=20,
                 handler="worker POST /handle")
    design.service("worker", workers=100).endpoint("POST /handle", cpu_ms=50.0)
    design.service("api", workers=100).endpoint("POST /x", cpu_ms=1.0).publish("events")
    design.set_load("api POST /x", 100)
    e = simulate(design, duration_s=200, seed=SEED, progress=False)
    assert e.endpoints["api POST /x"].mean_ms < 5.0  # the 50 ms handler is not awaited
    assert e.endpoints["worker POST /handle"].rps == pytest.approx(100, rel=0.03)
    assert e.endpoints["worker POST /handle"].mean_ms == pytest.approx(50.0, rel=0.05)
    assert e.station("events partitions").arrival_rps == pytest.approx(100, rel=0.03)


def test_cache_misses_and_loops_multiply_visits() -> None:
    design = dk.Design(name="cache")
    design.cache("c", hit_ratio=0.8, service_ms=0.1)
    design.database("db", cores=4, pool_size=10)
    endpoint = design.service("api", workers=100).endpoint("GET /x", cpu_ms=1.0)
    endpoint.cache("c").loop(2.5).call("db", service_ms=1.0)
    design.set_load("api GET /x", 400)
    e = simulate(design, duration_s=100, seed=SEED, progress=False)
    # every read, and a fill after each miss
    assert e.station("c servers").arrival_rps == pytest.approx(400 * 1.2, rel=0.02)
    assert e.station("db cpu").arrival_rps == pytest.approx(400 * 0.2 * 2.5, rel=0.03)


def test_progress_is_reported_in_tenths(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[float] = []
    simulate(single_station(1, 1.0, 100.0), duration_s=1, seed=SEED, progress=seen.append)
    assert seen == pytest.approx([i / 10 for i in range(1, 11)])
    simulate(single_station(1, 1.0, 100.0), duration_s=1, seed=SEED, progress=True)
    assert "100%" in capsys.readouterr().err
    simulate(single_station(1, 1.0, 100.0), duration_s=1, seed=SEED)  # short: silent
    assert capsys.readouterr().err == ""


def test_bad_arguments_are_refused() -> None:
    design = single_station(1, 1.0, 100.0)
    with pytest.raises(dk.DesignError, match="unknown endpoint"):
        simulate(design, workload={"api GET /y": 1.0}, duration_s=1)
    with pytest.raises(ValueError, match="duration_s"):
        simulate(design, duration_s=0)
    with pytest.raises(ValueError, match="warmup_s"):
        simulate(design, duration_s=1, warmup_s=-1)


def test_missing_simpy_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "simpy", None)
    with pytest.raises(dk.MissingDependencyError, match="pip install"):
        simulate(single_station(1, 1.0, 100.0), duration_s=1)


# -- the cross-check: every template, at its workload and at 0.8 × max_scale -----------------

MIN_SAMPLES = 10_000
"""Completions needed to compare a p95 at 5 % (its standard error is then ≈ 1.5 %)."""

ENOUGH = 2_000
"""Completions from which batch means give a p95's interval (20 batches of 100)."""

EVENT_BUDGET = 1.2e6
"""Expected station visits + endpoint executions per simulation (≲ 4 s of wall time each)."""

LOADS = ("workload", "0.8 max_scale")

_SAGA_BURSTS = (
    "orders-db cpu (4 cores, ρ 0.79) gets bursts, not Poisson arrivals: when a charge returns, "
    "the saga's saga_instances update, its confirm call's two updates and the payment-events "
    "handler's update (forked by the publish) reach it within ~2 ms of each other; "
    "Allen–Cunneen (ca² = 1) gives a 0.75 ms wait, the simulation 0.84–0.96 ms. Without the "
    "forked handler the two agree (0.248 vs 0.248–0.254 ms); with Poisson arrivals of the "
    "same service mix too (0.75 vs 0.71–0.73 ms). ")
KNOWN: dict[tuple[str, str, str], str] = {
    ("payments-saga", "0.8 max_scale", "orders-svc POST /v1/orders/{id}/pay"):
        _SAGA_BURSTS + "p95: estimate 17.26 ms, simulated 19.41 ms (+12.5 %; seeds 11–14: "
        "+11.8…+20.3 %).",
    ("payments-saga", "0.8 max_scale", "orders-svc POST /v1/orders/{id}/confirm"):
        _SAGA_BURSTS + "p95: estimate 10.11 ms, simulated 12.02 ms (+18.8 %; seeds 11–14: "
        "+18.8…+26.3 %).",
    ("payments-saga", "0.8 max_scale", "orders-svc POST /v1/payment-events"):
        _SAGA_BURSTS + "p95: estimate 6.09 ms, simulated 6.66 ms (+9.3 %; seeds 11–14: "
        "+8.5…+16.2 %).",
}
"""(template, load, endpoint) → why the estimator's p95 misses the simulation's by > 5 % at
SEED; each is a real modelling limit of the estimator, measured, not sampling noise.

Close calls that pass at SEED (if a change that only reshuffles the random draws makes them
fail, this is why; re-measure over several seeds before deciding):

* payments-saga @ 0.8 max_scale, orders-svc GET /v1/orders/{id} (+3.8 %; seeds 1, 2,
  11–14: +2.2…+7.0 %): touched by the same orders-db bursts, or by the sequential visits
  of a transaction, less strongly. (stock-svc POST /v1/reservations, once here, is in
  ``LOOSE``.)
* payments-monolith @ 0.8 max_scale, every endpoint but pay: checked at 25 % (``LOOSE``,
  ``_POOL_TAIL``).
"""


_POOL_TAIL = (
    "the p95 is the tail of the pool wait, set by rare runs of slow provider calls (lognormal "
    "p95 800 ms, 30 s timeout) holding all 10 connections of one replica; the simulated p95 "
    "converges very slowly: over 13 runs of 0.2–1.5 M requests it ranged −15…+13 % around "
    "the estimate (mean ≈ −3 %); GET /v1/products/{id} at this test's length over seeds "
    "SEED, 1–6: −20.0, −15.3, −7.3, −15.9, −11.2, +15.1, −3.4 %. Sampling noise, not a "
    "modelling disagreement: checked at 25 % instead of 5 %.")
LOOSE: dict[tuple[str, str, str], float] = {
    **{("payments-monolith", "0.8 max_scale", endpoint): 0.25
       for endpoint in ("shop-monolith GET /v1/products", "shop-monolith GET /v1/products/{id}",
                        "shop-monolith POST /v1/orders", "shop-monolith GET /v1/orders/{id}")},
    # _SAGA_BURSTS, mildly: p95 estimate 16.85 ms, simulated 17.86 ms (+6.0 %; seeds 11–14 at
    # 500 k requests: +4.0…+9.5 %) — on both sides of 5 %, so neither a pass nor a strict
    # xfail is stable; checked at 12 %.
    ("payments-saga", "0.8 max_scale", "orders-svc POST /v1/orders"): 0.12,
    # the same, as mildly: p95 estimate 14.01 ms, simulated 14.94 ms at SEED (+6.6 %; seeds
    # 0–5 at 100 s: +4.7…+6.6 %, the mean −1.2 %) — on both sides of 5 %; checked at 12 %.
    ("payments-saga", "0.8 max_scale", "stock-svc POST /v1/reservations"): 0.12,
    # The projector behind 32 single consumers (each an M/G/1 of its run) at 0.8 of where
    # they saturate: its upserts reach order-read-db's cpu (ρ 0.76) spaced by the consumers,
    # not as Poisson arrivals, so they wait 0.015 ms simulated against 0.029 estimated, and
    # the consumers' wait is 0.49 against 0.53 ms: the estimate's p95 is high by 5.5–6.6 %
    # (seeds 2 and SEED), its mean by 3.4 %; checked at 8 %.
    ("flash-sale", "0.8 max_scale", "order-projector POST /v1/order-events"): 0.08,
}
"""(template, load, endpoint) → the tolerance for cases whose simulated p95 is too noisy for
5 % in a test's time budget (``_POOL_TAIL``), or straddles 5 % (the comment says why)."""


def _endpoints(name: str) -> list[str]:
    design = dk.template(name)
    solution = solve(compile_design(design), dict(design.workload))
    return [str(ep.ref) for ep, rate in zip(solution.program.endpoints, solution.endpoint_rate,
                                            strict=True) if rate > 0]


def _cases() -> list[object]:
    cases: list[object] = []
    for name in dk.templates():
        for load in LOADS:
            for endpoint in _endpoints(name):
                reason = KNOWN.get((name, load, endpoint))
                marks = ([pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)]
                         if reason else [])
                cases.append(pytest.param(name, load, endpoint, marks=marks,
                                          id=f"{name} @ {load}: {endpoint}"))
    return cases


def first_saturation(estimate: dk.Estimate) -> float:
    """Where the first station saturates, user-facing or background."""
    back = estimate.background
    return min(estimate.max_scale, back.max_scale if back else math.inf)


@functools.cache
def cross_check(name: str, load: str) -> tuple[dk.Estimate, dk.Estimate, float]:
    """The estimate and a simulation of template ``name`` at ``load``, and the seconds
    simulated: long enough for MIN_SAMPLES completions of the slowest-rate endpoint, within
    EVENT_BUDGET."""
    design = dk.template(name)
    scale = 1.0 if load == "workload" else 0.8 * first_saturation(dk.estimate(design))
    expected = dk.estimate(design, scale=scale)
    rates = [ep.rps for ep in expected.endpoints.values()]
    events = sum(rates) + sum(s.arrival_rps for c in expected.components.values()
                              for s in c.stations.values())
    duration = min(MIN_SAMPLES / min(rates), EVENT_BUDGET / events)
    simulated = simulate(design, duration_s=duration, seed=SEED, scale=scale, progress=False)
    return expected, simulated, duration


@pytest.mark.parametrize(("name", "load", "endpoint"), _cases())
def test_p95_agrees_with_the_estimate(name: str, load: str, endpoint: str) -> None:
    expected, simulated, duration = cross_check(name, load)
    want, got = expected.endpoints[endpoint], simulated.endpoints[endpoint]
    assert not got.saturated and not want.saturated
    completed = got.rps * duration
    if completed >= MIN_SAMPLES:
        tolerance = LOOSE.get((name, load, endpoint), 0.05)
        assert got.p95_ms == pytest.approx(want.p95_ms, rel=tolerance), (
            f"estimate p95 {want.p95_ms:.4g} ms, simulated {got.p95_ms:.4g} ms "
            f"({got.p95_ms / want.p95_ms - 1:+.1%}, {completed:,.0f} completions)")
    elif completed < ENOUGH:
        # Too few completions (a 1 rps endpoint) to pin the simulated p95: the estimate's
        # p95 must then be a plausible p95 of the sample — the share of simulated times
        # below it within 4 standard errors of 0.95 (requests this rare hardly share a
        # queue: a binomial count).
        assert got.dist is not None
        share = got.dist.cdf(want.p95_ms)
        assert abs(share - 0.95) <= 4.0 * math.sqrt(0.95 * 0.05 / completed), (
            f"{share:.3f} of {completed:.0f} simulated times are below the estimate's p95 "
            f"{want.p95_ms:.4g} ms")
    else:
        # Thousands of completions, not enough to pin the simulated p95 to 5 %: the
        # estimate's p95 must be within 5 % of a p95 the run cannot rule out — inside its
        # batch-means 95 % interval (neighbouring requests share queues: the share of
        # times below a value is not a binomial count; 9,914 completions once put the
        # estimate's p95 at 0.939 of them where 93,000 put it at 0.951–0.954).
        assert got.sampled is not None
        low, high = got.sampled.p95_ci
        tolerance = LOOSE.get((name, load, endpoint), 0.05)
        assert low * (1 - tolerance) <= want.p95_ms <= high * (1 + tolerance), (
            f"estimate p95 {want.p95_ms:.4g} ms, simulated {got.p95_ms:.4g} ms "
            f"(95 % interval {low:.4g}…{high:.4g} ms, {completed:,.0f} completions)")


def test_known_disagreements_name_real_cases() -> None:
    names = set(dk.templates())
    for name, load, endpoint in [*KNOWN, *LOOSE]:
        assert name in names and load in LOADS and endpoint in _endpoints(name)
