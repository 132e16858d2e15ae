"""Service-level objectives: the latency and availability an endpoint promises."""

from __future__ import annotations

from designkit.model.base import Strict
from designkit.model.bounds import PositiveMillis, Ratio

__all__ = ["Slo"]


class Slo(Strict):
    """What an endpoint promises its callers; any part may be left out.

    Args:
        p95_ms: 95 % of requests answer within this.
        p99_ms: 99 % of requests answer within this.
        availability: The share of requests that succeed (0.999: three nines).

    Example:
        >>> Slo(p95_ms=200, availability=0.999).error_budget
        0.001
    """

    p95_ms: PositiveMillis | None = None
    p99_ms: PositiveMillis | None = None
    availability: Ratio | None = None

    @property
    def error_budget(self) -> float | None:
        """The share of requests allowed to fail (``1 − availability``)."""
        return None if self.availability is None else round(1.0 - self.availability, 15)
