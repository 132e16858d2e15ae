"""What a simulation measured, as an estimate's endpoints and components: percentiles of
the completions, batch-means intervals of the mean and p95, a warning when the run is too
short to quote them, and the progress bar of a long run."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.result import (
    ComponentEstimate,
    EndpointEstimate,
    Sampled,
    StationEstimate,
    Successes,
)
from designkit.maths.distributions import Dist, Grid

if TYPE_CHECKING:
    from designkit.estimate.sim_run import Simulation
    from designkit.model.design import Design

__all__ = ["AUTO_PROGRESS_EVENTS", "measured_components", "measured_endpoints", "reporter",
           "warn_if_short"]

AUTO_PROGRESS_EVENTS = 1e6
"""Expected events beyond which a simulation shows its progress unasked."""


def reporter(progress: bool | Callable[[float], object] | None,
              expected_events: float) -> Callable[[float], None] | None:
    if progress is None:
        progress = expected_events > AUTO_PROGRESS_EVENTS
    if progress is False:
        return None
    if progress is True:
        def bar(fraction: float) -> None:
            done = round(fraction * 10)
            end = "\n" if done >= 10 else ""
            print(f"\rsimulating [{'#' * done}{'.' * (10 - done)}] {fraction:4.0%}",
                  end=end, file=sys.stderr, flush=True)

        return bar
    callback = progress

    def call(fraction: float) -> None:
        callback(fraction)

    return call


def measured_endpoints(sim: Simulation, loaded: list[bool]) -> dict[str, EndpointEstimate]:
    out: dict[str, EndpointEstimate] = {}
    memo: dict[int, frozenset[int]] = {}
    seconds = sim.span / 1000.0
    for i, ep in enumerate(sim.program.endpoints):
        if not loaded[i] and not sim.samples[i]:
            continue
        rps = sim.started[i] / seconds
        saturated = any(sim.stats[s].saturated for s in sim.reach(i, memo))
        samples = sim.samples[i]
        if not samples:
            warnings.warn(f"{ep.ref}: no request completed in the {seconds:g} s measured; "
                          "simulate longer", RuntimeWarning, stacklevel=3)
        if saturated or not samples:
            out[str(ep.ref)] = EndpointEstimate(rps, math.inf, math.inf, math.inf, math.inf,
                                                saturated or sim.started[i] > 0)
            continue
        values = np.asarray(samples)
        p50, p95, p99 = (float(v) for v in np.percentile(values, [50.0, 95.0, 99.0]))
        causes = {c: n / len(samples) for c, n in sim.failed[i].items()}
        ok = np.asarray(sim.succeeded[i])
        out[str(ep.ref)] = EndpointEstimate(
            rps, float(values.mean()), p50, p95, p99, False, empirical(values),
            sampled(values), error_ratio=sum(sim.failed[i].values()) / len(samples),
            errors=dict(sorted(causes.items(), key=lambda item: (-item[1], item[0]))),
            success=None if not causes or not len(ok) else Successes(
                float(ok.mean()), *(float(v) for v in np.percentile(ok, [50.0, 95.0, 99.0]))))
    return out


BATCHES = 20
T_19 = 2.093024054408263  # Student's t, 97.5 % quantile, 19 degrees of freedom
ENOUGH = 2000  # completions below which a p95 is not worth quoting without a warning
WIDE = 0.10  # a p95 interval wider than ± this fraction is reported as too short a run


def sampled(values: NDArray[np.float64]) -> Sampled:
    """Completions and batch-means 95 % confidence intervals of the mean and the p95 (the
    completions in time order, in :data:`BATCHES` batches: neighbouring requests share
    queues, batches far apart hardly do)."""
    n = len(values)
    if n < BATCHES:
        nan = math.nan
        return Sampled(n, (nan, nan), (nan, nan))
    batches = np.array_split(values, BATCHES)
    intervals = []
    for stat in (np.mean, lambda b: np.percentile(b, 95.0)):
        per_batch = np.array([float(stat(b)) for b in batches])
        centre = float(per_batch.mean())
        half = T_19 * float(per_batch.std(ddof=1)) / math.sqrt(BATCHES)
        intervals.append((centre - half, centre + half))
    return Sampled(n, intervals[0], intervals[1])


def warn_if_short(endpoints: dict[str, EndpointEstimate], analytic: dict[str, bool],
                   seconds: float) -> None:
    """Say which simulated numbers a run too short cannot back: an endpoint the estimate
    calls saturated that the run shows finite (its queue had no time to grow), a p95 from
    few completions, a p95 whose confidence interval is wide."""
    for ref, e in endpoints.items():
        sampled = e.sampled
        if analytic.get(ref) and not e.saturated:
            warnings.warn(f"{ref}: the estimate says this load saturates it; the {seconds:g} s "
                          "simulated show finite times only because its queue had no time "
                          "to grow — simulate longer, or lower the load", RuntimeWarning,
                          stacklevel=3)
        elif sampled is not None and not e.saturated:
            if sampled.completions < ENOUGH:
                warnings.warn(f"{ref}: p95 from {sampled.completions:,} completions — "
                              f"simulate longer for at least {ENOUGH:,}", RuntimeWarning,
                              stacklevel=3)
            elif sampled.p95_half_width(e.p95_ms) > WIDE:
                width = sampled.p95_half_width(e.p95_ms)
                warnings.warn(f"{ref}: p95 {e.p95_ms:.3g} ms ± {width:.0%} (95 % confidence) "
                              "— simulate longer for a tighter number", RuntimeWarning,
                              stacklevel=3)


def empirical(values: NDArray[np.float64]) -> Dist:
    """The response times measured, as a distribution on a grid up to the largest."""
    grid = Grid.covering(float(values.max()) * 1.0001 + 1e-9)
    cells = np.minimum(np.floor(values / grid.step + 0.5).astype(np.int64), grid.size - 1)
    counts = np.bincount(cells, minlength=grid.size).astype(np.float64)
    return Dist(grid, counts / counts.sum())


def measured_components(design: Design, sim: Simulation) -> dict[str, ComponentEstimate]:
    program = sim.program
    seconds = sim.span / 1000.0
    grouped: dict[str, dict[str, StationEstimate]] = {n: {} for n in design.components}
    for station, stats in zip(program.stations, sim.stats, strict=True):
        utilization = stats.utilization
        saturated = stats.saturated
        wait = stats.wait_sum / stats.wait_n if stats.wait_n else 0.0
        grouped[station.component][station.id] = StationEstimate(
            id=station.id, component=station.component, role=station.role,
            servers=stats.capacity, arrival_rps=stats.arrivals / seconds,
            service_ms=stats.service_sum / stats.served if stats.served else 0.0,
            utilization=utilization, busy=utilization * stats.capacity,
            wait_ms=math.inf if saturated else wait, saturated=saturated)
    out = {}
    for name, component in design.components.items():
        stations = grouped[name]
        if component.kind == "service":
            arrival = sum(sim.started[i] for i, ep in enumerate(program.endpoints)
                          if ep.ref.service == name) / seconds
        elif component.kind == "external":
            arrival = sim.attempts.get(name, 0) / seconds
        else:
            first = next(iter(stations.values()), None)
            arrival = first.arrival_rps if first else 0.0
        utilization = max((s.utilization for s in stations.values()), default=0.0)
        out[name] = ComponentEstimate(component.kind, arrival, utilization,
                                      any(s.saturated for s in stations.values()), stations)
    return out
