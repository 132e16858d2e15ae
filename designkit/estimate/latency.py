"""Latency distributions of endpoints, composed on a grid from a solved design.

Each endpoint gets a grid wide enough for its time (from the solved mean and variance),
is composed there once, and is rebinned onto its callers' coarser grids. Waits are exact
for M/M/c stations and Allen–Cunneen otherwise; sequences convolve, parallel branches take
the maximum, cache hits and misses mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from designkit.estimate.distributions import Dist, Grid
from designkit.estimate.external import call_dist, settings
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
    composer = solution.cache.get(("latency", size))
    if not isinstance(composer, _Composer):
        composer = solution.cache[("latency", size)] = _Composer(solution, size)
    dist = composer.own(index)
    if dist is None:
        return SATURATED
    return Latency(dist.mean(), dist.quantile(0.5), dist.quantile(0.95), dist.quantile(0.99),
                   dist)


class _Composer:
    """Every endpoint's distribution on its own grid, composed once.

    An endpoint's grid is wide enough for its time (from the solved mean and variance) and
    a power of two wide, so that grids are shared; a caller's grid is usually coarser than
    its callee's, and then the callee's distribution is rebinned onto it rather than
    composed again.
    """

    def __init__(self, solution: Solution, size: int) -> None:
        self.solution = solution
        self.size = size
        self.dists: dict[int, Dist | None] = {}
        self.grids: dict[Grid, _GridComposer] = {}
        self.p_wait: list[float] = solution.trial.p_wait[:, 0].tolist()
        self.wait: list[float] = solution.trial.wait[:, 0].tolist()

    def on(self, grid: Grid) -> _GridComposer:
        if grid not in self.grids:
            self.grids[grid] = _GridComposer(self, grid)
        return self.grids[grid]

    def own(self, index: int) -> Dist | None:
        """Endpoint ``index`` on its own grid; ``None`` when saturated."""
        if index in self.dists:
            return self.dists[index]
        moments = self.solution.endpoint_moments[index]
        dist: Dist | None = None
        if not moments.infinite:
            horizon = max(moments.mean + 12.0 * math.sqrt(moments.var), 3.0 * moments.mean,
                          1e-3)
            horizon = 2.0 ** math.ceil(math.log2(horizon))  # shared grids: shared work
            for _ in range(5):
                dist = self.on(Grid.covering(horizon, self.size)).endpoint(index)
                if dist.tail <= 1e-4:
                    break
                horizon *= 4.0
        self.dists[index] = dist
        return dist

    def callee(self, index: int, grid: Grid) -> Dist:
        """Endpoint ``index`` on a caller's ``grid``: its own distribution rebinned when its
        grid is finer by a power of two, else composed on ``grid``."""
        if self.solution.endpoint_moments[index].infinite:
            return grid.never()
        own = self.own(index)
        if own is not None and own.grid.size == grid.size:
            ratio = grid.step / own.grid.step
            whole = round(ratio)
            if whole >= 1 and abs(ratio - whole) < 1e-9 and whole & (whole - 1) == 0:
                return own if whole == 1 else _rebin(own, grid, whole)
        return self.on(grid).endpoint(index)


def _rebin(dist: Dist, grid: Grid, ratio: int) -> Dist:
    """``dist`` on ``grid``, whose cells are ``ratio`` (an even number) of its cells wide.

    Each fine cell's mass is taken as uniform over the cell: a fine cell on the border of
    two coarse cells gives half to each. The trace beyond the fine grid (at most 10⁻⁴: the
    grid was chosen so) is left out, as :meth:`Dist.mean` does, so that it does not add up
    over a chain of calls.
    """
    pmf = dist.pmf
    # half-cells [i - 1/2, i) and [i, i + 1/2), each with half of fine cell i
    halves = np.repeat(pmf / (2.0 * max(float(pmf.sum()), 1e-300)), 2)
    # coarse cell j spans fine [(j - 1/2) r, (j + 1/2) r): half-cells [2jr - r + 1, 2jr + r + 1)
    padded = np.concatenate([np.zeros(ratio - 1), halves])
    width = 2 * ratio
    cells = -(-len(padded) // width)
    padded = np.concatenate([padded, np.zeros(cells * width - len(padded))])
    coarse = padded.reshape(cells, width).sum(axis=1)
    pmf = np.zeros(grid.size)
    pmf[:min(cells, grid.size)] = coarse[:grid.size]
    return Dist(grid, pmf)


class _GridComposer:
    def __init__(self, parent: _Composer, grid: Grid) -> None:
        self.parent = parent
        self.solution = parent.solution
        self.grid = grid
        self.memo: dict[int, Dist] = {}
        self.waits: dict[int, Dist] = {}
        self.times: dict[Spec, Dist] = {}
        self.calls: dict[tuple[object, ...], Dist] = {}

    def wait(self, station: int) -> Dist:
        found = self.waits.get(station)
        if found is None:
            found = self.waits[station] = self.grid.waiting(self.parent.p_wait[station],
                                                            self.parent.wait[station])
        return found

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

    def call(self, node: ExternalCall) -> Dist:
        key = (settings(node), node.station)
        if key not in self.calls:
            wait = self.wait(node.station) if node.station is not None else None
            self.calls[key] = call_dist(node, self.grid, wait)
        return self.calls[key]

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
            return self.parent.callee(node.endpoint, grid).repeat(node.count)
        if isinstance(node, ExternalCall):
            return self.call(node).repeat(node.count)
        if isinstance(node, Publish):
            return self.dist(node.visit).repeat(node.count)
        if isinstance(node, Par):
            return Dist.maximum([self.dist(b) for b in node.branches])
        if isinstance(node, Loop):
            return self.dist(node.body).repeat(node.count)
        assert isinstance(node, CacheRead)
        return self.dist(node.visit) + Dist.mixture(
            [(node.hit, grid.zero()), (1.0 - node.hit, self.dist(node.miss))])
