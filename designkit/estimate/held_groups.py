"""Held stations solved with what they bound: a group's flow-equivalent server.

A held station (the workers of a blocking service, a pool, a lock) bounds how many
requests are inside what it wraps. Where it is full often enough to matter, its group —
the held station and the stations inside — is solved as a closed network
(:func:`~designkit.maths.closed.held_queue`, or :func:`~designkit.maths.closed_columns.held_queues`
for many columns at once): the waits inside are bounded, the holds moved to them, and the
held station given its flow-equivalent wait; held sources (decisions 36 and 38) get their bounded
waits the same way.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

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
from designkit.estimate.levels import INF, Floats, Levels, _erlang_c

__all__ = ["MANY_COLUMNS", "HeldGroups"]


class HeldGroups(Levels):
    """:class:`~designkit.estimate.levels.Levels` with the groups of held stations solved
    with what they bound as the levels reach them."""

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
