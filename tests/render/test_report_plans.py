"""The report's "Query plans" table: built from ``query_plans``, the rows ``designkit plan``
prints, in Markdown and HTML."""

from __future__ import annotations

from pathlib import Path

import designkit as dk
from designkit.render.report import PLAN_DAYS, _markdown, _plans, _Table, write_report


def test_the_plan_section_is_the_plan_commands_rows() -> None:
    design = dk.template("dashboard-slow")
    blocks = _plans(design)
    [table] = [b for b in blocks if isinstance(b, _Table)]
    plans = dk.query_plans(design, days=PLAN_DAYS)
    assert table.header == plans.header()
    assert table.header[-2:] == ("ms in 365 days", "why")
    texts = [tuple("".join(s.text for s in cell) for cell in row) for row in table.rows]
    assert texts == plans.rows()
    md = _markdown(blocks)
    assert "## Query plans" in md
    assert "| `dashboard-api GET /v1/dashboard` | `steps[2].loop.steps[0]` | " \
           "`app-db.payments` | point | scan | 2,280,000 | 150 | 343 | no index serves " \
           "equality on order_id |" in md


def test_a_design_without_queries_says_so() -> None:
    md = _markdown(_plans(dk.Design(name="x")))
    assert "No endpoint calls a database with a query." in md


def test_the_written_report_has_the_table(tmp_path: Path) -> None:
    md = write_report(dk.template("dashboard-fixed"), tmp_path)
    text = md.read_text(encoding="utf-8")
    assert text.index("## Query plans") < text.index("## Assessment")
    assert "btree (merchant_id, created_at)" in text
    page = md.with_suffix(".html").read_text(encoding="utf-8")
    assert "<h2>Query plans</h2>" in page and "<th>ms in 365 days</th>" in page
