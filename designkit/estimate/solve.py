"""Solve a compiled design at one or many loads: rates, station queues, holding times.

Rates are linear in the load, so the traffic of the unit workload is computed once (one
pass over the call graph, callers first) and scaled. Stations that wrap other work
(workers of blocking services, pools, locks) have a service time that is the time of what
they wrap, which depends on the queues inside: the tape (:mod:`designkit.estimate.tape`)
orders every time so that those are solved innermost first, and the solver runs it level by
level on arrays (one column per load: :func:`trials` solves several loads in one run). When
holds nest in a cycle the tape is iterated to a fixed point. Times are carried as (mean,
variance); waits use Erlang C with the Allen–Cunneen correction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.external import Attempts
from designkit.estimate.program import Program
from designkit.estimate.tape import Level, Tape, Traffic, tape_of
from designkit.flow.nodes import ExternalCall, Invoke
from designkit.maths.queueing import erlang_c

if TYPE_CHECKING:
    from designkit.maths.closed import Held

__all__ = ["Flows", "Moments", "Solution", "StationState", "Trials", "flows_of", "solve",
           "trials"]

INF = math.inf
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Moments:
    """Mean and variance of a time (ms); infinite when a station on the way saturates."""

    mean: float
    var: float = 0.0

    @property
    def infinite(self) -> bool:
        return math.isinf(self.mean)


@dataclass
class StationState:
    """A station's load and queue at one solution.

    Attributes:
        arrival: Arrivals per ms (all copies together).
        service: Mean service (holding) time, ms.
        scv: Squared coefficient of variation of the service time.
        p_wait: Probability an arrival waits (Erlang C).
        wait: Mean wait in queue, ms (``inf`` when saturated).
        utilization: Busy fraction of the servers.
    """

    arrival: float = 0.0
    service: float = 0.0
    scv: float = 1.0
    p_wait: float = 0.0
    wait: float = 0.0
    utilization: float = 0.0

    @property
    def saturated(self) -> bool:
        return self.utilization >= 1.0 or math.isinf(self.wait)


class Retried(NamedTuple):
    """A retried call at one load: the node, its calls per ms, the held stations around it
    and the calling endpoint."""

    node: ExternalCall | Invoke
    rate: float
    held: tuple[int, ...]
    endpoint: int


class Bounds(NamedTuple):
    """Per station: the most requests ever inside it (``inf``: no bound), the held
    stations that bound it (``None``: some visit is unbounded), how many held stations
    are around a held station's holds, and its visit rate (per ms at scale 1) by the
    held station that bounds each visit."""

    bound: Floats
    chosen: list[set[int] | None]
    depth: list[int]
    share: list[dict[int, float]]


class Sources(NamedTuple):
    """Stations bounded by several held stations (``stations``), and per station (a row)
    those held stations' servers (``bounds``) and the share of its visits each bounds
    (``share``; rows padded with shares of 0)."""

    stations: NDArray[np.int64]
    bounds: Floats
    share: Floats


@dataclass(frozen=True)
class Wrapping:
    """Held stations whose queue is what they wrap (``shared``, per station), and what
    each wraps: ``holders`` (sorted), ``inner`` stations grouped by holder from
    ``starts``."""

    shared: NDArray[np.bool_]
    holders: NDArray[np.int64]
    starts: NDArray[np.int64]
    inner: NDArray[np.int64]

    @classmethod
    def of(cls, overlapped: dict[int, tuple[int, ...]], n: int) -> Wrapping:
        shared = np.zeros(n, dtype=bool)
        holders = np.array(sorted(overlapped), dtype=np.int64)
        shared[holders] = True
        lengths = [len(overlapped[h]) for h in holders.tolist()]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        inner = np.array([p for h in holders.tolist() for p in overlapped[h]], dtype=np.int64)
        return cls(shared, holders, starts, inner)


@dataclass
class Flows:
    """The traffic of a workload at scale 1 (per ms): every rate is this times the scale."""

    endpoint_rate: Floats
    arrival: Floats
    first: Floats
    second: Floats
    holder_rate: Floats
    external_rate: dict[str, float]
    retried: list[Retried]
    bound: Floats  # per station: most requests ever inside it at once (inf: no bound)
    overlapped: dict[int, tuple[int, ...]]  # held station -> the stations whose queue it is
    wrapping: Wrapping  # the same, as arrays
    groups: dict[int, tuple[int, ...]]  # held station -> the stations only it bounds
    sources: Sources  # stations bounded by several held stations, and those
    own: frozenset[int] = frozenset()  # groups of one replica's own stations (per copy)
    members: NDArray[np.int64] = field(  # the stations of every group and the sources
        default_factory=lambda: np.zeros(0, dtype=np.int64))


def flows_of(program: Program, workload: dict[str, float]) -> Flows:
    """The unit traffic of ``workload`` (rps per endpoint reference), kept on the program."""
    key = tuple(sorted(workload.items()))
    found = program.traffic.get(key)
    if found is not None:
        return found
    traffic = tape_of(program).traffic
    rate = [0.0] * len(program.endpoints)
    for name, rps in workload.items():
        rate[program.index[name]] += rps / 1000.0  # per ms
    direct = list(rate)
    for source, target, mult in zip(traffic.call_from, traffic.call_to, traffic.call_mult,
                                    strict=True):
        if rate[source] > 0:
            rate[target] += rate[source] * mult
    rates = np.array(rate, dtype=float)
    n = len(program.stations)
    visit_rate = rates[traffic.visit_endpoint] * traffic.visit_mult
    bounds = _bounds(program, traffic, direct, rate)
    bound, chosen = bounds.bound, bounds.chosen
    overlapped = _overlapped(program, traffic, rate, bound, chosen)
    groups, own = _groups(program, bound, chosen, overlapped, bounds.depth)
    external: dict[str, float] = {}
    calls = rates[traffic.external_endpoint] * traffic.external_mult
    for component, value in zip(traffic.external_component, calls.tolist(), strict=True):
        if value > 0:
            external[component] = external.get(component, 0.0) + value
    flows = Flows(
        endpoint_rate=rates,
        arrival=_per_station(traffic.visit_station, visit_rate, n),
        first=_per_station(traffic.visit_station, visit_rate * traffic.visit_mean, n),
        second=_per_station(traffic.visit_station, visit_rate * traffic.visit_second, n),
        holder_rate=rates[traffic.holder_endpoint] * traffic.holder_mult,
        external_rate=external,
        retried=[Retried(r.node, rate[r.endpoint] * r.mult, r.held, r.endpoint)
                 for r in traffic.retried if rate[r.endpoint] * r.mult > 0],
        bound=bound,
        overlapped=overlapped,
        wrapping=Wrapping.of(overlapped, n),
        groups=groups,
        own=own,
        sources=_sources(program, bounds, overlapped),
    )
    flows.members = np.array(sorted({p for inner in groups.values() for p in inner}
                                    | set(flows.sources.stations.tolist())), dtype=np.int64)
    program.keep_traffic(key, flows)
    return flows


def _bounds(program: Program, traffic: Traffic, direct: list[float],
            rate: list[float]) -> Bounds:
    """Per station, the most requests that can ever be inside one copy of it at once:
    ``inf`` unless every visit to it (or hold of it) happens while some held station is
    kept — a blocking worker, a connection, a lock — whose servers then bound it.

    Each visit is bounded by the smallest held station around it, in its own endpoint or
    kept by every caller for the whole call (a message's handler runs on its own: its
    publisher keeps nothing for it); a station's bound is the sum of its visits' distinct
    bounding stations — of one replica's copies when the station and all of them are that
    replica's own (a pool inside its service's workers), else of all their copies. A
    station whose bound is at most its servers (per copy) never queues.
    """
    stations = program.stations
    servers = [s.servers * s.copies for s in stations]
    entry: list[frozenset[int] | None] = [frozenset() if r > 0 else None for r in direct]
    for caller, callee, held in zip(traffic.call_from, traffic.call_to, traffic.call_held,
                                    strict=True):
        around = entry[caller]
        if around is None or rate[caller] <= 0:
            continue
        kept = frozenset() if held is None else around | frozenset(held)
        entry[callee] = kept if entry[callee] is None else entry[callee] & kept  # type: ignore[operator]
    by: list[set[int] | None] = [set() for _ in servers]  # None: some visit is unbounded
    # how many held stations are kept around every hold of a held station: of two that
    # bound alike, the inner one (a connection taken inside a worker's hold) binds
    depth = [0] * len(servers)
    seen = [False] * len(servers)
    for station, endpoint, held in zip(traffic.holder_station.tolist(),
                                       traffic.holder_endpoint.tolist(), traffic.holder_held,
                                       strict=True):
        around = entry[endpoint]
        if around is not None:
            count = len(around.union(held) - {station})
            depth[station] = count if not seen[station] else min(depth[station], count)
            seen[station] = True

    share: list[dict[int, float]] = [{} for _ in servers]  # bounding station -> rate

    def bind(station: int, endpoint: int, held: tuple[int, ...], visits: float) -> None:
        around = entry[endpoint]
        chosen = by[station]
        if around is None or chosen is None:
            return
        enclosing = around.union(held) - {station}
        if not enclosing:
            by[station] = None
        else:
            h = min(enclosing, key=lambda h: (servers[h], -depth[h], h))
            chosen.add(h)
            share[station][h] = share[station].get(h, 0.0) + visits

    for station, endpoint, mult, held in zip(traffic.visit_station.tolist(),
                                             traffic.visit_endpoint.tolist(),
                                             traffic.visit_mult.tolist(), traffic.visit_held,
                                             strict=True):
        if mult > 0 and rate[endpoint] > 0:
            bind(station, endpoint, held, rate[endpoint] * mult)
    for station, endpoint, mult, held in zip(traffic.holder_station.tolist(),
                                             traffic.holder_endpoint.tolist(),
                                             traffic.holder_mult.tolist(), traffic.holder_held,
                                             strict=True):
        if mult > 0 and rate[endpoint] > 0:
            bind(station, endpoint, held, rate[endpoint] * mult)
    def most(p: int, chosen: set[int] | None) -> float:
        if chosen is None or not chosen:
            return math.inf
        own = stations[p].replicas_of
        if own is not None and all(stations[h].replicas_of == own for h in chosen):
            # each replica's own copy, bounded by that replica's holders
            return float(sum(stations[h].servers for h in chosen))
        return float(sum(servers[h] for h in chosen))

    bound = np.array([most(p, chosen) for p, chosen in enumerate(by)])
    return Bounds(bound, by, depth, share)


def _overlapped(program: Program, traffic: Traffic, rate: list[float],
                bound: Floats, chosen: list[set[int] | None]) -> dict[int, tuple[int, ...]]:
    """Per station: a held station whose every hold does nothing but visit stations that
    can queue (a connection kept for one statement, or for statements in a row) — its
    queue is theirs. Requests beyond its servers wait in its queue instead of theirs, so
    the time through both is the time through the stations it wraps (exact for one
    multi-server station: a pool of 10 in front of 4 cores is an M/M/4), and the open
    estimate of those stations already holds that wait: the held station adds none."""
    servers = [float(s.servers) for s in program.stations]
    verdict: list[bool | None] = [None] * len(servers)
    wrapped: dict[int, set[int]] = {}
    for station, endpoint, mult, inner in zip(traffic.holder_station.tolist(),
                                              traffic.holder_endpoint.tolist(),
                                              traffic.holder_mult.tolist(),
                                              traffic.holder_inner, strict=True):
        if mult <= 0 or rate[endpoint] <= 0 or verdict[station] is False:
            continue
        # each copy of the holder must keep as many requests inside as a copy of what it
        # wraps can serve (three pools of one connection before two cores queue at the
        # pool while a core is free)
        # ... and be bounded by one held station (a cache inside two locks queues the
        # requests of both, whichever lock it waits under)
        verdict[station] = inner is not None and all(
            servers[p] < bound[p] < math.inf and servers[station] >= servers[p]
            and len(chosen[p] or ()) == 1 for p in inner)
        wrapped.setdefault(station, set()).update(inner or ())
    return {s: tuple(sorted(wrapped[s])) for s, v in enumerate(verdict) if v}


RARELY_FULL = 1e-3
"""A held station whose servers are all busy less often than this (Erlang C of the open
estimate) bounds nothing in practice: the open estimate stays (and costs nothing more)."""

MIXED_HOLDS = 0.25
"""Holds of one held station whose mean lengths vary more than this (squared coefficient
of variation across the places that hold it: a 0.5 ms query and a 300 ms payment on one
pool) are not solved as one flow-equivalent class: the open estimate, which prices their
mix with Allen–Cunneen, stays."""

BOUNDED_ROUNDS = 2
"""Rounds of solving the held stations' bounds and the holds around them again: the second
sees the holds the first shortened (an outer group's holds computed from its inner
stations' bounded waits). More rounds moved no test's number by more than 0.1 % and cost
a third more time."""

SETTLED = 1e-4
"""The rounds stop when no wait moved by more than this share (10⁻⁴ of a wait is far
below what any percentile shows)."""

ROUNDING = 1e-12
"""A time inside a bounded station within this share of its service is rounding: no
wait."""

MAX_HELD_POPULATION = 2048
"""A held station with more servers than this is not solved with what it bounds: its
queue would form only in the last sliver of load before what it wraps saturates."""


def _groups(program: Program, bound: Floats, chosen: list[set[int] | None],
            overlapped: dict[int, tuple[int, ...]],
            depth: list[int]) -> tuple[dict[int, tuple[int, ...]], frozenset[int]]:
    """Held stations solved together with the stations they alone bound (and that can
    queue): a blocking worker pool before a database, a connection pool kept across a
    transaction with work between its statements (see :mod:`designkit.maths.closed`)."""
    stations = program.stations
    groups: dict[int, list[int]] = {}
    for p, by in enumerate(chosen):
        if by is None or len(by) != 1 or p in overlapped:
            continue
        (h,) = by
        if h in overlapped or not stations[p].servers < bound[p] < math.inf:
            continue
        if stations[h].servers * stations[h].copies <= MAX_HELD_POPULATION:
            groups.setdefault(h, []).append(p)
    # a group whose stations are all its replica's own (a worker pool and its connection
    # pools) is one queue per replica: solved per copy
    own = frozenset(h for h, inner in groups.items()
                    if stations[h].replicas_of is not None
                    and all(stations[p].replicas_of == stations[h].replicas_of
                            for p in inner))
    # exact for one station inside (exponential phases); with several in series it
    # overstates the wait (2 workers before two M/M/1 caches: 37.3 ms against 31.9 ms from
    # the exact chain) — still far closer than the open estimate, which calls it saturated.
    # A held station inside another's group is one station there (its holding time is its
    # service): inner groups are solved first, so the outer one sees their waits
    inner_first = sorted(groups, key=lambda h: (-depth[h], h))
    return {h: tuple(groups[h]) for h in inner_first}, own


def departures(hold_scv: float, queued_full: tuple[float, ...] | list[float],
               station_scv: list[float], servers: list[int]) -> float:
    """The factor on a flow-equivalent server's wait for how its requests leave.

    The flow-equivalent server lets requests go as an exponential server would. With
    every held server taken and what the hold waits for always queued, they leave as
    that station serves them: exactly so for an exponential station (8 workers before 4
    cores), with Whitt's departure variability ``1 + (scv − 1) / √c`` for any other. When
    nothing inside queues, the held servers are an M/G/c queue of the hold's own time:
    Allen–Cunneen's ``(1 + scv) / 2``. In between, the station most often queued at full
    population, with chance ``q``, counts for ``q^1.5`` and the hold's variability for
    the rest — fitted to the exact Markov chains of 23 worker pools before one or two
    exponential stations at ρ 0.5, 0.8 and 0.95: the mean response within −3.2…+2.2 % at
    ρ ≤ 0.8 and −5.7…+6.1 % at 0.95 (rms 2.0 %), where the bare flow-equivalent server
    is up to +18 % and +29 % (rms 11.5 %) (``benchmarks/held_departures.py``; chains it
    was not fitted to in ``tests/estimate/test_holding.py``).

    Example:
        >>> departures(0.5, [1.0], [1.0], [4]), departures(0.5, [0.0], [1.0], [4])
        (1.0, 0.75)
        >>> departures(0.5, [0.25], [1.0], [4])   # (1 + 0.5 + 0.5 · 0.25^1.5) / 2
        0.78125
    """
    effective = hold_scv
    if queued_full:
        i = max(range(len(queued_full)), key=queued_full.__getitem__)
        leaving = 1.0 + (station_scv[i] - 1.0) / math.sqrt(max(servers[i], 1))
        effective += (leaving - hold_scv) * queued_full[i] ** 1.5
    return (1.0 + effective) / 2.0


def _sources(program: Program, bounds: Bounds,
             overlapped: dict[int, tuple[int, ...]]) -> Sources:
    """Stations that can queue but are reached only while one of several held stations
    is kept (a cache inside two locks): no more of each one's requests than its servers
    are ever there (:func:`~designkit.maths.closed.bounded_classes_wait`)."""
    stations = program.stations
    found = [p for p, by in enumerate(bounds.chosen)
             if by is not None and len(by) > 1 and p not in overlapped
             and stations[p].servers < bounds.bound[p] <= MAX_HELD_POPULATION]
    width = max((len(bounds.chosen[p] or ()) for p in found), default=0)
    servers = np.ones((len(found), width))
    share = np.zeros((len(found), width))
    for row, p in enumerate(found):
        holders = sorted(bounds.chosen[p] or ())
        rates = np.array([bounds.share[p].get(h, 0.0) for h in holders])
        servers[row, :len(holders)] = [stations[h].servers * stations[h].copies
                                       for h in holders]
        share[row, :len(holders)] = rates / rates.sum()
    return Sources(np.array(found, dtype=np.int64), servers, share)


def _per_station(stations: NDArray[np.int64], values: Floats, n: int) -> Floats:
    return np.bincount(stations, values, minlength=n).astype(float)


@dataclass
class Trials:
    """Station states and endpoint moments at several scales (one column per scale)."""

    scales: Floats
    arrival: Floats
    service: Floats
    scv: Floats
    p_wait: Floats
    wait: Floats
    utilization: Floats
    endpoint_mean: Floats
    endpoint_var: Floats
    rounds: int
    held_load: Floats | None = None  # per held station solved with what it bounds: λ/X(C)

    @property
    def saturated(self) -> NDArray[np.bool_]:
        """Per scale: some station is saturated."""
        return np.asarray(((self.utilization >= 1.0) | np.isinf(self.wait)).any(axis=0))

    @property
    def peak(self) -> Floats:
        """Per scale: the highest utilization."""
        return np.asarray(self.utilization.max(axis=0, initial=0.0))

    @property
    def load(self) -> Floats:
        """Per scale: the highest share of a capacity in use — a station's utilization,
        or, for a held station solved with what it bounds, its arrivals over the most
        it can pass (:attr:`~designkit.maths.closed.Held.load`); the finite ones only,
        so that a saturated solution shows how far past its capacity the first station
        to give is. The design saturates near where it reaches 1: the capacity search
        interpolates it."""
        both = (self.utilization if self.held_load is None
                else np.maximum(self.utilization, self.held_load))
        # a station held around a saturated one is infinitely busy: what saturates first
        # has a finite load
        return np.asarray(np.where(np.isfinite(both), both, 0.0).max(axis=0, initial=0.0))


def trials(program: Program, workload: dict[str, float], scales: list[float] | Floats,
           max_rounds: int = 100) -> Trials:
    """Solve ``program`` under ``workload`` × each of ``scales`` at once."""
    tape = tape_of(program)
    flows = flows_of(program, workload)
    return _Run(tape, flows, np.asarray(scales, dtype=float)).run(max_rounds)


class _Run:
    """One evaluation of the tape for K scales."""

    def __init__(self, tape: Tape, flows: Flows, scales: Floats) -> None:
        self.tape = tape
        self.flows = flows
        self.scales = scales
        k = len(scales)
        n = len(tape.servers)
        self.mean = np.zeros((tape.slots, k))
        self.var = np.zeros((tape.slots, k))
        self.mean[tape.const_slots] = tape.const_mean[:, None]
        self.var[tape.const_slots] = tape.const_var[:, None]
        self.arrival = np.zeros((n, k))
        self.service = np.zeros((n, k))
        self.scv = np.ones((n, k))
        self.p_wait = np.zeros((n, k))
        self.wait = np.zeros((n, k))
        self.open_wait = np.zeros((n, k))  # the open estimate's, before any bound
        self.utilization = np.zeros((n, k))
        self.fixed: dict[int, tuple[Floats, Floats]] = {}  # held station -> wait, P(wait)
        self.held_load = np.zeros((n, k))  # λ / X(C) of held stations solved as groups
        # per held station and column, the inputs of its last solution and the solution
        self.solved: dict[tuple[int, int], tuple[Floats, Held]] = {}
        self._holder_rows: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None


    def run(self, max_rounds: int) -> Trials:
        tape, flows, sc = self.tape, self.flows, self.scales
        plain = np.flatnonzero(~tape.held)
        rate = flows.arrival[plain, None]
        self.queue(plain, _scaled(rate, sc), _per(flows.first[plain, None], rate),
                   _per(flows.second[plain, None], rate))
        rounds = 1
        if tape.cyclic:
            held = np.flatnonzero(tape.held)
            previous = None
            for rounds in range(1, max_rounds + 1):  # noqa: B007
                for level in tape.levels:
                    self.level(level)
                current = self.wait[held].copy()
                if previous is not None and _close(current, previous):
                    break
                previous = current
        else:
            for level in tape.levels:
                self.level(level)
            # bounded stations lengthen or shorten the holds around them, which change
            # the bounds' solutions: a few rounds until the waits settle
            for _ in range(BOUNDED_ROUNDS if flows.groups or len(flows.sources.stations)
                           else 0):
                before = self.wait.copy()
                if not self.bounded():
                    break
                for level in tape.levels:
                    self.level(level)
                if _close(self.wait, before, SETTLED):
                    break
        ends = tape.endpoint_slot
        return Trials(sc, self.arrival, self.service, self.scv, self.p_wait, self.wait,
                      self.utilization, self.mean[ends], self.var[ends], rounds,
                      self.held_load)

    def bounded(self) -> bool:
        """Solve each held station with the stations it alone bounds (a flow-equivalent
        server, :func:`~designkit.maths.closed.held_queue`), from the open estimate just
        run: their waits replace the open ones, and the held station's wait is kept for
        the second run of the levels. Whether anything changed."""
        from designkit.maths.closed import held_queue

        self.fixed.clear()  # this round's solutions replace the last round's
        self.held_load[:] = 0.0
        exponential_waits = self.exponential_waits()
        changed = self.finite_sources(exponential_waits)
        tape = self.tape
        groups = self.flows.groups
        heads = np.fromiter(groups, dtype=np.int64, count=len(groups))
        busy: NDArray[np.bool_] = np.asarray(self.all_busy(heads) >= RARELY_FULL)
        full: NDArray[np.bool_] = np.asarray(busy.any(axis=1))  # else it bounds nothing
        # a held station's time inside as its own group solved it (inner groups come
        # first): its service where an outer group holds it
        inside = {h: self.service[h].copy() for h in heads[full].tolist()}
        bounded_at: list[tuple[int, int, float]] = []  # station, column, bounded wait
        for row, h in enumerate(heads.tolist()):
            if not full[row]:
                continue
            stations = list(groups[h])
            waits = np.full(len(self.scales), np.nan)  # NaN: this column keeps its own
            p_waits = np.full(len(self.scales), np.nan)
            for col in range(len(self.scales)):
                lam = float(self.arrival[h, col])
                holding = float(self.service[h, col])
                if not (lam > 0 and math.isfinite(holding) and math.isfinite(lam)) or \
                        not busy[row, col] or \
                        self.between(h, col) > MIXED_HOLDS:
                    continue
                visits = self.arrival[stations, col] / lam
                service = self.service[stations, col]
                open_wait = self.open_wait[stations, col]
                now_wait = self.wait[stations, col]  # what the holding time holds
                think = max(0.0, holding - float(np.dot(visits, now_wait + service)))
                solved = np.array([inside[p][col] if p in inside else service[i]
                                   for i, p in enumerate(stations)])
                demands = (visits * solved).tolist()
                servers = [int(tape.servers[p]) for p in stations]
                inputs = np.array([lam, think, *demands])
                cached = self.solved.get((h, col))
                if cached is not None and not _moved(inputs, cached[0], SAME_INPUTS):
                    held = cached[1]  # as the last round solved it
                elif h in self.flows.own:  # each replica's holder and its own stations
                    k = int(tape.copies[h])
                    held = held_queue(lam / k, int(tape.servers[h]), think, demands,
                                      servers)
                    held = held if held is None else replace(held, busy=held.busy * k)
                else:
                    held = held_queue(lam, int(tape.servers[h] * tape.copies[h]), think,
                                      demands, servers, [int(tape.copies[p]) for p in stations],
                                      holder_copies=int(tape.copies[h]))
                if held is None or not math.isfinite(float(np.dot(visits, open_wait))):
                    continue
                self.solved[(h, col)] = (inputs, held)
                self.held_load[h, col] = held.load
                if held.saturated:  # what it wraps stays as busy as its servers allow
                    if self.flows.bound[h] > tape.servers[h]:
                        waits[col], p_waits[col] = INF, 1.0
                        changed = changed or not math.isinf(self.wait[h, col])
                    continue
                inside[h][col] = held.inside
                after = self.bounded_waits(held, stations, col, visits, demands,
                                           open_wait, exponential_waits)
                changed = changed or _moved(after, now_wait)
                for i, p in enumerate(stations):
                    if visits[i] > 0:
                        bounded_at.append((p, col, float(after[i])))
                        if tape.held[p]:
                            self.keep(p, col, float(after[i]))
                if self.flows.bound[h] <= tape.servers[h]:
                    # it never queues (what holds it bounds it): only what it bounds gains
                    waits[col], p_waits[col] = 0.0, 0.0
                else:
                    # how requests leave depends on how variable the hold is once what
                    # it holds waits as bounded (not as the open estimate had it)
                    scv = self.hold_scv(h, col, stations, visits, now_wait, after, service,
                                        solved)
                    waits[col] = held.wait * departures(
                        scv, held.queued_full, [float(self.scv[p, col]) for p in stations],
                        servers)
                    p_waits[col] = held.p_wait
                changed = changed or _moved(np.array([waits[col]]), self.wait[h, col:col + 1])
            self.fixed[h] = (waits, p_waits)
        if bounded_at:  # each station is in one group: set once, together
            rows, cols, values = (np.array(v) for v in zip(*bounded_at, strict=True))
            self.set_waits(rows, cols, values, self.p_wait[rows, cols])
        return changed

    def bounded_waits(self, held: Held, stations: list[int], col: int, visits: Floats,
                      demands: list[float], open_wait: Floats,
                      exponential_waits: Floats) -> Floats:
        """The waits at a group's stations as the bound leaves them (one column): the
        bounded wait of exponential times, kept in proportion to the open one so that
        each station's own variability (Allen–Cunneen) stays."""
        out = np.zeros(len(stations))
        for i, p in enumerate(stations):
            if visits[i] <= 0:
                continue
            queued = held.residence[i] - demands[i]
            # below rounding of the residence, nothing queues: a difference of 10⁻¹⁷ ms
            # read as a wait, against an open one of 10⁻⁵⁰, would make the wait's spread
            # (kept in proportion) astronomical
            bounded = queued / visits[i] if queued > ROUNDING * held.residence[i] else 0.0
            # never above the open wait (no more requests than the open estimate lets in
            # are ever there): a bound that reads more is rounding in its convolution
            exponential = float(exponential_waits[p, col])
            out[i] = (float(open_wait[i]) * min(1.0, bounded / exponential)
                      if exponential > 0 else bounded if math.isinf(open_wait[i]) else 0.0)
        return out

    def hold_scv(self, h: int, col: int, stations: list[int], visits: Floats,
                 before: Floats, after: Floats, service: Floats, solved: Floats) -> float:
        """The squared coefficient of variation of a held station's holding time with
        its group's waits (and inner held stations' times) as bounded instead of as the
        levels last composed them: each visit's moments (wait, exponential with the
        station's chance of waiting, plus service) taken out and put back."""
        mean = float(self.service[h, col])
        var = float(self.scv[h, col]) * mean * mean
        rows = np.array(stations, dtype=np.int64)
        p_wait = self.p_wait[rows, col]
        spread = np.where(p_wait > 0, 2.0 / np.where(p_wait > 0, p_wait, 1.0) - 1.0, 0.0)
        service_var = self.scv[rows, col] * service * service
        solved_var = self.scv[rows, col] * solved * solved
        old_mean, old_var = _repeat(before + service, spread * before * before + service_var,
                                    visits)
        new_mean, new_var = _repeat(after + solved, spread * after * after + solved_var,
                                    visits)
        mean += float((new_mean - old_mean).sum())
        var += float((new_var - old_var).sum())
        if not (mean > 0 and math.isfinite(mean) and math.isfinite(var)):
            return float(self.scv[h, col])
        return max(var, 0.0) / (mean * mean)

    def finite_sources(self, exponential_waits: Floats) -> bool:
        """Stations a few held servers bound, kept by several held stations: their open
        waits scaled to what those bounds allow (before the groups, whose holds they
        lengthen). Whether anything changed."""
        from designkit.maths.closed import bounded_classes_waits

        sources = self.flows.sources
        p = sources.stations
        if not len(p):
            return False
        tape = self.tape
        open_wait = self.open_wait[p]
        exponential = exponential_waits[p]
        bounded = bounded_classes_waits(self.arrival[p] / tape.copies[p, None], sources.share,
                                        sources.bounds, self.service[p],
                                        tape.servers[p].astype(float))
        # the station's own variability (Allen–Cunneen) kept, as for groups
        use = ((open_wait > 0) & np.isfinite(open_wait) & np.isfinite(self.service[p])
               & ~np.isnan(bounded) & (exponential > 0))
        if not use.any():
            return False
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = open_wait * np.minimum(1.0, bounded / exponential)
        rows, cols = np.nonzero(use)
        stations = p[rows]
        values = scaled[rows, cols]
        moved = _moved(values, self.wait[stations, cols])
        self.set_waits(stations, cols, values, self.p_wait[stations, cols])
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if tape.held[p[row]]:
                self.keep(int(p[row]), col, float(scaled[row, col]))
        return moved

    def keep(self, station: int, col: int, wait: float) -> None:
        """A held station's bounded wait in one column, kept through the next run of the
        levels (which would otherwise put its open wait back); NaN elsewhere: the
        columns not given keep the level's own."""
        kept = self.fixed.get(station)
        if kept is None:
            columns = len(self.scales)
            kept = self.fixed[station] = (np.full(columns, np.nan), np.full(columns, np.nan))
        kept[0][col], kept[1][col] = wait, self.p_wait[station, col]

    def between(self, station: int, col: int) -> float:
        """The squared coefficient of variation of a held station's mean holding times
        across the places that hold it (0 when every hold lasts as long on average)."""
        traffic = self.tape.traffic
        rows = self.holder_rows(station)
        rates = self.flows.holder_rate[rows]
        means = self.mean[traffic.holder_slot[rows], col]
        total = float(rates.sum())
        if total <= 0 or not np.isfinite(means).all():
            return 0.0
        first = float(np.dot(rates, means)) / total
        second = float(np.dot(rates, means * means)) / total
        return max(0.0, second / (first * first) - 1.0) if first > 0 else 0.0

    def holder_rows(self, station: int) -> NDArray[np.int64]:
        """The holder records of one held station (grouped once per run)."""
        if self._holder_rows is None:
            order = np.argsort(self.tape.traffic.holder_station, kind="stable")
            keys = self.tape.traffic.holder_station[order]
            bounds = np.searchsorted(keys, np.arange(len(self.tape.servers) + 1))
            self._holder_rows = (order, bounds)
        order, bounds = self._holder_rows
        return order[bounds[station]:bounds[station + 1]]

    def all_busy(self, stations: NDArray[np.int64]) -> Floats:
        """Per station and scale, the chance every server of a copy is busy (Erlang C
        of its load, whether or not a request can ever wait there; 1 when overloaded)."""
        servers = np.broadcast_to(self.tape.servers[stations, None], (len(stations),
                                                                     len(self.scales)))
        load = self.utilization[stations] * servers
        out = np.ones_like(load)
        under = np.isfinite(load) & (load < servers)
        if under.any():
            out[under] = _erlang_c(servers[under], load[under])
        return out

    def exponential_waits(self) -> Floats:
        """Per station and scale, the open M/M/c wait at its load (per copy), ms (0 when
        idle or overloaded; computed for the stations a bound can change, 0 elsewhere)."""
        rows = self.flows.members
        out = np.zeros_like(self.service)
        if not len(rows):
            return out
        servers = np.broadcast_to(self.tape.servers[rows, None], (len(rows), len(self.scales)))
        service = self.service[rows]
        with np.errstate(invalid="ignore", over="ignore"):
            load = self.arrival[rows] / self.tape.copies[rows, None] * service
        part = np.zeros_like(load)
        under = np.isfinite(load) & (load > 0) & (load < servers)
        if under.any():
            part[under] = (_erlang_c(servers[under], load[under]) * service[under]
                           / (servers[under] - load[under]))
        out[rows] = part
        return out

    def set_waits(self, stations: NDArray[np.int64], cols: NDArray[np.int64],
                  waits: Floats, p_waits: Floats) -> None:
        """Set stations' mean waits (and the moments of their wait slots), one column
        each: the wait is 0 with probability 1 − ``p_wait``, else exponential."""
        self.wait[stations, cols] = waits
        self.p_wait[stations, cols] = p_waits
        slots = self.tape.wait_slot[stations]
        waiting = (p_waits > 0) & (waits > 0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            var = np.maximum(2.0 * waits * waits / np.where(waiting, p_waits, 1.0)
                             - waits * waits, 0.0)
        infinite = np.isinf(waits)
        self.mean[slots, cols] = np.where(infinite, INF, np.where(waiting, waits, 0.0))
        self.var[slots, cols] = np.where(infinite, INF, np.where(waiting, var, 0.0))

    # -- one level -----------------------------------------------------------------------

    def level(self, level: Level) -> None:
        mean, var = self.mean, self.var
        if level.stations is not None:
            self.hold(*level.stations)
        if level.sums is not None:
            out, starts, flat = level.sums
            mean[out] = np.add.reduceat(mean[flat], starts, axis=0)
            var[out] = np.add.reduceat(var[flat], starts, axis=0)
        if level.repeats is not None:
            out, source, count = level.repeats
            mean[out], var[out] = _repeat(mean[source], var[source], count[:, None])
        if level.mixes is not None:
            out, source, p = level.mixes
            m, v = mean[source], var[source]
            p = p[:, None]
            with np.errstate(invalid="ignore"):
                new_mean = p * m
                new_var = np.maximum(p * (v + m * m) - new_mean * new_mean, 0.0)
            infinite = np.isinf(m)
            mean[out] = np.where(infinite, INF, new_mean)
            var[out] = np.where(infinite, INF, new_var)
        if level.maxes is not None:
            out, left, right = level.maxes
            mean[out], var[out] = _clark(mean[left], var[left], mean[right], var[right])
        if level.externals is not None:
            out, base, wait, expected, applies = level.externals
            w_mean, w_var = _repeat(mean[wait], var[wait], expected[:, None])
            on = applies[:, None]
            blocked = np.isinf(mean[wait])
            mean[out] = np.where(blocked, INF, mean[base] + np.where(on, w_mean, 0.0))
            var[out] = np.where(blocked, INF, var[base] + np.where(on, w_var, 0.0))

    def hold(self, stations: NDArray[np.int64], starts: NDArray[np.int64],
             holders: NDArray[np.int64]) -> None:
        """Held stations: holding time = the rate-weighted time of their holders.

        The weights are the holders' rates at scale 1 (the scale cancels out of a mean), so
        that a huge scale overflows the arrival rate only — to a saturated station — and
        never the moments into ``inf / inf``.
        """
        tape = self.tape
        slots = tape.traffic.holder_slot[holders]
        r = self.flows.holder_rate[holders, None]
        hold_mean, hold_var = self.mean[slots], self.var[slots]
        active = np.broadcast_to(r > 0, hold_mean.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            first = np.where(active, r * hold_mean, 0.0)
            second = np.where(active, r * (hold_var + hold_mean * hold_mean), 0.0)
        infinite = np.logical_or.reduceat(active & np.isinf(hold_mean), starts, axis=0)
        rate = np.add.reduceat(r[:, 0], starts)[:, None]
        first_sum = np.where(infinite, INF, np.add.reduceat(first, starts, axis=0))
        second_sum = np.where(infinite, INF, np.add.reduceat(second, starts, axis=0))
        self.queue(stations, _scaled(rate, self.scales), _per(first_sum, rate),
                   _per(second_sum, rate))
        fixed = [s for s in stations.tolist() if s in self.fixed]
        if fixed:  # the waits solved with what they bound, where not saturated
            waits = np.array([self.fixed[s][0] for s in fixed])
            p_waits = np.array([self.fixed[s][1] for s in fixed])
            rows = np.array(fixed, dtype=np.int64)
            use = (self.utilization[rows] < 1.0) & ~np.isnan(waits)
            at, cols = np.nonzero(use)
            if len(at):
                self.set_waits(rows[at], cols, waits[at, cols], p_waits[at, cols])

    def queue(self, stations: NDArray[np.int64], arrival: Floats, mean: Floats,
              second_moment: Floats) -> None:
        """Erlang C wait with the Allen–Cunneen correction, per copy; wait moments to the
        stations' slots.

        ``arrival``: arrivals per ms (all copies; ``inf`` when the load overflows);
        ``mean`` and ``second_moment``: E[S] and E[S²] of the service (holding) time. A
        station with load is saturated when ρ ≥ 1, its service time is infinite or its
        arrivals are; every other station has a finite wait — never NaN.
        """
        tape = self.tape
        servers = tape.servers[stations, None]
        copies = tape.copies[stations, None]
        mean = np.broadcast_to(mean, arrival.shape)
        loaded = (arrival > 0) & (mean > 0)
        infinite = loaded & np.isinf(mean)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # E[S²] / E[S] / E[S], not / E[S]²: a tiny time squared underflows to 0
            ratio = np.where(loaded & ~infinite, second_moment / np.where(loaded, mean, 1.0)
                             / np.where(loaded, mean, 1.0), 1.0)
            scv = np.where(np.isnan(ratio), 1.0, np.maximum(ratio - 1.0, 0.0))
            lam = arrival / copies
            load = np.where(loaded, lam * mean, 0.0)
            utilization = np.where(infinite, INF, load / servers)
            over = loaded & ~infinite & ((utilization >= 1.0) | (servers / mean - lam <= 0))
        # a station that never holds more requests than servers never queues (exact)
        wrapping = self.flows.wrapping
        shared = wrapping.shared[stations][:, None]
        never = (self.flows.bound[stations] <= tape.servers[stations])[:, None] | shared
        if shared.any():  # busy no more than what it wraps; saturates only with it
            rows = np.flatnonzero(shared[:, 0])
            busiest = np.maximum.reduceat(self.utilization[wrapping.inner], wrapping.starts,
                                          axis=0)
            at = np.searchsorted(wrapping.holders, stations[rows])
            utilization[rows] = np.minimum(utilization[rows], busiest[at])
            over = over & ~shared
        queued = loaded & ~infinite & ~over & ~never
        p_wait = np.zeros_like(load)
        wait = np.zeros_like(load)
        if queued.any():
            rows, cols = np.nonzero(queued)
            c_wait = _erlang_c(servers[rows, 0], load[rows, cols])
            p_wait[rows, cols] = c_wait
            with np.errstate(over="ignore", invalid="ignore"):
                value = (c_wait / (servers[rows, 0] / mean[rows, cols] - lam[rows, cols])
                         * (1.0 + scv[rows, cols]) / 2.0)
            wait[rows, cols] = np.where(c_wait > 0, value, 0.0)
        saturated = infinite | over
        p_wait[saturated] = 1.0
        wait[saturated] = INF
        self.arrival[stations] = arrival
        self.service[stations] = np.where(loaded | infinite, mean, 0.0)
        self.scv[stations] = np.where(loaded & ~infinite, scv, 1.0)
        self.p_wait[stations] = p_wait
        self.wait[stations] = wait
        self.open_wait[stations] = wait
        self.utilization[stations] = utilization
        slots = tape.wait_slot[stations]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            second_wait = 2.0 * wait * wait / np.where(p_wait > 0, p_wait, 1.0)
            var = np.maximum(second_wait - wait * wait, 0.0)
        waiting = (p_wait > 0) & (wait > 0)
        self.mean[slots] = np.where(saturated, INF, np.where(waiting, wait, 0.0))
        self.var[slots] = np.where(saturated, INF, np.where(waiting, var, 0.0))


def _per(total: Floats, rate: Floats) -> Floats:
    """``total / rate`` where ``rate > 0`` (a mean per arrival), else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rate > 0, total / np.where(rate > 0, rate, 1.0), 0.0)


def _scaled(rate: Floats, scales: Floats) -> Floats:
    """Rates at each scale (one column per scale); a product that overflows is ``inf``: a
    load beyond any capacity."""
    with np.errstate(over="ignore"):
        return np.asarray(rate * scales, dtype=float)


def _erlang_c(servers: Floats, load: Floats) -> Floats:
    """Erlang C element-wise (``load < servers``), in one vectorized call whatever the
    server counts: constant time per station (:func:`~designkit.maths.queueing.erlang_c`)."""
    return np.asarray(erlang_c(servers, load), dtype=float)


def _repeat(mean: Floats, var: Floats, count: Floats) -> tuple[Floats, Floats]:
    """Moments of the sum of ``count`` independent copies (fractional: a mix of ⌊n⌋ and
    ⌈n⌉); zero for ``count <= 0``, infinite for an infinite time."""
    k = np.floor(count)
    f = count - k
    with np.errstate(invalid="ignore"):
        second = ((1 - f) * (k * var + (k * mean) ** 2)
                  + f * ((k + 1) * var + ((k + 1) * mean) ** 2))
        new_mean = count * mean
        new_var = np.maximum(second - new_mean * new_mean, 0.0)
    infinite = np.isinf(mean)
    none = count <= 0
    return (np.where(none, 0.0, np.where(infinite, INF, new_mean)),
            np.where(none, 0.0, np.where(infinite, INF, new_var)))


_ERF = np.frompyfunc(math.erf, 1, 1)


def _clark(m1: Floats, v1: Floats, m2: Floats, v2: Floats) -> tuple[Floats, Floats]:
    """Clark's approximation of the maximum of two independent times (normal moments)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a = np.sqrt(v1 + v2)
        tight = a < 1e-12
        safe = np.where(tight | ~np.isfinite(a), 1.0, a)
        alpha = (m1 - m2) / safe
        alpha = np.where(np.isfinite(alpha), alpha, 0.0)
        cdf = 0.5 * (1 + np.asarray(_ERF(alpha / math.sqrt(2)), dtype=float))
        pdf = np.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
        mean = m1 * cdf + m2 * (1 - cdf) + safe * pdf
        second = ((m1 ** 2 + v1) * cdf + (m2 ** 2 + v2) * (1 - cdf) + (m1 + m2) * safe * pdf)
        var = np.maximum(second - mean * mean, 0.0)
    first_wins = m1 >= m2
    mean = np.where(tight, np.where(first_wins, m1, m2), mean)
    var = np.where(tight, np.where(first_wins, v1, v2), var)
    infinite = np.isinf(m1) | np.isinf(m2)
    return np.where(infinite, INF, mean), np.where(infinite, INF, var)


SAME_INPUTS = 1e-9
"""Inputs of a held station's solution (arrivals, time inside, demands) that moved by no
more than this share since the last round are the same: its solution is kept."""


def _moved(new: Floats, old: Floats, rel: float = 1e-4) -> bool:
    """Whether any of ``new`` differs from ``old`` by more than ``rel`` of it (:data:`SETTLED`
    by default: a change no percentile shows is none)."""
    return not _close(new, old, rel)


def _close(a: Floats, b: Floats, rel: float = 1e-7) -> bool:
    both_inf = np.isinf(a) & np.isinf(b)
    with np.errstate(invalid="ignore"):
        near = np.abs(a - b) <= 1e-9 + rel * np.abs(b)
    return bool(np.all(both_inf | (near & np.isfinite(a) & np.isfinite(b))))


@dataclass
class Solution:
    """A design solved at one load: rates, station states, time moments, retry facts."""

    program: Program
    scale: float
    trial: Trials
    flows: Flows
    composers: dict[int, object] = field(default_factory=dict)  # latency grids, by size
    lower_means: dict[int, float] = field(default_factory=dict)  # by endpoint

    @functools.cached_property
    def endpoint_rate(self) -> list[float]:
        """Requests per ms of every endpoint."""
        with np.errstate(over="ignore"):  # a rate beyond a double is infinite: saturated
            return (self.flows.endpoint_rate * self.scale).tolist()  # type: ignore[no-any-return]

    @functools.cached_property
    def stations(self) -> list[StationState]:
        """Every station's state."""
        t = self.trial
        columns = [a[:, 0].tolist() for a in (t.arrival, t.service, t.scv, t.p_wait, t.wait,
                                               t.utilization)]
        return [StationState(*row) for row in zip(*columns, strict=True)]

    @functools.cached_property
    def endpoint_moments(self) -> list[Moments]:
        """Mean and variance of every endpoint's time (``inf`` when saturated)."""
        return [Moments(m, v) for m, v in zip(self.trial.endpoint_mean[:, 0].tolist(),
                                              self.trial.endpoint_var[:, 0].tolist(),
                                              strict=True)]

    @functools.cached_property
    def external_rate(self) -> dict[str, float]:
        """Attempts per ms at every third party."""
        return {k: v * self.scale for k, v in self.flows.external_rate.items()}

    @property
    def external_attempts(self) -> dict[ExternalCall, Attempts]:
        """The retry arithmetic of every third-party call, by its node."""
        return tape_of(self.program).traffic.attempts

    @functools.cached_property
    def retried(self) -> list[Retried]:
        """Every retried call: the node, its rate per ms, the held stations around it and
        the calling endpoint."""
        return [r._replace(rate=r.rate * self.scale) for r in self.flows.retried]

    @property
    def iterations(self) -> int:
        """Rounds of the fixed-point iteration (1 unless holds nest in a cycle)."""
        return self.trial.rounds

    def saturated(self) -> bool:
        """Some station is saturated."""
        return bool(self.trial.saturated[0])


def solve(program: Program, workload: dict[str, float], scale: float = 1.0,
          max_rounds: int = 100) -> Solution:
    """Solve ``program`` under ``workload`` (rps per endpoint reference) × ``scale``.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> d = dk.Design(name="mm1")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=1000)
        >>> s = solve(compile_design(d), {"api GET /x": 0.75})
        >>> s.stations[0].utilization, s.endpoint_moments[0].mean
        (0.75, 4000.0)
    """
    trial = trials(program, workload, [scale], max_rounds)
    return Solution(program, scale, trial, flows_of(program, workload))
