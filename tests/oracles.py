"""Closed forms the estimator is held to: independent oracles written from the published
formulas, used only by tests (the estimator's own forms are in ``designkit.maths``).

Sources:
    [GH] Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*, 4th ed.
         (Wiley 2008): M/M/1 §2.2, M/M/c §2.3 (waiting-time distribution), M/G/1 §5.1
         (Pollaczek–Khinchine).
    [K]  Kingman, "The single server queue in heavy traffic", Proc. Camb. Phil. Soc. 57
         (1961): the G/G/1 approximation.
    [AC] Allen, *Probability, Statistics and Queueing Theory*, 2nd ed. (Academic Press
         1990), §6: the Allen–Cunneen G/G/c approximation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from designkit.maths.queueing import erlang_c, mmc_sojourn_cdf

Float = float | NDArray[np.float64]


def _out(value: NDArray[np.float64]) -> Float:
    return float(value) if np.ndim(value) == 0 else value


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


def held_chain_response(lam: float, threads: int, think: float, service: float,
                        servers: int, most: int = 200) -> float:
    """Mean response of an exact continuous-time Markov chain: Poisson arrivals ``lam``
    take one of ``threads`` threads (FCFS), spend Exp(``think``) in a delay, then Exp(
    ``service``) at an FCFS station of ``servers`` servers, and leave. Solved numerically
    on the states (requests in the system, requests at the station), truncated at
    ``most`` requests; independent of the estimator's flow-equivalent algebra.

    Example:
        >>> round(held_chain_response(0.02, 1, 10.0, 27.0, 1), 3)  # one thread: M/G/1, P-K
        121.538
    """
    states = {(n, j): None for n in range(most + 1) for j in range(min(n, threads) + 1)}
    index = {state: i for i, state in enumerate(states)}
    q = np.zeros((len(index), len(index)))
    for (n, j), i in index.items():
        inside = min(n, threads)
        if n < most:
            q[i, index[(n + 1, j)]] += lam
        if inside - j > 0:
            q[i, index[(n, j + 1)]] += (inside - j) / think
        if j > 0:
            q[i, index[(n - 1, j - 1)]] += min(j, servers) / service
    q -= np.diag(q.sum(axis=1))
    a = q.T.copy()
    a[0, :] = 1.0
    b = np.zeros(len(index))
    b[0] = 1.0
    p = np.linalg.solve(a, b)
    return float(sum(n * p[i] for (n, _), i in index.items())) / lam


def md1_wait_cdf(t: float, lam: float, service: float) -> float:
    """P(W ≤ t) of the M/D/1 queue's wait (Crommelin 1932):
    ``(1 − ρ) Σ_{k=0}^{⌊t/D⌋} (λ(kD − t))^k / k! · e^{−λ(kD − t)}``, an alternating sum
    summed in 80-digit decimals (floats lose it beyond a few dozen terms).

    Example:
        >>> round(md1_wait_cdf(0.0, 0.05, 10.0), 12)   # P(no wait) = 1 − ρ
        0.5
    """
    from decimal import Decimal, getcontext

    getcontext().prec = 80
    lam_d, d, t_d = Decimal(repr(lam)), Decimal(repr(service)), Decimal(repr(t))
    total = Decimal(0)
    factorial = Decimal(1)
    for k in range(int(t // service) + 1):
        if k:
            factorial *= k
        x = lam_d * (k * d - t_d)
        power = x ** k if k else Decimal(1)  # (Decimal's 0 ** 0 is an error)
        total += power / factorial * (-x).exp()
    return float((1 - lam_d * d) * total)


def md1_sojourn_quantile(p: float, lam: float, service: float) -> float:
    """The p-quantile of the M/D/1 sojourn (its wait, then the service), by bisection."""
    lo, hi = 0.0, service * 200
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if md1_wait_cdf(mid, lam, service) < p else (lo, mid)
    return service + (lo + hi) / 2


def tandem_chain_response(lam: float, threads: int, think: float,
                          stations: list[tuple[int, float]], most: int = 250) -> float:
    """Mean response of an exact continuous-time Markov chain: Poisson arrivals ``lam``
    take one of ``threads`` threads (FCFS), spend Exp(``think``) in a delay, then visit
    ``stations`` in turn — each (servers, mean Exp service), FCFS — and leave. The states
    are the requests waiting for a thread (up to ``most``) and where each of the threads'
    requests is; solved with a dense linear system.

    Example:
        >>> round(tandem_chain_response(0.15, 8, 5.0, [(4, 20.0)], most=150), 2)
        35.23
    """
    k = len(stations)
    inside = [c for c in itertools.product(range(threads + 1), repeat=k + 1)
              if sum(c) <= threads]
    states = [(q, *c) for q in range(most + 1) for c in inside if q == 0 or sum(c) == threads]
    index = {s: i for i, s in enumerate(states)}
    rates = np.zeros((len(states), len(states)))

    def move(state: tuple[int, ...], to: tuple[int, ...], rate: float) -> None:
        rates[index[state], index[to]] += rate

    for state in states:
        q, where = state[0], list(state[1:])
        if sum(where) < threads:
            move(state, (q, where[0] + 1, *where[1:]), lam)
        elif q < most:
            move(state, (q + 1, *where), lam)
        for j in range(k + 1):
            n = where[j]
            if n == 0:
                continue
            rate = n / think if j == 0 else min(n, stations[j - 1][0]) / stations[j - 1][1]
            after = list(where)
            after[j] -= 1
            if j < k:
                after[j + 1] += 1
                move(state, (q, *after), rate)
            elif q > 0:
                after[0] += 1
                move(state, (q - 1, *after), rate)
            else:
                move(state, (q, *after), rate)
    rates -= np.diag(rates.sum(axis=1))
    system = rates.T.copy()
    system[0, :] = 1.0
    p = np.linalg.solve(system, np.eye(len(states))[0])
    return float(sum(p[i] * sum(s) for s, i in index.items())) / lam


def _expm(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """The matrix exponential by scaling and squaring a Taylor series (small matrices)."""
    norm = float(np.abs(a).sum(axis=1).max()) if a.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm))) + 1 if norm > 0.5 else 0
    scaled = a / 2.0 ** squarings
    term = np.eye(len(a))
    total = term.copy()
    for k in range(1, 30):
        term = term @ scaled / k
        total += term
    for _ in range(squarings):
        total = total @ total
    return total


def phase_type(mean: float, scv: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The service times designkit draws for ``{mean, scv}``, as a phase-type (initial
    vector, sub-generator): exponential (scv 1), Erlang-k (scv = 1/k), the balanced
    two-phase hyperexponential (scv > 1)."""
    if abs(scv - 1.0) < 1e-12:
        return np.array([1.0]), np.array([[-1.0 / mean]])
    if scv < 1.0:
        k = round(1.0 / scv)
        assert abs(k * scv - 1.0) < 1e-9, "a gamma of integer shape only"
        rate = k / mean
        t = np.diag([-rate] * k) + np.diag([rate] * (k - 1), 1)
        start = np.zeros(k)
        start[0] = 1.0
        return start, t
    r = math.sqrt((scv - 1.0) / (scv + 1.0))
    p = 0.5 * (1.0 + r)
    return np.array([p, 1.0 - p]), np.diag([-2.0 * p / mean, -2.0 * (1.0 - p) / mean])


def mph1_sojourn_quantile(q: float, lam: float, start: NDArray[np.float64],
                          generator: NDArray[np.float64]) -> float:
    """The q-quantile of the sojourn time of an M/PH/1 queue (FCFS), exactly: the wait
    is 0 with probability 1 − ρ and otherwise phase-type with initial vector ρ·π and
    sub-generator T + t·ρπ, π = β(−T)⁻¹ / E[S] the service's equilibrium phases (Neuts);
    the sojourn adds the service. Independent of designkit's grids.

    Example:
        >>> b, t = phase_type(10.0, 1.0)      # M/M/1 at ρ 0.5: Exp(mean 20 ms)
        >>> round(mph1_sojourn_quantile(0.95, 0.05, b, t), 4), round(-20 * math.log(0.05), 4)
        (59.9146, 59.9146)
    """
    k = len(start)
    inverse = np.linalg.inv(-generator)
    mean = float(start @ inverse @ np.ones(k))
    rho = lam * mean
    exits = -generator @ np.ones(k)
    alpha = rho * (start @ inverse) / mean
    wait_gen = generator + np.outer(exits, alpha)
    wait_exits = -wait_gen @ np.ones(k)
    full = np.block([[wait_gen, np.outer(wait_exits, start)], [np.zeros((k, k)), generator]])
    initial = np.concatenate([alpha, (1.0 - alpha.sum()) * start])

    def survival(x: float) -> float:
        return float(initial @ _expm(full * x) @ np.ones(2 * k))

    lo, hi = 0.0, mean
    while survival(hi) > 1.0 - q:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if survival(mid) > 1.0 - q else (lo, mid)
    return 0.5 * (lo + hi)
