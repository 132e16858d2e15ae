"""Resilience settings of a remote call: retries with backoff, and a circuit breaker."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from designkit.model.base import Strict
from designkit.model.bounds import Millis, PositiveMillis

__all__ = ["CircuitBreaker", "Retries"]


class Retries(Strict):
    """How a caller retries a failed or timed-out call.

    Args:
        max: Retries after the first attempt (total attempts = 1 + max).
        backoff: none | constant | exponential.
        base_ms: The first backoff delay (ms).
        jitter: Delays are randomised (full jitter) so retries do not synchronise.
        budget: Most retries allowed as a fraction of requests (0.1 = 10 %), if any.

    Example:
        >>> Retries(max=2, backoff="exponential", jitter=True).max
        2
    """

    max: int = Field(default=0, ge=0, le=100)
    backoff: Literal["none", "constant", "exponential"] = "none"
    base_ms: Millis = 100
    jitter: bool = False
    budget: float | None = Field(default=None, ge=0, le=1)


class CircuitBreaker(Strict):
    """A circuit breaker in front of a dependency; ``true`` in a file means the defaults.

    Args:
        enabled: The breaker is in place.
        failure_threshold: Failure ratio that opens the breaker.
        open_ms: How long the breaker stays open before a trial call.

    Example:
        >>> CircuitBreaker.model_validate(True).enabled
        True
        >>> CircuitBreaker.model_validate(True).model_dump()
        True
    """

    enabled: bool = True
    failure_threshold: float = Field(default=0.5, gt=0, le=1)
    open_ms: PositiveMillis = 30_000

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"enabled": value}
        return value

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> Any:
        data = handler(self)
        defaults = {"failure_threshold": 0.5, "open_ms": 30_000}
        if all(data.get(k) == v for k, v in defaults.items()):
            return self.enabled
        return data
