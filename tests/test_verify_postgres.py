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


def test_import_a_live_schema_then_verify_it(postgres: str) -> None:
    from designkit.imports.postgres_schema import schema_from_postgres
    from designkit.imports.sql_schema import merge_schema

    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("""
            CREATE TABLE owners (id bigint PRIMARY KEY, email text UNIQUE NOT NULL);
            CREATE TABLE pets (id bigint PRIMARY KEY, tag varchar(20),
                               owner_id bigint NOT NULL REFERENCES owners (id),
                               attrs jsonb, born timestamptz);
            CREATE INDEX pets_owner ON pets (owner_id);
            CREATE INDEX pets_attrs ON pets USING gin (attrs);
            CREATE INDEX pets_live ON pets (tag) WHERE born IS NOT NULL;
            CREATE TABLE visits (id bigint, at timestamptz, PRIMARY KEY (id, at))
                PARTITION BY RANGE (at);
            INSERT INTO owners SELECT g, 'o' || g || '@example.com' FROM generate_series(1, 50) g;
            ANALYZE owners;
        """)
    result = schema_from_postgres(postgres, database="pets-db")
    tables = result.data["tables"]
    assert tables["owners"] == {"rows": 50, "columns": {
        "id": {"type": "bigint", "primary_key": True, "nullable": False},
        "email": {"type": "text", "nullable": False, "unique": True}}}
    assert tables["pets"]["columns"]["owner_id"] == {"type": "bigint",
                                                     "references": "owners.id",
                                                     "nullable": False}
    assert tables["pets"]["columns"]["tag"]["type"] == "varchar(20)"
    assert [(i["columns"], i.get("kind", "btree")) for i in tables["pets"]["indexes"]] == [
        (["owner_id"], "btree"), (["attrs"], "gin"), (["tag"], "btree")]
    assert tables["visits"]["partitioning"] == {"key": ["at"], "kind": "range"}
    assert "pets: index pets_live (tag) is partial (WHERE (born IS NOT NULL)): imported as a " \
        "full index (the model has no predicate)" in result.notes
    # the imported schema, queried by a design: verify agrees on the same database
    design = dk.Design(name="pets")
    ep = design.service("api").endpoint("GET /owners/{id}/pets")
    ep.call("pets-db", query={"table": "pets", "where": ["owner_id"]})
    ep.call("pets-db", query={"table": "owners", "where": ["email"]})
    design, _ = merge_schema(design, result)
    checked = verify_postgres(design, "pets-db", postgres)
    assert [(c.database_access, c.agrees) for c in checked.checks] == [("seek", True),
                                                                        ("seek", True)]


def test_the_import_command_reads_a_postgresql_url(postgres: str, tmp_path: object) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from designkit.cli import cli

    _schema(postgres, "dashboard-fixed")
    out = Path(str(tmp_path)) / "imported.yaml"
    result = CliRunner().invoke(cli, ["import", "schema", postgres, "--database", "app-db",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    imported = dk.load(out)
    payments = imported.components["app-db"].tables["payments"]  # type: ignore[union-attr]
    assert [i.columns for i in payments.indexes] == [["order_id"], ["merchant_id",
                                                                    "created_at"]]
