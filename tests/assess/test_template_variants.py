"""Designs a senior reviewer rejects on sight, each a template with one line broken: the
review fails the right rule, at high or critical, quoting the numbers; the template as
shipped does not fail that rule. (Gates — waivers, not-applicable, CORS, rate limits,
outboxes, attestations — are in test_gates.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import designkit as dk
from designkit.flow.plan import plan_query
from designkit.model.steps import CallStep, ParallelStep

Variant = Callable[[dk.Design], None]


def _fewer_workers(d: dk.Design) -> None:
    d.components["checkout-api"].replicas = 2  # type: ignore[union-attr]
    d.components["checkout-api"].workers = 14  # type: ignore[union-attr]


def _fewer_cores(d: dk.Design) -> None:
    d.components["orders-db"].cores = 12  # type: ignore[union-attr]


def _slow_fraud_call(d: dk.Design) -> None:
    d.external("fraud", latency_ms={"mean": 350.0, "scv": 0.0}, timeout_ms=1000,
               circuit_breaker=True)
    d.endpoint("checkout-api POST /v1/orders").steps.insert(0, CallStep(call="fraud"))


def _get_then_set(d: dk.Design) -> None:
    steps = d.endpoint("checkout-api POST /v1/orders").steps
    steps[1] = CallStep(call="stock-cache", op="GET stock:{sku}", service_ms=0.02)
    steps.insert(2, CallStep(call="stock-cache", op="SET stock:{sku} {n}", service_ms=0.02))


def _evictable_authority(d: dk.Design) -> None:
    cache = d.components["stock-cache"]
    cache.eviction, cache.strategy = "allkeys-lru", "cache-aside"  # type: ignore[union-attr]


def _redis_read_postgres_write(d: dk.Design) -> None:
    steps = d.endpoint("checkout-api POST /v1/orders").steps
    steps[1] = CallStep(call="stock-cache", op="GET stock:{sku}", service_ms=0.02)
    steps[3].steps.insert(0, CallStep(call="orders-db", query=dk.Query(  # type: ignore[union-attr]
        table="stock", kind="update", where=["sku_id"])))


def _select_then_update(d: dk.Design) -> None:
    tx = d.endpoint("checkout-api POST /v1/orders-locked").steps[2]
    tx.steps[0:1] = tx.steps[0].steps  # type: ignore[union-attr]  # the lock taken out
    tx.steps[0].query.for_update = False  # type: ignore[union-attr]
    tx.steps[1].query.atomic = None  # type: ignore[union-attr]
    d.workload["checkout-api POST /v1/orders-locked"] = 100


def _query_count_50(d: dk.Design) -> None:
    step = d.endpoint("dashboard-api GET /v1/dashboard").steps[2]
    step.query.batch, step.count = 1, 50  # type: ignore[union-attr]


def _parallel_20(d: dk.Design) -> None:
    steps = d.endpoint("dashboard-api GET /v1/dashboard").steps
    one = steps[2].model_copy(update={"query": steps[2].query.model_copy(  # type: ignore
        update={"batch": 1})})
    steps[2] = ParallelStep(parallel=[[one.model_copy()] for _ in range(20)])


def _hash_index_for_a_range(d: dk.Design) -> None:
    for index in d.components["app-db"].tables["payments"].indexes:  # type: ignore[union-attr]
        if index.columns == ["merchant_id", "created_at"]:
            index.kind = "hash"


def _unique_key_without_the_partition_key(d: dk.Design) -> None:
    d.components["orders-db"].tables["orders"].index(  # type: ignore[union-attr]
        "user_id", "idempotency_key", unique=True)


def _foreign_key_to_part_of_a_key(d: dk.Design) -> None:
    items = d.components["orders-db"].tables["order_items"]  # type: ignore[union-attr]
    items.columns["order_id"].references = "orders.id"  # orders' key is (id, created_at)


def _charge_without_a_key(d: dk.Design) -> None:
    d.endpoint("payments-svc POST /v1/charges").steps[1].idempotency_key = None  # type: ignore


VARIANTS: list[tuple[str, str, Variant, str, str]] = [
    # (template, name, variant, rule, a number the message must quote)
    ("flash-sale", "workers cut", _fewer_workers, "DK-PERF-008", r"saturates at 0\.758×"),
    ("flash-sale", "cores cut", _fewer_cores, "DK-PERF-008", r"0\.75× the workload \(133% busy\)"),
    ("flash-sale", "350 ms fraud call", _slow_fraud_call, "DK-PERF-008", r"saturates at 0\.362×"),
    ("flash-sale", "GET then SET", _get_then_set, "DK-RES-007", r"[\d,]+ updates/s lost"),
    ("flash-sale", "evictable authority", _evictable_authority, "DK-RES-009",
     r"eviction allkeys-lru"),
    ("flash-sale", "read Redis, write Postgres", _redis_read_postgres_write, "DK-RES-007",
     r"across stores .* [\d,]+ updates/s lost"),
    ("flash-sale", "select then update", _select_then_update, "DK-RES-007",
     r"at 100 requests/s .* updates/s lost"),
    ("dashboard-fixed", "query count 50", _query_count_50, "DK-BE-002",
     r"50 queries per request"),
    ("dashboard-fixed", "20 parallel queries", _parallel_20, "DK-BE-002",
     r"20 parallel branches .* 20 queries per request"),
    ("dashboard-fixed", "hash index for a range", _hash_index_for_a_range, "DK-PERF-002",
     r"scan of 2,280,000 rows costs 150 ms .*\(hash \(merchant_id, created_at\) serves only"),
    ("flash-sale", "unique key on a partitioned table", _unique_key_without_the_partition_key,
     "DK-DB-008", r"unique index \(user_id, idempotency_key\) lacks .* created_at"),
    ("flash-sale", "foreign key to part of a partitioned key", _foreign_key_to_part_of_a_key,
     "DK-DB-008", r"order_items\.order_id → orders\.id has no unique key to point at"),
    ("payments-saga", "charge without a key", _charge_without_a_key, "DK-BE-009",
     r"[\d.]+ of [\d,]+ calls/s are sent again"),
]


@pytest.mark.parametrize(("template", "variant", "rule", "number"),
                         [(t, v, r, n) for t, _, v, r, n in VARIANTS],
                         ids=[name for _, name, *_ in VARIANTS])
def test_a_broken_line_fails_the_right_rule_with_its_numbers(
        template: str, variant: Variant, rule: str, number: str) -> None:
    shipped = dk.assess(dk.template(template))
    assert not [f for f in shipped.failed() if f.rule == rule]
    d = dk.template(template)
    variant(d)
    failed = [f for f in dk.assess(d).failed(at_least="high") if f.rule == rule]
    assert failed, f"{rule} does not fail"
    assert any(re.search(number, f.message) for f in failed), [f.message for f in failed]


def test_an_aggregate_reads_the_rows_it_sums_and_never_more_than_a_scan() -> None:
    d = dk.template("dashboard-fixed")
    db = d.components["app-db"]
    assert isinstance(db, dk.Database)
    revenue = d.endpoint("dashboard-api GET /v1/dashboard").steps[3].on_miss[0]  # type: ignore
    assert isinstance(revenue, CallStep) and revenue.query is not None
    plan = plan_query(db, revenue.query)
    # one merchant's 30 days: a seek, then 119 more rows at 0.02 ms
    assert (plan.access, plan.rows_visited, plan.ms) == ("seek", 120, pytest.approx(2.88))
    everyone = revenue.query.model_copy(update={"rows": 200_000})
    plan = plan_query(db, everyone)
    # 0.5 + 199,999 × 0.02 = 4,000 ms by index; the scan reads 2.28 M rows at 0.066 µs
    assert plan.access == "scan"
    assert plan.ms == pytest.approx(2_280_000 * float(db.scan_us_per_row) / 1000)
    assert plan.reason == ("scan cheaper than reading 200,000 rows by index "
                           "(merchant_id, created_at)")
