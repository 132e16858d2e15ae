"""``designkit import schema``: a real SQLite file and DDL scripts into design data."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from designkit.cli_import_schema import schema_command
from designkit.imports.sql_schema import (
    SchemaImportError,
    merge_schema,
    schema_from_ddl,
    schema_from_sqlite,
)

SQLITE_SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT
);
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    user_id INTEGER REFERENCES users(id),
    sku VARCHAR(20) NOT NULL,
    qty INT,
    PRIMARY KEY (order_id, line)
);
CREATE INDEX order_lines_sku ON order_lines (sku, qty);
CREATE UNIQUE INDEX order_lines_user_sku ON order_lines (user_id, sku);
CREATE INDEX order_lines_big ON order_lines (qty) WHERE qty > 10;
CREATE VIEW big_orders AS SELECT order_id FROM order_lines WHERE qty > 10;
INSERT INTO users VALUES (1, 'a@example.com', 'Ann'), (2, 'b@example.com', NULL);
INSERT INTO order_lines VALUES (7, 1, 1, 'sku-1', 3), (7, 2, 1, 'sku-2', 12),
                               (8, 1, 2, 'sku-1', 1);
"""

POSTGRES_DDL = """\
-- the shop's schema (pg_dump --schema-only, trimmed)
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    profile jsonb,
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE events (
    id bigint NOT NULL,
    user_id bigint,
    created_at timestamptz NOT NULL,
    kind text,
    PRIMARY KEY (id)
) PARTITION BY RANGE (created_at);

CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX users_profile ON users USING gin (profile);
CREATE UNIQUE INDEX CONCURRENTLY users_email_hash ON users USING hash (email);
CREATE INDEX events_kind ON events (kind) WHERE kind IS NOT NULL;
ALTER TABLE ONLY events ADD CONSTRAINT events_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
CREATE FUNCTION touch() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;
GRANT SELECT ON users TO reporting;
"""

MYSQL_DDL = """\
CREATE TABLE `orders` (
  `id` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `user_id` INT NOT NULL,
  `status` VARCHAR(20) NOT NULL DEFAULT 'new',
  `note` TEXT,
  PRIMARY KEY (`id`),
  UNIQUE KEY `orders_user_status` (`user_id`, `status`),
  KEY `orders_status` (`status`),
  FULLTEXT KEY `orders_note` (`note`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"""


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SQLITE_SCHEMA)
    conn.close()
    return path


@pytest.fixture
def shop_sql(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sql"
    path.write_text(POSTGRES_DDL, encoding="utf-8")
    return path


# -- SQLite --------------------------------------------------------------------------------

def test_sqlite_file_gives_tables_keys_indexes_and_counted_rows(shop_db: Path) -> None:
    result = schema_from_sqlite(shop_db)

    assert result.database == "shop"
    assert result.data == {
        "kind": "database",
        "engine": "sqlite",
        "tables": {
            "users": {
                "rows": 2,
                "columns": {
                    "id": {"type": "INTEGER", "primary_key": True, "nullable": False},
                    "email": {"type": "TEXT", "nullable": False, "unique": True},
                    "name": {"type": "TEXT"},
                },
            },
            "order_lines": {
                "rows": 3,
                "columns": {
                    "order_id": {"type": "INTEGER", "primary_key": True, "nullable": False},
                    "line": {"type": "INTEGER", "primary_key": True, "nullable": False},
                    "user_id": {"type": "INTEGER", "references": "users.id"},
                    "sku": {"type": "VARCHAR(20)", "nullable": False},
                    "qty": {"type": "INT"},
                },
                "indexes": [
                    {"columns": ["sku", "qty"], "name": "order_lines_sku"},
                    {"columns": ["user_id", "sku"], "unique": True,
                     "name": "order_lines_user_sku"},
                    {"columns": ["qty"], "name": "order_lines_big"},
                ],
            },
        },
    }
    assert result.notes == [
        "order_lines: index order_lines_big (qty) is partial (WHERE qty > 10): imported as "
        "a full index (the model has no predicate)",
        "not imported: view big_orders",
        "rows: counted with SELECT count(*) on each table",
    ]


def test_sqlite_file_is_read_without_being_changed(shop_db: Path) -> None:
    before = hashlib.sha256(shop_db.read_bytes()).hexdigest()
    schema_from_sqlite(shop_db, database="main")
    assert hashlib.sha256(shop_db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in shop_db.parent.iterdir()) == ["shop.db"]  # no journal


def test_a_file_that_is_not_sqlite_is_one_error_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "notes.db"
    fake.write_text("just some text, long enough to have a header\n")
    with pytest.raises(SchemaImportError) as err:
        schema_from_sqlite(fake)
    assert str(err.value).startswith(f"{fake}: not a SQLite database")
    assert isinstance(err.value, dk.DesignkitError) and isinstance(err.value, ValueError)


def test_a_missing_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaImportError, match="no such file"):
        schema_from_sqlite(tmp_path / "gone.db")
    with pytest.raises(SchemaImportError, match="no such file"):
        schema_from_ddl(tmp_path / "gone.sql")


# -- DDL ----------------------------------------------------------------------------------

def test_postgres_ddl_gives_kinds_partitioning_keys_and_notes(shop_sql: Path) -> None:
    result = schema_from_ddl(shop_sql)

    assert result.database == "shop"
    assert result.data == {
        "kind": "database",
        "engine": "postgres",
        "tables": {
            "users": {
                "columns": {
                    "id": {"type": "bigserial", "primary_key": True, "nullable": False},
                    "email": {"type": "varchar(255)", "nullable": False, "unique": True},
                    "profile": {"type": "jsonb"},
                    "created_at": {"type": "timestamptz", "nullable": False},
                },
                "indexes": [
                    {"columns": ["profile"], "kind": "gin", "name": "users_profile"},
                    {"columns": ["email"], "kind": "hash", "unique": True,
                     "name": "users_email_hash"},
                ],
            },
            "events": {
                "columns": {
                    "id": {"type": "bigint", "primary_key": True, "nullable": False},
                    "user_id": {"type": "bigint", "references": "users.id"},
                    "created_at": {"type": "timestamptz", "nullable": False},
                    "kind": {"type": "text"},
                },
                "indexes": [{"columns": ["kind"], "name": "events_kind"}],
                "partitioning": {"key": ["created_at"], "kind": "range"},
            },
        },
    }
    assert result.notes == [
        "line 17: not imported: events_2026, a partition of events (the parent's "
        "partitioning is imported)",
        "line 20: events: index events_kind (kind) is partial (WHERE kind IS NOT NULL): "
        "imported as a full index (the model has no predicate)",
        "line 22: not imported: CREATE FUNCTION touch",
        "line 23: not imported: GRANT SELECT ON users TO reporting",
    ]


def test_mysql_ddl_reads_keys_and_fulltext_indexes() -> None:
    result = schema_from_ddl(MYSQL_DDL, dialect="mysql", database="orders-db")

    assert result.database == "orders-db"
    assert result.data == {
        "kind": "database",
        "engine": "mysql",
        "tables": {"orders": {
            "columns": {
                "id": {"type": "int unsigned", "primary_key": True, "nullable": False},
                "user_id": {"type": "int", "nullable": False},
                "status": {"type": "varchar(20)", "nullable": False},
                "note": {"type": "text"},
            },
            "indexes": [
                {"columns": ["user_id", "status"], "unique": True,
                 "name": "orders_user_status"},
                {"columns": ["status"], "name": "orders_status"},
                {"columns": ["note"], "kind": "fulltext", "name": "orders_note"},
            ],
        }},
    }
    assert result.notes == []


def test_alter_table_constraints_and_composite_keys_are_read_or_noted() -> None:
    result = schema_from_ddl("""
        CREATE TABLE a (x int, y int, z int);
        CREATE TABLE b (x int, y int, a_z int);
        ALTER TABLE a ADD CONSTRAINT a_pk PRIMARY KEY (x, y);
        ALTER TABLE a ADD CONSTRAINT a_z UNIQUE (z);
        ALTER TABLE b ADD CONSTRAINT b_a FOREIGN KEY (x, y) REFERENCES a (x, y);
        ALTER TABLE b ADD FOREIGN KEY (a_z) REFERENCES a (z);
        ALTER TABLE b ALTER COLUMN y SET NOT NULL;
        CREATE INDEX a_lower ON a (lower(z::text));
    """, database="db")

    tables = result.data["tables"]
    assert tables["a"]["columns"] == {
        "x": {"type": "int", "primary_key": True, "nullable": False},
        "y": {"type": "int", "primary_key": True, "nullable": False},
        "z": {"type": "int", "unique": True},
    }
    assert tables["b"]["columns"] == {
        "x": {"type": "int"},
        "y": {"type": "int", "nullable": False},
        "a_z": {"type": "int", "references": "a.z"},
    }
    assert result.notes == [
        "line 9: a: index a_lower on (LOWER(CAST(z AS TEXT))) is on an expression: not "
        "imported (the model indexes columns)",
        "b: composite foreign key (x, y) → a(x, y) not imported: `references` names one "
        "column",
    ]


def test_pg_dump_style_names_schemas_and_unknown_kinds_are_kept_or_noted() -> None:
    result = schema_from_ddl("""\
SET statement_timeout = 0;
CREATE TABLE app."Orders" (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    "userId" integer,
    tags text[],
    total numeric(12,2) NOT NULL,
    CONSTRAINT positive CHECK (total >= 0)
);
ALTER TABLE app."Orders" OWNER TO app;
ALTER TABLE ONLY app."Orders" ADD CONSTRAINT "Orders_pkey" PRIMARY KEY (id);
CREATE INDEX "Orders_userId_idx" ON app."Orders" USING btree ("userId");
CREATE INDEX orders_tags ON app."Orders" USING spgist (tags);
""", database="app")

    assert result.data["tables"] == {"Orders": {
        "columns": {
            "id": {"type": "uuid", "primary_key": True, "nullable": False},
            "userId": {"type": "int"},
            "tags": {"type": "text[]"},
            "total": {"type": "decimal(12, 2)", "nullable": False},
        },
        "indexes": [{"columns": ["userId"], "name": "Orders_userId_idx"},
                    {"columns": ["tags"], "kind": "gist", "name": "orders_tags"}],
    }}
    assert result.notes == [
        "line 1: not imported: SET statement_timeout = 0",
        'line 9: not imported: ALTER TABLE app."Orders" OWNER TO app',
        "line 12: Orders: index orders_tags USING spgist read as gist",
        "tables are named without their schema (app)",
    ]


def test_a_create_table_sqlglot_cannot_read_is_named_in_the_notes() -> None:
    result = schema_from_ddl("CREATE TABLE t (id INT) PARTITION BY HASH (id) PARTITIONS 4;",
                             dialect="mysql", database="db")
    assert result.data["tables"] == {}
    assert result.notes == ["line 1: not imported: CREATE TABLE t — sqlglot does not "
                            "understand this mysql statement"]


def test_sqlite_multi_column_unique_constraint_is_a_unique_index(tmp_path: Path) -> None:
    path = tmp_path / "pairs.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pairs (a TEXT, b TEXT, UNIQUE (a, b))")
    conn.close()
    result = schema_from_sqlite(path)
    assert result.data["tables"]["pairs"] == {
        "rows": 0, "columns": {"a": {"type": "TEXT"}, "b": {"type": "TEXT"}},
        "indexes": [{"columns": ["a", "b"], "unique": True}]}


def test_ddl_sqlglot_cannot_parse_is_one_error_with_file_line_and_column(
        tmp_path: Path) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (\n  id int,\n  x int int int\n);\n")
    with pytest.raises(SchemaImportError) as err:
        schema_from_ddl(bad)
    assert str(err.value) == (f"{bad}:3:11: sqlglot cannot parse it as postgres SQL: "
                              "Expecting )")
    assert (err.value.line, err.value.column) == (3, 11)


def test_an_unterminated_string_is_located() -> None:
    with pytest.raises(SchemaImportError) as err:
        schema_from_ddl("CREATE TABLE t (\n  a text DEFAULT 'abc);\n")
    assert (err.value.line, err.value.column) == (2, 18)


def test_an_unknown_dialect_is_one_error() -> None:
    with pytest.raises(SchemaImportError, match="Unknown dialect 'postgis'"):
        schema_from_ddl("CREATE TABLE t (id int);", dialect="postgis")


# -- in a design ------------------------------------------------------------------------------

def test_imported_database_validates_and_is_assessed(shop_sql: Path) -> None:
    result = schema_from_ddl(shop_sql)
    design, changes = merge_schema(dk.Design(name="shop"), result)

    assert changes == ["added database shop (2 tables)"]
    assert design.validate() is design
    failed = [f for f in dk.assess(design).failed() if f.rule == "DK-DB-008"]
    assert [f.subject for f in failed] == ["components.shop.tables.events"]
    assert "created_at" in failed[0].message


def test_merge_keeps_what_the_user_wrote_and_reports_changes() -> None:
    design = dk.load("""
designkit: 1
name: shop
components:
  shop:
    kind: database
    cores: 16
    pool_size: 20
    tables:
      users:
        rows: 2000000
        growth_per_day: 500
        columns:
          id: {type: bigserial, primary_key: true, nullable: false}
          email: {type: text, sensitive: true}
          nickname: {type: text}
      legacy_audit:
        rows: 10
""")
    result = schema_from_ddl(POSTGRES_DDL, database="shop")

    merged, changes = merge_schema(design, result)

    db = merged.components["shop"]
    assert isinstance(db, dk.Database)
    assert (db.cores, db.pool_size, db.engine) == (16, 20, "postgres")
    users = db.tables["users"]
    assert (users.rows, users.growth_per_day) == (2_000_000, 500)
    assert users.columns["email"].sensitive and users.columns["email"].type == "varchar(255)"
    assert list(users.columns) == ["id", "email", "profile", "created_at"]
    assert db.tables["legacy_audit"].rows == 10
    assert db.tables["events"].partitioning == dk.Partitioning(key=["created_at"])
    assert changes == [
        "users.email: type text → varchar(255)",
        "users.email: nullable true → false",
        "users.email: unique false → true",
        "users.profile: column added (jsonb)",
        "users.created_at: column added (timestamptz)",
        "users.nickname: column removed",
        "users: index (profile) added",
        "users: index (email) added",
        "added table events",
        "kept table legacy_audit: not in the imported schema",
    ]
    assert design.components["shop"].tables["users"].columns["email"].type == "text"  # type: ignore[union-attr]


def test_merge_refuses_a_component_of_another_kind() -> None:
    design = dk.Design(name="x")
    design.service("shop")
    with pytest.raises(SchemaImportError, match="'shop' is a service, not a database"):
        merge_schema(design, schema_from_ddl("CREATE TABLE t (id int);", database="shop"))


# -- the command ----------------------------------------------------------------------------

def test_cli_writes_a_design_that_validates(shop_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "design.yaml"
    result = CliRunner().invoke(schema_command, [str(shop_db), "-o", str(out)])

    assert result.exit_code == 0, result.output
    assert "note: not imported: view big_orders" in result.stderr
    assert f"wrote {out}" in result.stderr
    loaded = dk.load(out)
    assert loaded.name == "design"
    assert loaded.components["shop"].model_dump(exclude_defaults=True)["tables"]["users"][
        "rows"] == 2
    checked = CliRunner().invoke(cli, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert f"{out}: ok" in checked.stdout


def test_cli_prints_the_design_without_o(shop_sql: Path) -> None:
    result = CliRunner().invoke(schema_command, [str(shop_sql), "--database", "main"])

    assert result.exit_code == 0, result.output
    printed = dk.load(result.stdout)
    assert set(printed.components) == {"main"}
    assert "note: line 22: not imported: CREATE FUNCTION touch" in result.stderr


def test_cli_into_merges_keeps_cores_and_rows_and_prints_changes(tmp_path: Path) -> None:
    target = tmp_path / "design.yaml"
    target.write_text("designkit: 1\nname: shop\ncomponents:\n  shop:\n    kind: database\n"
                      "    cores: 32\n    tables:\n      users:\n        rows: 900000\n"
                      "        columns:\n          id: {type: bigserial, primary_key: true, "
                      "nullable: false}\n")
    ddl = tmp_path / "schema.sql"
    ddl.write_text(POSTGRES_DDL)

    result = CliRunner().invoke(schema_command, [str(ddl), "--database", "shop",
                                                 "--into", str(target)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "users.email: column added (varchar(255))",
        "users.profile: column added (jsonb)",
        "users.created_at: column added (timestamptz)",
        "users: index (profile) added",
        "users: index (email) added",
        "added table events",
    ]
    db = dk.load(target).components["shop"]
    assert isinstance(db, dk.Database)
    assert (db.cores, db.tables["users"].rows) == (32, 900_000)
    assert set(db.tables) == {"users", "events"}


def test_cli_not_sqlite_is_one_error_line(tmp_path: Path) -> None:
    fake = tmp_path / "data.bin"
    fake.write_bytes(b"\x00\x01 not a database at all")
    result = CliRunner().invoke(schema_command, [str(fake)])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {fake}: not a SQLite database (it does not start with 'SQLite format 3'); "
        "name a DDL file with .sql or .ddl"]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_bad_ddl_is_one_error_line_with_the_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ddl"
    bad.write_text("CREATE TABLE t (\n  id int,\n  x int int int\n);\n")
    result = CliRunner().invoke(schema_command, [str(bad)])

    assert result.exit_code == 2
    assert result.stderr == (f"error: {bad}:3:11: sqlglot cannot parse it as postgres SQL: "
                             "Expecting )\n")


def test_cli_unreachable_postgres_is_one_error_without_the_password() -> None:
    result = CliRunner().invoke(
        schema_command, ["postgresql://app:s3cr3t-pw@127.0.0.1:1/shop"])

    assert result.exit_code == 2
    assert "s3cr3t-pw" not in result.output
    assert result.stderr.startswith("error: postgresql://127.0.0.1:1/shop: cannot connect: ")
    assert len(result.stderr.splitlines()) == 1
    mysql = CliRunner().invoke(schema_command, ["mysql://app:s3cr3t-pw@db:3306/shop"])
    assert mysql.exit_code == 2 and "s3cr3t-pw" not in mysql.output
    assert "database URLs other than postgresql:// are not supported" in mysql.stderr
