"""A time of the model (number, ``{mean, scv}``, ``{p50, p95}``) as the estimator and the
simulator use it: one frozen class per shape.

* :class:`Constant` (scv 0), :class:`Exponential` (scv 1), :class:`Gamma` (0 < scv < 1),
  :class:`HyperExponential` (scv > 1: two phases with balanced means) and
  :class:`Lognormal` (fitted to a p50 and a p95);
* each owns its moments (``mean``, ``scv``, ``var``), its distribution on a grid
  (``dist``), its sampler for the simulation (``sampler``), its cut at a timeout (``cut``)
  and itself slowed down (``scaled``) — the estimator and the simulator use the same
  object, so they cannot disagree on what a time is;
* :class:`Spec` is their base: ``Spec(mean, scv)`` is the shape of those moments
  (:func:`shape_of`), ``Spec.of(time)`` the shape of a model time. :data:`Shape` is the
  closed union of the five, to ``match`` on with ``assert_never``.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

import numpy as np

from designkit.maths.distributions import Dist, Grid, balanced_h2
from designkit.maths.queueing import lognormal_from_percentiles, lognormal_moments
from designkit.model.times import Time

__all__ = ["BLOCK", "Constant", "Exponential", "Gamma", "HyperExponential", "Lognormal",
           "Sampler", "Shape", "Spec", "TwoPoint", "in_blocks", "scaled_time", "shape_of"]

Sampler = Callable[[], float]
"""One draw after another of a time (ms), for the simulation."""

BLOCK = 4096
"""Draws made at once by :func:`in_blocks`."""

_EXACT = 1e-9
"""An scv this close to 0 is a constant, this close to 1 an exponential."""


class _Shaped(ABCMeta):
    """Calling :class:`Spec` itself builds the shape of the moments given; calling a shape
    builds that shape. (Abstract: a shape must give each abstract method of Spec.)"""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Spec:
            return shape_of(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class Spec(metaclass=_Shaped):
    """A time in ms with its shape: the base of :class:`Constant`, :class:`Exponential`,
    :class:`Gamma`, :class:`HyperExponential` and :class:`Lognormal`.

    ``Spec(mean, scv=1.0)`` is the shape of these moments (:func:`shape_of`).

    Attributes:
        mean: Mean (ms).
        scv: Squared coefficient of variation (0 constant, 1 exponential).

    Example:
        >>> Spec(10.0), Spec(10.0, 0.0), Spec(10.0, 0.5)
        (Exponential(mean=10.0), Constant(mean=10.0), Gamma(mean=10.0, scv=0.5))
        >>> Spec(10.0, 4.0), isinstance(Spec(10.0, 4.0), Spec)
        (HyperExponential(mean=10.0, scv=4.0), True)
        >>> s = Spec.of(Time(p50=120, p95=400))
        >>> type(s).__name__, round(s.mean, 1)
        ('Lognormal', 156.9)
        >>> Spec.of(Time(mean=2)).scaled(3).mean
        6.0
    """

    __slots__ = ()

    mean: float
    scv: float

    if TYPE_CHECKING:  # at run time the metaclass makes the shape (see _Shaped)
        def __new__(cls, mean: float, scv: float = 1.0) -> Spec: ...

    @staticmethod
    def of(time: Time | None, default_ms: float = 0.0) -> Shape:
        """The shape of a model time (``None`` → a constant ``default_ms``, 0 by default —
        exponential when ``default_ms`` is not 0).

        Example:
            >>> Spec.of(Time(mean=5, scv=0.25)), Spec.of(None), Spec.of(None, 3.0)
            (Gamma(mean=5.0, scv=0.25), Constant(mean=0.0), Exponential(mean=3.0))
        """
        if time is None:
            return shape_of(default_ms, 0.0 if default_ms == 0 else 1.0)
        if time.mean is not None:
            return shape_of(time.mean, 1.0 if time.scv is None else time.scv)
        assert time.p50 is not None and time.p95 is not None
        return Lognormal.fitted(time.p50, time.p95)

    @staticmethod
    def exponential(mean: float) -> Constant | Exponential:
        """An exponential time (a derived query time, by default); none when ``mean`` is 0.

        Example:
            >>> Spec.exponential(4.0), Spec.exponential(0.0)
            (Exponential(mean=4.0), Constant(mean=0.0))
        """
        return Exponential(mean) if mean > 0 else Constant(mean)

    @property
    def var(self) -> float:
        """Variance (ms²)."""
        return self.scv * self.mean * self.mean

    @abstractmethod
    def scaled(self, factor: float) -> Spec:
        """The same shape, ``factor`` (> 0) times slower."""

    @abstractmethod
    def dist(self, grid: Grid) -> Dist:
        """The time as a distribution on ``grid``."""

    @abstractmethod
    def sampler(self, rng: np.random.Generator) -> Sampler:
        """Draws of the time from ``rng``, made in blocks (:func:`in_blocks`)."""

    def cut(self, limit: float | None) -> tuple[float, float, float]:
        """The time cut at ``limit`` (a timeout): ``P(time > limit)``, ``E[min(time,
        limit)]`` and ``E[min(time, limit)²]``; without a (finite) limit, 0 and the time's
        own first two moments.

        In closed form for a constant, an exponential, the hyperexponential and the
        lognormal; for a gamma by its cells on a grid of the cut.

        Example:
            >>> p, m1, m2 = Spec(10.0).cut(10.0)   # exponential, mean 10, cut at its mean
            >>> round(p, 6), round(m1, 6), round(m2, 4)   # e⁻¹, 10(1 − e⁻¹), 200(1 − 2e⁻¹)
            (0.367879, 6.321206, 52.8482)
        """
        mean = self.mean
        if limit is None or not math.isfinite(limit) or mean <= 0:
            return 0.0, mean, self.var + mean * mean
        return self._cut(max(limit, 0.0))

    @abstractmethod
    def _cut(self, t: float) -> tuple[float, float, float]:
        """:meth:`cut` at a finite ``t ≥ 0`` of a time with a positive mean."""


@final
@dataclass(frozen=True, slots=True)
class Constant(Spec):
    """Always ``mean`` ms (none at all when it is 0).

    Example:
        >>> Constant(2.0).var, Constant(2.0).cut(1.5)
        (0.0, (1.0, 1.5, 2.25))
    """

    mean: float
    scv: float = field(default=0.0, init=False, repr=False, compare=False)

    def scaled(self, factor: float) -> Constant:
        return Constant(self.mean * factor)

    def dist(self, grid: Grid) -> Dist:
        return grid.zero() if self.mean <= 0 else grid.point(self.mean)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        value = max(self.mean, 0.0)
        return lambda: value

    def _cut(self, t: float) -> tuple[float, float, float]:
        mean = self.mean
        return (1.0, t, t * t) if mean > t else (0.0, mean, mean * mean)


@final
@dataclass(frozen=True, slots=True)
class Exponential(Spec):
    """Exponential with this mean: a number in a design.

    Example:
        >>> Exponential(3.0).var, Exponential(3.0).scaled(2.0)
        (9.0, Exponential(mean=6.0))
    """

    mean: float
    scv: float = field(default=1.0, init=False, repr=False, compare=False)

    def scaled(self, factor: float) -> Exponential:
        return Exponential(self.mean * factor)

    def dist(self, grid: Grid) -> Dist:
        return grid.exponential(self.mean)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        mean = self.mean
        return in_blocks(lambda n: rng.exponential(mean, n).tolist())

    def _cut(self, t: float) -> tuple[float, float, float]:
        return _exponential_cut(self.mean, t)


@final
@dataclass(frozen=True, slots=True)
class Gamma(Spec):
    """Gamma with this mean and ``0 < scv < 1``: shape ``1/scv``, scale ``mean·scv``.

    Example:
        >>> g = Gamma(2.0, 0.25)
        >>> g.shape, g.scale, g.var
        (4.0, 0.5, 1.0)
    """

    mean: float
    scv: float

    def __post_init__(self) -> None:
        if not 0 < self.scv < 1:
            raise ValueError(f"a gamma needs 0 < scv < 1, got {self.scv}")

    @property
    def shape(self) -> float:
        """The gamma's shape ``k = 1/scv`` (> 1)."""
        return 1.0 / self.scv

    @property
    def scale(self) -> float:
        """The gamma's scale ``θ = mean·scv``."""
        return self.mean * self.scv

    def scaled(self, factor: float) -> Gamma:
        return Gamma(self.mean * factor, self.scv)

    def dist(self, grid: Grid) -> Dist:
        return grid.gamma(self.shape, self.scale)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        shape, scale = self.shape, self.scale
        return in_blocks(lambda n: rng.gamma(shape, scale, n).tolist())

    def _cut(self, t: float) -> tuple[float, float, float]:
        mean = self.mean
        if t >= mean * (1.0 + 40.0 * math.sqrt(self.scv)):  # beyond the gamma's reach
            return 0.0, mean, self.var + mean * mean
        grid = Grid.covering(t * 1.01, 8192)
        whole = self.dist(grid)
        over = max(0.0, 1.0 - whole.cdf(t))
        kept = whole.truncate(t).pmf
        x = np.arange(grid.size) * grid.step
        return over, float(np.dot(x, kept)), float(np.dot(x * x, kept))


@final
@dataclass(frozen=True, slots=True)
class HyperExponential(Spec):
    """Two exponential phases with balanced means (:func:`~designkit.maths.distributions.
    balanced_h2`) of this mean and ``scv > 1``.

    Example:
        >>> HyperExponential(1.0, 3.0).phases   # p = ½(1 + 1/√2)
        (0.8535533905932737, 0.585786437626905, 3.414213562373095)
    """

    mean: float
    scv: float

    def __post_init__(self) -> None:
        if not self.scv > 1:
            raise ValueError(f"a hyperexponential needs scv > 1, got {self.scv}")

    @property
    def phases(self) -> tuple[float, float, float]:
        """The probability of the fast phase and the means of both phases."""
        return balanced_h2(self.mean, self.scv)

    def scaled(self, factor: float) -> HyperExponential:
        return HyperExponential(self.mean * factor, self.scv)

    def dist(self, grid: Grid) -> Dist:
        return grid.hyperexponential(*self.phases)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        p, fast, slow = self.phases

        def fill(n: int) -> list[float]:
            first = rng.random(n) < p
            values: list[float] = (rng.exponential(1.0, n)
                                   * np.where(first, fast, slow)).tolist()
            return values

        return in_blocks(fill)

    def _cut(self, t: float) -> tuple[float, float, float]:
        p, fast_mean, slow_mean = self.phases
        fast, slow = _exponential_cut(fast_mean, t), _exponential_cut(slow_mean, t)
        return (p * fast[0] + (1 - p) * slow[0], p * fast[1] + (1 - p) * slow[1],
                p * fast[2] + (1 - p) * slow[2])


@final
@dataclass(frozen=True, slots=True)
class Lognormal(Spec):
    """Lognormal with log-mean ``m`` and log-sd ``s``: a ``{p50, p95}`` in a design.

    Example:
        >>> t = Lognormal.fitted(120, 400)
        >>> round(math.exp(t.m), 6), round(t.s, 6), round(t.mean, 3), round(t.scv, 4)
        (120.0, 0.731963, 156.864, 0.7088)
    """

    m: float
    s: float
    mean: float = field(init=False, repr=False, compare=False)
    scv: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mean, scv = lognormal_moments(self.m, self.s)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "scv", scv)

    @staticmethod
    def fitted(p50: float, p95: float) -> Lognormal:
        """The lognormal with this median and 95th percentile (``0 < p50 < p95``)."""
        return Lognormal(*lognormal_from_percentiles(p50, p95))

    def scaled(self, factor: float) -> Lognormal:
        return Lognormal(self.m + math.log(factor), self.s)

    def dist(self, grid: Grid) -> Dist:
        return grid.lognormal(self.m, self.s)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        m, s = self.m, self.s
        return in_blocks(lambda n: rng.lognormal(m, s, n).tolist())

    def _cut(self, t: float) -> tuple[float, float, float]:
        return _lognormal_cut(self.m, self.s, t)


@final
@dataclass(frozen=True, slots=True)
class TwoPoint(Spec):
    """``low`` ms, or ``high`` ms with probability ``p``: a network round trip that crosses
    zones for some of a service's replicas and not for others.

    Example:
        >>> t = TwoPoint(0.1, 1.0, 0.5)
        >>> round(t.mean, 6), round(t.var, 6), t.cut(0.5)
        (0.55, 0.2025, (0.5, 0.3, 0.13))
    """

    low: float
    high: float
    p: float

    @property
    def mean(self) -> float:  # type: ignore[override]
        return self.low + self.p * (self.high - self.low)

    @property
    def scv(self) -> float:  # type: ignore[override]
        mean = self.mean
        spread = self.p * (1.0 - self.p) * (self.high - self.low) ** 2
        return spread / (mean * mean) if mean > 0 else 0.0

    def scaled(self, factor: float) -> TwoPoint:
        return TwoPoint(self.low * factor, self.high * factor, self.p)

    def dist(self, grid: Grid) -> Dist:
        if self.p <= 0 or self.p >= 1:
            return Constant(self.high if self.p >= 1 else self.low).dist(grid)
        return Dist.mixture([(1.0 - self.p, grid.point(self.low)),
                             (self.p, grid.point(self.high))])

    def sampler(self, rng: np.random.Generator) -> Sampler:
        low, high, p = self.low, self.high, self.p
        return in_blocks(lambda n: np.where(rng.random(n) < p, high, low).tolist())

    def _cut(self, t: float) -> tuple[float, float, float]:
        parts = ((1.0 - self.p, self.low), (self.p, self.high))
        beyond = sum(w for w, v in parts if v > t)
        first = sum(w * min(v, t) for w, v in parts)
        second = sum(w * min(v, t) ** 2 for w, v in parts)
        return beyond, first, second


Shape = Constant | Exponential | Gamma | HyperExponential | Lognormal | TwoPoint
"""Every shape a time can have: ``match`` on it and end with ``assert_never``."""


def shape_of(mean: float, scv: float = 1.0) -> Constant | Exponential | Gamma | HyperExponential:
    """The shape of a time of this mean and scv: constant (scv 0, or no mean), exponential
    (scv 1), gamma (0 < scv < 1), two-phase hyperexponential with balanced means (scv > 1).

    Example:
        >>> [type(shape_of(10.0, scv)).__name__ for scv in (0, 0.5, 1, 4)]
        ['Constant', 'Gamma', 'Exponential', 'HyperExponential']
    """
    if mean <= 0 or scv <= _EXACT:
        return Constant(mean)
    if abs(scv - 1.0) < _EXACT:
        return Exponential(mean)
    if scv > 1.0:
        return HyperExponential(mean, scv)
    return Gamma(mean, scv)


def scaled_time(time: Time, factor: float) -> Time:
    """A model time ``factor`` times slower, in the form it was given (a scenario's
    slowed-down copy of a design): ``Spec.of(scaled_time(t, f))`` is ``Spec.of(t).scaled(f)``.

    Example:
        >>> scaled_time(Time(mean=2, scv=0.5), 3.0), scaled_time(Time(p50=10, p95=40), 2.0)
        (Time(mean=6, scv=0.5), Time(p50=20, p95=80))
    """
    if time.mean is not None:
        return Time(mean=time.mean * factor, scv=time.scv)
    assert time.p50 is not None and time.p95 is not None
    return Time(p50=time.p50 * factor, p95=time.p95 * factor)


def in_blocks(fill: Callable[[int], list[float]], size: int = BLOCK) -> Sampler:
    """Draws from ``fill``, made ``size`` at a time and handed out one by one (fast, and
    reproducible: a stream of draws depends only on the generator's state).

    Example:
        >>> draw = in_blocks(lambda n: [float(i) for i in range(n)], 3)
        >>> [draw() for _ in range(5)]
        [0.0, 1.0, 2.0, 0.0, 1.0]
    """

    def stream() -> Iterator[float]:
        while True:
            yield from fill(size)

    return stream().__next__


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
