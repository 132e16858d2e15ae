"""Solve a compiled design at one load: arrival rates, station queues, holding times.

One topological pass gives every endpoint's rate and every station's arrivals. Stations
that wrap other work (workers of blocking services, pools, locks) have a service time that
is the time of what they wrap, which depends on the queues inside: a fixed-point iteration
solves those bottom-up (it converges in as many rounds as holds are nested). Times are
carried as (mean, variance); waits use Erlang C with the Allen–Cunneen correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from designkit.estimate.distributions import Grid
from designkit.estimate.external import Attempts, attempts, call_dist, horizon
from designkit.estimate.program import (
    CacheRead,
    Delay,
    EndpointProgram,
    ExternalCall,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Program,
    Publish,
    Seq,
    Visit,
)
from designkit.estimate.queueing import erlang_c

__all__ = ["Moments", "Solution", "StationState", "solve"]

INF = math.inf


@dataclass(frozen=True)
class Moments:
    """Mean and variance of a time (ms); infinite when a station on the way saturates."""

    mean: float
    var: float = 0.0

    @property
    def infinite(self) -> bool:
        return math.isinf(self.mean)

    def __add__(self, other: Moments) -> Moments:
        if self.infinite or other.infinite:
            return NEVER
        return Moments(self.mean + other.mean, self.var + other.var)

    def repeat(self, count: float) -> Moments:
        """Sum of ``count`` independent copies (fractional: a mix of ⌊n⌋ and ⌈n⌉)."""
        if count <= 0:
            return ZERO
        if self.infinite:
            return NEVER
        k = math.floor(count)
        f = count - k
        m, v = self.mean, self.var
        second = (1 - f) * (k * v + (k * m) ** 2) + f * ((k + 1) * v + ((k + 1) * m) ** 2)
        mean = count * m
        return Moments(mean, max(second - mean * mean, 0.0))

    @staticmethod
    def mix(parts: list[tuple[float, Moments]]) -> Moments:
        total = sum(w for w, _ in parts if w > 0)
        if total <= 0:
            return ZERO
        if any(w > 0 and p.infinite for w, p in parts):
            return NEVER
        mean = sum(w * p.mean for w, p in parts) / total
        second = sum(w * (p.var + p.mean ** 2) for w, p in parts) / total
        return Moments(mean, max(second - mean * mean, 0.0))

    @staticmethod
    def maximum(parts: list[Moments]) -> Moments:
        """Clark's approximation of the maximum of independent times (normal moments)."""
        if not parts:
            return ZERO
        if any(p.infinite for p in parts):
            return NEVER
        out = parts[0]
        for other in parts[1:]:
            a = math.sqrt(out.var + other.var)
            if a < 1e-12:
                out = out if out.mean >= other.mean else other
                continue
            alpha = (out.mean - other.mean) / a
            cdf = 0.5 * (1 + math.erf(alpha / math.sqrt(2)))
            pdf = math.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
            mean = out.mean * cdf + other.mean * (1 - cdf) + a * pdf
            second = ((out.mean ** 2 + out.var) * cdf + (other.mean ** 2 + other.var) * (1 - cdf)
                      + (out.mean + other.mean) * a * pdf)
            out = Moments(mean, max(second - mean * mean, 0.0))
        return out


ZERO = Moments(0.0, 0.0)
NEVER = Moments(INF, INF)


@dataclass
class StationState:
    """A station's load and queue at one solution.

    Attributes:
        arrival: Arrivals per ms (all copies together).
        service: Mean service (holding) time, ms.
        scv: Squared coefficient of variation of the service time.
        p_wait: Probability an arrival waits (Erlang C).
        wait: Mean wait in queue, ms (``inf`` when saturated).
    """

    arrival: float = 0.0
    first: float = 0.0  # sum of rate × mean
    second: float = 0.0  # sum of rate × E[S²]
    service: float = 0.0
    scv: float = 1.0
    p_wait: float = 0.0
    wait: float = 0.0
    utilization: float = 0.0
    holders: list[tuple[float, Node | EndpointProgram]] = field(default_factory=list)

    @property
    def saturated(self) -> bool:
        return self.utilization >= 1.0 or math.isinf(self.wait)

    def wait_moments(self) -> Moments:
        if math.isinf(self.wait):
            return NEVER
        if self.p_wait <= 0 or self.wait <= 0:
            return ZERO
        second = 2.0 * self.wait * self.wait / self.p_wait
        return Moments(self.wait, max(second - self.wait ** 2, 0.0))


@dataclass
class Solution:
    """A design solved at one load: rates, station states, time moments, retry facts."""

    program: Program
    scale: float
    endpoint_rate: list[float]
    stations: list[StationState]
    endpoint_moments: list[Moments]
    external_rate: dict[str, float]
    external_attempts: dict[int, Attempts]
    iterations: int
    retried: list[tuple[ExternalCall | Invoke, float, tuple[int, ...], int]]
    cache: dict[object, object] = field(default_factory=dict)

    def saturated(self) -> bool:
        """Some station is saturated."""
        return any(s.saturated for s in self.stations)


def solve(program: Program, workload: dict[str, float], scale: float = 1.0,
          max_rounds: int = 100) -> Solution:
    """Solve ``program`` under ``workload`` (rps per endpoint reference) × ``scale``."""
    solver = _Solver(program, workload, scale)
    rounds = solver.run(max_rounds)
    return Solution(program, scale, solver.rate, solver.states,
                    [solver.endpoint(i) for i in range(len(program.endpoints))],
                    solver.external_rate, solver.attempts, rounds, solver.retried)


class _Solver:
    def __init__(self, program: Program, workload: dict[str, float], scale: float) -> None:
        self.program = program
        self.workload = workload
        self.scale = scale
        self.rate = [0.0] * len(program.endpoints)
        for key, rps in workload.items():
            self.rate[program.index[key]] += rps * scale / 1000.0  # per ms
        self.states = [StationState() for _ in program.stations]
        self.external_rate: dict[str, float] = {}
        self.attempts: dict[int, Attempts] = {}
        self.external_moments: dict[int, Moments] = {}
        self.memo: dict[int, Moments] = {}
        self.caller = -1
        self.retried: list[tuple[ExternalCall | Invoke, float, tuple[int, ...], int]] = []

    # -- traffic -------------------------------------------------------------------------

    def flows(self) -> None:
        """Rates everywhere, by one pass over the endpoints, callers first."""
        for i in self.program.order:
            ep = self.program.endpoints[i]
            self.caller = i
            if self.rate[i] > 0:
                self.states[ep.workers].holders.append((self.rate[i], ep))
                self.traffic(ep.steps, self.rate[i], (ep.workers,) if ep.blocking else ())

    def scaled_flows(self) -> None:
        """The flows of the unit workload (computed once per program), times the scale:
        every rate is linear in the load."""
        key = ("flows", tuple(sorted(self.workload.items())))
        base = self.program.cache.get(key)
        if not isinstance(base, _Solver):
            base = _Solver(self.program, self.workload, 1.0)
            base.flows()
            self.program.cache[key] = base
        s = self.scale
        self.rate = [r * s for r in base.rate]
        for state, unit in zip(self.states, base.states, strict=True):
            state.arrival, state.first, state.second = (unit.arrival * s, unit.first * s,
                                                        unit.second * s)
            state.holders = [(m * s, h) for m, h in unit.holders]
        self.external_rate = {k: v * s for k, v in base.external_rate.items()}
        self.retried = [(n, r * s, h, c) for n, r, h, c in base.retried]
        self.attempts = base.attempts

    def run(self, max_rounds: int) -> int:
        self.scaled_flows()
        for state, station in zip(self.states, self.program.stations, strict=True):
            if not station.held:
                self.queue(state, station.servers, station.copies)
        order = held_order(self.program)
        if order is not None:  # holds nest without cycles: one pass, innermost first
            for index in order:
                station = self.program.stations[index]
                self.hold(self.states[index])
                self.queue(self.states[index], station.servers, station.copies)
            return 1
        previous: list[float] = []
        for rounds in range(1, max_rounds + 1):
            self.memo.clear()
            for state, station in zip(self.states, self.program.stations, strict=True):
                if station.held:
                    self.hold(state)
                    self.queue(state, station.servers, station.copies)
            current = [s.wait for s in self.states]
            if previous and all(_close(a, b) for a, b in zip(current, previous, strict=True)):
                return rounds
            previous = current
        return max_rounds

    def traffic(self, node: Node, m: float, held: tuple[int, ...]) -> None:
        """Add the load of ``m`` executions per ms of ``node``; ``held`` are the stations
        held around it."""
        if m <= 0:
            return
        if isinstance(node, Seq):
            for item in node.items:
                self.traffic(item, m, held)
        elif isinstance(node, Visit):
            self.visit(node, m)
        elif isinstance(node, Hold):
            self.states[node.station].holders.append((m, node))
            self.traffic(node.body, m, (*held, node.station))
        elif isinstance(node, Invoke):
            self.rate[node.endpoint] += m * node.count
            if node.retries is not None and node.retries.max > 0:
                self.retried.append((node, m * node.count, held, self.caller))
        elif isinstance(node, ExternalCall):
            info = self.attempt_info(node)
            if node.retries is not None and node.retries.max > 0:
                self.retried.append((node, m * node.count, held, self.caller))
            calls = m * node.count * info.expected
            self.external_rate[node.component] = self.external_rate.get(node.component, 0.0) \
                + calls
            if node.station is not None:
                state = self.states[node.station]
                one = node.latency
                state.arrival += calls
                state.first += calls * one.mean
                state.second += calls * (one.var + one.mean ** 2)
        elif isinstance(node, Publish):
            self.visit(node.visit, m * node.count)
            if node.handler is not None:
                self.rate[node.handler] += m * node.count
        elif isinstance(node, Par):
            for branch in node.branches:
                self.traffic(branch, m, held)
        elif isinstance(node, Loop):
            self.traffic(node.body, m * node.count, held)
        elif isinstance(node, CacheRead):
            self.visit(node.visit, m)
            self.traffic(node.miss, m * (1.0 - node.hit), held)

    def visit(self, node: Visit, m: float) -> None:
        state = self.states[node.station]
        rate = m * node.count
        state.arrival += rate
        state.first += rate * node.time.mean
        state.second += rate * (node.time.var + node.time.mean ** 2)

    def attempt_info(self, node: ExternalCall) -> Attempts:
        key = id(node)
        if key not in self.attempts:
            cached = self.program.cache.get(("attempts", key))
            if not isinstance(cached, Attempts):
                cached = self.program.cache[("attempts", key)] = attempts(node)
            self.attempts[key] = cached
        return self.attempts[key]

    # -- queues --------------------------------------------------------------------------

    def queue(self, state: StationState, servers: int, copies: int) -> None:
        """Erlang C wait with the Allen–Cunneen correction, per copy."""
        if state.arrival <= 0:
            state.service = state.first / state.arrival if state.arrival > 0 else 0.0
            state.utilization, state.p_wait, state.wait = 0.0, 0.0, 0.0
            return
        mean = state.first / state.arrival
        state.service = mean
        if math.isinf(mean):
            state.utilization, state.p_wait, state.wait = INF, 1.0, INF
            return
        second = state.second / state.arrival
        state.scv = max(second / (mean * mean) - 1.0, 0.0) if mean > 0 else 0.0
        lam = state.arrival / copies
        load = lam * mean
        state.utilization = load / servers
        if state.utilization >= 1.0 or (mean > 0 and servers / mean - lam <= 0):
            state.p_wait, state.wait = 1.0, INF
            return
        if mean <= 0:
            state.p_wait, state.wait = 0.0, 0.0
            return
        c_wait = float(erlang_c(servers, load))
        state.p_wait = c_wait
        state.wait = c_wait / (servers / mean - lam) * (1.0 + state.scv) / 2.0

    def hold(self, state: StationState) -> None:
        """Holding time of a held station: the rate-weighted time of what it wraps."""
        arrival = first = second = 0.0
        for m, holder in state.holders:
            moments = self.holding(holder)
            arrival += m
            if moments.infinite:
                first = second = INF
                continue
            first += m * moments.mean
            second += m * (moments.var + moments.mean ** 2)
        state.arrival, state.first, state.second = arrival, first, second

    def holding(self, holder: Node | EndpointProgram) -> Moments:
        if isinstance(holder, EndpointProgram):
            own = Moments(holder.cpu.mean, holder.cpu.var)
            return own + self.moments(holder.steps) if holder.blocking else own
        assert isinstance(holder, Hold)
        return self.moments(holder.body) + Moments(holder.extra.mean, holder.extra.var)

    # -- times ---------------------------------------------------------------------------

    def endpoint(self, i: int) -> Moments:
        key = -1 - i  # node ids are positive
        if key not in self.memo:
            ep = self.program.endpoints[i]
            wait = self.states[ep.workers].wait_moments()
            own = Moments(ep.cpu.mean, ep.cpu.var)
            self.memo[key] = wait + own + self.moments(ep.steps)
        return self.memo[key]

    def moments(self, node: Node) -> Moments:
        """Mean and variance of ``node``'s time with the current waits (memoized per pass)."""
        key = id(node)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self._moments(node)
        return found

    def _moments(self, node: Node) -> Moments:
        if isinstance(node, Seq):
            total = ZERO
            for item in node.items:
                total = total + self.moments(item)
            return total
        if isinstance(node, Delay):
            return Moments(node.time.mean, node.time.var)
        if isinstance(node, Visit):
            one = self.states[node.station].wait_moments() + Moments(node.time.mean,
                                                                     node.time.var)
            return one.repeat(node.count)
        if isinstance(node, Hold):
            return (self.states[node.station].wait_moments() + self.moments(node.body)
                    + Moments(node.extra.mean, node.extra.var))
        if isinstance(node, Invoke):
            return self.endpoint(node.endpoint).repeat(node.count)
        if isinstance(node, ExternalCall):
            return self.external(node).repeat(node.count)
        if isinstance(node, Publish):
            return self.moments(node.visit).repeat(node.count)
        if isinstance(node, Par):
            return Moments.maximum([self.moments(b) for b in node.branches])
        if isinstance(node, Loop):
            return self.moments(node.body).repeat(node.count)
        assert isinstance(node, CacheRead)
        return self.moments(node.visit) + Moments.mix(
            [(node.hit, ZERO), (1.0 - node.hit, self.moments(node.miss))])

    def external(self, node: ExternalCall) -> Moments:
        key = id(node)
        wait = (self.states[node.station].wait_moments() if node.station is not None
                else ZERO)
        if wait.infinite:
            return NEVER
        cached = self.program.cache.get(("moments", key))
        if isinstance(cached, Moments):
            self.external_moments[key] = cached
        if key not in self.external_moments:
            grid = Grid.covering(horizon(node), 4096)
            dist = call_dist(node, grid)
            mean = dist.mean()
            x = np.arange(grid.size) * grid.step
            var = float(np.dot((x - mean) ** 2, dist.pmf))
            self.external_moments[key] = Moments(mean, var)
            self.program.cache[("moments", key)] = self.external_moments[key]
        base = self.external_moments[key]
        info = self.attempt_info(node)
        if node.station is None or info.breaker_open:
            return base
        return base + wait.repeat(info.expected)


def held_order(program: Program) -> list[int] | None:
    """Held stations ordered so that every station comes after those held inside it;
    ``None`` when holds nest in a cycle (a lock-order inversion), which needs iteration."""
    key = "held_order"
    if key in program.cache:
        cached = program.cache[key]
        return None if cached is None else list(cached)  # type: ignore[call-overload]
    import networkx as nx

    from designkit.estimate.program import walk

    inner_memo: dict[int, set[int]] = {}

    def inner(node: Node) -> set[int]:
        """Stations used while ``node`` runs (invoked endpoints included)."""
        if id(node) in inner_memo:
            return inner_memo[id(node)]
        found: set[int] = set()
        inner_memo[id(node)] = found
        for sub in walk(node):
            station = sub.station if isinstance(sub, Visit | Hold | ExternalCall) else None
            if station is not None:
                found.add(station)
            elif isinstance(sub, Invoke):
                ep = program.endpoints[sub.endpoint]
                found.add(ep.workers)
                found |= inner(ep.steps)
        return found

    graph = nx.DiGraph()
    held = [i for i, s in enumerate(program.stations) if s.held]
    graph.add_nodes_from(held)
    for ep in program.endpoints:
        holders: list[tuple[int, Node]] = [(ep.workers, ep.steps)] if ep.blocking else []
        holders += [(n.station, n.body) for n in walk(ep.steps) if isinstance(n, Hold)]
        for outer, body in holders:
            for station in inner(body):
                if program.stations[station].held:
                    graph.add_edge(station, outer)
    try:
        order: list[int] | None = list(nx.topological_sort(graph))
    except nx.NetworkXUnfeasible:
        order = None
    program.cache[key] = order
    return order


def _close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return math.isinf(a) and math.isinf(b)
    return abs(a - b) <= 1e-9 + 1e-7 * abs(b)
