"""How far the load can grow, what gives first, and where retries can overload a target."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.external import backoff_total_ms
from designkit.estimate.held_groups import MANY_COLUMNS
from designkit.estimate.program import Program
from designkit.estimate.solve import Solution, Trials, trials

if TYPE_CHECKING:
    from designkit.estimate.columns import Columns
from designkit.flow.nodes import ExternalCall, Invoke

__all__ = ["RetryStorm", "column_max_scale", "max_scale", "max_scales", "retry_storms"]


def max_scale(program: Program, workload: dict[str, float], rel_tol: float = 1e-3,
              base: Trials | None = None, stations: NDArray[np.bool_] | None = None
              ) -> tuple[float, int | None]:
    """The factor on the whole workload at which the first station saturates, and the
    bottleneck: the busiest station just below that load (its index); ``(inf, None)`` when
    no station carries load.

    Plain stations saturate linearly with the load; held stations (workers, pools, locks)
    sooner, because what they wrap slows down too — so the factor is exact when a plain
    station saturates first, and otherwise found by bisection on the full solution to
    ``rel_tol`` (the value returned is the highest load found not to saturate). ``base``:
    the solution at the workload (scale 1), when already known. ``stations``: only these
    stations count (a mask; default: all) — what saturates elsewhere is not looked at.

    The bottleneck is read at ``1 − rel_tol`` of the factor, the resolution of the search,
    so that how close a search happened to get to the edge does not decide it: threads
    blocked on a database reach 100 % in the last sliver of load before the database does
    (see docs/decisions.md, 16).
    """
    return max_scales(program, workload, [stations], rel_tol, base)[0]


def max_scales(program: Program, workload: dict[str, float],
               stations: list[NDArray[np.bool_] | None], rel_tol: float = 1e-3,
               base: Trials | None = None) -> list[tuple[float, int | None]]:
    """:func:`max_scale` for each mask of ``stations`` (``None``: all stations), the
    searches side by side: the loads they try at the same time are columns of one pass
    (each column solved as it would be alone).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> d = dk.template("dashboard-slow")
        >>> [round(cap, 2) for cap, _ in max_scales(compile_design(d), d.rates(), [None])]
        [1.16]
    """
    searches = [_search(workload, rel_tol, base, mask) for mask in stations]
    return _searched(program, workload, searches)


Search = Generator[list[float], Trials, tuple[float, int | None]]
"""A capacity search: it yields the loads it asks to try and is sent their trials."""


def _searched(program: Program, workload: dict[str, float], searches: list[Search]
              ) -> list[tuple[float, int | None]]:
    """Run ``searches`` to their ends, their asks solved together while they are fewer
    columns than a pass solves one by one (:data:`~designkit.estimate.held_groups.MANY_COLUMNS`;
    so that each column is solved as it would be alone), apart otherwise."""
    results: list[tuple[float, int | None]] = [(math.inf, None)] * len(searches)
    asks: dict[int, list[float]] = {}
    for i, search in enumerate(searches):
        try:
            asks[i] = next(search)
        except StopIteration as stop:
            results[i] = stop.value
    while asks:
        waiting = list(asks)
        together = sum(len(asks[i]) for i in waiting) < MANY_COLUMNS
        for group in ([waiting] if together else [[i] for i in waiting]):
            found = trials(program, workload, [x for i in group for x in asks[i]])
            at = 0
            for i in group:
                part = found.span(at, at + len(asks[i]))
                at += len(asks[i])
                try:
                    asks[i] = searches[i].send(part)
                except StopIteration as stop:
                    results[i] = stop.value
                    del asks[i]
    return results


def _search(workload: dict[str, float], rel_tol: float, base: Trials | None,
            stations: NDArray[np.bool_] | None) -> Search:
    """One capacity search (:func:`max_scale`): the factor, then the bottleneck read at
    ``1 − rel_tol`` of it."""
    if stations is not None and not stations.any():
        return math.inf, None
    ahead: dict[float, Trials] = {}
    cap = yield from _max_scale(workload, rel_tol, base, stations, ahead)
    if math.isinf(cap):
        return cap, None
    at = (1 - rel_tol) * cap if cap > 0 else 1e-9
    near = ahead[at] if at in ahead else (yield [at])
    busy = near.utilization[:, 0] if stations is None else np.where(
        stations, near.utilization[:, 0], -1.0)
    return cap, int(np.argmax(busy))


MAX_TRIALS = 200
"""Most trials of one capacity search (a handful are usual): the search stops there
whatever the solutions say, so it can never run on."""


NEAR_LINEAR = 1.2
"""A saturated trial whose load is past 1 by more than this went past a jump (a held
station's time growing without bound): a chord to it says nothing of where 1 is."""


class _Probe(NamedTuple):
    scale: float
    saturated: bool
    load: float  # the highest share of a capacity in use (Trials.load)
    peak: float  # the highest utilization
    loads: NDArray[np.float64] | None = None  # per station (Trials.loads)


def _max_scale(workload: dict[str, float], rel_tol: float, base: Trials | None,
               stations: NDArray[np.bool_] | None, ahead: dict[float, Trials]
               ) -> Generator[list[float], Trials, float]:
    """The search: from the load at scale 1, the first bound (exact when a plain station
    gives first); then the scale where the load reaches 1, interpolated between the
    highest unsaturated and lowest saturated trials (or extrapolated from the last two
    unsaturated ones), each trial placed just short of the estimate so that the next one
    closes the bracket — bisection whenever the estimate is not inside it. It yields the
    loads to try and is sent their trials. ``ahead``: where trials solved beside the first
    bound are put, by scale (the bottleneck is read at ``(1 − rel_tol)`` of the bound when
    the bound holds)."""
    if not any(v > 0 for v in workload.values()):
        return math.inf

    def only(found: Trials) -> Trials:
        return found if stations is None else found.only(stations)

    base = only(base if base is not None else (yield [1.0]))
    if not (base.utilization > 0).any():
        return math.inf
    below: list[_Probe] = []  # unsaturated trials, in the order tried
    above: _Probe | None = None  # the lowest saturated trial
    if base.saturated[0]:
        lo, hi = 0.0, 1.0
        above = _probe(base, 1.0)
    else:
        lo = 1.0
        below.append(_probe(base, 1.0))
        hi = 1.0 / below[0].load  # loads grow at least in proportion with the scale
        if not math.isfinite(hi):  # a load too small for its inverse to fit a double
            return math.inf
        # The bound is exact when holding times do not grow with the load: try it first,
        # with the load just below it where the bottleneck is read if it holds (one pass)
        edge = hi * (1 - 1e-9)
        both = yield [edge, (1 - rel_tol) * edge]
        first = _probe(only(both.column(0)))
        if not first.saturated:
            ahead[(1 - rel_tol) * edge] = both.column(1)
            return first.scale
        above = first
    bounded = False  # hi is a bound from an unsaturated trial, not a saturated one
    widths = [hi - lo]
    last_saturated = above is not None
    for _ in range(MAX_TRIALS):
        if not hi - lo > rel_tol * hi:
            break
        # an estimate that does not halve the bracket in two trials is not trusted
        halving = len(widths) >= 3 and widths[-1] > 0.5 * widths[-3]
        mid = (_midpoint(lo, hi) if halving
               else _next_trial(lo, hi, below, above, rel_tol, last_saturated))
        if not lo < mid < hi:
            break
        found = _probe(only((yield [mid])))
        last_saturated = found.saturated
        if found.saturated:
            hi, above, bounded = mid, found, False
        else:
            lo = mid
            below.append(found)
            if found.peak > 0 and mid / found.peak < hi:
                hi, bounded = mid / found.peak, True
        widths = [] if halving else widths
        widths.append(hi - lo)
    if lo == 0.0:
        return 0.0
    if bounded:
        edge = hi * (1 - 1e-9)
        return edge if not _probe(only((yield [edge]))).saturated else lo
    return lo


def _next_trial(lo: float, hi: float, below: list[_Probe], above: _Probe | None,
                rel_tol: float, after_saturated: bool) -> float:
    """The next scale to try in ``(lo, hi)``, from where the load is estimated to reach 1.

    Loads grow with the scale at least in proportion, and faster as held times grow
    (convex): the chord from the highest unsaturated trial to the lowest saturated one
    reaches 1 short of the real point, and the line through the last two unsaturated
    trials (or through the origin and the last) past it. The trial after a saturated
    one tries the first, after an unsaturated one the second, so the bracket closes from
    both sides; each moves it by at least half the tolerance. The bisection's point
    when neither estimate falls inside."""
    short, past = _estimates(lo, below, above)
    order = (short, past) if after_saturated else (past, short)
    margin = max(0.5 * rel_tol * hi, 0.1 * (hi - lo))  # a tenth of the bracket at least
    for estimate in order:
        if estimate is not None and lo < estimate < hi:
            return min(max(estimate, lo + margin), hi - margin)
    return _midpoint(lo, hi)


def _estimates(lo: float, below: list[_Probe], above: _Probe | None
               ) -> tuple[float | None, float | None]:
    """Where the first station's load reaches 1, station by station: short of it (the
    chord to the saturated trial, for the stations past 1 there but not by more than
    :data:`NEAR_LINEAR`) and past it (the line through the last two unsaturated trials,
    or through the origin and the last) — the earliest over the stations."""
    last = below[-1] if below else None
    if last is None or last.scale != lo or last.loads is None:
        return None, None
    now = last.loads
    short = past = None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if above is not None and above.loads is not None:
            then = above.loads
            crossing = (last.scale + (1.0 - now) * (above.scale - last.scale) / (then - now))
            use = (then >= 1.0) & (then <= NEAR_LINEAR) & (now < 1.0) & np.isfinite(crossing)
            if use.any():
                short = float(crossing[use].min())
        before = below[-2] if len(below) >= 2 else None
        start, earlier = ((0.0, np.zeros_like(now)) if before is None or before.loads is None
                          else (before.scale, before.loads))
        rise = (now - earlier) / (last.scale - start)
        crossing = last.scale + (1.0 - now) / rise
        use = (rise > 0) & (now < 1.0) & np.isfinite(crossing)
        if use.any():
            past = float(crossing[use].min())
    return short, past


def _probe(found: Trials, scale: float | None = None) -> _Probe:
    return _Probe(float(found.scales[0]) if scale is None else scale,
                  bool(found.saturated[0]), float(found.load[0]), float(found.peak[0]),
                  found.loads[:, 0])


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
    """For every retried call: its station's utilization now plus this caller's attempts
    it does not make now (arrival × (max − expected attempts) × service time / servers) —
    at its target, or, for an unbounded third party, at the stations held around the call."""
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
            # the attempts this caller does not make now, on top of every caller's load
            extra = rate * (n - info.expected) * attempt / (station.servers * station.copies)
            out.append(RetryStorm(caller, node.component, station.id, state.utilization,
                                  state.utilization + extra, n))
            continue
        extra_per_call = (n - info.expected) * attempt + backoff_total_ms(node, n - 1)
        for index in held:
            state = solution.stations[index]
            station = program.stations[index]
            extra = rate * extra_per_call / (station.servers * station.copies)
            out.append(RetryStorm(caller, node.component, station.id, state.utilization,
                                  state.utilization + extra, n))
    return out


EDGE_PROBES = 16
"""Columns on which a column search first tries the exact bound (see
:func:`column_max_scale`)."""


def column_max_scale(program: Program, workload: dict[str, float], columns: Columns,
                     stations: NDArray[np.bool_] | None = None, rel_tol: float = 1e-3
                     ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`max_scale` of every column of ``columns`` (samples of the uncertain numbers)
    at once: per column the factor on the workload at which the first station (of the
    mask ``stations``) saturates, to ``rel_tol``, and the bottleneck station there (-1:
    none carries load). A bisection of all columns together (one solution of the columns
    still searching per round), from the same exact first bound as :func:`max_scale` —
    tried on every column when it is exact on any of :data:`EDGE_PROBES` spread over
    them, else left to the bisection; each column's factor is within ``rel_tol`` of the
    one :func:`max_scale` finds for a design holding that column's numbers."""
    k = columns.count
    cap = np.full(k, math.inf)
    worst = np.full(k, -1, dtype=np.int64)

    def run(scales: NDArray[np.float64], which: NDArray[np.int64]) -> Trials:
        found = trials(program, workload, scales, columns=columns.take(which))
        return found if stations is None else found.only(stations)

    if not any(v > 0 for v in workload.values()) or k == 0:
        return cap, worst
    base = run(np.ones(k), np.arange(k))
    loaded = (base.utilization > 0).any(axis=0)
    saturated = base.saturated
    with np.errstate(divide="ignore"):
        hi = np.where(saturated, 1.0, 1.0 / base.load)
    lo = np.where(saturated, 0.0, 1.0)
    searching = loaded & np.isfinite(hi)
    # the bound is exact when holding times do not grow with the load: try it first — on
    # a few columns spread over the samples, then on the rest when it was exact on any
    # (where holding times grow, it is exact on none: the edge of every sample's pools
    # is the costliest trial of all, for nothing)
    ask = np.flatnonzero(searching & ~saturated)
    probe = np.unique(np.linspace(0, len(ask) - 1, min(len(ask), EDGE_PROBES)).round()
                      .astype(np.int64)) if len(ask) else ask
    for tried in (ask[probe], np.delete(ask, probe)):
        if not len(tried):
            continue
        edge = hi[tried] * (1 - 1e-9)
        exact = ~run(edge, tried).saturated
        cap[tried[exact]] = edge[exact]
        searching[tried[exact]] = False
        if not exact.any():
            break
    bounded = np.zeros(k, dtype=bool)
    # the load (Trials.load) at each end of the bracket: where it reaches 1 is estimated
    # by the chord between them when the high end saturated not far past 1
    load_lo = np.where(saturated, 0.0, base.load)
    load_hi = np.full(k, np.inf)
    widths = np.stack([hi - lo] * 3)  # the bracket's last three widths, per column
    for _ in range(MAX_TRIALS):
        active = np.flatnonzero(searching & (hi - lo > rel_tol * hi))
        if not len(active):
            break
        a, b = lo[active], hi[active]
        with np.errstate(invalid="ignore", divide="ignore"):
            half = np.where(a > 0, np.where(b < 1e6 * a, 0.5 * (a + b), np.sqrt(a * b)),
                            np.where(b > 1e-12, 0.5 * b, b * 1e-6))
            chord = a + (1.0 - load_lo[active]) * (b - a) / (load_hi[active]
                                                              - load_lo[active])
            margin = np.maximum(0.5 * rel_tol * b, 0.1 * (b - a))
            # estimates that have not halved the bracket in two rounds are not trusted
            stalled = widths[2, active] > 0.5 * widths[0, active]
            usable = ((a > 0) & np.isfinite(chord) & (load_hi[active] <= NEAR_LINEAR)
                      & ~stalled)
            mid = np.where(usable, np.clip(chord, a + margin, b - margin), half)
        found = run(mid, active)
        full = found.saturated
        hi[active[full]] = mid[full]
        load_hi[active[full]] = found.load[full]
        bounded[active[full]] = False
        below = active[~full]
        lo[below] = mid[~full]
        load_lo[below] = found.load[~full]
        with np.errstate(divide="ignore", invalid="ignore"):
            linear = mid[~full] / found.peak[~full]
        tighter = (found.peak[~full] > 0) & (linear < hi[below])
        hi[below[tighter]] = linear[tighter]
        load_hi[below[tighter]] = np.inf
        bounded[below[tighter]] = True
        widths = np.stack([widths[1], widths[2], hi - lo])
    rest = np.flatnonzero(searching)
    cap[rest] = lo[rest]
    edged = np.flatnonzero(searching & bounded)
    if len(edged):
        edge = hi[edged] * (1 - 1e-9)
        fine = ~run(edge, edged).saturated
        cap[edged[fine]] = edge[fine]
    finite = np.flatnonzero(np.isfinite(cap))
    if len(finite):
        scales = np.where(cap[finite] > 0, (1 - rel_tol) * cap[finite], 1e-9)
        busy = trials(program, workload, scales, columns=columns.take(finite)).utilization
        if stations is not None:
            busy = np.where(stations[:, None], busy, -1.0)
        worst[finite] = np.argmax(busy, axis=0)
    return cap, worst
