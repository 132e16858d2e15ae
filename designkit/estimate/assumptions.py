"""The defaults an estimate relies on: every number the design leaves out that moves it.

A component's setting it does not state (:data:`~designkit.model.engines.RELIED_ON`) is its
engine's default or designkit's generic one (:func:`~designkit.model.engines.setting`); a
database's costs are listed only where its queries use them — ``seek_ms`` for a seek,
``row_ms`` when one returns several rows, ``scan_us_per_row`` for a scan, ``write_ms`` for
a write, ``write_row_ms`` for a write of several rows — and a statement timed by its own
``service_ms`` uses none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designkit.flow.build import build
from designkit.flow.plan import plan_query
from designkit.model.database import DEFAULT_POOL_SIZE, Database
from designkit.model.engines import GENERIC, POOL, RELIED_ON, engine_default, setting
from designkit.model.problems import format_path
from designkit.model.steps import CallStep

if TYPE_CHECKING:
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


def assumptions(design: Design, days: float = 0.0) -> list[Assumption]:
    """Every default ``design`` relies on, with the value used and where it comes from.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.cache("c", service_ms=0.2)
        >>> [(a.subject, a.value) for a in assumptions(d)]
        [('components.c.hit_ratio', '0.9')]
    """
    used = _costs_used(design, days)
    return list(_assumed(design, used))


def _assumed(design: Design, used: dict[str, set[str]]) -> Iterator[Assumption]:
    for name, component in design.components.items():
        for field in RELIED_ON.get(component.kind, ()):
            if field in component.model_fields_set or field not in type(component).model_fields:
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
            yield Assumption(format_path(("components", name, field)), _shown(field, value),
                             source)


def _costs_used(design: Design, days: float) -> dict[str, set[str]]:
    """Per database, the costs its queries use (those without their own ``service_ms``)."""
    out: dict[str, set[str]] = {}
    for site in build(design).sites:
        step = site.step
        if not isinstance(step, CallStep) or step.query is None or step.service_ms is not None:
            continue
        database = design.components.get(step.call)
        if not isinstance(database, Database) or step.query.table not in database.tables:
            continue
        plan = plan_query(database, step.query, days)
        query, costs = step.query, out.setdefault(step.call, set())
        writes = query.kind in ("insert", "update", "delete", "upsert")
        if plan.access == "seek":
            costs.add("seek_ms")
            if plan.rows_visited > 1:
                costs.add("row_ms")
        elif plan.access == "scan":
            costs.add("scan_us_per_row")
        if writes:
            costs.add("write_ms")
            if query.batch > 1:
                costs.add("write_row_ms")
    return out


def _shown(field: str, value: Any) -> str:
    mean = getattr(value, "mean", None)
    unit = " ms" if field.endswith("_ms") else " µs" if field.endswith("_us_per_row") else ""
    if mean is not None and not isinstance(value, int | float):
        return f"{mean:g}{unit}"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"
