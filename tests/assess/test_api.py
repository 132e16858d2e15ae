"""API rules DK-API-001 … DK-API-008: a failing, a passing and a needs-data design each."""

from __future__ import annotations

from typing import Any

import designkit as dk
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Rule, Severity
from designkit.assess.rules import api


def run(design: dk.Design, rule: Rule) -> list[Finding]:
    return dk.assess(design, rules=[rule]).rule(rule.id)


def one(design: dk.Design, rule: Rule, subject: str | None = None) -> Finding:
    found = [f for f in run(design, rule) if subject is None or f.subject == subject]
    assert len(found) == 1, found
    return found[0]


def endpoint(key: str, **fields: Any) -> dk.Design:
    design = dk.Design(name="api")
    design.service("api").endpoint(key, **fields)
    return design


def test_all_rules_registered() -> None:
    assert [r.id for r in api.RULES] == [f"DK-API-00{i}" for i in range(1, 9)]
    assert all(r.area == "API" and r.references for r in api.RULES)
    assert api.hypermedia.mode.value == "attestation"


# -- DK-API-001 routing ------------------------------------------------------------------------


def test_api001_fails_on_verbs_singulars_and_nesting() -> None:
    f = one(endpoint("POST /v1/createOrder"), api.resource_routing)
    assert f.status is Status.FAIL and "'createOrder' is a verb" in f.message
    f = one(endpoint("POST /v1/orders/{id}/cancel"), api.resource_routing)
    assert f.status is Status.FAIL and "'cancel' is a verb" in f.message
    f = one(endpoint("GET /v1/order/{id}"), api.resource_routing)
    assert f.status is Status.FAIL and "'order' is singular" in f.message
    f = one(endpoint("GET /a/{a}/bs/{b}/cs/{c}/ds/{d}/es"), api.resource_routing)
    assert f.status is Status.FAIL and "4 sub-resource levels" in f.message


def test_api001_fails_on_get_with_side_effects() -> None:
    design = endpoint("GET /v1/orders/{id}")
    design.service("api").endpoints["GET /v1/orders/{id}"].call(
        "db", query={"table": "views", "kind": "insert"})
    design.database("db").table("views").column("id", primary_key=True)
    f = one(design, api.resource_routing)
    assert f.status is Status.FAIL and "insert on db.views" in f.message


def test_api001_passes() -> None:
    f = one(endpoint("GET /v1/orders/{id}/lines", collection=True), api.resource_routing)
    assert f.status is Status.PASS and "1 sub-resource level" in f.message


# -- DK-API-002 envelope -----------------------------------------------------------------------


def two_endpoints(first: str | None, second: str | None) -> dk.Design:
    design = dk.Design(name="env")
    svc = design.service("api")
    svc.endpoint("GET /v1/orders", envelope=first)
    svc.endpoint("GET /v1/items", envelope=second)
    return design


def test_api002_fails_on_mixed_envelopes() -> None:
    f = one(two_endpoints("data-meta-error", "problem-json"), api.consistent_envelope)
    assert f.status is Status.FAIL and f.subject == "components.api.endpoints"
    assert "GET /v1/items (problem-json)" in f.message
    assert "data-meta-error ×1, problem-json ×1" in f.message
    assert "RFC 9457" in f.message  # says which standard it applies


def test_api002_passes() -> None:
    f = one(two_endpoints("data-meta-error", "data-meta-error"), api.consistent_envelope)
    assert f.status is Status.PASS and "all 2" in f.message


def test_api002_needs_envelope() -> None:
    f = one(two_endpoints("data-meta-error", None), api.consistent_envelope)
    assert f.status is Status.NEEDS_DATA and "GET /v1/items" in f.message


# -- DK-API-003 GraphQL ------------------------------------------------------------------------


def graphql(batched: bool | None) -> dk.Design:
    return endpoint("POST /graphql", resolvers={
        "Order.lines": {"returns_list": True, "batched": batched},
        "Order.customer": {"returns_list": False}})


def test_api003_fails_on_unbatched_list_resolver() -> None:
    found = {f.subject.split(".")[-1].strip('"'): f for f in run(graphql(False),
                                                                 api.graphql_batching)}
    assert found["lines"].status is Status.FAIL and "N+1" in found["lines"].message
    assert found["customer"].status is Status.PASS


def test_api003_passes_batched() -> None:
    assert {f.status for f in run(graphql(True), api.graphql_batching)} == {Status.PASS}


def test_api003_needs_batched_flag() -> None:
    assert Status.NEEDS_DATA in {f.status for f in run(graphql(None), api.graphql_batching)}


def test_api003_applies_only_with_resolvers() -> None:
    assert [f.status for f in run(endpoint("GET /v1/orders"), api.graphql_batching)] == [
        Status.NOT_APPLICABLE]


# -- DK-API-004 HATEOAS ------------------------------------------------------------------------


def test_api004_pagination_links_and_attestation() -> None:
    found = run(endpoint("GET /v1/orders", collection=True, pagination="cursor"),
                api.hypermedia)
    assert [f.status for f in found] == [Status.PASS, Status.NEEDS_ATTESTATION]
    design = endpoint("GET /v1/orders", collection=True, pagination="cursor")
    design.attestations.append(dk.Attestation(rule="DK-API-004", by="ana", on="2026-01-05",
                                              evidence="links reviewed in API review #4"))
    assert {f.status for f in run(design, api.hypermedia)} == {Status.PASS}


def test_api004_needs_pagination() -> None:
    found = run(endpoint("GET /v1/orders", collection=True), api.hypermedia)
    assert found[0].status is Status.NEEDS_DATA and "pagination" in found[0].message


def test_api004_is_an_info_attestation_rule() -> None:
    assert api.hypermedia.severity is Severity.INFO


# -- DK-API-005 versioning ---------------------------------------------------------------------


def test_api005_fails_on_mixed_strategies() -> None:
    f = one(endpoint("GET /v1/orders", versioning="header"), api.versioning)
    assert f.status is Status.FAIL
    assert "header, not uri" in f.message and "/v1" in f.message
    assert "Zalando rule 115" in f.message  # the policy (uri) is applied, Zalando disagrees
    f = one(endpoint("GET /orders", versioning="none"), api.versioning)
    assert f.status is Status.FAIL and "no versioning strategy" in f.message
    f = one(endpoint("GET /orders", versioning="uri"), api.versioning)
    assert f.status is Status.FAIL and "no /vN segment" in f.message


def test_api005_passes() -> None:
    f = one(endpoint("GET /v2/orders", versioning="uri"), api.versioning)
    assert f.status is Status.PASS and "/v2" in f.message
    design = endpoint("GET /orders", versioning="media-type")
    design.policy.versioning = "media-type"
    assert one(design, api.versioning).status is Status.PASS


def test_api005_needs_strategy() -> None:
    f = one(endpoint("GET /orders"), api.versioning)
    assert f.status is Status.NEEDS_DATA and "versioning" in f.message


# -- DK-API-006 trace propagation --------------------------------------------------------------


def traced(front: bool | None, back: bool | None) -> dk.Design:
    design = dk.Design(name="trace")
    design.service("back", tracing=back).endpoint("GET /v1/items")
    design.service("front", tracing=front).endpoint("GET /v1/pages").call(
        "back GET /v1/items").publish("events")
    design.queue("events")
    return design


def test_api006_fails_when_a_service_drops_context() -> None:
    found = {f.subject: f for f in run(traced(True, False), api.trace_propagation)}
    back = found["components.back.tracing"]
    assert back.status is Status.FAIL and "is called by front GET /v1/pages" in back.message
    assert found["components.front.tracing"].status is Status.PASS
    assert "2 edge(s)" in found["components.front.tracing"].message


def test_api006_passes() -> None:
    assert {f.status for f in run(traced(True, True), api.trace_propagation)} == {Status.PASS}


def test_api006_needs_tracing_flag() -> None:
    f = one(traced(True, None), api.trace_propagation, "components.back.tracing")
    assert f.status is Status.NEEDS_DATA and "tracing" in f.message


# -- DK-API-007 circuit breaker ----------------------------------------------------------------


def provider(breaker: bool | None) -> dk.Design:
    design = dk.Design(name="cb")
    fields: dict[str, Any] = {"latency_ms": 200.0, "timeout_ms": 5000,
                              "retries": {"max": 2, "backoff": "exponential", "jitter": True}}
    if breaker is not None:
        fields["circuit_breaker"] = breaker
    design.external("psp", **fields)
    design.service("api").endpoint("POST /v1/payments", idempotency_key=True).call(
        "psp", op="GET /v1/status")
    return design


def test_api007_fails_without_breaker() -> None:
    f = one(provider(None), api.circuit_breaker)
    assert f.status is Status.FAIL
    assert "5,000 ms × 3 attempt(s) = 15,000 ms" in f.message


def test_api007_passes_with_breaker() -> None:
    f = one(provider(True), api.circuit_breaker)
    assert f.status is Status.PASS and "50%" in f.message


def test_api007_payments_templates() -> None:
    saga = run(dk.template("payments-saga"), api.circuit_breaker)
    assert saga and all(f.status is Status.PASS for f in saga)
    monolith = [f for f in run(dk.template("payments-monolith"), api.circuit_breaker)
                if f.failed]
    assert monolith and "payment-provider" in monolith[0].message
    assert "30,000 ms × 4 attempt(s)" in monolith[0].message


# -- DK-API-008 retries ------------------------------------------------------------------------


def retried(retries: dict[str, Any], key: bool = True, rps: float | None = 10) -> dk.Design:
    design = dk.Design(name="retry")
    design.service("stock", workers=4).endpoint("POST /v1/reservations", cpu_ms=5,
                                                idempotency_key=key)
    design.service("api", io="async", workers=100).endpoint("POST /v1/orders").call(
        "stock POST /v1/reservations", timeout_ms=300, retries=retries)
    if rps is not None:
        design.set_load("api POST /v1/orders", rps)
    return design


GOOD = {"max": 2, "backoff": "exponential", "base_ms": 50, "jitter": True, "budget": 0.1}


def test_api008_fails_without_backoff_and_jitter() -> None:
    f = one(retried({"max": 3, "backoff": "none"}), api.retry_backoff)
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
    assert "retried 3×" in f.message and "'none', not exponential" in f.message
    assert "no jitter" in f.message


def test_api008_non_idempotent_retry_is_high() -> None:
    f = one(retried(GOOD, key=False), api.retry_backoff)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert "without an idempotency key" in f.message and "non-idempotent" in f.message


def test_api008_retry_amplification_from_the_estimate() -> None:
    # 4 workers × 5 ms: 800/s at most; 300/s now (37.5 %), × 3 attempts = 112.5 %.
    f = one(retried(GOOD, rps=300), api.retry_backoff)
    assert f.status is Status.FAIL
    assert "stock workers would run at 112%" in f.message and "now 38%" in f.message


def test_api008_passes() -> None:
    f = one(retried(GOOD), api.retry_backoff)
    assert f.status is Status.PASS
    assert "exponential backoff from 50 ms and jitter, budget 10%" in f.message
    assert f.evidence["utilization_retrying"] > f.evidence["utilization_now"]


def test_api008_needs_workload_for_amplification() -> None:
    f = one(retried(GOOD, rps=None), api.retry_backoff)
    assert f.status is Status.NEEDS_DATA and "workload" in f.message


def test_api008_payments_templates() -> None:
    monolith = [f for f in run(dk.template("payments-monolith"), api.retry_backoff)
                if f.failed]
    assert len(monolith) == 1 and monolith[0].severity is Severity.HIGH
    assert "retried 3×" in monolith[0].message and "no idempotency key" in monolith[0].message
    saga = run(dk.template("payments-saga"), api.retry_backoff)
    assert not [f for f in saga if f.failed]
    # the provider calls say they forward the key (idempotency_key: true): nothing to attest
    assert {f.status for f in saga} == {Status.PASS}
    d = dk.template("payments-saga")
    charge = d.endpoint("payments-svc POST /v1/charges").steps[1]
    charge.idempotency_key = None  # type: ignore[union-attr]
    attest = [f for f in run(d, api.retry_backoff) if f.status is Status.NEEDS_ATTESTATION]
    assert [f.subject for f in attest] == [
        'components.payments-svc.endpoints."POST /v1/charges".steps[1]']
    charge.idempotency_key = False  # type: ignore[union-attr]
    [failed] = [f for f in run(d, api.retry_backoff) if f.failed]
    assert "forwards no idempotency key" in failed.message
