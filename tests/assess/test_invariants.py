"""Correctness invariants: a value's changes are safe against concurrent requests
(DK-RES-007), its authority keeps it (DK-RES-009), a once-only effect carries an idempotency
key (DK-BE-009). Each variant of a template breaks one line and fails the right rule."""

from __future__ import annotations

import math

import pytest

import designkit as dk
from designkit.assess.finding import Finding
from designkit.model.effects import cache_access, query_effect
from designkit.model.steps import CallStep


def _findings(design: dk.Design, rule: str) -> list[Finding]:
    return [f for f in dk.assess(design).findings if f.rule == rule]


def _failed(design: dk.Design, rule: str) -> list[Finding]:
    return [f for f in _findings(design, rule) if f.status.value == "fail"]


def _checkout(design: dk.Design) -> list:
    return design.endpoint("checkout-api POST /v1/orders").steps


# -- effects ---------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "effect", "key"), [
    ("GET stock:{sku}", "read", "stock:{sku}"),
    ("get stock:{SKU}", "read", "stock:{sku}"),
    ("SET stock:{sku} 10", "write", "stock:{sku}"),
    ("SET idem:{k} NX EX 60", "claim", "idem:{k}"),
    ("SETNX lock:{sku} 1", "claim", "lock:{sku}"),
    ("DECR stock:{sku}", "atomic", "stock:{sku}"),
    ("HINCRBY cart:{id} qty -1", "atomic", "cart:{id}"),
    ("EVAL 'take.lua' 1 stock:{sku}", "atomic", None),
    ("WATCH stock:{sku}", "watch", "stock:{sku}"),
    ("cas stock:{sku} 0 0 2 77", "versioned-write", "stock:{sku}"),
    ("add seat:{id} 0 0 1", "claim", "seat:{id}"),
    ("take one from the stock", None, "one"),
    (None, None, None),
])
def test_a_cache_op_says_its_effect(op: str | None, effect: str | None,
                                    key: str | None) -> None:
    access = cache_access(op)
    assert (access.effect, access.key) == (effect, key)


def test_does_states_an_effect_the_op_cannot() -> None:
    assert cache_access("take one from the stock", "atomic").effect == "atomic"


def test_a_query_says_its_effect() -> None:
    d = dk.template("flash-sale")
    db = d.components["orders-db"]
    assert isinstance(db, dk.Database)
    db.tables["stock"].version_column = "version"
    cases = [
        ({"kind": "select", "where": ["sku_id"]}, "read"),
        ({"kind": "select", "where": ["sku_id"], "for_update": True}, "locking-read"),
        ({"kind": "update", "where": ["sku_id"]}, "write"),
        ({"kind": "update", "where": ["sku_id"], "atomic": True}, "atomic"),
        ({"kind": "update", "where": ["sku_id", "version"]}, "versioned-write"),
        ({"kind": "insert"}, "create"),
    ]
    for fields, effect in cases:
        assert query_effect(dk.Query(table="stock", **fields), db) == effect, fields


# -- the model -------------------------------------------------------------------------

def test_an_invariant_names_a_value_or_an_effect_not_both() -> None:
    with pytest.raises(ValueError, match="one of the two"):
        dk.Invariant(authority="stock-cache", charged_by="psp")
    with pytest.raises(ValueError, match="one of the two"):
        dk.Invariant(says="nothing")


def test_an_invariant_names_stores_that_exist() -> None:
    d = dk.template("flash-sale")
    d.invariants["a"] = dk.Invariant(authority="stok-cache")
    d.invariants["b"] = dk.Invariant(authority="orders-db.stok")
    d.invariants["c"] = dk.Invariant(authority="orders-db.stock.availble")
    d.invariants["d"] = dk.Invariant(authority="order-events")
    d.invariants["e"] = dk.Invariant(authority="stock-cache.stock")
    d.invariants["f"] = dk.Invariant(charged_by="psp")
    assert [str(p) for p in d.problems()] == [
        "invariants.a.authority: unknown component 'stok-cache' (did you mean "
        "'stock-cache' or 'catalog-cache'?)",
        "invariants.b.authority: database 'orders-db' has no table 'stok' (did you mean "
        "'stock'?)",
        "invariants.c.authority: table orders-db.stock has no column 'availble' (did you "
        "mean 'available'?)",
        "invariants.d.authority: a value lives in a cache or a database; 'order-events' is "
        "a queue",
        "invariants.e.authority: 'stock-cache' is a cache: name it alone, and its keys with "
        "key: (stock:{sku})",
        "invariants.f.charged_by: unknown component 'psp'",
    ]


def test_the_templates_state_their_invariants() -> None:
    assert sorted(dk.template("flash-sale").invariants) == ["no-oversell",
                                                            "one-order-per-request"]
    assert sorted(dk.template("payments-saga").invariants) == ["no-double-charge",
                                                               "no-oversell"]
    assert sorted(dk.template("payments-monolith").invariants) == ["no-double-charge",
                                                                   "no-oversell"]


# -- DK-RES-007: read-then-write ---------------------------------------------------------

def _race_design(op: str = "SET stock:{sku} {n}") -> dk.Design:
    d = dk.Design(name="race")
    api = d.service("api", replicas=1, workers=50)
    api.endpoint("POST /take", cpu_ms=0).call("kv", op="GET stock:{sku}").call("kv", op=op)
    d.cache("kv", servers=1, service_ms=1.0)
    d.set_load("api POST /take", 100)
    return d


def test_a_race_is_counted_from_the_window_between_read_and_write() -> None:
    # two visits of an M/M/1 cache (1 ms) at 100 requests/s: ρ = 0.2, each visit
    # 1 + 0.2/0.8 = 1.25 ms, the window 2.5 ms; P(race) = 1 − e^(−100 × 0.0025)
    [found] = _failed(_race_design(), "DK-RES-007")
    assert found.severity.value == "critical"
    assert found.evidence["window_ms"] == pytest.approx(2.5, rel=1e-9)
    assert found.evidence["racing"] == pytest.approx(1 - math.exp(-0.25), rel=1e-9)
    assert found.evidence["lost_per_s"] == pytest.approx(100 * (1 - math.exp(-0.25)))
    assert found.message == (
        "api POST /take: SET stock:{sku} {n} on kv writes back a value read by GET "
        "stock:{sku} on kv with no lock, atomic operation, conditional update or version "
        "check: at 100 requests/s on one key and 2.5 ms from read to write, 22% of requests "
        "race another — up to 22.1 updates/s lost (oversold)")


@pytest.mark.parametrize("op", ["DECR stock:{sku}", "SET other:{sku} 1", "SET stock:{sku} 1 NX"])
def test_an_atomic_or_unrelated_write_does_not_race(op: str) -> None:
    assert not _failed(_race_design(op), "DK-RES-007")


def test_watch_guards_a_read_then_write() -> None:
    d = _race_design()
    d.endpoint("api POST /take").steps.insert(0, CallStep(call="kv", op="WATCH stock:{sku}"))
    d.endpoint("api POST /take").steps.pop(1)  # WATCH, then the write (in MULTI/EXEC)
    assert not _failed(d, "DK-RES-007")
    assert "WATCH stock:{sku} makes the write fail" in _findings(d, "DK-RES-007")[0].message


def test_flash_sale_get_then_set_of_the_stock_fails_with_the_lost_updates() -> None:
    d = dk.template("flash-sale")
    steps = _checkout(d)
    steps[1] = CallStep(call="stock-cache", op="GET stock:{sku}", service_ms=0.02,
                        timeout_ms=50)
    steps.insert(2, CallStep(call="stock-cache", op="SET stock:{sku} {left}", service_ms=0.02,
                             timeout_ms=50))
    [found] = _failed(d, "DK-RES-007")
    assert found.severity.value == "critical"
    assert "(the value of no-oversell)" in found.message
    assert found.evidence["rate"] == pytest.approx(10_000)
    assert found.evidence["lost_per_s"] > 5_000
    assert "updates/s lost (oversold)" in found.message


def test_reading_redis_and_writing_postgres_races_across_stores() -> None:
    d = dk.template("flash-sale")
    steps = _checkout(d)
    steps[1] = CallStep(call="stock-cache", op="GET stock:{sku}", service_ms=0.02,
                        timeout_ms=50)
    steps[3].steps.insert(0, CallStep(call="orders-db", timeout_ms=200, query=dk.Query(
        table="stock", kind="update", where=["sku_id"], atomic=False)))
    [found] = _failed(d, "DK-RES-007")
    assert "read by GET stock:{sku} on stock-cache across stores" in found.message
    assert found.evidence["rate"] == pytest.approx(10_000)


def _unlocked(design: dk.Design, **select: object) -> dk.Design:
    """The locked checkout with its lock taken out, carrying the checkout's load."""
    ep = design.endpoint("checkout-api POST /v1/orders-locked")
    tx = ep.steps[2]
    tx.steps[0:1] = tx.steps[0].steps
    for key, value in select.items():
        setattr(tx.steps[0].query, key, value)
    design.workload["checkout-api POST /v1/orders-locked"] = 100
    return design


def test_select_then_update_without_a_lock_fails_even_when_atomic_is_unstated() -> None:
    d = _unlocked(dk.template("flash-sale"), for_update=False)
    d.endpoint("checkout-api POST /v1/orders-locked").steps[2].steps[1].query.atomic = None
    [found] = _failed(d, "DK-RES-007")
    assert found.severity.value == "critical"
    assert found.message.endswith("; if the statement changes the value in place (SET n = "
                                  "n - 1 WHERE n >= 1), say query.atomic: true")


def test_select_for_update_in_the_same_transaction_guards_the_write() -> None:
    d = _unlocked(dk.template("flash-sale"))  # the template's select is FOR UPDATE
    assert not _failed(d, "DK-RES-007")
    ok = [f for f in _findings(d, "DK-RES-007") if "FOR UPDATE" in f.message]
    assert len(ok) == 1


def test_for_update_outside_a_transaction_guards_nothing() -> None:
    # in autocommit the row lock ends with the select's own statement
    d = _unlocked(dk.template("flash-sale"))
    ep = d.endpoint("checkout-api POST /v1/orders-locked")
    ep.steps[2:3] = ep.steps[2].steps  # the transaction's steps, each on its own
    [found] = _failed(d, "DK-RES-007")
    assert "read by select of orders-db.stock" in found.message


def test_a_version_check_guards_the_write() -> None:
    d = _unlocked(dk.template("flash-sale"), for_update=False)
    db = d.components["orders-db"]
    assert isinstance(db, dk.Database)
    db.tables["stock"].version_column = "version"
    update = d.endpoint("checkout-api POST /v1/orders-locked").steps[2].steps[1].query
    assert _failed(d, "DK-RES-007")  # a version column the update does not test: no guard
    update.where = ["sku_id", "version"]
    assert not _failed(d, "DK-RES-007")


def test_the_templates_keep_their_values() -> None:
    for name in ("flash-sale", "payments-saga", "payments-monolith"):
        assert not _failed(dk.template(name), "DK-RES-007"), name
        assert not _failed(dk.template(name), "DK-RES-009"), name


# -- DK-RES-009: the authority keeps the value -------------------------------------------

@pytest.mark.parametrize(("fields", "reason"), [
    ({"eviction": "allkeys-lru"}, "eviction allkeys-lru drops keys"),
    ({"strategy": "cache-aside"}, "a cache-aside cache holds copies"),
    ({"persistence": "none"}, "persistence none: a restart loses every value"),
    ({"persistence": "snapshot"}, "a restart returns to the last snapshot"),
    ({"engine": "memcached"}, "Memcached keeps nothing on disk"),
])
def test_an_authority_that_can_lose_the_value_fails(fields: dict[str, str],
                                                    reason: str) -> None:
    d = dk.template("flash-sale")
    cache = d.components["stock-cache"]
    for key, value in fields.items():
        setattr(cache, key, value)
    [found] = _failed(d, "DK-RES-009")
    assert found.severity.value == "critical" and reason in found.message
    assert found.subject == "invariants.no-oversell.authority"


def test_an_authority_with_aof_loses_at_most_a_second_of_changes() -> None:
    [found] = [f for f in _findings(dk.template("flash-sale"), "DK-RES-009")
               if f.subject == "invariants.no-oversell.authority"]
    assert found.status.value == "pass"
    assert found.evidence["changes_per_s"] == pytest.approx(10_000)
    assert found.evidence["lost_changes"] == pytest.approx(10_000)


def test_an_authority_with_unstated_persistence_needs_data() -> None:
    d = dk.template("flash-sale")
    d.components["stock-cache"].persistence = None
    found = [f for f in _findings(d, "DK-RES-009") if f.status.value == "needs-data"]
    assert [f.subject for f in found] == ["invariants.no-oversell.authority"]


# -- DK-BE-009: once-only effects --------------------------------------------------------

def test_the_saga_forwards_its_key_to_the_provider() -> None:
    found = _findings(dk.template("payments-saga"), "DK-BE-009")
    assert [f.status.value for f in found] == ["pass", "pass"]


def test_a_charge_without_a_key_fails_with_the_repeated_calls() -> None:
    # 100 charges/s, 1 % of attempts fail, 3 retries: attempts − 1 = 0.01 + 0.01² + 0.01³
    [found] = _failed(dk.template("payments-monolith"), "DK-BE-009")
    assert found.severity.value == "critical"
    assert found.evidence["repeated_per_s"] == pytest.approx(100 * (0.01 + 1e-4 + 1e-6))
    assert "has no idempotency key either" in found.message


def test_dropping_the_forwarded_key_fails_the_saga() -> None:
    d = dk.template("payments-saga")
    charge = d.endpoint("payments-svc POST /v1/charges").steps[1]
    assert isinstance(charge, CallStep)
    charge.idempotency_key = None
    [found] = _failed(d, "DK-BE-009")
    assert found.subject.endswith('"POST /v1/charges".steps[1]')


def test_an_endpoint_that_charges_needs_its_own_key_and_its_callers_forward_one() -> None:
    d = dk.template("payments-saga")
    d.invariants["no-double-charge"].charged_by = "payments-svc POST /v1/charges"
    [call] = _failed(d, "DK-BE-009")  # the orchestrator does not say it forwards its key
    assert call.subject.startswith('components.orders-svc.endpoints."POST /v1/order-sagas"')
    [step] = [s for s in d.endpoint("orders-svc POST /v1/order-sagas").steps
              if isinstance(s, CallStep) and s.call == "payments-svc POST /v1/charges"]
    step.idempotency_key = True
    assert not _failed(d, "DK-BE-009")
    d.endpoint("payments-svc POST /v1/charges").idempotency_key = None
    [own] = _failed(d, "DK-BE-009")
    assert own.subject == 'components.payments-svc.endpoints."POST /v1/charges"'
