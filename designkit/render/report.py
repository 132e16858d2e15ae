"""A design report in Markdown and HTML: summary, diagrams, estimate, plots, query plans,
findings.

:func:`write_report` builds the report once, as a list of blocks (headings, paragraphs,
tables, figures, a Mermaid block), and writes it twice from those blocks: Markdown with the
SVG files beside it (relative image links), and one self-contained HTML page with the same
SVGs inlined. Nothing in it depends on the clock, so two runs write the same bytes.

Example:
    >>> import designkit as dk, tempfile, pathlib
    >>> from designkit.render.report import write_report
    >>> with tempfile.TemporaryDirectory() as out:
    ...     md = write_report(dk.template("dashboard-slow"), pathlib.Path(out))
    ...     (md.name, "app-db" in md.read_text(), md.with_suffix(".html").exists())
    ('dashboard-slow.md', True, True)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Severity
from designkit.model.components import KINDS
from designkit.model.database import Database
from designkit.text import html_text, markdown, markdown_code, number, percent

if TYPE_CHECKING:
    from designkit.assess.assessment import Assessment
    from designkit.estimate.result import Estimate
    from designkit.estimate.slo import SloCheck
    from designkit.model.design import Design

__all__ = ["PLAN_DAYS", "write_report"]


# -- blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """A piece of inline text: plain, ``code``, ``strong`` or ``em``."""

    text: str
    style: str = ""


_Line = tuple[_Span, ...]


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Para:
    line: _Line


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[_Line, ...], ...]
    right: frozenset[int] = frozenset()
    """Columns aligned right (numbers)."""


@dataclass(frozen=True)
class _Figure:
    file: str
    alt: str
    svg: str


@dataclass(frozen=True)
class _Mermaid:
    text: str


_Block = _Heading | _Para | _Table | _Figure | _Mermaid


def _t(text: str) -> _Span:
    return _Span(text)


def _code(text: str) -> _Span:
    return _Span(text, "code")


def _b(text: str) -> _Span:
    return _Span(text, "strong")


def _p(*spans: _Span | str) -> _Para:
    return _Para(tuple(s if isinstance(s, _Span) else _Span(s) for s in spans))


def _cell(*spans: _Span | str) -> _Line:
    return _p(*spans).line


# -- numbers -----------------------------------------------------------------------------


def _ms(value: float) -> str:
    """A latency for the tables: :func:`~designkit.text.number` (``1,234``, ``64.2``,
    ``0.512``), but ``—`` when saturated: the row's status says SATURATED, and a latency
    that grows without bound has no value to print."""
    return number(value) if math.isfinite(value) else "—"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# -- Markdown ----------------------------------------------------------------------------


def _md_span(span: _Span, in_table: bool) -> str:
    """A span through :mod:`designkit.text`'s one Markdown escaping path."""
    if span.style == "code":
        return markdown_code(span.text, in_table)
    escaped = markdown(span.text)
    mark = {"strong": "**", "em": "*"}.get(span.style, "")
    core = escaped.strip(" ")
    if not mark or not core:
        return escaped
    # a closing ** after a space is no delimiter: keep the spaces outside the markers
    lead = " " if escaped.startswith(" ") else ""
    trail = " " if escaped.endswith(" ") else ""
    return f"{lead}{mark}{core}{mark}{trail}"


def _md_line(line: _Line, in_table: bool = False) -> str:
    return "".join(_md_span(s, in_table) for s in line)


def _md_block(block: _Block) -> str:
    if isinstance(block, _Heading):
        return "#" * block.level + " " + _md_line((_t(block.text),))
    if isinstance(block, _Para):
        return _md_line(block.line)
    if isinstance(block, _Table):
        head = "| " + " | ".join(_md_line((_t(h),), True) for h in block.header) + " |"
        rule = "|" + "|".join("---:" if i in block.right else "---"
                              for i in range(len(block.header))) + "|"
        rows = ["| " + " | ".join(_md_line(c, True) for c in row) + " |" for row in block.rows]
        return "\n".join([head, rule, *rows])
    if isinstance(block, _Figure):
        return f"![{_md_line((_t(block.alt),))}]({block.file})"
    fence = "```" if "```" not in block.text else "~~~~"
    return f"{fence}mermaid\n{block.text}\n{fence}"


def _markdown(blocks: list[_Block]) -> str:
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


# -- HTML --------------------------------------------------------------------------------

_CSS = """body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;
margin:0;line-height:1.5}main{max-width:1100px;margin:0 auto;padding:24px}
h1,h2{border-bottom:1px solid #d0d7de;padding-bottom:.3em}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #d0d7de;padding:4px 10px;
vertical-align:top}td:first-child{white-space:nowrap}th{background:#f6f8fa;text-align:left}td.num{text-align:right;
font-variant-numeric:tabular-nums}code{background:#f6f8fa;padding:0 4px;border-radius:4px;
font-size:90%}figure{margin:16px 0}figure svg{max-width:100%;height:auto}
figcaption{color:#57606a;font-size:90%}pre{background:#f6f8fa;padding:12px;overflow:auto}
details{margin:12px 0}"""

_NUM = ' class="num"'
_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*")
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'((?:xlink:)?href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")


def _standalone(svg: str) -> str:
    """An SVG file's text without its DOCTYPE (a link to the W3C DTD)."""
    return _DOCTYPE.sub("", svg, count=1)


def _inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element of an HTML page: no XML declaration, DOCTYPE, comments
    or metadata, and every id prefixed so that the page's SVGs never share one."""
    for pattern in (_XML_DECL, _DOCTYPE, _COMMENT, _METADATA):
        svg = pattern.sub("", svg)
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', svg)
    svg = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return svg.strip()


def _html_line(line: _Line) -> str:
    tags = {"code": "code", "strong": "strong", "em": "em"}
    out = []
    for span in line:
        text = html_text(span.text)
        tag = tags.get(span.style)
        out.append(f"<{tag}>{text}</{tag}>" if tag and text else text)
    return "".join(out)


def _html_block(block: _Block) -> str:
    if isinstance(block, _Heading):
        return f"<h{block.level}>{html_text(block.text)}</h{block.level}>"
    if isinstance(block, _Para):
        return f"<p>{_html_line(block.line)}</p>"
    if isinstance(block, _Table):
        head = "".join(f"<th>{html_text(h)}</th>" for h in block.header)
        rows = "".join(
            "<tr>" + "".join(f"<td{_NUM if i in block.right else ''}>{_html_line(c)}</td>"
                             for i, c in enumerate(row)) + "</tr>\n"
            for row in block.rows)
        return f"<table>\n<tr>{head}</tr>\n{rows}</table>"
    if isinstance(block, _Figure):
        prefix = re.sub(r"[^A-Za-z0-9_-]", "-", Path(block.file).stem)
        return (f"<figure>\n{_inline_svg(block.svg, prefix)}\n"
                f"<figcaption>{html_text(block.alt)}</figcaption>\n</figure>")
    return ("<details><summary>Mermaid source (renders on GitHub and in MkDocs)</summary>"
            f"<pre><code>{html_text(block.text)}</code></pre></details>")


def _html_page(title: str, blocks: list[_Block]) -> str:
    body = "\n".join(_html_block(b) for b in blocks)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
            f"<title>{html_text(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


# -- content -----------------------------------------------------------------------------


def _slug(name: str, most: int = 80) -> str:
    """A file name part from a design or saga name: ``[A-Za-z0-9._-]``, never empty, at most
    ``most`` characters (a long name keeps its start and a short hash of the whole, so
    ``<design>-saga-<saga>-utilization.svg`` stays within a file system's 255 bytes)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "design"
    if len(slug) <= most:
        return slug
    import hashlib

    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug[:most - 9].rstrip('-.')}-{digest}"


def _summary(design: Design) -> list[_Block]:
    from designkit.model.summary import summary_line

    blocks: list[_Block] = [_Heading(2, "Summary"),
                            _p(summary_line(design).split(": ", 1)[1] + ".")]
    kinds = [(kind, [n for n, c in design.components.items() if c.kind == kind])
             for kind in KINDS]
    rows = [(_cell(kind), _cell(str(len(names))),
             tuple(s for i, n in enumerate(names) for s in ((_t(", "),) if i else ())
                   + (_code(n),)))
            for kind, names in kinds if names]
    if rows:
        blocks.append(_Table(("kind", "count", "components"), tuple(rows), frozenset({1})))
    endpoints = [(_cell(_code(str(ref))),
                  _cell(number(design.rate(str(ref)) or 0.0)))
                 for ref, _ in design.endpoints()]
    if endpoints:
        blocks.append(_Table(("endpoint", "workload rps"), tuple(endpoints), frozenset({1})))
    tables = [(_cell(_code(f"{db_name}.{name}")), _cell(f"{table.rows or 0:,}"),
               _cell(number(table.growth_per_day or 0)))
              for db_name, db in design.components.items() if isinstance(db, Database)
              for name, table in db.tables.items()]
    if tables:
        blocks.append(_Table(("table", "rows", "growth/day"), tuple(tables),
                             frozenset({1, 2})))
    return blocks


def _diagrams(design: Design, stem: str, estimate: Estimate | None,
              assessment: Assessment) -> tuple[list[_Block], dict[str, str]]:
    from designkit.render import graphviz_views as gv
    from designkit.render import mermaid

    files: dict[str, str] = {}

    def figure(suffix: str, alt: str, svg: str) -> _Figure:
        name = f"{stem}-{suffix}.svg"
        files[name] = _standalone(svg)
        return _Figure(name, alt, files[name])

    blocks: list[_Block] = [_Heading(2, "Architecture")]
    blocks.append(figure("architecture", f"Architecture of {design.name}",
                         gv.to_svg(gv.architecture(design, estimate, assessment))))
    if estimate is not None:
        limit = percent(estimate.utilization_max)
        blocks.append(_p(f"Components are coloured by utilization at {estimate.scale:g}× the "
                         f"workload: green below the policy's {limit}, amber above it, red "
                         "when saturated; a badge counts a component's failing findings."))
    blocks += [_Heading(3, "Architecture (Mermaid)"),
               _Mermaid(mermaid.architecture(design, estimate))]
    blocks += [_Heading(2, "Data model"),
               figure("data", f"Data model of {design.name}", gv.to_svg(gv.data(design)))]
    if design.sagas:
        blocks.append(_Heading(2, "Sagas"))
        used: set[str] = set()
        for name in design.sagas:
            suffix = f"saga-{_slug(name)}"
            while suffix in used:
                suffix += "-2"
            used.add(suffix)
            blocks += [_Heading(3, f"Saga {name}"),
                       figure(suffix, f"Saga {name}", gv.to_svg(gv.saga(design, name)))]
    return blocks, files


def _share(value: float) -> str:
    """A share as a percentage with the digits it needs: ``99.9 %``, ``99.95 %``."""
    return f"{value * 100:.4f}".rstrip("0").rstrip(".") + " %"


def _slo_row(check: SloCheck) -> tuple[_Line, ...]:
    """One endpoint's objective, what the estimate gives, the error budget it uses."""
    slo = check.slo
    wanted = [f"{name} ≤ {_ms(value)} ms" for name, value in
              (("p95", slo.p95_ms), ("p99", slo.p99_ms)) if value is not None]
    if slo.availability is not None:
        wanted.append(f"{_share(slo.availability)} succeed")
    got = [f"{name} {_ms(value)} ms" for name, value, target in
           (("p95", check.p95_ms, slo.p95_ms), ("p99", check.p99_ms, slo.p99_ms))
           if target is not None]
    if slo.availability is not None:
        got.append(f"{_share(check.availability)} succeed")
    used = check.error_budget_used
    budget = ("—" if used is None else "all of it, and more" if math.isinf(used)
              else f"{used:.1%}")
    return (_cell(_code(check.endpoint)), _cell(", ".join(wanted)), _cell(", ".join(got)),
            _cell(budget), _cell("met") if check.met else _cell(_b("MISSED")))


def _estimate(design: Design, stem: str, estimate: Estimate | None
              ) -> tuple[list[_Block], dict[str, str]]:
    blocks: list[_Block] = [_Heading(2, "Estimate")]
    if estimate is None or not estimate.endpoints:
        blocks.append(_p("No endpoint receives traffic: the design has no workload to "
                         "estimate."))
        return blocks, {}
    from designkit.estimate.result_text import error_share, success_p95
    from designkit.render import plots

    days = f", {estimate.days:g} days of table growth" if estimate.days else ""
    blocks.append(_p(f"At {estimate.scale:g}× the workload ({estimate.scenario}{days})."))
    failing = any(e.error_ratio > 0 for e in estimate.endpoints.values())
    rows = tuple((_cell(_code(name)), _cell(number(e.rps)), _cell(_ms(e.mean_ms)),
                  _cell(_ms(e.p50_ms)), _cell(_ms(e.p95_ms)), _cell(_ms(e.p99_ms)),
                  *((_cell(error_share(e.error_ratio)), _cell(success_p95(e))) if failing
                    else ()),
                  _cell(_b("SATURATED")) if e.saturated else _cell("ok"))
                 for name, e in estimate.endpoints.items())
    errors = ("errors", "successes' p95 ms") if failing else ()
    blocks.append(_Table(("endpoint", "rps", "mean ms", "p50 ms", "p95 ms", "p99 ms",
                          *errors, "status"), rows,
                         frozenset({1, 2, 3, 4, 5, *((6, 7) if failing else ())})))
    if failing:
        blocks.append(_p("Latencies are every request's, the failed ones included (they "
                         "run their remaining steps); the successes' p95 is what a user who "
                         "got an answer waited."))
    slos = estimate.slos
    if slos:
        met = sum(check.met for check in slos.values())
        blocks.append(_p(_b("Service-level objectives: "), f"{met} of {len(slos)} met."))
        blocks.append(_Table(("endpoint", "objective", "estimate", "error budget used",
                              "status"),
                             tuple(_slo_row(check) for check in slos.values()),
                             frozenset({3})))
    assumed = estimate.assumptions
    if assumed:
        blocks.append(_p(_b("Defaults relied on: "), f"{len(assumed):,} setting(s) the design "
                         "leaves out move these numbers; each is its engine's default or "
                         "designkit's. State the ones you have measured."))
        blocks.append(_Table(("setting", "value used", "source"),
                             tuple((_cell(_code(a.subject)), _cell(a.value), _cell(a.source))
                                   for a in assumed), frozenset({1})))
    if estimate.bottleneck is not None and math.isfinite(estimate.max_scale):
        station = estimate.bottleneck_station or estimate.bottleneck
        blocks.append(_p(_b("Bottleneck: "), _code(estimate.bottleneck), " (",
                         _code(station), ") saturates first as the load grows: ",
                         _code("max_scale"), f" = {estimate.max_scale:.3g}× the workload."))
    else:
        blocks.append(_p(_b("Bottleneck: "), "none — no station saturates as the load grows."))
    back = estimate.background
    if back is not None and back.component is not None and math.isfinite(back.max_scale):
        blocks.append(_p(_b("Background: "), _code(back.component), " (",
                         _code(back.station or back.component), ") saturates first of what "
                         "only queues' handlers load, at ", f"{back.max_scale:.3g}× the "
                         "workload: past it the handlers' lag and backlog grow; no request "
                         "waits for them."))
    loaded = [(name, c) for name, c in estimate.components.items()
              if c.arrival_rps > 0 or c.utilization > 0]
    if loaded:
        blocks.append(_Table(
            ("component", "kind", "arrivals/s", "utilization", "status"),
            tuple((_cell(_code(name)), _cell(c.kind), _cell(number(c.arrival_rps)),
                   _cell(percent(c.utilization)),
                   _cell(_b("SATURATED")) if c.saturated
                   else _cell("above policy" if c.utilization >= estimate.utilization_max
                              else "ok"))
                  for name, c in loaded),
            frozenset({2, 3})))
    storms = [r for r in estimate.retry_storms if r.at_risk]
    for r in storms:
        blocks.append(_p(_b("Retry storm risk: "), _code(r.caller), " → ", _code(r.station),
                         f": {percent(r.utilization_now)} now, "
                         f"{percent(r.utilization_retrying)} if every call used all "
                         f"{r.max_attempts} attempts."))
    files = {f"{stem}-p95-vs-load.svg": _standalone(plots.to_svg(plots.load_curve(design))),
             f"{stem}-utilization.svg": _standalone(plots.to_svg(plots.utilization(estimate)))}
    blocks += [_Heading(3, "p95 vs load"),
               _Figure(f"{stem}-p95-vs-load.svg", "p95 latency per endpoint as the load grows "
                       "to saturation", files[f"{stem}-p95-vs-load.svg"]),
               _Heading(3, "Utilization"),
               _Figure(f"{stem}-utilization.svg", "Utilization of every loaded station",
                       files[f"{stem}-utilization.svg"])]
    return blocks, files


PLAN_DAYS = 365.0
"""Days of table growth behind the report's second query-plan time."""


def _plans(design: Design) -> list[_Block]:
    """The "Query plans" section: every query's plan (:func:`~designkit.flow.plans.
    query_plans`), the same rows ``designkit plan`` prints."""
    from designkit.flow.plans import query_plans

    plans = query_plans(design, days=PLAN_DAYS)
    blocks: list[_Block] = [_Heading(2, "Query plans")]
    if not plans.plans:
        blocks.append(_p("No endpoint calls a database with a query."))
        return blocks
    blocks.append(_p(f"Every query of every endpoint: its shape, the index that serves it or "
                     f"the scan and why, the rows it reads now, and its time now and after "
                     f"{PLAN_DAYS:g} days of table growth (the database's own time, without "
                     "queueing)."))
    rows = tuple((_cell(_code(endpoint)), _cell(_code(place)), _cell(_code(table)),
                  _cell(shape), _cell(access), _cell(read), _cell(now), _cell(then),
                  _cell(why))
                 for endpoint, place, table, shape, access, read, now, then, why
                 in plans.rows())
    blocks.append(_Table(plans.header(), rows, frozenset({5, 6, 7})))
    return blocks


def _finding_rows(findings: list[Finding], note: str) -> tuple[tuple[_Line, ...], ...]:
    return tuple((_cell(f.rule), _cell(_code(f.subject) if f.subject else _t("(design)")),
                  _cell(f.waiver if note == "waiver" else f.message),
                  *((_cell(f.remediation),) if note == "fix" else ()))
                 for f in findings)


def _counting(assessment: Assessment, counts: dict[str, int]) -> tuple[_Span, ...]:
    """The sentence that counts rules and findings, each labelled: a rule gives a finding
    per subject it checks, so the findings outnumber the rules.

    Example:
        >>> import designkit as dk, re
        >>> a = dk.assess(dk.template("dashboard-slow"))
        >>> text = "".join(s.text for s in _counting(a, a.summary()["by_status"]))
        >>> re.sub("[0-9]+(,[0-9]{3})*", "N", text).split(", ")[0]
        'N rules ran (N with a failure); N findings: N failed'
    """
    failing = len({f.rule for f in assessment.failed()})
    findings = len(assessment.findings)
    return (_t(f"{_plural(len(assessment.rules), 'rule')} ran ({failing:,} with a failure); "
               f"{_plural(findings, 'finding')}: "), _b(f"{counts['fail']:,} failed"),
            _t(f", {counts['pass']:,} passed, {counts['needs-data']:,} need data, "
               f"{counts['needs-attestation']:,} need an attestation, "
               f"{counts['waived']:,} waived, {counts['not-applicable']:,} not applicable"
               + (" (audit: every waiver ignored)." if assessment.audit else ".")))


def _assessment(design: Design, assessment: Assessment) -> list[_Block]:
    counts = assessment.summary()["by_status"]
    blocks: list[_Block] = [_Heading(2, "Assessment"), _p(*_counting(assessment, counts))]
    blocks.append(_Table(("status", "findings"),
                         tuple((_cell(k), _cell(str(v))) for k, v in counts.items()),
                         frozenset({1})))
    failed = assessment.failed()
    blocks.append(_Heading(3, "Failures"))
    if not failed:
        blocks.append(_p("No rule fails."))
    for severity in sorted(Severity, key=lambda s: -s.rank):
        these = [f for f in failed if f.severity is severity]
        if these:
            blocks += [_Heading(4, f"{severity.value.capitalize()} ({len(these)})"),
                       _Table(("rule", "subject", "finding", "fix"),
                              _finding_rows(these, "fix"))]
    for status, title, header in (
            (Status.NEEDS_DATA, "Needs data", "what is missing"),
            (Status.NEEDS_ATTESTATION, "Needs an attestation", "what a person must confirm")):
        items = [f for f in assessment.ordered() if f.status is status]
        blocks.append(_Heading(3, f"{title} ({len(items)})"))
        if items:
            blocks.append(_Table(("rule", "subject", header), _finding_rows(items, "message")))
        else:
            blocks.append(_p("None."))
    blocks.append(_Heading(3, "Waivers"))
    waived = [f for f in assessment.ordered() if f.status is Status.WAIVED]
    if waived:
        blocks.append(_Table(("rule", "subject", "reason"), _finding_rows(waived, "waiver")))
    elif assessment.audit and design.waivers:
        blocks.append(_p(f"Audit: waivers ignored. The design declares "
                         f"{_plural(len(design.waivers), 'waiver')}; the findings they "
                         "cover are counted above."))
        blocks.append(_Table(("waiver", "owner", "reason"), tuple(
            (_cell(_code(w.finding)), _cell(w.owner), _cell(w.reason))
            for w in design.waivers)))
    else:
        blocks.append(_p("No finding is waived."))
    if assessment.unused_waivers:
        blocks += [_Heading(3, f"Unused waivers ({len(assessment.unused_waivers)})"),
                   _p("These waivers match no finding: remove them."),
                   _Table(("waiver", "owner", "reason"), tuple(
                       (_cell(_code(w.finding)), _cell(w.owner), _cell(w.reason))
                       for w in assessment.unused_waivers))]
    return blocks


# -- entry point -------------------------------------------------------------------------


def write_report(design: Design, out_dir: Path, estimate: Estimate | None = None,
                 assessment: Assessment | None = None) -> Path:
    """Write a report of ``design`` into ``out_dir``: Markdown, HTML and the SVGs beside them.

    The files are ``<name>.md``, ``<name>.html`` (self-contained: the SVGs inlined),
    ``<name>-architecture.svg`` (coloured by the estimate, badged by the assessment),
    ``<name>-data.svg``, ``<name>-saga-<saga>.svg`` per saga, and — when an endpoint
    receives traffic — ``<name>-p95-vs-load.svg`` and ``<name>-utilization.svg``, where
    ``<name>`` is the design's name made safe for a file name. A "Query plans" table lists
    every query's plan now and after :data:`PLAN_DAYS` days. Existing files are
    overwritten; nothing depends on the clock.

    Args:
        design: The design.
        out_dir: The directory (created if missing).
        estimate: The estimate to report; by default, at the design's workload (none when
            it has no workload). The p95-vs-load plot always scales the design's workload.
        assessment: The review to report; by default ``assess(design, estimate)``.

    Returns:
        The path of the Markdown file.

    Raises:
        MissingDependencyError: Graphviz's ``dot`` is not installed.

    Example:
        >>> import designkit as dk, tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as out:
        ...     md = write_report(dk.template("flash-sale"), pathlib.Path(out))
        ...     sorted(p.name for p in md.parent.glob("*.svg"))[:2]
        ['flash-sale-architecture.svg', 'flash-sale-data.svg']
    """
    if estimate is None and design.loaded:
        from designkit.estimate.api import estimate as run_estimate

        estimate = run_estimate(design)
    if assessment is None:
        from designkit.assess.engine import assess

        assessment = assess(design, estimate=estimate)
    stem = _slug(design.name)
    title = f"{design.name} — design report"
    blocks: list[_Block] = [_Heading(1, title)]
    if design.description:
        blocks.append(_p(design.description))
    blocks += _summary(design)
    diagrams, files = _diagrams(design, stem, estimate, assessment)
    numbers, plot_files = _estimate(design, stem, estimate)
    blocks += diagrams + numbers + _plans(design) + _assessment(design, assessment)
    files.update(plot_files)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    (out / f"{stem}.html").write_text(_html_page(title, blocks), encoding="utf-8",
                                      newline="\n")
    md = out / f"{stem}.md"
    md.write_text(_markdown(blocks), encoding="utf-8", newline="\n")
    return md
