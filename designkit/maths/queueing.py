"""Queueing formulas: pure functions of rates and times, vectorized over numpy arrays.

Conventions: ``lam`` arrival rate, ``mu`` service rate of one server, ``c`` servers,
``a = lam / mu`` offered load (Erlangs), ``rho = a / c`` utilization. Any consistent time
unit works. A saturated station (``rho >= 1``) has infinite waiting time — returned as
``inf``, never ``nan``.

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
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from designkit.maths.special import RECURSION_MAX, erlang_b_array

__all__ = [
    "Z95",
    "allen_cunneen_wait",
    "erlang_b",
    "erlang_c",
    "gamma_from_moments",
    "kingman_wait",
    "lognormal_from_percentiles",
    "lognormal_moments",
    "mm1_response",
    "mmc_sojourn_cdf",
    "mmc_sojourn_quantile",
    "mmc_wait",
    "pollaczek_khinchine_wait",
    "solve_increasing",
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


def mmc_wait(lam: ArrayLike, mu: ArrayLike, c: int) -> Float:
    """Mean waiting time in queue of M/M/c: ``C / (c·mu − lam)``; ``inf`` when saturated.

    Example:
        >>> round(mmc_wait(90, 10, 10) + 1 / 10, 6)   # mean sojourn T
        0.166873
    """
    lam_ = np.asarray(lam, dtype=float)
    mu_ = np.asarray(mu, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.asarray(erlang_c(c, lam_ / mu_)) / (c * mu_ - lam_)
    return _out(np.where(lam_ >= c * mu_, np.inf, np.where(lam_ <= 0, 0.0, wait)))


def mm1_response(lam: ArrayLike, service: ArrayLike) -> Float:
    """Mean response (sojourn) time of M/M/1: ``S / (1 − λS)``; ``inf`` when ``λS >= 1``.

    Example:
        >>> mm1_response(0.75, 1.0)
        4.0
    """
    lam_ = np.asarray(lam, dtype=float)
    s = np.asarray(service, dtype=float)
    rho = lam_ * s
    with np.errstate(divide="ignore"):
        value = s / (1.0 - rho)
    return _out(np.where(rho >= 1, np.inf, value))


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


def mmc_sojourn_quantile(q: float, lam: float, mu: float, c: int) -> float:
    """The ``q``-quantile of the M/M/c sojourn time; ``inf`` when saturated.

    Example:
        >>> [round(mmc_sojourn_quantile(q, 90, 10, 10), 5) for q in (0.5, 0.95, 0.99)]
        [0.13291, 0.43609, 0.62499]
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if lam >= c * mu:
        return math.inf
    return solve_increasing(lambda t: float(mmc_sojourn_cdf(t, lam, mu, c)), q,
                            hi=max(1.0 / mu, 1.0 / (c * mu - lam)))


def pollaczek_khinchine_wait(lam: ArrayLike, mean: ArrayLike, scv: ArrayLike) -> Float:
    """Mean wait in queue of M/G/1: ``λ·E[S²] / (2(1 − ρ))`` [GH §5.1].

    ``E[S²] = mean²·(1 + scv)``. Exact for M/G/1; ``inf`` when ``ρ >= 1``.

    Example:
        >>> pollaczek_khinchine_wait(0.5, 1.0, 0.0)   # M/D/1 at rho 0.5
        0.5
    """
    lam_ = np.asarray(lam, dtype=float)
    s = np.asarray(mean, dtype=float)
    rho = lam_ * s
    with np.errstate(divide="ignore", invalid="ignore"):
        value = lam_ * s * s * (1.0 + np.asarray(scv, dtype=float)) / (2.0 * (1.0 - rho))
    return _out(np.where(rho >= 1, np.inf, value))


def kingman_wait(lam: ArrayLike, mean: ArrayLike, ca2: ArrayLike, cs2: ArrayLike) -> Float:
    """Kingman's G/G/1 approximation of the mean wait: ``ρ/(1−ρ) · (ca²+cs²)/2 · E[S]`` [K].

    Example:
        >>> round(kingman_wait(0.75, 1.0, 1.0, 1.0), 6)   # exact for M/M/1
        3.0
    """
    lam_ = np.asarray(lam, dtype=float)
    s = np.asarray(mean, dtype=float)
    rho = lam_ * s
    variability = (np.asarray(ca2, dtype=float) + np.asarray(cs2, dtype=float)) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = rho / (1.0 - rho) * variability * s
    return _out(np.where(rho >= 1, np.inf, value))


def allen_cunneen_wait(lam: ArrayLike, mean: ArrayLike, c: int, ca2: ArrayLike = 1.0,
                       cs2: ArrayLike = 1.0) -> Float:
    """Allen–Cunneen G/G/c approximation: the M/M/c wait times ``(ca² + cs²)/2`` [AC].

    Exact for M/M/c (``ca² = cs² = 1``); for c = 1 and Poisson arrivals it equals
    Pollaczek–Khinchine.

    Example:
        >>> round(allen_cunneen_wait(90, 0.1, 10), 6) == round(mmc_wait(90, 10, 10), 6)
        True
    """
    s = np.asarray(mean, dtype=float)
    with np.errstate(divide="ignore"):
        base = np.asarray(mmc_wait(lam, 1.0 / s, c))
    variability = (np.asarray(ca2, dtype=float) + np.asarray(cs2, dtype=float)) / 2.0
    return _out(np.where(np.isinf(base), np.inf, base * variability))


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


def gamma_from_moments(mean: float, scv: float) -> tuple[float, float]:
    """Shape ``k`` and scale ``θ`` of the gamma with this mean and scv: ``k = 1/scv``.

    Example:
        >>> gamma_from_moments(2.0, 0.25)
        (4.0, 0.5)
    """
    if mean <= 0 or scv <= 0:
        raise ValueError(f"need mean > 0 and scv > 0, got mean={mean}, scv={scv}")
    return 1.0 / scv, mean * scv


def solve_increasing(f: Callable[[float], Any], target: float, lo: float = 0.0,
                     hi: float = 1.0, tol: float = 1e-12) -> float:
    """The ``x >= lo`` where a non-decreasing ``f`` reaches ``target`` (bracket, bisect).

    Example:
        >>> round(solve_increasing(lambda x: x * x, 2.0), 9)
        1.414213562
    """
    while f(hi) < target:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= tol * max(1.0, hi):
            break
    return 0.5 * (lo + hi)
