"""Query plans held against a real PostgreSQL (a throwaway cluster): the design's seeks and
scans beside the planner's, an index the database lacks, a URL that cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import designkit as dk
from designkit.migration import migration
from designkit.verify import VerifyError, verify_postgres
from tests.postgres_cluster import INSTALL, binaries, cluster

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.skipif(binaries() is None, reason=f"PostgreSQL: {INSTALL}")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with cluster() as url:
        yield url


def _schema(url: str, template: str, database: str | None = None) -> None:
    """The template's schema (one database's), written by designkit's own migration."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        for statement in migration(dk.Design(name="empty"), dk.template(template),
                                   database=database).statements:
            conn.execute(statement.sql)


def test_the_slow_dashboard_agrees_with_postgresql(postgres: str) -> None:
    _schema(postgres, "dashboard-slow")
    result = verify_postgres(dk.template("dashboard-slow"), "app-db", postgres)
    assert len(result.checks) == 5 and result.mismatches == []
    loop = next(c for c in result.checks if c.plan.place == "steps[2].loop.steps[0]")
    assert (loop.database_access, loop.detail) == ("scan", "Seq Scan on payments")
    orders = next(c for c in result.checks if c.plan.place == "steps[1]")
    assert orders.database_index == ("merchant_id", "created_at")


def test_an_index_postgresql_lacks_is_a_mismatch(postgres: str) -> None:
    _schema(postgres, "dashboard-slow")
    result = verify_postgres(dk.template("dashboard-fixed"), "app-db", postgres)
    assert [c.plan.place for c in result.mismatches] == ["steps[2]", "steps[3].on_miss[0]"]
    assert result.mismatches[0].message == (
        "designed as a seek on (order_id); PostgreSQL scans payments: no index there serves "
        "equality on order_id")
    _schema(postgres, "dashboard-fixed")  # the migration applied: they agree
    assert verify_postgres(dk.template("dashboard-fixed"), "app-db", postgres).mismatches == []


def test_an_update_is_explained_not_run(postgres: str) -> None:
    _schema(postgres, "payments-saga", "stock-db")
    with psycopg.connect(postgres, autocommit=True) as conn:
        sku = "00000000-0000-0000-0000-000000000001"
        conn.execute("INSERT INTO products VALUES (%s, %s, 'a pet', 100, 'EUR')", (sku, sku))
        conn.execute("INSERT INTO stock VALUES (%s, 5, 1)", (sku,))
    result = verify_postgres(dk.template("payments-saga"), "stock-db", postgres)
    update = next(c for c in result.checks if c.sql.startswith("UPDATE stock"))
    assert update.agrees and update.database_access == "seek"
    with psycopg.connect(postgres) as conn:
        assert conn.execute("SELECT available FROM stock").fetchone() == (5,)


def test_an_unreachable_database_is_one_error_without_the_password() -> None:
    with pytest.raises(VerifyError) as info:
        verify_postgres(dk.template("dashboard-fixed"), "app-db",
                        "postgresql://ana:s3cret@127.0.0.1:1/shop")
    assert str(info.value).startswith("postgresql://127.0.0.1:1/shop: cannot connect")
    assert "s3cret" not in str(info.value)


def test_the_command_reads_a_postgresql_url(postgres: str, tmp_path: object) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from designkit.cli import cli

    _schema(postgres, "dashboard-slow")
    design = Path(str(tmp_path)) / "fixed.yaml"
    design.write_text(dk.template_text("dashboard-fixed"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["verify", str(design), "--database",
                                      f"app-db={postgres}", "--fail-on-mismatch"])
    assert result.exit_code == 1
    assert result.output.startswith("app-db against PostgreSQL: 5 queries, 2 mismatch(es)\n")
