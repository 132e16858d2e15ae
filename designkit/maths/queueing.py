"""Queueing formulas: pure functions of rates and times, vectorized over numpy arrays.

Conventions: ``lam`` arrival rate, ``mu`` service rate of one server, ``c`` servers,
``a = lam / mu`` offered load (Erlangs), ``rho = a / c`` utilization. Any consistent time
unit works. A saturated station (``rho >= 1``) has infinite waiting time — returned as
``inf``, never ``nan``.

The estimator's own forms live here; the closed forms it is tested against (M/M/c waits
and quantiles, Pollaczek–Khinchine, Kingman, Allen–Cunneen) are oracles in
``tests/oracles.py``.

Sources:
    [GH] Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*, 4th ed.
         (Wiley 2008): M/M/1 §2.2, M/M/c §2.3 (Erlang C, waiting-time distribution),
         M/G/1 §5.1 (Pollaczek–Khinchine), Erlang B §2.5.
    [K]  Kingman, "The single server queue in heavy traffic", Proc. Camb. Phil. Soc. 57
         (1961): the G/G/1 approximation.
    [AC] Allen, *Probability, Statistics and Queueing Theory*, 2nd ed. (Academic Press
         1990), §6: the Allen–Cunneen G/G/c approximation.
    [J]  Jagerman, "Some properties of the Erlang loss function", Bell Syst. Tech. J. 53
         (1974): the recursion for Erlang B (used for up to 100 servers).
    [T]  Temme, SIAM J. Math. Anal. 10 (1979): the uniform expansion of the incomplete
         gamma function behind Erlang B for many servers (:mod:`designkit.maths.special`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from designkit.maths.special import RECURSION_MAX, erlang_b_array

__all__ = [
    "Z95",
    "erlang_b",
    "erlang_c",
    "lognormal_from_percentiles",
    "lognormal_moments",
    "mmc_sojourn_cdf",
]

Z95 = 1.6448536269514722  # standard normal quantile at 0.95
Float = float | NDArray[np.float64]


def _out(value: NDArray[np.float64]) -> Float:
    return float(value) if np.ndim(value) == 0 else value


def erlang_b(c: ArrayLike, a: ArrayLike) -> Float:
    """Erlang B: probability that an arrival finds all ``c`` servers busy in M/M/c/c.

    For ``c`` up to :data:`~designkit.maths.special.RECURSION_MAX` by the recursion
    ``B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1))`` [J]; above, by Temme's uniform expansion
    of the incomplete gamma function in log space (:mod:`designkit.maths.special`): the
    cost does not grow with ``c``, and a probability too small for a double is 0, never
    NaN. ``c`` and ``a`` may be arrays (element-wise).

    Example:
        >>> round(erlang_b(10, 9.0), 6), f"{erlang_b(10**9, 0.99999 * 10**9):.6g}"
        (0.167963, '1.92285e-05')
    """
    if np.any(np.asarray(c) < 0):
        raise ValueError(f"servers must be >= 0, got {c!r}")
    if np.ndim(a) == 0 and np.ndim(c) == 0 and int(c) <= RECURSION_MAX:  # type: ignore[arg-type]
        x, bx = float(a), 1.0  # type: ignore[arg-type]  # plain floats: ~10x faster
        for k in range(1, int(c) + 1):  # type: ignore[arg-type]
            bx = x * bx / (k + x * bx)
        return bx
    return _out(erlang_b_array(c, a))


def erlang_c(c: ArrayLike, a: ArrayLike) -> Float:
    """Erlang C: probability that an arrival waits in M/M/c (1 when ``a >= c``) [GH §2.3].

    ``C = c·B / (c − a·(1 − B))`` with ``B`` the Erlang B of the same ``c`` and ``a``;
    constant time in ``c`` (see :func:`erlang_b`).

    Example:
        >>> round(erlang_c(10, 9.0), 6), round(erlang_c(2, 1.0), 12)
        (0.668732, 0.333333333333)
    """
    servers = np.asarray(c, dtype=float)
    load = np.asarray(a, dtype=float)
    b = np.asarray(erlang_b(c, load), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = servers * b / (servers - load * (1.0 - b))
    return _out(np.where(load >= servers, 1.0, value))


def mmc_sojourn_cdf(t: ArrayLike, lam: float, mu: float, c: int) -> Float:
    """P(T <= t) for the sojourn time T (wait + service) of FCFS M/M/c [GH §2.3].

    The wait is 0 with probability ``1 − C`` and else exponential with rate
    ``θ = c·mu − lam``; the service is exponential with rate ``mu``. So
    ``P(T > t) = (1 − C)·e^{−mu t} + C·(θ e^{−mu t} − mu e^{−θ t}) / (θ − mu)``, and when
    ``θ = mu`` the last term is ``C·(1 + mu t)·e^{−mu t}``. All zeros when saturated.

    Example:
        >>> round(mmc_sojourn_cdf(11.982929094215963, 0.75, 1.0, 1), 6)   # M/M/1 p95
        0.95
    """
    tt = np.maximum(np.asarray(t, dtype=float), 0.0)
    if lam >= c * mu:
        return _out(np.zeros_like(tt))
    cw = float(erlang_c(c, lam / mu)) if lam > 0 else 0.0
    theta = c * mu - lam
    if math.isclose(theta, mu, rel_tol=1e-9):
        tail_wait = (1.0 + mu * tt) * np.exp(-mu * tt)
    else:
        tail_wait = (theta * np.exp(-mu * tt) - mu * np.exp(-theta * tt)) / (theta - mu)
    survival = (1.0 - cw) * np.exp(-mu * tt) + cw * tail_wait
    return _out(np.clip(1.0 - survival, 0.0, 1.0))


def lognormal_from_percentiles(p50: float, p95: float) -> tuple[float, float]:
    """Parameters ``(m, s)`` of the lognormal with median ``p50`` and 95th pct ``p95``.

    ``m = ln p50``, ``s = (ln p95 − ln p50) / z₀.₉₅``.

    Example:
        >>> m, s = lognormal_from_percentiles(120, 400)
        >>> round(math.exp(m), 6), round(s, 6)
        (120.0, 0.731963)
    """
    if not 0 < p50 < p95:
        raise ValueError(f"need 0 < p50 < p95, got p50={p50}, p95={p95}")
    return math.log(p50), (math.log(p95) - math.log(p50)) / Z95


def lognormal_moments(m: float, s: float) -> tuple[float, float]:
    """Mean and scv of the lognormal with parameters ``(m, s)``.

    Example:
        >>> mean, scv = lognormal_moments(*lognormal_from_percentiles(120, 400))
        >>> round(mean, 3), round(scv, 4)
        (156.864, 0.7088)
    """
    return math.exp(m + s * s / 2.0), math.expm1(s * s)


