"""Two designs side by side: what changed in the model, in the estimate, and in the review.

:func:`diff` compares a design before and after a change — the parts added, removed and
changed (:func:`~designkit.model.changes.design_changes`), each endpoint's p95 and each
station's utilization under both estimates, the saturation point and bottleneck, and the
failing findings opened and closed — and writes it as text, Markdown or JSON
(``designkit diff OLD NEW``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from designkit.text import markdown_code, number, percent

if TYPE_CHECKING:
    from designkit.assess.finding import Finding
    from designkit.estimate.result import Estimate
    from designkit.model.changes import Change
    from designkit.model.design import Design

__all__ = ["DesignDiff", "EndpointDelta", "StationDelta", "diff"]

UTILIZATION_STEP = 0.005
"""A station is listed when its utilization moves by at least this much (half a point)."""


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return "saturated" if not math.isfinite(value) else f"{number(value)} ms"


@dataclass(frozen=True)
class EndpointDelta:
    """An endpoint's p95 before and after (``None``: not in that design or no load;
    ``inf``: saturated)."""

    endpoint: str
    p95_before: float | None
    p95_after: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a saturated p95 is ``null`` with ``saturated`` true)."""
        return {"endpoint": self.endpoint, "p95_before_ms": _finite(self.p95_before),
                "p95_after_ms": _finite(self.p95_after),
                "saturated_before": self.p95_before == math.inf,
                "saturated_after": self.p95_after == math.inf}


@dataclass(frozen=True)
class StationDelta:
    """A station's utilization before and after (``None``: not in that design)."""

    station: str
    before: float | None
    after: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"station": self.station, "utilization_before": _finite(self.before),
                "utilization_after": _finite(self.after)}


@dataclass(frozen=True)
class DesignDiff:
    """What changed from one design to another.

    Attributes:
        old: The name of the design before.
        new: The name of the design after.
        changes: The parts added, removed and changed, in file order.
        endpoints: Each endpoint with a workload in either design: p95 before and after.
        stations: The stations whose utilization moved by half a point or more.
        max_scale: The workload's saturation factor before and after.
        bottleneck: The first station to saturate before and after.
        opened: Failing findings the new design has and the old did not (by rule and
            subject: a step that moved in its list counts as closed and opened).
        closed: Failing findings of the old design the new one no longer has.

    Example:
        >>> import designkit as dk
        >>> d = diff(dk.template("dashboard-slow"), dk.template("dashboard-fixed"))
        >>> d.bottleneck, sorted({f.rule for f in d.closed})[:2]
        (('app-db cpu', 'dashboard-cache servers'), ['DK-BE-002', 'DK-DB-002'])
    """

    old: str
    new: str
    changes: list[Change]
    endpoints: list[EndpointDelta]
    stations: list[StationDelta]
    max_scale: tuple[float, float]
    bottleneck: tuple[str | None, str | None]
    opened: list[Finding] = field(default_factory=list)
    closed: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every list, and the numbers with ``null`` for infinity."""
        return {
            "old": self.old, "new": self.new,
            "changes": [c.to_dict() for c in self.changes],
            "endpoints": [e.to_dict() for e in self.endpoints],
            "stations": [s.to_dict() for s in self.stations],
            "max_scale": {"before": _finite(self.max_scale[0]),
                          "after": _finite(self.max_scale[1])},
            "bottleneck": {"before": self.bottleneck[0], "after": self.bottleneck[1]},
            "opened": [_finding(f) for f in self.opened],
            "closed": [_finding(f) for f in self.closed],
        }

    def __str__(self) -> str:
        lines = [f"{self.old} → {self.new}", "", f"{len(self.changes)} change(s) to the design:"]
        lines += [f"  {c}" for c in self.changes] or ["  none"]
        lines += ["", "estimate (p95):"]
        lines += [f"  {e.endpoint}: {_ms(e.p95_before)} → {_ms(e.p95_after)}"
                  for e in self.endpoints] or ["  no workload"]
        lines += [f"  {s.station}: {_pct(s.before)} → {_pct(s.after)}" for s in self.stations]
        lines.append(f"  saturates at {_scale(self.max_scale[0])} → {_scale(self.max_scale[1])} "
                     f"the workload (bottleneck {self.bottleneck[0] or '—'} → "
                     f"{self.bottleneck[1] or '—'})")
        lines += ["", f"review: {len(self.opened)} failing finding(s) opened, "
                  f"{len(self.closed)} closed"]
        lines += [f"  opened {f.rule} {f.severity.value} {f.subject}: {f.message}"
                  for f in self.opened]
        lines += [f"  closed {f.rule} {f.subject}" for f in self.closed]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        """The same as Markdown tables (for a pull request's description)."""
        out = [f"## {self.old} → {self.new}", "", "### Design", ""]
        out += ([f"- {markdown_code(str(c))}" for c in self.changes] or ["No change."])
        out += ["", "### Estimate", "", "| endpoint | p95 before | p95 after |",
                "|---|---:|---:|"]
        out += [f"| {markdown_code(e.endpoint)} | {_ms(e.p95_before)} | {_ms(e.p95_after)} |"
                for e in self.endpoints]
        if self.stations:
            out += ["", "| station | utilization before | after |", "|---|---:|---:|"]
            out += [f"| {markdown_code(s.station)} | {_pct(s.before)} | {_pct(s.after)} |"
                    for s in self.stations]
        out += ["", f"Saturates at {_scale(self.max_scale[0])} → {_scale(self.max_scale[1])} "
                    f"the workload (bottleneck {self.bottleneck[0] or '—'} → "
                    f"{self.bottleneck[1] or '—'}).", "", "### Review", "",
                f"{len(self.opened)} failing finding(s) opened, {len(self.closed)} closed.", ""]
        out += [f"- opened **{f.rule}** ({f.severity.value}) {markdown_code(f.subject)}: "
                f"{f.message}" for f in self.opened]
        out += [f"- closed **{f.rule}** {markdown_code(f.subject)}" for f in self.closed]
        return "\n".join(out) + "\n"


def _pct(value: float | None) -> str:
    if value is None:
        return "—"
    return "saturated" if not math.isfinite(value) else percent(value)


def _scale(value: float) -> str:
    return "never" if not math.isfinite(value) else f"{value:.3g}×"


def _finding(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity.value, "subject": f.subject,
            "message": f.message}


def _endpoints(before: Estimate, after: Estimate) -> list[EndpointDelta]:
    names = [*before.endpoints, *(n for n in after.endpoints if n not in before.endpoints)]
    out = []
    for name in names:
        b, a = before.endpoints.get(name), after.endpoints.get(name)
        out.append(EndpointDelta(name, b.p95_ms if b is not None else None,
                                 a.p95_ms if a is not None else None))
    return out


def _stations(before: Estimate, after: Estimate) -> list[StationDelta]:
    def table(e: Estimate) -> dict[str, float]:
        return {sid: (math.inf if s.saturated else s.utilization)
                for c in e.components.values() for sid, s in c.stations.items()}

    old, new = table(before), table(after)
    out = []
    for sid in [*old, *(s for s in new if s not in old)]:
        b, a = old.get(sid), new.get(sid)
        moved = (b is None or a is None or not (math.isfinite(b) and math.isfinite(a))
                 or abs(a - b) >= UTILIZATION_STEP)
        if moved and (b or a):
            out.append(StationDelta(sid, b, a))
    return out


def diff(old: Design, new: Design) -> DesignDiff:
    """Compare ``old`` with ``new``: the model, both estimates and both reviews.

    Example:
        >>> import designkit as dk
        >>> d = diff(dk.template("dashboard-slow"), dk.template("dashboard-fixed"))
        >>> [(e.endpoint, round(e.p95_before), round(e.p95_after)) for e in d.endpoints][:1]
        [('dashboard-api GET /v1/dashboard', 9724, 64)]
    """
    from designkit.assess.engine import assess
    from designkit.estimate.api import estimate
    from designkit.model.changes import design_changes

    before, after = estimate(old), estimate(new)
    old_failed = {(f.rule, f.subject): f for f in assess(old, estimate=before).failed()}
    new_failed = {(f.rule, f.subject): f for f in assess(new, estimate=after).failed()}
    return DesignDiff(
        old=old.name, new=new.name, changes=design_changes(old, new),
        endpoints=_endpoints(before, after), stations=_stations(before, after),
        max_scale=(before.max_scale, after.max_scale),
        bottleneck=(before.bottleneck_station, after.bottleneck_station),
        opened=[f for key, f in new_failed.items() if key not in old_failed],
        closed=[f for key, f in old_failed.items() if key not in new_failed])
