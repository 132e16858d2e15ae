"""Query plans held against a real SQLite database: agreeing seeks and scans, a design that
counts on an index the database lacks, and the round trip from `import schema`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from designkit.imports.sql_schema import merge_schema, schema_from_sqlite
from designkit.migration import migration
from designkit.verify import VerifyError, query_sql, verify_sqlite


def _database(tmp_path: Path, template: str) -> Path:
    """A real SQLite file with ``template``'s schema (written by designkit's migration)."""
    path = tmp_path / f"{template}.db"
    with sqlite3.connect(path) as db:
        db.executescript(str(migration(dk.Design(name="empty"), dk.template(template),
                                       "sqlite")))
    return path


def test_the_sql_a_query_stands_for() -> None:
    assert query_sql(dk.Query(table="payments", where=["order_id"], batch=3)) == (
        "SELECT * FROM payments WHERE order_id IN (?, ?, ?)", 3)
    assert query_sql(dk.Query(table="stock", kind="update", where=["sku_id"])) == (
        "UPDATE stock SET _designkit_ = ? WHERE sku_id = ?", 2)
    assert query_sql(dk.Query(table="order", kind="delete", where=["id"])) == (
        'DELETE FROM "order" WHERE id = ?', 1)


def test_a_design_agrees_with_its_own_database(tmp_path: Path) -> None:
    paths = {t: _database(tmp_path, t) for t in ("dashboard-slow", "dashboard-fixed")}
    for template, path in paths.items():
        result = verify_sqlite(dk.template(template), "app-db", path)
        assert len(result.checks) == 5 and result.mismatches == []
    slow = verify_sqlite(dk.template("dashboard-slow"), "app-db", paths["dashboard-slow"])
    loop = next(c for c in slow.checks if c.plan.place == "steps[2].loop.steps[0]")
    assert (loop.database_access, loop.detail) == ("scan", "SCAN payments")
    orders = next(c for c in slow.checks if c.plan.place == "steps[1]")
    assert orders.database_index == ("merchant_id", "created_at")


def test_an_index_the_database_lacks_is_a_mismatch(tmp_path: Path) -> None:
    result = verify_sqlite(dk.template("dashboard-fixed"), "app-db",
                           _database(tmp_path, "dashboard-slow"))
    assert [c.plan.place for c in result.mismatches] == ["steps[2]", "steps[3].on_miss[0]"]
    assert result.mismatches[0].message == (
        "designed as a seek on (order_id); SQLite scans payments: no index there serves "
        "equality on order_id")


def test_import_then_verify_the_same_database(tmp_path: Path) -> None:
    # a real database; its schema imported into a design whose queries use an index on
    # payments and one the database does not have
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT, status TEXT);
            CREATE INDEX payments_order ON payments (order_id);
            INSERT INTO payments VALUES ('p1', 'o1', 'paid'), ('p2', 'o2', 'open');
        """)
    design = dk.Design(name="shop")
    ep = design.service("api").endpoint("GET /payments")
    ep.call("shop", query={"table": "payments", "where": ["order_id"]})
    ep.call("shop", query={"table": "payments", "where": ["status"]})
    design, _changes = merge_schema(design, schema_from_sqlite(path))
    result = verify_sqlite(design, "shop", path)
    assert [c.agrees for c in result.checks] == [True, True]  # a seek, and a scan, on both
    # the design states an index the database lacks: one mismatch
    design.components["shop"].tables["payments"].index("status")  # type: ignore[union-attr]
    result = verify_sqlite(design, "shop", path)
    assert [c.agrees for c in result.checks] == [True, False]


def test_the_command_gates_ci_on_mismatches(tmp_path: Path) -> None:
    db = _database(tmp_path, "dashboard-slow")
    design = tmp_path / "fixed.yaml"
    design.write_text(dk.template_text("dashboard-fixed"), encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(cli, ["verify", str(design), "--database", f"app-db={db}"])
    assert text.exit_code == 0
    assert text.output.startswith("app-db against SQLite: 5 queries, 2 mismatch(es)\n")
    gated = runner.invoke(cli, ["verify", str(design), "--database", f"app-db={db}",
                                "--fail-on-mismatch", "--format", "json"])
    assert gated.exit_code == 1 and json.loads(gated.output)["mismatches"] == 2
    markdown = runner.invoke(cli, ["verify", str(design), "--database", f"app-db={db}",
                                   "--format", "markdown"])
    assert "| `dashboard-api GET /v1/dashboard` | `steps[2]` | btree (order_id) | SCAN " \
        "payments | **no** |" in markdown.output


def test_bad_targets_are_one_clear_error_without_the_password(tmp_path: Path) -> None:
    design = tmp_path / "d.yaml"
    design.write_text(dk.template_text("dashboard-fixed"), encoding="utf-8")
    runner = CliRunner()
    pg = runner.invoke(cli, ["verify", str(design), "--database",
                             "app-db=postgresql://ana:s3cret@127.0.0.1:1/shop"])
    assert pg.exit_code == 2
    assert "postgresql://127.0.0.1:1/shop: cannot connect" in pg.output
    assert "s3cret" not in pg.output and "Traceback" not in pg.output
    other = runner.invoke(cli, ["verify", str(design), "--database",
                                "app-db=mysql://ana:s3cret@db:3306/shop"])
    assert other.exit_code == 2 and "mysql://db:3306/shop: a SQLite file or a postgresql" \
        in other.output and "s3cret" not in other.output
    missing = runner.invoke(cli, ["verify", str(design), "--database",
                                  f"app-db={tmp_path / 'nope.db'}"])
    assert missing.exit_code != 0 and "nope.db: no such SQLite file" in missing.output
    with pytest.raises(VerifyError, match="has no database 'app-dbb'"):
        verify_sqlite(dk.template("dashboard-fixed"), "app-dbb", tmp_path / "x.db")
    not_sqlite = tmp_path / "x.db"
    not_sqlite.write_text("hello", encoding="utf-8")
    with pytest.raises(VerifyError, match="cannot read it as a SQLite database"):
        verify_sqlite(dk.template("dashboard-fixed"), "app-db", not_sqlite)
