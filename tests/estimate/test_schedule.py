"""Scheduled jobs: a workload source of their own, counted as background work."""

from __future__ import annotations

import pytest
import yaml

import designkit as dk
from designkit.estimate.background import background_stations
from designkit.estimate.program import compile_design
from designkit.model.summary import summary_line, summary_text

JOB = "reports POST /nightly"


def design() -> dk.Design:
    d = dk.Design(name="jobs")
    d.database("db", cores=2)
    d.service("reports", workers=4).endpoint("POST /nightly", cpu_ms=20_000.0) \
        .call("db", service_ms=5.0)
    d.service("api", workers=32).endpoint("GET /x", cpu_ms=2.0).call("db", service_ms=1.0)
    d.set_load("api GET /x", 100)
    d.set_schedule(JOB, every_s=120, runs=4)  # four 20 s reports in 2 min: 0.67 workers busy
    return d


def test_a_schedule_adds_its_rate_to_the_load() -> None:
    d = design()
    assert d.rates() == {"api GET /x": 100.0, JOB: pytest.approx(4 / 120)}
    e = dk.estimate(d)
    assert e.endpoints[JOB].rps == pytest.approx(4 / 120)
    assert e.station("reports workers").busy == pytest.approx(4 / 120 * 20.005, rel=1e-3)
    assert e.station("db cpu").busy == pytest.approx(100 * 0.001 + 4 / 120 * 0.005, rel=1e-9)
    text = dk.dump(d)
    assert "schedule:\n  reports POST /nightly: {every_s: 120, runs: 4}" in text
    assert dk.load(yaml.safe_load(text)).schedule == d.schedule
    shown = summary_text(d)
    assert "  schedule\n    reports POST /nightly: 4 every 120 s" in shown
    assert summary_line(d).endswith("100 rps")  # 100 + 0.033


def test_a_scheduled_job_is_background_work() -> None:
    d = design()
    program = compile_design(d)
    mask = background_stations(program, d.rates())
    assert {s.id for s, bg in zip(program.stations, mask, strict=True) if bg} == {
        "reports workers", "db pool reports"}
    # the job's own station saturating is a lag, not the users' capacity
    d.set_schedule(JOB, every_s=10, runs=2)  # 4 s of work a second on 4 workers: 100 %
    e = dk.estimate(d)
    assert e.background is not None and e.background.station == "reports workers"
    assert e.background.max_scale == pytest.approx(1.0, rel=2e-3)
    assert e.bottleneck_station.startswith("db ") and e.max_scale > 1.0  # the api's


def test_a_job_named_in_the_workload_too_is_a_request() -> None:
    d = design().set_load(JOB, 0.01)
    assert dk.estimate(d).background is None


def test_sizing_holds_a_job_to_its_period() -> None:
    sized = dk.size(design(), p95_ms=50.0)
    assert str(sized.targets[JOB]) == "p95 ≤ 120000 ms"  # done before the next run
    assert str(sized.targets["api GET /x"]) == "p95 ≤ 50 ms"


def test_the_review_does_not_ask_a_job_to_be_offloaded() -> None:
    from designkit.assess.rules import performance

    found = dk.assess(design(), rules=[performance.background_jobs]).findings
    assert [f.subject for f in found] == ['components.api.endpoints."GET /x"']


def test_a_schedule_names_an_endpoint() -> None:
    with pytest.raises(dk.DesignError) as caught:
        dk.load({"designkit": 1, "name": "x", "schedule": {"jobs POST /nope": {"every_s": 5}}})
    assert 'schedule."jobs POST /nope"' in str(caught.value)
    with pytest.raises(dk.DesignError, match=r"schedule.*every_s"):
        dk.load({"designkit": 1, "name": "x", "schedule": {"a GET /b": {"every_s": 0}}})
