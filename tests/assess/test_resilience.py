"""Resilience rules DK-RES-001 … DK-RES-008: a failing, a passing and a needs-data design each,
and the stories the templates tell."""

from __future__ import annotations

from typing import Any

import pytest

import designkit as dk
from designkit.assess.rules import invariants, resilience


def run(design: dk.Design, check: dk.Rule, rule_id: str) -> list[dk.Finding]:
    return dk.assess(design, rules=[check]).rule(rule_id)


def statuses(findings: list[dk.Finding]) -> set[str]:
    return {f.status.value for f in findings}


def only(findings: list[dk.Finding], status: str) -> list[dk.Finding]:
    return [f for f in findings if f.status.value == status]


# -- DK-RES-001 data size in one year -----------------------------------------------------

def growing(indexed: bool, rows: int | None = 1_000_000,
            growth: float | None = 10_000) -> dk.Design:
    design = dk.Design(name="events")
    design.service("api", workers=16).endpoint("GET /events", cpu_ms=1, timeout_ms=1000) \
        .call("db", query={"table": "events", "where": ["user_id"], "limit": 20})
    table = design.database("db", scan_us_per_row=0.05).table(
        "events", rows=rows, growth_per_day=growth)
    table.column("id", "uuid", primary_key=True).column("user_id", "uuid")
    if indexed:
        table.index("user_id")
    design.set_load("api GET /events", 1)
    return design


def test_res001_fails_when_a_scan_outgrows_the_budget() -> None:
    [f] = run(growing(indexed=False), resilience.data_size_one_year, "DK-RES-001")
    assert f.status is dk.Status.FAIL
    # 1,000,000 + 10,000 × 365 = 4,650,000 rows × 0.05 µs = 232.5 ms > 200 ms
    assert "4,650,000" in f.message and "232 ms" in f.message
    assert f.evidence["rows_then"] == 4_650_000


def test_res001_passes_when_indexed() -> None:
    [f] = run(growing(indexed=True), resilience.data_size_one_year, "DK-RES-001")
    assert f.status is dk.Status.PASS and "4,650,000" in f.message


def test_res001_needs_data_without_sizes() -> None:
    [f] = run(growing(indexed=True, rows=None, growth=None), resilience.data_size_one_year,
              "DK-RES-001")
    assert f.status is dk.Status.NEEDS_DATA and "growth_per_day" in f.message


# -- DK-RES-002 cache loss ----------------------------------------------------------------

def cached(cores: int, load: float = 1000) -> dk.Design:
    design = dk.Design(name="catalog")
    design.service("api", replicas=4, workers=64, io="async") \
        .endpoint("GET /items/{id}", cpu_ms=0.5) \
        .cache("item-cache", hit_ratio=0.95) \
        .call("db", query={"table": "items", "where": ["id"]})
    design.cache("item-cache", hit_ratio=0.95, servers=2)
    design.database("db", cores=cores, seek_ms=1.0, pool_size=50, max_connections=400) \
        .table("items", rows=100_000).column("id", "uuid", primary_key=True)
    if load:
        design.set_load("api GET /items/{id}", load)
    return design


def test_res002_fails_when_the_database_saturates_cold() -> None:
    [f] = run(cached(cores=1), resilience.cache_loss, "DK-RES-002")
    assert f.status is dk.Status.FAIL
    # 50 misses/s × 1 ms = 5% warm; 1,000/s × 1 ms = 100% cold.
    assert "db cpu 5% →" in f.message and "with the cache cold" in f.message
    assert "saturated" in f.message
    assert f.evidence["utilization_cold"] >= 1


def test_res002_passes_when_the_database_carries_the_cold_load() -> None:
    [f] = run(cached(cores=4), resilience.cache_loss, "DK-RES-002")
    assert f.status is dk.Status.PASS
    assert "db cpu 1% → 25% with the cache cold" in f.message


def test_res002_needs_data_without_workload() -> None:
    [f] = run(cached(cores=4, load=0), resilience.cache_loss, "DK-RES-002")
    assert f.status is dk.Status.NEEDS_DATA and "workload" in f.message


def test_res002_not_applicable_without_caches() -> None:
    [f] = run(dk.template("payments-monolith"), resilience.cache_loss, "DK-RES-002")
    assert f.status is dk.Status.NOT_APPLICABLE


# -- DK-RES-003 transaction across a remote call ------------------------------------------

def tx_design(inside: bool) -> dk.Design:
    design = dk.Design(name="pay")
    ep = design.service("api", replicas=2, workers=64).endpoint("POST /pay", cpu_ms=1,
                                                               timeout_ms=5000)
    tx = ep.transaction("db")
    tx.call("db", query={"table": "payments", "kind": "insert"})
    (tx if inside else ep).call("psp", timeout_ms=2000)
    design.external("psp", latency_ms=200.0, timeout_ms=2000)
    design.database("db", pool_size=20).table("payments", rows=1000) \
        .column("id", "uuid", primary_key=True)
    design.set_load("api POST /pay", 50)
    return design


def test_res003_fails_and_quotes_the_pool_demand() -> None:
    [f] = run(tx_design(inside=True), resilience.transaction_remote_call, "DK-RES-003")
    assert f.status is dk.Status.FAIL
    # 50/s × 200 ms = 10 connections held by the call alone, of 2 × 20 = 40.
    assert "psp (third party, mean 200 ms)" in f.message
    assert "≈ 10 connections" in f.message and "of 40" in f.message
    assert f.evidence["pool"] == "db pool api"


def test_res003_passes_with_the_call_outside() -> None:
    [f] = run(tx_design(inside=False), resilience.transaction_remote_call, "DK-RES-003")
    assert f.status is dk.Status.PASS


def test_res003_payments_monolith_fails_and_saga_passes() -> None:
    mono = run(dk.template("payments-monolith"), resilience.transaction_remote_call,
               "DK-RES-003")
    [bad] = only(mono, "fail")
    assert "POST /v1/orders/{id}/pay" in bad.subject
    assert "payment-provider" in bad.message and "of 80" in bad.message
    saga = run(dk.template("payments-saga"), resilience.transaction_remote_call, "DK-RES-003")
    assert saga and statuses(saga) == {"pass"}


# -- DK-RES-004 timeouts ------------------------------------------------------------------

def timeout_design(step_timeout: float | None, endpoint_timeout: float | None,
                   retries: dict[str, Any] | None = None) -> dk.Design:
    design = dk.Design(name="t")
    fields: dict[str, Any] = {"cpu_ms": 1}
    if endpoint_timeout is not None:
        fields["timeout_ms"] = endpoint_timeout
    design.service("api").endpoint("POST /x", **fields) \
        .call("psp", timeout_ms=step_timeout, retries=retries)
    design.external("psp", latency_ms=100.0)
    return design


def test_res004_fails_without_timeout() -> None:
    [f] = run(timeout_design(None, 5000), resilience.remote_call_timeouts, "DK-RES-004")
    assert f.status is dk.Status.FAIL and "no timeout" in f.message


def test_res004_fails_when_attempts_exceed_the_caller() -> None:
    [f] = run(timeout_design(3000, 5000, {"max": 2}), resilience.remote_call_timeouts,
              "DK-RES-004")
    assert f.status is dk.Status.FAIL
    assert "3 × 3,000 ms = 9,000 ms > the endpoint's own 5,000 ms" in f.message


def test_res004_passes() -> None:
    [f] = run(timeout_design(1000, 5000), resilience.remote_call_timeouts, "DK-RES-004")
    assert f.status is dk.Status.PASS


def test_res004_needs_data_without_the_callers_timeout() -> None:
    [f] = run(timeout_design(1000, None), resilience.remote_call_timeouts, "DK-RES-004")
    assert f.status is dk.Status.NEEDS_DATA and "timeout_ms" in f.message


def test_res004_monolith_provider_budget_exceeds_the_pay_timeout() -> None:
    findings = run(dk.template("payments-monolith"), resilience.remote_call_timeouts,
                   "DK-RES-004")
    [bad] = only(findings, "fail")
    assert "4 × 30,000 ms = 120,000 ms > the endpoint's own 60,000 ms" in bad.message


# -- DK-RES-005 sagas ---------------------------------------------------------------------

def saga_design(compensate: bool, idempotent: bool, outbox: bool) -> dk.Design:
    design = dk.Design(name="saga")
    stock = design.service("stock")
    stock.endpoint("POST /reservations", idempotency_key=True)
    stock.endpoint("POST /releases", idempotency_key=True if idempotent else None)
    pay = design.service("pay")
    pay.endpoint("POST /charges", idempotency_key=True) \
        .transaction("db").call("db", query={"table": "charges", "kind": "insert"}) \
        .publish("events", outbox=outbox)
    design.queue("events")
    design.database("db").table("charges", rows=10).column("id", "uuid", primary_key=True)
    design.database("db").table("outbox", rows=10)
    saga = design.saga("order")
    saga.step("reserve", "stock POST /reservations",
              compensation="stock POST /releases" if compensate else None)
    saga.step("charge", "pay POST /charges", pivot=True)
    return design


def test_res005_fails_without_compensation() -> None:
    findings = run(saga_design(False, True, True), resilience.saga_compensations, "DK-RES-005")
    [bad] = only(findings, "fail")
    assert bad.subject == "sagas.order.steps[0]"
    assert "order.reserve runs before the pivot and has no compensation" in bad.message


def test_res005_fails_on_a_non_idempotent_compensation() -> None:
    findings = run(saga_design(True, False, True), resilience.saga_compensations, "DK-RES-005")
    [bad] = only(findings, "fail")
    assert "stock POST /releases (POST without an idempotency key)" in bad.message


def test_res005_fails_on_publish_inside_a_transaction_without_outbox() -> None:
    findings = run(saga_design(True, True, False), resilience.saga_compensations, "DK-RES-005")
    [bad] = only(findings, "fail")
    assert "publishes to events inside the transaction without an outbox" in bad.message


def test_res005_passes() -> None:
    findings = run(saga_design(True, True, True), resilience.saga_compensations, "DK-RES-005")
    assert statuses(findings) == {"pass"}


def test_res005_payments_saga_passes() -> None:
    findings = run(dk.template("payments-saga"), resilience.saga_compensations, "DK-RES-005")
    assert len(findings) == 6 and statuses(findings) == {"pass"}


# -- DK-RES-006 lock contention -----------------------------------------------------------

def locked(rate: float) -> dk.Design:
    design = dk.Design(name="lock")
    design.service("api", replicas=4, workers=64, io="async") \
        .endpoint("POST /buy", cpu_ms=0.5) \
        .lock("row-lock").call("db", service_ms=4.0)
    design.lock("row-lock")
    design.database("db", cores=8)
    if rate:
        design.set_load("api POST /buy", rate)
    return design


def test_res006_fails_near_one_over_hold_time() -> None:
    [f] = run(locked(230), resilience.lock_contention, "DK-RES-006")
    assert f.status is dk.Status.FAIL
    # 230/s × 4 ms = 92% busy; max 1 / 4 ms = 250/s.
    assert "row-lock held 4 ms at 230/s: 92% busy, max 250/s" in f.message


def test_res006_passes_at_low_rate() -> None:
    [f] = run(locked(50), resilience.lock_contention, "DK-RES-006")
    assert f.status is dk.Status.PASS and "20% busy" in f.message


def test_res006_needs_data_without_load() -> None:
    [f] = run(locked(0), resilience.lock_contention, "DK-RES-006")
    assert f.status is dk.Status.NEEDS_DATA and "api POST /buy" in f.message


def test_res006_flash_sale_locked_variant_saturates() -> None:
    [f] = run(dk.template("flash-sale"), resilience.lock_contention, "DK-RES-006")
    assert f.status is dk.Status.FAIL
    assert "checkout-api POST /v1/orders's 10,000/s onto checkout-api POST /v1/orders-locked" \
        in f.message
    assert "sku-lock held" in f.message and "saturated" in f.message
    assert f.evidence["max_rps"] == pytest.approx(1000 / f.evidence["hold_ms"])
    assert f.evidence["max_rps"] == pytest.approx(277.78, rel=1e-3)  # 1 / 3.6 ms (template)


# -- DK-RES-007 oversell / lost update ----------------------------------------------------

def rmw(atomic: bool | None, under_lock: bool = False) -> dk.Design:
    design = dk.Design(name="stock")
    ep = design.service("api").endpoint("POST /buy")
    body: Any = ep.transaction("db")
    if under_lock:
        body = body.lock("sku-lock")
        design.lock("sku-lock")
    body.call("db", query={"table": "stock", "kind": "select", "where": ["sku"]})
    body.call("db", query={"table": "stock", "kind": "update", "where": ["sku"],
                           "atomic": atomic})
    design.database("db").table("stock", rows=100).column("sku", "uuid", primary_key=True)
    return design


def test_res007_fails_on_read_modify_write() -> None:
    [f] = run(rmw(False), invariants.lost_update, "DK-RES-007")
    assert f.status is dk.Status.FAIL and f.severity is dk.Severity.CRITICAL
    assert "update of db.stock" in f.message and "oversell" in f.message


def test_res007_passes_atomic_or_locked() -> None:
    [f] = run(rmw(True), invariants.lost_update, "DK-RES-007")
    assert f.status is dk.Status.PASS and "atomic" in f.message
    [f] = run(rmw(False, under_lock=True), invariants.lost_update, "DK-RES-007")
    assert f.status is dk.Status.PASS and "sku-lock" in f.message


def test_res007_fails_when_atomic_is_unstated() -> None:
    # unknown is not safe for a critical correctness rule: it fails, saying how to state it
    [f] = run(rmw(None), invariants.lost_update, "DK-RES-007")
    assert f.status is dk.Status.FAIL and "say query.atomic: true" in f.message


def test_res007_flash_sale_locked_variant_is_safe() -> None:
    findings = run(dk.template("flash-sale"), invariants.lost_update, "DK-RES-007")
    assert statuses(findings) == {"pass"}


# -- DK-RES-008 retry storms --------------------------------------------------------------

def storm(**external: Any) -> dk.Design:
    design = dk.Design(name="storm")
    design.external("p", latency_ms=50.0, concurrency=10, timeout_ms=500, **external)
    design.service("api", io="async", workers=500).endpoint("POST /x", timeout_ms=5000) \
        .call("p")
    design.set_load("api POST /x", 150)
    return design


def test_res008_fails_when_retries_saturate_the_target() -> None:
    [f] = run(storm(retries={"max": 2}, circuit_breaker=True), resilience.retry_storms,
              "DK-RES-008")
    assert f.status is dk.Status.FAIL
    # 150/s × 50 ms / 10 = 75% now; × 3 attempts = 225%.
    assert "p concurrency 75% now, 225% if every call used all 3 attempts" in f.message
    assert f.evidence["utilization_retrying"] == pytest.approx(2.25, rel=0.01)


def test_res008_fails_without_budget_or_breaker() -> None:
    findings = run(dk.template("payments-monolith"), resilience.retry_storms, "DK-RES-008")
    [bad] = only(findings, "fail")
    assert "3 retries with no retry budget and no circuit breaker" in bad.message
    assert "16% now, 64%" in bad.message


def test_res008_passes_with_a_budget() -> None:
    [f] = run(storm(retries={"max": 2, "budget": 0.1}, circuit_breaker=True),
              resilience.retry_storms, "DK-RES-008")
    assert f.status is dk.Status.PASS
    assert "the 10% retry budget caps it at" in f.message


def test_res008_payments_saga_passes() -> None:
    findings = run(dk.template("payments-saga"), resilience.retry_storms, "DK-RES-008")
    assert len(findings) == 4 and statuses(findings) == {"pass"}


def test_rules_list() -> None:
    assert [r.id for r in resilience.RULES] == [f"DK-RES-{i:03d}" for i in (1, 2, 3, 4, 5, 6, 8)]
    assert [r.id for r in invariants.RULES] == ["DK-RES-007", "DK-RES-009", "DK-BE-009"]
