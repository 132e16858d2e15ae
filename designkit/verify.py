"""The design's query plans held against a real database's: each query the design makes is
written as the SQL it stands for and given to the database's planner (SQLite: ``EXPLAIN
QUERY PLAN``; PostgreSQL: ``EXPLAIN (FORMAT JSON)`` of a prepared generic plan), and the two
access paths are set side by side.

A query agrees when both seek (on an index) or both scan; "designed as a seek on
(order_id); SQLite scans payments: no index it can use" is a mismatch, and so is the other
way round (the design prices a scan the database avoids: its numbers are too pessimistic).
Inserts have no lookup and are not checked; a containment predicate (``contains``) has no
SQLite form and is reported as not checked.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from designkit.errors import DesignkitError
from designkit.flow.plans import QueryPlan, query_plans
from designkit.model.database import Database
from designkit.model.query import Query

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["Check", "Verification", "VerifyError", "query_sql", "verify_postgres",
           "verify_sqlite"]

_SEARCH = re.compile(r"^SEARCH (\S+) USING (?:COVERING )?(INDEX (\S+)|INTEGER PRIMARY KEY|"
                     r"PRIMARY KEY)")
_SCAN = re.compile(r"^SCAN (\S+)")


class VerifyError(DesignkitError, ValueError):
    """The database cannot be opened or is not the design's (a table the design queries is
    not in it).

    Example:
        >>> str(VerifyError("shop.db: no such file"))
        'shop.db: no such file'
    """


@dataclass(frozen=True)
class Check:
    """One query: the design's access path and the database's.

    Attributes:
        plan: The design's plan of the query (:class:`~designkit.flow.plans.QueryPlan`).
        sql: The SQL it stands for, with ``?`` for its values.
        database_access: ``seek`` or ``scan`` as the database plans it; ``None`` when it was
            not checked.
        database_index: The columns of the index the database uses (a seek).
        detail: The database's own words (SQLite's plan lines).
        agrees: Both seek or both scan (``None``: not checked).
        message: The comparison in a line.
    """

    plan: QueryPlan
    sql: str
    database_access: Literal["seek", "scan"] | None
    database_index: tuple[str, ...]
    detail: str
    agrees: bool | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"endpoint": self.plan.endpoint, "place": self.plan.place,
                "table": f"{self.plan.database}.{self.plan.table}", "sql": self.sql,
                "designed": {"access": self.plan.now.access, "index": list(self.plan.now.index)},
                "database": {"access": self.database_access,
                             "index": list(self.database_index), "detail": self.detail},
                "agrees": self.agrees, "message": self.message}


@dataclass(frozen=True)
class Verification:
    """Every query of one database, checked against the real one.

    Example:
        >>> import designkit as dk, sqlite3, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "app.db"
        >>> with sqlite3.connect(path) as db:
        ...     _ = db.execute("CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT, "
        ...                    "merchant_id TEXT, created_at TEXT)")
        >>> v = verify_sqlite(dk.template("dashboard-slow"), "app-db", path,
        ...                   tables=["payments"])
        >>> [c.agrees for c in v.checks]
        [True, True]
    """

    database: str
    engine: str
    checks: tuple[Check, ...]

    @property
    def mismatches(self) -> list[Check]:
        """The queries whose access paths differ."""
        return [c for c in self.checks if c.agrees is False]

    def __str__(self) -> str:
        lines = [f"{self.database} against {self.engine}: {len(self.checks)} queries, "
                 f"{len(self.mismatches)} mismatch(es)"]
        for c in self.checks:
            mark = "ok  " if c.agrees else "MISS" if c.agrees is False else "--  "
            lines.append(f"  {mark} {c.plan.endpoint} {c.plan.place}: {c.message}")
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        """A table for a pull request."""
        out = [f"### {self.database} against {self.engine}", "",
               "| endpoint | step | designed | database | agrees |", "|---|---|---|---|---|"]
        for c in self.checks:
            agrees = {True: "yes", False: "**no**", None: "not checked"}[c.agrees]
            out.append(f"| `{c.plan.endpoint}` | `{c.plan.place}` | {c.plan.now.path} | "
                       f"{c.detail or '—'} | {agrees} |")
        return "\n".join(out) + "\n"

    def to_json(self) -> str:
        """Every check as JSON."""
        return json.dumps({"database": self.database, "engine": self.engine,
                           "mismatches": len(self.mismatches),
                           "checks": [c.to_dict() for c in self.checks]}, indent=2)


def query_sql(query: Query) -> tuple[str, int]:
    """The SQL a query stands for, with ``?`` for its values, and how many there are.

    Example:
        >>> query_sql(Query(table="orders", where=["user_id"], order_by=["created_at"],
        ...                 limit=20))
        ('SELECT * FROM orders WHERE user_id = ? ORDER BY created_at LIMIT 20', 1)
        >>> query_sql(Query(table="payments", where=["merchant_id"], range="created_at",
        ...                 aggregate=True))
        ('SELECT count(*) FROM payments WHERE merchant_id = ? AND created_at > ?', 2)
    """
    conditions, values = [], 0
    for i, column in enumerate(query.where):
        if i == 0 and query.batch > 1:
            conditions.append(f"{_q(column)} IN ({', '.join('?' * int(query.batch))})")
            values += int(query.batch)
        else:
            conditions.append(f"{_q(column)} = ?")
            values += 1
    if query.range is not None:
        conditions.append(f"{_q(query.range)} > ?")
        values += 1
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    table = _q(query.table)
    if query.kind == "select":
        what = "count(*)" if query.aggregate else "*"
        order = f" ORDER BY {', '.join(map(_q, query.order_by))}" if query.order_by else ""
        limit = f" LIMIT {int(query.limit)}" if query.limit is not None else ""
        return f"SELECT {what} FROM {table}{where}{order}{limit}", values
    if query.kind == "delete":
        return f"DELETE FROM {table}{where}", values
    # an update (or an upsert's lookup): set a column the predicate does not name
    return f"UPDATE {table} SET _designkit_ = ?{where}", values + 1


def _q(name: str) -> str:
    """A name as SQLite reads it (quoted when reserved or not plain)."""
    from designkit.migration import identifier

    return identifier(name, "sqlite")


def _index_columns(db: sqlite3.Connection, table: str, name: str | None) -> tuple[str, ...]:
    if name is None:  # the table's primary key
        rows = db.execute("SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
                          (table,)).fetchall()
        return tuple(r[0] for r in rows) or ("rowid",)
    return tuple(r[0] for r in db.execute(
        "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,)))


def _sqlite_plan(db: sqlite3.Connection, query: Query, sql: str, values: int
                 ) -> tuple[Literal["seek", "scan"], tuple[str, ...], str]:
    if query.kind == "update":  # the planner needs a column to set: the first one that exists
        first = db.execute("SELECT name FROM pragma_table_info(?) LIMIT 1",
                           (query.table,)).fetchone()
        sql = sql.replace("_designkit_", _q(first[0]) if first else "rowid")
    lines = [str(r[3]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", (None,) * values)]
    for line in lines:
        found = _SEARCH.match(line)
        if found is not None and found.group(1) == query.table:
            return "seek", _index_columns(db, query.table, found.group(3)), "; ".join(lines)
    return "scan", (), "; ".join(lines)


def _message(plan: QueryPlan, access: str, index: tuple[str, ...], engine: str) -> str:
    designed = (f"a seek on ({', '.join(plan.now.index)})" if plan.now.access == "seek"
                else "a scan")
    actual = (f"seeks on ({', '.join(index)})" if access == "seek"
              else f"scans {plan.table}")
    if plan.now.access == access:
        return f"designed as {designed}; {engine} {actual}"
    if access == "scan":
        served = plan.now.reason.partition(" serves ")[2] or "it"
        return f"designed as {designed}; {engine} {actual}: no index there serves {served}"
    return (f"designed as {designed} ({plan.now.reason}); {engine} {actual}: the design's "
            "numbers are too pessimistic, or its index is missing from the design")


Planner = Callable[[Query, str, int], tuple[Literal["seek", "scan"], tuple[str, ...], str]]


def _verify(design: Design, database: str, engine: str, present: set[str],
            plan_of: Planner, tables: list[str] | None,
            refusals: tuple[type[BaseException], ...]) -> Verification:
    """Each query of ``database`` planned by ``plan_of`` (the real database's planner)."""
    wanted = set(tables) if tables is not None else present
    checks = []
    for plan in query_plans(design).plans:
        if plan.database != database or plan.table not in wanted:
            continue
        step_query = plan.query
        if plan.now.access == "insert" or step_query is None:
            continue
        sql, values = query_sql(step_query)
        if plan.table not in present:
            checks.append(Check(plan, sql, None, (), "", None,
                                f"the database has no table {plan.table}"))
            continue
        if step_query.contains and engine == "SQLite":
            checks.append(Check(plan, sql, None, (), "", None,
                                "containment has no SQLite form: not checked"))
            continue
        try:
            access, index, detail = plan_of(step_query, sql, values)
        except refusals as err:  # the database's own refusal, reported
            checks.append(Check(plan, sql, None, (), str(err).splitlines()[0], None,
                                f"{engine} cannot plan it: {str(err).splitlines()[0]}"))
            continue
        checks.append(Check(plan, sql, access, index, detail, plan.now.access == access,
                            _message(plan, access, index, engine)))
    return Verification(database, engine, tuple(checks))


def _component(design: Design, database: str) -> Database:
    component = design.components.get(database)
    if not isinstance(component, Database):
        known = ", ".join(design.of_kind("database")) or "none"
        raise VerifyError(f"the design has no database {database!r} (it has {known})")
    return component


def verify_sqlite(design: Design, database: str, path: str | Path,
                  tables: list[str] | None = None) -> Verification:
    """Check every query ``design`` makes against ``database`` on the SQLite file ``path``
    (opened read-only; nothing is written).

    Args:
        design: The design.
        database: The name of the database component the file is.
        path: The SQLite file.
        tables: Only the queries of these tables (default: every table the file has).

    Raises:
        VerifyError: The file cannot be opened, or the design has no such database.
    """
    _component(design, database)
    file = Path(path)
    if not file.is_file():
        raise VerifyError(f"{file}: no such SQLite file")
    try:
        db = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        present = {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as err:
        raise VerifyError(f"{file}: cannot read it as a SQLite database: {err}") from None
    try:
        return _verify(design, database, "SQLite", present,
                       lambda q, sql, n: _sqlite_plan(db, q, sql, n), tables, (sqlite3.Error,))
    finally:
        db.close()


def verify_postgres(design: Design, database: str, url: str,
                    tables: list[str] | None = None) -> Verification:
    """Check every query ``design`` makes against ``database`` on the PostgreSQL at ``url``:
    each is prepared and its generic plan explained (``EXPLAIN (FORMAT JSON)``, with
    ``enable_seqscan`` off, so that the question is whether an index *can* serve it, as for
    SQLite; nothing is written — updates are explained, not run).

    Raises:
        VerifyError: The database cannot be reached (named without the password), or the
            design has no such database.
    """
    from designkit.imports.postgres_schema import connect

    _component(design, database)
    try:
        conn = connect(url, autocommit=True)
    except ConnectionError as err:
        raise VerifyError(str(err)) from None
    import psycopg  # (connect has imported it)
    try:
        present = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("SET enable_seqscan = off")
        return _verify(design, database, "PostgreSQL", present,
                       lambda q, sql, n: _postgres_plan(conn, q, sql, n), tables,
                       (psycopg.Error,))
    finally:
        conn.close()


def _postgres_plan(conn: Any, query: Query, sql: str, values: int
                   ) -> tuple[Literal["seek", "scan"], tuple[str, ...], str]:
    if query.kind == "update":
        first = conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                             "table_name = %s ORDER BY ordinal_position LIMIT 1",
                             (query.table,)).fetchone()
        sql = sql.replace("_designkit_", _q(first[0]) if first else "ctid")
    numbered = iter(range(1, values + 1))
    sql = re.sub(r"\?", lambda _m: f"${next(numbered)}", sql)
    conn.execute(f"PREPARE designkit_q AS {sql}")
    try:
        explained = conn.execute("EXPLAIN (FORMAT JSON) EXECUTE designkit_q("
                                 + ", ".join(["NULL"] * values) + ")").fetchone()[0]
    finally:
        conn.execute("DEALLOCATE designkit_q")
    nodes = list(_nodes(explained[0]["Plan"]))
    detail = " → ".join(n["Node Type"] + (f" on {n['Index Name']}" if "Index Name" in n else
                                            f" on {n['Relation Name']}" if "Relation Name" in n
                                            else "") for n in nodes)
    for node in nodes:
        index = node.get("Index Name")
        if index is not None:
            rows = conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE c.relname = %s ORDER BY array_position(i.indkey, a.attnum)",
                (index,)).fetchall()
            return "seek", tuple(r[0] for r in rows), detail
    return "scan", (), detail


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
