"""Solve a compiled design at one or many loads: rates, station queues, holding times.

Rates are linear in the load, so the traffic of the unit workload is computed once (one
pass over the call graph, callers first) and scaled. Stations that wrap other work
(workers of blocking services, pools, locks) have a service time that is the time of what
they wrap, which depends on the queues inside: the tape (:mod:`designkit.estimate.tape`)
orders every time so that those are solved innermost first, and the solver runs it level by
level on arrays (one column per load: :func:`trials` solves several loads in one run). When
holds nest in a cycle the tape is iterated to a fixed point. Times are carried as (mean,
variance); waits use Erlang C with the Allen–Cunneen correction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.external import Attempts
from designkit.estimate.flows import Flows, Retried, flows_of
from designkit.estimate.held import (
    MIXED_HOLDS,
    RARELY_FULL,
    Patch,
    Patches,
    bounded_waits,
    bounded_waits_columns,
    departures,
    hold_scv,
    hold_scvs,
    reads_all,
)
from designkit.estimate.program import Program

if TYPE_CHECKING:
    from designkit.estimate.columns import Columns
from designkit.estimate.tape import Level, Tape, repeated, tape_of
from designkit.flow.nodes import ExternalCall
from designkit.maths.queueing import erlang_c

__all__ = ["Flows", "Moments", "Solution", "StationState", "Trials", "flows_of", "solve",
           "trials"]

INF = math.inf
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Moments:
    """Mean and variance of a time (ms); infinite when a station on the way saturates."""

    mean: float
    var: float = 0.0

    @property
    def infinite(self) -> bool:
        return math.isinf(self.mean)


@dataclass
class StationState:
    """A station's load and queue at one solution.

    Attributes:
        arrival: Arrivals per ms (all copies together).
        service: Mean service (holding) time, ms.
        scv: Squared coefficient of variation of the service time.
        p_wait: Probability an arrival waits (Erlang C).
        wait: Mean wait in queue, ms (``inf`` when saturated).
        utilization: Busy fraction of the servers.
    """

    arrival: float = 0.0
    service: float = 0.0
    scv: float = 1.0
    p_wait: float = 0.0
    wait: float = 0.0
    utilization: float = 0.0

    @property
    def saturated(self) -> bool:
        return self.utilization >= 1.0 or math.isinf(self.wait)


@dataclass
class Trials:
    """Station states and endpoint moments at several scales (one column per scale)."""

    scales: Floats
    arrival: Floats
    service: Floats
    scv: Floats
    p_wait: Floats
    wait: Floats
    utilization: Floats
    endpoint_mean: Floats
    endpoint_var: Floats
    rounds: int
    held_load: Floats | None = None  # per held station solved with what it bounds: λ/X(C)

    def column(self, k: int) -> Trials:
        """The trials of column ``k`` alone (one load, or one sample)."""
        return self.span(k, k + 1)

    def span(self, start: int, stop: int) -> Trials:
        """The trials of columns ``start`` to ``stop`` (excluded)."""
        pick = slice(start, stop)
        return replace(self, scales=self.scales[pick], arrival=self.arrival[:, pick],
                       service=self.service[:, pick], scv=self.scv[:, pick],
                       p_wait=self.p_wait[:, pick], wait=self.wait[:, pick],
                       utilization=self.utilization[:, pick],
                       endpoint_mean=self.endpoint_mean[:, pick],
                       endpoint_var=self.endpoint_var[:, pick],
                       held_load=None if self.held_load is None
                       else self.held_load[:, pick])

    def only(self, stations: NDArray[np.bool_]) -> Trials:
        """The same trials with only the stations of the mask ``stations``."""
        return replace(self, arrival=self.arrival[stations], service=self.service[stations],
                       scv=self.scv[stations], p_wait=self.p_wait[stations],
                       wait=self.wait[stations], utilization=self.utilization[stations],
                       held_load=None if self.held_load is None
                       else self.held_load[stations])

    @property
    def saturated(self) -> NDArray[np.bool_]:
        """Per scale: some station is saturated."""
        return np.asarray(((self.utilization >= 1.0) | np.isinf(self.wait)).any(axis=0))

    @property
    def peak(self) -> Floats:
        """Per scale: the highest utilization."""
        return np.asarray(self.utilization.max(axis=0, initial=0.0))

    @property
    def loads(self) -> Floats:
        """Per station and scale, the share of its capacity in use (see :attr:`load`;
        NaN where infinite)."""
        both = (self.utilization if self.held_load is None
                else np.maximum(self.utilization, self.held_load))
        return np.where(np.isfinite(both), both, np.nan)

    @property
    def load(self) -> Floats:
        """Per scale: the highest share of a capacity in use — a station's utilization,
        or, for a held station solved with what it bounds, its arrivals over the most
        it can pass (:attr:`~designkit.maths.closed.Held.load`); the finite ones only,
        so that a saturated solution shows how far past its capacity the first station
        to give is. The design saturates near where it reaches 1: the capacity search
        interpolates it."""
        both = (self.utilization if self.held_load is None
                else np.maximum(self.utilization, self.held_load))
        # a station held around a saturated one is infinitely busy: what saturates first
        # has a finite load
        return np.asarray(np.where(np.isfinite(both), both, 0.0).max(axis=0, initial=0.0))


def trials(program: Program, workload: dict[str, float], scales: list[float] | Floats,
           max_rounds: int = 100, columns: Columns | None = None) -> Trials:
    """Solve ``program`` under ``workload`` × each of ``scales`` at once; with
    ``columns``, column ``j`` is the sample ``j`` of the uncertain numbers
    (:mod:`designkit.estimate.columns`) at scale ``scales[j]``."""
    tape = tape_of(program)
    flows = flows_of(program, workload)
    return _Run(tape, flows, np.asarray(scales, dtype=float), columns).run(max_rounds)


class _Run:
    """One evaluation of the tape for K scales (or K samples, each at its scale)."""

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

    def run(self, max_rounds: int) -> Trials:
        tape, flows, sc = self.tape, self.flows, self.scales
        plain = np.flatnonzero(~tape.held)
        rate = self.unit_arrival[plain]
        self.queue(plain, _scaled(rate, sc), _per(self.unit_first[plain], rate),
                   _per(self.unit_second[plain], rate))
        rounds = 1
        if tape.cyclic:
            held = np.flatnonzero(tape.held)
            previous = None
            for rounds in range(1, max_rounds + 1):  # noqa: B007
                for level in tape.levels:
                    self.level(level)
                current = self.wait[held].copy()
                if previous is not None and _close(current, previous):
                    break
                previous = current
        else:
            sources = flows.sources.stations
            self.solving = bool(flows.groups) or bool(len(sources))
            if len(sources):  # plain ones first: their bounds need nothing composed
                self.bound_sources(np.flatnonzero(~tape.held[sources]))
            for level in tape.levels:
                self.level(level)
            if self.stale.any():  # compose those loads again with the bounded waits
                kept = self.columns(~self.stale)
                self.solving = False
                rounds = 2
                for level in tape.levels:
                    self.level(level)
                self.restore(kept)
        ends = tape.endpoint_slot
        return Trials(sc, self.arrival, self.service, self.scv, self.p_wait, self.wait,
                      self.utilization, self.mean[ends], self.var[ends], rounds,
                      self.held_load)

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

    # -- held stations solved with what they bound ---------------------------------------

    def solve_level(self, stations: NDArray[np.int64], starts: NDArray[np.int64],
                    holders: NDArray[np.int64]) -> None:
        """The groups whose held stations this level reached (their holding times
        composed from the open waits inside), and the held sources among them: their
        bounded waits set, the groups' holds moved to them, the held stations' own
        queues solved again with the moved holds and given the flow-equivalent waits."""
        flows = self.flows
        heads = [h for h in stations.tolist() if h in flows.groups]
        if heads:
            waits = self.solve_groups(np.array(heads, dtype=np.int64))
            if waits:  # their holds moved: their queues again, then their own waits
                rows = np.array(list(waits), dtype=np.int64)
                records = [self.holder_rows(h) for h in rows.tolist()]
                lengths = np.array([len(r) for r in records], dtype=np.int64)
                self.queue(*self.holding(rows, np.concatenate([[0], np.cumsum(lengths)[:-1]]),
                                         np.concatenate(records)))
                wait = np.array([waits[h][0] for h in rows.tolist()])
                p_wait = np.array([waits[h][1] for h in rows.tolist()])
                at, cols = np.nonzero(~np.isnan(wait) & (self.utilization[rows] < 1.0))
                if len(at):
                    self.set_waits(rows[at], cols, wait[at, cols], p_wait[at, cols])
        if len(flows.sources.stations):
            found = np.flatnonzero(np.isin(flows.sources.stations, stations))
            if len(found):
                self.bound_sources(found)

    def solve_groups(self, heads: NDArray[np.int64]) -> dict[int, tuple[Floats, Floats]]:
        """Solve each group of ``heads`` (:func:`~designkit.maths.closed.held_queue`) where
        its held station is full often enough to bound anything: the waits inside set,
        the holds moved. Per held station solved, its flow-equivalent wait and chance of
        waiting per column (NaN: the column keeps the open ones)."""
        busy: NDArray[np.bool_] = np.asarray(self.all_busy(heads) >= RARELY_FULL)
        out: dict[int, tuple[Floats, Floats]] = {}
        columns = len(self.scales)
        for row in np.flatnonzero(busy.any(axis=1)).tolist():
            h = int(heads[row])
            waits = np.full(columns, np.nan)
            p_waits = np.full(columns, np.nan)
            cols = np.flatnonzero(busy[row])
            if self.samples is not None and len(cols) >= MANY_COLUMNS:  # samples of
                # uncertain numbers: the columns at once (each as one column would be, to
                # rounding; loads keep the one-column path, exactly as each alone)
                waits[cols], p_waits[cols] = self.solve_group_columns(h, cols)
            else:
                for col in cols.tolist():
                    solved = self.solve_group(h, col)
                    if solved is not None:
                        waits[col], p_waits[col] = solved
            if not np.isnan(waits).all():
                out[h] = (waits, p_waits)
                self.fixed[h] = (waits, p_waits)
        return out

    def solve_group(self, h: int, col: int) -> tuple[float, float] | None:
        """One group in one column: its stations' bounded waits set and its holds moved
        to them; the held station's flow-equivalent wait and chance of waiting (``None``:
        the open estimate stays)."""
        from designkit.maths.closed import held_queue

        tape, flows = self.tape, self.flows
        lam = float(self.arrival[h, col])
        holding = float(self.service[h, col])
        if not (lam > 0 and math.isfinite(holding) and math.isfinite(lam)) or \
                self.between(h, col) > MIXED_HOLDS:
            return None
        stations = list(flows.groups[h])
        rows = np.array(stations, dtype=np.int64)
        visits = self.arrival[rows, col] / lam
        service = self.service[rows, col]
        open_wait = self.open_wait[rows, col]
        now_wait = self.wait[rows, col]  # what the holding time holds
        if not math.isfinite(float(np.dot(visits, open_wait))):
            return None
        think = max(0.0, holding - float(np.dot(visits, now_wait + service)))
        solved = np.array([self.inside[p][col] if p in self.inside else service[i]
                           for i, p in enumerate(stations)])
        demands = (visits * solved).tolist()
        servers = [int(tape.servers[p]) for p in stations]
        if h in flows.own:  # each replica's holder and its own stations
            k = int(tape.copies[h])
            held = held_queue(lam / k, int(tape.servers[h]), think, demands, servers)
            held = held if held is None else replace(held, busy=held.busy * k)
        else:
            held = held_queue(lam, int(tape.servers[h] * tape.copies[h]), think, demands,
                              servers, [int(tape.copies[p]) for p in stations],
                              holder_copies=int(tape.copies[h]))
        if held is None:
            return None
        self.held_load[h, col] = held.load
        never = flows.bound[h] <= tape.servers[h]  # what holds it bounds it
        if held.saturated:  # what it wraps stays as busy as its servers allow
            return None if never else (INF, 1.0)
        self.inside.setdefault(h, self.service[h].copy())[col] = held.inside
        after = bounded_waits(held, visits, demands, open_wait,
                              self.exponential_waits(rows, col)[:, 0])
        self.move_holds(h, col, now_wait, after)
        visited = visits > 0
        self.set_waits(rows[visited], np.full(int(visited.sum()), col), after[visited],
                       self.p_wait[rows[visited], col])
        for i in np.flatnonzero(visited & tape.held[rows]).tolist():
            self.keep(stations[i], col, float(after[i]))
        if never:  # it never queues: only what it bounds gains
            return 0.0, 0.0
        # how requests leave depends on how variable the hold is once what it holds
        # waits as bounded (not as the open estimate had it)
        scv = hold_scv(float(self.service[h, col]), float(self.scv[h, col]), visits,
                       now_wait, after, service, solved, self.p_wait[rows, col],
                       self.scv[rows, col])
        return (held.wait * departures(scv, held.queued_full,
                                       self.scv[rows, col].tolist(), servers),
                held.p_wait)

    def solve_group_columns(self, h: int, cols: NDArray[np.int64]) -> tuple[Floats, Floats]:
        """:meth:`solve_group` of columns ``cols`` at once (the flow-equivalent solution
        of every column in one :func:`~designkit.maths.closed_columns.held_queues`); per
        column its wait and chance of waiting (NaN: the open ones stay)."""
        from designkit.maths.closed_columns import held_queues

        tape, flows = self.tape, self.flows
        n = len(cols)
        waits, p_waits = np.full(n, np.nan), np.full(n, np.nan)
        lam = self.arrival[h, cols]
        holding = self.service[h, cols]
        ok = (lam > 0) & np.isfinite(holding) & np.isfinite(lam)
        ok &= self.between_columns(h, cols) <= MIXED_HOLDS
        stations = list(flows.groups[h])
        rows = np.array(stations, dtype=np.int64)
        safe_lam = np.where(ok, lam, 1.0)
        visits = self.arrival[rows][:, cols] / safe_lam
        service = self.service[rows][:, cols]
        open_wait = self.open_wait[rows][:, cols]
        now_wait = self.wait[rows][:, cols]
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite((visits * open_wait).sum(axis=0))
        at = np.flatnonzero(ok)
        if not len(at):
            return waits, p_waits
        c = cols[at]
        lam, holding = lam[at], holding[at]
        visits, service = visits[:, at], service[:, at]
        open_wait, now_wait = open_wait[:, at], now_wait[:, at]
        think = np.maximum(0.0, holding - (visits * (now_wait + service)).sum(axis=0))
        solved = np.stack([self.inside[p][c] if p in self.inside else service[i]
                           for i, p in enumerate(stations)]) if stations \
            else np.zeros((0, len(c)))
        demands = visits * solved
        servers = [int(tape.servers[p]) for p in stations]
        if h in flows.own:  # each replica's holder and its own stations
            k = int(tape.copies[h])
            held = held_queues(lam / k, int(tape.servers[h]), think, demands, servers)
        else:
            held = held_queues(lam, int(tape.servers[h] * tape.copies[h]), think, demands,
                               servers, [int(tape.copies[p]) for p in stations],
                               holder_copies=int(tape.copies[h]))
        good = held.solved
        self.held_load[h, c[good]] = held.load[good]
        never = bool(flows.bound[h] <= tape.servers[h])
        saturated = good & held.saturated
        if not never:
            waits[at[saturated]], p_waits[at[saturated]] = math.inf, 1.0
        go = np.flatnonzero(good & ~saturated)
        if not len(go):
            return waits, p_waits
        gc = c[go]
        self.inside.setdefault(h, self.service[h].copy())[gc] = held.inside[go]
        residence = held.residence[:, go]
        g_visits, g_demands = visits[:, go], demands[:, go]
        g_open, g_now = open_wait[:, go], now_wait[:, go]
        exponential = self.exponential_waits(rows)[:, gc]
        after = bounded_waits_columns(residence, g_visits, g_demands, g_open, exponential)
        self.move_holds_columns(h, gc, g_now, after)
        vi, vj = np.nonzero(g_visits > 0)
        if len(vi):
            self.set_waits(rows[vi], gc[vj], after[vi, vj], self.p_wait[rows[vi], gc[vj]])
        for i, p in enumerate(stations):
            if tape.held[p]:
                for j in np.flatnonzero(g_visits[i] > 0).tolist():
                    self.keep(p, int(gc[j]), float(after[i, j]))
        if never:
            waits[at[go]], p_waits[at[go]] = 0.0, 0.0
            return waits, p_waits
        station_scv = self.scv[rows][:, gc]
        scv = hold_scvs(self.service[h, gc], self.scv[h, gc], g_visits, g_now, after,
                         service[:, go], solved[:, go], self.p_wait[rows][:, gc],
                         station_scv)
        factor = np.array([departures(float(scv[j]), held.queued_full[:, go[j]].tolist(),
                                      station_scv[:, j].tolist(), servers)
                           for j in range(len(go))])
        waits[at[go]] = held.wait[go] * factor
        p_waits[at[go]] = held.p_wait[go]
        return waits, p_waits

    def move_holds(self, h: int, col: int, before: Floats, after: Floats) -> None:
        """Move the composed holds of ``h`` from the waits ``before`` to ``after`` (its
        group's stations, in one column): their means by the waits' counts per hold,
        their variances likewise; a pass that composes them again is needed when the
        counts are not exact."""
        patch = self.patch(h, col)
        rows = patch.members
        p_wait = self.p_wait[rows, col]
        spread = np.where(p_wait > 0, 2.0 / np.where(p_wait > 0, p_wait, 1.0) - 1.0, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            moved = patch.coef @ (after - before)
            spread_moved = patch.coef @ (spread * (after * after - before * before))
        slots = patch.slots
        self.mean[slots, col] = np.maximum(self.mean[slots, col] + moved, 0.0)
        self.var[slots, col] = np.maximum(self.var[slots, col] + spread_moved, 0.0)
        self.stale[col] |= not patch.exact

    def move_holds_columns(self, h: int, cols: NDArray[np.int64], before: Floats,
                           after: Floats) -> None:
        """:meth:`move_holds` of columns ``cols`` (``before``, ``after``: the group's
        stations × those columns): one product of the group's counts for them all — each
        column's own counts where they read an uncertain number
        (:meth:`~designkit.estimate.held.Patches.read_columns`: each column's the
        arithmetic of its values alone)."""
        base = self.flows.patches[h] if self.flows.patches is not None else None
        if base is None:
            for j, col in enumerate(cols.tolist()):
                self.move_holds(h, col, before[:, j], after[:, j])
            return
        patch = base
        if self.samples is not None and base.valued:
            patch = Patches(self.tape, self.flows.groups, self.flows.holder_rate,
                            self.flows.arrival, self.samples.values[:, cols]).read_columns(h)
        rows, slots = patch.members, patch.slots[:, None]
        p_wait = self.p_wait[rows][:, cols]
        spread = np.where(p_wait > 0, 2.0 / np.where(p_wait > 0, p_wait, 1.0) - 1.0, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            moved = _per_hold(patch.coef, after - before)
            spread_moved = _per_hold(patch.coef, spread * (after * after - before * before))
        self.mean[slots, cols] = np.maximum(self.mean[slots, cols] + moved, 0.0)
        self.var[slots, cols] = np.maximum(self.var[slots, cols] + spread_moved, 0.0)
        self.stale[cols] |= ~self.exact_columns(patch, cols)

    def exact_columns(self, patch: Patch, cols: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per column of ``cols``: whether ``patch``'s holds read every visit of its
        stations there (:meth:`patch`'s ``exact``, for many columns at once; ``patch``'s
        counts the same in every column, or each column's own)."""
        if self.samples is None or not patch.structural:
            return np.full(len(cols), patch.exact)
        traffic = self.tape.traffic
        holds = self.unit_holds[:, cols]
        held = np.zeros((len(self.tape.servers), len(cols)))
        np.add.at(held, traffic.holder_station, holds)
        expected = self.unit_arrival[patch.members][:, cols] + held[patch.members]
        reached = (patch.coef.T @ holds[patch.records] if patch.coef.ndim == 2
                   else np.einsum("jk,jik->ik", holds[patch.records], patch.coef))
        close = np.abs(reached - expected) <= np.maximum(
            1e-9 * np.maximum(np.abs(reached), np.abs(expected)), 1e-15)
        return np.asarray(close.all(axis=0))

    def patch(self, h: int, col: int) -> Patch:
        """How the holds of held station ``h`` read its group's waits, in column ``col``
        (the same in every column but with samples of uncertain numbers)."""
        flows = self.flows
        if self.samples is None:
            assert flows.patches is not None
            return flows.patches[h]
        assert flows.patches is not None
        patch = flows.patches[h]
        traffic = self.tape.traffic
        holds = self.unit_holds[:, col]
        if patch.valued:  # its counts read an uncertain number: the column's (kept by
            # value for the other rounds of a search)
            values = self.samples.values[:, col]
            key = (h, values.tobytes())
            found = self.samples.patches.get(key)
            if found is None:
                found = self.samples.patches[key] = Patches(
                    self.tape, flows.groups, flows.holder_rate, flows.arrival,
                    values).read(h)
            patch = found
        # whether they are all that reads the group's waits depends on the column's rates
        held = np.bincount(traffic.holder_station, holds,
                           minlength=len(self.tape.servers)).astype(float)
        expected = self.unit_arrival[patch.members, col] + held[patch.members]
        return replace(patch, exact=patch.structural
                       and reads_all(holds[patch.records] @ patch.coef, expected))

    def bound_sources(self, found: NDArray[np.int64]) -> None:
        """Stations a few held servers bound, kept by several held stations (rows
        ``found`` of the flows' sources): their open waits scaled to what those bounds
        allow."""
        from designkit.maths.closed import bounded_classes_waits

        sources = self.flows.sources
        p = sources.stations[found]
        tape = self.tape
        open_wait = self.open_wait[p]
        exponential = self.exponential_waits(p)
        share = sources.share[found] if self.samples is None \
            else self.samples.source_share[found]
        bounded = bounded_classes_waits(self.arrival[p] / tape.copies[p, None],
                                        share, sources.bounds[found],
                                        self.service[p], tape.servers[p].astype(float))
        # the station's own variability (Allen–Cunneen) kept, as for groups
        use = ((open_wait > 0) & np.isfinite(open_wait) & np.isfinite(self.service[p])
               & ~np.isnan(bounded) & (exponential > 0))
        if not use.any():
            return
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scaled = open_wait * np.minimum(1.0, bounded / exponential)  # (a ratio past a
            # double's range is capped at 1 all the same)
        rows, cols = np.nonzero(use)
        stations = p[rows]
        self.set_waits(stations, cols, scaled[rows, cols], self.p_wait[stations, cols])
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if tape.held[p[row]]:
                self.keep(int(p[row]), col, float(scaled[row, col]))

    def keep(self, station: int, col: int, wait: float) -> None:
        """A held station's bounded wait in one column, kept through a pass that
        composes everything again (which would otherwise put its open wait back); NaN
        elsewhere: the columns not given keep the level's own."""
        kept = self.fixed.get(station)
        if kept is None:
            columns = len(self.scales)
            kept = self.fixed[station] = (np.full(columns, np.nan), np.full(columns, np.nan))
        kept[0][col], kept[1][col] = wait, self.p_wait[station, col]

    def between(self, station: int, col: int) -> float:
        """The squared coefficient of variation of a held station's mean holding times
        across the places that hold it (0 when every hold lasts as long on average)."""
        traffic = self.tape.traffic
        rows = self.holder_rows(station)
        rates = self.unit_holds[rows, 0 if self.samples is None else col]
        means = self.mean[traffic.holder_slot[rows], col]
        total = float(rates.sum())
        if total <= 0 or not np.isfinite(means).all():
            return 0.0
        first = float(np.dot(rates, means)) / total
        second = float(np.dot(rates, means * means)) / total
        # (divided twice: a mean of 1e-167 ms squares to nothing)
        return max(0.0, second / first / first - 1.0) if first > 0 else 0.0

    def between_columns(self, station: int, cols: NDArray[np.int64]) -> Floats:
        """:meth:`between` of columns ``cols`` at once."""
        traffic = self.tape.traffic
        rows = self.holder_rows(station)
        rates = (self.unit_holds[rows][:, cols] if self.samples is not None
                 else np.repeat(self.unit_holds[rows, :1], len(cols), axis=1))
        means = self.mean[traffic.holder_slot[rows]][:, cols]
        total = rates.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            first = (rates * means).sum(axis=0) / total
            second = (rates * means * means).sum(axis=0) / total
            spread = np.fmax(0.0, second / first / first - 1.0)  # (NaN: 0, as between's)
        usable = (total > 0) & np.isfinite(means).all(axis=0) & (first > 0)
        return np.where(usable, spread, 0.0)

    def holder_rows(self, station: int) -> NDArray[np.int64]:
        """The holder records of one held station (grouped once per run)."""
        if self._holder_rows is None:
            order = np.argsort(self.tape.traffic.holder_station, kind="stable")
            keys = self.tape.traffic.holder_station[order]
            bounds = np.searchsorted(keys, np.arange(len(self.tape.servers) + 1))
            self._holder_rows = (order, bounds)
        order, bounds = self._holder_rows
        return order[bounds[station]:bounds[station + 1]]

    def all_busy(self, stations: NDArray[np.int64]) -> Floats:
        """Per station and scale, the chance every server of a copy is busy (Erlang C
        of its load, whether or not a request can ever wait there; 1 when overloaded):
        the chance of waiting its queue already has where it can queue."""
        servers = np.broadcast_to(self.tape.servers[stations, None], (len(stations),
                                                                     len(self.scales)))
        load = self.utilization[stations] * servers
        out = self.p_wait[stations].copy()
        queues = (self.flows.bound[stations] > self.tape.servers[stations]) \
            & ~self.flows.wrapping.shared[stations]
        under = ~queues[:, None] & np.isfinite(load) & (load < servers)
        out[~queues[:, None] & ~under] = 1.0
        if under.any():
            out[under] = _erlang_c(servers[under], load[under])
        return out

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


def _per_hold(coef: Floats, per_station: Floats) -> Floats:
    """Per hold (rows) and column: ``Σᵢ coef[hold, i] · per_station[i, column]`` — the
    counts the same in every column (records × stations) or each column's own (records ×
    stations × columns)."""
    if coef.ndim == 2:
        return np.asarray(coef @ per_station)
    return np.asarray(np.einsum("jik,ik->jk", coef, per_station))


MANY_COLUMNS = 4
"""Columns of one held group from which they are solved together
(:meth:`_Run.solve_group_columns`) rather than one by one."""


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


def _close(a: Floats, b: Floats, rel: float = 1e-7) -> bool:
    both_inf = np.isinf(a) & np.isinf(b)
    with np.errstate(invalid="ignore"):
        near = np.abs(a - b) <= 1e-9 + rel * np.abs(b)
    return bool(np.all(both_inf | (near & np.isfinite(a) & np.isfinite(b))))


@dataclass
class Solution:
    """A design solved at one load: rates, station states, time moments, retry facts."""

    program: Program
    scale: float
    trial: Trials
    flows: Flows
    composers: dict[int, object] = field(default_factory=dict)  # latency grids, by size
    lower_means: dict[int, float] = field(default_factory=dict)  # by endpoint
    hits: dict[str, Floats] = field(default_factory=dict)
    """Per uncertain hit ratio (tag), its value in each column, when the columns are
    samples (:mod:`~designkit.estimate.uncertainty`): their latencies are composed
    together; the program's cache reads hold the nominal values."""
    rates: Floats | None = None
    """Per endpoint and column, requests per ms at scale 1 when the columns are samples
    (``None``: the flows' rates, every column at its scale)."""

    @functools.cached_property
    def endpoint_rate(self) -> list[float]:
        """Requests per ms of every endpoint."""
        with np.errstate(over="ignore"):  # a rate beyond a double is infinite: saturated
            return (self.flows.endpoint_rate * self.scale).tolist()  # type: ignore[no-any-return]

    @functools.cached_property
    def stations(self) -> list[StationState]:
        """Every station's state."""
        t = self.trial
        columns = [a[:, 0].tolist() for a in (t.arrival, t.service, t.scv, t.p_wait, t.wait,
                                               t.utilization)]
        return [StationState(*row) for row in zip(*columns, strict=True)]

    @functools.cached_property
    def endpoint_moments(self) -> list[Moments]:
        """Mean and variance of every endpoint's time (``inf`` when saturated)."""
        return [Moments(m, v) for m, v in zip(self.trial.endpoint_mean[:, 0].tolist(),
                                              self.trial.endpoint_var[:, 0].tolist(),
                                              strict=True)]

    @functools.cached_property
    def external_rate(self) -> dict[str, float]:
        """Attempts per ms at every third party."""
        return {k: v * self.scale for k, v in self.flows.external_rate.items()}

    @property
    def external_attempts(self) -> dict[ExternalCall, Attempts]:
        """The retry arithmetic of every third-party call, by its node."""
        return tape_of(self.program).traffic.attempts

    @functools.cached_property
    def retried(self) -> list[Retried]:
        """Every retried call: the node, its rate per ms, the held stations around it and
        the calling endpoint."""
        return [r._replace(rate=r.rate * self.scale) for r in self.flows.retried]

    @property
    def iterations(self) -> int:
        """Rounds of the fixed-point iteration (1 unless holds nest in a cycle)."""
        return self.trial.rounds

    def saturated(self) -> bool:
        """Some station is saturated."""
        return bool(self.trial.saturated[0])


def solve(program: Program, workload: dict[str, float], scale: float = 1.0,
          max_rounds: int = 100) -> Solution:
    """Solve ``program`` under ``workload`` (rps per endpoint reference) × ``scale``.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> d = dk.Design(name="mm1")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=1000)
        >>> s = solve(compile_design(d), {"api GET /x": 0.75})
        >>> s.stations[0].utilization, s.endpoint_moments[0].mean
        (0.75, 4000.0)
    """
    trial = trials(program, workload, [scale], max_rounds)
    return Solution(program, scale, trial, flows_of(program, workload))
