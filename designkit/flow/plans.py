"""Every query plan of a design: each database call of each endpoint (handlers and scheduled
jobs included), its shape, access path, rows read and time now and after some days.

One view model for the ``designkit plan`` command, the report's "Query plans" table and a
notebook: :func:`query_plans` walks the flow's sites once and plans each statement twice
(:func:`~designkit.flow.plan.plan_query`, now and after ``days``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designkit.flow.build import build
from designkit.flow.plan import Plan, plan_query
from designkit.model.database import Database
from designkit.model.problems import format_path
from designkit.model.query import Query
from designkit.model.steps import CallStep
from designkit.text import number

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["QueryPlan", "QueryPlans", "query_plans"]


@dataclass(frozen=True)
class QueryPlan:
    """One database call's plan now and after the days.

    Attributes:
        endpoint: The endpoint that runs it (``svc METHOD /path``).
        place: The step's place in the endpoint (``steps[1].steps[0]``).
        subject: The step's full path, as findings name it.
        database: The database called.
        table: The table queried.
        kind: select, insert, update, delete or upsert.
        now: The plan on today's rows.
        then: The plan after the days of growth.
        stated_ms: The step's own ``service_ms`` (mean), which the estimate uses instead of
            the plan's time; ``None`` when the plan times it.
        query: The statement planned (what ``designkit verify`` writes as SQL).

    Example:
        >>> import designkit as dk
        >>> p = dk.query_plans(dk.template("dashboard-slow")).plans[2]
        >>> (p.table, p.now.access, p.now.ms, round(p.then.ms))
        ('payments', 'scan', 150.48, 343)
    """

    endpoint: str
    place: str
    subject: str
    database: str
    table: str
    kind: str
    now: Plan
    then: Plan
    stated_ms: float | None = None
    query: Query | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the plan's access path, reason and numbers now and then."""
        return {
            "endpoint": self.endpoint, "place": self.place, "subject": self.subject,
            "database": self.database, "table": self.table, "kind": self.kind,
            "shape": self.now.shape, "access": self.now.access, "index": list(self.now.index),
            "index_kind": self.now.index_kind, "reason": self.now.reason,
            "rows_matched": self.now.rows_matched, "rows_read": self.now.rows_visited,
            "ms": self.now.ms, "rows_assumed": self.now.rows_assumed,
            "then": {"access": self.then.access, "index": list(self.then.index),
                     "reason": self.then.reason, "rows_matched": self.then.rows_matched,
                     "rows_read": self.then.rows_visited, "ms": self.then.ms},
            "stated_ms": self.stated_ms,
        }


_HEADER = ("endpoint", "step", "table", "shape", "access", "rows read", "ms now")


@dataclass(frozen=True)
class QueryPlans:
    """Every query plan of a design, in file order.

    Example:
        >>> import designkit as dk
        >>> plans = dk.query_plans(dk.template("flash-sale"), days=30)
        >>> (plans.days, plans.plans[0].table, plans.plans[0].now.access)
        (30.0, 'products', 'seek')
    """

    days: float
    plans: tuple[QueryPlan, ...]

    def rows(self) -> list[tuple[str, ...]]:
        """The text cells of each plan: the columns of :meth:`header`."""
        return [(p.endpoint, p.place, f"{p.database}.{p.table}", p.now.shape,
                 p.now.path if p.now.access == p.then.access else
                 f"{p.now.path} → {p.then.path}",
                 number(p.now.rows_visited), number(p.now.ms), number(p.then.ms),
                 p.then.reason + (f" (stated service_ms {number(p.stated_ms)} ms is used)"
                                  if p.stated_ms is not None else ""))
                for p in self.plans]

    def header(self) -> tuple[str, ...]:
        """The column names, the time after the days included."""
        return (*_HEADER, f"ms in {self.days:g} days", "why")

    def __str__(self) -> str:
        if not self.plans:
            return "no query: no endpoint calls a database with a query"
        cells = [self.header(), *self.rows()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]) - 1)]
        right = {5, 6, 7}
        lines = []
        for row in cells:
            parts = [(c.rjust(w) if i in right and row is not cells[0] else c.ljust(w))
                     for i, (c, w) in enumerate(zip(row, widths, strict=False))]
            lines.append("  ".join([*parts, row[-1]]).rstrip())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the days and every plan."""
        return {"days": self.days, "plans": [p.to_dict() for p in self.plans]}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header())
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows())
        return f"<table><tr>{head}</tr>{body}</table>"


def query_plans(design: Design, days: float = 365.0) -> QueryPlans:
    """The plan of every database query of ``design``, now and after ``days`` of growth.

    Args:
        design: The design (a query of a table that does not exist is left out: loading
            the design reports it).
        days: Days of table growth for the second plan.

    Returns:
        The plans, in file order of the endpoints and their steps.

    Example:
        >>> import designkit as dk
        >>> p = dk.query_plans(dk.template("dashboard-fixed")).plans[1]
        >>> (p.endpoint, p.place, p.now.shape, p.now.path)
        ('dashboard-api GET /v1/dashboard', 'steps[1]', 'top-n', 'btree (merchant_id, created_at)')
    """
    found = []
    for site in build(design).sites:
        step = site.step
        if not isinstance(step, CallStep) or step.query is None:
            continue
        database = design.components.get(step.call)
        if not isinstance(database, Database) or step.query.table not in database.tables:
            continue
        stated = getattr(step.service_ms, "mean", None)
        found.append(QueryPlan(
            str(site.ref), format_path(site.path[4:]), site.subject, step.call,
            step.query.table, step.query.kind, plan_query(database, step.query, 0.0),
            plan_query(database, step.query, days), stated, step.query))
    return QueryPlans(float(days), tuple(found))
