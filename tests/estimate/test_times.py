"""The five time shapes (designkit.flow.times): moments in closed form, the distribution on
a grid, the simulation's sampler, scaling and the cut at a timeout, each against an
independent computation."""

from __future__ import annotations

import math
import pickle
from typing import assert_never

import numpy as np
import pytest
from numpy.typing import NDArray

from designkit.flow.times import (
    BLOCK,
    Constant,
    Exponential,
    Gamma,
    HyperExponential,
    Lognormal,
    Shape,
    Spec,
    scaled_time,
    shape_of,
)
from designkit.maths.distributions import Grid
from designkit.model.times import Time

Array = NDArray[np.float64]

SHAPES: list[Shape] = [
    Constant(10.0),
    Exponential(10.0),
    Gamma(10.0, 0.1),
    Gamma(10.0, 0.7),
    HyperExponential(10.0, 1.5),
    HyperExponential(10.0, 4.0),
    Lognormal.fitted(8.0, 40.0),
]
IDS = ["constant", "exponential", "narrow gamma", "gamma", "hyperexponential",
       "wide hyperexponential", "lognormal"]


def closed_form(spec: Shape) -> tuple[float, float]:
    """Mean and variance from each shape's own parameters (textbook formulas)."""
    match spec:
        case Constant():
            return spec.mean, 0.0
        case Exponential():
            return spec.mean, spec.mean**2
        case Gamma():
            k, theta = 1.0 / spec.scv, spec.mean * spec.scv
            return k * theta, k * theta**2
        case HyperExponential():
            p, fast, slow = spec.phases
            mean = p * fast + (1 - p) * slow
            return mean, 2 * (p * fast**2 + (1 - p) * slow**2) - mean**2
        case Lognormal():
            m, s = spec.m, spec.s
            return math.exp(m + s * s / 2), math.expm1(s * s) * math.exp(2 * m + s * s)
        case _:
            assert_never(spec)


def density(spec: Shape, u: Array) -> Array:
    """The probability density at ``u > 0`` (not for a constant)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        match spec:
            case Constant():
                raise ValueError("a constant has no density")
            case Exponential():
                return np.asarray(np.exp(-u / spec.mean) / spec.mean)
            case Gamma():
                k, theta = 1.0 / spec.scv, spec.mean * spec.scv
                log_pdf = (k - 1) * np.log(u) - u / theta - math.lgamma(k) - k * math.log(theta)
                return np.asarray(np.where(u > 0, np.exp(log_pdf), 0.0))
            case HyperExponential():
                p, fast, slow = spec.phases
                return np.asarray(p * np.exp(-u / fast) / fast
                                  + (1 - p) * np.exp(-u / slow) / slow)
            case Lognormal():
                z = (np.log(u) - spec.m) / spec.s
                pdf = np.exp(-z * z / 2) / (u * spec.s * math.sqrt(2 * math.pi))
                return np.asarray(np.where(u > 0, pdf, 0.0))
            case _:
                assert_never(spec)


def integrated_cut(spec: Shape, t: float) -> tuple[float, float, float]:
    """``P(T > t)``, ``E[min(T, t)]`` and ``E[min(T, t)²]`` by integrating the density on a
    fine mesh: ``∫₀ᵗ uʲ f(u) du + tʲ P(T > t)``."""
    if isinstance(spec, Constant):
        return (1.0, t, t * t) if spec.mean > t else (0.0, spec.mean, spec.mean**2)
    u = np.linspace(0.0, t, 400_001)
    f = density(spec, u)
    over = 1.0 - float(np.trapezoid(f, u))
    return (over, float(np.trapezoid(u * f, u)) + t * over,
            float(np.trapezoid(u * u * f, u)) + t * t * over)


# -- which shape a time is ---------------------------------------------------------------


@pytest.mark.parametrize(("scv", "shape"), [
    (0.0, Constant), (0.1, Gamma), (0.5, Gamma), (0.7, Gamma), (0.95, Gamma),
    (1.0, Exponential), (1.5, HyperExponential), (4.0, HyperExponential),
])
def test_an_scv_gives_its_shape(scv: float, shape: type[Spec]) -> None:
    for spec in (shape_of(10.0, scv), Spec(10.0, scv), Spec.of(Time(mean=10.0, scv=scv))):
        assert type(spec) is shape and isinstance(spec, Spec)
        assert (spec.mean, spec.scv) == (10.0, scv)


def test_the_other_constructors() -> None:
    assert Spec(10.0) == Exponential(10.0) == Spec.exponential(10.0) == Spec.of(Time(mean=10))
    assert Spec(0.0) == Spec(0.0, 0.0) == Spec.exponential(0.0) == Spec.of(None) == Constant(0)
    assert Spec.of(None, 5.0) == Exponential(5.0)
    assert Spec.of(Time(p50=8, p95=40)) == Lognormal.fitted(8.0, 40.0)
    assert Spec(10.0, 0.0) != Spec(10.0, 1.0)  # equal means, different times


@pytest.mark.parametrize("bad", [
    lambda: Gamma(10.0, 1.0), lambda: Gamma(10.0, 0.0), lambda: HyperExponential(10.0, 1.0),
])
def test_a_shape_outside_its_range_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="needs"):
        bad()  # type: ignore[operator]


@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_a_shape_is_a_frozen_hashable_value(spec: Shape) -> None:
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and hash(again) == hash(spec) and type(again) is type(spec)
    assert {spec: 1}[again] == 1
    with pytest.raises(AttributeError):
        spec.mean = 1.0  # type: ignore[misc]


# -- moments, grid, sampler, scaling, cut --------------------------------------------------


@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_mean_and_variance_in_closed_form(spec: Shape) -> None:
    mean, var = closed_form(spec)
    assert spec.mean == pytest.approx(mean, rel=1e-12)
    assert spec.var == pytest.approx(var, rel=1e-12, abs=1e-12)
    assert spec.var == pytest.approx(spec.scv * spec.mean**2, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_the_distribution_on_a_grid_keeps_mean_and_variance(spec: Shape) -> None:
    grid = Grid.covering(5000.0, 2**17)
    dist = spec.dist(grid)
    x = np.arange(grid.size) * grid.step
    assert float(dist.pmf.sum()) == pytest.approx(1.0, abs=1e-6)
    mean = float(np.dot(x, dist.pmf))
    var = float(np.dot((x - mean) ** 2, dist.pmf))
    assert mean == pytest.approx(spec.mean, rel=1e-5)
    # a cell of width h adds at most h²/4 of variance (a point split between two cells)
    assert var == pytest.approx(spec.var, rel=1e-4, abs=grid.step**2 / 4)


@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_the_sampler_draws_the_time(spec: Shape) -> None:
    n = 200_000
    draw = spec.sampler(np.random.default_rng(20240601))
    x = np.array([draw() for _ in range(n)])
    # within five standard errors: of the mean, √(var/n); of the variance, √((μ₄ − σ⁴)/n)
    assert x.mean() == pytest.approx(spec.mean, abs=5 * math.sqrt(spec.var / n) + 1e-12)
    fourth = float(np.mean((x - x.mean()) ** 4))
    assert x.var() == pytest.approx(spec.var, abs=5 * math.sqrt(max(fourth - x.var()**2, 0) / n)
                                    + 1e-12)


def reference_block(spec: Shape, rng: np.random.Generator, n: int) -> list[float]:
    """The draws the simulator made before the shapes had classes (its random streams)."""
    match spec:
        case Constant():
            return [spec.mean] * n
        case Exponential():
            return list(rng.exponential(spec.mean, n))
        case Gamma():
            return list(rng.gamma(1.0 / spec.scv, spec.mean * spec.scv, n))
        case HyperExponential():
            p, fast, slow = spec.phases
            first = rng.random(n) < p
            return list(rng.exponential(1.0, n) * np.where(first, fast, slow))
        case Lognormal():
            return list(rng.lognormal(spec.m, spec.s, n))
        case _:
            assert_never(spec)


@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_the_sampler_keeps_the_random_stream(spec: Shape) -> None:
    # Blocks of BLOCK draws from one generator: a seed gives the simulation the same numbers.
    draw = spec.sampler(np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expected = reference_block(spec, rng, BLOCK) + reference_block(spec, rng, BLOCK)
    assert [draw() for _ in range(BLOCK + 10)] == expected[:BLOCK + 10]


@pytest.mark.parametrize("factor", [0.25, 3.0])
@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_scaled_is_the_same_shape_slower(spec: Shape, factor: float) -> None:
    slower = spec.scaled(factor)
    assert type(slower) is type(spec)
    assert slower.mean == pytest.approx(spec.mean * factor, rel=1e-12)
    assert slower.scv == pytest.approx(spec.scv, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("time", [Time(mean=4.0), Time(mean=4.0, scv=0.0),
                                  Time(mean=4.0, scv=0.3), Time(mean=4.0, scv=9.0),
                                  Time(p50=4.0, p95=30.0)], ids=str)
def test_a_model_time_scales_as_its_shape(time: Time) -> None:
    slower = scaled_time(time, 2.5)
    assert slower == (Time(mean=10.0, scv=time.scv) if time.mean is not None
                      else Time(p50=10.0, p95=75.0))  # in the form it was given
    shape, scaled = Spec.of(slower), Spec.of(time).scaled(2.5)
    assert type(shape) is type(scaled)
    assert (shape.mean, shape.scv) == pytest.approx((scaled.mean, scaled.scv), rel=1e-12)


@pytest.mark.parametrize("limit", [0.5, 3.0, 10.0, 30.0])
@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_the_cut_at_a_timeout_is_the_integral(spec: Shape, limit: float) -> None:
    over, first, second = spec.cut(limit)
    want = integrated_cut(spec, limit)
    # the gamma's cut is read from a grid of 8,192 cells; the others are closed forms
    rel = 1e-5 if isinstance(spec, Gamma) else 1e-6
    assert over == pytest.approx(want[0], rel=rel, abs=1e-9)
    assert first == pytest.approx(want[1], rel=rel)
    assert second == pytest.approx(want[2], rel=rel)


@pytest.mark.parametrize("spec", SHAPES, ids=IDS)
def test_no_timeout_cuts_nothing(spec: Shape) -> None:
    for limit in (None, math.inf, 1e9):
        over, first, second = spec.cut(limit)
        assert over == pytest.approx(0.0, abs=1e-12)
        assert (first, second) == pytest.approx((spec.mean, spec.var + spec.mean**2),
                                                rel=1e-9)
