"""How far the load can grow, what gives first, and where retries can overload a target."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from designkit.estimate.external import backoff_total_ms
from designkit.estimate.program import Program
from designkit.estimate.solve import Solution, Trials, trials
from designkit.flow.nodes import ExternalCall, Invoke

__all__ = ["RetryStorm", "max_scale", "retry_storms"]


def max_scale(program: Program, workload: dict[str, float], rel_tol: float = 1e-3,
              base: Trials | None = None) -> tuple[float, int | None]:
    """The factor on the whole workload at which the first station saturates, and the
    bottleneck: the busiest station just below that load (its index); ``(inf, None)`` when
    no station carries load.

    Plain stations saturate linearly with the load; held stations (workers, pools, locks)
    sooner, because what they wrap slows down too — so the factor is exact when a plain
    station saturates first, and otherwise found by bisection on the full solution to
    ``rel_tol`` (the value returned is the highest load found not to saturate). ``base``:
    the solution at the workload (scale 1), when already known.

    The bottleneck is read at ``1 − rel_tol`` of the factor, the resolution of the search,
    so that how close a search happened to get to the edge does not decide it: threads
    blocked on a database reach 100 % in the last sliver of load before the database does
    (see docs/decisions.md, 16).
    """
    cap = _max_scale(program, workload, rel_tol, base)
    if math.isinf(cap):
        return cap, None
    near = trials(program, workload, [(1 - rel_tol) * cap if cap > 0 else 1e-9])
    return cap, int(np.argmax(near.utilization[:, 0]))


MAX_TRIALS = 200
"""Most trials of one capacity search (a dozen is usual): the search stops there whatever
the solutions say, so it can never run on."""


def _max_scale(program: Program, workload: dict[str, float], rel_tol: float,
               base: Trials | None) -> float:
    if not any(v > 0 for v in workload.values()):
        return math.inf

    def saturated(scale: float) -> tuple[bool, float]:
        """Whether the design saturates at ``scale``, and its peak utilization there."""
        found = trials(program, workload, [scale])
        return bool(found.saturated[0]), float(found.peak[0])

    base = base if base is not None else trials(program, workload, [1.0])
    if not (base.utilization > 0).any():
        return math.inf
    if base.saturated[0]:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = 1.0, 1.0 / float(base.peak[0])  # holding times only grow with load
        # The bound is exact when holding times do not grow with the load: try it first.
        if not saturated(hi * (1 - 1e-9))[0]:
            return hi * (1 - 1e-9)
        ceiling = hi * 2.0 ** 40
        while not saturated(hi)[0]:
            lo, hi = hi, hi * 2.0
            if hi > ceiling:
                return math.inf
    # Bisection, with an upper bound from every unsaturated trial: at a trial scale s, each
    # station saturates at or before s / ρ(s). The midpoint is geometric while the bracket
    # spans many orders of magnitude (what is held may grow without bound as load grows:
    # then no positive scale a float can hold is unsaturated, and the answer is 0).
    for _ in range(MAX_TRIALS):
        if not hi - lo > rel_tol * hi:
            break
        mid = _midpoint(lo, hi)
        if mid <= 0.0 or mid >= hi:
            break
        over, peak = saturated(mid)
        if over:
            hi = mid
        else:
            lo = mid
            if peak > 0:
                hi = min(hi, mid / peak)
    if lo == 0.0:
        return 0.0
    edge = hi * (1 - 1e-9)
    return edge if not saturated(edge)[0] else lo


def _midpoint(lo: float, hi: float) -> float:
    """The next trial of the bisection: halfway, unless the bracket spans more than six
    orders of magnitude (or reaches down to 0 below 10⁻¹²), then a geometric step."""
    if lo > 0.0:
        return 0.5 * (lo + hi) if hi < 1e6 * lo else math.sqrt(lo * hi)
    return 0.5 * hi if hi > 1e-12 else hi * 1e-6


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
        info = solution.external_attempts[node]
        attempt = min(node.latency.mean, node.timeout_ms or math.inf)
        if node.station is not None:
            state = solution.stations[node.station]
            station = program.stations[node.station]
            load = rate * n * attempt / (station.servers * station.copies)
            out.append(RetryStorm(caller, node.component, station.id, state.utilization,
                                  load, n))
            continue
        extra_per_call = (n - info.expected) * attempt + backoff_total_ms(node, n - 1)
        for index in held:
            state = solution.stations[index]
            station = program.stations[index]
            extra = rate * extra_per_call / (station.servers * station.copies)
            out.append(RetryStorm(caller, node.component, station.id, state.utilization,
                                  state.utilization + extra, n))
    return out
