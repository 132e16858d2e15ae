"""Honest gates: worst first, undecided checks can fail a gate, waivers count in roll-ups,
CORS patterns and rate limits judged against what the design carries."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from tests.assess.test_capacity import _fewer_workers


def test_the_worst_failure_is_the_first_line() -> None:
    text = str(dk.assess(_fewer_workers())).splitlines()
    assert text[1].startswith("  fail              critical DK-PERF-008 components.checkout-api: "
                              "checkout-api workers saturates at 0.758×")


def test_require_complete_fails_a_gate_on_undecided_checks(tmp_path: Path) -> None:
    # the flash sale fails nothing critical, but leaves critical checks undecided: its
    # password hashing, and the attestations a person must give
    d = dk.template("flash-sale")
    path = tmp_path / "d.yaml"
    path.write_text(dk.dump(d))
    assert not dk.assess(d).failed(at_least="critical")
    undecided = sorted({f.rule for f in dk.assess(d).incomplete(at_least="critical")})
    assert undecided == ["DK-BE-006", "DK-SEC-001", "DK-SEC-002"]
    runner = CliRunner()
    assert runner.invoke(cli, ["assess", str(path), "--fail-on", "critical"]).exit_code == 0
    gated = runner.invoke(cli, ["assess", str(path), "--fail-on", "critical",
                                "--require-complete"])
    assert gated.exit_code == 1
    alone = runner.invoke(cli, ["assess", str(path), "--require-complete"])
    assert alone.exit_code == 2 and "--require-complete needs --fail-on" in alone.output


def test_a_waived_failure_is_waived_in_the_owasp_roll_up() -> None:
    d = dk.template("flash-sale")
    d.security.jwt_algorithm = "HS256"  # DK-SEC-003 fails: A02 fails with it
    a02 = [f for f in dk.assess(d).rule("DK-SEC-009") if f.subject == "owasp.A02"]
    assert a02[0].status is dk.Status.FAIL
    d.waivers.append(dk.Waiver(finding="DK-SEC-003@security.jwt_algorithm",
                               reason="legacy clients until the key rotation", owner="sec"))
    a02 = [f for f in dk.assess(d).rule("DK-SEC-009") if f.subject == "owasp.A02"]
    assert a02[0].status is not dk.Status.FAIL and "waived ×1" in a02[0].message
    audit = [f for f in dk.assess(d, audit=True).rule("DK-SEC-009") if f.subject == "owasp.A02"]
    assert audit[0].status is dk.Status.FAIL


def _cors(*origins: str, credentials: bool) -> dk.Finding:
    d = dk.template("flash-sale")
    d.security.cors = dk.Cors(origins=list(origins), credentials=credentials)
    [found] = dk.assess(d).rule("DK-SEC-005")
    return found


def test_cors_patterns_and_local_origins_with_credentials_fail() -> None:
    pattern = _cors("https://*.example.com", credentials=False)
    assert pattern.status is dk.Status.FAIL and pattern.severity.value == "high"
    assert "a taken-over subdomain included" in pattern.message
    local = _cors("http://localhost:3000", credentials=True)
    assert local.status is dk.Status.FAIL and local.severity.value == "critical"
    assert "any program serving on the user's own machine" in local.message
    plain = _cors("http://shop.example.com", credentials=True)
    assert plain.status is dk.Status.FAIL and "plain-http origin" in plain.message
    assert _cors("https://shop.example.com", credentials=True).status is dk.Status.PASS
    assert _cors("http://localhost:3000", credentials=False).status is dk.Status.PASS


def test_a_global_rate_limit_above_what_the_design_carries_fails() -> None:
    d = dk.template("flash-sale")
    ep = d.components["checkout-api"].endpoints["POST /v1/orders"]  # type: ignore[union-attr]
    e = dk.estimate(d)
    carries = e.endpoints["checkout-api POST /v1/orders"].rps * e.max_scale
    ep.public = True
    ep.rate_limit = dk.RateLimit(rps=1_000_000, per="global")
    [high] = [f for f in dk.assess(d).rule("DK-BE-007") if "POST /v1/orders\"" in f.subject]
    assert high.status is dk.Status.FAIL
    assert "rps per global > the design carries about" in high.message
    assert "it saturates first" in high.message
    assert high.evidence["carries_rps"] == carries
    ep.rate_limit = dk.RateLimit(rps=15_000, per="global")
    [fits] = [f for f in dk.assess(d).rule("DK-BE-007") if "POST /v1/orders\"" in f.subject]
    assert fits.status is dk.Status.PASS


def test_an_attestation_is_dated_with_a_key_every_yaml_reader_reads() -> None:
    text = ("designkit: 1\nname: x\nattestations:\n- rule: DK-SEC-001\n  by: ana\n"
            "  on: 2026-11-01\n  evidence: sqlc generates every query\n")
    d = dk.load(text)  # designkit reads YAML 1.2: `on` is a word
    assert d.attestations[0].date.isoformat() == "2026-11-01"
    assert "  date: '2026-11-01'" in dk.dump(d) and "  on:" not in dk.dump(d)
    import yaml

    old = yaml.safe_load(text)  # a YAML 1.1 reader: the key is the boolean true
    assert True in old["attestations"][0]
    try:
        dk.Design.model_validate(old)
    except ValueError as err:
        assert "the key `on` arrived as the boolean true" in str(err)
        assert "write date: 2026-11-01" in str(err)
    else:
        raise AssertionError("a date key read as true was accepted")


def test_a_check_declared_not_applicable_is_shown_with_its_reason() -> None:
    d = dk.template("flash-sale")
    d.not_applicable.append(dk.NotApplicable(
        finding="DK-SEC-002@security.password_hashing",
        reason="sign-in is delegated to the identity provider", owner="sec"))
    d.not_applicable.append(dk.NotApplicable(finding="DK-XX-001@*", reason="stale",
                                             owner="sec"))
    a = dk.assess(d)
    [hashing] = a.rule("DK-SEC-002")
    assert hashing.status is dk.Status.NOT_APPLICABLE
    assert hashing.waiver == "not applicable: sign-in is delegated to the identity provider — sec"
    assert "DK-SEC-002" not in {f.rule for f in a.incomplete(at_least="critical")}
    text = str(a)
    assert ("not-applicable    critical DK-SEC-002 security.password_hashing: "
            in text) and "[not applicable: sign-in is delegated" in text
    assert "  unused not-applicable DK-XX-001@* (sec): matches no finding" in text
    assert dk.load(dk.dump(d)).not_applicable[0].reason.startswith("sign-in")
    audit = dk.assess(d, audit=True).rule("DK-SEC-002")
    assert audit[0].status is dk.Status.NEEDS_DATA
    markdown = a.to_markdown()
    assert "## Declared not applicable" in markdown
    assert "not applicable: sign-in is delegated to the identity provider — sec" in markdown


def test_a_step_after_the_pivot_that_can_fail_for_good_fails() -> None:
    # confirm (after the charge, the pivot) now calls a carrier's API failing 1 % of
    # attempts: with nothing retrying the step, 1 % of 100 sagas/s stay half-done —
    # 86,400 a day; retried three times, 10⁻⁸ of them (0.086 a day)
    d = dk.template("payments-saga")
    d.external("carrier", latency_ms=20.0, failure_rate=0.01)
    confirm = d.components["orders-svc"].endpoints["POST /v1/orders/{id}/confirm"]  # type: ignore[union-attr]
    confirm.call("carrier")
    [step] = [f for f in dk.assess(d).rule("DK-RES-005") if f.subject == "sagas.place-order.steps[2]"]
    assert step.status is dk.Status.FAIL
    assert ("it fails 1% of runs and nothing retries it (set the step's retries): 86,400 "
            "saga(s) a day stay half-done after the pivot") in step.message
    d.sagas["place-order"].steps[2].retries = dk.Retries(max=3, backoff="exponential")
    [step] = [f for f in dk.assess(d).rule("DK-RES-005") if f.subject == "sagas.place-order.steps[2]"]
    assert step.status is dk.Status.PASS and "0.0864 saga(s) a day" in step.message


def test_a_document_store_is_not_told_to_add_gin_indexes() -> None:
    def shop(engine: str, kind: str) -> dk.Design:
        d = dk.Design(name="docs")
        db = d.database("db", engine=engine)
        db.table("products", rows=10_000).column("id", "uuid", primary_key=True) \
            .column("tags", "text[]").index("tags", kind=kind)
        d.service("api", io="async").endpoint("GET /products").call(
            "db", query={"table": "products", "where": ["tags"]})
        d.set_load("api GET /products", 10)
        return d

    [pg] = dk.assess(shop("postgres", "btree")).rule("DK-DB-002")
    assert pg.status is dk.Status.FAIL and "needs GIN" in pg.message
    [mongo] = dk.assess(shop("mongodb", "btree")).rule("DK-DB-002")
    assert mongo.status is dk.Status.PASS and "GIN" not in mongo.message
    [gin] = dk.assess(shop("mongodb", "gin")).rule("DK-DB-002")
    assert gin.status is dk.Status.FAIL
    assert "mongodb has no GIN; a regular index on an array field is multikey" in gin.message
