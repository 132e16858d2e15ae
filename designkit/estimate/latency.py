"""Latency distributions of endpoints, composed on a grid from a solved design.

Each endpoint gets a grid wide enough for its time (from the solved mean and variance);
waits are exact for M/M/c stations and Allen–Cunneen otherwise; sequences convolve,
parallel branches take the maximum, cache hits and misses mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from designkit.estimate.distributions import Dist, Grid
from designkit.estimate.external import call_dist
from designkit.estimate.program import (
    CacheRead,
    Delay,
    ExternalCall,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Publish,
    Seq,
    Visit,
)
from designkit.estimate.solve import Solution
from designkit.estimate.times import Spec

__all__ = ["Latency", "endpoint_latency"]


@dataclass(frozen=True)
class Latency:
    """An endpoint's time in ms: mean and percentiles; all ``inf`` when saturated."""

    mean: float
    p50: float
    p95: float
    p99: float
    dist: Dist | None = None

    @property
    def saturated(self) -> bool:
        return math.isinf(self.mean)


SATURATED = Latency(math.inf, math.inf, math.inf, math.inf)


def endpoint_latency(solution: Solution, index: int, size: int = 2048) -> Latency:
    """The latency distribution of endpoint ``index`` and its mean, p50, p95 and p99."""
    moments = solution.endpoint_moments[index]
    if moments.infinite:
        return SATURATED
    horizon = max(moments.mean + 12.0 * math.sqrt(moments.var), 3.0 * moments.mean, 1e-3)
    horizon = 2.0 ** math.ceil(math.log2(horizon))  # shared grids: shared work
    for _ in range(5):
        grid = Grid.covering(horizon, size)
        composer = solution.cache.get(grid)
        if not isinstance(composer, _Composer):
            composer = solution.cache[grid] = _Composer(solution, grid)
        dist = composer.endpoint(index)
        if dist.tail <= 1e-4:
            return Latency(dist.mean(), dist.quantile(0.5), dist.quantile(0.95),
                           dist.quantile(0.99), dist)
        horizon *= 4.0
    return Latency(dist.mean(), dist.quantile(0.5), dist.quantile(0.95), dist.quantile(0.99),
                   dist)


class _Composer:
    def __init__(self, solution: Solution, grid: Grid) -> None:
        self.solution = solution
        self.grid = grid
        self.memo: dict[int, Dist] = {}
        self.waits: dict[int, Dist] = {}
        self.times: dict[Spec, Dist] = {}

    def wait(self, station: int) -> Dist:
        if station not in self.waits:
            state = self.solution.stations[station]
            self.waits[station] = self.grid.waiting(state.p_wait, state.wait)
        return self.waits[station]

    def time(self, spec: Spec) -> Dist:
        if spec not in self.times:
            self.times[spec] = spec.dist(self.grid)
        return self.times[spec]

    def endpoint(self, index: int) -> Dist:
        if index not in self.memo:
            ep = self.solution.program.endpoints[index]
            self.memo[index] = self.wait(ep.workers) + self.time(ep.cpu) + self.dist(
                ep.steps)
        return self.memo[index]

    def dist(self, node: Node) -> Dist:
        grid = self.grid
        if isinstance(node, Seq):
            if not node.items:
                return grid.zero()
            total = self.dist(node.items[0])
            for item in node.items[1:]:
                total = total + self.dist(item)
            return total
        if isinstance(node, Delay):
            return self.time(node.time)
        if isinstance(node, Visit):
            return (self.wait(node.station) + self.time(node.time)).repeat(node.count)
        if isinstance(node, Hold):
            return self.wait(node.station) + self.dist(node.body) + self.time(node.extra)
        if isinstance(node, Invoke):
            return self.endpoint(node.endpoint).repeat(node.count)
        if isinstance(node, ExternalCall):
            wait = self.wait(node.station) if node.station is not None else None
            return call_dist(node, grid, wait).repeat(node.count)
        if isinstance(node, Publish):
            return self.dist(node.visit).repeat(node.count)
        if isinstance(node, Par):
            return Dist.maximum([self.dist(b) for b in node.branches])
        if isinstance(node, Loop):
            return self.dist(node.body).repeat(node.count)
        assert isinstance(node, CacheRead)
        return self.dist(node.visit) + Dist.mixture(
            [(node.hit, grid.zero()), (1.0 - node.hit, self.dist(node.miss))])
