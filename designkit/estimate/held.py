"""Held stations solved with what they bound, as the solver's levels reach them.

A group — a held station ``h`` and the stations only it bounds — is solved as one
flow-equivalent server (:func:`~designkit.maths.closed.held_queue`) when the levels have
composed ``h``'s holding time from the open estimate of what is inside. The solution gives
the waits inside (bounded), the wait for ``h`` itself and the time inside; the holds of
``h`` already composed are then moved to those waits (:class:`Patch`: the number of each
station's waits per hold, read from the tape once), so everything composed after — the
hold of ``h``, its callers, outer groups — sees the bounded times in the same pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.tape import EXTERNAL, MAX2, MIXZERO, REPEAT, SUM, Tape, repeated
from designkit.maths.closed import Held

__all__ = [
    "MIXED_HOLDS",
    "RARELY_FULL",
    "Patch",
    "Patches",
    "bounded_waits",
    "bounded_waits_columns",
    "departures",
    "hold_scv",
    "hold_scvs",
    "reads_all",
]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Count = float | Floats
"""A count of waits per hold: one number, or one per column (values given per column)."""


RARELY_FULL = 1e-3
"""A held station whose servers are all busy less often than this (Erlang C of the open
estimate) bounds nothing in practice: the open estimate stays (and costs nothing more)."""

MIXED_HOLDS = 0.25
"""Holds of one held station whose mean lengths vary more than this (squared coefficient
of variation across the places that hold it: a 0.5 ms query and a 300 ms payment on one
pool) are not solved as one flow-equivalent class: the open estimate, which prices their
mix with Allen–Cunneen, stays."""

ROUNDING = 1e-12
"""A time inside a bounded station within this share of its service is rounding: no
wait."""

def departures(hold_scv: float, queued_full: tuple[float, ...] | list[float],
               station_scv: list[float], servers: list[int]) -> float:
    """The factor on a flow-equivalent server's wait for how its requests leave.

    The flow-equivalent server lets requests go as an exponential server would. With
    every held server taken and what the hold waits for always queued, they leave as
    that station serves them: exactly so for an exponential station (8 workers before 4
    cores), with Whitt's departure variability ``1 + (scv − 1) / √c`` for any other. When
    nothing inside queues, the held servers are an M/G/c queue of the hold's own time:
    Allen–Cunneen's ``(1 + scv) / 2``. In between, the station most often queued at full
    population, with chance ``q``, counts for ``q^1.5`` and the hold's variability for
    the rest — fitted to the exact Markov chains of 23 worker pools before one or two
    exponential stations at ρ 0.5, 0.8 and 0.95: the mean response within −3.2…+2.2 % at
    ρ ≤ 0.8 and −5.7…+6.1 % at 0.95 (rms 2.0 %), where the bare flow-equivalent server
    is up to +18 % and +29 % (rms 11.5 %) (``benchmarks/held_departures.py``; chains it
    was not fitted to in ``tests/estimate/test_holding.py``).

    Example:
        >>> departures(0.5, [1.0], [1.0], [4]), departures(0.5, [0.0], [1.0], [4])
        (1.0, 0.75)
        >>> departures(0.5, [0.25], [1.0], [4])   # (1 + 0.5 + 0.5 · 0.25^1.5) / 2
        0.78125
    """
    effective = hold_scv
    if queued_full:
        i = max(range(len(queued_full)), key=queued_full.__getitem__)
        leaving = 1.0 + (station_scv[i] - 1.0) / math.sqrt(max(servers[i], 1))
        effective += (leaving - hold_scv) * queued_full[i] ** 1.5
    return (1.0 + effective) / 2.0


@dataclass(frozen=True)
class Patch:
    """How a group's holds read the waits of its stations: ``coef[j, i]`` waits at
    ``members[i]`` per hold ``records[j]`` (holder records of the group's held station;
    ``slots[j]`` their holding times). ``exact``: the holds are all that reads those waits
    and the counts are exact (no parallel branch, no wait reached through another held
    station's hold or a call to another endpoint): moving the holds' times is then the
    same as composing them again."""

    records: Ints
    slots: Ints
    members: Ints
    coef: Floats
    exact: bool
    structural: bool = True  # no parallel branch, no other hold or endpoint in the way
    valued: bool = False  # its counts read an uncertain number (differ per sample)


class Patches:
    """Per group, how its holds read its stations' waits (:class:`Patch`), read from the
    tape when a group is first solved (most never are: their held stations are seldom
    full) — the sums, repeats and mixtures between each hold's time and the waits,
    without entering another endpoint. ``visit_rate``: per station, its visits (plain) or
    holds (held) per ms at scale 1 — the counts must account for all of them, or the
    patch is not exact."""

    def __init__(self, tape: Tape, groups: dict[int, tuple[int, ...]], holder_rate: Floats,
                 visit_rate: Floats, values: Floats | None = None) -> None:
        self.values = values  # the uncertain numbers' values (default: the design's)
        self.tape = tape
        self.groups = groups
        self.holder_rate = holder_rate
        self.visit_rate = visit_rate
        self.found: dict[int, Patch] = {}
        self.shared: tuple[dict[int, int], set[int], set[int], Ints, Ints] | None = None

    def __getitem__(self, h: int) -> Patch:
        found = self.found.get(h)
        if found is None:
            found = self.found[h] = self.read(h)
        return found

    def read(self, h: int) -> Patch:
        records, slots, inner, counts, reader = self._counted(h)
        coef = np.zeros((len(records), len(inner)))
        for j, found in enumerate(counts):
            for i, c in found.items():
                coef[j, i] = c
        reached = self.holder_rate[records] @ coef  # waits read per ms
        expected = self.visit_rate[np.array(inner, dtype=np.int64)]
        exact = reader.exact and reads_all(reached, expected)
        return Patch(records, slots, np.array(inner, dtype=np.int64), coef, exact,
                     reader.exact, reader.valued)

    def read_columns(self, h: int) -> Patch:
        """:meth:`read` with ``values`` given per column (tags × columns): ``coef[j, i, k]``
        the count of column ``k`` (each column's the same arithmetic as :meth:`read` of its
        values alone); ``exact`` only whether the counts are structural — whether the holds
        read every visit depends on each column's rates (its caller's to check)."""
        assert self.values is not None and self.values.ndim == 2
        records, slots, inner, counts, reader = self._counted(h)
        coef = np.zeros((len(records), len(inner), self.values.shape[1]))
        for j, found in enumerate(counts):
            for i, c in found.items():
                coef[j, i] = c
        return Patch(records, slots, np.array(inner, dtype=np.int64), coef, reader.exact,
                     reader.exact, reader.valued)

    def _counted(self, h: int) -> tuple[Ints, Ints, tuple[int, ...], list[dict[int, Count]],
                                         _Reader]:
        """Group ``h``'s holder records, their slots, its stations, and per record the
        count of each station's waits under it."""
        tape = self.tape
        if self.shared is None:
            station_of = tape.traffic.holder_station
            order = np.argsort(station_of, kind="stable")
            self.shared = ({int(slot): p for p, slot in enumerate(tape.wait_slot.tolist())},
                           set(tape.endpoint_slot.tolist()),
                           set(tape.traffic.holder_slot.tolist()), order,
                           np.searchsorted(station_of[order], np.arange(len(tape.servers) + 1)))
        wait_of, endpoints, holder_slots, order, starts = self.shared
        inner = self.groups[h]
        records = order[starts[h]:starts[h + 1]]
        reader = _Reader(tape, wait_of, endpoints, holder_slots,
                         {p: i for i, p in enumerate(inner)}, self.values)
        slots = tape.traffic.holder_slot[records]
        counts = [reader.counts(slot, top=True) for slot in slots.tolist()]
        return records, slots, inner, counts, reader


def reads_all(reached: Floats, expected: Floats) -> bool:
    """Whether the holds read every visit of the group's stations (per ms, each)."""
    return all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
               for a, b in zip(reached.tolist(), expected.tolist(), strict=True))


class _Reader:
    """Counts of a group's waits under a slot (memoised per slot)."""

    def __init__(self, tape: Tape, wait_of: dict[int, int], endpoints: set[int],
                 holder_slots: set[int], members: dict[int, int],
                 values: Floats | None = None) -> None:
        self.values = values
        self.tape = tape
        self.wait_of = wait_of
        self.endpoints = endpoints
        self.holder_slots = holder_slots
        self.members = members
        self.memo: dict[int, dict[int, Count]] = {}
        self.exact = True
        self.valued = False  # a count read an uncertain number

    def counts(self, slot: int, top: bool = False) -> dict[int, Count]:
        if slot in self.memo:
            return self.memo[slot]
        station = self.wait_of.get(slot)
        found: dict[int, Count]
        if station is not None:
            found = {self.members[station]: 1.0} if station in self.members else {}
        elif slot in self.endpoints and not top:
            found = {}  # another endpoint's time: its waits are not this hold's to move
        else:
            found = self.below(slot)
            if found and not top and slot in self.holder_slots:
                self.exact = False  # inside another held station's hold: its time moves too
        self.memo[slot] = found
        return found

    def below(self, slot: int) -> dict[int, Count]:
        index = int(self.tape.producer[slot])
        if index < 0:
            return {}
        op = self.tape.ops[index]
        if op.kind == SUM:
            return _add([self.counts(i) for i in op.inputs], [1.0] * len(op.inputs))
        if op.kind in (REPEAT, MIXZERO):
            self.valued = self.valued or op.tag >= 0
            param: Count = (op.param if op.tag < 0 or self.values is None
                            else 1.0 - self.values[op.tag])  # (a value per column: an array)
            return _add([self.counts(op.inputs[0])], [param])
        if op.kind == MAX2:
            found = _add([self.counts(i) for i in op.inputs], [0.5, 0.5])
            self.exact = self.exact and not found  # which branch is longer depends on load
            return found
        if op.kind == EXTERNAL:
            return _add([self.counts(op.inputs[1])], [op.param if op.flag else 0.0])
        return {}


def _add(parts: list[dict[int, Count]], weights: list[Count]) -> dict[int, Count]:
    out: dict[int, Count] = {}
    for part, weight in zip(parts, weights, strict=True):
        for key, value in part.items():
            out[key] = out.get(key, 0.0) + weight * value
    return out


def bounded_waits(held: Held, visits: Floats, demands: list[float], open_wait: Floats,
                  exponential: Floats) -> Floats:
    """The waits at a group's stations as its bound leaves them: the bounded wait of
    exponential times (the residence the closed network gives, less the demand), kept in
    proportion to the open wait so that each station's own variability (Allen–Cunneen)
    stays — never above the open wait (no more requests than the open estimate lets in
    are ever there), and none below rounding of the residence (a difference of 10⁻¹⁷ ms
    read as a wait, against an open one of 10⁻⁵⁰, would make the wait's spread, kept in
    proportion, astronomical).

    Example:
        >>> from designkit.maths.closed import held_queue
        >>> h = held_queue(0.05, 2, 10.0, [10.0], [1])   # two workers before one core
        >>> w = bounded_waits(h, np.array([1.0]), [10.0], np.array([10.0]), np.array([10.0]))
        >>> round(float(w[0]), 3)   # the closed network's, < the open M/M/1's 10 ms
        3.636
    """
    return bounded_waits_columns(np.asarray(held.residence, dtype=float)[:, None],
                                 visits[:, None], np.asarray(demands, dtype=float)[:, None],
                                 open_wait[:, None], exponential[:, None])[:, 0]


def bounded_waits_columns(residence: Floats, visits: Floats, demands: Floats,
                          open_wait: Floats, exponential: Floats) -> Floats:
    """:func:`bounded_waits` of many columns at once (stations × columns: the
    residences of :class:`~designkit.maths.closed_columns.HeldColumns`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        queued = residence - demands
        counted = visits > 0
        bounded = np.where(counted & (queued > ROUNDING * residence),
                           queued / np.where(counted, visits, 1.0), 0.0)
        fast = exponential > 0
        out = np.where(fast, open_wait * np.fmin(1.0, bounded / np.where(fast, exponential,
                                                                        1.0)),
                       np.where(np.isinf(open_wait), bounded, 0.0))
    return np.where(counted, out, 0.0)


def hold_scv(mean: float, scv: float, visits: Floats, before: Floats, after: Floats,
             service: Floats, solved: Floats, p_wait: Floats, station_scv: Floats) -> float:
    """The squared coefficient of variation of a holding time of mean ``mean`` and
    ``scv`` once its group's waits move from ``before`` to ``after`` (and held stations
    inside from their holding times ``service`` to their solved times inside ``solved``):
    each station's visits (a wait, exponential with its chance ``p_wait``, plus its
    time) taken out and put back.

    Example:
        >>> one = np.array([1.0])
        >>> round(hold_scv(20.0, 1.0, one, np.array([10.0]), np.array([0.0]),
        ...                np.array([10.0]), np.array([10.0]), one, one), 3)
        3.0
    """
    column = [a[:, None] for a in (visits, before, after, service, solved, p_wait,
                                   station_scv)]
    return float(hold_scvs(np.array([mean]), np.array([scv]), *column)[0])


def hold_scvs(mean: Floats, scv: Floats, visits: Floats, before: Floats, after: Floats,
              service: Floats, solved: Floats, p_wait: Floats, station_scv: Floats
              ) -> Floats:
    """:func:`hold_scv` of many columns at once (``mean``, ``scv`` per column; the rest
    stations × columns)."""
    spread = np.where(p_wait > 0, 2.0 / np.where(p_wait > 0, p_wait, 1.0) - 1.0, 0.0)
    old_mean, old_var = repeated(before + service,
                                 spread * before * before + station_scv * service * service,
                                 visits)
    new_mean, new_var = repeated(after + solved,
                                 spread * after * after + station_scv * solved * solved,
                                 visits)
    total = mean + (new_mean - old_mean).sum(axis=0)
    var = scv * mean * mean + (new_var - old_var).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (divided twice: a tiny mean squares to 0)
        out = np.maximum(var, 0.0) / total / total
    return np.where((total > 0) & np.isfinite(total) & np.isfinite(var), out, scv)
