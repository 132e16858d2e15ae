"""Errors in the estimate: closed forms, how they compose, and the simulation's count."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from designkit.estimate.scenarios import Scenario


def _one_call(**external: object) -> dk.Design:
    d = dk.Design(name="one-call")
    d.external("psp", **{"latency_ms": 100.0, **external})  # type: ignore[arg-type]
    d.service("api", io="async", workers=100).endpoint("POST /pay").call("psp")
    d.set_load("api POST /pay", 10)
    return d


def test_a_third_party_failing_30_percent_with_2_retries() -> None:
    # All three attempts fail: 0.3³ = 2.7 % of calls; attempts per call 1 + 0.3 + 0.09.
    e = dk.estimate(_one_call(failure_rate=0.3, retries={"max": 2}))
    assert e.endpoints["api POST /pay"].error_ratio == pytest.approx(0.027, rel=1e-12)
    assert e.endpoints["api POST /pay"].errors == pytest.approx({"failure: psp": 0.027})
    assert e.components["psp"].arrival_rps == pytest.approx(13.9, rel=1e-12)


def test_a_timeout_at_the_p90_of_an_exponential() -> None:
    # 10 % of attempts time out, and the call takes E[min(X, t)] = 100 · 0.9 = 90 ms.
    e = dk.estimate(_one_call(timeout_ms=100.0 * math.log(10.0))).endpoints["api POST /pay"]
    assert e.errors == pytest.approx({"timeout: psp": 0.1}, rel=1e-9)
    assert e.mean_ms == pytest.approx(90.0, rel=1e-3)


def test_the_requests_that_succeed_are_the_attempts_within_time() -> None:
    # Timeout at the p90 of an exponential of mean 100 ms, no retry: a success is an
    # attempt below t = 100·ln 10, so its mean is (μ − (t + μ)e^(−t/μ)) / (1 − e^(−t/μ))
    # and its p95 solves (1 − e^(−x/μ)) / 0.9 = 0.95.
    t = 100.0 * math.log(10.0)
    e = dk.estimate(_one_call(timeout_ms=t)).endpoints["api POST /pay"]
    assert e.success is not None
    assert e.success.mean_ms == pytest.approx((100.0 - (t + 100.0) * 0.1) / 0.9, rel=1e-3)
    assert e.success.p95_ms == pytest.approx(-100.0 * math.log(1.0 - 0.95 * 0.9), rel=1e-3)
    assert e.mean_ms == pytest.approx(90.0, rel=1e-3)  # every request's: E[min(X, t)]


def test_a_success_after_retries_includes_the_failed_attempts() -> None:
    # 30 % of attempts fail (at any time), two retries: a call that succeeds took k
    # attempts with probability 0.3^(k−1)·0.7 / (1 − 0.3³), each 100 ms on average.
    e = dk.estimate(_one_call(failure_rate=0.3, retries={"max": 2})).endpoints["api POST /pay"]
    tries = sum(k * 0.3 ** (k - 1) * 0.7 for k in (1, 2, 3)) / (1.0 - 0.027)
    assert e.success is not None
    assert e.success.mean_ms == pytest.approx(100.0 * tries, rel=1e-3)
    assert e.to_dict()["success"]["mean_ms"] == pytest.approx(100.0 * tries, rel=1e-3)
    no_errors = dk.estimate(_one_call()).endpoints["api POST /pay"]
    assert no_errors.success is None and "success" not in no_errors.to_dict()


def test_availability_in_sequence_is_the_product_and_the_first_failure_is_the_cause() -> None:
    d = dk.Design(name="two")
    d.external("a", latency_ms=10.0, failure_rate=0.1)
    d.external("b", latency_ms=10.0, failure_rate=0.2)
    d.service("api", io="async").endpoint("GET /x").call("a").call("b")
    d.set_load("api GET /x", 1)
    e = dk.estimate(d).endpoints["api GET /x"]
    assert 1 - e.error_ratio == pytest.approx(0.9 * 0.8, rel=1e-12)
    assert e.errors == pytest.approx({"failure: a": 0.1, "failure: b": 0.9 * 0.2})


def composed() -> dk.Design:
    """Every step kind around failing calls: a loop of three, a cache whose misses call,
    parallel branches, a call of another endpoint, a message whose handler fails (its own
    errors, not the publisher's), and a third party behind an open breaker."""
    d = dk.Design(name="composed")
    d.external("a", latency_ms=5.0, failure_rate=0.1)
    d.external("b", latency_ms=5.0, failure_rate=0.5, retries={"max": 1})
    d.external("c", latency_ms=5.0, timeout_ms=5.0 * math.log(5.0))  # 20 % time out
    d.external("dead", latency_ms=5.0, failure_rate=0.6, circuit_breaker={"failure_threshold": 0.5})
    d.cache("cache", service_ms=0.2, hit_ratio=0.8)
    d.queue("events", service_ms=0.2, handler="worker POST /h")
    d.service("worker", io="async").endpoint("POST /h").call("dead")
    backend = d.service("backend", io="async").endpoint("GET /y")
    backend.call("c")
    api = d.service("api", io="async")
    loop = api.endpoint("GET /loop").loop(3)
    loop.call("a")
    api.endpoint("GET /cache").cache("cache").call("b")
    fan = api.endpoint("GET /fan").parallel(2)
    fan.branch(0).call("a")
    fan.branch(1).call("backend GET /y")
    api.endpoint("POST /send").publish("events")
    for key in ("GET /loop", "GET /cache", "GET /fan", "POST /send"):
        d.set_load(f"api {key}", 50)
    return d


EXPECTED = {  # closed forms of the composition rules
    "api GET /loop": {"failure: a": 0.1 * (1 + 0.9 + 0.81)},
    "api GET /cache": {"failure: b": 0.2 * 0.25},
    "api GET /fan": {"failure: a": 0.1, "timeout: c": 0.9 * 0.2},
    "backend GET /y": {"timeout: c": 0.2},
    "api POST /send": {},
    "worker POST /h": {"breaker: dead": 1.0},
}


def test_errors_compose_along_every_step_kind() -> None:
    e = dk.estimate(composed())
    for key, causes in EXPECTED.items():
        got = e.endpoints[key]
        assert got.errors == pytest.approx(causes, rel=1e-9), key
        assert got.error_ratio == pytest.approx(sum(causes.values()), rel=1e-9), key


def test_the_simulation_counts_the_same_errors() -> None:
    # Within 10 % relative or half a point, ratio and causes (about 100,000 requests per
    # endpoint; the estimate is exact for this model, the simulation a sample).
    design = composed()
    simulated = dk.simulate(design, duration_s=2000, seed=7, progress=False)
    for key, causes in EXPECTED.items():
        got = simulated.endpoints[key]
        assert abs(got.error_ratio - sum(causes.values())) <= max(
            0.005, 0.1 * sum(causes.values())), key
        assert set(got.errors) == set(causes), key
        for cause, share in causes.items():
            assert abs(got.errors[cause] - share) <= max(0.005, 0.1 * share), (key, cause)
    # and the requests that succeed take as long as the estimate says: mean and p95
    # within 5 % (a cache's successful misses, a loop's, the branches', a callee's)
    estimated = dk.estimate(design)
    compared = 0
    for key in EXPECTED:
        want, got = estimated.endpoints[key].success, simulated.endpoints[key].success
        assert (want is None) == (got is None), key
        if want is None or got is None:
            continue
        compared += 1
        assert got.mean_ms == pytest.approx(want.mean_ms, rel=0.05), key
        assert got.p95_ms == pytest.approx(want.p95_ms, rel=0.05), key
    assert compared == 4


def test_a_third_party_down_fails_every_request_fast() -> None:
    e = dk.estimate(_one_call(circuit_breaker={"failure_threshold": 0.5}),
                    scenario=Scenario(down=("psp",)))
    assert e.endpoints["api POST /pay"].errors == {"breaker: psp": 1.0}
    assert e.components["psp"].arrival_rps == 0.0
    with pytest.raises(dk.DesignError, match=r"scenario\.down\.api: nothing calls the "
                                             r"endpoints of 'api': a failing service is seen"):
        dk.estimate(_one_call(), scenario=Scenario(down=("api",)))


def test_the_command_line_takes_failing_slow_down_and_cold_caches(tmp_path: object) -> None:
    path = f"{tmp_path}/d.yaml"
    with open(path, "w") as out:
        out.write(dk.dump(_one_call(retries={"max": 2})))
    runner = CliRunner()
    result = runner.invoke(cli, ["estimate", path, "--failing", "psp=0.3", "--slow", "psp=2",
                                 "--cold-caches", "--format", "json"])
    assert result.exit_code == 0, result.output
    endpoint = json.loads(result.output)["endpoints"]["api POST /pay"]
    assert endpoint["error_ratio"] == pytest.approx(0.027)
    assert endpoint["errors"] == pytest.approx({"failure: psp": 0.027})
    assert endpoint["mean_ms"] == pytest.approx(200.0 * 1.39, rel=2e-3)  # 2× slower
    table = runner.invoke(cli, ["estimate", path, "--down", "psp"])
    assert table.exit_code == 0 and "errors" in table.output and "100%" in table.output
    bad = runner.invoke(cli, ["estimate", path, "--failing", "psp"])
    assert bad.exit_code == 2
    assert "expected NAME=NUMBER, got 'psp' (e.g. --failing payment-provider=0.3)" in bad.output
    typo = runner.invoke(cli, ["estimate", path, "--down", "pps"])
    assert typo.exit_code != 0 and "did you mean 'psp'" in typo.output


POOL_TAIL = 0.40
SLOW_TAILS = {("payments-monolith", f"shop-monolith {key}") for key in (
    "GET /v1/products", "GET /v1/products/{id}", "POST /v1/orders", "GET /v1/orders/{id}")}
"""The monolith's other endpoints wait for a pool whose connections the pay endpoint holds
through the provider's call (1.2 s at p95 under the failures, retried): their p95 is that
M/G/c wait's tail, which a simulation pins down only slowly (tests/estimate/
test_simulate.py, ``_POOL_TAIL``: −15…+13 % over 13 long runs without failures). Under the
failures the spread is wider: GET /v1/products' p95 is 42.7 ms at seed 5 and 61.2 ms at
seed 6 (the estimate 59.3 ms: −28 % and +3 %), and the pool's mean wait 4.8–6.4 ms
simulated against 8.3 estimated (a hold mixing 2 ms statements with 330 ms provider calls:
Allen–Cunneen's M/G/c is high there, docs/estimator.md). Checked at 40 %."""


@pytest.mark.parametrize("name", ["payments-monolith", "payments-saga"])
def test_templates_under_a_failing_provider_fail_as_simulated(name: str) -> None:
    # Every third party failing 30 % of attempts (the templates that call one; the others
    # have no failing scenario): each endpoint with 20,000 simulated completions has the
    # estimate's p95 within 5 % (but SLOW_TAILS), and fails as often as the estimate says,
    # within 10 % or half a point.
    design = dk.template(name)
    externals = [n for n, c in design.components.items() if c.kind == "external"]
    scenario = Scenario(failing={n: 0.3 for n in externals})
    expected = dk.estimate(design, scenario=scenario)
    # 230 s: the 100/s endpoints complete 20,000 requests with room to spare
    simulated = dk.simulate(design, scenario=scenario, duration_s=230, seed=5, progress=False)
    checked = 0
    for key, want in expected.endpoints.items():
        got = simulated.endpoints[key]
        if got.sampled is None or got.sampled.completions < 20_000:
            continue
        tolerance = POOL_TAIL if (name, key) in SLOW_TAILS else 0.05
        assert got.p95_ms == pytest.approx(want.p95_ms, rel=tolerance), (key, got.p95_ms,
                                                                         want.p95_ms)
        if want.error_ratio == 0:
            continue
        checked += 1
        assert abs(got.error_ratio - want.error_ratio) <= max(0.005, 0.1 * want.error_ratio), \
            (key, got.error_ratio, want.error_ratio)
        assert want.success is not None and got.success is not None
        assert got.success.p95_ms == pytest.approx(want.success.p95_ms, rel=tolerance), key
    assert checked >= 1


def test_availability_is_the_complement_of_the_failure_rate() -> None:
    # an SLA's 99.9 % on a third party is a 0.1 % failure rate; a service's 99 % fails
    # one call of it in a hundred, before what its own steps fail
    e = dk.estimate(_one_call(availability=0.999)).endpoints["api POST /pay"]
    assert e.errors == pytest.approx({"failure: psp": 0.001}, rel=1e-9)
    d = dk.Design(name="avail")
    d.external("psp", latency_ms=10.0, failure_rate=0.1)
    d.service("users", io="async", availability=0.99).endpoint("GET /u").call("psp")
    d.service("api", io="async").endpoint("GET /x").call("users GET /u")
    d.set_load("api GET /x", 1)
    got = dk.estimate(d).endpoints["api GET /x"]
    assert got.errors == pytest.approx({"failure: users": 0.01, "failure: psp": 0.99 * 0.1})
    failing = dk.estimate(_one_call(availability=0.999), scenario=Scenario(failing={"psp": 0.2}))
    assert failing.endpoints["api POST /pay"].error_ratio == pytest.approx(0.2)
    with pytest.raises(dk.DesignError, match=r"components\.psp\.availability: give "
                                             r"availability or failure_rate, not both"):
        dk.estimate(_one_call(availability=0.999, failure_rate=0.01))

