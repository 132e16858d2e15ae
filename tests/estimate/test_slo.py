"""Service-level objectives per endpoint: targets, the policy's default, attainment."""

from __future__ import annotations

import json

import pytest

import designkit as dk


def paying(slo: dk.Slo | None = None, default: dk.Slo | None = None) -> dk.Design:
    d = dk.Design(name="slo")
    d.external("psp", latency_ms=100.0, failure_rate=0.01)
    api = d.service("api", io="async", workers=100)
    api.endpoint("POST /pay").call("psp")
    api.endpoint("GET /ping", cpu_ms=1.0)
    api.endpoints["POST /pay"].slo = slo
    d.policy.slo = default
    d.set_load("api POST /pay", 10)
    d.set_load("api GET /ping", 10)
    return d


def test_an_endpoint_meets_or_misses_each_part_of_its_objective() -> None:
    # One attempt failing 1 %: availability 99 %, ten times a 99.9 % budget; the p95 of
    # an exponential of 100 ms is 299.6 ms.
    e = dk.estimate(paying(dk.Slo(p95_ms=400, p99_ms=400, availability=0.999)))
    check = e.slos["api POST /pay"]
    assert (check.p95_met, check.p99_met, check.availability_met) == (True, False, False)
    assert not check.met
    assert check.availability == pytest.approx(0.99)
    assert check.error_budget_used == pytest.approx(10.0)
    assert list(e.slos) == ["api POST /pay"]  # GET /ping states none, nor does the policy


def test_the_policy_gives_every_other_endpoint_its_default() -> None:
    e = dk.estimate(paying(dk.Slo(availability=0.98), default=dk.Slo(p95_ms=2.0)))
    assert e.slos["api POST /pay"].met  # its own: 99 % ≥ 98 %
    ping = e.slos["api GET /ping"]
    assert ping.slo == dk.Slo(p95_ms=2.0)
    assert ping.p95_met is False and ping.p95_ms == pytest.approx(e.endpoints[
        "api GET /ping"].p95_ms)


def test_json_and_text_report_the_objectives_only_where_stated() -> None:
    assert "slos" not in dk.estimate(paying()).to_dict()
    e = dk.estimate(paying(dk.Slo(availability=0.999)))
    data = json.loads(e.to_json())
    assert data["slos"]["api POST /pay"] == {
        "target": {"availability": 0.999}, "met": False, "p95_met": None, "p99_met": None,
        "availability": pytest.approx(0.99), "availability_met": False,
        "error_budget_used": pytest.approx(10.0)}
    assert "SLOs: 0 of 1 met\n  api POST /pay: availability 99.0000% < 99.9000% " \
        "(errors 10× its budget)" in str(e)


def test_design_files_state_objectives_and_bad_ones_are_located() -> None:
    text = dk.dump(paying(dk.Slo(p95_ms=250, availability=0.995), default=dk.Slo(p99_ms=900)))
    assert "slo:" in text
    again = dk.load(text)
    assert again.components["api"].endpoints["POST /pay"].slo == dk.Slo(  # type: ignore[union-attr]
        p95_ms=250, availability=0.995)
    assert again.policy.slo == dk.Slo(p99_ms=900)
    schema = dk.json_schema()["$defs"]
    assert set(schema["Slo"]["properties"]) == {"p95_ms", "p99_ms", "availability"}
    with pytest.raises(dk.DesignError, match=r"slo\.availability"):
        dk.load(text.replace("availability: 0.995", "availability: 1.5"))
