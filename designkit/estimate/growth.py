"""Growth: table sizes after some days, and what each query costs then."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from designkit.estimate.arguments import at_least_zero
from designkit.flow.build import build
from designkit.flow.plan import Plan, plan_query, rows_after
from designkit.model.database import Database
from designkit.model.steps import CallStep

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["Growth", "QueryGrowth", "TableGrowth", "growth"]


@dataclass(frozen=True)
class TableGrowth:
    """A table now and after the days."""

    database: str
    table: str
    rows_now: float
    rows_then: float
    partitioned: bool


@dataclass(frozen=True)
class QueryGrowth:
    """A query of an endpoint: its plan now and after the days."""

    endpoint: str
    path: str
    database: str
    table: str
    now: Plan
    then: Plan


@dataclass(frozen=True)
class Growth:
    """Tables and queries after ``days`` of growth.

    Example:
        >>> import designkit as dk
        >>> g = dk.growth(dk.template("dashboard-slow"), days=365)
        >>> t = next(t for t in g.tables if t.table == "payments")
        >>> f"{t.rows_now:,.0f} → {t.rows_then:,.0f}"
        '2,280,000 → 5,200,000'
    """

    days: float
    tables: tuple[TableGrowth, ...]
    queries: tuple[QueryGrowth, ...]

    def __str__(self) -> str:
        lines = [f"growth over {self.days:g} days", "  tables"]
        lines += [f"    {t.database}.{t.table}: {t.rows_now:,.0f} → {t.rows_then:,.0f} rows"
                  + (" (partitioned)" if t.partitioned else "") for t in self.tables]
        slower = [q for q in self.queries if q.then.ms > q.now.ms * 1.001]
        if slower:
            lines.append("  queries that get slower")
            lines += [f"    {q.endpoint} → {q.database}.{q.table} ({q.now.access}): "
                      f"{q.now.ms:.3g} → {q.then.ms:.3g} ms" for q in slower]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(t.database)}.{esc(t.table)}</td>"
            f"<td style='text-align:right'>{t.rows_now:,.0f}</td>"
            f"<td style='text-align:right'>{t.rows_then:,.0f}</td></tr>" for t in self.tables)
        queries = "".join(
            f"<tr><td><code>{esc(q.endpoint)}</code></td><td>{esc(q.database)}.{esc(q.table)}"
            f"</td><td>{esc(q.now.access)}</td><td style='text-align:right'>{q.now.ms:.3g}</td>"
            f"<td style='text-align:right'>{q.then.ms:.3g}</td></tr>" for q in self.queries)
        return (f"<div><strong>growth over {self.days:g} days</strong>"
                "<table><tr><th>table</th><th>rows now</th><th>rows then</th></tr>"
                f"{rows}</table><table><tr><th>endpoint</th><th>table</th><th>plan</th>"
                f"<th>ms now</th><th>ms then</th></tr>{queries}</table></div>")


def growth(design: Design, days: float = 365.0) -> Growth:
    """Rows of every table after ``days``, and every query's plan and cost now and then.

    Args:
        design: The design.
        days: Days of growth at each table's ``growth_per_day``.

    Raises:
        ArgumentError: ``days`` is not a finite number ≥ 0.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> db = d.database("db")
        >>> _ = db.table("events", rows=1_000_000, growth_per_day=10_000).column("id", "uuid")
        >>> [t.rows_then for t in dk.growth(d, days=100).tables]
        [2000000.0]
    """
    days = at_least_zero("days", days)
    tables = tuple(
        TableGrowth(db_name, name, float(table.rows or 0), rows_after(table, days),
                    table.partitioning is not None)
        for db_name, db in design.components.items() if isinstance(db, Database)
        for name, table in db.tables.items())
    queries = []
    for site in build(design).sites:
        step = site.step
        if not isinstance(step, CallStep):
            continue
        target = design.components.get(step.call)
        if isinstance(target, Database) and step.query is not None:
            queries.append(QueryGrowth(
                str(site.ref), site.subject, step.call, step.query.table,
                plan_query(target, step.query, 0.0), plan_query(target, step.query, days)))
    return Growth(days, tables, tuple(queries))
