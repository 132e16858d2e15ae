"""A queue under a load that changes with time: the pointwise stationary fluid flow
approximation (Wang, Tipper & Sundareshan).

A station of ``c`` servers is described by ``x(t)``, the mean number of requests in it.
Requests arrive at ``λ(t)`` and leave at ``c·μ·ρ``, where ρ is the utilization at which the
stationary queue would hold ``x`` requests:

    dx/dt = λ(t) − c·μ·ρ(x),    x = L(ρ) = c·ρ + C(c, c·ρ) · ρ / (1 − ρ) · (1 + scv) / 2

(``C`` Erlang's C; the last factor Pollaczek–Khinchine's for a service time of squared
coefficient of variation ``scv``). At a constant load it settles on the stationary queue
(exact for M/M/c, and for M/G/1's mean); under overload ρ → 1 and the backlog grows at
``λ − c·μ``, the fluid limit; after it, the backlog drains at ``c·μ − λ``. Each step is
implicit (backward Euler, solved for ρ by bisection), so steps far longer than a service
time are stable.

Example:
    >>> import numpy as np
    >>> x = settle(np.array([0.5]), np.array([1]), np.array([1.0]))
    >>> round(float(x[0]), 6)  # M/M/1 at ρ 0.5: one request in the system
    1.0
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from designkit.maths.queueing import erlang_c

__all__ = ["Curves", "in_system", "settle", "step", "waiting"]

Floats = NDArray[np.float64]

_BISECTIONS = 60
_TOP = 1.0 - 1e-12  # the highest utilization a finite backlog stands for


def in_system(rho: Floats, servers: NDArray[np.int64], scv: Floats) -> Floats:
    """``L(ρ)``: the stationary mean number in a station of ``servers`` at utilization
    ``rho`` (< 1), per station."""
    rho = np.clip(rho, 0.0, _TOP)
    c = servers.astype(float)
    queue = np.asarray(erlang_c(servers, c * rho), dtype=float) * rho / (1.0 - rho)
    return np.asarray(c * rho + queue * (1.0 + scv) / 2.0, dtype=float)


def waiting(x: Floats, rho: Floats, servers: NDArray[np.int64]) -> Floats:
    """Requests waiting (not in service) when ``x`` are in the station at ``rho``."""
    return np.maximum(x - servers * rho, 0.0)


def settle(rho: Floats, servers: NDArray[np.int64], scv: Floats) -> Floats:
    """The stationary number in system at offered utilization ``rho`` (``inf`` at 1 or
    more)."""
    out = np.full(rho.shape, np.inf)
    below = rho < 1.0
    out[below] = in_system(rho[below], servers[below], scv[below])
    return out


class Curves:
    """Each station's utilization as a function of the number in it (``L⁻¹``), on a grid
    of numbers from 10⁻⁸ to 10¹² requests (2 % apart), computed once: a step then reads
    the number in the station off it instead of evaluating Erlang's C sixty times."""

    def __init__(self, servers: NDArray[np.int64], scv: Floats) -> None:
        self.x = np.concatenate([[0.0], np.logspace(-8, 12, 2400)])
        lo = np.zeros((servers.size, self.x.size))
        hi = np.full_like(lo, _TOP)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            over = in_system(mid, servers[:, None], scv[:, None]) > self.x
            hi = np.where(over, mid, hi)
            lo = np.where(over, lo, mid)
        self.rho = 0.5 * (lo + hi)

    def solve(self, target: Floats, slope: Floats) -> tuple[Floats, Floats]:
        """Per station, the number in it ``x`` with ``x + slope·ρ(x) = target``, and ρ."""
        f = self.x + slope[:, None] * self.rho
        k = np.clip((f < target[:, None]).sum(axis=1), 1, self.x.size - 1)
        rows = np.arange(target.size)
        lo, hi = f[rows, k - 1], f[rows, k]
        share = np.clip((target - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
        x = self.x[k - 1] + share * (self.x[k] - self.x[k - 1])
        beyond = target > f[:, -1]  # more than 10¹² requests: every server busy
        x = np.where(beyond, target - slope * _TOP, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(slope > 0, (target - x) / slope, self.rho[rows, k])
        return np.maximum(x, 0.0), np.clip(rho, 0.0, 1.0)


def step(x: Floats, arrival: Floats, capacity: Floats, servers: NDArray[np.int64],
         scv: Floats, dt: float, curves: Curves | None = None) -> tuple[Floats, Floats]:
    """One backward-Euler step of ``dt``: from ``x`` requests in each station, with
    ``arrival`` per unit time and at most ``capacity`` (``c·μ``) served per unit time.
    Returns the new numbers in system and the stations' utilizations. ``curves``: the
    stations' :class:`Curves`, to read ρ from (else found by bisection).

    Example:
        >>> import numpy as np
        >>> one = np.array([1])
        >>> x, rho = step(np.array([1.0]), np.array([1.5]), np.array([1.0]), one,
        ...               np.array([1.0]), dt=1000.0)
        >>> round(float(x[0]), 1)  # x + 1000·x/(1 + x) = 1 + 1500: x² − 500x − 1501 = 0
        503.0
        >>> x2, rho2 = step(np.array([1.0]), np.array([1.5]), np.array([1.0]), one,
        ...                 np.array([1.0]), dt=1000.0, curves=Curves(one, np.array([1.0])))
        >>> round(float(x2[0]), 1)  # read off the grid: to 10⁻⁴
        503.0
    """
    target = x + dt * arrival
    if curves is not None:
        return curves.solve(target, dt * capacity)
    lo = np.zeros_like(x)
    hi = np.full_like(x, _TOP)
    for _ in range(_BISECTIONS):  # L(ρ) + dt·c·μ·ρ = x + dt·λ, increasing in ρ
        mid = 0.5 * (lo + hi)
        over = in_system(mid, servers, scv) + dt * capacity * mid > target
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    rho = 0.5 * (lo + hi)
    return np.maximum(target - dt * capacity * rho, 0.0), rho
