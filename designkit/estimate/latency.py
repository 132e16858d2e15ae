"""Latency distributions of endpoints, composed on a grid from a solved design.

Each endpoint gets a grid wide enough for its time (from the solved mean and variance),
is composed there once, and is rebinned onto its callers' coarser grids. Waits are exact
for M/M/c stations and Allen–Cunneen otherwise; sequences convolve, parallel branches take
the maximum, cache hits and misses mix.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple, assert_never

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.errors import errors_of, failing_share, node_errors
from designkit.estimate.external import call_dist, call_moments, settings
from designkit.estimate.flows import Flows
from designkit.estimate.program import KEPT_CELLS, Program
from designkit.estimate.solve import Solution
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    ExternalCall,
    Fallback,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Publish,
    Seq,
    Visit,
    walk,
)
from designkit.flow.times import Exponential, Spec
from designkit.maths.distributions import Dist, Grid

__all__ = ["Latency", "callees", "endpoint_latency", "forked_paths", "released",
           "success_latency"]


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


PERCENTILES = (0.5, 0.95, 0.99)
"""What :class:`Latency` reads of a distribution: p50, p95, p99."""

KEPT_WAITS = 64
"""Waits kept per grid, the most recently used: recomputing one gives the same numbers."""

SATURATED = Latency(math.inf, math.inf, math.inf, math.inf)

MEDIAN_CELLS = 32
"""Cells an endpoint's grid must have below its median: a long tail (a third party's
lognormal, say) can stretch the grid until the body of the distribution spans a few cells,
and the median is then read coarsely; such an endpoint is composed again on finer cells."""
MAX_CELLS = 32768
HEAVY_TAIL = 1e-3
"""Mass an endpoint's grid may leave beyond its end when a rare, huge delay would otherwise
make its cells too coarse for the median."""
HEAVY_CELLS = 131072
"""Cells an endpoint's grid may have when its tail is that heavy."""
SPREAD = 0.005
"""How much wider than the solution's variance an endpoint's composed distribution may be
before it is composed again on finer cells: a step shorter than half a cell cannot keep
its variance on the cells (``Grid.exponential``), and a thousand such steps in a row
(a long chain of short calls) would widen the tail by a percent or two."""
MEAN_KEPT = 0.01
"""How far (in standard deviations) an endpoint's composed mean may be from the solution's
when finer cells no longer narrow its spread: farther, the cells are losing time (the
truncated tail left beyond the grid moves it by far less)."""
ROUNDS = 16
"""Grids tried per endpoint at most (wider, finer or narrower); one is usual. A narrower
grid is up to the grid's size (2,048) times narrower: a few reach from any span a double
holds to the body of the time."""


def _power_of_two(horizon: float) -> float:
    """The power of two at or above ``horizon`` (grids of powers of two are shared);
    capped at the largest a double holds."""
    if not math.isfinite(horizon):
        return 2.0 ** 1023
    return 2.0 ** min(1023, math.ceil(math.log2(horizon)))


def endpoint_latency(solution: Solution, index: int, size: int = 2048) -> Latency:
    """The latency distribution of endpoint ``index`` and its mean, p50, p95 and p99.

    The mean is the solution's, exact for the model (a sum of means, whatever lies beyond
    the grid), unless parallel branches are on the way (their mean there is Clark's
    approximation): then it is the grid's, exact for independent branches — but never
    below the mean with each parallel step taken as its slowest branch's mean (the grid
    leaves out what lies beyond its end).
    """
    composer = _composer(solution, size)
    dist = composer.own(index)
    if dist is None:
        composer.reported(index)
        return SATURATED
    if forked_paths(solution.program)[index]:
        mean = max(dist.mean(), _LowerMean(solution).endpoint(index))
    else:
        mean = solution.endpoint_moments[index].mean
    p50, p95, p99 = dist.quantiles(PERCENTILES)
    out = Latency(mean, p50, p95, p99, dist)
    composer.reported(index)
    return out


def success_latency(solution: Solution, index: int, size: int = 2048) -> Latency | None:
    """The latency of endpoint ``index``'s requests that succeed; ``None`` when none does.

    Each call of a third party is conditioned on succeeding
    (:func:`~designkit.estimate.external.call_dist` with ``ok``) and a cache's misses are
    weighted by how often their path succeeds; the waits are every request's (failed
    requests load the stations as much). Its mean is the grid's.
    """
    composer = _composer(solution, size, ok=True)
    if composer.survival[index] <= 0.0:
        return None
    dist = composer.own(index)
    if dist is None:
        return SATURATED
    p50, p95, p99 = dist.quantiles(PERCENTILES)
    return Latency(dist.mean(), p50, p95, p99, dist)


def _composer(solution: Solution, size: int, *, ok: bool = False) -> _Composer:
    """The solution's composer on grids of ``size`` cells (every request's, or with
    ``ok`` the successes'), made once."""
    key = -size if ok else size
    found = solution.composers.get(key)
    if isinstance(found, _Composer):
        return found
    made = _Composer(solution, size, _composer(solution, size) if ok else None)
    solution.composers[key] = made
    return made


def released(solution: Solution) -> None:
    """Drop every distribution composed of ``solution`` (its composers and the grids'
    references back to them), so that the memory goes at once, without waiting for the
    cycle collector — many solutions composed one after another (the samples of bands).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> from designkit.estimate.solve import solve
        >>> d = dk.template("flash-sale")
        >>> s = solve(compile_design(d), d.rates())
        >>> _ = endpoint_latency(s, 0); released(s); s.composers
        {}
    """
    for composer in solution.composers.values():
        if isinstance(composer, _Composer):
            composer.grids.clear()
            composer.dists.clear()
    solution.composers.clear()


def forked_paths(program: Program) -> list[bool]:
    """Per endpoint: parallel branches are on its way (its own or a callee's), computed
    once per program, callees first (its mean then needs its composed distribution).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> forked_paths(compile_design(dk.template("flash-sale")))[:2]
        [False, False]
    """
    if program.forks is None:
        out = [False] * len(program.endpoints)
        for i in reversed(program.order):
            out[i] = any(isinstance(node, Par) or (isinstance(node, Invoke)
                                                   and out[node.endpoint])
                         for node in walk(program.endpoints[i].steps))
        program.forks = out
    return program.forks


def callees(program: Program) -> list[frozenset[int]]:
    """Per endpoint, the endpoints it calls, computed once per program.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> program = compile_design(dk.template("flash-sale"))
        >>> [sorted(c) for c in callees(program)][:3]
        [[], [], []]
    """
    if program.callees is None:
        program.callees = [frozenset(node.endpoint for node in walk(ep.steps)
                                     if isinstance(node, Invoke))
                           for ep in program.endpoints]
    return program.callees


class _LowerMean:
    """An endpoint's mean with every parallel step taken as the mean of its slowest branch:
    a lower bound of its mean (E[max] ≥ max E), exact but for that."""

    def __init__(self, solution: Solution) -> None:
        self.solution = solution
        self.wait: list[float] = solution.trial.wait[:, 0].tolist()
        self.memo: dict[int, float] = solution.lower_means

    def endpoint(self, index: int) -> float:
        if index not in self.memo:
            ep = self.solution.program.endpoints[index]
            consumer = 0.0 if ep.consume is None else self.wait[ep.consume]
            self.memo[index] = (consumer + self.wait[ep.workers] + ep.cpu.mean
                                + self.node(ep.steps))
        return self.memo[index]

    def node(self, node: Node) -> float:
        match node:
            case Seq():
                return sum(self.node(item) for item in node.items)
            case Par():
                return max((self.node(b) for b in node.branches), default=0.0)
            case Visit():
                return node.count * (self.wait[node.station] + node.time.mean)
            case Hold():
                return self.wait[node.station] + self.node(node.body) + node.extra.mean
            case Invoke():
                return node.count * self.endpoint(node.endpoint)
            case CacheRead():
                return self.node(node.visit) + (1.0 - node.hit) * self.node(node.miss)
            case ExternalCall():
                info, mean, _ = call_moments(node)
                wait = self.wait[node.station] if node.station is not None else 0.0
                queued = 0.0 if info.breaker_open else info.expected * wait
                return node.count * (mean + queued)
            case Publish():
                return node.count * self.node(node.waited)
            case Loop():
                return node.count * self.node(node.body)
            case Delay():
                return node.time.mean
            case Fallback():
                failing = failing_share(self.solution.program, node.body)
                return self.node(node.body) + failing * self.node(node.fallback)
            case Choice():
                return node.p * self.node(node.first) + (1.0 - node.p) * self.node(node.second)
            case _:
                assert_never(node)


class _Composer:
    """Every endpoint's distribution on its own grid, composed once.

    An endpoint's grid is wide enough for its time (from the solved mean and variance) and
    a power of two wide, so that grids are shared; a caller's grid is usually coarser than
    its callee's, and then the callee's distribution is rebinned onto it rather than
    composed again.
    """

    def __init__(self, solution: Solution, size: int, base: _Composer | None = None) -> None:
        self.solution = solution
        self.size = size
        self.base = base
        """In the successes' composer (``ok``): every request's, whose waits it reads."""
        self.survival: list[float] = ([e.survival for e in errors_of(solution.program)]
                                      if base is not None else [])
        self.survivals: dict[Node, float] = {}
        self.dists: dict[int, Dist | None] = {}
        self.grids: dict[Grid, _GridComposer] = {}
        self.p_wait: list[float] = solution.trial.p_wait[:, 0].tolist()
        self.forked = forked_paths(solution.program)  # endpoints with Clark's variances
        self.wait: list[float] = solution.trial.wait[:, 0].tolist()
        self._services: dict[int, list[tuple[float, object]]] | None = None
        rates = solution.endpoint_rate
        self.callers_left = [0] * len(solution.program.endpoints)  # callers not composed
        for caller, called in enumerate(callees(solution.program)):
            if rates[caller] > 0:
                for callee in called:
                    self.callers_left[callee] += 1
        self.composed: set[int] = set()
        self.read: set[int] = set()

    @property
    def services(self) -> dict[int, list[tuple[float, object]]]:
        """Per single-server station whose queue is its own (an M/G/1 per copy), what its
        service is made of: (rate, a time) for each visit, (rate, a hold node) for each
        hold, (rate, an endpoint index) for each worker held by an endpoint's run."""
        if self._services is None:
            flows = self.solution.flows  # (made once per workload: the scale cancels out
            # of the parts' weights)
            if flows.single_servers is None:
                flows.single_servers = _single_server_services(self.solution.program, flows)
            self._services = flows.single_servers
        return self._services

    def successes(self) -> _Composer:
        """The successes' composer on this one's grids (itself when it is that one)."""
        return self if self.base is not None else _composer(self.solution, self.size, ok=True)

    def through(self, node: Node) -> float:
        """The chance a part of a flow succeeds (kept per node)."""
        found = self.survivals.get(node)
        if found is None:
            callees = errors_of(self.solution.program)
            found = self.survivals[node] = node_errors(node, callees).survival
        return found

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
            horizon = _power_of_two(max(moments.mean + 12.0 * math.sqrt(moments.var),
                                        3.0 * moments.mean, 1e-3))
            size, cells = self.size, MAX_CELLS
            allowed = 1e-4  # mass left beyond the grid
            too_narrow = 0.0  # the widest grid found to leave more
            excess = math.inf  # how much wider than the solution's variance, last round
            missed = math.inf  # how far its mean from the solution's, last round
            for _ in range(ROUNDS):
                dist = self.on(Grid.covering(horizon, size)).endpoint(index)
                if dist.tail > allowed:  # mass left over: a wider grid
                    too_narrow = max(too_narrow, horizon)
                    horizon *= 4.0
                    excess = missed = math.inf  # (coarser cells: not comparable)
                    continue
                median = dist.quantile(0.5) / dist.grid.step  # in cells
                if median >= MEDIAN_CELLS:
                    if (size < MAX_CELLS and allowed <= 1e-4 and not self.forked[index]
                            and self.base is None):
                        wider = _spread(dist) - moments.var
                        # steps shorter than a cell widened it: finer cells — while they
                        # narrow it (four times finer cells take at least half of what
                        # short exponential steps add; what they leave is not the cells'
                        # doing), or while the cells lose time and finer ones find it (a
                        # step far below a cell read from its distribution function keeps
                        # neither its mean nor its spread until the cells resolve it)
                        if wider > SPREAD * moments.var:
                            off = abs(dist.mean() - moments.mean)
                            if wider < 0.5 * excess or (
                                    MEAN_KEPT * math.sqrt(moments.var) < off < 0.5 * missed):
                                excess, missed = wider, off
                                size *= 4
                                continue
                    break
                # A long tail made the cells coarse. When finer cells cannot resolve the
                # median, the time lies far below the grid's end but for a trace (a rare,
                # huge delay: a retry after an exponential backoff; a lognormal's tail): a
                # narrower grid leaves up to HEAVY_TAIL of it beyond (p99 and below stay
                # exact; the mean is the solution's), on up to HEAVY_CELLS cells.
                body = _power_of_two(max(dist.quantile(1.0 - HEAVY_TAIL), dist.grid.step))
                if allowed < HEAVY_TAIL:
                    too_narrow = 0.0  # (for what a heavy tail may leave beyond)
                if (median * MAX_CELLS / size < MEDIAN_CELLS and too_narrow < body
                        and 2.0 * body <= horizon):
                    horizon, allowed, cells = body, HEAVY_TAIL, HEAVY_CELLS
                    excess = missed = math.inf
                elif size < cells:
                    size *= 4  # finer cells
                else:
                    break
            if dist is not None and dist.tail > HEAVY_TAIL:  # the rounds ran out: a grid
                # that holds all but 10⁻⁴ of any time of this mean and variance (Cantelli)
                grid = Grid.covering(_power_of_two(moments.mean + 100.0 * math.sqrt(
                    moments.var)), self.size)
                dist = self.on(grid).endpoint(index)
        self.dists[index] = dist
        if index not in self.composed:
            self.composed.add(index)
            left = self.callers_left
            for callee in callees(self.solution.program)[index]:
                left[callee] -= 1
                self.drop(callee)
        return dist

    def reported(self, index: int) -> None:
        """Endpoint ``index``'s latency has been read: its distributions are dropped once
        every caller is composed too (recomputing them gives the same numbers)."""
        self.read.add(index)
        self.drop(index)

    def drop(self, index: int) -> None:
        if self.base is not None or index not in self.read or self.callers_left[index] > 0:
            return
        self.dists.pop(index, None)
        for grid in self.grids.values():
            grid.memo.pop(index, None)

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


def _spread(dist: Dist) -> float:
    """The variance of what a grid holds (its cells' masses at their centres)."""
    t = np.arange(dist.grid.size) * dist.grid.step
    mass = dist.pmf
    total = float(mass.sum())
    if total <= 0:
        return 0.0
    mean = float(mass @ t) / total
    return float(mass @ (t - mean) ** 2) / total


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
    landing = _kept_landing if grid.size <= KEPT_REBINS else _landing
    index, inside = landing(len(halves), ratio, grid.size)
    coarse = np.bincount(index, halves[inside], minlength=grid.size)
    return Dist(grid, coarse[:grid.size].astype(float))


KEPT_REBINS = 8192
"""Grids of up to this many cells keep their rebinning indexes (64 kept: a few MB; those of
a heavy tail's 131,072 cells would hold 150 MB)."""


def _landing(halves: int, ratio: int, size: int) -> tuple[NDArray[np.int64],
                                                         NDArray[np.bool_]]:
    """Of ``halves`` half-cells rebinned ``ratio`` to one onto ``size`` cells: the coarse
    cell of each half-cell that lands on the grid, and which do (read-only)."""
    # coarse cell j spans fine [(j - 1/2) r, (j + 1/2) r): half-cells [2jr - r + 1, 2jr + r + 1)
    # (the ratio may be far beyond the grid's size: whole grids in one coarse cell)
    if ratio >= halves:
        index = np.zeros(halves, dtype=np.int64)  # all of it in the first cell
    else:
        index = (np.arange(halves, dtype=np.int64) + (ratio - 1)) // (2 * ratio)
    inside = index < size
    landed = index[inside]
    landed.flags.writeable = False
    inside.flags.writeable = False
    return landed, inside


_kept_landing = functools.lru_cache(maxsize=64)(_landing)
""":func:`_landing`, kept per size and ratio (grids of up to :data:`KEPT_REBINS` cells)."""


Spectrum = NDArray[np.complex128]


class _GridComposer:
    """Composes endpoints on one grid as spectra (``None``: no time at all); a sequence is a
    product, a mixture a weighted sum, a repeat a power — on bare arrays, since an endpoint
    is a few dozen such products and wrapping each in a :class:`Dist` cost more than it."""

    def __init__(self, parent: _Composer, grid: Grid) -> None:
        self.parent = parent
        self.solution = parent.solution
        self.grid = grid
        self.memo: dict[int, Dist] = {}
        self.waits: OrderedDict[int, Spectrum | None] = OrderedDict()
        self.pending: set[int] = set()
        self.kept = 0  # waits kept that are not None
        self.times: dict[Spec, Spectrum | None] = {}
        self.calls: dict[tuple[object, ...], Spectrum | None] = {}

    def wait(self, station: int) -> Spectrum | None:
        if self.parent.base is not None:  # successes wait as every request does
            return self.parent.base.on(self.grid).wait(station)
        waits = self.waits
        if station in waits:
            found = waits[station]
            if found is not None:
                waits.move_to_end(station)
            return found
        if station in self.pending:
            return None  # (a hold's own wait is never inside its holding)
        self.pending.add(station)
        exact = self.mg1_wait(station)
        dist = exact if exact is not None else self.grid.waiting(
            self.parent.p_wait[station], self.parent.wait[station])
        self.pending.discard(station)
        found = waits[station] = None if dist.zero else dist.spectrum
        if found is not None:
            self.kept += 1
            while self.kept > KEPT_WAITS:
                _, dropped = waits.popitem(last=False)
                self.kept -= dropped is not None
        return found

    def mg1_wait(self, station: int) -> Dist | None:
        """The exact wait of a single-server station with Poisson arrivals (Beneš:
        ``W = (1 − ρ) Σ ρᵏ Rᵏ``, R the equilibrium time of the service), from its service
        time composed on this grid; ``None`` when it does not apply or the grid is too
        short for its tail (then the wait is exponential with the solved mean)."""
        parts = self.parent.services.get(station)
        rho = self.parent.p_wait[station]
        if not parts or not 0.0 < rho < 1.0:
            return None
        if all(isinstance(part, Exponential) for _, part in parts) and len(
                {part.mean for _, part in parts if isinstance(part, Exponential)}) == 1:
            return None  # an M/M/1: the exponential wait is exact, and finer than the grid
        total = sum(rate for rate, _ in parts)
        pmf = np.zeros(self.grid.size)
        for rate, part in parts:
            spectrum = self.part(part)
            dist = self.grid.zero() if spectrum is None else Dist(self.grid, spectrum=spectrum)
            pmf += rate / total * dist.pmf
        kept = float(pmf.sum())
        if kept < 1.0 - 1e-4:
            return None  # service beyond the grid: the equilibrium time would be cut
        pmf /= kept
        mean = float(np.dot(np.arange(self.grid.size) * self.grid.step, pmf))
        if mean <= 0:
            return None
        # the equilibrium time's mass in each cell: the service's survival integrated over
        # the cell (mass spread evenly over its cell; the first cell starts at 0)
        survival = 1.0 - np.cumsum(pmf) + 0.5 * pmf
        residual = np.maximum(survival, 0.0) * self.grid.step / mean
        residual[0] *= 0.5
        residual /= residual.sum()
        spectrum = (1.0 - rho) / (1.0 - rho * Dist(self.grid, residual).spectrum)
        wait = Dist(self.grid, spectrum=spectrum)
        cells = wait.pmf
        solved = self.parent.wait[station]
        if (cells < -1e-9).any() or abs(float(cells.sum()) - 1.0) > 1e-4 or not (
                abs(wait.mean() - solved) <= 0.01 * max(solved, self.grid.step)):
            return None  # the tail wrapped around the grid, or the grid is too coarse
        return wait

    def part(self, part: object) -> Spectrum | None:
        """The spectrum of one piece of a station's service (see ``services``)."""
        if isinstance(part, int):
            ep = self.solution.program.endpoints[part]
            return _product([self.time(ep.cpu), self.spectrum(ep.steps)]) if ep.blocking \
                else self.time(ep.cpu)
        if isinstance(part, _Run):
            return self.run(part.endpoint)
        if isinstance(part, Hold):
            return _product([self.spectrum(part.body), self.time(part.extra)])
        assert isinstance(part, Spec)
        return self.time(part)

    def wait_dist(self, station: int) -> Dist:
        found = self.wait(station)
        return self.grid.zero() if found is None else Dist(self.grid, spectrum=found)

    def time(self, spec: Spec) -> Spectrum | None:
        if spec not in self.times:
            self.times[spec] = _time(self.solution.program, self.grid, spec)
        return self.times[spec]

    def endpoint(self, index: int) -> Dist:
        if index not in self.memo:
            ep = self.solution.program.endpoints[index]
            total = self.run(index)
            if ep.consume is not None:
                total = _product([self.wait(ep.consume), total])
            self.memo[index] = (self.grid.zero() if total is None
                                else Dist(self.grid, spectrum=total))
        return self.memo[index]

    def run(self, index: int) -> Spectrum | None:
        """An endpoint's run once a consumer has taken its message: the wait for a
        worker, its cpu and its steps."""
        ep = self.solution.program.endpoints[index]
        return _product([self.wait(ep.workers), self.time(ep.cpu), self.spectrum(ep.steps)])

    def call(self, node: ExternalCall) -> Spectrum | None:
        key = (settings(node), node.station)
        if key not in self.calls:
            wait = self.wait_dist(node.station) if node.station is not None else None
            dist = call_dist(node, self.grid, wait, ok=self.parent.base is not None)
            self.calls[key] = None if dist.zero else dist.spectrum
        return self.calls[key]

    def spectrum(self, node: Node) -> Spectrum | None:
        parent = self.parent
        if parent.base is not None and isinstance(node, Invoke | Seq) \
                and parent.through(node) >= 1.0:  # nothing in it fails: every request's
            return parent.base.on(self.grid).spectrum(node)
        match node:
            case Seq():
                return _product([self.spectrum(item) for item in node.items])
            case Visit():
                return _power(_product([self.wait(node.station), self.time(node.time)]),
                              node.count)
            case Hold():
                return _product([self.wait(node.station), self.spectrum(node.body),
                                 self.time(node.extra)])
            case Invoke():
                callee = self.parent.callee(node.endpoint, self.grid)
                return _power(None if callee.zero else callee.spectrum, node.count)
            case CacheRead():
                miss = self.spectrum(node.miss)
                p = 1.0 - node.hit
                if self.parent.base is not None:  # of the reads that succeed, the misses
                    through = p * self.parent.through(node.miss)
                    p = through / (node.hit + through) if through > 0 else 0.0
                mixed = (None if miss is None or p <= 0 else miss if p >= 1
                         else p * miss + (1.0 - p))
                return _product([self.spectrum(node.visit), mixed])
            case ExternalCall():
                return _power(self.call(node), node.count)
            case Publish():
                return _power(self.spectrum(node.waited), node.count)
            case Loop():
                return _power(self.spectrum(node.body), node.count)
            case Delay():
                return self.time(node.time)
            case Par():
                branches = [self.spectrum(b) for b in node.branches]
                grid = self.grid
                dist = Dist.maximum([grid.zero() if b is None else Dist(grid, spectrum=b)
                                     for b in branches])
                return dist.spectrum
            case Fallback():
                return self.fallback(node)
            case Choice():
                return self.choice(node)
            case _:
                assert_never(node)

    def choice(self, node: Choice) -> Spectrum | None:
        """One of two, with probability ``p`` the first (of the successes: weighted by how
        often each succeeds)."""
        p = node.p
        if self.parent.base is not None:
            first = p * self.parent.through(node.first)
            second = (1.0 - p) * self.parent.through(node.second)
            p = first / (first + second) if first + second > 0 else p
        ones = self.grid.zero().spectrum
        first_s, second_s = self.spectrum(node.first), self.spectrum(node.second)
        return (p * (ones if first_s is None else first_s)
                + (1.0 - p) * (ones if second_s is None else second_s))

    def fallback(self, node: Fallback) -> Spectrum | None:
        """A call, then its fallback when it failed: ``(1 − p)·ok + p·failed × fallback``,
        the failed calls' time being every call's less the successes' (a timed-out call
        is long, an open breaker's instant); of the successes, the fallback's own."""
        parent = self.parent
        failing = failing_share(self.solution.program, node.body)
        if failing <= 0:
            return self.spectrum(node.body)
        ones = self.grid.zero().spectrum
        if parent.base is None:  # every request's
            every, ok = self.spectrum(node.body), parent.successes().on(self.grid)
            succeeded = ok.spectrum(node.body)
            after, through = self.spectrum(node.fallback), 1.0
        else:  # the successes': the call's, or the fallback's after a failed call
            every = parent.base.on(self.grid).spectrum(node.body)
            succeeded = self.spectrum(node.body)
            after, through = self.spectrum(node.fallback), parent.through(node.fallback)
        every_s = ones if every is None else every
        ok_s = ones if succeeded is None else succeeded
        after_s = ones if after is None else after
        keep = (1.0 - failing) * ok_s if failing < 1.0 else 0.0 * ones
        failed = every_s - keep  # p × the failed calls' spectrum
        total = (1.0 - failing) + failing * through
        if total <= 0:
            return None
        return (keep + through * failed * after_s) / total


def _time(program: Program, grid: Grid, spec: Spec) -> Spectrum | None:
    """A time of the design on ``grid`` as a spectrum (``None``: no time), kept by the
    program while its :data:`~designkit.estimate.program.KEPT_CELLS` allow (the same
    array every time: read-only)."""
    key = (grid, spec)
    kept = program.spectra
    if key in kept:
        return kept[key]  # type: ignore[return-value]
    dist = spec.dist(grid)
    spectrum = None if dist.zero else dist.spectrum
    if spectrum is not None:
        spectrum.flags.writeable = False
    if kept.cells + grid.size <= KEPT_CELLS:
        kept[key] = spectrum
        kept.cells += grid.size
    return spectrum


def _product(parts: list[Spectrum | None]) -> Spectrum | None:
    """The spectrum of a sequence: the product of its parts' (``None``: no time)."""
    out: Spectrum | None = None
    owned = False
    for part in parts:
        if part is None:
            continue
        if out is None:
            out = part
        elif owned:
            np.multiply(out, part, out=out)
        else:
            out = out * part
            owned = True
    return out


def _power(spectrum: Spectrum | None, count: float) -> Spectrum | None:
    """``count`` copies one after another; a fractional count mixes ⌊n⌋ and ⌈n⌉."""
    if spectrum is None or count == 1.0:
        return spectrum
    if count <= 0:
        return None
    whole = math.floor(count)
    frac = count - whole
    base: Spectrum | None = None
    for _ in range(whole):
        base = _product([base, spectrum])
    if frac < 1e-12:
        return base
    longer = _product([base, spectrum])
    assert longer is not None
    return (1.0 - frac) * (1.0 if base is None else base) + frac * longer


class _Run(NamedTuple):
    """A part of a queue's consumers' service: its handler's whole run."""

    endpoint: int


def _single_server_services(program: Program,
                            flows: Flows) -> dict[int, list[tuple[float, object]]]:
    """See :attr:`_Composer.services`: single-server stations (per copy) whose wait is
    their own M/G/1 queue's — not bounded by a holder around them (they never queue, or
    their wait comes from a flow-equivalent server) — and what their service is made of,
    weighted by rate (at scale 1: only their shares are read)."""
    # a group's holder solves the stations inside it as a closed network; where that is
    # the open M/G/1 after all (a pool rarely full in front of one lock), mg1_wait's check
    # of the solved mean keeps the exact shape, and drops it elsewhere
    skip = set(flows.groups)
    single = {i for i, s in enumerate(program.stations)
              if s.servers == 1 and i not in skip and i not in flows.overlapped
              and not flows.bound[i] <= s.servers}
    out: dict[int, list[tuple[float, object]]] = {}
    if not single:
        return out
    rates = flows.endpoint_rate.tolist()

    def add(station: int, rate: float, part: object) -> None:
        if station in single and rate > 0:
            out.setdefault(station, []).append((rate, part))

    def visit(node: Node, ep: int, mult: float) -> None:
        match node:
            case Visit():
                add(node.station, rates[ep] * mult * node.count, node.time)
            case Hold():
                add(node.station, rates[ep] * mult, node)
                visit(node.body, ep, mult)
            case ExternalCall():
                if node.station is not None:
                    single.discard(node.station)  # attempts cut by timeouts: keep the mean
            case Publish():
                visit(node.visit, ep, mult * node.count)
                if node.outbox is not None:
                    visit(node.outbox, ep, mult * node.count)
            case Seq():
                for item in node.items:
                    visit(item, ep, mult)
            case Par():
                for branch in node.branches:
                    visit(branch, ep, mult)
            case Loop():
                visit(node.body, ep, mult * node.count)
            case CacheRead():
                visit(node.visit, ep, mult)
                visit(node.miss, ep, mult * (1.0 - node.hit))
            case Choice():
                visit(node.first, ep, mult * node.p)
                visit(node.second, ep, mult * (1.0 - node.p))
            case Fallback():
                visit(node.body, ep, mult)
                visit(node.fallback, ep,
                      mult * failing_share(program, node.body))
            case Delay() | Invoke():
                pass
            case _:
                assert_never(node)

    for i, ep in enumerate(program.endpoints):
        add(ep.workers, rates[i], i)
        if ep.consume is not None:
            add(ep.consume, rates[i], _Run(i))
        visit(ep.steps, i, 1.0)
    return {station: parts for station, parts in out.items() if station in single}
