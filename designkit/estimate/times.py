"""A time of the model (number, ``{mean, scv}``, ``{p50, p95}``) as the estimator uses it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from designkit.estimate.distributions import Dist, Grid
from designkit.estimate.queueing import lognormal_from_percentiles, lognormal_moments
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
