"""What-if scenarios: the same design under other conditions, without editing it.

A scenario is applied to a copy of the design: more load, cold caches, a slower or failing
dependency, replicas lost. The estimate of the copy answers "what happens if…".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from designkit.errors import DesignError, Problem
from designkit.estimate.arguments import suggest
from designkit.flow.build import design_steps
from designkit.flow.times import scaled_time
from designkit.model.components import Cache, Component, External, Lock, Queue
from designkit.model.database import Database
from designkit.model.design import Design
from designkit.model.engines import setting
from designkit.model.problems import format_path
from designkit.model.service import Service
from designkit.model.steps import CacheStep, CallStep

__all__ = ["Scenario"]


@dataclass(frozen=True)
class Scenario:
    """Conditions to estimate a design under.

    Args:
        scale: Factor on the whole workload.
        cold_caches: ``True`` for every cache, or the names of the caches whose hit ratio
            drops to 0 (a flush, a restart, a failover).
        slow: Components made slower: ``{name: factor}`` (3 = three times slower).
        failing: External APIs failing: ``{name: failure rate}``; a service: every call of
            its endpoints fails that much more often.
        down: External APIs (every attempt fails) or services (every call of them fails)
            down.
        lost_replicas: Replicas lost per service (or servers per cache): ``{name: n}``.
        name: A label for reports.

    Example:
        >>> import designkit as dk
        >>> s = Scenario(scale=1.5, slow={"payment-provider": 3}, cold_caches=True)
        >>> s.describe()
        'load ×1.5, caches cold, payment-provider 3× slower'
    """

    scale: float = 1.0
    cold_caches: bool | tuple[str, ...] = False
    slow: Mapping[str, float] = field(default_factory=dict)
    failing: Mapping[str, float] = field(default_factory=dict)
    down: tuple[str, ...] = ()
    lost_replicas: Mapping[str, int] = field(default_factory=dict)
    name: str = ""

    def describe(self) -> str:
        """The scenario in a few words (``'as designed'`` when it changes nothing)."""
        parts = []
        if self.scale != 1.0:
            parts.append(f"load ×{self.scale:g}")
        if self.cold_caches is True:
            parts.append("caches cold")
        elif self.cold_caches:
            parts.append(f"{', '.join(self.cold_caches)} cold")
        parts += [f"{n} {f:g}× slower" for n, f in self.slow.items()]
        parts += [f"{n} failing {r:.0%}" for n, r in self.failing.items()]
        parts += [f"{n} down" for n in self.down]
        parts += [f"{n} −{k} replica{'s' if k != 1 else ''}" for n, k in self.lost_replicas.items()]
        text = ", ".join(parts) or "as designed"
        return f"{self.name}: {text}" if self.name else text

    def changes(self) -> tuple[object, ...]:
        """What this scenario changes in a design (not the load scale, not the name), as a
        hashable key.

        Example:
            >>> Scenario(scale=2, name="peak").changes() == Scenario().changes()
            True
        """
        cold = self.cold_caches if isinstance(self.cold_caches, bool) else tuple(
            sorted(self.cold_caches))
        return (cold, tuple(sorted(self.slow.items())), tuple(sorted(self.failing.items())),
                tuple(sorted(self.down)), tuple(sorted(self.lost_replicas.items())))

    def apply(self, design: Design) -> Design:
        """A copy of ``design`` under this scenario (the load scale is not part of it);
        the design itself when the scenario changes nothing.

        Raises:
            DesignError: A name does not exist or cannot take this change.
        """
        if self.describe() in ("as designed", f"{self.name}: as designed"):
            return design  # nothing changes: no copy
        copy = design.model_copy(deep=True)
        problems: list[Problem] = []

        def wrong(where: str, name: str, message: str) -> None:
            problems.append(Problem(format_path(("scenario", where, name)), message))

        caches = set(copy.of_kind("cache")) if self.cold_caches is True else set(
            self.cold_caches or ())
        for name in caches:
            cache = self._get(copy, name, "cold_caches", problems)
            if isinstance(cache, Cache):
                cache.hit_ratio = 0.0
            elif cache is not None:
                wrong("cold_caches", name, f"{name!r} is a {cache.kind}, not a cache")
        for name, factor in self.slow.items():
            if not _finite_positive(factor):
                wrong("slow", name, f"factor must be a finite number > 0, got {factor!r}")
            elif self._get(copy, name, "slow", problems) is not None:
                try:
                    _slow_down(copy, name, factor)
                except ValueError as err:  # a time beyond its bound (one day)
                    wrong("slow", name, f"{factor:g}× slower takes a time of {name!r} out of "
                                        f"its range: {_first_line(err)}")
        failing = [("failing", n, r) for n, r in self.failing.items()]
        for where, name, rate in [*failing, *(("down", n, 1.0) for n in self.down)]:
            target = self._get(copy, name, where, problems)
            if target is None:
                continue
            if not isinstance(target, External | Service):
                wrong(where, name, f"only an external API or a service can fail here; "
                                   f"{name!r} is a {target.kind}")
            elif not (isinstance(rate, int | float) and 0 <= rate <= 1):
                wrong(where, name, f"failure rate must be in [0, 1], got {rate!r}")
            elif isinstance(target, External):
                target.failure_rate, target.availability = rate, None
            elif not _fail_calls(copy, name, rate):
                wrong(where, name, f"nothing calls the endpoints of {name!r}: a failing "
                                   "service is seen by its callers (its own requests' errors "
                                   "come from what it calls)")
        for name, lost in self.lost_replicas.items():
            target = self._get(copy, name, "lost_replicas", problems)
            if not isinstance(lost, int) or isinstance(lost, bool) or lost < 0:
                wrong("lost_replicas", name, f"must be a whole number ≥ 0, got {lost!r}")
            elif isinstance(target, Service | Cache):
                attr = "replicas" if isinstance(target, Service) else "servers"
                have = getattr(target, attr)
                if lost >= have:
                    wrong("lost_replicas", name, f"{name!r} has {have} {attr}; losing {lost} "
                                                 "leaves none")
                else:
                    setattr(target, attr, have - lost)
            elif target is not None:
                wrong("lost_replicas", name, f"{name!r} is a {target.kind}: only services and "
                                             "caches lose replicas here")
        if problems:
            raise DesignError(problems, source=f"scenario {self.describe()!r}")
        for _, _, step in design_steps(copy):
            if isinstance(step, CacheStep) and step.cache in caches:
                step.hit_ratio = 0.0
        return copy

    @staticmethod
    def _get(design: Design, name: str, where: str, problems: list[Problem]) -> Component | None:
        if name in design.components:
            return design.components[name]
        kinds = _KINDS.get(where)
        fitting = [n for n, c in design.components.items() if kinds is None or c.kind in kinds]
        problems.append(Problem(format_path(("scenario", where, name)),
                                f"unknown component {name!r}",
                                suggest(name, fitting) or suggest(name, design.components)))
        return None


def _fail_calls(design: Design, service: str, rate: float) -> bool:
    """Every call of ``service``'s endpoints fails at ``rate`` more (after its retries,
    with whatever the call states); whether there is any."""
    found = False
    for _, _, step in design_steps(design):
        if isinstance(step, CallStep) and step.call.split(" ", 1)[0] == service \
                and " " in step.call.strip():
            found = True
            step.failure_rate = 1.0 - (1.0 - (step.failure_rate or 0.0)) * (1.0 - rate)
    return found


_KINDS = {"cold_caches": ("cache",), "failing": ("external", "service"),
          "down": ("external", "service"),
          "lost_replicas": ("service", "cache")}
"""The kinds of component each change applies to: suggestions for a misspelt name."""


def _finite_positive(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _first_line(err: Exception) -> str:
    """What a validation error says, without pydantic's location lines and link."""
    errors = getattr(err, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", err))
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _slow_down(design: Design, name: str, factor: float) -> None:
    component = design.components[name]
    if isinstance(component, External):
        component.latency_ms = scaled_time(component.latency_ms, factor)
    elif isinstance(component, Cache | Queue):  # (its engine's default, when unstated)
        component.service_ms = scaled_time(setting(component, "service_ms"), factor)
    elif isinstance(component, Database):
        for cost in ("seek_ms", "scan_us_per_row", "write_ms", "row_ms", "write_row_ms"):
            setattr(component, cost, setting(component, cost) * factor)
    elif isinstance(component, Lock):
        component.acquire_ms *= factor
    elif isinstance(component, Service):
        for endpoint in component.endpoints.values():
            endpoint.cpu_ms = scaled_time(endpoint.cpu_ms, factor)
    for _, _, step in design_steps(design):
        if isinstance(step, CallStep) and step.call == name and step.service_ms is not None:
            step.service_ms = scaled_time(step.service_ms, factor)
