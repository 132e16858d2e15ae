"""Fit a design's times to measurements: least squares on relative errors.

The unknowns are, per fitted component, the factor on its times (``scale``), their shape
(``scv``: fitted when the measurements have percentiles) and how it slows down with load
(``slowdown``: fitted when the runs cover two or more loads). Each run (one load level) is
estimated at the rates it measured; a residual is the log of predicted over measured, for
every endpoint's mean, p50, p95 and p99 and every span's mean — so a 10 % miss weighs the
same at 2 ms and at 2 s. A weak pull towards the design as written (1 % of a miss per
doubling of a time) keeps components the data cannot tell apart where the author put them.
SciPy's trust-region least squares solves it; the parameters' standard errors come from the
Jacobian at the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from designkit.errors import DesignError
from designkit.model.calibration import Calibration, ComponentCalibration
from designkit.model.design import Design

__all__ = ["Parameter", "Run", "Target", "solve_fit"]

Floats = NDArray[np.float64]

STATS = (("mean_ms", 1.0), ("p50_ms", 1.0), ("p95_ms", 1.0), ("p99_ms", 0.5))
"""What is compared, with its weight (a p99 from a short run is noisy: half weight)."""

PRIOR = 0.01
"""Weight of the pull towards the design as written, per unit of log time (scale) or of
scv, and per unit of slowdown."""

SATURATED = 10.0
"""The residual of a statistic the fit predicts saturated (infinite) but was measured."""

NOISE = 0.02
"""The least relative noise a measured statistic is taken to have (2 %: two runs of one load
rarely agree better): a fit that happens to be perfect does not make every parameter
certain — one the data cannot tell from another keeps a large error."""

DETERMINED = 0.1
"""The standard error under which a parameter counts as told by the measurements."""

SCV_BOUNDS = (0.0, 25.0)
SLOWDOWN_BOUNDS = (0.0, 50.0)
SCALE_BOUNDS = (math.log(1e-3), math.log(1e3))


@dataclass(frozen=True)
class Target:
    """One measured statistic of one run: what the fit must reproduce."""

    run: str
    endpoint: str  # "svc METHOD /path"
    stat: str  # "mean_ms" … or "span:<component>"
    measured: float
    weight: float
    rps: float | None = None  # a span's own rate (an endpoint's is its run's workload)
    success: bool = True  # compared with the requests that succeed (False: with all)


@dataclass(frozen=True)
class Run:
    """One load level: the rates measured per endpoint, and its targets."""

    name: str
    workload: dict[str, float]
    targets: list[Target] = field(default_factory=list)


@dataclass
class Parameter:
    """One fitted number: a component's ``scale``, ``scv`` or ``slowdown``.

    Attributes:
        component: The component.
        what: ``"scale"``, ``"scv"`` or ``"slowdown"``.
        start: Its value before the fit (the design's).
        value: Its fitted value.
        sd: Its standard error (``scale``: of its log, i.e. relative), ``inf`` when the
            measurements cannot tell it (``nan`` before the fit).
        kept: A shape or slowdown the measurements do not tell from the design's: it is
            not written (each time keeps its own shape; no slowdown).
    """

    component: str
    what: str
    start: float
    value: float = math.nan
    sd: float = math.nan
    kept: bool = False

    @property
    def departs(self) -> bool:
        """Whether the measurements tell it from its start (the design's): more than two
        standard errors away — a shape or a slowdown is written only then."""
        return math.isfinite(self.sd) and abs(self.value - self.start) > 2 * self.sd

    @property
    def determined(self) -> bool:
        """Whether the measurements pin it down: a standard error under 0.1 (10 % for a
        scale, whose error is of its log; 0.1 absolute for an scv or a slowdown) — where
        the pull towards the design alone would leave one of 2."""
        return math.isfinite(self.sd) and self.sd < DETERMINED


Predict = Callable[[Design, Run], list[float]]
"""Predicted values of a run's targets under a design (``inf`` when saturated)."""


def calibrated(design: Design, parameters: Sequence[Parameter], x: Sequence[float],
               measured: dict[str, float], sources: list[str], *, logs: bool = True
               ) -> Design:
    """A copy of ``design`` whose ``calibration`` holds the parameters at ``x`` — the
    fit's variables (a scale's log), or with ``logs=False`` the values themselves (so
    that a scale written to four digits, 0.04452, is not 0.044520000000000004 after a
    round trip through its log)."""
    components = dict(design.calibration.components) if design.calibration else {}
    values: dict[str, dict[str, float]] = {}
    for p, v in zip(parameters, x, strict=True):
        if not p.kept:
            values.setdefault(p.component, {})[p.what] = (
                math.exp(v) if p.what == "scale" and logs else v)
    for fitted in values.values():  # a slowdown of 1e-12 is none
        if fitted.get("slowdown", 1.0) < 1e-9:
            fitted["slowdown"] = 0.0
    for name, fitted in values.items():
        before = components.get(name, ComponentCalibration())
        components[name] = before.model_copy(update=fitted)
    copy = design.model_copy(deep=True)
    copy.calibration = Calibration(components=components, measured=measured, sources=sources)
    return copy


def solve_fit(design: Design, runs: list[Run], parameters: list[Parameter],
              predict: Predict, measured: dict[str, float], sources: list[str],
              ) -> tuple[Design, list[list[float]], bool]:
    """Fit ``parameters`` so that ``predict`` reproduces every run's targets.

    Returns the calibrated design, per run its targets' predicted values, and whether the
    fit converged within :data:`EVALUATIONS`.
    """
    from scipy.optimize import least_squares

    lower = np.array([_bounds(p.what)[0] for p in parameters])
    upper = np.array([_bounds(p.what)[1] for p in parameters])
    start = np.clip(np.array([_x(p.what, p.start) for p in parameters]), lower, upper)
    measured_values = [np.array([t.measured for t in run.targets]) for run in runs]
    weights = [np.array([t.weight for t in run.targets]) for run in runs]

    def misses(x: Floats) -> Floats:
        try:
            d = calibrated(design, parameters, x.tolist(), measured, sources)
            parts = [_misses(np.array(predict(d, run)), m, w)
                     for run, m, w in zip(runs, measured_values, weights, strict=True)]
        except DesignError:
            parts = [np.full(len(run.targets), SATURATED) for run in runs]
        return np.concatenate(parts)

    def fit(x: Floats, free: list[int]) -> tuple[Floats, bool]:
        """``x`` with its ``free`` parameters fitted (the others stay)."""
        def residuals(z: Floats) -> Floats:
            moved = x.copy()
            moved[free] = z
            return np.concatenate([misses(moved), PRIOR * (z - start[free])])

        def jacobian(z: Floats) -> Floats:
            return _forward_differences(residuals, z, upper[free])

        # dogbox: a slowdown starts at its bound 0, where the trust region's reflective
        # scaling would keep it
        result = least_squares(residuals, x[free], jac=jacobian,
                               bounds=(lower[free], upper[free]), method="dogbox",
                               x_scale="jac", xtol=TOLERANCE, ftol=TOLERANCE,
                               max_nfev=EVALUATIONS)
        _errors([parameters[i] for i in free], result.jac, result.fun)
        out = x.copy()
        out[free] = result.x
        return out, bool(result.status > 0)

    x = start.copy()
    scales = np.array([p.what == "scale" for p in parameters])
    if scales.any():  # (the misses at x, evaluated once for both moves below)
        missed = misses(x)
        for _ in range(SHRINKS):  # saturated at the measured rates: a flat misfit
            if np.all(np.abs(missed) < SATURATED):
                break
            x = np.clip(x - np.log(2.0) * scales, lower, upper)
            missed = misses(x)
        weight = np.concatenate(weights)
        for _ in range(WARM_ROUNDS):  # far off as written: one factor on every scale first
            if not weight.sum() or np.any(np.abs(missed) >= SATURATED):
                break
            shift = -float(missed.sum() / weight.sum())  # the weighted mean miss, undone
            if abs(shift) < WARM:
                break
            x = np.clip(x + shift * scales, lower, upper)
            missed = misses(x)
    converged = True
    if parameters:
        x, converged = fit(x, list(range(len(parameters))))
        for p, v in zip(parameters, x, strict=True):
            p.value = math.exp(v) if p.what == "scale" else float(v)
        # a shape or slowdown the data cannot tell from the design's stays the design's,
        # and the rest is fitted again without it
        kept = [i for i, p in enumerate(parameters) if p.what != "scale" and not p.departs]
        free = [i for i in range(len(parameters)) if i not in kept]
        for i in kept:
            parameters[i].kept = True
        if kept and free:
            x[kept] = start[kept]
            x, converged = fit(x, free)
        x[kept] = start[kept]
    for p, v in zip(parameters, x, strict=True):
        p.value = significant(math.exp(v) if p.what == "scale" else float(v))
    final = calibrated(design, parameters, [p.value for p in parameters], measured, sources,
                       logs=False)
    predicted = [predict(final, run) for run in runs]
    finite = all(math.isfinite(v) for values in predicted for v in values)
    return final, predicted, converged and finite


TOLERANCE = 1e-8
"""Relative change of the parameters or of the misses at which the fit stops (its values
are written to four digits)."""

EVALUATIONS = 100
"""The most evaluations of the misses (each estimates every run) before the fit gives up
and says it did not converge."""

SHRINKS = 12
"""Halvings of the fitted scales tried when the design as written saturates at the measured
rates (every miss then says "saturated" and none moves)."""

WARM = math.log(2.0)
"""The weighted mean miss from which every fitted scale is first moved by one common
factor that undoes it (:data:`WARM_ROUNDS` times at most): a design measured far from what
it states — a time off by a factor of a hundred — starts the fit near its answer rather
than a hundred trust-region steps away (one case took 50 s); one closer than a factor of
two starts where it is written."""

WARM_ROUNDS = 3

STEP = 1e-4
"""The finite-difference step, relative to a parameter's size (absolute below 1): the
latency grid's percentiles are smooth at that scale, and a slowdown at its bound 0 still
moves."""


def _forward_differences(f: Callable[[Floats], Floats], x: Floats, upper: Floats
                         ) -> Floats:
    """The Jacobian of ``f`` at ``x`` by forward differences (backward at an upper
    bound)."""
    base = f(x)
    columns = []
    for i in range(len(x)):
        h = STEP * max(1.0, abs(float(x[i])))
        if x[i] + h > upper[i]:
            h = -h
        moved = x.copy()
        moved[i] += h
        columns.append((f(moved) - base) / h)
    return np.stack(columns, axis=1)


def significant(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits (what the calibrated file says).

    Example:
        >>> significant(1.428571), significant(0.000123456), significant(0.0)
        (1.429, 0.0001235, 0.0)
    """
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _misses(predicted: Floats, measured: Floats, weight: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.log(predicted / measured)
    # saturated (inf) or unknown (nan): far too slow; nothing (0 ms): far too fast
    return np.nan_to_num(miss, nan=SATURATED, posinf=SATURATED, neginf=-SATURATED) * weight


def _x(what: str, value: float) -> float:
    return math.log(value) if what == "scale" else value


def _bounds(what: str) -> tuple[float, float]:
    return {"scale": SCALE_BOUNDS, "scv": SCV_BOUNDS, "slowdown": SLOWDOWN_BOUNDS}[what]


def _errors(parameters: list[Parameter], jac: Floats, fun: Floats) -> None:
    """Standard errors from the Jacobian at the optimum: (JᵀJ)⁻¹ σ², σ² from the misses
    (at least :data:`NOISE`²; the prior's rows count as data of their own weight, which
    keeps JᵀJ invertible). A parameter the data does not move has an infinite error."""
    m, n = jac.shape
    dof = max(m - 2 * n, 1)  # m counts the prior's n rows too
    sigma2 = max(float(fun @ fun) / dof, NOISE ** 2)
    jtj = jac.T @ jac
    try:
        cov = np.linalg.pinv(jtj) * sigma2
    except np.linalg.LinAlgError:
        cov = np.full((n, n), np.inf)
    data_rows = jac[:m - n]  # the rows of the measurements, without the prior's
    for i, p in enumerate(parameters):
        moved = float(np.abs(data_rows[:, i]).max(initial=0.0))
        var = float(cov[i, i])
        p.sd = math.sqrt(var) if moved > 10 * PRIOR and var >= 0 else math.inf
