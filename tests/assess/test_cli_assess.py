"""``designkit assess`` and ``designkit rules``."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from designkit.cli import cli

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_the_slow_dashboard_fails_at_high_and_the_fixed_one_passes() -> None:
    assert run("assess", str(TEMPLATES / "dashboard-slow.yaml"), "--fail-on", "high")[0] == 1
    assert run("assess", str(TEMPLATES / "dashboard-fixed.yaml"), "--fail-on", "high")[0] == 0


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html", "sarif", "junit"])
def test_every_format(fmt: str) -> None:
    code, out = run("assess", str(TEMPLATES / "flash-sale.yaml"), "--format", fmt)
    assert code == 0
    if fmt in ("json", "sarif"):
        json.loads(out)
    elif fmt == "junit":
        ET.fromstring(out)
    elif fmt == "markdown":
        assert out.startswith("# Assessment of flash-sale")


def test_json_contract_and_output_file(tmp_path: Path) -> None:
    target = tmp_path / "findings.json"
    code, _ = run("assess", str(TEMPLATES / "payments-monolith.yaml"), "--format", "json",
                  "-o", str(target))
    assert code == 0
    data = json.loads(target.read_text())
    assert set(data) >= {"design", "summary", "findings"}
    for finding in data["findings"]:
        assert set(finding) >= {"rule", "status", "severity", "subject", "message",
                                "fingerprint", "remediation", "references"}


def test_sarif_names_the_design_file() -> None:
    path = str(TEMPLATES / "payments-monolith.yaml")
    sarif = json.loads(run("assess", path, "--format", "sarif")[1])
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"] for loc in r["locations"]}
    assert uris == {path}


def test_rules_lists_the_catalogue() -> None:
    code, out = run("rules", "--format", "json")
    assert code == 0
    rules = json.loads(out)
    assert len({r["id"] for r in rules}) == len(rules)
    assert all(r["severity"] in {"critical", "high", "medium", "low", "info"} for r in rules)


SARIF_SCHEMA = Path(__file__).parent / "sarif" / "sarif-2.1.0-rtm.5.json"


@pytest.mark.parametrize("name", ["dashboard-slow", "payments-monolith", "payments-saga"])
def test_sarif_validates_against_the_sarif_2_1_0_schema(name: str) -> None:
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    sarif = json.loads(run("assess", str(TEMPLATES / f"{name}.yaml"), "--format", "sarif")[1])
    assert sarif["runs"][0]["results"], "the template has findings to report"
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(sarif), key=str)
    assert [e.message for e in errors] == []


def test_the_sarif_schema_catches_a_broken_log() -> None:
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    sarif = json.loads(run("assess", str(TEMPLATES / "dashboard-slow.yaml"), "--format",
                           "sarif")[1])
    sarif["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(schema).iter_errors(sarif))
