"""A time of the model (number, ``{mean, scv}``, ``{p50, p95}``) as the estimator uses it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from designkit.maths.distributions import Dist, Grid, balanced_h2
from designkit.maths.queueing import lognormal_from_percentiles, lognormal_moments
from designkit.model.times import Time

__all__ = ["Spec"]


@dataclass(frozen=True)
class Spec:
    """Mean, scv and shape of a time in ms; lognormal parameters when fitted to percentiles.

    Example:
        >>> from designkit.model.times import Time
        >>> s = Spec.of(Time(p50=120, p95=400))
        >>> (round(s.mean, 1), s.shape)
        (156.9, 'lognormal')
        >>> Spec.of(Time(mean=2)).scaled(3).mean
        6.0
    """

    mean: float
    scv: float = 1.0
    shape: str = "moments"  # moments | lognormal
    m: float = 0.0
    s: float = 0.0

    @classmethod
    def of(cls, time: Time | None, default_ms: float = 0.0) -> Spec:
        """The spec of a model time (``None`` → a constant ``default_ms``, 0 by default)."""
        if time is None:
            return cls(default_ms, 0.0 if default_ms == 0 else 1.0)
        if time.mean is not None:
            return cls(time.mean, 1.0 if time.scv is None else time.scv)
        assert time.p50 is not None and time.p95 is not None
        m, s = lognormal_from_percentiles(time.p50, time.p95)
        mean, scv = lognormal_moments(m, s)
        return cls(mean, scv, "lognormal", m, s)

    @classmethod
    def exponential(cls, mean: float) -> Spec:
        """An exponential time (a derived query time, by default)."""
        return cls(mean, 1.0 if mean > 0 else 0.0)

    @property
    def var(self) -> float:
        """Variance (ms²)."""
        return self.scv * self.mean * self.mean

    def scaled(self, factor: float) -> Spec:
        """The same shape, ``factor`` times slower."""
        return Spec(self.mean * factor, self.scv, self.shape, self.m + math.log(factor)
                    if self.shape == "lognormal" else self.m, self.s)

    def dist(self, grid: Grid) -> Dist:
        """The time as a distribution on ``grid``."""
        if self.shape == "lognormal":
            return grid.lognormal(self.m, self.s)
        return grid.with_moments(self.mean, self.scv)

    def cut(self, limit: float | None) -> tuple[float, float, float]:
        """The time cut at ``limit`` (a timeout): ``P(time > limit)``, ``E[min(time,
        limit)]`` and ``E[min(time, limit)²]``.

        In closed form for a constant, an exponential, the hyperexponential (scv > 1) and
        the lognormal; for a gamma (0 < scv < 1) by its cells on a grid of the cut.

        Example:
            >>> p, m1, m2 = Spec(10.0).cut(10.0)   # exponential, mean 10, cut at its mean
            >>> round(p, 6), round(m1, 6), round(m2, 4)   # e⁻¹, 10(1 − e⁻¹), 200(1 − 2e⁻¹)
            (0.367879, 6.321206, 52.8482)
        """
        mean = self.mean
        if limit is None or not math.isfinite(limit) or mean <= 0:
            return 0.0, mean, self.var + mean * mean
        t = max(limit, 0.0)
        if self.shape == "lognormal":
            return _lognormal_cut(self.m, self.s, t)
        if self.scv <= 1e-9:
            return (1.0, t, t * t) if mean > t else (0.0, mean, mean * mean)
        if abs(self.scv - 1.0) < 1e-9:
            return _exponential_cut(mean, t)
        if self.scv > 1.0:
            p, fast_mean, slow_mean = balanced_h2(mean, self.scv)
            fast, slow = _exponential_cut(fast_mean, t), _exponential_cut(slow_mean, t)
            return (p * fast[0] + (1 - p) * slow[0], p * fast[1] + (1 - p) * slow[1],
                    p * fast[2] + (1 - p) * slow[2])
        if t >= mean * (1.0 + 40.0 * math.sqrt(self.scv)):  # beyond the gamma's reach
            return 0.0, mean, self.var + mean * mean
        grid = Grid.covering(t * 1.01, 8192)
        whole = grid.gamma(1.0 / self.scv, mean * self.scv)
        over = max(0.0, 1.0 - whole.cdf(t))
        kept = whole.truncate(t).pmf
        x = np.arange(grid.size) * grid.step
        return over, float(np.dot(x, kept)), float(np.dot(x * x, kept))


def _exponential_cut(mean: float, t: float) -> tuple[float, float, float]:
    """:meth:`Spec.cut` of an exponential with this mean."""
    x = t / mean
    survive = math.exp(-x)
    if x < 0.1:  # E[min²] = 2μ²(1 − e⁻ˣ(1 + x)) = 2t² Σₖ₌₂ (−1)ᵏ (k − 1) xᵏ⁻² / k!
        term, rest = 0.5, 0.5  # k = 2
        for k in range(3, 18):
            term *= -x / k
            rest += (k - 1) * term
        second = 2.0 * t * t * rest
    else:
        second = 2.0 * mean * mean * (-math.expm1(-x) - x * survive)
    return survive, -mean * math.expm1(-x), second


def _lognormal_cut(m: float, s: float, t: float) -> tuple[float, float, float]:
    """:meth:`Spec.cut` of the lognormal with log-mean ``m`` and log-sd ``s``:
    ``E[Lʲ; L ≤ t] = e^(jm + j²s²/2) Φ((ln t − m − js²)/s)``."""
    if t <= 0:
        return 1.0, 0.0, 0.0
    z = (math.log(t) - m) / s
    over = 0.5 * math.erfc(z / math.sqrt(2.0))
    moments = []
    for j in (1, 2):
        below = 0.5 * math.erfc(-(z - j * s) / math.sqrt(2.0))
        moments.append(_exp(j * m + j * j * s * s / 2.0) * below if below > 0 else 0.0)
    return over, moments[0] + t * over, moments[1] + t * t * over


def _exp(x: float) -> float:
    """``e^x``, ``inf`` instead of an OverflowError."""
    return math.exp(x) if x < 709.0 else math.inf
