"""Calibrated slowdown: components that serve more slowly as they fill.

A calibrated component with ``slowdown`` β spends ``1 + β ρ`` times its times at
utilization ρ (its busiest own station). ρ depends on those times, so each load has its own
stretch ``f`` with ``f = 1 + β ρ(f)``: when ρ is proportional to the component's times
(ρ = ρ₀ f, a database's cpu) that is ``f = 1 / (1 − β ρ₀)`` at once; where it is not (a
station holding other work too) the same step is repeated until it stops moving. A
component with β ρ₀ ≥ 1 is past its saturation point (ρ₀ = 1 / (1 + β)) and is saturated.

The stretch is a function of the load, computed from the traffic; the estimate and
``dk.simulate`` both run the design with it, and each solves the queues on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from designkit.estimate.program import Program, compile_design
from designkit.estimate.solve import solve
from designkit.model.design import Design

__all__ = ["Slowdown", "slowed"]

ROUNDS = 60
"""The most steps of the stretch's fixed point (one when ρ is proportional to it)."""

TOLERANCE = 1e-9
"""Relative change of every stretch below which the fixed point has converged."""

PAST_SATURATION = 1.0 + 1e-6
"""The utilization a component past its saturation point is given: saturated."""


@dataclass(frozen=True)
class Slowdown:
    """A design's calibrated slowdowns, to solve at any load.

    Attributes:
        source: The design (under its scenario), validated.
        days: Days of table growth.
        betas: ``slowdown`` by component (> 0).

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="s")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
        >>> d.calibration = {"components": {"api": {"slowdown": 1.0}}}
        >>> s = Slowdown(d.validate(), 0.0, {"api": 1.0})
        >>> round(s.stretch({"api GET /x": 40}, 1.0)["api"], 6)  # ρ₀ 0.4: 1 / (1 − 0.4)
        1.666667
    """

    source: Design
    days: float
    betas: dict[str, float]

    def program(self, load: dict[str, float], scale: float) -> Program:
        """The design's program with each slowdown stretched for ``load`` × ``scale``."""
        return compile_design(self.source, self.days, self.stretch(load, scale))

    def stretch(self, load: dict[str, float], scale: float) -> dict[str, float]:
        """The factor on each slowing component's times at ``load`` × ``scale``: the root of
        ``f = 1 + β ρ(f)`` by the secant through the last two solutions (through 0 at first:
        exact when ρ is proportional to ``f``, and exact at the second step when ρ is
        affine in it, as a held station's is)."""
        stretch = dict.fromkeys(self.betas, 1.0)
        before: dict[str, tuple[float, float]] = {}
        program = compile_design(self.source, self.days)
        for _ in range(ROUNDS):
            busy = _busiest(program, load, scale)
            after = {}
            for name, beta in self.betas.items():
                f, rho = stretch[name], busy.get(name, 0.0)
                after[name] = _next(beta, f, rho, before.get(name))
                before[name] = (f, rho)
            if all(abs(after[n] - stretch[n]) <= TOLERANCE * after[n] for n in after):
                return after
            stretch = after
            program = compile_design(self.source, self.days, stretch)
        return stretch


def slowed(source: Design, program: Program, load: dict[str, float], scale: float,
           days: float) -> Program:
    """``program`` as it runs at ``load`` × ``scale``: the same program when the design has
    no slowdown; else one with each slowing component's times stretched, which carries its
    :class:`Slowdown` (capacity searches solve it again at other loads).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> d = dk.Design(name="s")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
        >>> d.calibration = {"components": {"api": {"slowdown": 0.5}}}
        >>> p = slowed(d.validate(), compile_design(d), {"api GET /x": 50}, 1.0, 0.0)
        >>> round(solve(p, {"api GET /x": 50}).stations[0].utilization, 6)  # 0.5 / 0.75
        0.666667
    """
    betas = source.calibration.slowdowns() if source.calibration is not None else {}
    if not betas:
        return program
    slowdown = Slowdown(source, days, betas)
    stretched = slowdown.program(load, scale)
    stretched.slowdown = slowdown
    return stretched


def _next(beta: float, f: float, rho: float, before: tuple[float, float] | None) -> float:
    """The next stretch of a component at utilization ``rho`` under stretch ``f``: the root
    of ``f = 1 + β (a + b f)``, the line ρ = a + b f through this solution and the one
    ``before`` (through 0 at first); the stretch that fills the component when the line
    never meets it below saturation; the same when the component is saturated already."""
    if not math.isfinite(rho) or rho >= 1.0:
        return f
    slope = rho / f  # through 0: ρ proportional to f
    if before is not None and before[0] != f and math.isfinite(before[1]):
        slope = (rho - before[1]) / (f - before[0])
    offset = rho - slope * f
    if slope <= 0 or beta * slope >= 1.0:
        return PAST_SATURATION * f / rho if rho > 0 and beta * slope >= 1.0 else 1.0 + beta * rho
    root = (1.0 + beta * offset) / (1.0 - beta * slope)
    saturating = (1.0 - offset) / slope  # where ρ reaches 1 on that line
    return root if root < saturating else PAST_SATURATION * saturating


def _busiest(program: Program, load: dict[str, float], scale: float) -> dict[str, float]:
    """Each component's utilization: its busiest own (not holding) station's, or its
    busiest station's when all of them hold other work."""
    solution = solve(program, load, scale)
    own: dict[str, float] = {}
    held: dict[str, float] = {}
    for spec, state in zip(program.stations, solution.stations, strict=True):
        into = held if spec.held else own
        into[spec.component] = max(into.get(spec.component, 0.0), state.utilization)
    return {**held, **own}
