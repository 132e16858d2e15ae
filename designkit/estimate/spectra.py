"""Endpoints composed on one grid as spectra, a row per column.

A :class:`GridComposer` composes the endpoints of some columns of a solution (the loads of
a curve, the samples of bands; one column for an estimate) on one grid: a sequence is a
product of spectra, a mixture a weighted sum, a repeat a power, parallel branches the
product of their distribution functions. A station's wait is exact for a single server
with Poisson arrivals (Beneš, from its service composed on the grid), exponential with the
solved mean elsewhere; a callee is its own distribution rebinned onto the caller's grid
(:func:`rebin_rows`). Which grid each column's endpoint is composed on is
:mod:`~designkit.estimate.composer`'s.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple, assert_never

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.errors import failing_share
from designkit.estimate.external import call_dist, settings
from designkit.estimate.flows import Flows
from designkit.estimate.program import KEPT_CELLS, Program
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
)
from designkit.flow.times import Exponential, Spec
from designkit.maths.distributions import Dist, Grid

if TYPE_CHECKING:
    from designkit.estimate.composer import Composer

__all__ = ["GridComposer", "Spectrum", "rebin_rows", "single_server_services"]

Floats = NDArray[np.float64]


Spectrum = NDArray[np.complex128]
"""A distribution's transform (:attr:`Dist.spectrum`); in a composer, one row per column
(a time the same in every column: one row for all)."""

KEPT_WAITS = 64
"""Waits a grid's composer keeps, the most recently used, while they hold no more than
:data:`KEPT_WAIT_CELLS` (recomputing one gives the same numbers)."""

KEPT_WAIT_CELLS = 1 << 21
"""Cells of waits a grid's composer keeps at most (32 MB: 64 waits of 16 columns on 2,048
cells, 16 of one column on 131,072)."""


class GridComposer:
    """Composes endpoints on one grid as spectra, for some columns (``None``: no time at
    all); a sequence is a product, a mixture a weighted sum, a repeat a power — on bare
    arrays, since an endpoint is a few dozen such products and wrapping each in a
    :class:`Dist` cost more than it. A spectrum has a row per column, or is one row (a
    time of the design: the same in every column).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.composer import composer_of
        >>> from designkit.estimate.program import compile_design
        >>> from designkit.estimate.solve import solve
        >>> d = dk.template("flash-sale")
        >>> composer = composer_of(solve(compile_design(d), d.rates()), 2048)
        >>> on = composer.on(Grid.covering(64.0, 2048), (0,))
        >>> dists, pmfs = on.dists(0)
        >>> pmfs.shape, round(float(pmfs.sum()), 6)
        ((1, 2048), 1.0)
    """

    def __init__(self, parent: Composer, grid: Grid, cols: tuple[int, ...]) -> None:
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
        self.held = 0  # waits kept (not None)
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
            self.held += 1
            while (self.kept > KEPT_WAIT_CELLS or self.held > KEPT_WAITS) and len(waits) > 1:
                _, dropped = waits.popitem(last=False)
                if dropped is not None:
                    self.kept -= dropped.size
                    self.held -= 1
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
                                               else pmfs_of(spectrum, n))
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
        cells = pmfs_of(spectrum, n)
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
            return product([self.time(ep.cpu), self.spectrum(ep.steps)]) if ep.blocking \
                else self.time(ep.cpu)
        if isinstance(part, Run):
            return self.run(part.endpoint)
        if isinstance(part, Hold):
            return product([self.spectrum(part.body), self.time(part.extra)])
        assert isinstance(part, Spec)
        return self.time(part)

    def time(self, spec: Spec) -> Spectrum | None:
        if spec not in self.times:
            self.times[spec] = time_spectrum(self.solution.program, self.grid, spec)
        return self.times[spec]

    def endpoint(self, index: int) -> Spectrum | None:
        if index not in self.memo:
            ep = self.solution.program.endpoints[index]
            total = self.run(index)
            if ep.consume is not None:
                total = product([self.wait(ep.consume), total])
            self.memo[index] = total
        return self.memo[index]

    def dists(self, index: int) -> tuple[list[Dist], Floats]:
        """Endpoint ``index`` in each column, as distributions, and their masses per cell
        (a row per column)."""
        total = self.endpoint(index)
        m = len(self.cols)
        if total is None or total.ndim == 1:  # the same in every column
            dist = self.grid.zero() if total is None else Dist(
                self.grid, pmfs_of(total, self.grid.size), total)
            return [dist] * m, np.broadcast_to(dist.pmf, (m, self.grid.size))
        pmfs = pmfs_of(total, self.grid.size)
        return [Dist(self.grid, pmf, spectrum) for pmf, spectrum in zip(pmfs, total,
                                                                         strict=True)], pmfs

    def run(self, index: int) -> Spectrum | None:
        """An endpoint's run once a consumer has taken its message: the wait for a
        worker, its cpu and its steps."""
        ep = self.solution.program.endpoints[index]
        return product([self.wait(ep.workers), self.time(ep.cpu), self.spectrum(ep.steps)])

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
                return product(self.spectrum(item) for item in node.items)
            case Visit():
                return power(product([self.wait(node.station), self.time(node.time)]),
                              node.count)
            case Hold():
                return product([self.wait(node.station), self.spectrum(node.body),
                                 self.time(node.extra)])
            case Invoke():
                return power(parent.callee(node.endpoint, self.grid, self.cols),
                              node.count)
            case CacheRead():
                return product([self.spectrum(node.visit), self.missed(node)])
            case ExternalCall():
                return power(self.call(node), node.count)
            case Publish():
                return power(self.spectrum(node.waited), node.count)
            case Loop():
                return power(self.spectrum(node.body), node.count)
            case Delay():
                return self.time(node.time)
            case Par():
                return maximum_of([self.spectrum(b) for b in node.branches], self.grid)
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


def pmfs_of(spectrum: Spectrum, size: int) -> Floats:
    """The masses per cell of a spectrum (each row's), as :attr:`Dist.pmf` reads them."""
    return np.clip(np.fft.irfft(spectrum, 2 * size)[..., :size], 0.0, None)


def maximum_of(branches: list[Spectrum | None], grid: Grid) -> Spectrum:
    """The time until every branch is over (independent): the product of their
    distribution functions, as :meth:`Dist.maximum` (each row's)."""
    cdf: Floats | None = None
    for branch in branches:
        each = grid.zero().pmf if branch is None else pmfs_of(branch, grid.size)
        cum = np.cumsum(each, axis=-1)
        cdf = cum if cdf is None else cdf * cum
    assert cdf is not None
    pmf = np.diff(cdf, prepend=0.0, axis=-1)
    return np.fft.rfft(pmf, 2 * grid.size)


def time_spectrum(program: Program, grid: Grid, spec: Spec) -> Spectrum | None:
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


def product(parts: Iterable[Spectrum | None]) -> Spectrum | None:
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


def power(spectrum: Spectrum | None, count: float) -> Spectrum | None:
    """``count`` copies one after another; a fractional count mixes ⌊n⌋ and ⌈n⌉.

    The ``n``-th power by squaring: about ``2·log₂ n`` products, not ``n`` — 33 for a loop
    of 100,000 iterations (the most a count may be). A fuzzed design of retried calls in
    loops of 33 and 4 composed its slowest endpoint in 0.17 s instead of 0.29."""
    if spectrum is None or count == 1.0:
        return spectrum
    if count <= 0:
        return None
    whole = math.floor(count)
    frac = count - whole
    base = _whole_power(spectrum, whole) if whole else None
    if frac < 1e-12:
        return base
    longer = spectrum if base is None else base * spectrum
    return (1.0 - frac) * (1.0 if base is None else base) + frac * longer


def _whole_power(spectrum: Spectrum, n: int) -> Spectrum:
    """``spectrum`` to the power ``n ≥ 1`` by squaring (a new array unless ``n`` is 1;
    ``spectrum`` itself is never written)."""
    out: Spectrum | None = None
    square = spectrum
    while True:
        if n & 1:
            out = square if out is None else out * square
        n >>= 1
        if not n:
            assert out is not None
            return out
        square = square * square


def rebin_rows(pmfs: Floats, grid: Grid, ratio: int) -> Floats:
    """Distributions (rows of ``pmfs``) on ``grid``, whose cells are ``ratio`` (a power of
    two) of theirs wide.

    Each fine cell's mass is taken as uniform over the cell: a fine cell on the border of
    two coarse cells gives half to each. The trace beyond the fine grid (at most 10⁻⁴: the
    grid was chosen so) is left out, as :meth:`Dist.mean` does, so that it does not add up
    over a chain of calls.

    Example:
        >>> fine = np.array([[0.25, 0.25, 0.5, 0.0]])
        >>> rebin_rows(fine, Grid(step=2.0, size=4), 2).tolist()   # [-1, 1), [1, 3)…
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


def rebin(dist: Dist, grid: Grid, ratio: int) -> Dist:
    """``dist`` on ``grid``, whose cells are ``ratio`` of its cells wide (see
    :func:`rebin_rows`)."""
    return Dist(grid, rebin_rows(dist.pmf[None, :], grid, ratio)[0])


class Run(NamedTuple):
    """A part of a queue's consumers' service: its handler's whole run."""

    endpoint: int


def single_server_services(program: Program, flows: Flows, rates: Floats,
                            hit: Callable[[CacheRead], float | Floats]
                            ) -> dict[int, list[tuple[Floats, object]]]:
    """See :attr:`Composer.services`: single-server stations (per copy) whose wait is
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
            add(ep.consume, rates[i], Run(i))
        visit(ep.steps, i, 1.0)
    return {station: parts for station, parts in out.items() if station in single}
