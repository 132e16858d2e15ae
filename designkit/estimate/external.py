"""Calls to third parties: attempts cut by a timeout, retried with backoff, or cut short by
an open circuit breaker."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from designkit.flow.nodes import ExternalCall
from designkit.flow.times import Spec
from designkit.maths.distributions import Dist, Grid

__all__ = ["Attempts", "attempts", "backoff_ms", "backoff_total_ms", "call_dist",
           "call_moments", "geometric_sum", "settings"]


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

    def weights(self) -> Iterator[float]:
        """P(the call makes exactly k attempts), for k = 1 … max_attempts, while any is
        left: a call that nearly always succeeds at once stops after a few."""
        f, n = self.failure, self.max_attempts
        reach = 1.0  # P(at least k attempts) = f^(k − 1)
        for k in range(1, n + 1):
            if k == n:
                yield reach
                return
            yield reach * (1.0 - f)
            reach *= f
            if reach < 1e-300:
                return


def backoff_ms(call: ExternalCall, retry: int) -> float:
    """Mean delay before retry number ``retry`` (1-based); full jitter halves it. An
    exponential delay too long for a double is ``inf``.

    Example:
        >>> from designkit.flow.nodes import ExternalCall
        >>> from designkit.flow.times import Spec
        >>> from designkit.model.resilience import Retries
        >>> call = ExternalCall("p", Spec(100), 2000, Retries(max=3, backoff="exponential",
        ...                     base_ms=100, jitter=True), 0.0, None, None)
        >>> [backoff_ms(call, i) for i in (1, 2, 3)], backoff_ms(call, 5000)
        ([50.0, 100.0, 200.0], inf)
    """
    retries = call.retries
    if retries is None or retries.backoff == "none" or retries.base_ms == 0:
        return 0.0
    delay = (_times_power_of_two(retries.base_ms, retry - 1)
             if retries.backoff == "exponential" else retries.base_ms)
    return delay / 2.0 if retries.jitter else delay


def backoff_total_ms(call: ExternalCall, retries: int) -> float:
    """Mean total delay before the first ``retries`` retries, in closed form: ``r·d`` for a
    constant delay ``d``, ``b·(2ʳ − 1)`` for an exponential one from ``b`` (halved with
    jitter); ``inf`` when it does not fit a double.

    Example:
        >>> from designkit.flow.nodes import ExternalCall
        >>> from designkit.flow.times import Spec
        >>> from designkit.model.resilience import Retries
        >>> call = ExternalCall("p", Spec(100), None, Retries(max=100, backoff="exponential",
        ...                     base_ms=100), 0.0, None, None)
        >>> backoff_total_ms(call, 3), f"{backoff_total_ms(call, 100):.4g}"
        (700.0, '1.268e+32')
    """
    setting = call.retries
    if retries <= 0 or setting is None or setting.backoff == "none" or setting.base_ms == 0:
        return 0.0
    if setting.backoff == "exponential":
        total = _times_power_of_two(setting.base_ms, retries) - setting.base_ms
    else:
        total = setting.base_ms * retries
    return total / 2.0 if setting.jitter else total


def _times_power_of_two(value: float, exponent: int) -> float:
    """``value · 2^exponent`` (``exponent ≥ 0``); ``inf`` instead of an OverflowError."""
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.inf


def settings(call: ExternalCall) -> tuple[object, ...]:
    """What a call's time depends on, hashable: calls of the same third party with the
    same settings share their arithmetic."""
    retries = None if call.retries is None else tuple(call.retries.model_dump().items())
    return (call.latency, call.timeout_ms, call.failure_rate, call.breaker_threshold, retries)


def attempts(call: ExternalCall, attempt: Dist | None = None) -> Attempts:
    """The retry arithmetic of ``call``; ``attempt`` gives P(timeout) when one is set (by
    default, the latency's own distribution function: computed once per settings)."""
    retries = call.retries.max if call.retries else 0
    if attempt is None:
        return _attempts(call.latency, call.timeout_ms, call.failure_rate,
                         call.breaker_threshold, retries)
    return _arithmetic(call.latency, call.timeout_ms, call.failure_rate,
                       call.breaker_threshold, retries, attempt)


@functools.lru_cache(maxsize=4096)
def _attempts(latency: Spec, timeout_ms: float | None, failure_rate: float,
              breaker_threshold: float | None, retries: int) -> Attempts:
    """:func:`_arithmetic` with the latency's own distribution, kept per settings (a
    bounded cache of immutable results: calls of the same third party share it)."""
    return _arithmetic(latency, timeout_ms, failure_rate, breaker_threshold, retries, None)


def _arithmetic(latency: Spec, timeout_ms: float | None, failure_rate: float,
                breaker_threshold: float | None, retries: int,
                attempt: Dist | None) -> Attempts:
    p_timeout = 0.0
    if timeout_ms is not None:
        p_timeout = (latency.cut(timeout_ms)[0] if attempt is None
                     else 1.0 - attempt.cdf(timeout_ms))
    failure = 1.0 - (1.0 - failure_rate) * (1.0 - p_timeout)
    n = 1 + retries
    if breaker_threshold is not None and failure >= breaker_threshold:
        return Attempts(failure, n, 0.0, True, p_timeout)
    return Attempts(failure, n, geometric_sum(failure, n), False, p_timeout)


def geometric_sum(ratio: float, terms: int) -> float:
    """``1 + r + … + r^(terms − 1)`` in closed form (``terms`` when ``r = 1``; ``inf`` when
    it does not fit a double).

    Example:
        >>> geometric_sum(0.5, 3), geometric_sum(1.0, 101), geometric_sum(0.0, 5)
        (1.75, 101.0, 1.0)
    """
    if terms <= 0:
        return 0.0
    if ratio == 1.0:
        return float(terms)
    if ratio <= 0.0:
        return 1.0
    try:
        return -math.expm1(terms * math.log(ratio)) / (1.0 - ratio)
    except OverflowError:
        return math.inf


def call_moments(call: ExternalCall) -> tuple[Attempts, float, float]:
    """The attempts, mean and variance of one logical call (without the waits for a
    concurrency slot, which the solver adds), in closed form — of the same model
    :func:`call_dist` composes.

    With ``K`` the number of attempts (``P(K ≥ k) = f^(k − 1)``, at most ``n``) and
    ``B(k)`` the backoffs waited before attempt ``k``: a call of ``K = k < n`` attempts made
    ``k − 1`` that failed (``F``: a timeout, exactly ``timeout_ms``, or an error within time)
    and one that answered within time (``W``: the latency given it is below the timeout); of
    ``K = n``, ``n − 1`` failed and one cut at the timeout (``A``,
    :meth:`~designkit.flow.times.Spec.cut`). So ``E[T | k] = (k − 1)·E[F] + E[last] +
    B(k)``, ``Var[T | k] = (k − 1)·Var[F] + Var[last]``, and the call's variance is
    ``Σₖ P(K = k)(Var[T | k] + (E[T | k] − E)²)``. (Taking every attempt as a typical cut
    attempt instead would miss that a retried call is longer by a *failed* one: a few
    percent of the variance with a timeout.) The sum runs over the attempts that are
    reached (at most ``n``, 101 by the design's bounds).

    Example:
        >>> from designkit.flow.nodes import ExternalCall
        >>> from designkit.flow.times import Spec
        >>> from designkit.model.resilience import Retries
        >>> call = ExternalCall("p", Spec(100.0, 0.0), None, Retries(max=1, backoff="constant",
        ...                     base_ms=50), 0.5, None, None)
        >>> info, mean, var = call_moments(call)   # 100 ms, or 100 + 50 + 100 ms: ½ each
        >>> info.expected, mean, var
        (1.5, 175.0, 5625.0)
    """
    info = attempts(call)
    if info.breaker_open:
        return info, 0.0, 0.0
    p_timeout, first, second = call.latency.cut(call.timeout_ms)
    within_mean, within_second = first, second  # W: the latency below the timeout
    failed_mean, failed_second = first, second  # F: a failed attempt
    if call.timeout_ms is not None and p_timeout > 0.0:
        limit = call.timeout_ms
        if p_timeout < 1.0:
            within_mean = max(first - p_timeout * limit, 0.0) / (1.0 - p_timeout)
            within_second = max(second - p_timeout * limit * limit, 0.0) / (1.0 - p_timeout)
        else:
            within_mean, within_second = limit, limit * limit
        timed_out = min(p_timeout / info.failure, 1.0) if info.failure > 0 else 0.0
        failed_mean = timed_out * limit + (1.0 - timed_out) * within_mean
        failed_second = timed_out * limit * limit + (1.0 - timed_out) * within_second
    weights = np.fromiter(info.weights(), dtype=float)
    counts = np.arange(1, len(weights) + 1, dtype=float)
    backoff = np.array([backoff_total_ms(call, k - 1) for k in range(1, len(weights) + 1)])
    last = counts == info.max_attempts  # the n-th attempt ends either way
    last_mean = np.where(last, first, within_mean)
    last_var = np.where(last, max(second - first * first, 0.0),
                        max(within_second - within_mean * within_mean, 0.0))
    failed_var = max(failed_second - failed_mean * failed_mean, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        times = (counts - 1.0) * failed_mean + last_mean + backoff
        reached = weights > 0
        mean = float(np.sum(np.where(reached, weights * times, 0.0)))
        if not math.isfinite(mean):
            return info, math.inf, math.inf
        within = (counts - 1.0) * failed_var + last_var + (times - mean) ** 2
        var = float(np.sum(np.where(reached, weights * within, 0.0)))
    return info, mean, var if math.isfinite(var) else math.inf


def call_dist(call: ExternalCall, grid: Grid, wait: Dist | None = None, *,
              ok: bool = False) -> Dist:
    """The time of one logical call on ``grid``: attempts (each waiting ``wait`` when the
    third party bounds its concurrency), cut at the timeout, with backoff between them.

    A call that makes ``k`` attempts made ``k − 1`` that failed — each a timeout, exactly
    at ``timeout_ms``, or the third party's error within time — and a last one that
    answered within time (or, the ``n``-th, ended either way): the attempts are taken as
    what they ended in, so a retried call is longer by a typical *failed* attempt, not a
    typical attempt. Attempts are added while they are reached and the backoff waited so far
    still ends on the grid; the chance of the later ones is left as mass beyond the grid
    (its tail), so no sum wraps around the grid.

    ``ok``: the time of the calls that succeed — the ``k``-th attempt answers within time,
    with probability ``fᵏ⁻¹(1 − f) / (1 − fⁿ)``.
    """
    info = attempts(call)
    if info.breaker_open:
        return grid.zero()
    f, n = info.failure, info.max_attempts
    if ok and f >= 1.0:
        return grid.never()  # no call succeeds
    within, failed, either = _outcomes(call, info, call.latency.dist(grid), grid)
    if wait is not None:
        within, failed, either = wait + within, wait + failed, wait + either
    if ok:
        scale = -math.expm1(n * math.log(f)) if f > 0 else 1.0  # 1 − fⁿ
        parts = ((w * (1.0 - f) / scale, within) for w in _reached(f, n))
    else:
        parts = ((w, within if k < n else either)
                 for k, w in enumerate(info.weights(), start=1))
    return _attempts_dist(call, grid, failed, parts)


def _reached(f: float, n: int) -> Iterator[float]:
    """P(an attempt ``k`` is made) = ``fᵏ⁻¹``, for k = 1 … n, while any is left."""
    reach = 1.0
    for _ in range(n):
        yield reach
        reach *= f
        if reach < 1e-300:
            return


def _outcomes(call: ExternalCall, info: Attempts, one: Dist,
              grid: Grid) -> tuple[Dist, Dist, Dist]:
    """One attempt's time, by how it ended: within time (``X | X < timeout``), failed
    (a timeout at ``timeout_ms`` or an error within time, in their shares), and either (the
    attempt cut at the timeout)."""
    if call.timeout_ms is None:
        return one, one, one
    either = one.truncate(call.timeout_ms)
    within = one
    cut = math.floor(max(call.timeout_ms, 0.0) / grid.step + 0.5)
    if cut < grid.size:
        kept = one.pmf.copy()
        kept[cut:] = 0.0
        mass = float(kept.sum())
        within = Dist(grid, kept / mass) if mass > 0 else grid.point(call.timeout_ms)
    timed_out = info.p_timeout / info.failure if info.failure > 0 else 0.0
    failed = within
    if timed_out > 0:
        failed = Dist.mixture([(timed_out, grid.point(call.timeout_ms)),
                               (1.0 - timed_out, within)])
    return within, failed, either


def _attempts_dist(call: ExternalCall, grid: Grid, failed: Dist,
                   parts: Iterator[tuple[float, Dist]]) -> Dist:
    """The mixture over ``k`` of ``k − 1`` ``failed`` attempts, the backoffs between them,
    and a last one (``parts``: P(k attempts) and the last one's time, k = 1, 2, …)."""
    end = grid.size * grid.step
    mixed = []
    before: Dist | None = None  # the failed attempts and backoffs so far
    left = 1.0
    for k, (weight, last) in enumerate(parts, start=1):
        if k > 1:
            if backoff_total_ms(call, k - 1) >= end:
                break
            step = failed + grid.point(backoff_ms(call, k - 1))
            before = step if before is None else before + step
        mixed.append((weight, last if before is None else before + last))
        left -= weight
    if left > 1e-15:
        mixed.append((left, grid.never()))
    return Dist.mixture(mixed)
