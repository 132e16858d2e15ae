"""``designkit plan FILE``: every query's plan as a text table or JSON; bad files are
refused as the other commands refuse them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from designkit.cli import main

ROOT = Path(__file__).resolve().parents[1]

DESIGN = """\
designkit: 1
name: plans
components:
  api:
    kind: service
    endpoints:
      "GET /users/{id}/events":
        steps:
          - call: db
            query: {table: events, where: [user_id], order_by: [created_at], limit: 20}
          - call: db
            query: {table: events, where: [user_id], rows: 200000}
      "GET /revenue":
        steps:
          - call: db
            query: {table: events, range: created_at, selectivity: 0.0001, aggregate: true}
  worker:
    kind: service
    endpoints:
      "POST /jobs/expire":
        steps:
          - call: db
            query: {table: events, kind: delete, range: created_at, rows: 1000}
  db:
    kind: database
    tables:
      events:
        rows: 12000000
        growth_per_day: 100000
        columns: {id: {type: uuid, primary_key: true}, user_id: {type: uuid},
                  created_at: {type: timestamptz}}
        indexes:
          - {columns: [user_id, created_at]}
          - {columns: [created_at], kind: hash}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture()
def design(tmp_path: Path) -> str:
    path = tmp_path / "plans.yaml"
    path.write_text(DESIGN, encoding="utf-8")
    return str(path)


def test_plan_prints_every_query_as_a_table(capsys: pytest.CaptureFixture[str],
                                            design: str) -> None:
    code, out, err = run(capsys, "plan", design)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["endpoint", "step", "table", "shape", "access", "rows", "read",
                                "ms", "now", "ms", "in", "365", "days", "why"]
    assert len(lines) == 5  # the header and four queries, the worker's included
    top, many, revenue, expire = lines[1:]
    assert "steps[0]" in top and "top-n" in top and "btree (user_id, created_at)" in top
    assert top.endswith("btree index (user_id, created_at) serves equality on user_id, "
                        "order by created_at")
    # 200,000 rows by index (4,000 ms) or a 600 ms scan: the scan; 48.5 M rows in a year
    assert re.search(r"range +scan +12,000,000 +600 +2,425 +scan cheaper than reading "
                     r"200,000 rows by index \(user_id, created_at\)$", many)
    assert "aggregate" in revenue and "worker POST /jobs/expire" in expire
    assert "no index serves a range on created_at: hash (created_at) serves only equality " \
        "on postgres" in expire


def test_plan_json_has_the_numbers(capsys: pytest.CaptureFixture[str], design: str) -> None:
    code, out, _ = run(capsys, "plan", design, "--json", "--days", "30")
    assert code == 0
    data = json.loads(out)
    assert data["days"] == 30
    plans = data["plans"]
    assert [p["shape"] for p in plans] == ["top-n", "range", "aggregate", "range"]
    many = plans[1]
    assert (many["access"], many["ms"], many["rows_read"]) == ("scan", 600.0, 12_000_000)
    assert many["reason"] == "scan cheaper than reading 200,000 rows by index (user_id, " \
        "created_at)"
    assert many["then"]["ms"] == pytest.approx(15_000_000 * 0.05 / 1000)  # 750 ms
    revenue = plans[2]
    # 0.01 % of 12 M rows = 1,200 rows; a hash index cannot serve the range and no B-tree
    # leads with created_at: a scan
    assert (revenue["access"], revenue["rows_matched"]) == ("scan", pytest.approx(1_200))
    top = plans[0]
    assert top["index"] == ["user_id", "created_at"] and top["index_kind"] == "btree"
    assert top["rows_read"] == 20 and top["ms"] == pytest.approx(0.5 + 19 * 0.02)
    assert top["rows_assumed"] is True and top["subject"].endswith('"GET /users/{id}/events"'
                                                                   ".steps[0]")
    expire = plans[3]
    assert expire["ms"] == pytest.approx(600.0 + 1.0 + 999 * 0.05)  # scan, then the writes


def test_a_typo_in_the_file_is_refused_as_by_the_other_commands(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DESIGN.replace("kind: database", "kind: databse"), encoding="utf-8")
    code, out, err = run(capsys, "plan", str(bad))
    assert code == 2 and out == ""
    assert "components.db.kind: unknown kind 'databse'" in err and "did you mean 'database'" \
        in err
    assert run(capsys, "estimate", str(bad))[2] == err
    code, _, err = run(capsys, "plan", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such design file" in err


def test_plan_of_a_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", str(ROOT / "templates" / "dashboard-slow.yaml"))
    assert code == 0
    assert "no index serves equality on order_id" in out


def test_a_bad_days_option_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                            design: str) -> None:
    code, _, err = run(capsys, "plan", design, "--days", "-1")
    assert code == 2 and "--days" in err
