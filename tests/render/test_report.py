"""``write_report`` and ``designkit report``: files, links, numbers, HTML, determinism."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.assess.finding import Status
from designkit.cli import cli
from designkit.render.report import _cell, _code, _markdown, _ms, _p, _Table, write_report

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
NAMES = sorted(dk.templates())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dk.Estimate,
                                                                         dk.Assessment]]:
    out: dict[str, tuple[Path, dk.Estimate, dk.Assessment]] = {}
    for name in NAMES:
        design = dk.template(name)
        estimate = dk.estimate(design)
        assessment = dk.assess(design, estimate=estimate)
        md = write_report(design, tmp_path_factory.mktemp(name), estimate, assessment)
        out[name] = (md, estimate, assessment)
    return out


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("href", "src", "xlink:href", "action", "srcset", "data"):
                self.links.append((tag, key, value or ""))


@pytest.mark.parametrize("name", NAMES)
def test_files_exist_and_links_resolve(name: str, reports: dict[str, tuple[Path, dk.Estimate,
                                                                         dk.Assessment]]) -> None:
    md, _, _ = reports[name]
    out = md.parent
    design = dk.template(name)
    expected = {f"{name}.md", f"{name}.html", f"{name}-architecture.svg", f"{name}-data.svg",
                f"{name}-p95-vs-load.svg", f"{name}-utilization.svg",
                *(f"{name}-saga-{s}.svg" for s in design.sagas)}
    assert {p.name for p in out.iterdir()} == expected
    text = md.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert set(links) == {n for n in expected if n.endswith(".svg")}
    for link in links:
        assert (out / link).is_file()
    for svg in out.glob("*.svg"):
        root = ET.fromstring(svg.read_text(encoding="utf-8"))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "<!DOCTYPE" not in svg.read_text(encoding="utf-8")
    assert "```mermaid\nflowchart LR" in text


@pytest.mark.parametrize("name", NAMES)
def test_key_numbers_appear(name: str, reports: dict[str, tuple[Path, dk.Estimate,
                                                              dk.Assessment]]) -> None:
    md, estimate, assessment = reports[name]
    text = md.read_text(encoding="utf-8")
    page = md.with_suffix(".html").read_text(encoding="utf-8")
    assert estimate.bottleneck is not None
    assert f"**Bottleneck:** `{estimate.bottleneck}`" in text
    assert f"= {estimate.max_scale:.3g}× the workload" in text
    for key, e in estimate.endpoints.items():
        section = text[text.index("## Estimate"):]
        row = next(line for line in section.splitlines() if line.startswith(f"| `{key}` |"))
        assert f"| {_ms(e.p95_ms)} |" in row
        assert ("**SATURATED**" in row) is e.saturated
    failed = assessment.failed()
    for f in failed:
        assert f"| {f.rule} |" in text and f.rule in page
    counts = assessment.summary()["by_status"]
    assert f"{counts['fail']} failed" in text
    assert f"### Needs data ({counts['needs-data']})" in text
    assert f"### Needs an attestation ({counts['needs-attestation']})" in text
    # failures come before what needs data, worst severity first
    if failed:
        assert text.index(f"| {failed[0].rule} |") < text.index("### Needs data")
        order = [m for m in re.findall(r"^#### (\w+) \(", text, re.M)]
        ranks = [dk.Severity(o.lower()).rank for o in order]
        assert ranks == sorted(ranks, reverse=True)
    for f in assessment.findings:
        if f.status is Status.WAIVED:
            assert f"| {f.rule} | `{f.subject}` |" in text
            assert html.escape(f.waiver) in page


@pytest.mark.parametrize("name", NAMES)
def test_rules_and_findings_are_counted_apart(name: str, reports: dict[
        str, tuple[Path, dk.Estimate, dk.Assessment]]) -> None:
    """"47 rules ran (1 with a failure); 142 findings: 1 failed, 106 passed, …": the
    counts after the colon are findings, and they add up to the findings' number."""
    md, _, assessment = reports[name]
    counts = assessment.summary()["by_status"]
    rules = len(assessment.rules)
    failing = len({f.rule for f in assessment.failed()})
    findings = len(assessment.findings)
    assert findings == sum(counts.values()) and findings > rules
    words = (f"{rules} rules ran ({failing} with a failure); {findings:,} findings: ",
             f"{counts['fail']} failed",
             f", {counts['pass']:,} passed, {counts['needs-data']} need data, "
             f"{counts['needs-attestation']} need an attestation, {counts['waived']} waived, "
             f"{counts['not-applicable']} not applicable.")
    text = md.read_text(encoding="utf-8")
    assert f"{words[0]}**{words[1]}**{words[2]}" in text
    page = md.with_suffix(".html").read_text(encoding="utf-8")
    assert f"<p>{words[0]}<strong>{words[1]}</strong>{words[2]}</p>" in page
    assert f"{rules} rules ran: " not in text  # the old sentence counted findings as rules


def test_audit_says_so_in_the_counting_sentence(tmp_path: Path) -> None:
    design = dk.template("flash-sale")
    md = write_report(design, tmp_path, assessment=dk.assess(design, audit=True))
    sentence = next(line for line in md.read_text(encoding="utf-8").splitlines()
                    if " rules ran (" in line)
    assert sentence.endswith("not applicable (audit: every waiver ignored).")
    assert " findings: **" in sentence


def test_saturated_design_is_flagged(tmp_path: Path) -> None:
    design = dk.template("dashboard-slow")
    estimate = dk.estimate(design, scale=2.0)
    md = write_report(design, tmp_path, estimate=estimate)
    text = md.read_text(encoding="utf-8")
    assert any(e.saturated for e in estimate.endpoints.values())
    assert "**SATURATED**" in text and "| — |" in text


@pytest.mark.parametrize("name", NAMES)
def test_html_is_self_contained_and_parses(name: str, reports: dict[
        str, tuple[Path, dk.Estimate, dk.Assessment]]) -> None:
    md, _, _ = reports[name]
    page = md.with_suffix(".html").read_text(encoding="utf-8")
    root = ET.fromstring(page)  # well-formed: only XML's entities, every tag closed
    assert root.tag == "html"
    parser = _Collect()
    parser.feed(page)
    parser.close()
    assert parser.tags.count("svg") == len(list(md.parent.glob("*.svg")))
    assert not {"img", "link", "script", "iframe", "object"} & set(parser.tags)
    external = [link for link in parser.links if not link[2].startswith("#")]
    assert external == []
    assert not re.search(r"url\((?!#)", page)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # the inlined SVGs never share an id
    assert "<?xml" not in page and "<metadata>" not in page


def test_deterministic(tmp_path: Path) -> None:
    design = dk.template("payments-saga")
    first = write_report(design, tmp_path / "a").parent
    second = write_report(design, tmp_path / "b").parent
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for n in names:
        assert (first / n).read_bytes() == (second / n).read_bytes(), n


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    design = dk.Design(name='shop <b>"&amp;"</b>', description="a | b & <script>x</script> *y*")
    design.service("api").endpoint("GET /a").call("db", service_ms=1)
    design.database("db", cores=2)
    md = write_report(design, tmp_path)
    assert md.name == "shop-b-amp-b.md"
    text = md.read_text(encoding="utf-8")
    assert "<script>" not in text and "\\<script\\>" in text and "\\*y\\*" in text
    page = md.with_suffix(".html").read_text(encoding="utf-8")
    ET.fromstring(page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "No endpoint receives traffic" in text
    assert not (tmp_path / "shop-b-amp-b-p95-vs-load.svg").exists()


def test_markdown_table_cells_escape_pipes() -> None:
    table = _Table(("a", "b"), ((_cell(_code("x|y")), _cell("p | q")),))
    text = _markdown([table, _p("**", _code("a`b"))])
    assert "| `x\\|y` | p \\| q |" in text
    assert "\\*\\*`` a`b ``" in text


# -- CLI ---------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_report(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "dir"
    code, stdout, _ = run("report", str(TEMPLATES / "flash-sale.yaml"), "-o", str(out))
    assert code == 0
    assert stdout.strip() == str(out / "flash-sale.md")
    assert (out / "flash-sale.html").is_file() and (out / "flash-sale-architecture.svg").is_file()
    assert "| DK-DB-003 |" in (out / "flash-sale.md").read_text(encoding="utf-8")  # waived


def test_cli_report_audit_ignores_waivers(tmp_path: Path) -> None:
    code, stdout, _ = run("report", str(TEMPLATES / "flash-sale.yaml"), "-o", str(tmp_path),
                          "--audit")
    assert code == 0
    text = Path(stdout.strip()).read_text(encoding="utf-8")
    assert "(audit: every waiver ignored)" in text and "0 waived" in text
    assert "Audit: waivers ignored. The design declares 1 waiver;" in text
    assert "`DK-DB-003@components.order-read-db.tables.order_views`" in text


def test_cli_report_bad_input_exits_2(tmp_path: Path) -> None:
    code, _, err = run("report", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o"))
    assert code == 2 and "missing.yaml" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("designkit: 1\nname: x\ncomponents: {api: {kind: servce}}\n")
    code, _, err = run("report", str(bad), "-o", str(tmp_path / "o"))
    assert code == 2 and "servce" in err
    assert not (tmp_path / "o").exists()
    code, _, err = run("report", str(TEMPLATES / "flash-sale.yaml"))
    assert code == 2 and "-o" in err


def test_the_report_shows_each_slo_met_or_missed(tmp_path: Path) -> None:
    from designkit.render.report import write_report

    d = dk.template("payments-saga")
    d.policy.slo = dk.Slo(p95_ms=100, availability=0.999)
    d.components["orders-svc"].endpoints["POST /v1/orders"].slo = dk.Slo(p95_ms=20,
                                                                         p99_ms=40)
    write_report(d, tmp_path)
    text = (tmp_path / "payments-saga.md").read_text(encoding="utf-8")
    e = dk.estimate(d)
    assert "**Service-level objectives:** 9 of 11 met." in text
    orders = e.endpoints["orders-svc POST /v1/orders"]
    assert (f"| `orders-svc POST /v1/orders` | p95 ≤ 20 ms, p99 ≤ 40 ms | p95 "
            f"{orders.p95_ms:.3g} ms, p99 {orders.p99_ms:.3g} ms | — | met |") in text
    # the charge waits for the provider: its p95 misses the policy's 100 ms
    charges = e.endpoints["payments-svc POST /v1/charges"].p95_ms
    assert 800 < charges < 840
    assert ("| `payments-svc POST /v1/charges` | p95 ≤ 100 ms, 99.9 % succeed | p95 "
            f"{charges:.3g} ms") in text
    assert "| **MISSED** |" in text
    # a queue's handler is held to the availability only: nobody waits for its latency
    assert "| `orders-svc POST /v1/order-sagas` | 99.9 % succeed | 99.9998 % succeed" in text
    plain = tmp_path / "plain"
    write_report(dk.template("payments-saga"), plain)
    assert "Service-level objectives" not in (plain / "payments-saga.md").read_text("utf-8")
