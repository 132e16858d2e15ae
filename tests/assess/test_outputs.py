"""Every output of an assessment is valid and safe: strict JSON when a number is ∞, one
Markdown and one HTML escaping, control characters made visible, and a pickle round trip.

Outputs are read back with real parsers: ``json`` (refusing ``Infinity``/``NaN``),
ElementTree for JUnit and HTML, and mistune (a CommonMark renderer that passes raw HTML
through, as GitHub's would run it) for Markdown.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.assess.assessment import Assessment
from designkit.assess.context import Context
from designkit.assess.finding import Finding, Status
from designkit.assess.report import to_sarif
from designkit.assess.rule import Severity
from designkit.cli import cli
from designkit.model.policy import Waiver
from designkit.text import number, percent

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INF = float("inf")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline."""


def strict(text: str) -> Any:
    """JSON as RFC 8259 has it: ``Infinity`` and ``NaN`` are errors."""
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.stdout


def tiny_database() -> dk.Design:
    """A database whose single core cannot serve its load: p95 is ∞."""
    d = dk.Design(name="tiny-db")
    d.service("api", replicas=2, workers=50).endpoint("GET /orders", cpu_ms=1).call(
        "db", service_ms=20)
    d.database("db", cores=1)
    d.set_load("api GET /orders", 500)
    return d


def finding(**kw: Any) -> Finding:
    base: dict[str, Any] = {"rule": "DK-PERF-004", "status": Status.FAIL,
                            "severity": Severity.HIGH, "subject": "components.api",
                            "message": "m", "remediation": "r"}
    return Finding(**(base | kw))


# -- 1. strict JSON ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dashboard-slow", "dashboard-fixed"])
def test_cli_json_of_a_template_with_an_unbounded_ratio_is_strict(name: str) -> None:
    code, out = cli_run("assess", str(TEMPLATES / f"{name}.yaml"), "--format", "json")
    assert code == 0
    data = strict(out)
    db3 = [f for f in data["findings"] if f["rule"] == "DK-DB-003"]
    unbounded = [f for f in db3 if f["nonfinite_evidence"]]
    assert unbounded, "a table written but never read has an ∞ read/write ratio"
    for f in unbounded:
        assert f["evidence"]["ratio"] is None
        assert f["nonfinite_evidence"] == {"/ratio": "∞"}
    assert all(isinstance(f["nonfinite_evidence"], dict) for f in data["findings"])


def test_json_of_a_saturated_database_keeps_a_readable_infinity() -> None:
    d = tiny_database()
    d.components["db"].pool_size = 10  # type: ignore[union-attr]
    d.components["db"].max_connections = 100  # type: ignore[union-attr]
    data = strict(dk.assess(d).to_json())
    [pool] = [f for f in data["findings"] if f["rule"] == "DK-PERF-003"]
    assert pool["status"] == "fail"
    assert pool["evidence"]["pools"]["api"]["demand"] is None
    assert pool["nonfinite_evidence"]["/pools/api/demand"] == "∞"
    assert "pool demand ∞ connections" in pool["message"]
    # the saturation itself, once and critical, with its finite numbers
    [fits] = [f for f in data["findings"] if f["rule"] == "DK-PERF-008"]
    assert fits["status"] == "fail" and fits["severity"] == "critical"
    assert fits["evidence"]["max_scale"] == pytest.approx(0.099, abs=0.001)
    json.dumps(data, allow_nan=False)  # and it stays strict when written again


def test_json_of_any_evidence_is_strict_and_points_at_what_it_cannot_hold() -> None:
    evidence = {"p95_ms": INF, "pools": {"a/b": {"utilization": -INF, "ok": 0.5}},
                "xs": (1, float("nan")), "when": dt.date(2026, 1, 2), "tags": {"b", "a"},
                "~key": INF}
    a = Assessment("x", (), (finding(evidence=evidence),))
    [f] = strict(a.to_json())["findings"]
    assert f["evidence"] == {"p95_ms": None, "pools": {"a/b": {"utilization": None, "ok": 0.5}},
                             "xs": [1, None], "when": "2026-01-02", "tags": ["a", "b"],
                             "~key": None}
    assert f["nonfinite_evidence"] == {"/p95_ms": "∞", "/pools/a~1b/utilization": "-∞",
                                       "/xs/1": "n/a", "/~0key": "∞"}
    assert finding(evidence=evidence).evidence["p95_ms"] == INF  # the finding keeps its data


def test_sarif_of_saturated_designs_is_strict() -> None:
    for a in (dk.assess(tiny_database()), dk.assess(dk.template("dashboard-slow")),
              Assessment("x", (), (finding(evidence={"p95_ms": INF}),))):
        sarif = strict(to_sarif(a))
        assert sarif["version"] == "2.1.0"


# -- 2. one formatter for numbers that may be infinite -------------------------------------


def test_numbers_that_may_be_infinite_have_one_spelling() -> None:
    assert [percent(r) for r in (INF, 0.864, 43.0, 0.001, 0.0, 1.125, 0.375)] == [
        "∞%", "86%", "4,300%", "<1%", "0%", "112%", "38%"]
    assert [number(v) for v in (INF, -INF, float("nan"), 999.7, 387.2, 0.25, 0.0)] == [
        "∞", "-∞", "n/a", "1,000", "387", "0.25", "0"]


# -- 3. Markdown and HTML are escaped ------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def hostile_assessment() -> Assessment:
    """Names, paths and waiver text that hold markup, pipes and control characters."""
    findings = (
        finding(subject=f'components.db.tables."{SCRIPT}"',
                message=f"table {SCRIPT} | <img src=x onerror=alert(1)> *bold* \x1b[31mred",
                remediation="add <b>an index</b>\x01"),
        finding(rule="DK-SEC-001", status=Status.WAIVED, severity=Severity.CRITICAL,
                subject="", message="m", waiver=f"accepted {SCRIPT}\x07 — ana"),
        finding(rule="DK-BE-001", status=Status.NEEDS_DATA, severity=Severity.LOW,
                subject="components.api\x1b]0;title\x07", message="what\nis missing\x00"),
    )
    unused = (Waiver.model_construct(finding=f"DK-BE-002@{SCRIPT}", reason="r\x01",
                                     owner="<i>ana</i>\x1b[2J", expires=None),)
    return Assessment(f"shop {SCRIPT}\x01", (), findings, unused)


def test_markdown_shows_markup_and_never_runs_it() -> None:
    mistune = pytest.importorskip("mistune")
    text = hostile_assessment().to_markdown()
    page = mistune.html(text)
    parsed = _Tags()
    parsed.feed(page)
    assert not {"script", "img", "b", "i"} & set(parsed.tags)
    shown = "".join(parsed.text)
    assert SCRIPT in shown and "<img src=x onerror=alert(1)>" in shown
    assert "*bold*" in shown and "<b>an index</b>" in shown and "<i>ana</i>" in shown
    # the pipe in the message stays inside its cell: every row has 4 cells
    failures = page[page.index("<table>", page.index("High")):]
    row = failures[failures.index("<tbody>"):failures.index("</tbody>")]
    assert row.count("<td") == 4


def test_markdown_of_the_assessment_and_of_the_report_escape_alike() -> None:
    from designkit.render.report import _cell, _markdown, _Table
    from designkit.text import markdown

    message = hostile_assessment().findings[0].message
    cell = f"| {markdown(message)} |"
    assert cell in hostile_assessment().to_markdown()
    assert cell in _markdown([_Table(("m",), ((_cell(message),),))])


def test_html_escapes_every_text() -> None:
    page = hostile_assessment().to_html()
    root = ET.fromstring(page)  # well-formed: nothing unescaped, no control character
    assert root.findall(".//script") == [] and root.findall(".//img") == []
    assert SCRIPT in "".join(root.itertext())


# -- 5. control characters never reach an output ----------------------------------------


def test_text_and_repr_show_control_characters_as_escapes() -> None:
    a = hostile_assessment()
    for text in (str(a), repr(a), repr(a.findings[0])):
        assert not CONTROL.search(text), text
    text = str(a)
    assert "\\x1b[31mred" in text and "\\x07" in text and "\\x1b]0;title\\x07" in text
    assert "what is missing\\x00" in text  # one finding, one line
    assert "(<i>ana</i>\\x1b[2J)" in text


def test_junit_is_valid_xml_with_visible_escapes() -> None:
    root = ET.fromstring(hostile_assessment().to_junit())
    [failure] = root.findall(".//failure")
    assert failure.get("message", "").endswith("\\x1b[31mred")
    assert failure.text == "add <b>an index</b>\\x01"
    assert root.get("name") == f"designkit shop {SCRIPT}\\x01"
    skipped = [s.get("message", "") for s in root.findall(".//skipped")]
    assert f"waived: accepted {SCRIPT}\\x07 — ana" in skipped


def test_sarif_and_json_carry_control_characters_only_escaped() -> None:
    a = hostile_assessment()
    for text in (a.to_json(), to_sarif(a)):
        assert not CONTROL.search(text)
    data = strict(a.to_json())
    assert data["design"] == a.design  # JSON keeps the data exactly (escaped by JSON)
    results = strict(to_sarif(a))["runs"][0]["results"]
    [failed] = [r for r in results if r["ruleId"] == "DK-PERF-004"]
    assert failed["message"]["text"].endswith("\\x1b[31mred")
    [waived] = [r for r in results if "suppressions" in r]
    assert waived["suppressions"][0]["justification"] == f"accepted {SCRIPT}\\x07 — ana"


def test_free_text_with_control_characters_assesses_to_valid_outputs() -> None:
    # names may not hold control characters (the model refuses them); free text may
    d = dk.Design(name="shop", description="\x1b[31mred")
    d.service("api").endpoint("GET /x", cpu_ms=1).call("db", service_ms=1,
                                                       op="SELECT\x1b[2J\x01")
    d.database("db", cores=2).table("orders").column("id", "uuid", primary_key=True)
    d.set_load("api GET /x", 10)
    d.waivers.append(Waiver(finding="DK-*@components.db.tables.*", owner="ana\x07",
                            reason="later\x1b[0m\x00"))
    a = dk.assess(d)
    assert any("\x1b" in f.waiver for f in a.findings)
    ET.fromstring(a.to_junit())
    ET.fromstring(a.to_html())
    strict(a.to_json())
    strict(to_sarif(a))
    for text in (str(a), a.to_markdown(), a.to_html(), a.to_junit()):
        assert not CONTROL.search(text)
    assert "later\\x1b[0m\\x00 — ana\\x07" in str(a)


# -- 6. pickling -------------------------------------------------------------------------


def test_an_assessment_pickles_and_round_trips() -> None:
    a = dk.assess(tiny_database())
    b = pickle.loads(pickle.dumps(a))
    assert b.findings == a.findings and b.unused_waivers == a.unused_waivers
    assert b.rules == a.rules  # the catalogue's own rules again
    assert b.to_json() == a.to_json() and str(b) == str(a)


@dk.rule("DK-BE-951", "Notebook rule", "low", "auto", rationale="r", remediation="f",
         applies=lambda ctx: True)
def notebook_rule(ctx: Context) -> Iterator[Finding]:
    yield ctx.finding("", False, "always fails", ratio=INF)


def test_an_assessment_with_its_own_rules_pickles_their_metadata() -> None:
    d = tiny_database()
    d.waivers.append(Waiver(finding="DK-NONE-001@*", owner="ana", reason="stale"))
    a = dk.assess(d, extra_rules=[notebook_rule])
    b = pickle.loads(pickle.dumps(a))
    assert b.findings == a.findings and b.to_json() == a.to_json()
    assert b.unused_waivers == a.unused_waivers and len(b.unused_waivers) == 1
    [mine] = [r for r in b.rules if r.id == "DK-BE-951"]
    assert (mine.title, mine.severity, mine.rationale) == ("Notebook rule", Severity.LOW, "r")
    with pytest.raises(dk.DesignkitError, match="pickled assessment"):
        dk.assess(d, rules=[mine])
    assert copy.deepcopy(a) == a  # a copy, unlike a pickle, keeps the checks themselves
