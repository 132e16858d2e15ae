"""Security rules DK-SEC-001 … DK-SEC-009: a failing, a passing and a needs-data design each."""

from __future__ import annotations

import datetime as dt
from typing import Any

import designkit as dk
from designkit.assess.rules import security

TODAY = dt.date(2026, 6, 1)


def shop(**security_fields: Any) -> dk.Design:
    """A small shop: a public JWT API over one database, with the security facts given."""
    design = dk.Design(name="shop", security=dk.Security(**security_fields))
    api = design.service("api", replicas=2, workers=8)
    api.endpoint("GET /items/{id}", cpu_ms=1, public=True, auth={"scheme": "none"}) \
        .call("db", query={"table": "items", "where": ["id"]}, timeout_ms=100)
    api.endpoint("POST /orders", cpu_ms=2, public=True,
                 auth={"scheme": "jwt", "roles": ["buyer"]}) \
        .call("db", query={"table": "orders", "kind": "insert"}, timeout_ms=100)
    db = design.database("db")
    db.table("items", rows=1000).column("id", "uuid", primary_key=True)
    db.table("orders", rows=1000).column("id", "uuid", primary_key=True)
    design.set_load("api GET /items/{id}", 10)
    return design


def run(design: dk.Design, check: dk.Rule, rule_id: str) -> list[dk.Finding]:
    return dk.assess(design, rules=[check], today=TODAY).rule(rule_id)


def statuses(findings: list[dk.Finding]) -> set[str]:
    return {f.status.value for f in findings}


# -- DK-SEC-001 parameterized queries ----------------------------------------------------

def test_sec001_needs_attestation_without_one() -> None:
    [f] = run(shop(), security.parameterized_queries, "DK-SEC-001")
    assert f.status is dk.Status.NEEDS_ATTESTATION
    assert f.subject == "components.db"
    assert "2 statement(s)" in f.message
    assert f.severity is dk.Severity.CRITICAL


def test_sec001_attestation_turns_it_into_a_pass() -> None:
    design = shop()
    design.attestations.append(dk.Attestation(
        rule="DK-SEC-001", by="ana", on=dt.date(2026, 5, 1),
        evidence="sqlc generates every query", expires=dt.date(2027, 5, 1)))
    [f] = run(design, security.parameterized_queries, "DK-SEC-001")
    assert f.status is dk.Status.PASS
    assert "attested by ana" in f.message and "sqlc" in f.message


def test_sec001_expired_attestation_does_not_count() -> None:
    design = shop()
    design.attestations.append(dk.Attestation(
        rule="DK-SEC-001", by="ana", on=dt.date(2024, 1, 1),
        evidence="code review", expires=dt.date(2025, 1, 1)))
    [f] = run(design, security.parameterized_queries, "DK-SEC-001")
    assert f.status is dk.Status.NEEDS_ATTESTATION


# -- DK-SEC-002 password hashing ----------------------------------------------------------

def test_sec002_fails_on_a_fast_hash() -> None:
    [f] = run(shop(password_hashing="sha256"), security.password_hashing, "DK-SEC-002")
    assert f.status is dk.Status.FAIL
    assert "sha256" in f.message and "argon2id" in f.message


def test_sec002_passes_argon2id() -> None:
    [f] = run(shop(password_hashing="argon2id"), security.password_hashing, "DK-SEC-002")
    assert f.status is dk.Status.PASS


def test_sec002_needs_data_when_unset() -> None:
    [f] = run(shop(), security.password_hashing, "DK-SEC-002")
    assert f.status is dk.Status.NEEDS_DATA
    assert "security.password_hashing" in f.message


# -- DK-SEC-003 JWT algorithm -------------------------------------------------------------

def test_sec003_fails_on_hs256() -> None:
    [f] = run(shop(jwt_algorithm="HS256"), security.jwt_algorithm, "DK-SEC-003")
    assert f.status is dk.Status.FAIL
    assert "HS256" in f.message and "RS256" in f.message


def test_sec003_passes_es256() -> None:
    [f] = run(shop(jwt_algorithm="ES256"), security.jwt_algorithm, "DK-SEC-003")
    assert f.status is dk.Status.PASS


def test_sec003_needs_data_when_jwt_endpoints_and_no_algorithm() -> None:
    [f] = run(shop(), security.jwt_algorithm, "DK-SEC-003")
    assert f.status is dk.Status.NEEDS_DATA
    assert "security.jwt_algorithm" in f.message and "1 endpoint(s) take JWTs" in f.message


def test_sec003_not_applicable_without_jwt() -> None:
    design = dk.Design(name="internal")
    design.service("svc").endpoint("POST /jobs", auth={"scheme": "mtls", "roles": ["cron"]})
    [f] = run(design, security.jwt_algorithm, "DK-SEC-003")
    assert f.status is dk.Status.NOT_APPLICABLE


# -- DK-SEC-004 CSRF ----------------------------------------------------------------------

def cookie_shop(**security_fields: Any) -> dk.Design:
    design = shop(**security_fields)
    svc = design.components["api"]
    assert isinstance(svc, dk.Service)
    svc.endpoint("POST /cart", public=True, auth={"scheme": "session", "roles": ["buyer"]})
    return design


def test_sec004_fails_cookie_sessions_without_csrf() -> None:
    [f] = run(cookie_shop(sessions="cookie", csrf=False), security.csrf, "DK-SEC-004")
    assert f.status is dk.Status.FAIL
    assert "1 mutating endpoint(s)" in f.message and "api POST /cart" in f.message


def test_sec004_passes_with_csrf_tokens() -> None:
    [f] = run(cookie_shop(sessions="cookie", csrf=True), security.csrf, "DK-SEC-004")
    assert f.status is dk.Status.PASS


def test_sec004_needs_data() -> None:
    [f] = run(cookie_shop(), security.csrf, "DK-SEC-004")
    assert f.status is dk.Status.NEEDS_DATA and "security.sessions" in f.message
    [f] = run(cookie_shop(sessions="cookie"), security.csrf, "DK-SEC-004")
    assert f.status is dk.Status.NEEDS_DATA and "security.csrf" in f.message


def test_sec004_token_sessions_not_applicable() -> None:
    [f] = run(cookie_shop(sessions="token"), security.csrf, "DK-SEC-004")
    assert f.status is dk.Status.NOT_APPLICABLE


# -- DK-SEC-005 CORS ----------------------------------------------------------------------

def test_sec005_wildcard_fails_high() -> None:
    [f] = run(shop(cors={"origins": ["*"]}), security.strict_cors, "DK-SEC-005")
    assert f.status is dk.Status.FAIL and f.severity is dk.Severity.HIGH
    assert "'*'" in f.message


def test_sec005_wildcard_with_credentials_is_critical() -> None:
    [f] = run(shop(cors={"origins": ["*"], "credentials": True}), security.strict_cors,
              "DK-SEC-005")
    assert f.status is dk.Status.FAIL and f.severity is dk.Severity.CRITICAL
    assert "credentials: true" in f.message


def test_sec005_exact_origins_pass() -> None:
    [f] = run(shop(cors={"origins": ["https://shop.example"], "credentials": True}),
              security.strict_cors, "DK-SEC-005")
    assert f.status is dk.Status.PASS and "https://shop.example" in f.message


def test_sec005_needs_data() -> None:
    [f] = run(shop(), security.strict_cors, "DK-SEC-005")
    assert f.status is dk.Status.NEEDS_DATA and "security.cors" in f.message


# -- DK-SEC-006 RBAC ----------------------------------------------------------------------

def rbac_design(**endpoint: Any) -> dk.Design:
    design = dk.Design(name="admin")
    design.service("admin").endpoint("POST /refunds", **endpoint)
    return design


def test_sec006_fails_without_roles() -> None:
    [f] = run(rbac_design(public=False, auth={"scheme": "jwt"}), security.rbac, "DK-SEC-006")
    assert f.status is dk.Status.FAIL
    assert "admin POST /refunds (jwt) requires no role" in f.message


def test_sec006_fails_internal_without_auth() -> None:
    [f] = run(rbac_design(public=False), security.rbac, "DK-SEC-006")
    assert f.status is dk.Status.FAIL and "declares no auth" in f.message


def test_sec006_passes_with_roles() -> None:
    [f] = run(rbac_design(public=False, auth={"scheme": "jwt", "roles": ["support"]}),
              security.rbac, "DK-SEC-006")
    assert f.status is dk.Status.PASS and "support" in f.message


def test_sec006_needs_data() -> None:
    [f] = run(rbac_design(), security.rbac, "DK-SEC-006")
    assert f.status is dk.Status.NEEDS_DATA and "set public and auth" in f.message


# -- DK-SEC-007 BOLA ----------------------------------------------------------------------

def bola_design(ownership: bool | None) -> dk.Design:
    design = dk.Design(name="orders")
    design.service("api").endpoint("GET /orders/{order_id}", public=True, auth={
        "scheme": "jwt", "roles": ["buyer"], "ownership": ownership})
    return design


def test_sec007_fails_without_ownership_check() -> None:
    [f] = run(bola_design(False), security.object_level_authorization, "DK-SEC-007")
    assert f.status is dk.Status.FAIL and f.severity is dk.Severity.CRITICAL
    assert "{order_id}" in f.message


def test_sec007_passes_with_ownership_check() -> None:
    [f] = run(bola_design(True), security.object_level_authorization, "DK-SEC-007")
    assert f.status is dk.Status.PASS


def test_sec007_needs_data() -> None:
    [f] = run(bola_design(None), security.object_level_authorization, "DK-SEC-007")
    assert f.status is dk.Status.NEEDS_DATA and "auth.ownership" in f.message


def test_sec007_skips_anonymous_catalogue_pages() -> None:
    # GET /items/{id} is public with auth scheme none: nothing to own.
    findings = run(shop(), security.object_level_authorization, "DK-SEC-007")
    assert statuses(findings) == {"not-applicable"}


# -- DK-SEC-008 service-to-service auth ---------------------------------------------------

def s2s_design(auth: dict[str, Any] | None) -> dk.Design:
    design = dk.Design(name="s2s")
    design.service("orders").endpoint("POST /orders", public=True,
                                      auth={"scheme": "jwt", "roles": ["buyer"]}) \
        .call("billing POST /invoices", timeout_ms=200)
    fields: dict[str, Any] = {"public": False}
    if auth is not None:
        fields["auth"] = auth
    design.service("billing").endpoint("POST /invoices", **fields)
    return design


def test_sec008_fails_on_api_key() -> None:
    [f] = run(s2s_design({"scheme": "api-key", "roles": ["orders"]}),
              security.service_to_service_auth, "DK-SEC-008")
    assert f.status is dk.Status.FAIL
    assert "orders POST /orders → billing POST /invoices" in f.message and "api-key" in f.message


def test_sec008_passes_mtls() -> None:
    [f] = run(s2s_design({"scheme": "mtls", "roles": ["orders"]}),
              security.service_to_service_auth, "DK-SEC-008")
    assert f.status is dk.Status.PASS and "mtls" in f.message


def test_sec008_needs_data() -> None:
    [f] = run(s2s_design(None), security.service_to_service_auth, "DK-SEC-008")
    assert f.status is dk.Status.NEEDS_DATA and "auth.scheme" in f.message


def test_sec008_saga_template_passes() -> None:
    findings = run(dk.template("payments-saga"), security.service_to_service_auth,
                   "DK-SEC-008")
    assert findings and statuses(findings) == {"pass"}


# -- DK-SEC-009 OWASP roll-up -------------------------------------------------------------

def test_sec009_rolls_up_failures_per_category() -> None:
    design = shop(jwt_algorithm="HS256", password_hashing="argon2id",
                  cors={"origins": ["https://shop.example"]})
    findings = {f.subject: f for f in run(design, security.owasp_top10, "DK-SEC-009")}
    assert set(findings) == {f"owasp.A{i:02d}" for i in range(1, 11)}
    a02 = findings["owasp.A02"]
    assert a02.status is dk.Status.FAIL
    assert "1 failing" in a02.message and "DK-SEC-003 fail ×1" in a02.message
    assert findings["owasp.A05"].status is dk.Status.PASS
    for uncovered in ("A06", "A08", "A10"):
        assert findings[f"owasp.{uncovered}"].status is dk.Status.NEEDS_ATTESTATION


def test_sec009_passes_when_mapped_rules_pass_and_attests_uncovered() -> None:
    design = shop(jwt_algorithm="ES256", password_hashing="argon2id")
    design.attestations.append(dk.Attestation(
        rule="DK-SEC-009", subject="owasp.A06", by="ana", on=dt.date(2026, 5, 1),
        evidence="Dependabot + Trivy gate in CI"))
    findings = {f.subject: f for f in run(design, security.owasp_top10, "DK-SEC-009")}
    assert findings["owasp.A02"].status is dk.Status.PASS
    assert findings["owasp.A06"].status is dk.Status.PASS
    assert "Trivy" in findings["owasp.A06"].message


def test_sec009_needs_data_when_mapped_rules_need_data() -> None:
    findings = {f.subject: f for f in run(shop(), security.owasp_top10, "DK-SEC-009")}
    assert findings["owasp.A02"].status is dk.Status.NEEDS_DATA
    assert "DK-SEC-002 needs-data ×1" in findings["owasp.A02"].message


def test_rules_list_and_metadata() -> None:
    assert [r.id for r in security.RULES] == [f"DK-SEC-{i:03d}" for i in range(1, 10)]
    assert security.parameterized_queries.mode.value == "attestation"
    assert all(r.references for r in security.RULES)
