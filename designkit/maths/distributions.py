"""Latency distributions as numbers on a grid: convolve, take maxima, mix, read quantiles.

A :class:`Dist` is a probability mass function on a uniform grid of step ``h``: cell ``i``
holds the mass of ``[(i − ½)h, (i + ½)h)``. Mass that does not fit the grid (or that is
infinite, for a saturated station) is the *tail*: ``1 − pmf.sum()``. All distributions
combined in one computation share one :class:`Grid`.

* a sequence of steps is a convolution (FFT for long grids);
* ``parallel`` branches are the maximum of independent times: the product of their CDFs;
* a cache hit/miss, a branch or a retry is a mixture.

Exact CDFs are used where they exist (exponential, M/M/c sojourn, lognormal, balanced
two-phase hyperexponential); a gamma is discretized from its density. Assumptions: the
times composed are independent. See docs/estimator.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from designkit.maths.queueing import mmc_sojourn_cdf

__all__ = ["Dist", "Grid", "balanced_h2", "quantile_rows"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Grid:
    """A uniform time grid: ``size`` cells of width ``step``.

    Example:
        >>> g = Grid.covering(40.0)
        >>> g.size, round(g.step, 6)
        (8192, 0.004883)
    """

    step: float
    size: int = 8192

    @classmethod
    def covering(cls, horizon: float, size: int = 8192) -> Grid:
        """A grid whose last cell ends at ``horizon``."""
        if not math.isfinite(horizon) or horizon <= 0:
            horizon = 1.0
        return cls(step=horizon / size, size=size)

    @property
    def edges(self) -> Array:
        """Upper edges of the cells: ``(i + ½)·h``."""
        return np.asarray((np.arange(self.size) + 0.5) * self.step, dtype=np.float64)

    # -- constructors --------------------------------------------------------------------

    def from_cdf(self, cdf: Callable[[Array], Array]) -> Dist:
        """The distribution with this CDF (vectorized), cut at the grid's end. A rate far
        beyond the grid's cells may overflow an exponent: ``e^(−∞) = 0``, quietly."""
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            values = np.asarray(cdf(self.edges), dtype=float)
        upper = np.clip(values, 0.0, 1.0)
        upper = np.maximum.accumulate(upper)
        return Dist(self, np.diff(upper, prepend=0.0))

    def point(self, value: float) -> Dist:
        """All mass at ``value`` (split between the two nearest cells, keeping the mean)."""
        if not math.isfinite(value):
            return self.never()
        pmf = np.zeros(self.size)
        x = max(value, 0.0) / self.step
        i = math.floor(x)
        frac = x - i
        if i < self.size:
            pmf[i] += 1.0 - frac
        if i + 1 < self.size:
            pmf[i + 1] += frac
        return Dist(self, pmf)

    def zero(self) -> Dist:
        """No time at all (its spectrum is all ones: no FFT needed); one per grid."""
        return _zero(self)

    def never(self) -> Dist:
        """An infinite time (a saturated station): all mass in the tail."""
        return Dist(self, np.zeros(self.size))

    @property
    def phases(self) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
        """``w = e^{−2πik/2n}`` for k = 0 … n (the frequencies of a spectrum on this grid),
        and ``w^{n−1}``; computed once per grid."""
        return _phases(self.size)

    def exponential(self, mean: float) -> Dist:
        """Exponential with this mean, built directly as a spectrum.

        Each cell holds its mass at its centre, so a time shorter than a few cells cannot
        keep both moments with the exponential's exact cell masses: its mean falls short
        (by up to half of it below a cell) or its spread grows — and either adds up over a
        sequence of short steps on a coarse grid (1,000 of them: +2 % on the p95). So the
        cells are a point mass and a geometric sequence chosen to keep the mean *and* the
        variance: with ``μ = mean / h`` cells, cell 0 holds ``p₀ = 1 / (2μ + 1)`` and cell
        i ≥ 1 holds ``(1 − p₀)(1 − q) q^{i−1}`` with ``q = (2μ − 1) / (2μ + 1)``; on a fine
        grid these are the exponential's own cell masses to O(1 / μ²). Below half a cell
        (μ < ½) no distribution on the cells has both: the mass is split between cells 0
        and 1, keeping the mean. The transform is a geometric sum in closed form (no FFT).

        Example:
            >>> g = Grid(step=1.0, size=2048)   # a coarse grid for a 2 ms step
            >>> d = g.exponential(2.0)
            >>> t = np.arange(g.size) * g.step  # the cells' centres
            >>> round(float(d.pmf @ t), 6), round(float(d.pmf @ (t - 2.0) ** 2), 6)
            (2.0, 4.0)
        """
        if mean <= 0:
            return self.zero()
        cells = mean / self.step
        if cells < 0.5:  # two cells, the mean kept
            pmf = np.zeros(self.size)
            pmf[0] = 1.0 - cells
            if self.size > 1:
                pmf[1] = cells
            return Dist(self, pmf)
        return Dist(self, spectrum=self._geometric(cells))

    def _geometric(self, cells: float, out: NDArray[np.complex128] | None = None
                   ) -> NDArray[np.complex128]:
        """The spectrum of :meth:`exponential` of ``cells ≥ ½`` cells' mean, written into
        ``out`` (or a new array)."""
        gap = 2.0 / (2.0 * cells + 1.0)  # 1 − q, kept apart: q rounds to 1 for a huge μ
        q = 1.0 - gap
        first = 1.0 / (2.0 * cells + 1.0)
        w, w_last = self.phases
        if out is None:
            out = np.empty(self.size + 1, dtype=np.complex128)
        if q <= 0.0:  # μ = ½: cells 0 and 1, half each
            np.multiply(w, 1.0 - first, out=out)
            out += first
            return out
        a = (1.0 - first) * gap / q  # cell i ≥ 1 holds a·q^i
        z = q * w
        last = math.exp((self.size - 1) * math.log1p(-gap))
        if last > 1e-300:  # the sequence is cut at the grid's end: a·z(1 − q^(n−1)w^(n−1))
            np.multiply(w_last, -last, out=out)  # / (1 − z), + first
            out += 1.0
            out *= z
            np.subtract(1.0, z, out=z)
            with np.errstate(divide="ignore", invalid="ignore"):
                out /= z
            # at frequency 0 the sum is q(1 − q^(n−1)) / (1 − q), taken without the
            # cancellation of q ≈ 1 (a mean far beyond the grid)
            out[0] = q * -math.expm1((self.size - 1) * math.log1p(-gap)) / gap
            out *= a
            out += first
            return out
        # first + a·z / (1 − z) = (first + (a − first)·z) / (1 − z), computed in place
        np.multiply(z, a - first, out=out)
        out += first
        np.subtract(1.0, z, out=z)
        out /= z
        return out

    def exponential_rows(self, means: Array) -> NDArray[np.complex128]:
        """The spectra of exponentials of several means (rows), each as
        :meth:`exponential` builds it (a mean of 0 or less: no time, all ones). Row by
        row: a row's arrays stay in the processor's fastest cache, where many rows at once
        would not (three times slower).

        Example:
            >>> g = Grid(step=1.0, size=2048)
            >>> rows = g.exponential_rows(np.array([0.2, 0.5, 2.0, 1e9]))
            >>> [round(Dist(g, spectrum=r).mean(), 6) for r in rows[:3]]
            [0.2, 0.5, 2.0]
        """
        w, _ = self.phases
        out = np.empty((len(means), self.size + 1), dtype=np.complex128)
        for row, mean in zip(out, np.asarray(means, dtype=float).tolist(), strict=True):
            cells = mean / self.step
            if cells >= 0.5:
                self._geometric(cells, row)
            elif cells > 0:  # two cells, the mean kept: (1 − μ) + μ·w
                np.multiply(w, cells, out=row)
                row += 1.0 - cells
            else:
                row[:] = 1.0
        return out

    def mmc_sojourn(self, lam: float, mu: float, c: int) -> Dist:
        """The exact sojourn time (wait + service) of FCFS M/M/c; never when saturated."""
        if lam >= c * mu:
            return self.never()
        return self.from_cdf(lambda t: np.asarray(mmc_sojourn_cdf(t, lam, mu, c)))

    def lognormal(self, m: float, s: float) -> Dist:
        """Lognormal with log-mean ``m`` and log-sd ``s``."""
        def cdf(t: Array) -> Array:
            with np.errstate(divide="ignore"):
                z = (np.log(t) - m) / (s * math.sqrt(2.0))
            return 0.5 * (1.0 + _erf(z))
        return self.from_cdf(cdf)

    def hyperexponential(self, p: float, fast: float, slow: float) -> Dist:
        """Two exponential phases: of mean ``fast`` with probability ``p``, of mean ``slow``
        otherwise (its exact CDF).

        Example:
            >>> g = Grid.covering(200.0)
            >>> round(g.hyperexponential(*balanced_h2(4.0, 3.0)).mean(), 3)
            4.0
        """
        return self.from_cdf(lambda t: 1.0 - p * np.exp(-t / fast)
                             - (1.0 - p) * np.exp(-t / slow))

    def gamma(self, shape: float, scale: float) -> Dist:
        """Gamma with ``shape > 1``: each cell's mass by Simpson's rule on the density.

        A gamma narrow against the cells is integrated on sub-cells of its own width (at
        least eight per standard deviation), over its mean ± 40 standard deviations, so no
        mass falls between the points; one narrower than 1/64 of a cell is a point at its
        mean. When all of it lies on the grid its mass is exactly 1.

        Example:
            >>> g = Grid(step=1.0, size=2048)
            >>> round(float(g.gamma(2.0, 0.0005).pmf.sum()), 12), round(g.gamma(4.0, 2.5).mean(), 3)
            (1.0, 10.0)
        """
        mean, sd = shape * scale, scale * math.sqrt(shape)
        h = self.step
        if sd < h / 64.0:
            return self.point(mean)
        per_cell = min(512, max(1, math.ceil(8.0 * h / sd)))
        first = max(0, math.floor((mean - 40.0 * sd) / h + 0.5))
        last = min(self.size, math.ceil((mean + 40.0 * sd) / h + 0.5) + 1)
        if first >= self.size:
            return self.never()
        cells = np.arange(first, last)
        lower = np.maximum((cells - 0.5) * h, 0.0)
        width = (cells + 0.5) * h - lower
        # 2·per_cell + 1 points per cell: composite Simpson over per_cell sub-cells
        fractions = np.arange(2 * per_cell + 1) / (2.0 * per_cell)
        x = lower[:, None] + width[:, None] * fractions[None, :]
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            log_pdf = ((shape - 1.0) * np.log(x) - x / scale
                       - math.lgamma(shape) - shape * math.log(scale))
            pdf = np.where(x > 0, np.exp(log_pdf), 0.0)
        weights = np.ones(2 * per_cell + 1)
        weights[1:-1:2] = 4.0
        weights[2:-1:2] = 2.0
        mass = pdf @ weights * width / (6.0 * per_cell)
        if first == 0:  # x^(shape−1) near 0 defeats Simpson: the first sub-cell exactly
            edge = width[0] / per_cell
            simpson = (4.0 * pdf[0, 1] + pdf[0, 2]) * edge / 6.0
            mass[0] += _gamma_head(shape, edge / scale) - simpson
        pmf = np.zeros(self.size)
        pmf[first:last] = mass
        total = float(pmf.sum())
        inside = (mean + 40.0 * sd) / h + 0.5 < self.size
        if total > 0 and (inside or total > 1.0):
            pmf /= total
        return Dist(self, pmf)

    def waiting(self, p_wait: float, mean_wait: float) -> Dist:
        """A queue wait: 0 with probability ``1 − p_wait``, else exponential.

        The conditional wait is exponential with mean ``mean_wait / p_wait`` — exact for
        M/M/c; the Allen–Cunneen mean otherwise. A chance of waiting below 10⁻¹² shows in no
        percentile: such a wait is none.
        """
        if not math.isfinite(mean_wait):
            return self.never()
        if p_wait < 1e-12 or mean_wait <= 0:
            return self.zero()
        return Dist(self, spectrum=self.waiting_rows(np.array([float(p_wait)]),
                                                     np.array([float(mean_wait)]))[0])

    def waiting_rows(self, p_wait: Array, mean_wait: Array) -> NDArray[np.complex128]:
        """The spectra of several queue waits (rows), each as :meth:`waiting` makes it: no
        wait is all ones, an infinite one (a saturated station) all zeros.

        Example:
            >>> g = Grid(step=0.5, size=2048)
            >>> rows = g.waiting_rows(np.array([0.5, 0.0]), np.array([2.0, 1.0]))
            >>> round(Dist(g, spectrum=rows[0]).mean(), 6), bool((rows[1] == 1).all())
            (2.0, True)
        """
        p_wait = np.asarray(p_wait, dtype=float)
        mean_wait = np.asarray(mean_wait, dtype=float)
        never = ~np.isfinite(mean_wait)
        live = ~never & (p_wait >= 1e-12) & (mean_wait > 0)
        p = p_wait[live]
        spectra = self.exponential_rows(mean_wait[live] / p)
        spectra *= p[:, None]
        spectra += (1.0 - p)[:, None]
        if live.all():  # (the usual case: no second array)
            return spectra
        out = np.ones((len(p_wait), self.size + 1), dtype=np.complex128)
        out[never] = 0.0
        out[live] = spectra
        return out


def balanced_h2(mean: float, scv: float) -> tuple[float, float, float]:
    """The two-phase hyperexponential with balanced means of this mean and ``scv > 1``:
    the probability ``p`` of the fast phase and the means of both phases.

    ``p = ½(1 + r)``, ``r = √((scv − 1)/(scv + 1))``; ``1 − p = (1/(scv + 1)) / (1 + r)``
    without cancellation, so a huge scv keeps a slow phase (of mean ``mean / 2(1 − p)``).

    Example:
        >>> balanced_h2(1.0, 3.0)   # p = ½(1 + 1/√2)
        (0.8535533905932737, 0.585786437626905, 3.414213562373095)
    """
    r = math.sqrt((scv - 1.0) / (scv + 1.0))
    slow_share = 1.0 / (scv + 1.0) / (1.0 + r)
    return 1.0 - slow_share, mean / (2.0 * (1.0 - slow_share)), mean / (2.0 * slow_share)


class Dist:
    """A distribution of time on a :class:`Grid`.

    It lives in the time domain (a pmf) or the frequency domain (the FFT of the pmf
    zero-padded to twice the grid), converted lazily: sequences and mixtures stay in the
    frequency domain (a convolution is a product there), maxima and quantiles need the pmf.

    Example:
        >>> g = Grid.covering(60.0)
        >>> d = g.exponential(4.0)
        >>> round(d.quantile(0.95), 3), round(d.mean(), 3)
        (11.983, 4.0)
    """

    __slots__ = ("_pmf", "_spectrum", "grid", "zero")

    def __init__(self, grid: Grid, pmf: Array | None = None,
                 spectrum: NDArray[np.complex128] | None = None) -> None:
        if pmf is None and spectrum is None:
            raise ValueError("a distribution needs a pmf or a spectrum")
        self.grid = grid
        self._pmf = pmf
        self._spectrum = spectrum
        self.zero = False
        """No time at all (adding it changes nothing)."""

    @property
    def pmf(self) -> Array:
        """Mass per cell (the tail is what is missing from 1)."""
        if self._pmf is None:
            assert self._spectrum is not None
            n = self.grid.size
            self._pmf = np.clip(np.fft.irfft(self._spectrum, 2 * n)[:n], 0.0, None)
        return self._pmf

    @property
    def spectrum(self) -> NDArray[np.complex128]:
        """FFT of the pmf zero-padded to twice the grid (so sums do not wrap around)."""
        if self._spectrum is None:
            self._spectrum = np.fft.rfft(self.pmf, 2 * self.grid.size)
        return self._spectrum

    # -- reading -------------------------------------------------------------------------

    @property
    def tail(self) -> float:
        """Mass beyond the grid (infinite for a saturated station)."""
        return max(0.0, 1.0 - float(self.pmf.sum()))

    @property
    def saturated(self) -> bool:
        """All (or nearly all) of the time is infinite."""
        return self.tail > 0.5

    def mean(self) -> float:
        """The mean; ``inf`` when saturated. A trace of mass beyond the grid is ignored
        (the grid is chosen to hold all but 10⁻⁴ of it)."""
        if self.saturated:
            return math.inf
        total = float(self.pmf.sum())
        return float(np.dot(np.arange(self.grid.size) * self.grid.step, self.pmf)) / total

    @property
    def cumulative(self) -> Array:
        """Mass up to the end of each cell (computed when asked: a design's thousands of
        endpoint distributions do not each keep a second array)."""
        return np.cumsum(self.pmf)

    def cdf(self, t: float) -> float:
        """P(time <= t), interpolated between cell edges."""
        cum = self.cumulative
        x = t / self.grid.step - 0.5
        if x < 0:
            return float(cum[0] * max(0.0, (t / self.grid.step + 0.5)))
        i = math.floor(x)
        if i + 1 >= self.grid.size:
            return float(cum[-1])
        return float(cum[i] + (cum[i + 1] - cum[i]) * (x - i))

    def quantile(self, q: float) -> float:
        """The ``q``-quantile; ``inf`` when it lies beyond the grid (saturation).

        The CDF is taken as linear inside each cell.
        """
        return self.quantiles((q,))[0]

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """Several quantiles at once (one pass over the cells), each as :meth:`quantile`.

        Example:
            >>> d = Grid(step=0.25, size=256).exponential(4.0)
            >>> d.quantiles((0.5, 0.95)) == [d.quantile(0.5), d.quantile(0.95)]
            True
        """
        found: list[float] = quantile_rows(self.pmf[None, :], qs, self.grid.step)[0].tolist()
        return found

    # -- combining -----------------------------------------------------------------------

    def truncate(self, limit: float) -> Dist:
        """The time cut at ``limit``: mass beyond it (the tail included) moves to ``limit``.

        Example:
            >>> g = Grid.covering(10.0)
            >>> round(g.exponential(1.0).truncate(1.0).mean(), 3)   # 1 - e^-1
            0.632
        """
        cut = max(limit, 0.0) / self.grid.step
        i = math.floor(cut + 0.5)
        if i >= self.grid.size:
            return self
        kept = self.pmf.copy()
        kept[i:] = 0.0
        return Dist(self.grid, kept + self.grid.point(limit).pmf * (1.0 - kept.sum()))

    def __add__(self, other: Dist) -> Dist:
        """The time of ``self`` then ``other`` (independent): a convolution."""
        _same_grid(self, other)
        if other.zero:
            return self
        if self.zero:
            return other
        return Dist(self.grid, spectrum=self.spectrum * other.spectrum)

    @staticmethod
    def maximum(dists: Iterable[Dist]) -> Dist:
        """The time until all of several independent times are over (parallel branches)."""
        items = list(dists)
        if not items:
            raise ValueError("maximum of no distributions")
        for other in items[1:]:
            _same_grid(items[0], other)
        cdf = np.prod([np.cumsum(d.pmf) for d in items], axis=0)
        return Dist(items[0].grid, np.diff(cdf, prepend=0.0))

    @staticmethod
    def mixture(parts: Iterable[tuple[float, Dist]]) -> Dist:
        """With probability ``w`` the time is ``d`` (weights are normalised)."""
        items = [(w, d) for w, d in parts if w > 0]
        if not items:
            raise ValueError("mixture of no distributions")
        total = sum(w for w, _ in items)
        for _, other in items[1:]:
            _same_grid(items[0][1], other)
        grid = items[0][1].grid
        if all(d._pmf is not None for _, d in items):
            return Dist(grid, np.asarray(sum((w / total) * d.pmf for w, d in items),
                                         dtype=float))
        return Dist(grid, spectrum=np.asarray(sum((w / total) * d.spectrum for w, d in items)))

    def __repr__(self) -> str:
        if self.saturated:
            return "Dist(saturated)"
        return (f"Dist(mean={self.mean():.4g}, p50={self.quantile(0.5):.4g}, "
                f"p95={self.quantile(0.95):.4g}, p99={self.quantile(0.99):.4g})")


def quantile_rows(pmfs: Array, qs: tuple[float, ...], step: float) -> Array:
    """Quantiles ``qs`` (columns) of distributions on one grid (rows of ``pmfs``), each as
    :meth:`Dist.quantiles` reads them: the CDF linear inside each cell, ``inf`` beyond the
    grid.

    Example:
        >>> g = Grid(step=0.25, size=256)
        >>> rows = np.stack([g.exponential(4.0).pmf, g.exponential(2.0).pmf])
        >>> np.round(quantile_rows(rows, (0.5,), g.step)[:, 0], 3).tolist()
        [2.776, 1.389]
    """
    cum = np.cumsum(pmfs, axis=1)
    count, size = cum.shape
    wanted = np.asarray(qs, dtype=float)[None, :]
    if count == 1:  # (the first cell reaching q: a binary search)
        index = np.minimum(np.searchsorted(cum[0], qs, side="left"), size - 1)[None, :]
        below = np.where(index > 0, cum[0][index - 1], 0.0)
        mass = pmfs[0][index]
    else:
        index = np.minimum(np.stack([(cum < q).sum(axis=1) for q in qs], axis=1), size - 1)
        rows = np.arange(count)[:, None]
        below = np.where(index > 0, cum[rows, index - 1], 0.0)
        mass = pmfs[rows, index]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(mass > 0, (wanted - below) / mass, 0.0)
    out = np.maximum(0.0, (index - 0.5 + frac) * step)
    return np.where(cum[:, -1:] < wanted - 1e-12, math.inf, out)


def _gamma_head(shape: float, x: float) -> float:
    """P(shape, x), the gamma distribution function at ``x`` (in units of its scale), by
    its power series ``xᵏ e⁻ˣ / Γ(k + 1) · Σₙ xⁿ / ((k + 1)…(k + n))`` — for the first
    sub-cell of a cell, where ``x`` is small."""
    log_lead = shape * math.log(x) - x - math.lgamma(shape + 1.0) if x > 0 else -math.inf
    if log_lead < -745.0:
        return 0.0
    term = total = 1.0
    for n in range(1, 200):
        term *= x / (shape + n)
        total += term
        if term < 1e-17 * total:
            break
    return min(1.0, math.exp(log_lead) * total)


@functools.lru_cache(maxsize=64)
def _zero(grid: Grid) -> Dist:
    """The zero time on ``grid``, shared: its arrays are read-only, so no caller can
    change it for the others."""
    pmf = np.zeros(grid.size)
    pmf[0] = 1.0
    spectrum = np.ones(grid.size + 1, dtype=np.complex128)
    pmf.flags.writeable = spectrum.flags.writeable = False
    dist = Dist(grid, pmf, spectrum)
    dist.zero = True
    return dist


@functools.lru_cache(maxsize=8)
def _phases(size: int) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    k = np.arange(size + 1)
    w: NDArray[np.complex128] = np.exp(-2j * np.pi * k / (2 * size))
    w_last: NDArray[np.complex128] = np.exp(-2j * np.pi * k * (size - 1) / (2 * size))
    w.flags.writeable = w_last.flags.writeable = False  # shared by every grid of this size
    return w, w_last


def _same_grid(a: Dist, b: Dist) -> None:
    if a.grid != b.grid:
        raise ValueError("distributions on different grids cannot be combined")


def _erf(x: Array) -> Array:
    """Error function, vectorized (Abramowitz & Stegun 7.1.26 refined: |error| < 1.2e-7).

    Uses the complementary-error Chebyshev fit of Numerical Recipes (erfcc).
    """
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (
        0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (
            1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)
