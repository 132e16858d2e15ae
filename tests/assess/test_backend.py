"""Backend rules DK-BE-001 … DK-BE-008: a failing, a passing and a needs-data design each."""

from __future__ import annotations

from typing import Any

import pytest

import designkit as dk
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Rule
from designkit.assess.rules import backend

EP = 'components.api.endpoints."POST /v1/orders"'


def run(design: dk.Design, rule: Rule) -> list[Finding]:
    return dk.assess(design, rules=[rule]).rule(rule.id)


def one(design: dk.Design, rule: Rule, subject: str | None = None) -> Finding:
    found = [f for f in run(design, rule) if subject is None or f.subject == subject]
    assert len(found) == 1, found
    return found[0]


def statuses(design: dk.Design, rule: Rule) -> set[Status]:
    return {f.status for f in run(design, rule)}


def shop(**endpoint: Any) -> dk.Design:
    """One service, one POST endpoint writing one row."""
    design = dk.Design(name="shop")
    ep = design.service("api", workers=8).endpoint("POST /v1/orders", cpu_ms=2, **endpoint)
    ep.call("db", query={"table": "orders", "kind": "insert"})
    db = design.database("db")
    db.table("orders", rows=1000).column("id", "uuid", primary_key=True)
    return design


def test_all_rules_registered() -> None:
    assert [r.id for r in backend.RULES] == [f"DK-BE-00{i}" for i in range(1, 9)]
    assert all(r.area == "BE" and r.references for r in backend.RULES
               if r.id != "DK-BE-002")


# -- DK-BE-001 idempotency key ----------------------------------------------------------------


def test_be001_fails_without_key() -> None:
    design = shop()
    design.set_load("api POST /v1/orders", 120)
    f = one(design, backend.idempotency_key)
    assert f.status is Status.FAIL and f.subject == EP
    assert "POST /v1/orders" in f.message and "no idempotency key" in f.message
    assert "120 rps" in f.message and "Zalando rule 230" in f.message


def test_be001_passes_with_key_and_retention() -> None:
    f = one(shop(idempotency_key={"header": "Idempotency-Key", "retention_h": 24}),
            backend.idempotency_key)
    assert f.status is Status.PASS and "24 h" in f.message


def test_be001_needs_retention() -> None:
    f = one(shop(idempotency_key=True), backend.idempotency_key)
    assert f.status is Status.NEEDS_DATA and "retention_h" in f.message


def test_be001_put_exemption_follows_the_policy() -> None:
    design = dk.Design(name="x", policy={"exempt_idempotent_put": True})
    design.service("api").endpoint("PUT /v1/items/{id}")
    assert one(design, backend.idempotency_key).status is Status.PASS
    design.policy.exempt_idempotent_put = False
    assert one(design, backend.idempotency_key).status is Status.FAIL


def test_be001_not_applicable_to_reads() -> None:
    design = dk.Design(name="x")
    design.service("api").endpoint("GET /v1/items")
    assert statuses(design, backend.idempotency_key) == {Status.NOT_APPLICABLE}


# -- DK-BE-002 N+1 -----------------------------------------------------------------------------


def loop_design(batch: int | None = None, query: bool = True) -> dk.Design:
    design = dk.Design(name="n1")
    db = design.database("db", seek_ms=0.5, row_ms=0.02)
    db.table("payments", rows=1_000_000).column("id", "uuid", primary_key=True).column(
        "order_id", "uuid").index("order_id")
    ep = design.service("api").endpoint("GET /v1/orders")
    q = {"table": "payments", "where": ["order_id"]}
    if batch is not None:
        ep.call("db", query={**q, "batch": batch})
    elif query:
        ep.loop(50).call("db", query=q)
    else:
        ep.loop(50).call("db", service_ms=1)
    return design


def test_be002_fails_on_loop_of_single_lookups() -> None:
    f = one(loop_design(), backend.n_plus_one)
    assert f.status is Status.FAIL
    assert f.subject == 'components.api.endpoints."GET /v1/orders".steps[0].loop.steps[0]'
    # 50 seeks of 0.5 ms = 25 ms; one seek returning 50 rows = 0.5 + 49 × 0.02 = 1.48 ms
    assert "loop of 50 × payments seek (0.5 ms) = 25 ms" in f.message
    assert "~1.48 ms" in f.message
    assert f.evidence["total_ms"] == pytest.approx(25.0)
    assert f.evidence["batched_ms"] == pytest.approx(1.48)


def test_be002_passes_batched_query() -> None:
    f = one(loop_design(batch=50), backend.n_plus_one)
    assert f.status is Status.PASS


def test_be002_needs_query_in_loop() -> None:
    f = one(loop_design(query=False), backend.n_plus_one)
    assert f.status is Status.NEEDS_DATA and "query" in f.message


def test_be002_cache_and_service_calls_in_loops() -> None:
    design = dk.Design(name="n1")
    design.cache("c", service_ms=0.2)
    design.service("items").endpoint("GET /v1/items/{id}", cpu_ms=3)
    ep = design.service("api").endpoint("GET /v1/carts/{id}")
    ep.loop(20).call("c", op="GET item").call("items GET /v1/items/{id}")
    design.set_load("api GET /v1/carts/{id}", 1)
    found = run(design, backend.n_plus_one)
    assert [f.status for f in found] == [Status.FAIL, Status.FAIL]
    assert "loop of 20 × c GET item (0.2 ms) = 4 ms" in found[0].message
    assert "20 sequential service calls" in found[1].message


def test_be002_dashboard_templates() -> None:
    slow = [f for f in run(dk.template("dashboard-slow"), backend.n_plus_one) if f.failed]
    assert len(slow) == 1
    assert "loop of 50 × payments scan (150 ms) = 7,524 ms" in slow[0].message
    assert "~150 ms" in slow[0].message
    fixed = run(dk.template("dashboard-fixed"), backend.n_plus_one)
    assert fixed and all(f.status is Status.PASS for f in fixed)


# -- DK-BE-003 input validation ----------------------------------------------------------------


def test_be003_fails_when_validated_nowhere() -> None:
    f = one(shop(request_schema="CreateOrder", validated_at="none"), backend.input_validation)
    assert f.status is Status.FAIL and "validated nowhere" in f.message


def test_be003_passes_with_schema_at_controller() -> None:
    f = one(shop(request_schema="CreateOrder", validated_at="controller"),
            backend.input_validation)
    assert f.status is Status.PASS and "CreateOrder" in f.message


def test_be003_needs_schema_and_validation_point() -> None:
    f = one(shop(), backend.input_validation)
    assert f.status is Status.NEEDS_DATA
    assert "validated_at" in f.message and "request_schema" in f.message


# -- DK-BE-004 status codes and envelope -------------------------------------------------------


def test_be004_fails_without_error_codes_and_with_wrong_envelope() -> None:
    f = one(shop(responses={201: "created"}, envelope="none"), backend.status_codes)
    assert f.status is Status.FAIL
    assert "only [201]" in f.message and "'none'" in f.message
    assert "data-meta-error" in f.message and "RFC 9457" in f.message


def test_be004_passes() -> None:
    f = one(shop(responses={201: "created", 400: "bad", 503: "down"},
                 envelope="data-meta-error"), backend.status_codes)
    assert f.status is Status.PASS and "[400, 503]" in f.message


def test_be004_problem_json_policy() -> None:
    design = shop(responses={201: "created", 422: "bad"}, envelope="data-meta-error")
    design.policy.envelope = "problem-json"
    f = one(design, backend.status_codes)
    assert f.status is Status.FAIL and "RFC 9457 problem+json" in f.message


def test_be004_needs_responses() -> None:
    f = one(shop(envelope="data-meta-error"), backend.status_codes)
    assert f.status is Status.NEEDS_DATA and "responses" in f.message


# -- DK-BE-005 transactions --------------------------------------------------------------------


def two_writes(in_tx: bool) -> dk.Design:
    design = dk.Design(name="tx")
    db = design.database("db")
    for table in ("orders", "order_lines"):
        db.table(table).column("id", "uuid", primary_key=True)
    ep = design.service("api").endpoint("POST /v1/orders", idempotency_key=True)
    target = ep.transaction("db") if in_tx else ep
    target.call("db", query={"table": "orders", "kind": "insert"})
    target.call("db", query={"table": "order_lines", "kind": "insert"}, count=3)
    return design


def test_be005_fails_on_writes_outside_a_transaction() -> None:
    f = one(two_writes(False), backend.transactions)
    assert f.status is Status.FAIL
    assert "4 writes to db" in f.message and "2 outside any transaction" in f.message


def test_be005_passes_inside_one_transaction() -> None:
    f = one(two_writes(True), backend.transactions)
    assert f.status is Status.PASS and "inside one transaction" in f.message


def test_be005_cross_service_writes_need_a_saga() -> None:
    design = two_writes(True)
    design.service("stock").endpoint("POST /v1/reservations")
    design.service("api").endpoints["POST /v1/orders"].call("stock POST /v1/reservations")
    f = one(design, backend.transactions, EP)
    assert f.status is Status.FAIL and "no saga" in f.message
    assert "stock POST /v1/reservations" in f.message
    design.saga("place", steps=[{"name": "reserve", "action": "stock POST /v1/reservations"}])
    assert one(design, backend.transactions, EP).status is Status.PASS


def test_be005_payments_saga_splits_around_the_provider() -> None:
    found = run(dk.template("payments-saga"), backend.transactions)
    assert not [f for f in found if f.failed]
    charge = next(f for f in found if "POST /v1/charges" in f.subject)
    assert "payment-provider" in charge.message


# -- DK-BE-006 secrets -------------------------------------------------------------------------


def users(redact: list[str] | None) -> dk.Design:
    design = dk.Design(name="users")
    db = design.database("db")
    db.table("users").column("id", "uuid", primary_key=True).column(
        "email", sensitive=True).column("password_hash", sensitive=True)
    design.service("api", redact=redact).endpoint("GET /v1/users/{id}").call(
        "db", query={"table": "users", "where": ["id"]})
    return design


def test_be006_fails_on_unredacted_field() -> None:
    f = one(users(["email"]), backend.secrets_redacted)
    assert f.status is Status.FAIL and f.subject == "components.api.redact"
    assert "users.password_hash" in f.message


def test_be006_passes_when_all_redacted() -> None:
    f = one(users(["email", "users.password_hash"]), backend.secrets_redacted)
    assert f.status is Status.PASS


def test_be006_needs_redact_list() -> None:
    f = one(users(None), backend.secrets_redacted)
    assert f.status is Status.NEEDS_DATA and "redact" in f.message


def test_be006_without_sensitive_fields_needs_attestation() -> None:
    design = shop()
    f = one(design, backend.secrets_redacted)
    assert f.status is Status.NEEDS_ATTESTATION
    design.attestations.append(dk.Attestation(rule="DK-BE-006", by="ana", on="2026-01-05",
                                              evidence="log scrubber review #12"))
    assert one(design, backend.secrets_redacted).status is Status.PASS


# -- DK-BE-007 rate limiting -------------------------------------------------------------------


def test_be007_fails_public_without_limit() -> None:
    design = shop(public=True)
    design.set_load("api POST /v1/orders", 300)
    f = one(design, backend.rate_limiting)
    assert f.status is Status.FAIL and "300 rps" in f.message and "no rate limit" in f.message


def test_be007_passes_with_limit() -> None:
    f = one(shop(public=True, rate_limit={"rps": 5, "per": "user", "burst": 10}),
            backend.rate_limiting)
    assert f.status is Status.PASS and "5 rps per user" in f.message


def test_be007_needs_public_flag() -> None:
    f = one(shop(), backend.rate_limiting)
    assert f.status is Status.NEEDS_DATA and "public" in f.message


def test_be007_internal_only_is_not_applicable() -> None:
    assert statuses(shop(public=False), backend.rate_limiting) == {Status.NOT_APPLICABLE}


# -- DK-BE-008 graceful shutdown ---------------------------------------------------------------


def shutdown(drain: float | None, ack: str | None = "after-commit") -> dk.Design:
    design = dk.Design(name="sd")
    svc = design.service("api", drain_timeout_ms=drain)
    svc.endpoint("GET /v1/a", timeout_ms=2000)
    svc.endpoint("POST /v1/events", timeout_ms=30000)
    design.queue("events", handler="api POST /v1/events", ack=ack)
    return design


def test_be008_fails_on_short_drain_and_early_ack() -> None:
    found = {f.subject: f for f in run(shutdown(10000, "before-processing"),
                                       backend.graceful_shutdown)}
    drain = found["components.api.drain_timeout_ms"]
    assert drain.status is Status.FAIL
    assert "10,000 ms" in drain.message and "30,000 ms" in drain.message
    ack = found["components.events.ack"]
    assert ack.status is Status.FAIL and "before-processing" in ack.message


def test_be008_passes() -> None:
    found = run(shutdown(30000), backend.graceful_shutdown)
    assert {f.status for f in found} == {Status.PASS}
    assert "30,000 ms" in found[0].message


def test_be008_needs_drain_and_ack() -> None:
    found = run(shutdown(None, None), backend.graceful_shutdown)
    assert [f.status for f in found] == [Status.NEEDS_DATA, Status.NEEDS_DATA]
    assert "drain_timeout_ms" in found[0].message and "ack" in found[1].message
