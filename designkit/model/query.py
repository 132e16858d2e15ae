"""A database query as the estimator and the checklist see it: table, kind, predicate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from designkit.model.base import Strict
from designkit.model.bounds import Size, Units

__all__ = ["Query", "QueryKind"]

QueryKind = Literal["select", "insert", "update", "delete", "upsert"]


class Query(Strict):
    """One statement against one table.

    Args:
        table: Table name in the called database.
        kind: select | insert | update | delete | upsert.
        where: Columns the predicate tests (equality or range); the plan is a seek when an
            index's leading columns cover them, else a scan.
        order_by: Columns the result is sorted by.
        limit: Row limit of the statement, if any.
        batch: Keys fetched or written by one statement (``WHERE id IN (…)``, multi-row
            insert); 1 means a single-row operation.
        atomic: The statement changes a value in place (``SET n = n - 1 WHERE n > 0``)
            rather than reading it first and writing it back.

    Example:
        >>> Query(table="orders", kind="select", where=["user_id"], limit=20).where
        ['user_id']
    """

    table: str
    kind: QueryKind = "select"
    where: list[str] = Field(default_factory=list)
    order_by: list[str] = Field(default_factory=list)
    limit: Units | None = None
    batch: Size = 1
    atomic: bool | None = None
