"""Every endpoint's latency distribution, in every column of a solution, on its own grid.

An endpoint's grid is wide enough for its time (from the solved mean and variance) and a
power of two wide, so that grids are shared; a caller's grid is usually coarser than its
callee's, and the callee's distribution is then rebinned onto it rather than composed
again. Each column (a load, a sample) chooses its own grids by the same rules
(:class:`Rounds`); the columns that chose the same grid are composed there together
(:class:`~designkit.estimate.spectra.GridComposer`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import NamedTuple, assert_never

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.errors import errors_of, failing_share, node_errors
from designkit.estimate.external import call_moments
from designkit.estimate.program import Program
from designkit.estimate.solve import Solution
from designkit.estimate.spectra import (
    GridComposer,
    Spectrum,
    rebin_rows,
    single_server_services,
)
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
from designkit.maths.distributions import Dist, Grid, quantile_rows

__all__ = ["Composer", "Read", "callees", "composer_of", "forked_paths", "released"]

Floats = NDArray[np.float64]


PERCENTILES = (0.5, 0.95, 0.99)
"""What :class:`Latency` reads of a distribution: p50, p95, p99."""

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


def power_of_two(horizon: float) -> float:
    """The power of two at or above ``horizon`` (grids of powers of two are shared);
    capped at the largest a double holds."""
    if not math.isfinite(horizon):
        return 2.0 ** 1023
    return 2.0 ** min(1023, math.ceil(math.log2(horizon)))


def composer_of(solution: Solution, size: int, *, ok: bool = False) -> Composer:
    """The solution's composer on grids of ``size`` cells (every request's, or with
    ``ok`` the successes'), made once.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> from designkit.estimate.solve import solve
        >>> d = dk.template("flash-sale")
        >>> s = solve(compile_design(d), d.rates())
        >>> every = composer_of(s, 2048)
        >>> every is composer_of(s, 2048), composer_of(s, 2048, ok=True).base is every
        (True, True)
    """
    key = -size if ok else size
    found = solution.composers.get(key)
    if isinstance(found, Composer):
        return found
    made = Composer(solution, size, composer_of(solution, size) if ok else None)
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
        >>> _ = composer_of(s, 2048).own(0); released(s); s.composers
        {}
    """
    for composer in solution.composers.values():
        if isinstance(composer, Composer):
            composer.grids.clear()
            composer.dists.clear()
            composer.reads.clear()
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


class LowerMean:
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


class Composer:
    """Every endpoint's distribution on its own grid, composed once — in every column of
    the solution (the samples of bands; one column for an estimate).

    An endpoint's grid is wide enough for its time (from the solved mean and variance) and
    a power of two wide, so that grids are shared; a caller's grid is usually coarser than
    its callee's, and then the callee's distribution is rebinned onto it rather than
    composed again. Each column chooses its own grids, by the same rules; the columns that
    chose the same grid are composed there together (a spectrum per column: rows).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> from designkit.estimate.solve import flows_of, trials
        >>> d = dk.template("flash-sale")
        >>> program, load = compile_design(d), d.rates()
        >>> two = Solution(program, 1.0, trials(program, load, [0.5, 1.0]),
        ...                flows_of(program, load))
        >>> first, second = Composer(two, 2048).own(0)   # one distribution per column
        >>> bool(second.quantile(0.95) > first.quantile(0.95))
        True
    """

    def __init__(self, solution: Solution, size: int, base: Composer | None = None) -> None:
        self.solution = solution
        self.size = size
        self.base = base
        """In the successes' composer (``ok``): every request's, whose waits it reads."""
        self.survival: list[float] = ([e.survival for e in errors_of(solution.program)]
                                      if base is not None else [])
        self.survivals: dict[Node, float] = {}
        self.dists: dict[int, list[Dist | None]] = {}
        self.reads: dict[int, list[Read | None]] = {}  # the dists' numbers
        self.grids: dict[tuple[Grid, tuple[int, ...]], GridComposer] = {}
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
        self.lowers: dict[int, LowerMean] = {}
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
                self._services = single_server_services(solution.program, solution.flows,
                                                         solution.rates, self.hit)
            else:
                flows = solution.flows  # (made once per workload: the scale cancels out
                # of the parts' weights)
                if flows.single_servers is None:
                    flows.single_servers = single_server_services(
                        solution.program, flows, flows.endpoint_rate[:, None], self.hit)
                self._services = flows.single_servers
        return self._services

    def hit(self, node: CacheRead) -> float | Floats:
        """A cache read's hit ratio: each column's (an array) when it is sampled."""
        if node.tag is not None and node.tag in self.hits:
            return self.hits[node.tag]
        return node.hit

    def mean(self, index: int, column: int, read: Read) -> float:
        """Endpoint ``index``'s mean in ``column`` (see :func:`endpoint_latency`), its
        distribution read as ``read``."""
        if not self.forked[index]:
            return float(self.means[index, column])
        lower = self.lowers.get(column)
        if lower is None:
            lower = self.lowers[column] = LowerMean(self.solution, column)
        return max(read.mean, lower.endpoint(index))

    def successes(self) -> Composer:
        """The successes' composer on this one's grids (itself when it is that one)."""
        return self if self.base is not None else composer_of(self.solution, self.size, ok=True)

    def through(self, node: Node) -> float:
        """The chance a part of a flow succeeds (kept per node)."""
        found = self.survivals.get(node)
        if found is None:
            callees = errors_of(self.solution.program)
            found = self.survivals[node] = node_errors(node, callees).survival
        return found

    def on(self, grid: Grid, cols: tuple[int, ...]) -> GridComposer:
        """The composer of columns ``cols`` on ``grid``."""
        key = (grid, cols)
        found = self.grids.get(key)
        if found is None:
            found = self.grids[key] = GridComposer(self, grid, cols)
        return found

    def own(self, index: int) -> list[Dist | None]:
        """Endpoint ``index`` on its own grid, per column; ``None`` where saturated."""
        found = self.dists.get(index)
        if found is not None:
            return found
        out: list[Dist | None] = [None] * self.n
        reads: list[Read | None] = [None] * self.n
        refine = not self.forked[index] and self.base is None
        rounds: dict[int, Rounds] = {}
        for k, (mean, var) in enumerate(zip(self.means[index].tolist(),
                                            self.vars[index].tolist(), strict=True)):
            if not math.isinf(mean):
                rounds[k] = Rounds(mean, var, self.size, refine)
        for _ in range(ROUNDS):
            if not rounds:
                break
            for grid, cols in grouped({k: r.grid() for k, r in rounds.items()}):
                for k, dist, read in zip(cols, *self.composed_on(grid, cols, index), strict=True):
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
                wider[k] = Grid.covering(power_of_two(
                    float(self.means[index, k]) + 100.0 * math.sqrt(self.vars[index, k])),
                    self.size)
        for grid, cols in grouped(wider):
            for k, dist, read in zip(cols, *self.composed_on(grid, cols, index), strict=True):
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

    def composed_on(self, grid: Grid, cols: tuple[int, ...], index: int
             ) -> tuple[list[Dist], list[Read]]:
        """Endpoint ``index`` composed on ``grid`` in columns ``cols``, and its numbers."""
        dists, pmfs = self.on(grid, cols).dists(index)
        return dists, reads_of(pmfs, grid.step)

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
        ``grid``; all zeros where it saturates (read-only where it is the callee's own)."""
        owns = self.own(index)
        groups: dict[tuple[object, ...], list[int]] = {}  # how, and which of cols
        for j, k in enumerate(cols):
            own = owns[k]
            how: tuple[object, ...] = ("composed",)
            if math.isinf(self.means[index, k]):
                how = ("never",)
            elif own is not None and own.grid.size == grid.size:
                ratio = grid.step / own.grid.step
                whole = round(ratio)
                if whole >= 1 and abs(ratio - whole) < 1e-9 and whole & (whole - 1) == 0:
                    how = ("rebinned", own.grid, whole)
            groups.setdefault(how, []).append(j)
        parts = [(at, self._rows(index, grid, how, [cols[j] for j in at]))
                 for how, at in groups.items()]
        if len(parts) == 1:  # (the usual case: as they are, no copy)
            return parts[0][1]
        rows = np.empty((len(cols), grid.size + 1), dtype=np.complex128)
        for at, found in parts:
            rows[at] = found
        return rows

    def _rows(self, index: int, grid: Grid, how: tuple[object, ...], cols: list[int]
              ) -> Spectrum:
        """:meth:`callee`'s rows of columns ``cols``, all got the same way (``how``)."""
        owns = self.own(index)
        if how[0] == "never":
            return np.zeros((len(cols), grid.size + 1), dtype=np.complex128)
        if how[0] == "composed":
            found = self.on(grid, tuple(cols)).endpoint(index)
            shape = (len(cols), grid.size + 1)
            return np.ones(shape, dtype=np.complex128) if found is None else (
                found if found.ndim == 2 else np.broadcast_to(found, shape))
        dists = [d for d in (owns[k] for k in cols) if d is not None]
        whole = how[2]
        if whole == 1:
            if len(dists) == 1:
                return dists[0].spectrum[None, :]
            return np.stack([d.spectrum for d in dists])
        pmfs = np.stack([d.pmf for d in dists])
        return np.fft.rfft(rebin_rows(pmfs, grid, int(whole)), 2 * grid.size)  # type: ignore[call-overload]


class Rounds:
    """One column's search for an endpoint's grid: wider while mass is left beyond it,
    finer while its cells are too coarse (see :meth:`Composer.own`)."""

    def __init__(self, mean: float, var: float, size: int, refine: bool) -> None:
        self.mean, self.var, self.refine = mean, var, refine
        self.horizon = power_of_two(max(mean + 12.0 * math.sqrt(var), 3.0 * mean, 1e-3))
        self.size, self.cells = size, MAX_CELLS
        self.allowed = 1e-4  # mass left beyond the grid
        self.too_narrow = 0.0  # the widest grid found to leave more
        self.excess = math.inf  # how much wider than the solution's variance, last round
        self.missed = math.inf  # how far its mean from the solution's, last round
        self.dist: Dist | None = None
        self.read: Read | None = None

    def grid(self) -> Grid:
        return Grid.covering(self.horizon, self.size)

    def done(self, dist: Dist, read: Read) -> bool:
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
        body = power_of_two(max(read.body, dist.grid.step))
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


def grouped(grids: Mapping[int, Grid]) -> list[tuple[Grid, tuple[int, ...]]]:
    """The columns (keys) by the grid each is on, in order."""
    groups: dict[Grid, list[int]] = {}
    for k, grid in grids.items():
        groups.setdefault(grid, []).append(k)
    return [(grid, tuple(cols)) for grid, cols in groups.items()]


class Read(NamedTuple):
    """What is read of a composed distribution: the mass beyond its grid, p50, p95, p99,
    the quantile below which all but :data:`HEAVY_TAIL` lies, its mean (``inf`` when
    saturated) and its variance (its cells' masses at their centres).

    Example:
        >>> from designkit.maths.distributions import Grid
        >>> read, = reads_of(Grid(step=0.25, size=256).exponential(4.0).pmf[None, :], 0.25)
        >>> round(read.mean, 4), round(read.p50, 3), read.tail < 1e-6
        (4.0, 2.776, True)
    """

    tail: float
    p50: float
    p95: float
    p99: float
    body: float
    mean: float
    spread: float


@functools.lru_cache(maxsize=8)
def _cells(size: int) -> Floats:
    """0, 1, …, size − 1 (read-only, kept per size)."""
    out = np.arange(size, dtype=float)
    out.flags.writeable = False
    return out


def reads_of(pmfs: Floats, step: float) -> list[Read]:
    """:class:`Read` of each distribution (rows of ``pmfs``) on a grid of ``step``."""
    t = _cells(pmfs.shape[1]) * step
    total = pmfs.sum(axis=1)
    kept = np.where(total > 0, total, 1.0)
    mean = (pmfs @ t) / kept
    centred = t - mean[:, None]
    centred *= centred
    spread = np.einsum("ij,ij->i", pmfs, centred) / kept
    tail = np.maximum(0.0, 1.0 - total)
    quantiles = quantile_rows(pmfs, (*PERCENTILES, 1.0 - HEAVY_TAIL), step)
    mean = np.where(tail > 0.5, math.inf, mean)  # (saturated)
    return [Read(*row) for row in zip(tail.tolist(), *quantiles.T.tolist(), mean.tolist(),
                                       spread.tolist(), strict=True)]
