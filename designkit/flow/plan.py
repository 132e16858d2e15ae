"""Query plans: what one statement costs the database, from the table and its indexes.

A statement's predicate has equality columns (``where``), at most one ``range`` column and
containment columns (``contains``; a ``where`` column of a JSON, array or text-search type
counts as one). An index is a candidate when its kind serves the whole predicate
(:data:`~designkit.model.database.INDEX_SERVES`): a B-tree when its leading columns are the
equality columns (any order), then the range column, and it also serves an ``order_by``
that follows them; a hash index equality on its one column; GIN and full-text indexes
containment; GiST containment and a range; BRIN a range on its first column, reading whole
block ranges. The primary key and unique columns are B-tree indexes.

The rows the predicate matches are ``rows``, or ``selectivity`` × the table's rows (growing
with it), or — neither stated — one per key (``batch``), or ``limit`` for a limited read of a
non-unique index (:attr:`Plan.rows_assumed`). An index read costs ``seek_ms`` and
``row_ms`` for each further row it reads; a scan costs ``scan_us_per_row`` for every row
of the table. As a planner does, a read of several rows per key takes the cheaper of the
two, so an index read of many rows never costs more than a full scan. A read of one row
per key keeps its index (``seek_ms`` holds the statement's own overhead, which a scan pays
too: set against a bare scan it would turn every lookup in a small table into a scan), and
so does a table whose ``rows`` are not stated (its scan cost is unknown). A write finds its rows
the same way, then costs ``write_ms`` and ``write_row_ms`` for each further row it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from designkit.model.database import DOCUMENT_ENGINES, Database, Table, index_serves
from designkit.model.engines import setting
from designkit.model.query import Query, QueryShape

__all__ = ["BRIN_RANGE_ROWS", "Plan", "Planner", "plan_query", "rows_after"]

BRIN_RANGE_ROWS = 12_800.0
"""Rows a BRIN index reads beyond those it matches: one block range (``pages_per_range``
128 pages of ~100 narrow rows), the coarseness of a summary per block range."""


@dataclass(frozen=True)
class Plan:
    """How a statement runs and what it costs.

    Attributes:
        access: ``seek`` (an index read), ``scan`` (every row visited), or ``insert`` (no
            lookup).
        rows_visited: Rows the statement reads (a scan: every row of the table).
        ms: Time the database spends (ms).
        index: The columns of the index used, when a seek.
        shape: point, range, aggregate, top-n or batch (:attr:`Query.shape`).
        reason: Why this access path, in words (``scan cheaper than reading 200,000 rows
            by index (user_id)``).
        rows_matched: Rows the predicate matches (an insert: the rows it writes).
        rows_returned: Rows the statement returns (1 for an aggregate).
        index_kind: The kind of the index used (``btree``, ``hash``…), when a seek.
        rows_assumed: The matched rows are designkit's default (one per key, or ``limit``),
            not stated by ``rows`` or ``selectivity``, and the cost depends on them.

    Example:
        >>> Plan("seek", 1, 0.5, ("id",)).rows_visited
        1
    """

    access: Literal["seek", "scan", "insert"]
    rows_visited: float
    ms: float
    index: tuple[str, ...] = ()
    shape: QueryShape = "point"
    reason: str = ""
    rows_matched: float = 0.0
    rows_returned: float = 0.0
    index_kind: str | None = None
    rows_assumed: bool = False

    def __str__(self) -> str:
        how = f"seek on ({', '.join(self.index)})" if self.access == "seek" else self.access
        return f"{how}: {self.rows_visited:,.0f} rows, {self.ms:.3g} ms"

    @property
    def path(self) -> str:
        """The access path in a few words: ``btree (user_id, created_at)``, ``scan``,
        ``insert``.

        Example:
            >>> Plan("seek", 20, 0.88, ("user_id",), index_kind="btree").path
            'btree (user_id)'
        """
        if self.access != "seek":
            return self.access
        return f"{self.index_kind or 'index'} ({', '.join(self.index)})"


def rows_after(table: Table, days: float) -> float:
    """Rows in ``table`` after ``days`` of growth.

    Example:
        >>> from designkit.model.database import Table
        >>> rows_after(Table(rows=1_000_000, growth_per_day=10_000), 365)
        4650000.0
    """
    return float(table.rows or 0) + (table.growth_per_day or 0.0) * max(days, 0.0)


@dataclass(frozen=True)
class _Predicate:
    """A statement's predicate as the planner reads it."""

    equal: frozenset[str]
    range: str | None
    contains: frozenset[str]
    order_by: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.equal or self.range or self.contains)

    def __str__(self) -> str:
        parts = []
        if self.equal:
            parts.append(f"equality on {', '.join(sorted(self.equal))}")
        if self.range:
            parts.append(f"a range on {self.range}")
        if self.contains:
            parts.append(f"containment on {', '.join(sorted(self.contains))}")
        return " and ".join(parts) or f"order by {', '.join(self.order_by)}"


def _predicate(table: Table, query: Query, document_store: bool) -> _Predicate:
    """The query's predicate; an equality test of a JSON/array/text-search column is a
    containment test (a document store's regular index serves it: it is multikey)."""
    document = set() if document_store else {
        c for c in query.where if (col := table.columns.get(c)) is not None and col.document}
    return _Predicate(frozenset(query.where) - document, query.range,
                      frozenset(query.contains) | document, tuple(query.order_by))


@dataclass(frozen=True)
class _Candidate:
    """An index able to serve the whole predicate."""

    columns: tuple[str, ...]
    kind: str
    unique: bool
    ordered: bool  # it also serves the order_by


def _indexes(table: Table) -> list[tuple[tuple[str, ...], str, bool]]:
    """(columns, kind, unique) of every index: the declared ones, the primary key and each
    unique column (B-trees)."""
    found = [(tuple(i.columns), str(i.kind), i.unique) for i in table.indexes]
    primary = tuple(name for name, c in table.columns.items() if c.primary_key)
    if primary:
        found.append((primary, "btree", True))
    found += [((name,), "btree", True) for name, c in table.columns.items() if c.unique]
    return found


def _fit(columns: tuple[str, ...], serves: frozenset[str], pred: _Predicate,
         top_n: bool) -> bool | None:
    """Whether an index on ``columns`` that serves ``serves`` serves the whole predicate:
    ``None`` when it cannot, else whether it also serves the order (the ``order_by``
    follows the columns it tests). ``top_n``: an unfiltered read with an order and a limit,
    which a B-tree on the order's columns serves."""
    if not serves:
        return None  # a kind the engine does not have
    if "order" in serves:  # a B-tree: equality on its leading columns, then one range
        equal = pred.equal | (pred.contains if "contains" in serves else frozenset())
        k = len(equal)
        if (pred.contains and "contains" not in serves) or set(columns[:k]) != equal:
            return None
        rest = columns[k:]
        if pred.range is not None and (not rest or rest[0] != pred.range):
            return None
        ordered = bool(pred.order_by) and rest[:len(pred.order_by)] == pred.order_by
        return ordered if not pred.empty or (ordered and top_n) else None
    if serves == {"range"}:  # BRIN: a range on its first column
        ok = pred.range == columns[0] and not pred.equal and not pred.contains
        return False if ok else None
    if pred.empty or (pred.equal and "equality" not in serves):
        return None
    if pred.range is not None and ("range" not in serves or pred.range not in columns):
        return None
    if pred.contains and ("contains" not in serves or not pred.contains <= set(columns)):
        return None
    if pred.equal and (len(columns) != 1 or pred.equal != {columns[0]}):
        return None  # a hash index: equality on its one column
    return False


def _candidates(indexes: list[tuple[tuple[str, ...], str, bool, frozenset[str]]],
                pred: _Predicate, top_n: bool) -> list[_Candidate]:
    out = []
    for columns, kind, unique, serves in indexes:
        ordered = _fit(columns, serves, pred, top_n)
        if ordered is not None:
            out.append(_Candidate(columns, kind, unique, ordered))
    return out


def _unfit(database: Database, table: Table, pred: _Predicate) -> str:
    """Why no index serves the predicate: the indexes on its columns whose kind cannot."""
    named = pred.equal | pred.contains | ({pred.range} if pred.range else set())
    near = []
    for cols, kind, _ in _indexes(table):
        if kind != "btree" and set(cols) & named:
            serves = sorted(index_serves(database.engine, kind))
            near.append(f"{kind} ({', '.join(cols)}) "
                        + (f"serves only {', '.join(serves)}" if serves else "does not exist")
                        + f" on {database.engine}")
    return f"no index serves {pred}" + (f": {'; '.join(near)}" if near else "")


def _costs(database: Database) -> dict[str, float]:
    return {name: float(setting(database, name)) for name in (
        "seek_ms", "row_ms", "scan_us_per_row", "write_ms", "write_row_ms")}


def plan_query(database: Database, query: Query, days: float = 0.0) -> Plan:
    """The plan and cost of ``query`` on ``database`` after ``days`` of growth.

    Raises:
        KeyError: The database has no table ``query.table``.

    A walk that plans many statements keeps a :class:`Planner` per database.

    Example:
        >>> from designkit.model.database import Database
        >>> from designkit.model.query import Query
        >>> db = Database(kind="database", seek_ms=0.5, scan_us_per_row=0.05)
        >>> _ = db.table("orders", rows=3_000_000).column("id", "uuid", primary_key=True)
        >>> str(plan_query(db, Query(table="orders", where=["id"])))
        'seek on (id): 1 rows, 0.5 ms'
        >>> str(plan_query(db, Query(table="orders", where=["user_id"])))
        'scan: 3,000,000 rows, 150 ms'
        >>> _ = db.table("orders").index("user_id")
        >>> plan = plan_query(db, Query(table="orders", where=["user_id"], rows=200_000))
        >>> plan.access, plan.ms, plan.reason
        ('scan', 150.0, 'scan cheaper than reading 200,000 rows by index (user_id)')
    """
    return Planner(database).plan(query, days)


class Planner:
    """Plans the statements of one database: its costs, engine and each table's indexes
    read once (a design's walk plans thousands of statements on a few hundred databases).
    The database must not change while a planner of it is kept.

    Example:
        >>> from designkit.model.database import Database
        >>> from designkit.model.query import Query
        >>> db = Database(kind="database", seek_ms=0.5)
        >>> _ = db.table("orders", rows=3_000_000).column("id", "uuid", primary_key=True)
        >>> str(Planner(db).plan(Query(table="orders", where=["id"])))
        'seek on (id): 1 rows, 0.5 ms'
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.costs = _costs(database)
        self.document_store = database.engine.strip().lower() in DOCUMENT_ENGINES
        self._indexes: dict[str, list[tuple[tuple[str, ...], str, bool, frozenset[str]]]] = {}
        self._plans: dict[tuple[object, ...], Plan] = {}

    def indexes(self, name: str, table: Table
                ) -> list[tuple[tuple[str, ...], str, bool, frozenset[str]]]:
        """(columns, kind, unique, what it serves) of every index of table ``name``."""
        found = self._indexes.get(name)
        if found is None:
            engine = self.database.engine
            found = self._indexes[name] = [(columns, kind, unique, index_serves(engine, kind))
                                           for columns, kind, unique in _indexes(table)]
        return found

    def plan(self, query: Query, days: float = 0.0) -> Plan:
        """The plan and cost of ``query`` after ``days`` of growth (:func:`plan_query`);
        a statement planned before (the same fields) is not planned again.

        Raises:
            KeyError: The database has no table ``query.table``.
        """
        key = (days, *(v if type(v) is not list else tuple(v) for v in query.__dict__.values()))
        try:
            found = self._plans.get(key)
        except TypeError:  # a field that is not hashable: planned each time
            return self._plan(query, days)
        if found is None:
            found = self._plans[key] = self._plan(query, days)
        return found

    def _plan(self, query: Query, days: float) -> Plan:
        database = self.database
        table = database.tables.get(query.table)
        if table is None:
            raise KeyError(f"database has no table {query.table!r}")
        costs = self.costs
        shape = query.shape
        total = rows_after(table, days)
        writes = query.kind != "select"

        def write(rows: float) -> float:
            # the statement once, each further row at its own cost
            return costs["write_ms"] + max(rows - 1.0, 0.0) * costs["write_row_ms"]

        if query.kind == "insert" or (query.kind == "upsert" and not query.filtered):
            rows = float(query.batch)
            return Plan("insert", rows, write(rows), shape=shape,
                        reason=f"no lookup: writes {rows:,.0f} row(s)", rows_matched=rows)
        pred = _predicate(table, query, self.document_store)
        top_n = query.limit is not None and not writes
        candidates = _candidates(self.indexes(query.table, table), pred, top_n)
        # rows the predicate matches: stated, a share of the table, or the default
        stated = query.rows is not None or query.selectivity is not None
        if query.rows is not None:
            matched = float(query.rows)
        elif query.selectivity is not None:
            matched = query.selectivity * total
        elif pred.empty and not writes:  # an unfiltered read: every row matches
            matched = total
        else:
            unique_point = any(c.unique and set(c.columns) == pred.equal and pred.range is None
                               and not pred.contains for c in candidates)
            matched = float(query.batch if unique_point or writes
                            else max(query.batch, query.limit or 1))
        limit = float(query.limit) if query.limit is not None and not writes else None
        returned = 1.0 if query.aggregate else min(matched, limit) if limit else matched

        def read(c: _Candidate) -> tuple[float, float]:
            """(rows read, ms) of reading the matched rows through index ``c``."""
            # a limit stops the read early when the index gives the rows in order (or no
            # order is asked); an aggregate, or a sort the index cannot give, reads them all
            early = limit is not None and not query.aggregate and (c.ordered or not pred.order_by)
            rows = min(matched, limit) if early and limit is not None else matched
            if c.kind == "brin":  # matched rows' block ranges, read sequentially
                return rows, costs["seek_ms"] + (rows + BRIN_RANGE_ROWS) * costs[
                    "scan_us_per_row"] / 1000.0
            return rows, costs["seek_ms"] + max(rows - 1.0, 0.0) * costs["row_ms"]

        scan_ms = total * costs["scan_us_per_row"] / 1000.0
        after = write(matched) if writes else 0.0
        if not candidates:
            reason = ("no predicate: reads every row" if pred.empty
                      else _unfit(database, table, pred))
            return Plan("scan", total, scan_ms + after, (), shape, reason, matched, returned,
                        rows_assumed=not stated and writes and not pred.empty)
        priced = [(read(c), c) for c in candidates]
        (rows, ms), best = min(priced, key=lambda p: (p[0][1], len(p[1].columns)))
        # a read of one row per key keeps its index: seek_ms holds the statement's own
        # overhead, which a scan pays too; a read of several rows per key takes the cheaper
        if table.rows is not None and rows > query.batch and scan_ms < ms:
            return Plan("scan", total, scan_ms + after, (), shape,
                        f"scan cheaper than reading {rows:,.0f} rows by index "
                        f"({', '.join(best.columns)})", matched, returned,
                        rows_assumed=not stated and writes)
        serves = str(pred) + (f", order by {', '.join(pred.order_by)}"
                              if best.ordered and not pred.empty else "")
        unique = "unique " if best.unique else ""
        point = best.unique and set(best.columns) == pred.equal and not pred.contains
        return Plan("seek", rows, ms + after, best.columns, shape,
                    f"{unique}{best.kind} index ({', '.join(best.columns)}) serves {serves}",
                    matched, returned, best.kind,
                    rows_assumed=not stated and not pred.empty and not point)
