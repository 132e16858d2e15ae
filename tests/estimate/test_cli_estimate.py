"""``designkit estimate`` on design files whose answers are exact: within 0.5 %."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from designkit.cli import cli

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    # case: (endpoint, mean, p50, p95, p99) in ms, None where the source gives no number
    "mm1": ("station GET /x", 4000.0, None, 11982.9, None),
    "mm10": ("station GET /x", 166.873, 132.91, 436.09, 624.99),
    "mm2": ("station GET /x", 2285.714, None, 6476.58, None),
    "pdq-tandem": ("client GET /x", 7896.8, 6772.0, 17699.0, 24720.0),
    "gross-harris": ("client GET /x", 17014.6, None, None, None),
}


def run_json(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["estimate", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_exact_cases_through_the_cli(case: str) -> None:
    endpoint, *expected = EXPECTED[case]
    data = run_json(str(CASES / f"{case}.yaml"))
    got = data["endpoints"][endpoint]
    for key, value in zip(("mean_ms", "p50_ms", "p95_ms", "p99_ms"), expected, strict=True):
        if value is not None:
            assert got[key] == pytest.approx(value, rel=0.005), key


def test_json_contract() -> None:
    data = run_json(str(ROOT / "templates" / "flash-sale.yaml"))
    assert {"design", "scale", "endpoints", "components", "bottleneck", "max_scale"} <= set(data)
    assert data["background"] == {"bottleneck": "order-events",
                                  "bottleneck_station": "order-events consumers",
                                  "max_scale": pytest.approx(1.731, abs=0.002)}
    for name, endpoint in data["endpoints"].items():
        handler = name == "order-projector POST /v1/order-events"  # order-events' handler
        assert set(endpoint) == {"rps", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "saturated",
                                 "error_ratio", "errors", *(["lag_ms"] if handler else [])}
        assert endpoint["rps"] > 0
        assert 0 <= endpoint["error_ratio"] <= 1
        assert sum(endpoint["errors"].values()) == pytest.approx(endpoint["error_ratio"])
    for component in data["components"].values():
        assert {"kind", "arrival_rps", "utilization", "saturated", "stations"} <= set(component)


def test_saturated_json_has_nulls_and_no_infinity(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["estimate", str(CASES / "mm1.yaml"), "--scale", "2",
                                      "--format", "json"])
    assert result.exit_code == 0
    assert "Infinity" not in result.stdout and "NaN" not in result.stdout
    endpoint = json.loads(result.stdout)["endpoints"]["station GET /x"]
    assert endpoint["saturated"] is True and endpoint["p95_ms"] is None


def test_days_grow_the_tables() -> None:
    now = run_json(str(ROOT / "templates" / "dashboard-slow.yaml"))
    later = run_json(str(ROOT / "templates" / "dashboard-slow.yaml"), "--days", "365")
    assert later["days"] == 365
    assert now["components"]["app-db"]["saturated"] is False
    # a year of payments turns the unindexed revenue scan into more than four cores can do
    assert later["components"]["app-db"]["saturated"] is True
    assert later["components"]["app-db"]["stations"]["app-db cpu"]["utilization"] > 1


def test_table_output_and_bad_options() -> None:
    result = CliRunner().invoke(cli, ["estimate", str(CASES / "mm10.yaml")])
    assert result.exit_code == 0
    assert result.stdout.startswith("estimate of 'mm10' at 1× workload (as designed)")
    assert CliRunner().invoke(cli, ["estimate", str(CASES / "mm10.yaml"), "--scale",
                                    "-1"]).exit_code == 2


def test_estimate_of_an_invalid_design_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("designkit: 1\nname: x\ncomponents:\n  api: {kind: servce}\n")
    proc = subprocess.run([sys.executable, "-m", "designkit.cli", "estimate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown kind 'servce'" in proc.stderr
