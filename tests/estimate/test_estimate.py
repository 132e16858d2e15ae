"""The estimator on designs whose answers are exact (closed form or published)."""

from __future__ import annotations

import json
import math

import pytest

import designkit as dk

REL = 0.005


def single_station(workers: int, cpu_ms: float, rps: float, replicas: int = 1) -> dk.Design:
    design = dk.Design(name="station")
    design.service("api", replicas=replicas, workers=workers).endpoint("GET /x", cpu_ms=cpu_ms)
    design.set_load("api GET /x", rps)
    return design


def test_mm1() -> None:
    # lambda = 0.75/s, S = 1 s: R = 4 s, U = 75 %, p95 = 11.9829 s.
    e = dk.estimate(single_station(1, 1000.0, 0.75))
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(4000.0, rel=REL)
    assert ep.p95_ms == pytest.approx(11982.9, rel=REL)
    assert e.station("api workers").utilization == pytest.approx(0.75)
    assert e.max_scale == pytest.approx(4 / 3, rel=1e-4)


def test_mm10() -> None:
    e = dk.estimate(single_station(10, 100.0, 90.0))
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(166.873, rel=REL)
    assert (ep.p50_ms, ep.p95_ms, ep.p99_ms) == pytest.approx((132.91, 436.09, 624.99), rel=REL)
    assert e.station("api workers").utilization == pytest.approx(0.9)
    assert e.bottleneck_station == "api workers"


def test_mm2() -> None:
    e = dk.estimate(single_station(2, 1000.0, 1.5))
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(2285.714, rel=REL)
    assert ep.p95_ms == pytest.approx(6476.58, rel=REL)


def test_replicas_are_separate_queues() -> None:
    # Two replicas of one worker each, load balanced: two M/M/1 at 0.75 each, not one M/M/2.
    e = dk.estimate(single_station(1, 1000.0, 1.5, replicas=2))
    assert e.endpoints["api GET /x"].mean_ms == pytest.approx(4000.0, rel=REL)


def tandem() -> dk.Design:
    """PDQ's open series: lambda = 0.1, demands 1, 2, 3 s at three single-server stations."""
    design = dk.Design(name="tandem")
    endpoint = design.service("api", io="async", workers=100).endpoint("GET /x")
    for i, seconds in enumerate((1, 2, 3), start=1):
        design.cache(f"station-{i}", servers=1, service_ms=seconds * 1000.0)
        endpoint.call(f"station-{i}")
    design.set_load("api GET /x", 0.1)
    return design


def test_pdq_tandem_residences_and_percentiles() -> None:
    e = dk.estimate(tandem())
    ep = e.endpoints["api GET /x"]
    assert ep.mean_ms == pytest.approx(7896.8, rel=REL)
    assert (ep.p50_ms, ep.p95_ms, ep.p99_ms) == pytest.approx((6772, 17699, 24720), rel=REL)
    residences = [e.station(f"station-{i} servers").wait_ms
                  + e.station(f"station-{i} servers").service_ms for i in (1, 2, 3)]
    assert residences == pytest.approx([1111.1, 2500.0, 4285.7], rel=1e-4)


def test_gross_harris_three_stations() -> None:
    # lambda = 35/60 per minute (here per second) through c = 1, 3, 7 with D = 0.5, 3.342,
    # 9.2228: R = 17.0146.
    design = dk.Design(name="gh")
    endpoint = design.service("api", io="async", workers=100).endpoint("GET /x")
    for name, cores, seconds in (("a", 1, 0.5), ("b", 3, 3.342), ("c", 7, 9.2228)):
        design.database(name, cores=cores, pool_size=1000)
        endpoint.call(name, service_ms=seconds * 1000.0)
    design.set_load("api GET /x", 35 / 60)
    e = dk.estimate(design)
    assert e.endpoints["api GET /x"].mean_ms == pytest.approx(17014.6, rel=REL)


def test_saturation_is_reported_as_infinity_and_null() -> None:
    e = dk.estimate(single_station(1, 1000.0, 1.2))
    ep = e.endpoints["api GET /x"]
    assert ep.saturated and math.isinf(ep.p95_ms) and math.isinf(ep.mean_ms)
    assert e.saturated
    data = json.loads(e.to_json())
    assert data["endpoints"]["api GET /x"] == {
        "rps": 1.2, "mean_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None,
        "saturated": True, "error_ratio": 0.0, "errors": {}}
    assert data["max_scale"] == pytest.approx(1 / 1.2, rel=1e-4)
    assert "NaN" not in e.to_json() and "Infinity" not in e.to_json()


def test_lock_is_a_single_server_station() -> None:
    # A lock held for a constant 2 ms at 400/s: rho = 0.8, M/D/1 wait = rho S / 2(1 - rho)
    # = 4 ms, and the load can grow by 1 / 0.8 = 1.25 before the lock saturates.
    design = dk.Design(name="hot-row")
    design.lock("sku-lock")
    design.external("stock", latency_ms={"mean": 2.0, "scv": 0.0})
    endpoint = design.service("api", io="async", workers=1000).endpoint("POST /buy")
    endpoint.lock("sku-lock").call("stock")
    design.set_load("api POST /buy", 400)
    e = dk.estimate(design)
    lock = e.station("sku-lock lock")
    assert lock.utilization == pytest.approx(0.8, rel=1e-6)
    assert lock.wait_ms == pytest.approx(4.0, rel=1e-6)
    assert e.max_scale == pytest.approx(1.25, rel=1e-4)
    assert e.bottleneck_station == "sku-lock lock"


def test_transaction_holds_a_connection_across_an_http_call() -> None:
    # Little's law: connections busy = rate x hold time = 100/s x (100 ms + 1 ms).
    design = dk.Design(name="tx")
    design.database("db", cores=8, pool_size=50)
    design.external("provider", latency_ms=100.0)
    endpoint = design.service("api", io="async", workers=1000).endpoint("POST /pay")
    tx = endpoint.transaction("db")
    tx.call("db", service_ms=1.0).call("provider")
    design.set_load("api POST /pay", 100)
    e = dk.estimate(design)
    pool = e.station("db pool api")
    assert pool.busy == pytest.approx(100 * 0.101, rel=1e-3)
    assert pool.servers == 50


def test_cache_miss_sends_the_misses_downstream() -> None:
    design = dk.Design(name="cache")
    design.cache("c", hit_ratio=0.9, service_ms=0.2)
    design.database("db", cores=4)
    endpoint = design.service("api", workers=50).endpoint("GET /x")
    endpoint.cache("c").call("db", service_ms=2.0)
    design.set_load("api GET /x", 1000)
    e = dk.estimate(design)
    assert e.components["db"].arrival_rps == pytest.approx(100.0)
    cold = dk.estimate(design, scenario=dk.Scenario(cold_caches=True))
    assert cold.components["db"].arrival_rps == pytest.approx(1000.0)
    assert cold.station("db cpu").utilization == pytest.approx(0.5)
    assert cold.endpoints["api GET /x"].p95_ms > e.endpoints["api GET /x"].p95_ms


def test_loop_multiplies_calls_and_batching_removes_them() -> None:
    design = dk.Design(name="n+1")
    db = design.database("db", cores=4, seek_ms=0.5, row_ms=0.02)
    db.table("items", rows=1000).column("id", "uuid", primary_key=True)
    ep = design.service("api", workers=100).endpoint("GET /list")
    ep.loop(50).call("db", query={"table": "items", "where": ["id"]})
    design.set_load("api GET /list", 10)
    slow = dk.estimate(design)
    assert slow.components["db"].arrival_rps == pytest.approx(500.0)
    assert slow.station("db cpu").service_ms == pytest.approx(0.5)
    ep = design.service("api").endpoint("GET /list")
    ep.call("db", query={"table": "items", "where": ["id"], "batch": 50})
    fast = dk.estimate(design)
    assert fast.components["db"].arrival_rps == pytest.approx(10.0)
    assert fast.station("db cpu").service_ms == pytest.approx(0.5 + 49 * 0.02)


def test_growth_turns_a_scan_expensive() -> None:
    design = dk.Design(name="growth")
    db = design.database("db", cores=4, scan_us_per_row=0.05)
    db.table("events", rows=1_000_000, growth_per_day=100_000).column("id", "uuid")
    design.service("api", workers=100).endpoint("GET /count").call(
        "db", query={"table": "events", "where": ["kind"]} if False else {"table": "events"})
    design.set_load("api GET /count", 1)
    now = dk.estimate(design)
    later = dk.estimate(design, days=365)
    assert now.station("db cpu").service_ms == pytest.approx(50.0)          # 1M × 0.05 µs
    assert later.station("db cpu").service_ms == pytest.approx(1875.0)     # 37.5M rows
    assert later.days == 365


def test_external_retries_multiply_the_load() -> None:
    design = dk.Design(name="retries")
    design.external("provider", latency_ms=50.0, failure_rate=0.2,
                    retries={"max": 2, "backoff": "exponential", "base_ms": 100})
    design.service("api", io="async", workers=1000).endpoint("POST /x").call("provider")
    design.set_load("api POST /x", 100)
    e = dk.estimate(design)
    assert e.components["provider"].arrival_rps == pytest.approx(100 * (1 + 0.2 + 0.04))


def test_open_breaker_stops_the_calls() -> None:
    design = dk.Design(name="breaker")
    design.external("provider", latency_ms=50.0, circuit_breaker=True,
                    retries={"max": 2})
    design.service("api", io="async", workers=1000).endpoint("POST /x").call("provider")
    design.set_load("api POST /x", 100)
    failing = dk.estimate(design, scenario=dk.Scenario(failing={"provider": 0.6}))
    assert failing.components["provider"].arrival_rps == 0.0
    assert failing.endpoints["api POST /x"].p95_ms < 1.0


def test_retry_storm_is_flagged_where_the_average_looks_fine() -> None:
    # 150/s × 3 attempts × 50 ms / 10 slots = 2.25 ≥ 1, while the station runs at 75 %.
    design = dk.Design(name="storm")
    design.external("provider", latency_ms={"mean": 50.0, "scv": 0.0}, concurrency=10,
                    retries={"max": 2, "backoff": "exponential", "jitter": True})
    design.service("api", io="async", workers=1000).endpoint("POST /x").call("provider")
    design.set_load("api POST /x", 150)
    e = dk.estimate(design)
    [storm] = e.retry_storms
    assert storm.station == "provider concurrency"
    assert storm.utilization_now == pytest.approx(0.75)
    assert storm.utilization_retrying == pytest.approx(2.25)
    assert storm.at_risk


def test_a_retry_storm_adds_to_every_callers_load() -> None:
    # two callers share the provider's 10 slots (50 ms calls): (150 + 49)/s = 99.5 %
    # busy now; only the first retries (2×): + 150 × 2 × 0.05 / 10 = + 1.5
    design = dk.Design(name="shared")
    design.external("provider", latency_ms=50.0, concurrency=10)
    api = design.service("api", io="async", workers=1000)
    api.endpoint("POST /x").call("provider", retries={"max": 2})
    api.endpoint("POST /y").call("provider")
    design.set_load("api POST /x", 150).set_load("api POST /y", 49)
    [storm] = dk.estimate(design).retry_storms
    assert storm.utilization_now == pytest.approx(0.995)
    assert storm.utilization_retrying == pytest.approx(0.995 + 1.5)


def test_slow_dependency_scenario() -> None:
    design = dk.Design(name="slow")
    design.external("provider", latency_ms=100.0)
    design.service("api", io="async", workers=1000).endpoint("POST /x").call("provider")
    design.set_load("api POST /x", 10)
    base = dk.estimate(design).endpoints["api POST /x"]
    slow = dk.estimate(design, scenario=dk.Scenario(slow={"provider": 3})).endpoints[
        "api POST /x"]
    assert slow.mean_ms == pytest.approx(3 * base.mean_ms, rel=REL)


def test_lost_replica_scenario() -> None:
    design = single_station(10, 100.0, 90.0, replicas=2)
    e = dk.estimate(design, scenario=dk.Scenario(lost_replicas={"api": 1}))
    assert e.station("api workers").utilization == pytest.approx(0.9)
    assert e.scenario == "api −1 replica"


def test_bad_scenario_and_workload_names_are_located() -> None:
    design = single_station(1, 1.0, 1.0)
    with pytest.raises(dk.DesignError) as info:
        dk.estimate(design, scenario=dk.Scenario(slow={"apii": 2}))
    assert str(info.value.problems[0]) == ("scenario.slow.apii: unknown component 'apii' "
                                           "(did you mean 'api'?)")
    with pytest.raises(dk.DesignError) as info:
        dk.estimate(design, workload={"api GET /y": 1})
    assert str(info.value.problems[0]).startswith('workload."api GET /y": unknown endpoint')


def test_curve_rises_to_infinity() -> None:
    e = dk.estimate(single_station(10, 100.0, 90.0))
    curve = e.curve([0.5, 1.0, 1.2])["api GET /x"]
    assert curve[0] < curve[1] < math.inf and curve[2] == math.inf


@pytest.mark.parametrize("rps", [10.0, 50.0, 80.0, 95.0])
def test_more_load_never_lowers_latency(rps: float) -> None:
    low = dk.estimate(dk.template("flash-sale"), scale=rps / 100)
    high = dk.estimate(dk.template("flash-sale"), scale=rps / 100 * 1.1)
    for key, endpoint in low.endpoints.items():
        assert high.endpoints[key].p95_ms >= endpoint.p95_ms * (1 - 1e-9)


@pytest.mark.parametrize("workers", [10, 11, 15, 40])
def test_more_servers_never_raise_latency(workers: int) -> None:
    few = dk.estimate(single_station(workers, 100.0, 90.0)).endpoints["api GET /x"]
    more = dk.estimate(single_station(workers + 1, 100.0, 90.0)).endpoints["api GET /x"]
    assert more.p95_ms <= few.p95_ms


def test_display() -> None:
    e = dk.estimate(single_station(10, 100.0, 90.0))
    assert repr(e) == ("Estimate('station', scale=1, endpoints=1, bottleneck='api workers', "
                       "max_scale=1.11)")
    text = str(e)
    assert text.splitlines()[0] == ("estimate of 'station' at 1× workload (as designed): "
                                    "api workers saturates first at 1.11× this load")
    assert "api GET /x" in text and "90%" in text
    assert "background:#ffbf47" in e._repr_html_()  # 90 % is above the policy's 70 %


def test_curve_keeps_the_scenario() -> None:
    design = dk.Design(name="slow")
    design.external("provider", latency_ms=100.0)
    design.service("api", io="async", workers=1000).endpoint("POST /x").call("provider")
    design.set_load("api POST /x", 10)
    plain = dk.estimate(design).curve([1.0])["api POST /x"][0]
    slow = dk.estimate(design, scenario=dk.Scenario(slow={"provider": 3})).curve([1.0])
    assert slow["api POST /x"][0] == pytest.approx(3 * plain, rel=0.005)


def _message_loop() -> dk.Design:
    design = dk.Design(name="loop")
    design.queue("q", handler="w POST /m")
    design.queue("r", handler="w POST /n")
    worker = design.service("w")
    worker.endpoint("POST /m").publish("r")
    worker.endpoint("POST /n").publish("q")
    design.service("api").endpoint("POST /x").publish("q")
    design.set_load("api POST /x", 1)
    return design


def test_a_message_loop_is_a_located_design_error_at_validation() -> None:
    with pytest.raises(dk.DesignError) as caught:
        _message_loop().validate()  # one check: validate refuses what estimate cannot solve
    assert [str(p) for p in caught.value.problems] == [
        'components.w.endpoints."POST /m".steps[0].publish: messages loop back to their '
        "publisher "
        "(w POST /m → w POST /n → w POST /m): the load of a message loop has no steady "
        "state; break the loop"]


def test_a_message_loop_exits_2_on_the_command_line(tmp_path: object) -> None:
    from pathlib import Path

    from designkit.cli import main

    path = Path(str(tmp_path)) / "loop.yaml"
    dk.save(_message_loop(), path)
    assert main(["estimate", str(path)]) == 2


def test_holds_nested_in_a_cycle_converge() -> None:
    # A lock-order inversion: one endpoint takes a then b, another b then a. The holding
    # times depend on each other; the solver iterates to a fixed point.
    design = dk.Design(name="inversion")
    design.lock("a", acquire_ms=0.1)
    design.lock("b", acquire_ms=0.1)
    svc = design.service("api", workers=50)
    svc.endpoint("POST /ab", cpu_ms=1).lock("a").call("b")  # takes b while holding a
    svc.endpoint("POST /ba", cpu_ms=1).lock("b").call("a")
    design.set_load("api POST /ab", 300)
    design.set_load("api POST /ba", 300)
    from designkit.estimate.program import compile_design
    from designkit.estimate.solve import solve

    solution = solve(compile_design(design), dict(design.workload))
    assert 1 < solution.iterations < 100
    e = dk.estimate(design)
    a, b = e.station("a lock"), e.station("b lock")
    # Half of a's holds wrap a wait for b and b's 0.1 ms; the other half are a's 0.1 ms
    # inside b: a is held 0.1 + (0.1 + wait at b) / 2 on average — and the same for b.
    assert a.wait_ms == pytest.approx(b.wait_ms, rel=1e-6) and 0 < a.wait_ms < 1
    assert a.service_ms == pytest.approx(0.15 + b.wait_ms / 2, rel=1e-6)
    assert a.arrival_rps == pytest.approx(600)
    assert all(math.isfinite(x.p95_ms) for x in e.endpoints.values())


def test_a_large_estimate_shows_its_first_endpoints_and_busiest_stations() -> None:
    design = dk.Design(name="wide")
    api = design.service("api", workers=500, replicas=4)
    for i in range(150):
        design.cache(f"c{i}", service_ms=1.0)
        api.endpoint(f"GET /e{i}", cpu_ms=1).call(f"c{i}")
        design.set_load(f"api GET /e{i}", 1.0 + i)  # c149 is the busiest cache
    e = dk.estimate(design)
    page = e._repr_html_()
    assert page.count("<td style='text-align:left'>api GET /e") == 100
    assert "api GET /e99<" in page and "api GET /e100<" not in page
    assert "Showing the first 100 of 150 endpoints and the 100 busiest of 151 stations" in page
    assert "<td>c149 servers</td>" in page and "<td>c0 servers</td>" not in page
    assert len(e.endpoints._done) == 100  # type: ignore[attr-defined]  # only those shown


@pytest.mark.parametrize("name", ["flash-sale", "dashboard-slow", "payments-saga"])
def test_the_p95_curve_is_an_estimate_at_each_load(name: str) -> None:
    """``Estimate.curve`` solves every load as a column of one solution: the same p95 as
    an estimate at that load (to the last digits: the scale is the scenario's times the
    estimate's, multiplied in another order); past saturation ``inf``."""
    design = dk.template(name)
    scenario = dk.Scenario(scale=1.25, cold_caches=("catalog-cache",)) \
        if name == "flash-sale" else None
    base = dk.estimate(design, scenario=scenario, scale=0.8)
    scales = [0.1, 0.5, 1.0, 1.3, base.max_scale * 1.01, 4.0]
    curve = base.curve(scales)
    for i, scale in enumerate(scales):
        at = dk.estimate(design, scenario=scenario, scale=0.8 * scale)
        for key, values in curve.items():
            e = at.endpoints.get(key)
            assert values[i] == pytest.approx(e.p95_ms if e is not None else math.inf,
                                              rel=1e-12), (key, scale)
    assert any(math.isinf(v) for values in curve.values() for v in values)


def test_the_mean_and_rate_need_no_composing() -> None:
    """An endpoint's rate, mean and errors are known without composing its distribution
    (a 1,000-step chain read to its mean); its percentiles are composed when first read —
    the same numbers as an endpoint composed at once, equal, printed and pickled alike."""
    import pickle

    from designkit.estimate import latency

    design = dk.template("payments-saga")
    composed = 0
    real = latency.endpoint_latency

    def counting(*args: object, **kwargs: object) -> latency.Latency:
        nonlocal composed
        composed += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        from designkit.estimate import api

        patch.setattr(api, "endpoint_latency", counting)
        lazy = dk.estimate(design)
        means = {k: (e.rps, e.mean_ms, e.error_ratio) for k, e in lazy.endpoints.items()}
        assert composed == 0
        p95s = {k: e.p95_ms for k, e in lazy.endpoints.items()}
        assert composed == len(p95s)
    eager = dk.estimate(design).endpoints.fill()  # every entry composed, callees first
    for key, endpoint in eager.items():
        assert (endpoint.rps, endpoint.mean_ms, endpoint.error_ratio) == means[key]
        assert endpoint.p95_ms == p95s[key]
        assert endpoint == lazy.endpoints[key] and repr(endpoint) == repr(lazy.endpoints[key])
        fresh = dk.estimate(design).endpoints[key]
        assert pickle.loads(pickle.dumps(fresh)) == endpoint
        assert fresh.mean_ms == pytest.approx(fresh.dist.mean(), rel=0.05)  # type: ignore[union-attr]


def test_the_capacity_is_searched_once_per_design_and_workload() -> None:
    """The capacity search's answer does not depend on the load scale (only what it is
    divided by): another scale reads it again; another workload searches again."""
    from designkit.estimate import api

    design = single_station(workers=1, cpu_ms=10, rps=50)
    assert dk.estimate(design).max_scale == pytest.approx(2.0, rel=1e-3)  # 100 rps / 50
    program = next(p for p in api.PROGRAMS.programs() if "api GET /x" in p.index)
    assert len(program.limits) == 1
    assert dk.estimate(design, scale=4).max_scale == dk.estimate(design).max_scale / 4
    assert len(program.limits) == 1
    other = dk.estimate(design, workload={"api GET /x": 25})
    assert other.max_scale == pytest.approx(4.0, rel=1e-3) and len(program.limits) == 2


def test_a_deep_copy_leaves_the_flow_kept_for_its_design() -> None:
    """The flow kept for a loaded design names its parts: a deep copy builds its own when
    asked (copying it would cost more), and estimates alike."""
    import copy

    from designkit.model.design import kept

    design = dk.load(dk.dump(dk.template("flash-sale")))  # load keeps the checks' flow
    assert kept(design) is not None
    twin = copy.deepcopy(design)
    assert kept(twin) is None and kept(design) is not None
    assert dk.estimate(twin).endpoints[CHECKOUT_ORDER].p95_ms == \
        dk.estimate(design).endpoints[CHECKOUT_ORDER].p95_ms
    twin.components["checkout-api"].replicas = 3  # type: ignore[union-attr]
    assert dk.estimate(twin).components["checkout-api"].utilization > \
        dk.estimate(design).components["checkout-api"].utilization


CHECKOUT_ORDER = "checkout-api POST /v1/orders"


def test_a_design_checked_in_place_keeps_its_own_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks build the design's flow on the design itself (its sites name its own
    endpoints: the rules read them by identity) and keep it, so the estimate that follows
    does not build it again."""
    from designkit.flow import build as flow_build
    from designkit.model.design import kept

    design = dk.Design(name="own-flow")
    design.service("api", workers=4).endpoint("GET /x", cpu_ms=10).call("db", service_ms=1)
    design.database("db", cores=8)
    design.set_load("api GET /x", 50)
    design.validate()
    flow = kept(design)
    assert flow is not None
    ref, endpoint = next(iter(design.endpoints()))
    assert flow.sites_of(ref)[0].endpoint is endpoint  # type: ignore[attr-defined]

    def no_build(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("built again")

    monkeypatch.setattr(flow_build, "build", no_build)
    assert dk.estimate(design).bottleneck_station == "api workers"


def test_a_lazy_endpoint_composed_on_another_thread_meanwhile_reads_its_fields() -> None:
    """Python asks ``__getattr__`` only when a field is missing; another thread may set it
    in between: what it set is read, not an error."""
    from designkit.estimate.result import EndpointEstimate

    endpoint = dk.estimate(dk.template("flash-sale")).endpoints[CHECKOUT_ORDER]
    p99 = endpoint.p99_ms  # composed (as by the other thread)
    assert EndpointEstimate.__getattr__(endpoint, "p99_ms") == p99
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        EndpointEstimate.__getattr__(endpoint, "nothing")


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_plain_data_put_in_place_of_a_step_is_a_located_problem() -> None:
    """A mapping appended to a list of steps reads as a step in the design's dump, but the
    estimator reads the design itself: a located problem, never a traceback."""
    design = dk.Design(name="raw")
    endpoint = design.service("api").endpoint("GET /a")
    design.database("db")
    endpoint.steps.append({"call": "db", "service_ms": 2})  # type: ignore[arg-type]
    design.set_load("api GET /a", 10)
    assert [p.path for p in design.problems()] == ['components.api.endpoints."GET /a".steps[0]']
    with pytest.raises(dk.DesignError, match=r"steps\[0\]: plain data put here"):
        dk.estimate(design)


def test_searches_side_by_side_find_what_each_finds_alone(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The user-facing and the background capacity searches try their loads as columns
    of one pass: the same capacities and bottlenecks as each search alone, in fewer
    passes."""
    import importlib

    capacity = importlib.import_module("designkit.estimate.capacity")
    from designkit.estimate.background import background_stations
    from designkit.estimate.program import compile_design

    design = dk.template("payments-saga")
    program, load = compile_design(design), design.rates()
    back = background_stations(program, load)
    passes = []
    real = capacity.trials

    def counted(*args: object, **kwargs: object) -> object:
        passes.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(capacity, "trials", counted)
    alone = [capacity.max_scale(program, load, stations=mask) for mask in (~back, back)]
    apart = len(passes)
    passes.clear()
    together = capacity.max_scales(program, load, [~back, back])
    assert len(passes) < 0.75 * apart
    for (cap, worst), (cap_alone, worst_alone) in zip(together, alone, strict=True):
        assert worst == worst_alone and cap == pytest.approx(cap_alone, rel=1e-9)
