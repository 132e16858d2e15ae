"""The DDL from one design's schema to the next, its dangers named with their cost — and,
for SQLite, run on a real database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from designkit.migration import migration


def _changed() -> tuple[dk.Design, dk.Design]:
    old, new = dk.template("flash-sale"), dk.template("flash-sale")
    orders = new.components["orders-db"].tables["orders"]  # type: ignore[union-attr]
    orders.column("channel", "text", nullable=False)
    orders.columns["total_cents"].type = "numeric(12,2)"
    del orders.columns["shipping_address"]
    orders.index("status", "created_at")
    views = new.components["order-read-db"].tables["order_views"]  # type: ignore[union-attr]
    views.columns.pop("sku_name")
    del new.components["orders-db"].tables["outbox"]  # type: ignore[union-attr]
    return old, new


def test_the_fix_of_the_slow_dashboard_is_two_concurrent_index_builds() -> None:
    m = migration(dk.template("dashboard-slow"), dk.template("dashboard-fixed"))
    assert str(m) == (
        "CREATE INDEX CONCURRENTLY payments_order ON payments (order_id);\n"
        "CREATE INDEX CONCURRENTLY payments_merchant_created ON payments (merchant_id, "
        "created_at);\n")
    assert m.dangers == []


def test_each_danger_is_named_with_its_cost() -> None:
    m = migration(*_changed())
    dangers = {s.sql: s.danger for s in m.dangers}
    # 50 M rows × write_row_ms 0.05 ms = 2,500 s; a rewrite is a lower bound
    assert dangers["ALTER TABLE orders ALTER COLUMN total_cents TYPE DECIMAL(12, 2)"] == (
        "orders.total_cents bigint → numeric(12,2): rewrites all 50,000,000 rows under an "
        "exclusive lock (≥ 41.7 min: rows × write_row_ms)")
    assert dangers["ALTER TABLE orders ADD COLUMN channel TEXT NOT NULL"].startswith(
        "orders.channel NOT NULL without a default fails on the 50,000,000 existing rows")
    assert dangers["ALTER TABLE orders DROP COLUMN shipping_address"] == (
        "orders.shipping_address: its data (50,000,000 rows) is lost")
    assert dangers["ALTER TABLE order_views DROP COLUMN sku_name"] == (
        "order_views.sku_name: its data (22,000,000 rows) is lost")
    assert dangers["DROP TABLE outbox"] == "outbox: the table and its data (10,000 rows) are lost"
    # orders is partitioned: PostgreSQL cannot build its index CONCURRENTLY
    index = "CREATE INDEX orders_status_created_at_idx ON ONLY orders (status, created_at)"
    assert dangers[index].startswith("orders is partitioned: PostgreSQL cannot build its "
                                     "index CONCURRENTLY")
    assert [s.sql for s in m.statements if s.danger is None] == []


def test_a_dropped_column_a_query_still_reads_is_named() -> None:
    # (a design file that does this does not load: the query names a missing column; the
    # migration says what it would break for a design built in code)
    old, new = dk.template("flash-sale"), dk.template("flash-sale")
    views = new.components["order-read-db"].tables["order_views"]  # type: ignore[union-attr]
    views.columns.pop("user_id")  # read by GET /v1/orders
    [drop] = migration(old, new).statements
    assert (drop.sql, drop.danger) == (
        "ALTER TABLE order_views DROP COLUMN user_id",
        "order_views.user_id is still read by a query of the new design: the query fails")


def test_a_new_partitioned_table_is_created_partitioned() -> None:
    old, new = dk.template("dashboard-fixed"), dk.template("dashboard-fixed")
    new.components["app-db"].table(  # type: ignore[union-attr]
        "events", rows=0, partitioning={"key": ["created_at"], "kind": "range"}, columns={
            "id": {"type": "uuid", "primary_key": True},
            "created_at": {"type": "timestamptz", "primary_key": True},
            "merchant_id": {"type": "uuid", "references": "merchants.id"}})
    [create] = migration(old, new).statements
    assert create.sql == (
        "CREATE TABLE events (id UUID, created_at TIMESTAMPTZ, merchant_id UUID, PRIMARY KEY "
        "(id, created_at), FOREIGN KEY (merchant_id) REFERENCES merchants (id)) PARTITION BY "
        "RANGE (created_at)")
    assert create.danger is None


def test_names_are_quoted_per_dialect() -> None:
    old, new = dk.template("dashboard-fixed"), dk.template("dashboard-fixed")
    new.components["app-db"].table("order", rows=0, columns={  # type: ignore[union-attr]
        "id": {"type": "uuid", "primary_key": True}})
    assert migration(old, new, "postgres").statements[0].sql.startswith('CREATE TABLE "order"')
    assert migration(old, new, "mysql").statements[0].sql.startswith("CREATE TABLE `order`")


def test_the_sqlite_script_runs_on_a_real_database(tmp_path: Path) -> None:
    old, new = dk.template("dashboard-slow"), dk.template("dashboard-fixed")
    new.components["app-db"].tables["payments"].column("note", "text")  # type: ignore
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT, merchant_id TEXT, "
               "created_at TEXT)")
    db.executescript(str(migration(old, new, "sqlite")))
    indexes = {row[1] for row in db.execute("PRAGMA index_list(payments)")}
    assert {"payments_order", "payments_merchant_created"} <= indexes
    assert "note" in {row[1] for row in db.execute("PRAGMA table_info(payments)")}
    db.close()


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="use one of postgres, mysql, sqlite"):
        migration(dk.template("flash-sale"), dk.template("flash-sale"), "oracle")  # type: ignore


def test_the_command_writes_sql_or_json(tmp_path: Path) -> None:
    old, new = _changed()
    a, b = tmp_path / "old.yaml", tmp_path / "new.yaml"
    dk.save(old, a)
    dk.save(new, b)
    runner = CliRunner()
    sql = runner.invoke(cli, ["migrate", str(a), str(b), "--database", "orders-db"])
    assert sql.exit_code == 0
    assert sql.output.splitlines()[0].startswith("-- DANGER: orders.total_cents bigint")
    assert "order_views" not in sql.output
    data = json.loads(runner.invoke(cli, ["migrate", str(a), str(b), "--dialect", "mysql",
                                          "--json"]).output)
    assert data["dialect"] == "mysql" and len(data["statements"]) == 6
    same = runner.invoke(cli, ["migrate", str(a), str(a)])
    assert same.output == "-- no schema change\n"
    typo = runner.invoke(cli, ["migrate", str(a), str(b), "--database", "orders-dbb"])
    assert typo.exit_code == 2 and "has no database 'orders-dbb'" in typo.output
