"""``dk.estimate``: a design's numbers under a workload."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from designkit.errors import DesignError, Problem
from designkit.estimate.arguments import ArgumentError, at_least_zero, positive
from designkit.estimate.background import background_stations
from designkit.estimate.capacity import max_scale, max_scales, retry_storms
from designkit.estimate.errors import errors_of
from designkit.estimate.latency import (
    Latency,
    column_groups,
    endpoint_latencies,
    endpoint_latency,
    forked_paths,
    released,
    success_latency,
)
from designkit.estimate.program import Limits, Program, compile_design
from designkit.estimate.result import (
    Capacities,
    Capacity,
    ComponentEstimate,
    Composed,
    EndpointEstimate,
    Estimate,
    LazyTable,
    StationEstimate,
    Successes,
)
from designkit.estimate.scenarios import Scenario
from designkit.estimate.slowdown import slowed
from designkit.estimate.solve import Solution, Trials, flows_of, solve, trials
from designkit.flow.nodes import Flow
from designkit.gcpause import gc_paused
from designkit.maths.distributions import Dist
from designkit.model.problems import format_path, nearest
from designkit.model.refs import EndpointRef

if TYPE_CHECKING:
    from designkit.estimate.slowdown import Slowdown
    from designkit.model.design import Design

__all__ = ["estimate", "estimate_with"]


def estimate(design: Design, workload: dict[str, float] | None = None,
             scenario: Scenario | None = None, days: float = 0.0,
             scale: float = 1.0, *, samples: int | None = None,
             seed: int | None = None) -> Estimate:
    """Estimate latency, utilization and capacity of ``design`` under a workload.

    Args:
        design: The design (it is validated first).
        workload: Requests per second by ``"svc METHOD /path"``; default: the design's.
        scenario: What-if conditions (load scale, cold caches, slow or failing dependencies,
            lost replicas).
        days: Days of table growth (query plans scan the grown tables).
        scale: Factor on the workload (multiplies the scenario's).
        samples: Draw this many sets of the design's uncertain numbers (hit ratios,
            rows, rates written as ``{low, high}`` or ``{p50, p95}``) and add their bands
            to the estimate (:attr:`Estimate.bands`); the rest of the estimate is the
            design's own values (the ranges' middles, the distributions' medians).
        seed: The seed of those draws (the same seed, the same bands).

    Returns:
        The estimate: per endpoint rps, mean/p50/p95/p99 ms and a saturated flag; per
        component and station arrivals, utilization, queue; the bottleneck and ``max_scale``.

    Raises:
        DesignError: The design, the workload or the scenario is invalid.
        ArgumentError: ``scale`` (or the scenario's) is not a finite number > 0, or
            ``days`` not a finite number ≥ 0.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="mm10")
        >>> _ = d.service("api", workers=10).endpoint("GET /x", cpu_ms=100)
        >>> _ = d.set_load("api GET /x", 90)
        >>> e = dk.estimate(d)
        >>> [round(v, 2) for v in (e.endpoints["api GET /x"].p50_ms,
        ...                        e.endpoints["api GET /x"].p95_ms)]
        [132.91, 436.09]
        >>> round(e.max_scale, 3), e.bottleneck_station
        (1.111, 'api workers')

        A range instead of a number, and its band:

        >>> d = dk.load({"designkit": 1, "name": "mm10", "components": {"api": {
        ...     "kind": "service", "workers": 10, "endpoints": {"GET /x": {"cpu_ms": 100}}}},
        ...     "workload": {"api GET /x": {"low": 60, "high": 90}}})
        >>> b = dk.estimate(d, samples=1000, seed=1).bands
        >>> round(b.max_scale.p50, 2), round(b.endpoints["api GET /x"].mean_ms.p95, 1)
        (1.34, 155.7)
    """
    return estimate_with(design, workload, scenario, days, scale, samples=samples,
                         seed=seed)


def estimate_with(design: Design, workload: dict[str, float] | None = None,
                  scenario: Scenario | None = None, days: float = 0.0, scale: float = 1.0,
                  *, capacity: bool = True, validated: bool = False,
                  samples: int | None = None, seed: int | None = None,
                  stretch: Mapping[str, float] | None = None) -> Estimate:
    """:func:`estimate`, with the choices designkit's own callers make.

    Args:
        capacity: Search for ``max_scale`` and the bottleneck (``False``: they are
            ``nan`` and ``None`` — a sizing loop that asks only for the latencies).
        validated: The caller has just loaded (so validated) the design and will not
            estimate it again: it is compiled as is, without keeping it for re-use (the
            command line).
        stretch: Factors on components' times, on top of their calibration's ``scale`` —
            the design estimated as if each named component's ``scale`` were multiplied by
            its factor, without a copy of it (a sensitivity's moves). Not for a design
            with a calibrated slowdown (whose own stretch is solved per load).

    Example:
        >>> import designkit as dk
        >>> e = estimate_with(dk.template("flash-sale"), capacity=False)
        >>> e.bottleneck, e.max_scale != e.max_scale
        (None, True)
    """
    with gc_paused():  # tens of thousands of small objects: no repeated full collections
        return _estimate(design, workload, scenario, days, scale, capacity, validated,
                         samples, seed, stretch)


def _estimate(design: Design, workload: dict[str, float] | None, scenario: Scenario | None,
              days: float, scale: float, capacity: bool, validated: bool,
              samples: int | None = None, seed: int | None = None,
              stretch: Mapping[str, float] | None = None) -> Estimate:
    source, program, load, total_scale, scenario = prepare(design, workload, scenario, days,
                                                           scale, validated, stretch)
    bands = None
    if samples is not None:
        from designkit.estimate.uncertainty import estimate_bands

        bands = estimate_bands(design, source, program, load, total_scale, samples, seed,
                               capacity, days, workload is not None)
    solution = solve(program, load, total_scale)
    if capacity and program.slowdown is None:  # searched when first read
        base = solution.trial if total_scale == 1.0 else None
        search = Capacities(search=lambda: capacities(program, load, total_scale, base))
    elif capacity:  # a slowdown's search compiles the design again: not the caller's, later
        search = Capacities(*capacities(program, load, total_scale,
                                        solution.trial if total_scale == 1.0 else None))
    else:
        search = Capacities(Capacity(None, None, math.nan))
    return Estimate(
        design=design.name,
        scale=total_scale,
        days=days,
        scenario=scenario.describe(),
        endpoints=_endpoints(solution),
        components=_components(source, solution),
        capacity=search,
        retry_storms=tuple(retry_storms(solution)),
        utilization_max=design.policy.utilization_max,
        bands=bands,
        _source=design,
        _scenario=scenario,
        _flow=program.flow,
    )


def p95_curve(design: Design, scenario: Scenario | None, days: float, totals: list[float],
              names: list[str]) -> dict[str, list[float]]:
    """p95 (ms) of endpoints ``names`` at each total scale of ``totals`` (``inf`` where
    saturated or not loaded): every load one column of one solution — the same numbers as
    an estimate at each load — unless calibrated slowdowns stretch the design differently
    at each load (then one estimate per load)."""
    out: dict[str, list[float]] = {name: [] for name in names}
    base = scenario.scale if scenario is not None else 1.0
    _, program, load, _, _ = prepare(design, None, scenario, days, 1.0 / base)
    if program.slowdown is not None or not totals:
        for total in totals:
            if total <= 0:  # no load: no p95 (as below)
                for name in names:
                    out[name].append(math.inf)
                continue
            at = estimate_with(design, scenario=scenario, scale=total / base, days=days,
                               capacity=False)
            for name in names:
                e = at.endpoints.get(name)
                out[name].append(e.p95_ms if e is not None else math.inf)
        return out
    # every load a column of one solution, composed together a group at a time (their
    # solution's scale: which endpoints carry load, the same at any load above none)
    found, flows = trials(program, load, totals), flows_of(program, load)
    rates = Solution(program, max(totals), found, flows).endpoint_rate
    wanted = {name: program.index.get(name) for name in names}
    p95 = {name: np.full(len(totals), math.inf) for name in names}
    for start, stop in column_groups(len(totals)):
        solution = Solution(program, max(totals), found.span(start, stop), flows)
        for name, i in wanted.items():
            if i is not None and rates[i] > 0:
                p95[name][start:stop] = endpoint_latencies(solution, i)[1]
        released(solution)
    unloaded = np.array(totals) <= 0
    return {name: np.where(unloaded, math.inf, p95[name]).tolist() for name in names}


def capacities(program: Program, load: dict[str, float], total_scale: float,
               base: Trials | None = None) -> tuple[Capacity, Capacity | None]:
    """How far the user-facing load can grow and what gives first; the same for the
    background work (queues' handlers) when the design has any loaded (else ``None``).
    ``load``: the workload at scale 1; ``base``: its solution, when known."""
    if program.slowdown is not None:
        lagging = background_stations(program, load)
        first = slowed_capacity(program.slowdown, load, total_scale, ~lagging)
        loaded = trials(program, load, [1.0]).utilization[:, 0] > 0
        if not (lagging & loaded).any():
            return first, None
        return first, slowed_capacity(program.slowdown, load, total_scale, lagging)
    key = tuple(load.items())
    found = program.limits.get(key)
    if found is None:  # searched once per program and workload: the scale only divides it
        found = _limits(program, load, base)
        program.keep_limits(key, found)
    user, back = found
    return (_capacity(program, *user, total_scale),
            None if back is None else _capacity(program, *back, total_scale))


def _limits(program: Program, load: dict[str, float], base: Trials | None) -> Limits:
    """How far ``load`` can grow before a user-facing station saturates, and a background
    one (``None`` when none is loaded); each with the station that saturates first."""
    base = base if base is not None else trials(program, load, [1.0])
    background = background_stations(program, load)
    if not (background & (base.utilization[:, 0] > 0)).any():
        return max_scale(program, load, base=base), None
    user, back = max_scales(program, load, [~background, background], base=base)
    return user, back


def slowed_capacity(slowdown: Slowdown, load: dict[str, float], total_scale: float,
                    stations: NDArray[np.bool_], tolerance: float = 1e-5) -> Capacity:
    """How far the load can grow before one of ``stations`` saturates, when components
    slow down as they fill: the scale at which the design, stretched for that scale, first
    saturates one of them (bisection: the stretch grows with the load, so the capacity of
    one stretched program overstates it); the bottleneck is the one saturated there."""
    def busy(scale: float) -> NDArray[np.float64]:
        program = slowdown.program(load, scale)
        trial = solve(program, load, scale).trial
        full = (trial.utilization[:, 0] >= 1.0) | np.isinf(trial.wait[:, 0])
        return np.where(stations, np.where(full, np.inf, trial.utilization[:, 0]), -1.0)

    unstretched = compile_design(slowdown.source, slowdown.days)
    high, _ = max_scale(unstretched, load, stations=stations)  # slowing down only lowers it
    if not math.isfinite(high) or high <= 0:
        return _capacity(unstretched, high, None, total_scale)
    high *= 1.0 + 1e-3  # max_scale is the highest load found not to saturate
    low = 0.0
    while high - low > tolerance * high:
        middle = (low + high) / 2
        if np.isinf(busy(middle)).any():
            high = middle
        else:
            low = middle
    # the bottleneck read just below, as max_scale reads it (decisions 16)
    return _capacity(unstretched, low, int(np.argmax(busy(low * (1 - 1e-3)))), total_scale)


def _capacity(program: Program, cap: float, worst: int | None, total_scale: float
              ) -> Capacity:
    station = program.stations[worst] if worst is not None else None
    return Capacity(station.component if station else None, station.id if station else None,
                    cap / total_scale if math.isfinite(cap) and total_scale > 0 else cap)


def prepare(design: Design, workload: dict[str, float] | None, scenario: Scenario | None,
            days: float, scale: float, validated: bool = False,
            stretch: Mapping[str, float] | None = None,
            ) -> tuple[Design, Program, dict[str, float], float, Scenario]:
    """What an estimate and a simulation both start from: the validated design under the
    scenario, compiled with its tables grown, the checked workload and the total scale.

    ``validated``: the caller has just loaded (so validated) the design and will not
    estimate it again — it is compiled as is, without the digest that keeps programs for
    re-use (the command line). ``stretch``: see :func:`estimate_with` (the design is
    compiled again with it; nothing is kept).
    """
    scale = positive("scale", scale)
    days = at_least_zero("days", days)
    scenario = scenario or Scenario()
    total = scale * positive("the scenario's scale", scenario.scale)
    if not math.isfinite(total):
        raise ArgumentError(f"scale × the scenario's scale must be finite, got {scale!r} × "
                            f"{scenario.scale!r}")
    if validated:
        from designkit.model.io import checked_flow

        source = scenario.apply(design)
        flow = checked_flow(design) if source is design and days == 0 else None
        program = Program(flow) if isinstance(flow, Flow) else compile_design(source, days)
    else:
        source, program = _compiled(design, scenario, days)
    if stretch:
        wrong = [f"{name!r}: {factor!r}" for name, factor in stretch.items()
                 if name not in source.components or not isinstance(factor, int | float)
                 or isinstance(factor, bool) or not 0 < factor < math.inf]
        if wrong:
            raise ArgumentError(f"stretch takes components of the design and factors > 0; "
                                f"got {', '.join(wrong)}")
        if source.calibration is not None and source.calibration.slowdowns():
            raise ArgumentError("stretch: the design has a calibrated slowdown, whose "
                                "times are stretched per load; move its calibration's "
                                "scale instead")
        program = compile_design(source, days, stretch)
    load = _workload(design, workload)
    program = slowed(source, program, load, total, days)
    return source, program, load, total, scenario


class Programs:
    """Compiled programs kept by the design's content digest, the scenario and the days:
    re-estimating an unchanged design — another load, the capacity curve, a what-if slider
    — skips compilation; any change to the design changes its digest. At most ``size`` are
    kept, the least recently used dropped first.

    Example:
        >>> import designkit as dk
        >>> PROGRAMS.clear(); _ = dk.estimate(dk.template("flash-sale")); len(PROGRAMS)
        1
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[object, ...], tuple[Design, Program]] = OrderedDict()
        self._lock = threading.Lock()  # estimates on a thread pool (dk.sweep) share it

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: tuple[object, ...]) -> tuple[Design, Program] | None:
        """The design under the scenario and its program, if kept (now the most recent)."""
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def keep(self, key: tuple[object, ...], found: tuple[Design, Program]) -> None:
        """Keep a compiled design, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def programs(self) -> list[Program]:
        """The programs kept, least recently used first."""
        with self._lock:
            return [program for _, program in self._kept.values()]

    def clear(self) -> None:
        """Drop every kept program."""
        with self._lock:
            self._kept.clear()


PROGRAMS = Programs(4)


def _compiled(design: Design, scenario: Scenario, days: float) -> tuple[Design, Program]:
    """The validated design under ``scenario`` and its program, from :data:`PROGRAMS`
    when the design's content was compiled before."""
    from designkit.model.design import kept, passed_digest

    design.validate()  # one dump when it passed unchanged before; the full check otherwise
    content = passed_digest(design)
    key = (content, scenario.changes(), days)
    found = PROGRAMS.get(key) if content is not None else None
    if found is None:
        source = scenario.apply(design)
        flow = kept(design) if source is design and days == 0 else None
        found = (source, Program(flow) if isinstance(flow, Flow)
                 else compile_design(source, days))
        if content is not None:
            PROGRAMS.keep(key, found)
    source, program = found
    if source is not design and scenario.changes() == _AS_DESIGNED:
        source = design  # the caller's own object: the one kept may have changed since
    return source, program


_AS_DESIGNED = Scenario().changes()


def _workload(design: Design, workload: dict[str, float] | None) -> dict[str, float]:
    if workload is None:
        return design.rates()
    known = {str(ref) for ref, _ in design.endpoints()}
    out: dict[str, float] = {}
    problems = []
    for key, rps in workload.items():
        ref = EndpointRef.parse(key)
        name = str(ref) if ref else key
        if name not in known:
            problems.append(Problem(format_path(("workload", key)), "unknown endpoint",
                                    nearest(key, known)))
        elif not (isinstance(rps, int | float) and rps >= 0 and math.isfinite(rps)):
            problems.append(Problem(format_path(("workload", key)),
                                    f"must be a rate ≥ 0, got {rps!r}"))
        else:
            out[name] = float(rps)
    if problems:
        raise DesignError(problems, source="workload")
    return out


def _endpoints(solution: Solution) -> LazyTable[EndpointEstimate]:
    """The endpoints with traffic; each one's rate, mean and errors made when it is read,
    its percentiles composed when one of them is read (the mean needs no composing unless
    parallel branches are on its way: :func:`endpoint_latency`)."""
    program = solution.program
    rates = solution.endpoint_rate

    def make(key: str) -> EndpointEstimate:
        i = program.index[key]
        errors = errors_of(program)[i]
        consume = program.endpoints[i].consume
        lag = None if consume is None else float(solution.trial.wait[consume, 0])
        moments = solution.endpoint_moments[i]

        def compose(latency: Latency | None = None) -> Composed:
            latency = endpoint_latency(solution, i) if latency is None else latency
            ok = (None if errors.ratio <= 0 else latency if errors.ratio < ALMOST_NONE
                  else success_latency(solution, i))
            return Composed(latency.p50, latency.p95, latency.p99, _cells(latency.dist),
                            None if ok is None else Successes(ok.mean, ok.p50, ok.p95, ok.p99))

        rps = rates[i] * 1000.0
        if moments.infinite or forked_paths(program)[i]:  # the mean needs the distribution
            latency = endpoint_latency(solution, i)
            done = compose(latency)
            return EndpointEstimate(rps, latency.mean, done.p50_ms, done.p95_ms, done.p99_ms,
                                    latency.saturated, done.dist, success=done.success,
                                    error_ratio=errors.ratio, errors=errors.to_dict(),
                                    lag_ms=lag)
        return EndpointEstimate.composing(rps, moments.mean, False, compose,
                                          error_ratio=errors.ratio, errors=errors.to_dict(),
                                          lag_ms=lag)

    return LazyTable([str(ep.ref) for ep, rate in zip(program.endpoints, rates, strict=True)
                      if rate > 0], make, "endpoint",
                     order=[str(program.endpoints[i].ref) for i in reversed(program.order)
                            if rates[i] > 0], complete=_composed)


def _composed(endpoint: EndpointEstimate) -> None:
    """Compose an endpoint's percentiles now (reading one composes them all)."""
    _ = endpoint.p95_ms


def _cells(dist: Dist | None) -> Dist | None:
    """An endpoint's distribution as the estimate keeps it: its cells only (the composer
    keeps its spectrum while callers need it; an estimate of thousands of endpoints would
    hold twice the memory)."""
    return None if dist is None else Dist(dist.grid, dist.pmf)


ALMOST_NONE = 1e-4
"""An error ratio below which the successes' latency is reported as every request's: they
differ by at most this much probability at any time (``|F_ok − F_all| ≤ ε / (1 − ε)``), the
mass an endpoint's grid may itself leave beyond its end — so every percentile of the
successes lies within 10⁻⁴ of probability of the one shown. Composing them again would cost
a second composition of every such endpoint (a 10,000-component design has thousands)."""


def _components(design: Design, solution: Solution) -> LazyTable[ComponentEstimate]:
    program = solution.program
    trial = solution.trial
    by_component = _stations_by_component(program)
    served: dict[str, float] = {}
    for ep, rate in zip(program.endpoints, solution.endpoint_rate, strict=True):
        served[ep.ref.service] = served.get(ep.ref.service, 0.0) + rate
    kinds = {name: component.kind for name, component in design.components.items()}

    def station(i: int) -> StationEstimate:
        spec = program.stations[i]
        arrival, service = float(trial.arrival[i, 0]), float(trial.service[i, 0])
        utilization, wait = float(trial.utilization[i, 0]), float(trial.wait[i, 0])
        return StationEstimate(
            id=spec.id, component=spec.component, role=spec.role,
            servers=spec.servers * spec.copies, arrival_rps=arrival * 1000.0,
            service_ms=service, utilization=utilization,
            busy=arrival * service if arrival > 0 and service > 0 else 0.0, wait_ms=wait,
            saturated=utilization >= 1.0 or math.isinf(wait))

    def make(name: str) -> ComponentEstimate:
        stations = {program.stations[i].id: station(i) for i in by_component.get(name, ())}
        kind = kinds[name]
        if kind == "service":
            arrival = served.get(name, 0.0) * 1000.0
        elif kind == "external":
            arrival = solution.external_rate.get(name, 0.0) * 1000.0
        else:
            first = next(iter(stations.values()), None)
            arrival = first.arrival_rps if first else 0.0
        utilization = max((s.utilization for s in stations.values()), default=0.0)
        return ComponentEstimate(kind, arrival, utilization,
                                 any(s.saturated for s in stations.values()), stations)

    return LazyTable(kinds, make, "component")


def _stations_by_component(program: Program) -> dict[str, list[int]]:
    if program.by_component is None:
        grouped: dict[str, list[int]] = {}
        for i, spec in enumerate(program.stations):
            grouped.setdefault(spec.component, []).append(i)
        program.by_component = grouped
    return program.by_component
