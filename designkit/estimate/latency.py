"""Latency distributions of endpoints, composed on a grid from a solved design.

Each endpoint gets a grid wide enough for its time (from the solved mean and variance),
is composed there once, and is rebinned onto its callers' coarser grids. Waits are exact
for M/M/c stations and Allen–Cunneen otherwise; sequences convolve, parallel branches take
the maximum, cache hits and misses mix.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from designkit.maths.distributions import Dist, Grid, quantile_rows

__all__ = ["Latency", "callees", "column_groups", "endpoint_latencies", "endpoint_latency",
           "forked_paths", "released", "success_latency"]

Floats = NDArray[np.float64]


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
    leaves out what lies beyond its end). Of a solution of several columns, the first's
    (:func:`endpoint_latencies` reads them all).
    """
    composer = _composer(solution, size)
    dist = composer.own(index)[0]
    if dist is None:
        composer.reported(index)
        return SATURATED
    read = composer.reads[index][0]
    assert read is not None
    out = Latency(composer.mean(index, 0, read), read.p50, read.p95, read.p99, dist)
    composer.reported(index)
    return out


def endpoint_latencies(solution: Solution, index: int, size: int = 2048) -> Floats:
    """Endpoint ``index``'s p50, p95, p99 and mean (rows) in every column of ``solution``
    (columns): each the :func:`endpoint_latency` of a solution of that column alone, the
    columns composed together (``inf`` where saturated).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> from designkit.estimate.solve import flows_of, solve, trials
        >>> d = dk.template("flash-sale")
        >>> program, load = compile_design(d), d.rates()
        >>> both = Solution(program, 1.0, trials(program, load, [1.0, 2.0]),
        ...                 flows_of(program, load))
        >>> rows = endpoint_latencies(both, 0)
        >>> alone = solve(program, load, 2.0)
        >>> bool(np.isclose(rows[1, 1], endpoint_latency(alone, 0).p95, rtol=1e-9))
        True
    """
    composer = _composer(solution, size)
    out = np.full((4, composer.n), math.inf)
    composer.own(index)
    for k, read in enumerate(composer.reads[index]):
        if read is not None:
            out[:, k] = read.p50, read.p95, read.p99, composer.mean(index, k, read)
    composer.reported(index)
    return out


COMPOSED_AT_ONCE = 16
"""Columns whose latency distributions are composed together (the samples of bands, the
loads of a capacity curve): their spectra, a row each, stay in the processor's second
cache (decision 69)."""


def column_groups(count: int) -> Iterator[tuple[int, int]]:
    """``count`` columns in groups of :data:`COMPOSED_AT_ONCE`: (start, stop) of each.

    Example:
        >>> list(column_groups(40))
        [(0, 16), (16, 32), (32, 40)]
    """
    for start in range(0, count, COMPOSED_AT_ONCE):
        yield start, min(count, start + COMPOSED_AT_ONCE)


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
    dist = composer.own(index)[0]
    if dist is None:
        return SATURATED
    read = composer.reads[index][0]
    assert read is not None
    return Latency(read.mean, read.p50, read.p95, read.p99, dist)


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

    def __init__(self, solution: Solution, column: int = 0) -> None:
        self.solution = solution
        self.wait: list[float] = solution.trial.wait[:, column].tolist()
        self.hits = {tag: float(values[column]) for tag, values in solution.hits.items()}
        self.memo: dict[int, float] = solution.lower_means if column == 0 else {}

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
                hit = self.hits.get(node.tag, node.hit) if node.tag is not None else node.hit
                return self.node(node.visit) + (1.0 - hit) * self.node(node.miss)
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
    """Every endpoint's distribution on its own grid, composed once — in every column of
    the solution (the samples of bands; one column for an estimate).

    An endpoint's grid is wide enough for its time (from the solved mean and variance) and
    a power of two wide, so that grids are shared; a caller's grid is usually coarser than
    its callee's, and then the callee's distribution is rebinned onto it rather than
    composed again. Each column chooses its own grids, by the same rules; the columns that
    chose the same grid are composed there together (a spectrum per column: rows).
    """

    def __init__(self, solution: Solution, size: int, base: _Composer | None = None) -> None:
        self.solution = solution
        self.size = size
        self.base = base
        """In the successes' composer (``ok``): every request's, whose waits it reads."""
        self.survival: list[float] = ([e.survival for e in errors_of(solution.program)]
                                      if base is not None else [])
        self.survivals: dict[Node, float] = {}
        self.dists: dict[int, list[Dist | None]] = {}
        self.reads: dict[int, list[_Read | None]] = {}  # the dists' numbers
        self.grids: dict[tuple[Grid, tuple[int, ...]], _GridComposer] = {}
        trial = solution.trial
        self.n = int(trial.wait.shape[1])
        self.p_wait: Floats = trial.p_wait
        self.wait: Floats = trial.wait
        with np.errstate(invalid="ignore"):
            idle = ((trial.p_wait < 1e-12) | (trial.wait <= 0)) & np.isfinite(trial.wait)
        self.idle: list[bool] = np.all(idle, axis=1).tolist()
        """Per station: no wait at all in any column."""
        self.means: Floats = trial.endpoint_mean
        self.vars: Floats = trial.endpoint_var
        self.hits = solution.hits
        self.forked = forked_paths(solution.program)  # endpoints with Clark's variances
        self.lowers: dict[int, _LowerMean] = {}
        self._services: dict[int, list[tuple[Floats, object]]] | None = None
        rates = solution.endpoint_rate
        self.callers_left = [0] * len(solution.program.endpoints)  # callers not composed
        for caller, called in enumerate(callees(solution.program)):
            if rates[caller] > 0:
                for callee in called:
                    self.callers_left[callee] += 1
        self.composed: set[int] = set()
        self.read: set[int] = set()

    @property
    def services(self) -> dict[int, list[tuple[Floats, object]]]:
        """Per single-server station whose queue is its own (an M/G/1 per copy), what its
        service is made of: (rate per column, a time) for each visit, (rate, a hold node)
        for each hold, (rate, an endpoint index) for each worker held by an endpoint's
        run."""
        if self._services is None:
            solution = self.solution
            if solution.rates is not None:  # samples: each column's rates and hit ratios
                self._services = _single_server_services(solution.program, solution.flows,
                                                         solution.rates, self.hit)
            else:
                flows = solution.flows  # (made once per workload: the scale cancels out
                # of the parts' weights)
                if flows.single_servers is None:
                    flows.single_servers = _single_server_services(
                        solution.program, flows, flows.endpoint_rate[:, None], self.hit)
                self._services = flows.single_servers
        return self._services

    def hit(self, node: CacheRead) -> float | Floats:
        """A cache read's hit ratio: each column's (an array) when it is sampled."""
        if node.tag is not None and node.tag in self.hits:
            return self.hits[node.tag]
        return node.hit

    def mean(self, index: int, column: int, read: _Read) -> float:
        """Endpoint ``index``'s mean in ``column`` (see :func:`endpoint_latency`), its
        distribution read as ``read``."""
        if not self.forked[index]:
            return float(self.means[index, column])
        lower = self.lowers.get(column)
        if lower is None:
            lower = self.lowers[column] = _LowerMean(self.solution, column)
        return max(read.mean, lower.endpoint(index))

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

    def on(self, grid: Grid, cols: tuple[int, ...]) -> _GridComposer:
        """The composer of columns ``cols`` on ``grid``."""
        key = (grid, cols)
        found = self.grids.get(key)
        if found is None:
            found = self.grids[key] = _GridComposer(self, grid, cols)
        return found

    def own(self, index: int) -> list[Dist | None]:
        """Endpoint ``index`` on its own grid, per column; ``None`` where saturated."""
        found = self.dists.get(index)
        if found is not None:
            return found
        out: list[Dist | None] = [None] * self.n
        reads: list[_Read | None] = [None] * self.n
        refine = not self.forked[index] and self.base is None
        rounds: dict[int, _Rounds] = {}
        for k, (mean, var) in enumerate(zip(self.means[index].tolist(),
                                            self.vars[index].tolist(), strict=True)):
            if not math.isinf(mean):
                rounds[k] = _Rounds(mean, var, self.size, refine)
        for _ in range(ROUNDS):
            if not rounds:
                break
            for grid, cols in _grouped({k: r.grid() for k, r in rounds.items()}):
                for k, dist, read in zip(cols, *self.on(grid, cols).dists(index),
                                         strict=True):
                    if rounds[k].done(dist, read):
                        out[k], reads[k] = dist, read
                        del rounds[k]
        for k, r in rounds.items():  # the rounds ran out
            out[k], reads[k] = r.dist, r.read
        wider = {}
        for k, final in enumerate(reads):
            if final is not None and final.tail > HEAVY_TAIL:
                # a grid that holds all but 10⁻⁴ of any time of this mean and variance
                # (Cantelli)
                wider[k] = Grid.covering(_power_of_two(
                    float(self.means[index, k]) + 100.0 * math.sqrt(self.vars[index, k])),
                    self.size)
        for grid, cols in _grouped(wider):
            for k, dist, read in zip(cols, *self.on(grid, cols).dists(index), strict=True):
                out[k], reads[k] = dist, read
        self.dists[index] = out
        self.reads[index] = reads
        if index not in self.composed:
            self.composed.add(index)
            left = self.callers_left
            for callee in callees(self.solution.program)[index]:
                left[callee] -= 1
                self.drop(callee)
        return out

    def reported(self, index: int) -> None:
        """Endpoint ``index``'s latency has been read: its distributions are dropped once
        every caller is composed too (recomputing them gives the same numbers)."""
        self.read.add(index)
        self.drop(index)

    def drop(self, index: int) -> None:
        if self.base is not None or index not in self.read or self.callers_left[index] > 0:
            return
        self.dists.pop(index, None)
        self.reads.pop(index, None)
        for grid in self.grids.values():
            grid.memo.pop(index, None)

    def callee(self, index: int, grid: Grid, cols: tuple[int, ...]) -> Spectrum:
        """Endpoint ``index`` on a caller's ``grid``, in columns ``cols`` (rows): its own
        distribution rebinned where its grid is finer by a power of two, else composed on
        ``grid``; all zeros where it saturates."""
        owns = self.own(index)
        rows = np.empty((len(cols), grid.size + 1), dtype=np.complex128)
        compose: list[int] = []
        rebinned: dict[tuple[Grid, int], list[int]] = {}
        for j, k in enumerate(cols):
            own = owns[k]
            if math.isinf(self.means[index, k]):
                rows[j] = 0.0  # never over
                continue
            if own is not None and own.grid.size == grid.size:
                ratio = grid.step / own.grid.step
                whole = round(ratio)
                if whole >= 1 and abs(ratio - whole) < 1e-9 and whole & (whole - 1) == 0:
                    rebinned.setdefault((own.grid, whole), []).append(j)
                    continue
            compose.append(j)
        for (_, whole), at in rebinned.items():
            dists = [owns[cols[j]] for j in at]
            if whole == 1:
                rows[at] = [d.spectrum for d in dists if d is not None]
            else:
                pmfs = np.stack([d.pmf for d in dists if d is not None])
                rows[at] = np.fft.rfft(_rebin_rows(pmfs, grid, whole), 2 * grid.size)
        if compose:
            found = self.on(grid, tuple(cols[j] for j in compose)).endpoint(index)
            rows[compose] = 1.0 if found is None else found
        return rows


class _Rounds:
    """One column's search for an endpoint's grid: wider while mass is left beyond it,
    finer while its cells are too coarse (see :meth:`_Composer.own`)."""

    def __init__(self, mean: float, var: float, size: int, refine: bool) -> None:
        self.mean, self.var, self.refine = mean, var, refine
        self.horizon = _power_of_two(max(mean + 12.0 * math.sqrt(var), 3.0 * mean, 1e-3))
        self.size, self.cells = size, MAX_CELLS
        self.allowed = 1e-4  # mass left beyond the grid
        self.too_narrow = 0.0  # the widest grid found to leave more
        self.excess = math.inf  # how much wider than the solution's variance, last round
        self.missed = math.inf  # how far its mean from the solution's, last round
        self.dist: Dist | None = None
        self.read: _Read | None = None

    def grid(self) -> Grid:
        return Grid.covering(self.horizon, self.size)

    def done(self, dist: Dist, read: _Read) -> bool:
        """Whether ``dist`` (its numbers ``read``), composed on :meth:`grid`, is the one
        (else the next grid is set)."""
        self.dist, self.read = dist, read
        if read.tail > self.allowed:  # mass left over: a wider grid
            self.too_narrow = max(self.too_narrow, self.horizon)
            self.horizon *= 4.0
            self.excess = self.missed = math.inf  # (coarser cells: not comparable)
            return False
        median = read.p50 / dist.grid.step  # in cells
        if median >= MEDIAN_CELLS:
            if self.size < MAX_CELLS and self.allowed <= 1e-4 and self.refine:
                wider = read.spread - self.var
                # steps shorter than a cell widened it: finer cells — while they narrow it
                # (four times finer cells take at least half of what short exponential
                # steps add; what they leave is not the cells' doing), or while the cells
                # lose time and finer ones find it (a step far below a cell read from its
                # distribution function keeps neither its mean nor its spread until the
                # cells resolve it)
                if wider > SPREAD * self.var:
                    off = abs(read.mean - self.mean)
                    if wider < 0.5 * self.excess or (
                            MEAN_KEPT * math.sqrt(self.var) < off < 0.5 * self.missed):
                        self.excess, self.missed = wider, off
                        self.size *= 4
                        return False
            return True
        # A long tail made the cells coarse. When finer cells cannot resolve the median,
        # the time lies far below the grid's end but for a trace (a rare, huge delay: a
        # retry after an exponential backoff; a lognormal's tail): a narrower grid leaves
        # up to HEAVY_TAIL of it beyond (p99 and below stay exact; the mean is the
        # solution's), on up to HEAVY_CELLS cells.
        body = _power_of_two(max(read.body, dist.grid.step))
        if self.allowed < HEAVY_TAIL:
            self.too_narrow = 0.0  # (for what a heavy tail may leave beyond)
        if (median * MAX_CELLS / self.size < MEDIAN_CELLS and self.too_narrow < body
                and 2.0 * body <= self.horizon):
            self.horizon, self.allowed, self.cells = body, HEAVY_TAIL, HEAVY_CELLS
            self.excess = self.missed = math.inf
        elif self.size < self.cells:
            self.size *= 4  # finer cells
        else:
            return True
        return False


def _grouped(grids: Mapping[int, Grid]) -> list[tuple[Grid, tuple[int, ...]]]:
    """The columns (keys) by the grid each is on, in order."""
    groups: dict[Grid, list[int]] = {}
    for k, grid in grids.items():
        groups.setdefault(grid, []).append(k)
    return [(grid, tuple(cols)) for grid, cols in groups.items()]


class _Read(NamedTuple):
    """What is read of a composed distribution: the mass beyond its grid, p50, p95, p99,
    the quantile below which all but :data:`HEAVY_TAIL` lies, its mean (``inf`` when
    saturated) and its variance (its cells' masses at their centres)."""

    tail: float
    p50: float
    p95: float
    p99: float
    body: float
    mean: float
    spread: float


def _reads(pmfs: Floats, step: float) -> list[_Read]:
    """:class:`_Read` of each distribution (rows of ``pmfs``) on a grid of ``step``."""
    size = pmfs.shape[1]
    t = np.arange(size) * step
    total = pmfs.sum(axis=1)
    kept = np.where(total > 0, total, 1.0)
    mean = (pmfs @ t) / kept
    spread = np.where(total > 0, ((t - mean[:, None]) ** 2 * pmfs).sum(axis=1) / kept, 0.0)
    tail = np.maximum(0.0, 1.0 - total)
    quantiles = quantile_rows(pmfs, (*PERCENTILES, 1.0 - HEAVY_TAIL), step)
    mean = np.where(tail > 0.5, math.inf, mean)  # (saturated)
    return [_Read(*row) for row in zip(tail.tolist(), *quantiles.T.tolist(), mean.tolist(),
                                       spread.tolist(), strict=True)]


def _rebin_rows(pmfs: Floats, grid: Grid, ratio: int) -> Floats:
    """Distributions (rows of ``pmfs``) on ``grid``, whose cells are ``ratio`` (a power of
    two) of theirs wide.

    Each fine cell's mass is taken as uniform over the cell: a fine cell on the border of
    two coarse cells gives half to each. The trace beyond the fine grid (at most 10⁻⁴: the
    grid was chosen so) is left out, as :meth:`Dist.mean` does, so that it does not add up
    over a chain of calls.

    Example:
        >>> fine = np.array([[0.25, 0.25, 0.5, 0.0]])
        >>> _rebin_rows(fine, Grid(step=2.0, size=4), 2).tolist()   # [-1, 1), [1, 3)…
        [[0.375, 0.625, 0.0, 0.0]]
    """
    count, size = pmfs.shape
    totals = np.maximum(pmfs.sum(axis=1), 1e-300)[:, None]
    out = np.zeros((count, grid.size))
    if ratio >= 2 * size:  # whole grids in one coarse cell (half of it the first's)
        out[:, 0] = 1.0
        return out
    # coarse cell j spans fine cells j·r − r/2 … j·r + r/2, the two at its ends halved:
    # blocks of r fine cells from j·r − r/2, less half the block's first cell, plus half
    # of the next block's first
    half = ratio // 2
    blocks = -(-(size + half) // ratio)
    padded = np.zeros((count, blocks * ratio + 1))
    padded[:, half:half + size] = pmfs
    firsts = padded[:, ::ratio]  # (blocks + 1 of them: the last one past the end)
    sums = padded[:, :blocks * ratio].reshape(count, blocks, ratio).sum(axis=2)
    coarse = sums - 0.5 * firsts[:, :-1] + 0.5 * firsts[:, 1:]
    kept = min(blocks, grid.size)
    out[:, :kept] = coarse[:, :kept] / totals
    return out


def _rebin(dist: Dist, grid: Grid, ratio: int) -> Dist:
    """``dist`` on ``grid``, whose cells are ``ratio`` of its cells wide (see
    :func:`_rebin_rows`)."""
    return Dist(grid, _rebin_rows(dist.pmf[None, :], grid, ratio)[0])


Spectrum = NDArray[np.complex128]
"""A distribution's transform (:attr:`Dist.spectrum`); in a composer, one row per column
(a time the same in every column: one row for all)."""

KEPT_WAIT_CELLS = 1 << 21
"""Cells of waits a grid's composer keeps, the most recently used (32 MB: 64 waits of 16
columns on 2,048 cells, 16 of one column on 131,072); recomputing one gives the same
numbers."""


class _GridComposer:
    """Composes endpoints on one grid as spectra, for some columns (``None``: no time at
    all); a sequence is a product, a mixture a weighted sum, a repeat a power — on bare
    arrays, since an endpoint is a few dozen such products and wrapping each in a
    :class:`Dist` cost more than it. A spectrum has a row per column, or is one row (a
    time of the design: the same in every column)."""

    def __init__(self, parent: _Composer, grid: Grid, cols: tuple[int, ...]) -> None:
        self.parent = parent
        self.solution = parent.solution
        self.grid = grid
        self.cols = cols
        self.at: slice | NDArray[np.int64] = (  # (a run of columns: a view, not a copy)
            slice(cols[0], cols[-1] + 1) if cols == tuple(range(cols[0], cols[-1] + 1))
            else np.array(cols, dtype=np.int64))
        self.memo: dict[int, Spectrum | None] = {}
        self.waits: OrderedDict[int, Spectrum | None] = OrderedDict()
        self.pending: set[int] = set()
        self.kept = 0  # cells of waits kept
        self.times: dict[Spec, Spectrum | None] = {}
        self.calls: dict[tuple[object, ...], Spectrum | None] = {}

    def wait(self, station: int) -> Spectrum | None:
        parent = self.parent
        if parent.base is not None:  # successes wait as every request does
            return parent.base.on(self.grid, self.cols).wait(station)
        waits = self.waits
        if station in waits:
            kept = waits[station]
            if kept is not None:
                waits.move_to_end(station)
            return kept
        if station in self.pending:
            return None  # (a hold's own wait is never inside its holding)
        found: Spectrum | None = None
        if not parent.idle[station]:  # (where one column has no wait, its row is ones)
            p_wait, wait = parent.p_wait[station, self.at], parent.wait[station, self.at]
            self.pending.add(station)
            exact = self.mg1_wait(station)
            self.pending.discard(station)
            if exact is None:
                found = self.grid.waiting_rows(p_wait, wait)
            else:  # the exact wait where it applies, else the exponential
                found, valid = exact
                if not valid.all():
                    found[~valid] = self.grid.waiting_rows(p_wait[~valid], wait[~valid])
        waits[station] = found
        if found is not None:
            self.kept += found.size
            while self.kept > KEPT_WAIT_CELLS and len(waits) > 1:
                _, dropped = waits.popitem(last=False)
                self.kept -= 0 if dropped is None else dropped.size
        return found

    def mg1_wait(self, station: int) -> tuple[Spectrum, NDArray[np.bool_]] | None:
        """The exact wait of a single-server station with Poisson arrivals (Beneš:
        ``W = (1 − ρ) Σ ρᵏ Rᵏ``, R the equilibrium time of the service), from its service
        time composed on this grid, and the columns where it applies (elsewhere the grid
        is too short for its tail, or the station not such a queue: the wait is
        exponential with the solved mean); ``None`` when it applies in none."""
        parent = self.parent
        parts = parent.services.get(station)
        if not parts:
            return None
        rho = parent.p_wait[station, self.at]
        valid = (rho > 0.0) & (rho < 1.0)
        if not valid.any():
            return None
        if all(isinstance(part, Exponential) for _, part in parts) and len(
                {part.mean for _, part in parts if isinstance(part, Exponential)}) == 1:
            return None  # an M/M/1: the exponential wait is exact, and finer than the grid
        grid, n = self.grid, self.grid.size
        rates = [rate if len(rate) == 1 else rate[self.at]  # (one: every column's)
                 for rate, _ in parts]
        total = np.sum(rates, axis=0)
        share = np.where(total > 0, 1.0 / np.where(total > 0, total, 1.0), 0.0)
        pmf = np.zeros((len(self.cols), n))
        for rate, (_, part) in zip(rates, parts, strict=True):
            spectrum = self.part(part)
            pmf += (rate * share)[:, None] * (grid.zero().pmf if spectrum is None
                                               else _pmfs(spectrum, n))
        kept = pmf.sum(axis=1)
        valid &= kept >= 1.0 - 1e-4  # service beyond the grid: the equilibrium time cut
        pmf /= np.where(kept > 0, kept, 1.0)[:, None]
        t = np.arange(n) * grid.step
        mean = pmf @ t
        valid &= mean > 0
        if not valid.any():
            return None
        # the equilibrium time's mass in each cell: the service's survival integrated over
        # the cell (mass spread evenly over its cell; the first cell starts at 0)
        survival = 1.0 - np.cumsum(pmf, axis=1) + 0.5 * pmf
        residual = np.maximum(survival, 0.0) * (grid.step / np.where(valid, mean, 1.0))[:, None]
        residual[:, 0] *= 0.5
        sums = residual.sum(axis=1)
        residual /= np.where(sums > 0, sums, 1.0)[:, None]
        r = np.where(valid, rho, 0.0)[:, None]
        spectrum = (1.0 - r) / (1.0 - r * np.fft.rfft(residual, 2 * n))
        cells = _pmfs(spectrum, n)
        mass = cells.sum(axis=1)
        solved = parent.wait[station, self.at]
        with np.errstate(invalid="ignore", divide="ignore"):
            waited = (cells @ t) / mass
        valid &= (np.abs(mass - 1.0) <= 1e-4) & (
            np.abs(waited - solved) <= 0.01 * np.maximum(solved, grid.step))
        # (the tail wrapped around the grid, or the grid is too coarse)
        return (spectrum, valid) if valid.any() else None

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

    def time(self, spec: Spec) -> Spectrum | None:
        if spec not in self.times:
            self.times[spec] = _time(self.solution.program, self.grid, spec)
        return self.times[spec]

    def endpoint(self, index: int) -> Spectrum | None:
        if index not in self.memo:
            ep = self.solution.program.endpoints[index]
            total = self.run(index)
            if ep.consume is not None:
                total = _product([self.wait(ep.consume), total])
            self.memo[index] = total
        return self.memo[index]

    def dists(self, index: int) -> tuple[list[Dist], list[_Read]]:
        """Endpoint ``index`` in each column, as distributions, and their numbers."""
        total = self.endpoint(index)
        m = len(self.cols)
        if total is None or total.ndim == 1:  # the same in every column
            dist = self.grid.zero() if total is None else Dist(
                self.grid, _pmfs(total, self.grid.size), total)
            return [dist] * m, _reads(dist.pmf[None, :], self.grid.step) * m
        pmfs = _pmfs(total, self.grid.size)
        return ([Dist(self.grid, pmf, spectrum) for pmf, spectrum in zip(pmfs, total,
                                                                          strict=True)],
                _reads(pmfs, self.grid.step))

    def run(self, index: int) -> Spectrum | None:
        """An endpoint's run once a consumer has taken its message: the wait for a
        worker, its cpu and its steps."""
        ep = self.solution.program.endpoints[index]
        return _product([self.wait(ep.workers), self.time(ep.cpu), self.spectrum(ep.steps)])

    def call(self, node: ExternalCall) -> Spectrum | None:
        key = (settings(node), node.station)
        if key not in self.calls:
            ok = self.parent.base is not None
            waits = self.wait(node.station) if node.station is not None else None
            if waits is None:
                dists = [call_dist(node, self.grid, None, ok=ok)]
            else:  # each column's own wait for an attempt
                dists = [call_dist(node, self.grid, Dist(self.grid, spectrum=row), ok=ok)
                         for row in waits]
            if all(dist.zero for dist in dists):
                self.calls[key] = None
            elif len(dists) == 1 and waits is None:
                self.calls[key] = dists[0].spectrum
            else:
                self.calls[key] = np.stack([dist.spectrum for dist in dists])
        return self.calls[key]

    def spectrum(self, node: Node) -> Spectrum | None:
        parent = self.parent
        if parent.base is not None and isinstance(node, Invoke | Seq) \
                and parent.through(node) >= 1.0:  # nothing in it fails: every request's
            return parent.base.on(self.grid, self.cols).spectrum(node)
        match node:
            case Seq():
                # (one step at a time: a long sequence's spectra, a row per column, are
                # not all held at once)
                return _product(self.spectrum(item) for item in node.items)
            case Visit():
                return _power(_product([self.wait(node.station), self.time(node.time)]),
                              node.count)
            case Hold():
                return _product([self.wait(node.station), self.spectrum(node.body),
                                 self.time(node.extra)])
            case Invoke():
                return _power(parent.callee(node.endpoint, self.grid, self.cols),
                              node.count)
            case CacheRead():
                return _product([self.spectrum(node.visit), self.missed(node)])
            case ExternalCall():
                return _power(self.call(node), node.count)
            case Publish():
                return _power(self.spectrum(node.waited), node.count)
            case Loop():
                return _power(self.spectrum(node.body), node.count)
            case Delay():
                return self.time(node.time)
            case Par():
                return _maximum([self.spectrum(b) for b in node.branches], self.grid)
            case Fallback():
                return self.fallback(node)
            case Choice():
                return self.choice(node)
            case _:
                assert_never(node)

    def missed(self, node: CacheRead) -> Spectrum | None:
        """A cache read's misses: with the chance of a miss the miss path's time, else
        none (of the successes: the misses among the reads that succeed)."""
        miss = self.spectrum(node.miss)
        if miss is None:
            return None
        hit = self.parent.hit(node)
        if not isinstance(hit, float):
            hit = hit[self.at][:, None]  # each column's
        p = 1.0 - hit
        if self.parent.base is not None:  # of the reads that succeed, the misses
            through = p * self.parent.through(node.miss)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = np.where(through > 0, through / (hit + through), 0.0)
        if np.ndim(p) == 0:
            p = float(p)
            if p <= 0 or p >= 1:
                return None if p <= 0 else miss
        mixed = miss * p  # (a new array: the rest in place)
        mixed += 1.0 - p
        return mixed

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
            every, ok = self.spectrum(node.body), parent.successes().on(self.grid, self.cols)
            succeeded = ok.spectrum(node.body)
            after, through = self.spectrum(node.fallback), 1.0
        else:  # the successes': the call's, or the fallback's after a failed call
            every = parent.base.on(self.grid, self.cols).spectrum(node.body)
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


def _pmfs(spectrum: Spectrum, size: int) -> Floats:
    """The masses per cell of a spectrum (each row's), as :attr:`Dist.pmf` reads them."""
    return np.clip(np.fft.irfft(spectrum, 2 * size)[..., :size], 0.0, None)


def _maximum(branches: list[Spectrum | None], grid: Grid) -> Spectrum:
    """The time until every branch is over (independent): the product of their
    distribution functions, as :meth:`Dist.maximum` (each row's)."""
    cdf: Floats | None = None
    for branch in branches:
        each = grid.zero().pmf if branch is None else _pmfs(branch, grid.size)
        cum = np.cumsum(each, axis=-1)
        cdf = cum if cdf is None else cdf * cum
    assert cdf is not None
    pmf = np.diff(cdf, prepend=0.0, axis=-1)
    return np.fft.rfft(pmf, 2 * grid.size)


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


def _product(parts: Iterable[Spectrum | None]) -> Spectrum | None:
    """The spectrum of a sequence: the product of its parts' (``None``: no time)."""
    out: Spectrum | None = None
    owned = False
    for part in parts:
        if part is None:
            continue
        if out is None:
            out = part
        elif owned and out.ndim >= part.ndim:  # (a row for all columns: broadcast)
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


def _single_server_services(program: Program, flows: Flows, rates: Floats,
                            hit: Callable[[CacheRead], float | Floats]
                            ) -> dict[int, list[tuple[Floats, object]]]:
    """See :attr:`_Composer.services`: single-server stations (per copy) whose wait is
    their own M/G/1 queue's — not bounded by a holder around them (they never queue, or
    their wait comes from a flow-equivalent server) — and what their service is made of,
    weighted by rate per column (``rates``: per endpoint and column, at scale 1: only
    their shares are read; ``hit``: a cache read's hit ratio, or each column's)."""
    # a group's holder solves the stations inside it as a closed network; where that is
    # the open M/G/1 after all (a pool rarely full in front of one lock), mg1_wait's check
    # of the solved mean keeps the exact shape, and drops it elsewhere
    skip = set(flows.groups)
    single = {i for i, s in enumerate(program.stations)
              if s.servers == 1 and i not in skip and i not in flows.overlapped
              and not flows.bound[i] <= s.servers}
    out: dict[int, list[tuple[Floats, object]]] = {}
    if not single:
        return out
    columns = np.ones(rates.shape[1])

    def add(station: int, rate: Floats, part: object) -> None:
        if station in single and (rate > 0).any():
            out.setdefault(station, []).append((rate * columns, part))

    def visit(node: Node, ep: int, mult: float | Floats) -> None:
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
                visit(node.miss, ep, mult * (1.0 - hit(node)))
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
