"""The defaults an estimate relies on: every number the design leaves out that moves it.

A component's setting it does not state (:data:`~designkit.model.engines.RELIED_ON`) is its
engine's default or designkit's generic one (:func:`~designkit.model.engines.setting`); a
database's costs are listed only where its queries use them — ``seek_ms`` for a seek,
``row_ms`` when one returns several rows, ``scan_us_per_row`` for a scan, ``write_ms`` for
a write, ``write_row_ms`` for a write of several rows — and a statement timed by its own
``service_ms`` uses none. A query whose matched rows are designkit's default — a lookup
that no unique index serves, a range, a limited read, without ``rows`` or ``selectivity``
(:attr:`~designkit.flow.plan.Plan.rows_assumed`) — is listed with the rows assumed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designkit.flow.build import build
from designkit.flow.plan import Plan, Planner
from designkit.model.database import DEFAULT_POOL_SIZE, Database
from designkit.model.engines import GENERIC, POOL, RELIED_ON, engine_default, setting
from designkit.model.problems import format_path
from designkit.model.query import Query
from designkit.model.steps import CallStep

if TYPE_CHECKING:
    from designkit.flow.nodes import Flow
    from designkit.model.design import Design

__all__ = ["Assumption", "assumptions"]

_COSTS = ("seek_ms", "row_ms", "scan_us_per_row", "write_ms", "write_row_ms")


@dataclass(frozen=True)
class Assumption:
    """A setting a design leaves out, the value the estimate uses, and its source.

    Example:
        >>> a = Assumption("components.cache.hit_ratio", "0.9", "designkit's …")
        >>> a.to_dict()["value"]
        '0.9'
    """

    subject: str
    value: str
    source: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"subject": self.subject, "value": self.value, "source": self.source}


def assumptions(design: Design, days: float = 0.0, flow: Flow | None = None
                ) -> list[Assumption]:
    """Every default ``design`` relies on, with the value used and where it comes from
    (``flow``: the design's, when already built — its steps say which costs are used).

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.cache("c", service_ms=0.2)
        >>> [(a.subject, a.value) for a in assumptions(d)]
        [('components.c.hit_ratio', '0.9')]
    """
    planned = list(_planned(design, days, flow if flow is not None else build(design, days)))
    return [*_assumed(design, _costs_used(planned)), *_rows_assumed(planned)]


def _assumed(design: Design, used: dict[str, set[str]]) -> Iterator[Assumption]:
    for name, component in design.components.items():
        stated = component.model_fields_set
        prefix: str | None = None
        for field in _fields(type(component)):
            if field in stated:
                continue
            if field in _COSTS and field not in used.get(name, set()):
                continue
            found = engine_default(component, field)
            value = setting(component, field)
            source = found.source if found is not None else GENERIC
            if value is None and field == "pool_size":
                value, source = DEFAULT_POOL_SIZE, POOL
            if value is None:
                continue
            prefix = prefix or format_path(("components", name))  # (formatted once)
            yield Assumption(f"{prefix}.{field}", _shown(field, value), source)


@functools.cache
def _fields(kind: type) -> tuple[str, ...]:
    """The settings of :data:`RELIED_ON` a component class has."""
    fields = kind.model_fields  # type: ignore[attr-defined]
    named = kind.model_fields["kind"].annotation.__args__[0]  # type: ignore[attr-defined]
    return tuple(f for f in RELIED_ON.get(named, ()) if f in fields)


_ROWS = ("not stated: a lookup no unique index serves (or a range) is assumed to match one "
         "row per key, or its limit; state the query's rows or selectivity")

_Planned = tuple[str, str, Query, Plan]
"""(database, the step's subject, its query, the query's plan)."""


def _planned(design: Design, days: float, flow: Flow) -> Iterator[_Planned]:
    """Every query timed by its plan (no ``service_ms`` of its own), planned once per
    statement."""
    planners: dict[str, Planner] = {}  # one per database: a statement is planned once
    for site in flow.sites:
        step = site.step
        if not isinstance(step, CallStep) or step.query is None or step.service_ms is not None:
            continue
        database = design.components.get(step.call)
        if not isinstance(database, Database) or step.query.table not in database.tables:
            continue
        planner = planners.get(step.call)
        if planner is None:
            planner = planners[step.call] = Planner(database)
        yield step.call, site.subject, step.query, planner.plan(step.query, days)


def _rows_assumed(planned: list[_Planned]) -> Iterator[Assumption]:
    """The queries whose matched rows are the planner's default."""
    for _, subject, _, plan in planned:
        if plan.rows_assumed:
            yield Assumption(f"{subject}.query.rows", f"{plan.rows_matched:g}", _ROWS)


def _costs_used(planned: list[_Planned]) -> dict[str, set[str]]:
    """Per database, the costs its queries use."""
    out: dict[str, set[str]] = {}
    for name, _, query, plan in planned:
        costs = out.setdefault(name, set())
        if plan.access == "seek":
            costs.add("seek_ms")
            if plan.rows_visited > 1:
                costs.add("row_ms")
        if plan.access == "scan" or plan.index_kind == "brin":  # BRIN scans block ranges
            costs.add("scan_us_per_row")
        if query.kind in ("insert", "update", "delete", "upsert"):
            costs.add("write_ms")
            if query.batch > 1 or plan.rows_matched > 1:
                costs.add("write_row_ms")
    return out


def _shown(field: str, value: Any) -> str:
    mean = getattr(value, "mean", None)
    unit = " ms" if field.endswith("_ms") else " µs" if field.endswith("_us_per_row") else ""
    if mean is not None and not isinstance(value, int | float):
        return f"{mean:g}{unit}"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"
