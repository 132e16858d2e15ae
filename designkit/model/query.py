"""A database query as the estimator and the checklist see it: table, kind, predicate, and
the rows it matches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from designkit.model.base import Strict
from designkit.model.bounds import Ratio, Rows, Size, Units

__all__ = ["Query", "QueryKind", "QueryShape"]

QueryKind = Literal["select", "insert", "update", "delete", "upsert"]
QueryShape = Literal["point", "range", "aggregate", "top-n", "batch"]
"""What a statement does with the rows it matches (:attr:`Query.shape`)."""


class Query(Strict):
    """One statement against one table.

    Args:
        table: Table name in the called database.
        kind: select | insert | update | delete | upsert.
        where: Columns the predicate tests for equality (``col = $1``); an index serves
            them when its leading columns are these columns, in any order.
        range: The one column the predicate tests with ``<``, ``>`` or ``BETWEEN`` (a
            B-tree, GiST or BRIN index serves it; a hash index cannot).
        contains: Columns tested for containment or text search (jsonb ``@>``, array
            ``&&``/``@>``, ``tsvector @@``): a GIN or GiST index serves them.
        order_by: Columns the result is sorted by.
        limit: Row limit of the statement, if any.
        batch: Keys fetched or written by one statement (``WHERE id IN (…)``, multi-row
            insert); 1 means a single-row operation.
        rows: Rows the predicate matches (the statement reads them all when it aggregates
            or sorts what no index orders); give this or ``selectivity``.
        selectivity: Share of the table the predicate matches: its rows grow with the
            table. When neither is stated a lookup matches one row per key (``batch``), or
            ``limit`` rows for a limited read — an assumption the estimate lists unless a
            unique index or the primary key serves it.
        aggregate: The statement reduces the rows it matches to one (``SUM``, ``COUNT``,
            ``GROUP BY`` to few rows): it reads them all and returns one.
        atomic: The statement changes a value in place (``SET n = n - 1 WHERE n > 0``)
            rather than reading it first and writing it back.
        for_update: A select that locks the rows it reads until its transaction ends
            (``SELECT … FOR UPDATE``): a write of them later in that transaction loses no
            update (DK-RES-007). Its waits are modelled by a ``lock`` step (engine row).

    Raises:
        ValueError: Both ``rows`` and ``selectivity`` are given, or the ``range`` column is
            also an equality column of ``where``.

    Example:
        >>> Query(table="orders", kind="select", where=["user_id"], limit=20).where
        ['user_id']
        >>> Query(table="orders", range="created_at", selectivity=0.08, aggregate=True).shape
        'aggregate'
    """

    table: str
    kind: QueryKind = "select"
    where: list[str] = Field(default_factory=list)
    range: str | None = None
    contains: list[str] = Field(default_factory=list)
    order_by: list[str] = Field(default_factory=list)
    limit: Units | None = None
    batch: Size = 1
    rows: Rows | None = None
    selectivity: Ratio | None = None
    aggregate: bool = False
    atomic: bool | None = None
    for_update: bool = False

    @model_validator(mode="after")
    def _one_row_count(self) -> Query:
        if self.rows is not None and self.selectivity is not None:
            raise ValueError("give rows (rows the predicate matches) or selectivity (the "
                             "share of the table it matches), not both")
        if self.range is not None and self.range in self.where:
            raise ValueError(f"column {self.range!r} is both an equality column (where) and "
                             "the range column: keep it in one of them")
        return self

    @property
    def filtered(self) -> bool:
        """Whether the statement has a predicate (equality, range or containment).

        Example:
            >>> Query(table="t", contains=["tags"]).filtered
            True
        """
        return bool(self.where or self.range or self.contains)

    @property
    def filter_columns(self) -> list[str]:
        """The columns the predicate tests: equality, then range, then containment.

        Example:
            >>> Query(table="t", where=["user_id"], range="created_at").filter_columns
            ['user_id', 'created_at']
        """
        return [*self.where, *([self.range] if self.range else []), *self.contains]

    @property
    def shape(self) -> QueryShape:
        """What it does with the rows it matches: ``aggregate`` (reads them, returns one),
        ``batch`` (several keys in one statement), ``top-n`` (``order_by`` with a
        ``limit``), ``range`` (a range or containment test, or several matched rows), else
        ``point``.

        Example:
            >>> Query(table="t", where=["user_id"], order_by=["created_at"], limit=20).shape
            'top-n'
        """
        if self.aggregate:
            return "aggregate"
        if self.batch > 1:
            return "batch"
        if self.order_by and self.limit is not None:
            return "top-n"
        if (self.range is not None or self.contains or self.selectivity is not None
                or (self.rows is not None and self.rows > 1)):
            return "range"
        return "point"

    def columns(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every column the statement names, with its place under ``query``
        (``("where", 0)``, ``("range",)``…), in field order — to check they exist.

        Example:
            >>> Query(table="t", where=["a"], range="b", order_by=["b"]).columns()
            [(('where', 0), 'a'), (('range',), 'b'), (('order_by', 0), 'b')]
        """
        out: list[tuple[tuple[str | int, ...], str]] = [
            (("where", i), c) for i, c in enumerate(self.where)]
        if self.range is not None:
            out.append((("range",), self.range))
        out += [(("contains", i), c) for i, c in enumerate(self.contains)]
        out += [(("order_by", i), c) for i, c in enumerate(self.order_by)]
        return out
