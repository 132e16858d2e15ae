"""What measurements taught about a design: its components' times as measured.

A design states the times its author expects; a load test or a trace says what they are.
``calibration:`` keeps both: the times stay as written, and each calibrated component says
how the measurements adjust them — ``scale`` (every time it spends, × scale), ``scv`` (their
shape: 0 constant, 1 exponential) and ``slowdown`` (how much slower it serves as it fills:
at utilization ρ its times are 1 + slowdown × ρ longer, the contention term of the
Universal Scalability Law per component). ``measured`` records the highest load each
endpoint was measured at: beyond it a prediction extrapolates, and the estimate says so.

``designkit calibrate`` writes this section; a user may also write it by hand.
"""

from __future__ import annotations

from pydantic import Field

from designkit.model.base import Strict

__all__ = ["Calibration", "ComponentCalibration"]


class ComponentCalibration(Strict):
    """How the measurements adjust one component's times.

    Args:
        scale: Every time the component spends (a service's ``cpu_ms``, a database's query
            and write times, a cache's or queue's ``service_ms``, a third party's latency,
            a lock's ``acquire_ms``, and each ``service_ms`` a call of it states) × scale.
        scv: The shape of those times: their squared coefficient of variation (0 constant,
            1 exponential); unset keeps each time's own shape.
        slowdown: At utilization ρ (the component's busiest station) its times are
            ``1 + slowdown × ρ`` longer: a load-dependent service rate. Solved at each load:
            ρ = ρ₀ / (1 − slowdown × ρ₀) where ρ₀ is the utilization without it, so the
            component saturates at ρ₀ = 1 / (1 + slowdown).

    Example:
        >>> ComponentCalibration(scale=1.2, slowdown=0.3).slowdown
        0.3
    """

    scale: float = Field(default=1.0, gt=0, le=1000)
    scv: float | None = Field(default=None, ge=0, le=100)
    slowdown: float = Field(default=0.0, ge=0, le=1000)


class Calibration(Strict):
    """What measurements adjusted, and how far they reach.

    Args:
        components: Adjustments by component name.
        measured: The highest load measured, in requests per second, by endpoint
            (``"svc METHOD /path"``): a workload beyond it is an extrapolation, which the
            estimate names.
        sources: The measurement files it was fitted from (for the record).

    Example:
        >>> c = Calibration(components={"db": {"scale": 1.1}}, measured={"api GET /x": 80})
        >>> c.components["db"].scale, c.measured["api GET /x"]
        (1.1, 80.0)
    """

    components: dict[str, ComponentCalibration] = Field(default_factory=dict)
    measured: dict[str, float] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)

    def slowdowns(self) -> dict[str, float]:
        """The components that slow down with load, and by how much.

        Example:
            >>> Calibration(components={"a": {"slowdown": 0.5}, "b": {}}).slowdowns()
            {'a': 0.5}
        """
        return {n: c.slowdown for n, c in self.components.items() if c.slowdown > 0}
