""":func:`~designkit.maths.closed.held_queue` for many columns at once.

The same flow-equivalent server (Buzen's convolution inside, a birth–death queue outside,
copies of the held resource taken to a fixed point), with its arrivals, think time and
demands given per column — the loads of a capacity search, the samples of uncertain
numbers — and the resource's structure (servers, copies) shared. Every operation is the
one-column algorithm's on a column axis; a column's result is that of
:func:`~designkit.maths.closed.held_queue` for its numbers (to rounding: sums are taken in
another order), which the tests hold it to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from designkit.maths.closed import COPIES_APART, COPY_ROUNDS
from designkit.maths.special import log_factorials

__all__ = ["HeldColumns", "held_queues"]

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]


@dataclass(frozen=True)
class HeldColumns:
    """:class:`~designkit.maths.closed.Held` per column (arrays over the columns; the
    stations' values are rows). ``solved`` is False where ``held_queue`` would return
    ``None`` (the normalising constants leave a double's range); the rest of such a
    column is meaningless.

    Example:
        >>> h = held_queues(np.array([0.17, 0.1]), 10, np.zeros(2),
        ...                 np.array([[20.0, 20.0]]), [4])   # M/M/4 at two loads
        >>> [round(float(w + i), 2) for w, i in zip(h.wait, h.inside)]
        [42.98, 21.74]
    """

    solved: Bools
    wait: Floats
    p_wait: Floats
    inside: Floats
    residence: Floats
    busy: Floats
    queued_full: Floats
    load: Floats

    @property
    def saturated(self) -> Bools:
        """Per column: the arrivals reach what the resource can pass."""
        return np.asarray(np.isinf(self.wait))


def held_queues(lam: Floats, population: int, think: Floats, demands: Floats,
                servers: list[int], copies: list[int] | None = None,
                holder_copies: int = 1) -> HeldColumns:
    """:func:`~designkit.maths.closed.held_queue` of every column: ``lam`` and ``think``
    per column, ``demands`` per station (rows) and column; every ``lam > 0``."""
    k_cols = len(lam)
    m = len(servers)
    copies = copies or [1] * m
    throughput, lengths, queued_full, solved = _throughputs(population, think, demands,
                                                            servers, copies)
    with np.errstate(divide="ignore", invalid="ignore"):
        load = lam / throughput[population]
    saturated = solved & (load >= 1.0)
    k = max(1, min(holder_copies, population))
    per_copy = population // k
    wait = np.zeros(k_cols)
    p_wait = np.zeros(k_cols)
    inside = np.zeros(k_cols)
    busy = np.zeros(k_cols)
    residence = np.zeros((m, k_cols))
    go = np.flatnonzero(solved & ~saturated)
    if len(go):
        g_lam = lam[go]
        g_through = throughput[:, go]
        state_inside, queued, waiting = _copy_states(g_lam / k, per_copy, k, g_through)
        count = k * (np.arange(per_copy + 1, dtype=float) @ state_inside)
        weights = _power(state_inside, k, population + 1)
        if k > 1:
            apart = waiting < COPIES_APART
            if apart.any():
                share = waiting / COPIES_APART
                pooled, _, _ = _birth_death(g_lam, g_through[1:population + 1])
                weights = np.where(apart, weights * share + pooled * (1.0 - share), weights)
        residence[:, go] = np.einsum("nk,mnk->mk", weights, lengths[:, :, go]) / g_lam
        wait[go] = queued / (g_lam / k)
        p_wait[go] = waiting
        inside[go] = count / g_lam
        busy[go] = count
    inf = math.inf
    wait[saturated], p_wait[saturated], inside[saturated] = inf, 1.0, inf
    residence[:, saturated] = inf
    busy[saturated] = float(population)
    return HeldColumns(solved, wait, p_wait, inside, residence, busy, queued_full, load)


def _conv(a: Floats, b: Floats, size: int) -> Floats:
    """Per column, the first ``size`` terms of the convolution of ``a`` and ``b``."""
    out = np.zeros((size, a.shape[1]))
    rows = a[:size]
    for j in np.flatnonzero(rows.any(axis=1)).tolist():  # (rows of zeros skipped)
        width = min(size - j, len(b))
        out[j:j + width] += rows[j] * b[:width]
    return out


def _conv_term(a: Floats, term: Floats, servers: int, size: int,
               weighted: bool = False) -> Floats:
    """:func:`_conv` of ``a`` with a station's term (or, ``weighted``, with ``n·term``): a
    term is ``xⁿ / β(n)``, ``β(n) = ∏ min(k, servers)``, geometric beyond ``servers`` —
    ``term[n] = r·term[n − 1]``, ``r = x / servers`` — so the convolution's tail beyond it
    is a first-order recursion per column, ``T[n] = r·T[n − 1] + a[n − s − 1]·term[s + 1]``
    (the weighted one ``V[n] = r·(V[n − 1] + T[n − 1]) + (s + 1)·term[s + 1]·a[n − s − 1]``):
    ``servers + 1`` row operations and ``size`` small ones rather than ``size`` row
    operations (a pool of 64 in a population of 256: four times fewer)."""
    head = min(servers, size - 1)  # term[0 … head] taken as they are
    n = np.arange(head + 1, dtype=float)[:, None]
    first = term[:head + 1] * n if weighted else term[:head + 1]
    out = _conv(a, first, size)
    if head + 1 >= size:
        return out
    after = term[head + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(term[head] > 0, after / np.where(term[head] > 0, term[head], 1.0),
                         0.0)
    rows = a[:size]
    tail = np.zeros(a.shape[1])
    weighted_tail = np.zeros(a.shape[1])
    for m in range(head + 1, size):
        arriving = rows[m - head - 1] * after
        if weighted:
            weighted_tail = ratio * (weighted_tail + tail) + (head + 1) * arriving
            out[m] += weighted_tail
        tail = ratio * tail + arriving
        if not weighted:
            out[m] += tail
    return out


def _power(term: Floats, k: int, size: int) -> Floats:
    """Per column, ``term`` convolved with itself ``k`` times (``k = 0``: the unit)."""
    out = np.zeros((size, term.shape[1]))
    out[0] = 1.0
    base = term
    while k > 0:
        if k & 1:
            out = _conv(out, base, size)
        k >>= 1
        if k:
            base = _conv(base, base, size)
    return out


def _throughputs(population: int, think: Floats, demands: Floats, servers: list[int],
                 copies: list[int]) -> tuple[Floats, Floats, Floats, Bools]:
    """Per column: ``X(m)`` (rows m = 0 … C), each station's mean queue length at each m
    (stations × m × columns), the chance one of a station's copies is over its servers
    at m = C (stations × columns), and whether the constants stayed in range."""
    size = population + 1
    k_cols = demands.shape[1] if demands.ndim == 2 else len(think)
    per_copy = demands / np.asarray(copies, dtype=float)[:, None] if len(servers) \
        else np.zeros((0, k_cols))
    candidates = [think / max(population, 1)]
    for i, s in enumerate(servers):
        candidates.append(np.where(per_copy[i] > 0, per_copy[i] / s, 0.0))
    scale = np.maximum(np.max(np.stack(candidates), axis=0), 1e-300)
    n = np.arange(size, dtype=float)[:, None]
    unit = np.where(n == 0, 1.0, 0.0) * np.ones(k_cols)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        terms = []
        for demand, count in zip(per_copy, servers, strict=True):
            log_beta = np.concatenate([[0.0], np.cumsum(np.log(np.minimum(n[1:, 0],
                                                                          count)))])
            x = demand / scale
            safe = np.where(x > 0, x, 1.0)
            terms.append(np.where(x > 0, np.exp(n * np.log(safe) - log_beta[:, None]), unit))
        z = think / scale
        safe_z = np.where(z > 0, z, 1.0)
        delay = np.where(z > 0, np.exp(n * np.log(safe_z) - log_factorials(size)[:, None]),
                         unit)
    solved = np.isfinite(delay).all(axis=0)
    for term in terms:
        solved &= np.isfinite(term).all(axis=0)
    clean = [np.where(solved, p, unit) for p in (delay, *terms)]  # others stay finite
    delay, terms = clean[0], clean[1:]
    but_one = [_power(term, k - 1, size) for term, k in zip(terms, copies, strict=True)]
    parts = [delay, *(term if k == 1 else _conv_term(others, term, s, size)
                      for term, others, k, s in zip(terms, but_one, copies, servers,
                                                    strict=True))]
    # a station's part is its term when it has one copy (a geometric tail beyond servers)
    geometric: list[int | None] = [None, *(s if k == 1 else None
                                           for s, k in zip(servers, copies, strict=True))]

    def times(a: Floats, j: int) -> Floats:
        """``a`` convolved with part ``j``."""
        s = geometric[j]
        return _conv(a, parts[j], size) if s is None else _conv_term(a, parts[j], s, size)

    before = [parts[0]]
    for j in range(1, len(parts)):
        before.append(times(before[-1], j))
    whole = before[-1]
    solved &= np.isfinite(whole).all(axis=0) & (whole[1:] > 0).all(axis=0)
    whole = np.where(solved, whole, 1.0)
    after: list[Floats | None] = [None] * (len(parts) + 1)
    for j in range(len(parts) - 1, 1, -1):
        later = after[j + 1]
        after[j] = parts[j] if later is None else times(later, j)
    throughput = np.zeros((size, k_cols))
    throughput[1:] = whole[:-1] / whole[1:] / scale
    lengths = np.zeros((len(terms), size, k_cols))
    queued_full = np.zeros((len(terms), k_cols))
    for i, (term, k) in enumerate(zip(terms, copies, strict=True)):
        later = after[i + 2]
        rest = before[i] if later is None else _conv(before[i], later, size)
        if k > 1:
            rest = _conv(rest, but_one[i], size)
        weighted = _conv_term(rest, term, servers[i], size, weighted=True)
        lengths[i] = np.where(whole > 0, k * weighted / whole, 0.0)
        s = servers[i]
        if s < population:
            beyond = (term[s + 1:] * rest[population - s - 1::-1]).sum(axis=0)
            queued_full[i] = np.minimum(1.0, beyond / whole[population])
    return throughput, lengths, queued_full, np.asarray(solved, dtype=bool)


def _copy_states(lam: Floats, servers: int, copies: int, throughput: Floats
                 ) -> tuple[Floats, Floats, Floats]:
    """Per column, one copy's occupancy (rows j = 0 … servers), mean queue and chance of
    waiting: the others' occupancy feeding back through the shared inside, to a fixed
    point (columns stop as each converges)."""
    if copies == 1:
        return _birth_death(lam, throughput[1:servers + 1])
    size, k_cols = throughput.shape
    m = np.arange(size, dtype=float)[:, None]
    time = np.divide(m, throughput, out=np.zeros_like(throughput), where=m > 0)
    j = np.arange(1, servers + 1)
    n = 1 << (2 * size - 1).bit_length()
    time_reversed = np.fft.rfft(time[::-1], n, axis=0)
    inside = np.zeros((servers + 1, k_cols))
    inside[0] = 1.0
    queued = np.zeros(k_cols)
    waiting = np.zeros(k_cols)
    active = np.ones(k_cols, dtype=bool)
    for _ in range(COPY_ROUNDS):
        cols = np.flatnonzero(active)
        if not len(cols):
            break
        others = np.fft.irfft(np.fft.rfft(inside[:, cols], n, axis=0) ** (copies - 1), n,
                              axis=0)[:size]
        others = np.maximum(others, 0.0)
        others /= others.sum(axis=0)
        seen = np.fft.irfft(np.fft.rfft(others, n, axis=0) * time_reversed[:, cols], n,
                            axis=0)[size - 1 - j]
        new_inside, new_queued, new_waiting = _birth_death(lam[cols], j[:, None] / seen)
        change = np.abs(new_inside - inside[:, cols]).max(axis=0)
        inside[:, cols] = new_inside
        queued[cols] = new_queued
        waiting[cols] = new_waiting
        active[cols[change < 1e-10]] = False
    return inside, queued, waiting


def _birth_death(lam: Floats, release: Floats) -> tuple[Floats, Floats, Floats]:
    """Per column, a queue with ``len(release)`` servers releasing at ``release[j − 1]``
    with ``j`` inside: occupancy of the servers, mean queue, P(wait)."""
    servers = len(release)
    with np.errstate(over="ignore", divide="ignore"):
        log_pi = np.concatenate([np.zeros((1, release.shape[1])),
                                 np.cumsum(np.log(lam / release), axis=0)])
    log_pi -= log_pi.max(axis=0)
    pi = np.exp(log_pi)
    r = lam / release[-1]
    tail = pi[servers] * r / (1.0 - r)
    total = pi.sum(axis=0) + tail
    pi /= total
    tail /= total
    queued = pi[servers] * r / (1.0 - r) ** 2
    inside = pi.copy()
    inside[servers] += tail
    return inside, queued, pi[servers] + tail
