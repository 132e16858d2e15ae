"""Query plans: what one statement costs the database, from the table and its indexes.

A read is a *seek* when an index's leading columns cover the ``where`` columns (the
primary key counts as an index), else a *scan* of every row. A write costs ``write_ms`` per
row, after finding its rows the same way when it has a ``where``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from designkit.model.database import Database, Table
from designkit.model.engines import setting
from designkit.model.query import Query

__all__ = ["Plan", "plan_query", "rows_after"]


@dataclass(frozen=True)
class Plan:
    """How a statement runs and what it costs.

    Attributes:
        access: ``seek`` (an index covers the predicate), ``scan`` (every row visited),
            or ``insert`` (no lookup).
        rows_visited: Rows the statement touches.
        ms: Time the database spends (ms).
        index: The columns of the index used, when a seek.
    """

    access: Literal["seek", "scan", "insert"]
    rows_visited: float
    ms: float
    index: tuple[str, ...] = ()

    def __str__(self) -> str:
        how = f"seek on ({', '.join(self.index)})" if self.access == "seek" else self.access
        return f"{how}: {self.rows_visited:,.0f} rows, {self.ms:.3g} ms"


def rows_after(table: Table, days: float) -> float:
    """Rows in ``table`` after ``days`` of growth.

    Example:
        >>> from designkit.model.database import Table
        >>> rows_after(Table(rows=1_000_000, growth_per_day=10_000), 365)
        4650000.0
    """
    return float(table.rows or 0) + (table.growth_per_day or 0.0) * max(days, 0.0)


def _seek_index(table: Table, where: list[str]) -> tuple[str, ...] | None:
    """The shortest index whose leading columns cover ``where`` (any order among them)."""
    if not where:
        return None
    wanted = set(where)
    candidates = [tuple(i.columns) for i in table.indexes]
    primary = tuple(name for name, c in table.columns.items() if c.primary_key)
    if primary:
        candidates.append(primary)
    candidates += [(name,) for name, c in table.columns.items() if c.unique]
    covering = [c for c in candidates if set(c[:len(wanted)]) == wanted]
    return min(covering, key=len) if covering else None


def plan_query(database: Database, query: Query, days: float = 0.0) -> Plan:
    """The plan and cost of ``query`` on ``database`` after ``days`` of growth.

    Example:
        >>> from designkit.model.database import Database
        >>> from designkit.model.query import Query
        >>> db = Database(kind="database", seek_ms=0.5, scan_us_per_row=0.05)
        >>> _ = db.table("orders", rows=3_000_000).column("id", "uuid", primary_key=True)
        >>> str(plan_query(db, Query(table="orders", where=["id"])))
        'seek on (id): 1 rows, 0.5 ms'
        >>> str(plan_query(db, Query(table="orders", where=["user_id"])))
        'scan: 3,000,000 rows, 150 ms'
    """
    table = database.tables.get(query.table)
    if table is None:
        raise KeyError(f"database has no table {query.table!r}")
    rows = rows_after(table, days)
    batch = query.batch
    costs = {name: float(setting(database, name)) for name in (
        "seek_ms", "row_ms", "scan_us_per_row", "write_ms", "write_row_ms")}
    # a write of `batch` rows: the statement once, each further row at its own cost
    write = costs["write_ms"] + (batch - 1) * costs["write_row_ms"]
    if query.kind == "insert" or (query.kind == "upsert" and not query.where):
        return Plan("insert", batch, write)
    index = _seek_index(table, query.where)
    if index is not None:
        returned = max(batch, query.limit or 1) if query.kind == "select" else batch
        ms = costs["seek_ms"] + (returned - 1) * costs["row_ms"]
        access: Literal["seek", "scan", "insert"] = "seek"
        visited = float(returned)
    else:
        ms = rows * costs["scan_us_per_row"] / 1000.0
        access, visited = "scan", rows
    if query.kind in ("update", "delete", "upsert"):
        ms += write
    return Plan(access, visited, ms, index or ())
