"""How far the load can grow, what gives first, and where retries can overload a target."""

from __future__ import annotations

import math
from dataclasses import dataclass

from designkit.estimate.external import backoff_ms
from designkit.estimate.program import ExternalCall, Invoke, Program
from designkit.estimate.solve import Solution, solve

__all__ = ["RetryStorm", "max_scale", "retry_storms"]


def max_scale(program: Program, workload: dict[str, float],
              rel_tol: float = 1e-3) -> tuple[float, int | None]:
    """The factor on the whole workload at which the first station saturates, and that
    station (its index); ``(inf, None)`` when no station carries load.

    Plain stations saturate linearly with the load; held stations (workers, pools, locks)
    sooner, because what they wrap slows down too — so the factor is exact when a plain
    station saturates first, and otherwise found by bisection on the full solution to
    ``rel_tol`` (the value returned is the highest load found not to saturate).
    """
    if not any(v > 0 for v in workload.values()):
        return math.inf, None
    base = solve(program, workload, 1.0)
    if not any(s.utilization > 0 for s in base.stations):
        return math.inf, None
    lo = 0.0
    if base.saturated():
        hi = 1.0
    else:
        lo = 1.0
        peak = max(s.utilization for s in base.stations)
        hi = 1.0 / peak  # holding times only grow with load: nothing outlasts 1 / ρ(1)
    while not solve(program, workload, hi).saturated():
        lo, hi = hi, hi * 2.0
        if hi > 1e12:
            return math.inf, None
    # Bisection, with an upper bound from every unsaturated trial: at a trial scale s, each
    # station saturates at or before s / ρ(s).
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        trial = solve(program, workload, mid)
        if trial.saturated():
            hi = mid
        else:
            lo = mid
            peak = max(st.utilization for st in trial.stations)
            if peak > 0:
                hi = min(hi, mid / peak)
    # The bound is exact when holding times do not grow with the load: try it.
    edge = solve(program, workload, hi * (1 - 1e-9))
    if not edge.saturated():
        return hi * (1 - 1e-9), _busiest(edge)
    return lo, _busiest(solve(program, workload, lo))


def _busiest(solution: Solution) -> int:
    return max(range(len(solution.stations)), key=lambda i: solution.stations[i].utilization)


@dataclass(frozen=True)
class RetryStorm:
    """A retried call and the load its retries could put on a station.

    Attributes:
        caller: The endpoint making the call.
        target: The component called.
        station: The station whose load is checked.
        utilization_now: Its utilization as estimated.
        utilization_retrying: Its utilization if every call used every attempt.
        at_risk: ``utilization_retrying >= 1``: a metastable overload is possible — once
            retries start, they keep the station saturated even after the trigger is gone.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.external("p", latency_ms=50.0, concurrency=10, retries={"max": 2})
        >>> _ = d.service("api", io="async", workers=500).endpoint("POST /x").call("p")
        >>> _ = d.set_load("api POST /x", 150)
        >>> [(r.station, r.at_risk) for r in dk.estimate(d).retry_storms]
        [('p concurrency', True)]
    """

    caller: str
    target: str
    station: str
    utilization_now: float
    utilization_retrying: float
    max_attempts: int

    @property
    def at_risk(self) -> bool:
        return self.utilization_retrying >= 1.0


def retry_storms(solution: Solution) -> list[RetryStorm]:
    """For every retried call: arrival × max attempts × service time / servers at its
    target (or, for an unbounded third party, at the stations held around the call)."""
    program = solution.program
    out: list[RetryStorm] = []
    for node, rate, held, index in solution.retried:
        caller = str(program.endpoints[index].ref)
        retries = node.retries
        assert retries is not None
        n = 1 + retries.max
        if isinstance(node, Invoke):
            ep = program.endpoints[node.endpoint]
            state = solution.stations[ep.workers]
            station = program.stations[ep.workers]
            extra = rate * (n - 1) * state.service / (station.servers * station.copies)
            out.append(RetryStorm(caller, str(ep.ref), station.id, state.utilization,
                                  state.utilization + extra, n))
            continue
        assert isinstance(node, ExternalCall)
        info = solution.external_attempts[id(node)]
        attempt = min(node.latency.mean, node.timeout_ms or math.inf)
        if node.station is not None:
            state = solution.stations[node.station]
            station = program.stations[node.station]
            load = rate * n * attempt / (station.servers * station.copies)
            out.append(RetryStorm(caller, node.component, station.id, state.utilization,
                                  load, n))
            continue
        extra_per_call = (n - info.expected) * attempt + sum(
            backoff_ms(node, k) for k in range(1, n))
        for index in held:
            state = solution.stations[index]
            station = program.stations[index]
            extra = rate * extra_per_call / (station.servers * station.copies)
            out.append(RetryStorm(caller, node.component, station.id, state.utilization,
                                  state.utilization + extra, n))
    return out
