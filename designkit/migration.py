"""The DDL that takes a design's schema from one version to the next, with its dangers.

:func:`migration` compares the databases of two designs table by table and writes the
statements — ``CREATE TABLE``, ``ADD COLUMN``, a type or nullability change, ``CREATE
INDEX``, drops — in PostgreSQL, MySQL or SQLite, through sqlglot (names quoted and types
spelled per dialect). Each statement that can hurt a live system is named with its cost from
the table's rows: a table rewrite (a type change, a new partitioning; SQLite rebuilds the
table for any column change), an index built while writes wait, a ``NOT NULL`` column without
a default on a table with rows, a ``SET NOT NULL`` that scans the table, a dropped table or
column — and a dropped column that a query of the new design still reads.

Costs are lower bounds from the database's own numbers: a scan is rows × ``scan_us_per_row``;
a rewrite writes every row again, rows × ``write_row_ms``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from designkit.model.database import Column, Database, Index, Table
from designkit.model.engines import setting
from designkit.text import number

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["DIALECTS", "Migration", "Statement", "identifier", "index_names", "migration",
           "script_targets"]

Dialect = Literal["postgres", "mysql", "sqlite"]
DIALECTS: tuple[Dialect, ...] = ("postgres", "mysql", "sqlite")


@dataclass(frozen=True)
class Statement:
    """One DDL statement and, when it can hurt a live system, why and what it costs.

    Attributes:
        database: The database it runs on.
        sql: The statement (no trailing semicolon).
        danger: What it does to a live system, with its cost; ``None`` when it is safe.
        target: What it changes: ``("table", t)``, ``("column", t, c)`` or
            ``("index", t, c1, c2…)`` — what a migration script must touch to cover it.
    """

    database: str
    sql: str
    danger: str | None = None
    target: tuple[str, ...] = ()


@dataclass(frozen=True)
class Migration:
    """The statements from one design's schema to another's.

    Example:
        >>> import designkit as dk
        >>> m = migration(dk.template("dashboard-slow"), dk.template("dashboard-fixed"))
        >>> [s.sql for s in m.statements]  # doctest: +NORMALIZE_WHITESPACE
        ['CREATE INDEX CONCURRENTLY payments_order ON payments (order_id)',
         'CREATE INDEX CONCURRENTLY payments_merchant_created ON payments (merchant_id,
          created_at)']
    """

    dialect: Dialect
    statements: list[Statement]

    @property
    def dangers(self) -> list[Statement]:
        """The statements that can hurt a live system."""
        return [s for s in self.statements if s.danger is not None]

    def __str__(self) -> str:
        if not self.statements:
            return "-- no schema change\n"
        lines = []
        for s in self.statements:
            if s.danger is not None:
                lines.append(f"-- DANGER: {s.danger}")
            lines.append(s.sql if s.sql.startswith("--") else f"{s.sql};")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"dialect": self.dialect, "statements": [
            {"database": s.database, "sql": s.sql, "danger": s.danger}
            for s in self.statements]}


def _sqlglot() -> Any:
    from designkit.errors import MissingDependencyError

    try:
        import sqlglot
    except ImportError as err:  # pragma: no cover - the import extra installs it
        raise MissingDependencyError("writing DDL needs sqlglot: pip install "
                                     "'designkit[import]'") from err
    return sqlglot


_RESERVED = frozenset((
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both",
    "case", "cast", "check", "collate", "column", "constraint", "create", "current_catalog",
    "current_date", "current_role", "current_time", "current_timestamp", "current_user",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false",
    "fetch", "for", "foreign", "from", "grant", "group", "having", "in", "initially",
    "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not",
    "null", "offset", "on", "only", "or", "order", "placing", "primary", "references",
    "returning", "select", "session_user", "some", "symmetric", "system_user", "table", "then",
    "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "when", "where",
    "window", "with", "key", "index", "range", "interval", "like", "match", "read", "write",
    "database", "schema", "condition", "rank",
))
"""PostgreSQL's reserved key words (its manual, appendix C) and MySQL's that designs are
likely to use as names: quoted wherever they name a table or a column."""
_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")


def identifier(text: str, dialect: Dialect) -> str:
    """An identifier as ``dialect`` writes it: quoted when it is not a plain lower-case
    name or is a reserved word.

    Example:
        >>> identifier("order", "mysql"), identifier("orders", "postgres")
        ('`order`', 'orders')
    """
    exp = _sqlglot().exp
    quote = not _PLAIN.fullmatch(text) or text in _RESERVED
    return str(exp.to_identifier(text, quoted=quote).sql(dialect=dialect))


def _type(text: str, dialect: Dialect) -> str:
    """A column type, written in PostgreSQL's words in designs, as ``dialect`` spells it."""
    sqlglot = _sqlglot()
    try:
        built = sqlglot.exp.DataType.build(text, dialect="postgres")
    except (ValueError, sqlglot.errors.ParseError):  # a type sqlglot does not know: as written
        return text
    return str(built.sql(dialect=dialect))


def _column_sql(name: str, column: Column, dialect: Dialect) -> str:
    out = f"{identifier(name, dialect)} {_type(column.type, dialect)}"
    if not column.nullable:
        out += " NOT NULL"
    if column.unique and not column.primary_key:
        out += " UNIQUE"
    return out


def _create_table(name: str, table: Table, dialect: Dialect) -> str:
    parts = [_column_sql(c, col, dialect) for c, col in table.columns.items()]
    key = [c for c, col in table.columns.items() if col.primary_key]
    if key:
        parts.append(f"PRIMARY KEY ({', '.join(identifier(c, dialect) for c in key)})")
    for c, col in table.columns.items():
        target = (col.references or "").split(".")
        if len(target) == 2:  # table.column in this database
            parts.append(f"FOREIGN KEY ({identifier(c, dialect)}) REFERENCES "
                         f"{identifier(target[0], dialect)} ({identifier(target[1], dialect)})")
    sql = f"CREATE TABLE {identifier(name, dialect)} ({', '.join(parts)})"
    part = table.partitioning
    if part is not None and dialect == "postgres":
        keys = ", ".join(identifier(c, dialect) for c in part.key)
        sql += f" PARTITION BY {part.kind.upper()} ({keys})"
    return sql


def _index_name(table: str, index: Index) -> str:
    return index.name or f"{table}_{'_'.join(index.columns)}_idx"


def _create_index(table: str, index: Index, dialect: Dialect, how: str = "live") -> str:
    """``how``: ``live`` (a table in use: built without blocking writes where the dialect
    can), ``new`` (a table just created: nothing to wait for), ``partitioned`` (PostgreSQL
    builds an index of a partitioned table only on the parent, ``ON ONLY``)."""
    unique = "UNIQUE " if index.unique else ""
    columns = ", ".join(identifier(c, dialect) for c in index.columns)
    name, on = identifier(_index_name(table, index), dialect), identifier(table, dialect)
    if dialect == "postgres":
        using = f" USING {index.kind}" if index.kind != "btree" else ""
        mode = {"live": "CONCURRENTLY ", "new": "", "partitioned": ""}[how]
        only = "ONLY " if how == "partitioned" else ""
        return f"CREATE {unique}INDEX {mode}{name} ON {only}{on}{using} ({columns})"
    if dialect == "mysql":
        kind = "FULLTEXT " if index.kind in ("gin", "fulltext") else unique
        return (f"CREATE {kind}INDEX {name} ON {on} ({columns}) ALGORITHM=INPLACE "
                "LOCK=NONE")
    return f"CREATE {unique}INDEX {name} ON {on} ({columns})"


def _drop_index(table: str, index: Index, dialect: Dialect) -> str:
    name = identifier(_index_name(table, index), dialect)
    if dialect == "postgres":
        return f"DROP INDEX CONCURRENTLY {name}"
    if dialect == "mysql":
        return f"DROP INDEX {name} ON {identifier(table, dialect)}"
    return f"DROP INDEX {name}"


class _Costs:
    """What a statement costs on one table of one database, from its rows."""

    def __init__(self, database: Database, table: Table) -> None:
        self.rows = float(table.rows or 0)
        self.scan_s = self.rows * float(setting(database, "scan_us_per_row")) / 1e6
        self.rewrite_s = self.rows * float(setting(database, "write_row_ms")) / 1e3

    @property
    def live(self) -> bool:
        return self.rows > 0

    def rewrite(self) -> str:
        return (f"rewrites all {number(self.rows)} rows under an exclusive lock "
                f"(≥ {_duration(self.rewrite_s)}: rows × write_row_ms)")

    def scan(self) -> str:
        return (f"reads all {number(self.rows)} rows "
                f"(≥ {_duration(self.scan_s)}: rows × scan_us_per_row)")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unbounded"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _read_columns(design: Design) -> set[tuple[str, str, str]]:
    """(database, table, column) of every column a query of ``design`` reads."""
    from designkit.flow.build import build
    from designkit.model.steps import CallStep

    out = set()
    for site in build(design).sites:
        step = site.step
        if isinstance(step, CallStep) and step.query is not None:
            out |= {(step.call, step.query.table, c) for _place, c in step.query.columns()}
    return out


def _table_changes(db_name: str, db: Database, name: str, old: Table, new: Table,
                   dialect: Dialect, read: set[tuple[str, str, str]]) -> list[Statement]:
    out: list[Statement] = []
    costs = _Costs(db, new)
    t = identifier(name, dialect)

    def add(sql: str, danger: str | None = None, *target: str) -> None:
        out.append(Statement(db_name, sql, danger, target or ("table", name)))

    if (old.partitioning is None) != (new.partitioning is None) or (
            old.partitioning and new.partitioning and old.partitioning != new.partitioning):
        add(f"-- {name}: partitioning cannot change in place: create the new table, copy "
            "the rows, swap the names",
            f"{name}: a new partitioning copies every row; " + costs.rewrite())
    for c, col in new.columns.items():
        before = old.columns.get(c)
        if before is None:
            danger = None
            if not col.nullable and costs.live:
                danger = (f"{name}.{c} NOT NULL without a default fails on the "
                          f"{number(costs.rows)} existing rows: add it nullable, backfill, "
                          "then SET NOT NULL")
            if dialect == "sqlite" and not col.nullable:
                danger = danger or f"{name}.{c}: SQLite adds a NOT NULL column only with a default"
            add(f"ALTER TABLE {t} ADD COLUMN {_column_sql(c, col, dialect)}", danger,
                "column", name, c)
            continue
        if before.type.strip().lower() != col.type.strip().lower():
            sql = {"postgres": f"ALTER TABLE {t} ALTER COLUMN {identifier(c, dialect)} TYPE "
                               f"{_type(col.type, dialect)}",
                   "mysql": f"ALTER TABLE {t} MODIFY COLUMN {_column_sql(c, col, dialect)}",
                   "sqlite": f"-- {name}.{c}: SQLite cannot change a column's type: "
                             "rebuild the table"}[dialect]
            add(sql, f"{name}.{c} {before.type} → {col.type}: " + costs.rewrite(),
                "column", name, c)
        if before.nullable and not col.nullable and dialect != "sqlite":
            sql = (f"ALTER TABLE {t} ALTER COLUMN {identifier(c, dialect)} SET NOT NULL"
                   if dialect == "postgres"
                   else f"ALTER TABLE {t} MODIFY COLUMN {_column_sql(c, col, dialect)}")
            add(sql, f"{name}.{c} SET NOT NULL locks the table while it " + costs.scan()
                if costs.live else None, "column", name, c)
        elif not before.nullable and col.nullable and dialect == "postgres":
            add(f"ALTER TABLE {t} ALTER COLUMN {identifier(c, dialect)} DROP NOT NULL", None,
                "column", name, c)
        elif not before.nullable and col.nullable and dialect == "mysql" \
                and before.type.strip().lower() == col.type.strip().lower():
            add(f"ALTER TABLE {t} MODIFY COLUMN {_column_sql(c, col, dialect)}", None,
                "column", name, c)
    for c in old.columns:
        if c not in new.columns:
            readers = (db_name, name, c) in read
            danger = (f"{name}.{c} is still read by a query of the new design: the query "
                      "fails" if readers else
                      f"{name}.{c}: its data ({number(costs.rows)} rows) is lost")
            add(f"ALTER TABLE {t} DROP COLUMN {identifier(c, dialect)}", danger, "column", name, c)
    old_ix = {tuple(i.columns): i for i in old.indexes}
    new_ix = {tuple(i.columns): i for i in new.indexes}
    for key, index in new_ix.items():
        if key in old_ix and old_ix[key] == index:
            continue
        if key in old_ix:
            add(_drop_index(name, old_ix[key], dialect), None, "index", name, *key)
        danger = None
        how = "live"
        if dialect == "sqlite" and costs.live:  # no concurrent or online index build
            danger = (f"CREATE INDEX on {name} ({', '.join(key)}) blocks writes while it "
                      + costs.scan().removeprefix("reads all ").join(("reads all ", "")))
        if dialect == "postgres" and new.partitioning is not None:
            how = "partitioned"  # PostgreSQL cannot index a partitioned table CONCURRENTLY
            danger = (f"{name} is partitioned: PostgreSQL cannot build its index "
                      "CONCURRENTLY; this creates it on the parent only (invalid until "
                      "complete) — build it on each partition CONCURRENTLY, then ALTER INDEX "
                      f"{_index_name(name, index)} ATTACH PARTITION each")
        add(_create_index(name, index, dialect, how), danger, "index", name, *key)
    for key, index in old_ix.items():
        if key not in new_ix:
            add(_drop_index(name, index, dialect), None, "index", name, *key)
    return out


def migration(old: Design, new: Design, dialect: Dialect = "postgres",
              database: str | None = None) -> Migration:
    """The DDL from ``old``'s schema to ``new``'s, database by database (or only
    ``database``), in ``dialect``.

    Raises:
        ValueError: ``dialect`` is not one of :data:`DIALECTS`.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    read = _read_columns(new)
    statements: list[Statement] = []
    names = [*old.of_kind("database"), *(n for n in new.of_kind("database")
                                          if n not in old.of_kind("database"))]
    for db_name in names:
        if database is not None and db_name != database:
            continue
        before, after = old.components.get(db_name), new.components.get(db_name)
        old_tables = before.tables if isinstance(before, Database) else {}
        if not isinstance(after, Database):
            continue  # a database removed from the design: nothing to run on it
        for name, table in after.tables.items():
            if name not in old_tables:
                statements.append(Statement(db_name, _create_table(name, table, dialect),
                                            target=("table", name)))
                statements += [Statement(db_name, _create_index(name, i, dialect, "new"),
                                         target=("index", name, *i.columns))
                               for i in table.indexes]
            else:
                statements += _table_changes(db_name, after, name, old_tables[name], table,
                                             dialect, read)
        for name, table in old_tables.items():
            if name not in after.tables:
                costs = _Costs(before, table) if isinstance(before, Database) else None
                lost = f" ({number(costs.rows)} rows)" if costs and costs.live else ""
                statements.append(Statement(db_name, f"DROP TABLE {identifier(name, dialect)}",
                                            f"{name}: the table and its data{lost} are lost",
                                            ("table", name)))
    return Migration(dialect, statements)


def script_targets(sql: str, dialect: Dialect, index_names: dict[str, tuple[str, ...]]
                   ) -> set[tuple[str, ...]]:
    """What a migration script changes, as :attr:`Statement.target` says it: the tables it
    creates or drops, the columns it adds, alters or drops, the indexes it creates or drops
    (``index_names``: an index's name → its ``("index", table, columns…)``, for a ``DROP
    INDEX`` by name).

    Raises:
        sqlglot.errors.ParseError: The script is not SQL of ``dialect``.

    Example:
        >>> sorted(script_targets("CREATE INDEX ix ON payments (order_id); "
        ...                       "ALTER TABLE orders ADD COLUMN note text", "postgres", {}))
        [('column', 'orders', 'note'), ('index', 'payments', 'order_id')]
    """
    exp = _sqlglot().exp
    out: set[tuple[str, ...]] = set()
    for statement in _sqlglot().parse(sql, read=dialect):
        if statement is None:
            continue
        kind = str(statement.args.get("kind") or "").upper()
        if isinstance(statement, exp.Create) and kind == "TABLE":
            out.add(("table", statement.this.find(exp.Table).name))
        elif isinstance(statement, exp.Create) and kind == "INDEX":
            index = statement.this
            columns = [c.name for c in index.find_all(exp.Column)]
            out.add(("index", index.args["table"].name, *columns))
        elif isinstance(statement, exp.Drop) and kind == "TABLE":
            out.add(("table", statement.this.name))
        elif isinstance(statement, exp.Drop) and kind == "INDEX":
            found = index_names.get(statement.this.name)
            if found is not None:
                out.add(found)
        elif isinstance(statement, exp.Alter):
            table = statement.this.name
            for action in statement.args.get("actions") or []:
                name = action.this.name if action.this is not None else ""
                out.add(("column", table, name))
    return out


def index_names(database: Database) -> dict[str, tuple[str, ...]]:
    """Each index's name (its own, or the one :func:`migration` gives it) → its target.

    Example:
        >>> import designkit as dk
        >>> index_names(dk.template("dashboard-fixed").components["app-db"])["payments_order"]
        ('index', 'payments', 'order_id')
    """
    return {_index_name(t, i): ("index", t, *i.columns)
            for t, table in database.tables.items() for i in table.indexes}
