"""Two designs side by side: the model's changes, the estimates and the reviews."""

from __future__ import annotations

import json
import math
from pathlib import Path

from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from designkit.model.changes import Change, design_changes


def _slow_fixed() -> tuple[dk.Design, dk.Design]:
    return dk.template("dashboard-slow"), dk.template("dashboard-fixed")


def test_the_changes_are_the_parts_at_their_paths() -> None:
    changes = design_changes(*_slow_fixed())
    ep = 'components.dashboard-api.endpoints."GET /v1/dashboard"'
    assert Change("changed", f"{ep}.cpu_ms", 30, 20) in changes
    [loop] = [c for c in changes if c.path == f"{ep}.steps[2]"]
    assert str(loop) == f"changed {ep}.steps[2]: loop of 50 → call app-db"
    added = [c.path for c in changes if c.kind == "added"]
    assert added == ["components.app-db.tables.payments.indexes[(order_id)]",
                     "components.app-db.tables.payments.indexes[(merchant_id, created_at)]",
                     "components.dashboard-cache", "waivers"]
    assert not [c for c in changes if c.kind == "removed"]


def test_a_design_compared_with_itself_has_nothing_to_say() -> None:
    d = dk.template("flash-sale")
    result = dk.diff(d, d)
    assert result.changes == [] and result.opened == [] and result.closed == []
    assert result.stations == []
    assert "0 change(s) to the design:\n  none" in str(result)


def test_the_estimates_and_reviews_before_and_after() -> None:
    slow, fixed = _slow_fixed()
    result = dk.diff(slow, fixed)
    before, after = dk.estimate(slow), dk.estimate(fixed)
    view = next(e for e in result.endpoints if e.endpoint == "dashboard-api GET /v1/dashboard")
    assert (view.p95_before, view.p95_after) == (
        before.endpoints["dashboard-api GET /v1/dashboard"].p95_ms,
        after.endpoints["dashboard-api GET /v1/dashboard"].p95_ms)
    cpu = next(s for s in result.stations if s.station == "app-db cpu")
    assert (cpu.before, cpu.after) == (before.station("app-db cpu").utilization,
                                       after.station("app-db cpu").utilization)
    assert result.max_scale == (before.max_scale, after.max_scale)
    closed = {(f.rule, f.subject) for f in result.closed}
    assert ("DK-BE-002", 'components.dashboard-api.endpoints."GET /v1/dashboard".steps[2]'
            ".loop.steps[0]") in closed
    assert result.opened == []


def test_a_saturated_endpoint_is_saturated_not_nan() -> None:
    old = dk.template("flash-sale")
    new = dk.template("flash-sale")
    new.components["checkout-api"].replicas = 1  # type: ignore[union-attr]
    result = dk.diff(old, new)
    checkout = next(e for e in result.endpoints if e.endpoint == "checkout-api POST /v1/orders")
    assert checkout.p95_after == math.inf
    data = json.loads(json.dumps(result.to_dict()))
    row = next(e for e in data["endpoints"] if e["endpoint"] == "checkout-api POST /v1/orders")
    assert row["p95_after_ms"] is None and row["saturated_after"] is True
    assert "checkout-api POST /v1/orders: 7.87 ms → saturated" in str(result)
    assert [f.rule for f in result.opened][:1] == ["DK-PERF-008"]


def test_the_command_writes_text_markdown_and_json(tmp_path: Path) -> None:
    slow, fixed = tmp_path / "slow.yaml", tmp_path / "fixed.yaml"
    slow.write_text(dk.template_text("dashboard-slow"), encoding="utf-8")
    fixed.write_text(dk.template_text("dashboard-fixed"), encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(cli, ["diff", str(slow), str(fixed)])
    assert text.exit_code == 0
    assert text.output.startswith("dashboard-slow → dashboard-fixed\n\n16 change(s)")
    assert "  dashboard-api GET /v1/dashboard: 9,724 ms → 64 ms\n" in text.output
    markdown = runner.invoke(cli, ["diff", str(slow), str(fixed), "--format", "markdown"])
    assert "| `dashboard-api GET /v1/dashboard` | 9,724 ms | 64 ms |" in markdown.output
    data = json.loads(runner.invoke(cli, ["diff", str(slow), str(fixed), "--format",
                                          "json"]).output)
    assert data["bottleneck"] == {"before": "app-db cpu", "after": "dashboard-cache servers"}
    assert len(data["closed"]) == 7


def test_a_typo_in_a_file_is_one_located_error(tmp_path: Path) -> None:
    good = tmp_path / "a.yaml"
    good.write_text(dk.template_text("dashboard-slow"), encoding="utf-8")
    bad = tmp_path / "b.yaml"
    bad.write_text(dk.template_text("dashboard-slow").replace("  app-db:\n", "  app-dbb:\n", 1),
                   encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", str(good), str(bad)])
    assert result.exit_code != 0
    assert "unknown component 'app-db' (did you mean 'app-dbb'?)" in result.output
    assert "Traceback" not in result.output
