"""Where a workload's traffic goes, and which held stations bound which stations.

Rates are linear in the load, so the traffic of the unit workload is computed once (one
pass over the call graph, callers first) and scaled by the solver. A held station (a
blocking worker pool, a connection pool, a lock) bounds what is only ever reached while
it is kept: no more requests than its servers are ever inside. This module finds, per
station, that bound and the held stations that set it, and sorts them into what the
solver treats alike: *groups* (a held station and the stations it alone bounds, solved
together as a flow-equivalent server), *sources* (stations several held stations bound)
and *wrapped* stations (a held station whose queue is theirs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.held import Patches
from designkit.estimate.program import Program
from designkit.estimate.tape import Traffic, tape_of
from designkit.flow.nodes import ExternalCall, Invoke

__all__ = ["MAX_HELD_POPULATION", "Bounds", "Flows", "Retried", "Sources", "Wrapping",
           "flows_of"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


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
    visit_by: list[int]  # per visit record, the held station that bounds it (-1: none)
    holder_by: list[int]  # per holder record, the same


class Sources(NamedTuple):
    """Stations bounded by several held stations (``stations``), and per station (a row)
    those held stations' servers (``bounds``) and the share of its visits each bounds
    (``share``; rows padded with shares of 0)."""

    stations: NDArray[np.int64]
    bounds: Floats
    share: Floats
    holders: NDArray[np.int64]  # per row, the held stations of ``bounds`` (-1: padding)


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
    patches: Patches | None = None  # per group: how its holds read its waits
    visit_by: Ints | None = None  # per visit record, the held station bounding it (-1)
    holder_by: Ints | None = None  # per holder record, the same
    # per single-server station whose queue is its own, what its service is made of, at
    # scale 1 (latency's composer: made when first composed)
    single_servers: dict[int, list[tuple[NDArray[np.float64], object]]] | None = None


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
    most = bound.tolist()  # plain floats: read per station below
    overlapped = _overlapped(program, traffic, rate, most, chosen)
    groups, own = _groups(program, most, chosen, overlapped, bounds.depth)
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
        sources=_sources(program, bounds, most, overlapped),
        visit_by=np.array(bounds.visit_by, dtype=np.int64),
        holder_by=np.array(bounds.holder_by, dtype=np.int64),
    )
    held_rate = _per_station(traffic.holder_station, flows.holder_rate, n)
    flows.patches = Patches(tape_of(program), groups, flows.holder_rate,
                            flows.arrival + held_rate)
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

    def bind(station: int, endpoint: int, held: tuple[int, ...], visits: float) -> int:
        around = entry[endpoint]
        chosen = by[station]
        if around is None or chosen is None:
            return -1
        enclosing = around.union(held) - {station}
        if not enclosing:
            by[station] = None
            return -1
        h = min(enclosing, key=lambda h: (servers[h], -depth[h], h))
        chosen.add(h)
        share[station][h] = share[station].get(h, 0.0) + visits
        return h

    places = [(traffic.visit_station, traffic.visit_endpoint, traffic.visit_mult,
               traffic.visit_held),  # visits to stations, and holds of held ones
              (traffic.holder_station, traffic.holder_endpoint, traffic.holder_mult,
               traffic.holder_held)]
    chosen_by: list[list[int]] = [[], []]
    for (where, endpoints, mults, helds), found in zip(places, chosen_by, strict=True):
        for station, endpoint, mult, held in zip(where.tolist(), endpoints.tolist(),
                                                 mults.tolist(), helds, strict=True):
            found.append(bind(station, endpoint, held, rate[endpoint] * mult)
                         if mult > 0 and rate[endpoint] > 0 else -1)
    replica = [s.replicas_of for s in stations]
    per_copy = [s.servers for s in stations]

    def most(p: int, chosen: set[int] | None) -> float:
        if chosen is None or not chosen:
            return math.inf
        own = replica[p]
        if own is not None and all(replica[h] == own for h in chosen):
            # each replica's own copy, bounded by that replica's holders
            return float(sum(per_copy[h] for h in chosen))
        return float(sum(servers[h] for h in chosen))

    bound = np.array([most(p, chosen) for p, chosen in enumerate(by)])
    return Bounds(bound, by, depth, share, *chosen_by)


def _overlapped(program: Program, traffic: Traffic, rate: list[float],
                bound: list[float], chosen: list[set[int] | None]
                ) -> dict[int, tuple[int, ...]]:
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


MAX_HELD_POPULATION = 2048
"""A held station with more servers than this is not solved with what it bounds: its
queue would form only in the last sliver of load before what it wraps saturates."""


def _groups(program: Program, bound: list[float], chosen: list[set[int] | None],
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


def _sources(program: Program, bounds: Bounds, bound: list[float],
             overlapped: dict[int, tuple[int, ...]]) -> Sources:
    """Stations that can queue but are reached only while one of several held stations
    is kept (a cache inside two locks): no more of each one's requests than its servers
    are ever there (:func:`~designkit.maths.closed.bounded_classes_wait`)."""
    stations = program.stations
    found = [p for p, by in enumerate(bounds.chosen)
             if by is not None and len(by) > 1 and p not in overlapped
             and stations[p].servers < bound[p] <= MAX_HELD_POPULATION]
    width = max((len(bounds.chosen[p] or ()) for p in found), default=0)
    servers = [[1.0] * width for _ in found]
    share = [[0.0] * width for _ in found]
    held = [[-1] * width for _ in found]
    for row, p in enumerate(found):
        holders = sorted(bounds.chosen[p] or ())
        rates = [bounds.share[p].get(h, 0.0) for h in holders]
        total = sum(rates)
        for i, h in enumerate(holders):
            servers[row][i] = float(stations[h].servers * stations[h].copies)
            share[row][i] = rates[i] / total
            held[row][i] = h
    shape = (len(found), width)
    return Sources(np.array(found, dtype=np.int64),
                   np.array(servers, dtype=float).reshape(shape),
                   np.array(share, dtype=float).reshape(shape),
                   np.array(held, dtype=np.int64).reshape(shape))


def _per_station(stations: NDArray[np.int64], values: Floats, n: int) -> Floats:
    return np.bincount(stations, values, minlength=n).astype(float)
