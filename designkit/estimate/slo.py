"""Each endpoint's service-level objective against its estimate.

An endpoint's SLO is its own ``slo`` or, when it states none, the policy's default. The
estimate meets it when its p95 and p99 are within their targets and its success share
(1 − error ratio) is at least the availability; the error budget used is the error ratio
over the budget ``1 − availability`` (above 1: the budget is spent).

Example:
    >>> import designkit as dk
    >>> d = dk.Design(name="x")
    >>> _ = d.external("psp", latency_ms=100, failure_rate=0.01)
    >>> ep = d.service("api", io="async").endpoint("POST /pay")
    >>> _ = ep.call("psp")
    >>> ep.slo = dk.Slo(p95_ms=400, availability=0.999)
    >>> _ = d.set_load("api POST /pay", 10)
    >>> check = dk.estimate(d).slos["api POST /pay"]
    >>> check.met, check.p95_met, round(check.error_budget_used, 1)
    (False, True, 10.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from designkit.model.slo import Slo

__all__ = ["SloCheck", "check_slo"]


@dataclass(frozen=True)
class SloCheck:
    """One endpoint's SLO and how its estimate fares.

    Attributes:
        endpoint: ``"svc METHOD /path"``.
        slo: The objective (its own, or the policy's default).
        p95_ms, p99_ms, availability: The estimate's (``inf`` latencies when saturated).
        p95_met, p99_met, availability_met: Each part, ``None`` where the SLO has none.
        error_budget_used: Error ratio over the budget (``None`` without an availability
            target; ``inf`` when the budget is 0 and requests fail).
    """

    endpoint: str
    slo: Slo
    p95_ms: float
    p99_ms: float
    availability: float
    p95_met: bool | None
    p99_met: bool | None
    availability_met: bool | None
    error_budget_used: float | None

    @property
    def met(self) -> bool:
        """Every stated part is met."""
        return all(part is not False for part in (self.p95_met, self.p99_met,
                                                  self.availability_met))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``null`` for what the SLO does not state; no Infinity)."""
        def finite(value: float | None) -> float | None:
            return value if value is None or math.isfinite(value) else None

        return {"target": self.slo.model_dump(exclude_none=True), "met": self.met,
                "p95_met": self.p95_met, "p99_met": self.p99_met,
                "availability": self.availability, "availability_met": self.availability_met,
                "error_budget_used": finite(self.error_budget_used)}


def check_slo(endpoint: str, slo: Slo, p95_ms: float, p99_ms: float,
              error_ratio: float) -> SloCheck:
    """An endpoint's SLO against its estimated p95, p99 and error ratio.

    Example:
        >>> check_slo("a GET /x", Slo(p99_ms=50), 20.0, 60.0, 0.0).met
        False
    """
    budget = slo.error_budget
    used = None if budget is None else (
        error_ratio / budget if budget > 0 else (math.inf if error_ratio > 0 else 0.0))
    return SloCheck(
        endpoint, slo, p95_ms, p99_ms, 1.0 - error_ratio,
        None if slo.p95_ms is None else p95_ms <= slo.p95_ms,
        None if slo.p99_ms is None else p99_ms <= slo.p99_ms,
        None if slo.availability is None else 1.0 - error_ratio >= slo.availability,
        used)
