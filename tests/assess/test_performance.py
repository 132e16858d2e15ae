"""Performance rules DK-PERF-001 … 007: a failing, a passing and a needs-data design each."""

from __future__ import annotations

import re

import pytest

import designkit as dk
from designkit.assess.finding import Finding
from designkit.assess.rule import Rule
from designkit.assess.rules import performance

FAIL, PASS, NEEDS = dk.Status.FAIL, dk.Status.PASS, dk.Status.NEEDS_DATA


def run(design: dk.Design, rule: Rule, policy: dk.Policy | None = None) -> list[Finding]:
    return dk.assess(design, rules=[rule], policy=policy).rule(rule.id)


def one(design: dk.Design, rule: Rule, subject: str | None = None) -> Finding:
    found = [f for f in run(design, rule) if subject is None or f.subject == subject]
    assert len(found) == 1, found
    return found[0]


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return float(match.group(1).replace(",", ""))


def test_catalogue_metadata() -> None:
    ids = [r.id for r in performance.RULES]
    assert ids == [f"DK-PERF-00{i}" for i in range(1, 10)]
    modes = {r.id: r.mode.value for r in performance.RULES}
    assert modes["DK-PERF-003"] == "estimate" and modes["DK-PERF-005"] == "auto"
    assert all(r.references and r.rationale and r.remediation for r in performance.RULES)


# -- DK-PERF-001 cached reads ------------------------------------------------------------

def cached_read(cpu_ms: float, rps: float | None = 100) -> dk.Design:
    d = dk.Design(name="cached")
    d.cache("c", hit_ratio=0.9, service_ms=0.2, strategy="cache-aside", ttl_s=60,
            invalidation="ttl")
    db = d.database("db", pool_size=10, max_connections=100)
    db.table("items", rows=1000).column("id", "uuid", primary_key=True)
    ep = d.service("api", replicas=2, workers=50).endpoint("GET /items/{id}", cpu_ms=cpu_ms)
    ep.cache("c").call("db", query=dk.Query(table="items", where=["id"]))
    if rps is not None:
        d.set_load("api GET /items/{id}", rps)
    return d


def test_perf001_slow_cached_read_fails_with_its_p95() -> None:
    design = cached_read(cpu_ms=40)
    f = one(design, performance.cached_read_p95)
    p95 = dk.estimate(design).endpoints["api GET /items/{id}"].p95_ms
    assert f.status is FAIL
    assert number(r"p95 ([\d,.]+) ms > 50 ms", f.message) == pytest.approx(p95, rel=0.01)
    assert "c hit ratio 0.9" in f.message and "100 rps" in f.message


def test_perf001_fast_cached_read_passes_and_no_traffic_needs_data() -> None:
    assert one(cached_read(cpu_ms=1), performance.cached_read_p95).status is PASS
    f = one(cached_read(cpu_ms=1, rps=None), performance.cached_read_p95)
    assert f.status is NEEDS and "workload" in f.message


# -- DK-PERF-002 simple seeks ------------------------------------------------------------

def lookup(indexed: bool, rows: int = 3_000_000, growth: float = 20_000) -> dk.Design:
    d = dk.Design(name="seek")
    db = d.database("db", seek_ms=0.5, scan_us_per_row=0.05)
    table = db.table("orders", rows=rows, growth_per_day=growth)
    table.column("id", "uuid", primary_key=True).column("user_id", "uuid")
    if indexed:
        table.index("user_id")
    d.service("api").endpoint("GET /users/{id}/orders").call(
        "db", query=dk.Query(table="orders", where=["user_id"]))
    return d


def test_perf002_scan_fails_with_rows_and_cost_now_and_in_a_year() -> None:
    f = one(lookup(indexed=False), performance.simple_seeks)
    assert f.status is FAIL
    assert "scan of 3,000,000 rows costs 150 ms now" in f.message
    assert "515 ms in 1 year (10,300,000 rows) > 10 ms" in f.message
    assert "a seek on a B-tree over (user_id) would cost 0.5 ms" in f.message
    assert f.evidence["rows_year"] == 10_300_000


def test_perf002_growth_makes_a_cheap_scan_fail_in_a_year() -> None:
    f = one(lookup(indexed=False, rows=100_000, growth=1_000_000), performance.simple_seeks)
    assert f.status is FAIL
    assert "costs 5 ms now, 18,255 ms in 1 year" in f.message


def test_perf002_seek_passes_and_unplanned_call_needs_data() -> None:
    f = one(lookup(indexed=True), performance.simple_seeks)
    assert f.status is PASS and "seek on (user_id)" in f.message and "0.5 ms" in f.message
    d = dk.Design(name="x")
    d.database("db")
    d.service("api").endpoint("GET /x").call("db", service_ms=3)
    f = one(d, performance.simple_seeks)
    assert f.status is NEEDS and "query" in f.message


def test_perf002_dashboard_templates() -> None:
    slow = run(dk.template("dashboard-slow"), performance.simple_seeks)
    scans = [f for f in slow if f.status is FAIL]
    assert len(scans) == 2
    assert all("scan of 2,280,000 rows costs 150 ms now" in f.message for f in scans)
    assert any(f.subject.endswith(".loop.steps[0]") for f in scans)
    fixed = run(dk.template("dashboard-fixed"), performance.simple_seeks)
    assert fixed and all(f.status is PASS for f in fixed)


# -- DK-PERF-003 pools -------------------------------------------------------------------

def pooled(latency_ms: float, rps: float | None = 1500, pool_size: int | None = 40,
           max_connections: int = 300) -> dk.Design:
    d = dk.Design(name="pool")
    tx = d.service("api", replicas=6, workers=200).endpoint("POST /pay").transaction("db")
    tx.call("db", service_ms=1).call("provider")
    d.external("provider", latency_ms=latency_ms)
    fields: dict[str, int] = {"cores": 8, "max_connections": max_connections}
    if pool_size is not None:
        fields["pool_size"] = pool_size
    d.database("db", **fields)
    if rps is not None:
        d.set_load("api POST /pay", rps)
    return d


def test_perf003_exhausted_pool_quotes_littles_law() -> None:
    f = one(pooled(latency_ms=215), performance.pool_sizing)
    assert f.status is FAIL and f.subject == "components.db"
    assert "api pool demand 324 connections > 240 available (6 replicas × 40) at 1,500 rps" \
        in f.message
    assert "1,500/s × 216 ms held" in f.message
    assert f.evidence["pools"]["api"]["demand"] == pytest.approx(324, rel=0.01)


def test_perf003_pool_above_utilization_threshold_fails() -> None:
    f = one(pooled(latency_ms=133), performance.pool_sizing)
    assert f.status is FAIL
    assert "201 connections = 84% of 240 available" in f.message
    assert "above the 80% limit" in f.message


def test_perf003_pools_beyond_max_connections_fail() -> None:
    d = pooled(latency_ms=5, max_connections=200)
    f = one(d, performance.pool_sizing)
    assert f.status is FAIL
    assert "pools 240 connections (api 6 × 40) > max_connections 200" in f.message
    # two client services: their pools add up
    d2 = pooled(latency_ms=5, max_connections=400)
    d2.service("admin", replicas=5).endpoint("GET /r").call("db", service_ms=1)
    d2.set_load("admin GET /r", 10)
    f = one(d2, performance.pool_sizing)
    assert f.status is FAIL
    assert "pools 440 connections (api 6 × 40 + admin 5 × 40) > max_connections 400" \
        in f.message


def test_perf003_payments_monolith_quotes_its_numbers() -> None:
    f = one(dk.template("payments-monolith"), performance.pool_sizing)
    assert f.status is PASS and f.subject == "components.shop-db"
    assert "shop-monolith pool demand 33.9 connections" in f.message
    assert "80 available (8 replicas × 10)" in f.message and "at 1,500 rps" in f.message
    assert "42% in use" in f.message
    assert "pools 80 connections (shop-monolith 8 × 10) ≤ max_connections 100" in f.message


def test_perf003_needs_data_without_sizing_or_workload() -> None:
    f = one(pooled(latency_ms=5, pool_size=None), performance.pool_sizing)
    assert f.status is NEEDS and "pool_size" in f.message
    f = one(pooled(latency_ms=5, rps=None), performance.pool_sizing)
    assert f.status is NEEDS and "no workload" in f.message


# -- DK-PERF-004 background work ---------------------------------------------------------

def slow_endpoint(latency_ms: float, publish: bool = False, rps: float | None = 50
                  ) -> dk.Design:
    d = dk.Design(name="bg")
    d.external("provider", latency_ms=latency_ms)
    d.queue("jobs", handler="worker POST /jobs")
    d.service("worker").endpoint("POST /jobs", cpu_ms=500)
    ep = d.service("api", workers=500).endpoint("POST /reports")
    ep.call("provider")
    if publish:
        ep.publish("jobs")
    if rps is not None:
        d.set_load("api POST /reports", rps)
    return d


def test_perf004_slow_synchronous_endpoint_fails() -> None:
    design = slow_endpoint(300)
    findings = run(design, performance.background_jobs)
    assert [f.subject for f in findings] == ["components.jobs",  # nothing published to it
                                             'components.api.endpoints."POST /reports"']
    assert findings[0].status is NEEDS and "no workload publishes to jobs" in findings[0].message
    f = findings[1]
    p95 = dk.estimate(design).endpoints["api POST /reports"].p95_ms
    assert f.status is FAIL and "nothing is offloaded" in f.message
    assert number(r"p95 ([\d,.]+) ms > 200 ms at 50 rps", f.message) == pytest.approx(
        p95, rel=0.01)


REPORTS = 'components.api.endpoints."POST /reports"'


def test_perf004_fast_passes_slow_fails_even_when_it_publishes_no_traffic_needs_data() -> None:
    assert one(slow_endpoint(20), performance.background_jobs, REPORTS).status is PASS
    # what it publishes is off its path; the 300 ms it spends is on it
    f = one(slow_endpoint(300, publish=True), performance.background_jobs, REPORTS)
    assert f.status is FAIL and "on the request's own path (what it publishes to jobs" \
        in f.message
    f = one(slow_endpoint(300, rps=None), performance.background_jobs, REPORTS)
    assert f.status is NEEDS


def test_perf004_consumers_that_cannot_keep_up_fail_with_the_backlog() -> None:
    # 50 jobs/s of 500 ms on one partition's single consumer: 2 jobs/s done, 48 pile up
    d = slow_endpoint(300, publish=True)
    d.service("worker", workers=64)
    f = one(d, performance.background_jobs, "components.jobs")
    assert f.status is FAIL
    assert "jobs consumers (1 partitions × 1) at 2,500% with 50 msgs/s × 500 ms" in f.message
    assert number(r"backlog grows by ([\d,.]+) msgs/s", f.message) == pytest.approx(48, rel=0.01)
    assert f.evidence["backlog_per_s"] == pytest.approx(48, rel=0.01)


def test_perf004_consumers_that_keep_up_pass_and_idle_ones_fail() -> None:
    d = slow_endpoint(300, publish=True)
    d.queue("jobs", partitions=64, consumers=64)
    d.service("worker", workers=64)
    f = one(d, performance.background_jobs, "components.jobs")
    # 50/s × ~500 ms = 25 of 64 busy: 39 %
    assert f.status is PASS and "jobs consumers (64 partitions × 1) at 39%" in f.message
    assert f.evidence["idle_consumers"] == 0
    d.queue("jobs", partitions=32, consumers=64)  # 32 of them get no partition
    f = one(d, performance.background_jobs, "components.jobs")
    assert f.status is FAIL and "32 of 64 consumers stay idle" in f.message
    d.queue("jobs", ordering="key")  # parallel consumers: 2 per partition
    f = one(d, performance.background_jobs, "components.jobs")
    assert f.status is PASS and "(32 partitions × 2)" in f.message


# -- DK-PERF-005 pagination --------------------------------------------------------------

def listing(**fields: object) -> dk.Design:
    d = dk.Design(name="list")
    svc = d.service("api")
    svc.endpoint("GET /orders", **fields)
    svc.endpoint("GET /orders/{id}")
    return d


def test_perf005_unpaginated_collection_fails_high_offset_low() -> None:
    f = one(listing(collection=True), performance.cursor_pagination)
    assert f.status is FAIL and f.severity is dk.Severity.HIGH
    assert "no pagination" in f.message
    f = one(listing(collection=True, pagination="offset"), performance.cursor_pagination)
    assert f.status is FAIL and f.severity is dk.Severity.LOW and "#160" in f.message


def test_perf005_cursor_passes_offset_passes_under_offset_policy() -> None:
    f = one(listing(collection=True, pagination="cursor"), performance.cursor_pagination)
    assert f.status is PASS
    found = run(listing(collection=True, pagination="offset"), performance.cursor_pagination,
                policy=dk.Policy(pagination="offset"))
    assert [f.status for f in found] == [PASS]


def test_perf005_collection_unknown_needs_data_single_resource_skipped() -> None:
    found = run(listing(), performance.cursor_pagination)
    assert [(f.subject, f.status) for f in found] == [
        ('components.api.endpoints."GET /orders"', NEEDS)]


# -- DK-PERF-006 caching strategy --------------------------------------------------------

def test_perf006_cache_strategy() -> None:
    d = dk.Design(name="c")
    d.cache("bare")
    d.cache("full", strategy="cache-aside", ttl_s=60, invalidation="event on write")
    d.cache("wt", strategy="write-through", ttl_s=600)
    found = {f.subject: f for f in run(d, performance.caching_strategy)}
    bare = found["components.bare"]
    assert bare.status is FAIL and "lacks strategy, ttl_s, invalidation" in bare.message
    assert found["components.full"].status is PASS
    assert "TTL 60 s" in found["components.full"].message
    assert found["components.wt"].status is PASS


# -- DK-PERF-007 compression -------------------------------------------------------------

def test_perf007_compression() -> None:
    d = dk.Design(name="z")
    svc = d.service("api")
    svc.endpoint("GET /big", response_kb=200)
    svc.endpoint("GET /zipped", response_kb=200, compression=["gzip"])
    svc.endpoint("GET /small", response_kb=8)
    svc.endpoint("GET /unknown")
    svc.endpoint("DELETE /x")
    found = {f.subject.split('"')[1]: f for f in run(d, performance.compression)}
    assert set(found) == {"GET /big", "GET /zipped", "GET /small", "GET /unknown"}
    assert found["GET /big"].status is FAIL
    assert "200 KB responses > 64 KB and no gzip/br" in found["GET /big"].message
    assert found["GET /zipped"].status is PASS and "gzip" in found["GET /zipped"].message
    assert found["GET /small"].status is PASS
    assert found["GET /unknown"].status is NEEDS and "response_kb" in found["GET /unknown"].message
