"""One evaluation of the tape for K columns: its state, one level at a time, and the
queues of the stations it reaches.

:class:`Levels` holds what a solve computes — per station and column its arrivals, service
time, waits and utilization; per slot of the tape its mean and variance — and runs a level
of the tape (:class:`~designkit.estimate.tape.Level`): sums, repeats, mixtures, maxima and
third-party calls of the times inside, then the held stations' holding times and queues
(Erlang C with the Allen–Cunneen correction). Solving the groups of held stations with what
they bound is :class:`~designkit.estimate.held_groups.HeldGroups`'s; the run over all
levels, to a fixed point where holds nest in a cycle, is :mod:`designkit.estimate.solve`'s.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.flows import Flows
from designkit.estimate.tape import Level, Tape, repeated
from designkit.maths.queueing import erlang_c

if TYPE_CHECKING:
    from designkit.estimate.columns import Columns

__all__ = ["INF", "Levels"]

INF = math.inf
Floats = NDArray[np.float64]


class Levels(ABC):
    """One evaluation of the tape for K scales (or K samples, each at its scale): the
    state, and one level of the tape at a time."""

    def __init__(self, tape: Tape, flows: Flows, scales: Floats,
                 columns: Columns | None = None) -> None:
        self.tape = tape
        self.flows = flows
        self.scales = scales
        self.samples = columns
        # the traffic at scale 1, per column (one column shared by every load)
        if columns is None:
            self.unit_arrival = flows.arrival[:, None]
            self.unit_first = flows.first[:, None]
            self.unit_second = flows.second[:, None]
            self.unit_holds = flows.holder_rate[:, None]
        else:
            self.unit_arrival, self.unit_first = columns.arrival, columns.first
            self.unit_second, self.unit_holds = columns.second, columns.holder_rate
        k = len(scales)
        n = len(tape.servers)
        self.mean = np.zeros((tape.slots, k))
        self.var = np.zeros((tape.slots, k))
        self.mean[tape.const_slots] = tape.const_mean[:, None]
        self.var[tape.const_slots] = tape.const_var[:, None]
        self.arrival = np.zeros((n, k))
        self.service = np.zeros((n, k))
        self.scv = np.ones((n, k))
        self.p_wait = np.zeros((n, k))
        self.wait = np.zeros((n, k))
        self.open_wait = np.zeros((n, k))  # the open estimate's, before any bound
        self.utilization = np.zeros((n, k))
        self.held_load = np.zeros((n, k))  # λ / X(C) of held stations solved as groups
        # held station -> its time inside as its group solved it (per column)
        self.inside: dict[int, Floats] = {}
        # bounded waits of held stations (NaN: the column keeps its own), for a pass that
        # composes everything again with them
        self.fixed: dict[int, tuple[Floats, Floats]] = {}
        self.solving = False  # the levels solve the groups as they reach them
        self.stale = np.zeros(k, dtype=bool)  # per load: some group's holds not moved exactly
        self._holder_rows: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None

    STATE = ("mean", "var", "arrival", "service", "scv", "p_wait", "wait", "open_wait",
             "utilization")

    def columns(self, which: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], list[Floats]]:
        """The solution in some loads' columns, to put back after a pass that only the
        others need (a load is solved the same alone as beside others)."""
        return which, [getattr(self, name)[:, which].copy() for name in self.STATE]

    def restore(self, kept: tuple[NDArray[np.bool_], list[Floats]]) -> None:
        which, arrays = kept
        for name, values in zip(self.STATE, arrays, strict=True):
            getattr(self, name)[:, which] = values

    @abstractmethod
    def solve_level(self, stations: NDArray[np.int64], starts: NDArray[np.int64],
                    holders: NDArray[np.int64]) -> None:
        """Solve the groups whose held stations this level reached — what a subclass
        knows how to do
        (:meth:`HeldGroups.solve_level <designkit.estimate.held_groups.HeldGroups.solve_level>`)."""

    def exponential_waits(self, rows: NDArray[np.int64], col: int | None = None) -> Floats:
        """The open M/M/c wait (per copy) of stations ``rows`` at their loads, every
        column (or only column ``col``), ms (0 when idle or overloaded)."""
        cols = slice(None) if col is None else slice(col, col + 1)
        service = self.service[rows, cols]
        servers = np.broadcast_to(self.tape.servers[rows, None], service.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            load = self.arrival[rows, cols] / self.tape.copies[rows, None] * service
        out = np.zeros_like(load)
        under = np.isfinite(load) & (load > 0) & (load < servers)
        if under.any():
            out[under] = (_erlang_c(servers[under], load[under]) * service[under]
                          / (servers[under] - load[under]))
        return out

    def set_waits(self, stations: NDArray[np.int64], cols: NDArray[np.int64],
                  waits: Floats, p_waits: Floats) -> None:
        """Set stations' mean waits (and the moments of their wait slots), one column
        each: the wait is 0 with probability 1 − ``p_wait``, else exponential."""
        self.wait[stations, cols] = waits
        self.p_wait[stations, cols] = p_waits
        slots = self.tape.wait_slot[stations]
        waiting = (p_waits > 0) & (waits > 0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            var = np.maximum(2.0 * waits * waits / np.where(waiting, p_waits, 1.0)
                             - waits * waits, 0.0)
        infinite = np.isinf(waits)
        self.mean[slots, cols] = np.where(infinite, INF, np.where(waiting, waits, 0.0))
        self.var[slots, cols] = np.where(infinite, INF, np.where(waiting, var, 0.0))

    # -- one level -----------------------------------------------------------------------

    def level(self, level: Level) -> None:
        mean, var = self.mean, self.var
        if level.stations is not None:
            self.hold(*level.stations)
        if level.sums is not None:
            out, starts, flat = level.sums
            mean[out] = np.add.reduceat(mean[flat], starts, axis=0)
            var[out] = np.add.reduceat(var[flat], starts, axis=0)
        if level.repeats is not None:
            out, source, count = level.repeats
            mean[out], var[out] = repeated(mean[source], var[source], count[:, None])
        if level.mixes is not None:
            out, source, p = level.mixes
            m, v = mean[source], var[source]
            p = p[:, None]
            if level.mix_tags is not None and self.samples is not None:
                rows, tags = level.mix_tags
                p = np.repeat(p, self.samples.count, axis=1)
                p[rows] = self.samples.miss(tags)
            with np.errstate(invalid="ignore"):
                new_mean = p * m
                new_var = np.maximum(p * (v + m * m) - new_mean * new_mean, 0.0)
            infinite = np.isinf(m)
            mean[out] = np.where(infinite, INF, new_mean)
            var[out] = np.where(infinite, INF, new_var)
        if level.maxes is not None:
            out, left, right = level.maxes
            mean[out], var[out] = _clark(mean[left], var[left], mean[right], var[right])
        if level.externals is not None:
            out, base, wait, expected, applies = level.externals
            w_mean, w_var = repeated(mean[wait], var[wait], expected[:, None])
            on = applies[:, None]
            blocked = np.isinf(mean[wait])
            mean[out] = np.where(blocked, INF, mean[base] + np.where(on, w_mean, 0.0))
            var[out] = np.where(blocked, INF, var[base] + np.where(on, w_var, 0.0))

    def hold(self, stations: NDArray[np.int64], starts: NDArray[np.int64],
             holders: NDArray[np.int64]) -> None:
        """Held stations: holding time = the rate-weighted time of their holders; their
        queues; then the groups among them solved (or, in a pass composing everything
        again, the waits they were solved to put back)."""
        self.queue(*self.holding(stations, starts, holders))
        if self.solving:
            self.solve_level(stations, starts, holders)
            return
        fixed = [s for s in stations.tolist() if s in self.fixed]
        if fixed:  # the waits solved with what they bound, where not saturated
            waits = np.array([self.fixed[s][0] for s in fixed])
            p_waits = np.array([self.fixed[s][1] for s in fixed])
            rows = np.array(fixed, dtype=np.int64)
            use = (self.utilization[rows] < 1.0) & ~np.isnan(waits)
            at, cols = np.nonzero(use)
            if len(at):
                self.set_waits(rows[at], cols, waits[at, cols], p_waits[at, cols])

    def holding(self, stations: NDArray[np.int64], starts: NDArray[np.int64],
                holders: NDArray[np.int64]
                ) -> tuple[NDArray[np.int64], Floats, Floats, Floats]:
        """Held stations' arrivals and the first two moments of their holding times: the
        rate-weighted times of their holders.

        The weights are the holders' rates at scale 1 (the scale cancels out of a mean), so
        that a huge scale overflows the arrival rate only — to a saturated station — and
        never the moments into ``inf / inf``.
        """
        tape = self.tape
        slots = tape.traffic.holder_slot[holders]
        r = self.unit_holds[holders]
        hold_mean, hold_var = self.mean[slots], self.var[slots]
        active = np.broadcast_to(r > 0, hold_mean.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            first = np.where(active, r * hold_mean, 0.0)
            second = np.where(active, r * (hold_var + hold_mean * hold_mean), 0.0)
        infinite = np.logical_or.reduceat(active & np.isinf(hold_mean), starts, axis=0)
        rate = np.add.reduceat(r, starts, axis=0)
        first_sum = np.where(infinite, INF, np.add.reduceat(first, starts, axis=0))
        second_sum = np.where(infinite, INF, np.add.reduceat(second, starts, axis=0))
        return (stations, _scaled(rate, self.scales), _per(first_sum, rate),
                _per(second_sum, rate))

    def queue(self, stations: NDArray[np.int64], arrival: Floats, mean: Floats,
              second_moment: Floats) -> None:
        """Erlang C wait with the Allen–Cunneen correction, per copy; wait moments to the
        stations' slots.

        ``arrival``: arrivals per ms (all copies; ``inf`` when the load overflows);
        ``mean`` and ``second_moment``: E[S] and E[S²] of the service (holding) time. A
        station with load is saturated when ρ ≥ 1, its service time is infinite or its
        arrivals are; every other station has a finite wait — never NaN.
        """
        tape = self.tape
        servers = tape.servers[stations, None]
        copies = tape.copies[stations, None]
        mean = np.broadcast_to(mean, arrival.shape)
        loaded = (arrival > 0) & (mean > 0)
        infinite = loaded & np.isinf(mean)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # E[S²] / E[S] / E[S], not / E[S]²: a tiny time squared underflows to 0
            ratio = np.where(loaded & ~infinite, second_moment / np.where(loaded, mean, 1.0)
                             / np.where(loaded, mean, 1.0), 1.0)
            scv = np.where(np.isnan(ratio), 1.0, np.maximum(ratio - 1.0, 0.0))
            lam = arrival / copies
            load = np.where(loaded, lam * mean, 0.0)
            utilization = np.where(infinite, INF, load / servers)
            over = loaded & ~infinite & ((utilization >= 1.0) | (servers / mean - lam <= 0))
        # a station that never holds more requests than servers never queues (exact)
        wrapping = self.flows.wrapping
        shared = wrapping.shared[stations][:, None]
        never = (self.flows.bound[stations] <= tape.servers[stations])[:, None] | shared
        if shared.any():  # busy no more than what it wraps; saturates only with it
            rows = np.flatnonzero(shared[:, 0])
            busiest = np.maximum.reduceat(self.utilization[wrapping.inner], wrapping.starts,
                                          axis=0)
            at = np.searchsorted(wrapping.holders, stations[rows])
            utilization[rows] = np.minimum(utilization[rows], busiest[at])
            over = over & ~shared
        queued = loaded & ~infinite & ~over & ~never
        p_wait = np.zeros_like(load)
        wait = np.zeros_like(load)
        if queued.any():
            rows, cols = np.nonzero(queued)
            c_wait = _erlang_c(servers[rows, 0], load[rows, cols])
            p_wait[rows, cols] = c_wait
            with np.errstate(over="ignore", invalid="ignore"):
                value = (c_wait / (servers[rows, 0] / mean[rows, cols] - lam[rows, cols])
                         * (1.0 + scv[rows, cols]) / 2.0)
            wait[rows, cols] = np.where(c_wait > 0, value, 0.0)
        saturated = infinite | over
        p_wait[saturated] = 1.0
        wait[saturated] = INF
        self.arrival[stations] = arrival
        self.service[stations] = np.where(loaded | infinite, mean, 0.0)
        self.scv[stations] = np.where(loaded & ~infinite, scv, 1.0)
        self.p_wait[stations] = p_wait
        self.wait[stations] = wait
        self.open_wait[stations] = wait
        self.utilization[stations] = utilization
        slots = tape.wait_slot[stations]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            second_wait = 2.0 * wait * wait / np.where(p_wait > 0, p_wait, 1.0)
            var = np.maximum(second_wait - wait * wait, 0.0)
        waiting = (p_wait > 0) & (wait > 0)
        self.mean[slots] = np.where(saturated, INF, np.where(waiting, wait, 0.0))
        self.var[slots] = np.where(saturated, INF, np.where(waiting, var, 0.0))


def _per(total: Floats, rate: Floats) -> Floats:
    """``total / rate`` where ``rate > 0`` (a mean per arrival), else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rate > 0, total / np.where(rate > 0, rate, 1.0), 0.0)


def _scaled(rate: Floats, scales: Floats) -> Floats:
    """Rates at each scale (one column per scale); a product that overflows is ``inf``: a
    load beyond any capacity; no traffic stays none at an infinite scale (not ``0 × ∞``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(rate * scales, dtype=float)
    return np.where(np.isnan(out), 0.0, out)


def _erlang_c(servers: Floats, load: Floats) -> Floats:
    """Erlang C element-wise (``load < servers``), in one vectorized call whatever the
    server counts: constant time per station (:func:`~designkit.maths.queueing.erlang_c`)."""
    return np.asarray(erlang_c(servers, load), dtype=float)


_ERF = np.frompyfunc(math.erf, 1, 1)


def _clark(m1: Floats, v1: Floats, m2: Floats, v2: Floats) -> tuple[Floats, Floats]:
    """Clark's approximation of the maximum of two independent times (normal moments)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a = np.sqrt(v1 + v2)
        tight = a < 1e-12
        safe = np.where(tight | ~np.isfinite(a), 1.0, a)
        alpha = (m1 - m2) / safe
        alpha = np.where(np.isfinite(alpha), alpha, 0.0)
        cdf = 0.5 * (1 + np.asarray(_ERF(alpha / math.sqrt(2)), dtype=float))
        pdf = np.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
        mean = m1 * cdf + m2 * (1 - cdf) + safe * pdf
        second = ((m1 ** 2 + v1) * cdf + (m2 ** 2 + v2) * (1 - cdf) + (m1 + m2) * safe * pdf)
        var = np.maximum(second - mean * mean, 0.0)
    first_wins = m1 >= m2
    mean = np.where(tight, np.where(first_wins, m1, m2), mean)
    var = np.where(tight, np.where(first_wins, v1, v2), var)
    infinite = np.isinf(m1) | np.isinf(m2)
    return np.where(infinite, INF, mean), np.where(infinite, INF, var)
