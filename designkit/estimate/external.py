"""Calls to third parties: attempts cut by a timeout, retried with backoff, or cut short by
an open circuit breaker."""

from __future__ import annotations

import math
from dataclasses import dataclass

from designkit.estimate.distributions import Dist, Grid
from designkit.estimate.program import ExternalCall

__all__ = ["Attempts", "attempts", "backoff_ms", "call_dist", "settings"]


@dataclass(frozen=True)
class Attempts:
    """What retries do to one logical call.

    Attributes:
        failure: Probability that one attempt fails (an error, or slower than the timeout).
        max_attempts: 1 + retries.
        expected: Expected attempts per call (the load multiplier at the target).
        breaker_open: The breaker is open in steady state: calls fail fast, none is sent.
        p_timeout: Probability that one attempt hits the timeout.
    """

    failure: float
    max_attempts: int
    expected: float
    breaker_open: bool
    p_timeout: float

    def weights(self) -> list[float]:
        """P(the call makes exactly k attempts), for k = 1 … max_attempts."""
        f, n = self.failure, self.max_attempts
        return [f ** (k - 1) * (1 - f) for k in range(1, n)] + [f ** (n - 1)]


def backoff_ms(call: ExternalCall, retry: int) -> float:
    """Mean delay before retry number ``retry`` (1-based); full jitter halves it.

    Example:
        >>> from designkit.estimate.program import ExternalCall
        >>> from designkit.estimate.times import Spec
        >>> from designkit.model.resilience import Retries
        >>> call = ExternalCall("p", Spec(100), 2000, Retries(max=3, backoff="exponential",
        ...                     base_ms=100, jitter=True), 0.0, None, None)
        >>> [backoff_ms(call, i) for i in (1, 2, 3)]
        [50.0, 100.0, 200.0]
    """
    retries = call.retries
    if retries is None or retries.backoff == "none":
        return 0.0
    delay = retries.base_ms * (2.0 ** (retry - 1) if retries.backoff == "exponential" else 1.0)
    return delay / 2.0 if retries.jitter else delay


def settings(call: ExternalCall) -> tuple[object, ...]:
    """What a call's time depends on, hashable: calls of the same third party with the
    same settings share their arithmetic."""
    retries = None if call.retries is None else tuple(call.retries.model_dump().items())
    return (call.latency, call.timeout_ms, call.failure_rate, call.breaker_threshold, retries)


def attempts(call: ExternalCall, attempt: Dist | None = None) -> Attempts:
    """The retry arithmetic of ``call``; ``attempt`` gives P(timeout) when one is set (by
    default, the attempt's latency on a fine grid: computed once per settings)."""
    if attempt is None:
        return _attempts(settings(call), call)
    return _arithmetic(call, attempt)


_ATTEMPTS: dict[tuple[object, ...], Attempts] = {}


def _attempts(key: tuple[object, ...], call: ExternalCall) -> Attempts:
    found = _ATTEMPTS.get(key)
    if found is None:
        if len(_ATTEMPTS) > 4096:
            _ATTEMPTS.clear()
        found = _ATTEMPTS[key] = _arithmetic(call, None)
    return found


def _arithmetic(call: ExternalCall, attempt: Dist | None) -> Attempts:
    p_timeout = 0.0
    if call.timeout_ms is not None:
        if attempt is None:
            grid = Grid.covering(max(call.timeout_ms * 1.01, 1e-3))
            attempt = call.latency.dist(grid)
        p_timeout = 1.0 - attempt.cdf(call.timeout_ms)
    failure = 1.0 - (1.0 - call.failure_rate) * (1.0 - p_timeout)
    n = 1 + (call.retries.max if call.retries else 0)
    if call.breaker_open(failure):
        return Attempts(failure, n, 0.0, True, p_timeout)
    expected = sum(failure ** k for k in range(n))
    return Attempts(failure, n, expected, False, p_timeout)


def call_dist(call: ExternalCall, grid: Grid, wait: Dist | None = None) -> Dist:
    """The time of one logical call on ``grid``: attempts (each waiting ``wait`` when the
    third party bounds its concurrency), cut at the timeout, with backoff between them."""
    info = attempts(call)
    if info.breaker_open:
        return grid.zero()
    one = call.latency.dist(grid)
    if call.timeout_ms is not None:
        one = one.truncate(call.timeout_ms)
    if wait is not None:
        one = wait + one
    parts = []
    total = one
    for k, weight in enumerate(info.weights(), start=1):
        if k > 1:
            total = total + grid.point(backoff_ms(call, k - 1)) + one
        if weight > 0:
            parts.append((weight, total))
    return Dist.mixture(parts)


def horizon(call: ExternalCall) -> float:
    """A time span that holds nearly all of one logical call."""
    n = 1 + (call.retries.max if call.retries else 0)
    per = call.latency.mean * (1.0 + 12.0 * math.sqrt(max(call.latency.scv, 0.0)))
    if call.latency.shape == "lognormal":
        per = max(per, math.exp(call.latency.m + 4.0 * call.latency.s))
    if call.timeout_ms is not None:
        per = min(per, call.timeout_ms * 1.01)
    return n * per + sum(backoff_ms(call, k) for k in range(1, n)) + 1e-3
