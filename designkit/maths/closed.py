"""A held resource and the stations it bounds, solved as one flow-equivalent server.

A request takes one of ``C`` servers of a held resource (blocking worker threads, pool
connections), then visits stations inside while it holds it, spending ``think`` ms in
pure delays besides; at most ``C`` requests are ever inside. Inside is a closed
product-form network (a delay and multi-server stations) whose throughput with ``m``
requests inside, ``X(m)``, comes from its normalising constants (Buzen's convolution); the
resource and everything inside it is then one birth–death queue with arrival rate ``λ``
and departure rate ``X(min(n, C))`` in state ``n`` (Chandy–Herzog–Woo's flow-equivalent
server). For exponential times this is exact; it replaces the open-network estimate of the
stations inside, which would let more than ``C`` requests queue there and count the wait
for the resource twice.

Sources:
    [CHW] Chandy, Herzog & Woo, "Parametric analysis of queuing networks", IBM J. Res.
          Dev. 19 (1975): the flow-equivalent server.
    [B]   Buzen, "Computational algorithms for closed queueing networks with exponential
          servers", CACM 16 (1973): the convolution algorithm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from designkit.maths.special import log_factorials

__all__ = ["Held", "bounded_classes_wait", "bounded_classes_waits", "held_queue"]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Held:
    """A held resource and its stations solved together.

    Attributes:
        wait: Mean wait for one of the resource's servers, ms (``inf``: saturated).
        p_wait: Probability an arrival waits for one.
        inside: Mean time inside (holding one), ms.
        residence: Per station, mean time spent there per request (all its visits,
            queueing and service), ms.
        busy: Mean servers of the resource in use.
        queued_full: Per station inside, the chance that one of its copies has a queue
            while every server of the resource is taken: near 1, what the hold waits for
            is always queued and requests leave as that station serves them; near 0, as
            regularly as the hold's own time allows.
        load: The arrivals as a share of the most the resource can pass, ``λ / X(C)``
            (of one copy, for copies solved one by one): saturated from 1.
    """

    wait: float
    p_wait: float
    inside: float
    residence: tuple[float, ...]
    busy: float
    queued_full: tuple[float, ...] = ()
    load: float = 0.0

    @property
    def saturated(self) -> bool:
        return math.isinf(self.wait)


def held_queue(lam: float, population: int, think: float, demands: list[float],
               servers: list[int], copies: list[int] | None = None,
               holder_copies: int = 1) -> Held | None:
    """The flow-equivalent solution of a held resource of ``population`` servers.

    Args:
        lam: Arrivals per ms.
        population: The resource's servers ``C``, all its copies together (at most that
            many inside).
        think: Mean time inside spent in pure delays per request, ms.
        demands: Per station inside, total service time per request (visits × service),
            all its copies together.
        servers: Per station, the servers of one copy.
        copies: Per station, its copies (each its own queue; the demand splits evenly
            across them); 1 each by default.
        holder_copies: Copies ``k`` of the held resource itself (a pool per replica):
            each is its own queue of ``C / k`` servers fed ``λ / k``. A copy with ``j``
            inside keeps each for the mean time ``m / X(m)`` of the shared inside at
            ``m = j +`` what the other copies hold, averaged over the other copies'
            states (taken independent, solved to a fixed point). Exact for one copy,
            and for any number when nothing inside queues.

    Returns:
        The solution, or ``None`` when the normalising constants leave the range of a
        double (a population far beyond the stations' queues: the bound does not bind).

    Example:
        >>> h = held_queue(0.17, 10, 0.0, [20.0], [4])   # a pool of 10 before 4 cores: M/M/4
        >>> round(float(h.wait + h.inside), 2)
        42.98
        >>> round(float(held_queue(0.02, 1, 37.0, [], []).inside), 3)  # nothing inside queues
        37.0
        >>> per_replica = held_queue(0.006, 3, 0.0, [0.5], [8], holder_copies=3)
        >>> round(per_replica.wait, 7)   # three pools of one: M/M/1 each, ρ/(1 − ρ)·s
        0.0005005
    """
    if lam <= 0:
        inside = think + sum(demands)
        return Held(0.0, 0.0, inside, tuple(demands), 0.0)
    closed = _throughputs(population, think, demands, servers, copies or [1] * len(demands))
    if closed is None:
        return None
    throughput, lengths, queued_full = closed
    load = lam / float(throughput[population])
    if load >= 1.0:
        inf = math.inf
        return Held(inf, 1.0, inf, tuple(inf for _ in demands), float(population),
                    queued_full, load)
    k = max(1, min(holder_copies, population))
    per_copy = population // k
    state = _copy_state(lam / k, per_copy, k, throughput)
    inside_count = k * float(np.dot(np.arange(per_copy + 1), state.inside))
    # how many are inside all copies together, for the stations they share: the copies'
    # states convolved (independent copies) once a copy is often full; while copies are
    # seldom full their own limits do not shape the whole, whose occupancy is then the
    # pooled chain's (the open estimate's in the limit) — blended in between, so that
    # nothing jumps where a bound starts to be solved
    weights = _power(state.inside, k, population + 1)
    if k > 1 and state.p_wait < COPIES_APART:
        share = state.p_wait / COPIES_APART
        pooled = _birth_death(lam, throughput[1:population + 1]).inside
        weights = weights * share + pooled * (1.0 - share)
    residence = tuple(float(np.dot(weights, length)) / lam for length in lengths)
    return Held(wait=state.queued / (lam / k), p_wait=state.p_wait,
                inside=inside_count / lam, residence=residence, busy=inside_count,
                queued_full=queued_full, load=load)


def bounded_classes_wait(lams: list[float], bounds: list[int], service: float,
                         servers: int) -> float | None:
    """The mean wait at a station whose requests come from classes that each never have
    more than ``bounds[h]`` there at once (a cache reached only inside two locks: each
    lock's one holder finds at most the other's request ahead).

    Mean-value analysis with the arrival theorem: a request of class ``h`` finds the
    station as the others keep it, and its own class with one fewer of ``bounds[h]``
    (Schweitzer's estimate of ``(c − 1) / c`` of its class's mean). ``servers`` servers
    are Seidmann's single server ``c`` times as fast plus a delay of the rest of the
    service. With ``a = λ·S / c``, the queued requests of class ``h`` are
    ``Q_h = a_h·(1 + T) / (1 + a_h / bounds[h])`` with ``T = A / (1 − A)``,
    ``A = Σ a_h / (1 + a_h / bounds[h])``: a closed form. Unbounded classes give the
    M/M/1 (``bounds`` → ∞). :func:`bounded_classes_waits` is the same over arrays.

    Returns:
        The wait averaged over the classes' arrivals, ms; ``None`` when the classes
        would overload the station (the open estimate, saturated or not, stays).

    Example:
        >>> round(bounded_classes_wait([0.15, 0.15], [1, 1], 2.0, 1), 4)  # two locks
        0.8571
        >>> round(bounded_classes_wait([0.3], [10**9], 2.0, 1), 4)          # M/M/1: 3.0
        3.0
    """
    total = sum(lams)
    wait = bounded_classes_waits(np.array([[total]]), np.array([lams]) / max(total, 1e-300),
                                 np.array([bounds], dtype=float), np.array([[service]]),
                                 np.array([float(servers)]))[0, 0]
    return None if math.isnan(wait) else float(wait)


def bounded_classes_waits(lam: Floats, share: Floats, bounds: Floats, service: Floats,
                          servers: Floats) -> Floats:
    """:func:`bounded_classes_wait` for S stations at K loads at once: arrivals ``lam``
    (S × K, per ms), the classes' shares of them and bounds (S × M; a class of share 0
    is padding; S × M × K: shares per load), service times (S × K, ms) and servers (S).
    NaN where the classes would overload the station.
    """
    shares = share if share.ndim == 3 else share[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        per = service / servers[:, None]  # Seidmann's fast single server
        a = (lam * per)[:, None, :] * shares  # S × M × K
        b = 1.0 + a / bounds[:, :, None]
        big = (a / b).sum(axis=1)  # S × K
        t = big / (1.0 - big)
        own = a * (1.0 + t[:, None, :]) / b
        seen = t[:, None, :] - own / bounds[:, :, None]
        wait = per * (shares * seen).sum(axis=1)  # weighted by the arrivals
    idle = (lam <= 0) | (service <= 0)
    return np.where(idle, 0.0, np.where(big >= 1.0, np.nan, np.maximum(wait, 0.0)))


@dataclass(frozen=True)
class _CopyState:
    """One copy of a held resource: how often ``j`` are inside it (its queue's tail
    folded into ``j = c``), its mean queue and the chance an arrival queues."""

    inside: Floats
    queued: float
    p_wait: float


def _copy_state(lam: float, servers: int, copies: int, throughput: Floats) -> _CopyState:
    """The birth–death chain of one copy: arrivals ``lam``, ``servers`` servers, the others'
    occupancy feeding back through the shared inside (a fixed point; one pass for one
    copy). The others' occupancy and what it costs are taken through FFTs: a power
    and a correlation of probability vectors (a thousand copies cost what ten do)."""
    if copies == 1:  # with j inside, it releases at X(j)
        return _birth_death(lam, throughput[1:servers + 1])
    size = len(throughput)
    m = np.arange(size, dtype=float)
    time = np.divide(m, throughput, out=np.zeros(size), where=m > 0)  # m / X(m)
    j = np.arange(1, servers + 1)
    n = 1 << (2 * size - 1).bit_length()
    time_reversed = np.fft.rfft(time[::-1], n)
    inside = np.zeros(servers + 1)
    inside[0] = 1.0
    state = _CopyState(inside, 0.0, 0.0)
    for _ in range(COPY_ROUNDS):
        others = np.fft.irfft(np.fft.rfft(state.inside, n) ** (copies - 1), n)[:size]
        others = np.maximum(others, 0.0)
        others /= others.sum()
        # with j inside, each request spends E[(j + M) / X(j + M)] there, over the
        # others' M (the time, not the rate, averaged: what a request sees on arrival):
        # Σ_m others[m]·time[j + m], a correlation
        seen = np.fft.irfft(np.fft.rfft(others, n) * time_reversed, n)[size - 1 - j]
        new = _birth_death(lam, j / seen)
        change = float(np.abs(new.inside - state.inside).max())
        state = new
        if change < 1e-10:
            break
    return state


COPIES_APART = 0.05
"""The chance that a copy of a held station is full from which its copies are taken as
independent queues in full (see :func:`held_queue`): three replicas' single connections
before shared cores, full half the time, are; two replicas' pairs of workers, full 0.3 %
of the time, share a cache as one pool of four would (taking them apart there made the
cache's wait 8 % short of the open queue's)."""

COPY_ROUNDS = 30
"""Most rounds of the copies' fixed point (under ten are usual; only at the very edge of
saturation, where the bound decides nothing, does it creep on)."""


def _birth_death(lam: float, release: Floats) -> _CopyState:
    """A queue with ``len(release)`` servers releasing at ``release[j - 1]`` with ``j``
    inside (and at the last rate beyond): occupancy of the servers, mean queue, P(wait)."""
    servers = len(release)
    with np.errstate(over="ignore", divide="ignore"):
        log_pi = np.concatenate([[0.0], np.cumsum(np.log(lam / release))])
    log_pi -= log_pi.max()
    pi = np.exp(log_pi)
    r = lam / release[-1]
    tail = pi[servers] * r / (1.0 - r)  # P(N > c), unnormalised
    total = pi.sum() + tail
    pi /= total
    tail /= total
    queued = float(pi[servers] * r / (1.0 - r) ** 2)  # E[(N − c)⁺]
    inside = pi.copy()
    inside[servers] += tail
    return _CopyState(inside, queued, float(pi[servers] + tail))


def _throughputs(population: int, think: float, demands: list[float], servers: list[int],
                 copies: list[int]) -> tuple[Floats, list[Floats], tuple[float, ...]] | None:
    """``X(m)`` for m = 0 … C, each station's mean queue length (all its copies) at each
    m, and per station the chance, at m = C, that one of its copies has more requests
    than servers — from the normalising constants of the closed network (scaled so that
    the bottleneck's terms stay near 1); ``None`` when they leave a double's range."""
    size = population + 1
    per_copy = [d / k for d, k in zip(demands, copies, strict=True)]
    scale = max([think / max(population, 1)]
                + [d / s for d, s in zip(per_copy, servers, strict=True) if d > 0]
                + [1e-300])
    n = np.arange(size, dtype=float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        terms: list[Floats] = []
        for demand, count in zip(per_copy, servers, strict=True):
            log_beta = np.concatenate([[0.0], np.cumsum(np.log(np.minimum(n[1:], count)))])
            x = demand / scale
            terms.append(np.exp(n * math.log(x) - log_beta) if x > 0
                         else np.where(n == 0, 1.0, 0.0))
        z = think / scale
        delay = (np.exp(n * math.log(z) - log_factorials(size))
                 if z > 0 else np.where(n == 0, 1.0, 0.0))
    if not all(np.isfinite(p).all() for p in [delay, *terms]):
        return None
    # every copy of a station is one more factor of its term (all but one kept: a copy's
    # view of the others)
    but_one = [_power(term, k - 1, size) for term, k in zip(terms, copies, strict=True)]
    parts = [delay, *(term if k == 1 else np.convolve(others, term)[:size]
                      for term, others, k in zip(terms, but_one, copies, strict=True))]
    # products of the parts before and after each one: all but one in two convolutions
    before = [parts[0]]
    for part in parts[1:]:
        before.append(np.convolve(before[-1], part)[:size])
    whole = before[-1]
    if not (np.isfinite(whole).all() and (whole[1:] > 0).all()):
        return None
    after: list[Floats | None] = [None] * (len(parts) + 1)  # None: the unit
    for j in range(len(parts) - 1, 1, -1):
        later = after[j + 1]
        after[j] = parts[j] if later is None else np.convolve(parts[j], later)[:size]
    throughput = np.zeros(size)
    throughput[1:] = whole[:-1] / whole[1:] / scale
    lengths = []
    queued_full = []
    for i, (term, k) in enumerate(zip(terms, copies, strict=True)):
        later = after[i + 2]
        rest = before[i] if later is None else np.convolve(before[i], later)[:size]
        if k > 1:  # but one copy
            rest = np.convolve(rest, but_one[i])[:size]
        weighted = np.convolve(n * term, rest)[:size]
        lengths.append(np.where(whole > 0, k * weighted / whole, 0.0))
        # P(one copy holds j | C inside) = term(j) · rest(C − j) / G(C)
        beyond = term[servers[i] + 1:] * rest[population - servers[i] - 1::-1] \
            if servers[i] < population else np.zeros(0)
        queued_full.append(min(1.0, float(beyond.sum() / whole[population])))
    return throughput, lengths, tuple(queued_full)


def _power(term: Floats, k: int, size: int) -> Floats:
    """``term`` convolved with itself ``k`` times (``k = 0``: the unit), by squaring."""
    out = np.zeros(size)
    out[0] = 1.0
    base = term
    while k > 0:
        if k & 1:
            out = np.convolve(out, base)[:size]
        k >>= 1
        if k:
            base = np.convolve(base, base)[:size]
    return out
