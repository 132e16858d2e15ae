"""The assessment engine: rules run, waivers, attestations, severities, reports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest

import designkit as dk
from designkit.assess.context import Context
from designkit.assess.finding import Finding


@dk.rule("DK-BE-901", "Services run two replicas", "high", "auto",
         rationale="One replica is a single point of failure.",
         remediation="Run at least two replicas.")
def two_replicas(ctx: Context) -> Iterator[Finding]:
    for name, service in ctx.design.of_kind("service").items():
        replicas = service.replicas  # type: ignore[union-attr]
        yield ctx.finding(f"components.{name}", replicas >= 2,
                          f"{name} runs {replicas} replica(s)", replicas=replicas)


@dk.rule("DK-SEC-901", "Queries are parameterized", "critical", "attestation",
         rationale="String-built SQL is injectable.", remediation="Use bind parameters.",
         references=[dk.Reference("CWE", "89", "SQL Injection")])
def parameterized(ctx: Context) -> Iterator[Finding]:
    yield ctx.finding("", dk.Status.NEEDS_ATTESTATION, "the model cannot see query code")


@dk.rule("DK-API-901", "Only for designs with a queue", "low", "auto",
         rationale="r", remediation="f",
         applies=lambda ctx: bool(ctx.design.of_kind("queue")))
def queues_only(ctx: Context) -> Iterator[Finding]:
    yield ctx.finding("", True, "checked")


def design(replicas: int = 1, **extra: object) -> dk.Design:
    d = dk.Design(name="shop", **extra)  # type: ignore[arg-type]
    d.service("api", replicas=replicas).endpoint("GET /x", cpu_ms=1)
    d.service("web", replicas=3).endpoint("GET /", cpu_ms=1)
    d.set_load("api GET /x", 10)
    return d


RULES = [two_replicas, parameterized, queues_only]
TODAY = dt.date(2026, 11, 26)


def run(d: dk.Design, **kw: object) -> dk.Assessment:
    return dk.assess(d, rules=RULES, today=TODAY, **kw)  # type: ignore[arg-type]


def test_findings_pass_fail_and_not_applicable() -> None:
    a = run(design())
    [fail] = a.failed()
    assert (fail.rule, fail.subject, fail.message, fail.evidence) == (
        "DK-BE-901", "components.api", "api runs 1 replica(s)", {"replicas": 1})
    assert fail.fingerprint == "DK-BE-901@components.api"
    assert [f.status for f in a.rule("DK-BE-901")] == [dk.Status.FAIL, dk.Status.PASS]
    assert [f.status for f in a.rule("DK-API-901")] == [dk.Status.NOT_APPLICABLE]
    assert [f.status for f in a.rule("DK-SEC-901")] == [dk.Status.NEEDS_ATTESTATION]


def test_a_waiver_accepts_a_finding_and_stays_visible() -> None:
    d = design(waivers=[{"finding": "DK-BE-901@components.*", "reason": "batch job, restarts "
                         "are fine", "owner": "ana", "expires": "2027-01-31"}])
    a = run(d)
    [waived] = [f for f in a.findings if f.status is dk.Status.WAIVED]
    assert waived.waiver == "batch job, restarts are fine — ana, until 2027-01-31"
    assert a.failed() == []
    assert "batch job, restarts are fine" in a.to_markdown()
    assert a.unused_waivers == ()


def test_an_expired_waiver_reopens_the_finding() -> None:
    d = design(waivers=[{"finding": "DK-BE-901@*", "reason": "later", "owner": "ana",
                         "expires": "2026-01-01"}])
    [fail] = run(d).failed()
    assert fail.message == "api runs 1 replica(s) (waiver by ana expired 2026-01-01)"


def test_an_unused_waiver_is_reported() -> None:
    d = design(replicas=2, waivers=[{"finding": "DK-BE-901@components.api", "reason": "x",
                                     "owner": "ana"}])
    a = run(d)
    assert [w.finding for w in a.unused_waivers] == ["DK-BE-901@components.api"]
    assert "unused waiver     DK-BE-901@components.api (ana): matches no finding" in str(a)


def test_audit_ignores_waivers() -> None:
    d = design(waivers=[{"finding": "DK-BE-901@*", "reason": "x", "owner": "ana"}])
    a = run(d, audit=True)
    assert [f.rule for f in a.failed()] == ["DK-BE-901"]
    assert a.unused_waivers == ()


def test_attestation_turns_a_question_into_a_pass_until_it_expires() -> None:
    attestation = {"rule": "DK-SEC-901", "by": "ana", "on": "2026-10-01",
                   "evidence": "sqlc generates every query", "expires": "2027-10-01"}
    [f] = run(design(attestations=[attestation])).rule("DK-SEC-901")
    assert (f.status, f.message) == (dk.Status.PASS, "attested by ana on 2026-10-01: sqlc "
                                                    "generates every query")
    expired = {**attestation, "expires": "2026-11-01"}
    [f] = run(design(attestations=[expired])).rule("DK-SEC-901")
    assert f.status is dk.Status.NEEDS_ATTESTATION


def test_policy_overrides_a_severity() -> None:
    d = design()
    d.policy.severity["DK-BE-901"] = "low"
    [fail] = run(d).failed()
    assert fail.severity is dk.Severity.LOW
    assert run(d).failed(at_least="medium") == []


def test_a_broken_rule_names_itself() -> None:
    @dk.rule("DK-BE-902", "Broken", "low", "auto", rationale="r", remediation="f")
    def broken(ctx: Context) -> Iterator[Finding]:
        raise KeyError("nope")
        yield

    with pytest.raises(dk.DesignkitError, match=r"rule DK-BE-902 \(Broken\) failed: KeyError"):
        dk.assess(design(), rules=[broken])


def test_json_contract() -> None:
    data = json.loads(run(design()).to_json())
    assert set(data) >= {"design", "summary", "findings"}
    finding = next(f for f in data["findings"] if f["status"] == "fail")
    assert set(finding) >= {"rule", "status", "severity", "subject", "message", "fingerprint",
                            "remediation", "references"}
    sql = next(f for f in data["findings"] if f["rule"] == "DK-SEC-901")
    assert sql["references"] == ["CWE 89 (SQL Injection)"]


def test_sarif_levels_rules_and_suppressions() -> None:
    d = design(waivers=[{"finding": "DK-BE-901@*", "reason": "known", "owner": "ana"}])
    sarif = json.loads(run(d).to_sarif())
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["DK-BE-901", "DK-SEC-901", "DK-API-901"]
    assert all(r["helpUri"].startswith("https://") for r in rules)
    [waived] = [r for r in run_["results"] if r["ruleId"] == "DK-BE-901"]
    assert waived["level"] == "error"
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": "known — ana"}]
    [review] = [r for r in run_["results"] if r["ruleId"] == "DK-SEC-901"]
    assert review["kind"] == "review"


def test_junit_parses_with_failures_and_skips() -> None:
    root = ET.fromstring(run(design()).to_junit())
    cases = root.findall(".//testcase")
    assert len(cases) == 4
    failures = root.findall(".//testcase/failure")
    assert [f.get("message") for f in failures] == ["api runs 1 replica(s)"]
    assert len(root.findall(".//testcase/skipped")) == 2  # needs-attestation, n/a


def test_html_groups_by_area_and_colours_failures() -> None:
    html = run(design())._repr_html_()
    assert html.index("backend") < html.index("security")
    assert "color:#d62728" in html  # a high failure


def test_summary_and_repr() -> None:
    a = run(design())
    assert a.summary()["by_status"]["fail"] == 1
    assert repr(a) == "Assessment('shop', rules=3, fail=1, pass=1, needs-data=0, waived=0)"


def test_rules_installed_as_entry_points_join_the_catalogue(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from designkit.assess import catalogue as module

    class Entry:
        def load(self) -> object:
            return [two_replicas]

    def entry_points(group: str) -> list[Entry]:
        return [Entry()] if group == "designkit.rules" else []

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    assert "DK-BE-901" in [r.id for r in module.catalogue()]
    a = dk.assess(design(), today=TODAY)
    assert [f.status for f in a.rule("DK-BE-901")] == [dk.Status.FAIL, dk.Status.PASS]


def test_every_catalogue_rule_has_its_own_tests() -> None:
    from pathlib import Path

    from designkit.assess.catalogue import builtin_rules

    here = Path(__file__).parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in here.glob("test_*.py")
                     if p.name != "test_engine.py")
    missing = [r.id for r in builtin_rules()
               if f'"{r.id}"' not in text and f".{r.check.__name__}" not in text]
    assert missing == []
    # the catalogue (shared/RULES.md), DK-PERF-008/009 (capacity), DK-RES-009 and DK-BE-009
    # (invariants), DK-DB-008 (unique keys of partitioned tables): decisions 49, 52, 53
    assert len(builtin_rules()) == 52
