"""Sizing: the fewest replicas, workers and connections that meet the targets.

The variables are each service's ``replicas`` and ``workers`` (per replica) and each
database's ``pool_size`` (per client replica). Other capacity (database cores, cache
servers, broker partitions, locks, third parties) is not sized: when it breaks a target,
the result says so and names it.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from designkit.errors import DesignkitError
from designkit.estimate.api import estimate, estimate_with
from designkit.estimate.arguments import ArgumentError, positive, ratio
from designkit.estimate.result import Estimate
from designkit.estimate.scenarios import Scenario
from designkit.gcpause import gc_running
from designkit.model.database import DEFAULT_POOL_SIZE, Database
from designkit.model.service import Service

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["Sizing", "SizingError", "Target", "size"]


class SizingError(DesignkitError, ValueError):
    """The targets cannot be met by sizing replicas, workers and pools.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("GET /x", cpu_ms=100)
        >>> _ = d.set_load("api GET /x", 1)
        >>> try:
        ...     dk.size(d, p95_ms=10)
        ... except dk.SizingError as err:
        ...     print(str(err).split(":")[0])
        p95 ≤ 10 ms cannot be reached by sizing replicas, workers and pools
    """


@dataclass(frozen=True)
class Sizing:
    """The sized design, what changed, and its estimate.

    Attributes:
        design: A sized copy of the design.
        estimate: Its estimate.
        changes: ``{"components.api.replicas": (old, new), …}``.
        limits: Stations above the utilization target that sizing cannot change.
        targets: Each endpoint's latency targets, as sized to (queues' handlers have
            none).
        lose_replicas: Replicas of every service the targets hold without.

    Example:
        >>> import designkit as dk
        >>> sizing = dk.size(dk.template("flash-sale"), p95_ms=50)
        >>> sizing.changes["components.checkout-api.replicas"][0]
        20
    """

    design: Design
    estimate: Estimate
    changes: dict[str, tuple[int, int]]
    limits: list[str] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    lose_replicas: int = 0

    def __str__(self) -> str:
        lost = (f" (targets kept with {self.lose_replicas} replica"
                f"{'s' if self.lose_replicas != 1 else ''} of every service lost)"
                if self.lose_replicas else "")
        lines = [f"sizing of {self.design.name!r}{lost}:"]
        lines += [f"  {path}: {old} → {new}" for path, (old, new) in self.changes.items()]
        if not self.changes:
            lines.append("  nothing to change")
        lines += [f"  not sized, above target: {limit}" for limit in self.limits]
        return "\n".join(lines)


@dataclass
class _Var:
    path: str
    component: str
    attr: str
    station_prefix: str  # stations this variable serves: "<svc> workers" or "<db> pool "


def size(design: Design, p95_ms: float | None = None, utilization_max: float = 0.7,
         min_replicas: int = 2, max_steps: int = 400, lose_replicas: int = 0) -> Sizing:
    """The smallest replicas, workers per replica and pool sizes that meet the targets.

    Starts from one of each, grows what the most loaded station needs until every
    sizable station is at or below ``utilization_max`` and every endpoint meets its
    latency targets, then shrinks each value back as far as the targets allow. Workers
    per replica never exceed the design's own (threads per process are a runtime fact).

    Each endpoint's targets are its own ``slo`` (p95 and p99), else ``p95_ms``, else the
    policy's ``slo``. A queue's handler has none: nobody waits on its requests, so it is
    judged by its consumers keeping up (their utilization), not by its latency. A job only
    a ``schedule`` runs must finish within its period (p95 ≤ ``every_s``).

    Args:
        design: The design (not modified).
        p95_ms: Target p95 for every endpoint with traffic that states no SLO of its own.
        utilization_max: Highest utilization allowed at any sized station.
        min_replicas: Fewest replicas of a service (2: one can fail or be redeployed).
        lose_replicas: Keep every target with this many replicas of every service lost at
            once (a zone down): sized against ``Scenario(lost_replicas=…)``.

    Returns:
        The sized copy, its estimate and the changes.

    Raises:
        SizingError: A p95 target is below what the endpoint takes with no queueing at all,
            or needs more replicas, workers or connections than a design may have.
        ArgumentError: ``p95_ms`` is not a finite number > 0, ``utilization_max`` not in
            (0, 1], or ``min_replicas`` not a whole number ≥ 1.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", replicas=20, workers=10).endpoint("GET /x", cpu_ms=100)
        >>> _ = d.set_load("api GET /x", 90)
        >>> s = dk.size(d, utilization_max=0.7)
        >>> s.changes
        {'components.api.replicas': (20, 2), 'components.api.workers': (10, 7)}
        >>> print(s)
        sizing of 'x':
          components.api.replicas: 20 → 2
          components.api.workers: 10 → 7
    """
    if p95_ms is not None:
        positive("p95_ms", p95_ms)
    ratio("utilization_max", utilization_max)
    if isinstance(min_replicas, bool) or not isinstance(min_replicas, int) or min_replicas < 1:
        raise ArgumentError(f"min_replicas must be a whole number ≥ 1, got {min_replicas!r}")
    if isinstance(lose_replicas, bool) or not isinstance(lose_replicas, int) or \
            lose_replicas < 0:
        raise ArgumentError(f"lose_replicas must be a whole number ≥ 0, got {lose_replicas!r}")
    design.validate()
    sized = design.model_copy(deep=True)
    min_replicas = max(min_replicas, lose_replicas + 1)
    targets = _targets(sized, p95_ms)
    lost = Scenario(lost_replicas={name: lose_replicas for name, c in sized.components.items()
                                   if isinstance(c, Service)}) if lose_replicas else None
    variables = _variables(sized)
    ceiling = {v.path: getattr(sized.components[v.component], v.attr) for v in variables
               if v.attr == "workers"}
    bound = {v.path: _upper_bound(type(sized.components[v.component]), v.attr)
             for v in variables}
    original = {v.path: getattr(sized.components[v.component], v.attr) or DEFAULT_POOL_SIZE
                for v in variables}
    floor = {v.path: min_replicas if v.attr == "replicas" else 1 for v in variables}
    for v in variables:
        setattr(sized.components[v.component], v.attr,
                ceiling[v.path] if v.attr == "workers" else floor[v.path])

    def missed(est: Estimate) -> list[str]:
        return [key for key, e in est.endpoints.items()
                if key in targets and not targets[key].met(e.p95_ms, e.p99_ms)]

    def check() -> tuple[bool, Estimate, list[_Var], list[str]]:
        with gc_running():  # (up to max_steps estimates: the earlier ones' cycles freed)
            est = estimate_with(sized, scenario=lost, capacity=False)
        grow: list[_Var] = []
        limits: list[str] = []
        for component in est.components.values():
            for station in component.stations.values():
                if station.utilization <= utilization_max:
                    continue
                owner = next((v for v in variables if station.id.startswith(v.station_prefix)
                              and v.attr != "workers"), None)
                if owner is None:
                    limits.append(f"{station.id} at {station.utilization:.0%}")
                elif owner not in grow:
                    grow.append(owner)
        slow = missed(est)
        for key in slow:
            owner = _busiest(est, variables, key.split(" ", 1)[0])
            if owner is not None and owner not in grow:
                grow.append(owner)
        return not grow and not slow, est, grow, limits

    ok, est, grow, limits = check()
    at_bound: dict[str, str] = {}
    steps = 0
    while not ok and grow:
        grown = False
        for var in grow:
            component = sized.components[var.component]
            value = getattr(component, var.attr)
            larger = min(max(value + 1, math.ceil(value * 1.25)), bound[var.path])
            if larger > value:
                setattr(component, var.attr, larger)
                grown = True
            elif var.path not in at_bound:
                at_bound[var.path] = f"{var.path} at its bound of {bound[var.path]:,}"
        if not grown:
            limits += at_bound.values()
            break
        ok, est, grow, limits = check()
        steps += 1
        if steps > max_steps:
            break
    if not ok:
        _explain(est, targets, missed(est), limits)
    for var in variables:  # shrink each back as far as the targets allow
        component = sized.components[var.component]
        lo, hi = floor[var.path], getattr(component, var.attr)
        while lo < hi:
            mid = (lo + hi) // 2
            setattr(component, var.attr, mid)
            if check()[0]:
                hi = mid
            else:
                lo = mid + 1
        setattr(component, var.attr, hi)
    ok, est, _, limits = check()
    changes = {v.path: (original[v.path], getattr(sized.components[v.component], v.attr))
               for v in variables
               if getattr(sized.components[v.component], v.attr) != original[v.path]}
    return Sizing(sized, estimate(sized), changes, limits + list(at_bound.values()),
                  targets, lose_replicas)


def _upper_bound(model: type, attr: str) -> int:
    """The largest value the design allows for ``attr`` of a ``model`` (its field's ``le``;
    also inside an optional field), or 10⁹ when none is stated."""
    field_info = model.model_fields[attr]  # type: ignore[attr-defined]
    found = [m.le for m in _metadata(field_info) if getattr(m, "le", None) is not None]
    return int(min(found)) if found else 10**9


def _metadata(item: Any) -> list[Any]:
    """Constraints of a field, also those nested in ``Optional[Annotated[...]]``."""
    out = list(getattr(item, "metadata", None) or [])
    for arg in typing.get_args(getattr(item, "annotation", item)):
        if typing.get_origin(arg) is typing.Annotated:
            for extra in arg.__metadata__:
                out += _metadata(extra) if hasattr(extra, "metadata") else [extra]
        elif arg is not type(None):
            out += _metadata(arg)
    return out


def _variables(design: Design) -> list[_Var]:
    out = []
    for name, component in design.components.items():
        if isinstance(component, Service):
            out.append(_Var(f"components.{name}.replicas", name, "replicas", f"{name} workers"))
            out.append(_Var(f"components.{name}.workers", name, "workers", f"{name} workers"))
        elif isinstance(component, Database):
            out.append(_Var(f"components.{name}.pool_size", name, "pool_size", f"{name} pool "))
    return out


def _busiest(est: Estimate, variables: list[_Var], service: str) -> _Var | None:
    """The sizable station with the longest wait, preferring the endpoint's own service."""
    best: tuple[float, _Var] | None = None
    for var in variables:
        if var.attr == "workers":
            continue
        for component in est.components.values():
            for station in component.stations.values():
                if station.id.startswith(var.station_prefix) and station.arrival_rps > 0:
                    wait = station.wait_ms + (1e-9 if var.component == service else 0.0)
                    if best is None or wait > best[0]:
                        best = (wait, var)
    return best[1] if best else None


def _explain(est: Estimate, targets: dict[str, Target], slow: list[str],
             limits: list[str]) -> None:
    if slow:
        wanted = {str(targets[k]) for k in slow}
        what = wanted.pop() if len(wanted) == 1 else "each endpoint's target"
        parts = [f"{k} (p95 {est.endpoints[k].p95_ms:,.0f} ms"
                 + (f", p99 {est.endpoints[k].p99_ms:,.0f} ms" if targets[k].p99_ms else "")
                 + (f"; its target {targets[k]}" if what == "each endpoint's target" else "")
                 + ")" for k in slow]
        raise SizingError(f"{what} cannot be reached by sizing replicas, workers and pools: "
                          f"{', '.join(parts)}"
                          + (f"; limited by {', '.join(limits)}" if limits else ""))


@dataclass(frozen=True)
class Target:
    """An endpoint's latency targets (ms); ``None``: none on that percentile.

    Example:
        >>> str(Target(200.0, None)), Target(200.0, 500.0).met(150.0, 600.0)
        ('p95 ≤ 200 ms', False)
    """

    p95_ms: float | None
    p99_ms: float | None

    def met(self, p95_ms: float, p99_ms: float) -> bool:
        """Whether latencies ``p95_ms`` and ``p99_ms`` meet it."""
        return ((self.p95_ms is None or p95_ms <= self.p95_ms)
                and (self.p99_ms is None or p99_ms <= self.p99_ms))

    def __str__(self) -> str:
        parts = [f"{name} ≤ {value:g} ms" for name, value in
                 (("p95", self.p95_ms), ("p99", self.p99_ms)) if value is not None]
        return " and ".join(parts) or "none"


def _targets(design: Design, p95_ms: float | None) -> dict[str, Target]:
    """Each endpoint's targets (see :func:`size`); a queue's handler and an endpoint with
    none are left out."""
    handlers = design.background_endpoints() - set(design.schedule)
    default = design.policy.slo
    out: dict[str, Target] = {}
    for ref, endpoint in design.endpoints():
        if str(ref) in handlers:
            continue
        own = endpoint.slo
        job = design.schedule.get(str(ref)) if str(ref) not in design.workload else None
        if job is not None and not (own and (own.p95_ms or own.p99_ms)):
            out[str(ref)] = Target(job.every_s * 1000.0, None)  # done before the next run
            continue
        p95 = (own.p95_ms if own and own.p95_ms is not None else p95_ms if p95_ms is not None
               else default.p95_ms if default else None)
        p99 = own.p99_ms if own and own.p99_ms is not None else (
            default.p99_ms if default else None)
        if p95 is not None or p99 is not None:
            out[str(ref)] = Target(p95, p99)
    return out
