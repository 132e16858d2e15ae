"""The saga failure walk: what rolls back when each step fails, in calls per second."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def four_steps() -> dk.Design:
    """A saga of four steps at 100 sagas/s: ``a`` (compensated by ``undo-a``, which itself
    fails half the time), ``b`` (no compensation), ``c`` (the pivot, compensated) and
    ``d`` after it; each action calls a third party failing 10, 20, 30 and 40 %."""
    d = dk.Design(name="four")
    svc = d.service("svc", io="async", workers=1000)
    for step, rate in (("a", 0.1), ("b", 0.2), ("c", 0.3), ("d", 0.4), ("undo-a", 0.5)):
        d.external(f"x-{step}", latency_ms=1.0, failure_rate=rate)
        svc.endpoint(f"POST /{step}").call(f"x-{step}")
    svc.endpoint("POST /undo-c")
    saga = d.saga("s")
    saga.step("a", "svc POST /a", compensation="svc POST /undo-a")
    saga.step("b", "svc POST /b")
    saga.step("c", "svc POST /c", compensation="svc POST /undo-c", pivot=True)
    saga.step("d", "svc POST /d")
    d.set_load("svc POST /a", 100)
    return d


def test_each_failure_compensates_what_completed_before_the_pivot() -> None:
    walk = dk.failure_walk(four_steps())["s"]
    a, b, c, d = walk.steps
    assert [s.reached_per_s for s in walk.steps] == pytest.approx([100, 90, 72, 50.4])
    assert [s.failed_per_s for s in walk.steps] == pytest.approx([10, 18, 21.6, 20.16])
    assert (a.compensates, b.compensates, c.compensates) == ((), ("a",), ("a",))
    assert c.left_undone == ("b",) and d.on_failure == "retry"
    assert walk.started_per_s == pytest.approx(100)
    assert walk.completed_per_s == pytest.approx(100 * 0.9 * 0.8 * 0.7)  # past the pivot
    assert walk.rolled_back_per_s == pytest.approx(10 + 18 + 21.6)
    # undo-a runs when b or c fails; b stays done when c fails; undo-a fails half the time
    assert walk.compensation_per_s == pytest.approx({"svc POST /undo-a": 18 + 21.6})
    assert walk.stuck_per_s == pytest.approx({"b not undone (no compensation)": 21.6,
                                              "a not undone (svc POST /undo-a fails)": 19.8})


def test_the_payment_saga_under_a_failing_provider() -> None:
    # payments-svc retries the provider twice: all three attempts fail for 0.3³ = 2.7 %
    # of charges, 2.73 % with the attempts its 2 s timeout cuts; each releases its stock
    # reservation.
    design = dk.template("payments-saga")
    walk = dk.failure_walk(design, failing={"payment-provider": 0.3})["place-order"]
    charge = walk.steps[1]
    assert walk.pivot == "charge" and charge.compensates == ("reserve-stock",)
    assert charge.error_ratio == pytest.approx(0.0273, rel=0.01)
    assert walk.rolled_back_per_s == pytest.approx(100 * charge.error_ratio)
    assert walk.compensation_per_s == pytest.approx(
        {"stock-svc DELETE /v1/reservations/{id}": 100 * charge.error_ratio})
    down = dk.failure_walk(design, down=("payment-provider",))["place-order"]
    assert down.completed_per_s == 0.0 and down.steps[1].errors == {
        "breaker: payment-provider": 1.0}


def test_the_command_line_walks_in_text_json_and_markdown(tmp_path: Path) -> None:
    path = tmp_path / "four.yaml"
    path.write_text(dk.dump(four_steps()))
    runner = CliRunner()
    text = runner.invoke(cli, ["failures", str(path)])
    assert text.exit_code == 0, text.output
    assert "saga s, pivot c: 100/s started, 50.4/s complete, 49.6/s rolled back" in text.output
    assert "if it fails: compensate a" in text.output
    assert "b has no compensation: it stays done" in text.output
    data = json.loads(runner.invoke(cli, ["failures", str(path), "--format", "json"]).output)
    assert data["sagas"]["s"]["stuck_per_s"]["b not undone (no compensation)"] == \
        pytest.approx(21.6)
    markdown = runner.invoke(cli, ["failures", str(path), "--format", "markdown"]).output
    assert "| c | `svc POST /c` | 30% | 21.6/s | compensate a |" in markdown
    typo = runner.invoke(cli, ["failures", str(path), "--saga", "z"])
    assert typo.exit_code == 2 and "unknown saga 'z'" in typo.output
    failing = runner.invoke(cli, ["failures", str(ROOT / "templates" / "payments-saga.yaml"),
                                  "--down", "payment-provider"])
    assert "100/s started, 0/s complete, 100/s rolled back" in failing.output
