"""A compiled design flattened into arrays: traffic tables and a tape of moment operations.

The estimator needs, at every load it tries, the mean and variance of every node's time.
Walking the node trees for each trial costs a Python call per node; at 10,000 components
and a dozen trials that is most of the run. So the trees are walked once, here, into:

* **traffic tables**: every visit, hold, call and message with the endpoint it runs in and
  a static multiplier (loop counts, cache-miss ratios, counts): rates are linear in the
  endpoint rates, which one pass over the call graph gives;
* **a tape**: every node's time as one small operation on *slots* (sum, repeat, a mixture
  with zero, the maximum of two, a third-party call, a held station's queue), grouped in
  *levels* so that each level only reads slots written by earlier ones. The solver runs a
  level's operations of one kind as a handful of numpy calls, for many loads at once.

Slots hold constants (times of the model), the wait at every station, and every node's
time. Held stations (workers, pools, locks) read the holding times of their holders and
write their wait; when holds nest in a cycle (a lock-order inversion) the levels are built
without those edges and the solver iterates to a fixed point instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, assert_never

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.errors import failing_share
from designkit.estimate.external import Attempts, call_moments, settings
from designkit.estimate.program import Program
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    ExternalCall,
    Fallback,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Publish,
    Seq,
    Visit,
)
from designkit.flow.times import Spec

__all__ = ["EXTERNAL", "MAX2", "MIXZERO", "REPEAT", "STATION", "SUM", "Level", "Op", "Tape",
           "Traffic", "repeated", "tape_of"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Factors = tuple[int, ...]
"""Uncertain numbers (their index in :attr:`Tape.tags`) a count is in proportion to: each
as its complement, ``1 − value`` (a cache's misses)."""

SUM, REPEAT, MIXZERO, MAX2, EXTERNAL, STATION = range(6)


class Op(NamedTuple):
    """One operation of the tape: ``kind`` of ``inputs`` (slots) into slot ``out``, with a
    number (a count, a probability, expected attempts, a station) and a flag (whether an
    external call's wait applies)."""

    kind: int
    out: int
    inputs: tuple[int, ...]
    param: float = 0.0
    flag: bool = False
    tag: int = -1  # a mixture whose probability is 1 − this uncertain number


class VisitRecord(NamedTuple):
    """Visits to a station from one place in an endpoint: per execution of the endpoint,
    ``mult`` of them, each ``mean`` ms with second moment ``second``."""

    station: int
    endpoint: int
    mult: float
    mean: float
    second: float
    held: tuple[int, ...] = ()  # the held stations around the visit, in its endpoint
    fac: Factors = ()  # uncertain numbers its count is in proportion to


class HoldRecord(NamedTuple):
    """A hold of a held station from one place in an endpoint, ``mult`` per execution of
    the endpoint; ``slot`` holds the time it is held."""

    station: int
    endpoint: int
    mult: float
    slot: int
    held: tuple[int, ...] = ()  # the held stations around the hold, in its endpoint
    inner: tuple[int, ...] | None = None  # the stations its body only visits, if only that
    fac: Factors = ()


class CallRecord(NamedTuple):
    """``mult`` calls (or messages) of endpoint ``callee`` per execution of ``caller``;
    a synchronous call keeps the ``held`` stations around it for the callee's whole run."""

    caller: int
    callee: int
    mult: float
    held: tuple[int, ...] = ()
    synchronous: bool = True
    fac: Factors = ()


class ExternalRecord(NamedTuple):
    """``mult`` attempts at third party ``component`` per execution of ``endpoint``."""

    component: str
    endpoint: int
    mult: float
    fac: Factors = ()


class RetryRecord(NamedTuple):
    """A retried call: the node, its calling endpoint, calls per execution of it, and the
    held stations around it."""

    node: ExternalCall | Invoke
    endpoint: int
    mult: float
    held: tuple[int, ...]
    fac: Factors = ()


@dataclass
class Level:
    """Operations whose inputs are all written by earlier levels, by kind.

    ``sums``: (outputs, segment starts, flat inputs); ``repeats``/``mixes``: (outputs,
    inputs, counts or probabilities); ``maxes``: (outputs, left, right); ``externals``:
    (outputs, base slots, wait slots, expected attempts, whether the wait applies);
    ``stations``: (held stations whose queue this level solves, segment starts, flat
    holder entries).
    """

    sums: tuple[Ints, Ints, Ints] | None = None
    repeats: tuple[Ints, Ints, Floats] | None = None
    mixes: tuple[Ints, Ints, Floats] | None = None
    maxes: tuple[Ints, Ints, Ints] | None = None
    externals: tuple[Ints, Ints, Ints, Floats, NDArray[np.bool_]] | None = None
    stations: tuple[Ints, Ints, Ints] | None = None
    mix_tags: tuple[Ints, Ints] | None = None  # (rows of ``mixes``, their uncertain numbers)


@dataclass
class Traffic:
    """Where load goes, per unit rate of the endpoint each entry runs in.

    Visits (``visit_*``) add arrivals and work to plain stations; holders (``holder_*``)
    are the entries whose holding time makes a held station's service time; calls
    (``call_*``) pass load from an endpoint to another (a synchronous call or a message's
    handler), in callers-first order.
    """

    visit_station: Ints
    visit_endpoint: Ints
    visit_mult: Floats
    visit_mean: Floats
    visit_second: Floats
    holder_station: Ints
    holder_endpoint: Ints
    holder_mult: Floats
    holder_slot: Ints
    call_from: list[int]
    call_to: list[int]
    call_mult: list[float]
    visit_held: list[tuple[int, ...]]
    holder_held: list[tuple[int, ...]]
    holder_inner: list[tuple[int, ...] | None]
    call_held: list[tuple[int, ...] | None]  # None: a message (nothing held for the handler)
    external_component: list[str]
    external_endpoint: Ints
    external_mult: Floats
    retried: list[RetryRecord]
    attempts: dict[ExternalCall, Attempts]
    visit_fac: list[Factors]
    holder_fac: list[Factors]
    call_fac: list[Factors]
    external_fac: list[Factors]


@dataclass
class Tape:
    """The traffic tables and the levelled moment operations of one program."""

    slots: int
    const_slots: Ints
    const_mean: Floats
    const_var: Floats
    wait_slot: Ints
    endpoint_slot: Ints
    servers: Floats
    copies: Floats
    held: NDArray[np.bool_]
    levels: list[Level]
    traffic: Traffic
    cyclic: bool
    ops: list[Op]  # every operation (its output slot: ``ops[producer[slot]].out``)
    producer: Ints  # per slot, the operation that writes it (-1: a constant or a wait)
    tags: tuple[str, ...] = ()  # the uncertain numbers, by the design's path
    nominal: Floats | None = None  # their values in the design


def tape_of(program: Program) -> Tape:
    """The tape of ``program`` (built once, kept on the program).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> tape = tape_of(compile_design(dk.template("flash-sale")))
        >>> tape.cyclic, len(tape.levels) > 1
        (False, True)
    """
    if program.tape is None:
        program.tape = _Builder(program).run()
    return program.tape


class _Builder:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.slots = 0
        self.consts: dict[tuple[float, float], int] = {}
        self.ops: list[Op] = []
        n_stations = len(program.stations)
        self.wait_slot = [self.slot() for _ in range(n_stations)]
        self.endpoint_slot = [self.slot() for _ in program.endpoints]
        self.zero = self.const(0.0, 0.0)
        # traffic
        self.visits: list[VisitRecord] = []
        self.holders: list[HoldRecord] = []
        self.calls: list[CallRecord] = []
        self.externals: list[ExternalRecord] = []
        self.retried: list[RetryRecord] = []
        self.attempts: dict[ExternalCall, Attempts] = {}
        self.external_facts: dict[object, tuple[Attempts, float, float]] = {}
        # uncertain numbers: index by the design's path, nominal values, and the ones
        # the node being walked is in proportion to
        self.tags: dict[str, int] = {}
        self.nominal: list[float] = []
        self.fac: Factors = ()

    # -- slots and operations --------------------------------------------------------------

    def slot(self) -> int:
        self.slots += 1
        return self.slots - 1

    def const(self, mean: float, var: float) -> int:
        key = (mean, var)
        if key not in self.consts:
            self.consts[key] = self.slot()
        return self.consts[key]

    def spec(self, spec: Spec) -> int:
        return self.const(spec.mean, spec.var)

    def op(self, kind: int, inputs: tuple[int, ...], param: float = 0.0,
           flag: bool = False, out: int | None = None) -> int:
        target = self.slot() if out is None else out
        self.ops.append(Op(kind, target, inputs, param, flag))
        return target

    def total(self, inputs: list[int], out: int | None = None) -> int:
        parts = tuple(i for i in inputs if i != self.zero) or (self.zero,)
        if len(parts) == 1 and out is None:
            return parts[0]
        return self.op(SUM, parts, out=out)

    def repeat(self, source: int, count: float) -> int:
        if count <= 0:
            return self.zero
        if count == 1.0 or source == self.zero:
            return source
        return self.op(REPEAT, (source,), count)

    # -- walking the program -----------------------------------------------------------------

    def run(self) -> Tape:
        program = self.program
        for i, ep in enumerate(program.endpoints):
            cpu = self.spec(ep.cpu)
            outer = () if ep.consume is None else (ep.consume,)
            held = (*outer, ep.workers) if ep.blocking else outer
            steps = self.node(ep.steps, i, 1.0, held)
            run = self.endpoint_slot[i] if ep.consume is None else None
            if ep.blocking:  # the workers are held for the whole request
                holding = self.holding([cpu, steps])
                run = self.total([self.wait_slot[ep.workers], holding], out=run)
            else:
                holding = self.holding([cpu])
                run = self.total([self.wait_slot[ep.workers], cpu, steps], out=run)
            self.holders.append(HoldRecord(ep.workers, i, 1.0, holding, outer))
            if ep.consume is not None:  # a consumer is kept for the handler's whole run
                consumed = self.holding([run])
                self.total([self.wait_slot[ep.consume], consumed], out=self.endpoint_slot[i])
                self.holders.append(HoldRecord(ep.consume, i, 1.0, consumed, ()))
        return self.finish()

    def holding(self, parts: list[int]) -> int:
        """A slot of its own for the time a station is held (never a constant or another
        node's slot): the solver moves it when it bounds what the hold waits for."""
        return self.op(SUM, tuple(i for i in parts if i != self.zero) or (self.zero,))

    def node(self, node: Node, ep: int, mult: float, held: tuple[int, ...]) -> int:
        """The slot of ``node``'s time; records its traffic at ``mult`` executions per
        execution of endpoint ``ep``."""
        match node:
            case Seq():
                return self.total([self.node(item, ep, mult, held) for item in node.items])
            case Delay():
                return self.spec(node.time)
            case Visit():
                return self.visit(node, ep, mult, held)
            case Hold():
                body = self.node(node.body, ep, mult, (*held, node.station))
                holding = self.holding([body, self.spec(node.extra)])
                inner = _only_visits(node.body) if node.extra.mean == 0 else None
                self.holders.append(HoldRecord(node.station, ep, mult, holding, held, inner,
                                                self.fac))
                return self.total([self.wait_slot[node.station], holding])
            case Invoke():
                self.calls.append(CallRecord(ep, node.endpoint, mult * node.count, held,
                                            fac=self.fac))
                if node.retries is not None and node.retries.max > 0:
                    self.retried.append(RetryRecord(node, ep, mult * node.count, held, self.fac))
                return self.repeat(self.endpoint_slot[node.endpoint], node.count)
            case ExternalCall():
                return self.external(node, ep, mult, held)
            case Publish():
                # through an outbox the relay's publish is off the request's path and
                # outside what it holds: only its load counts
                relayed = node.outbox is not None
                visit = self.visit(node.visit, ep, mult * node.count, () if relayed else held)
                if node.outbox is not None:
                    visit = self.visit(node.outbox, ep, mult * node.count, held)
                if node.handler is not None:
                    self.calls.append(CallRecord(ep, node.handler, mult * node.count, (),
                                                 synchronous=False, fac=self.fac))
                return self.repeat(visit, node.count)
            case Par():
                branches = [self.node(b, ep, mult, held) for b in node.branches]
                if not branches:
                    return self.zero
                out = branches[0]
                for other in branches[1:]:
                    out = self.op(MAX2, (out, other))
                return out
            case Loop():
                return self.repeat(self.node(node.body, ep, mult * node.count, held),
                                   node.count)
            case CacheRead():
                visit = self.visit(node.visit, ep, mult, held)
                tag, outer = self.tag(node), self.fac
                if tag >= 0:
                    self.fac = (*outer, tag)
                miss = self.node(node.miss, ep, mult * (1.0 - node.hit), held)
                self.fac = outer
                return self.total([visit, self.sometimes(miss, 1.0 - node.hit, tag)])
            case Choice():  # the mean is exact; the variance as if the two were independent
                first = self.node(node.first, ep, mult * node.p, held)
                second = self.node(node.second, ep, mult * (1.0 - node.p), held)
                return self.total([self.sometimes(first, node.p),
                                   self.sometimes(second, 1.0 - node.p)])
            case Fallback():  # the fallback runs when the call fails
                body = self.node(node.body, ep, mult, held)
                failing = failing_share(self.program, node.body)
                fallback = self.node(node.fallback, ep, mult * failing, held)
                return self.total([body, self.sometimes(fallback, failing)])
            case _:
                assert_never(node)

    def sometimes(self, slot: int, p: float, tag: int = -1) -> int:
        """The time of ``slot`` taken with probability ``p`` (else none; ``tag``: ``p``
        is 1 − that uncertain number)."""
        if p <= 0 or slot == self.zero:
            return self.zero
        if tag >= 0:  # whatever p is, its samples may be any
            self.ops.append(Op(MIXZERO, self.slot(), (slot,), p, tag=tag))
            return self.ops[-1].out
        return slot if p >= 1.0 else self.op(MIXZERO, (slot,), p)

    def tag(self, node: CacheRead) -> int:
        """The index of the uncertain number a cache read's hit ratio is (-1: none)."""
        if node.tag is None:
            return -1
        if node.tag not in self.tags:
            self.tags[node.tag] = len(self.tags)
            self.nominal.append(node.hit)
        return self.tags[node.tag]

    def visit(self, node: Visit, ep: int, mult: float, held: tuple[int, ...]) -> int:
        time = node.time
        self.visits.append(VisitRecord(node.station, ep, mult * node.count, time.mean,
                                       time.var + time.mean ** 2, held, self.fac))
        one = self.total([self.wait_slot[node.station], self.spec(time)])
        return self.repeat(one, node.count)

    def external(self, node: ExternalCall, ep: int, mult: float,
                 held: tuple[int, ...]) -> int:
        info, mean, var = self.external_fact(node)
        self.attempts[node] = info
        if node.retries is not None and node.retries.max > 0:
            self.retried.append(RetryRecord(node, ep, mult * node.count, held, self.fac))
        calls = mult * node.count * info.expected
        self.externals.append(ExternalRecord(node.component, ep, calls, self.fac))
        if node.station is not None:
            one = node.latency
            self.visits.append(VisitRecord(node.station, ep, calls, one.mean,
                                           one.var + one.mean ** 2, held, self.fac))
        base = self.const(mean, var)
        wait = self.wait_slot[node.station] if node.station is not None else self.zero
        applies = node.station is not None and not info.breaker_open
        single = self.op(EXTERNAL, (base, wait), info.expected, applies)
        return self.repeat(single, node.count)

    def external_fact(self, node: ExternalCall) -> tuple[Attempts, float, float]:
        """Attempts, mean and variance of one call (the same for every call of the same
        third party with the same settings: computed once)."""
        key = settings(node)
        if key not in self.external_facts:
            self.external_facts[key] = call_moments(node)
        return self.external_facts[key]

    # -- levels --------------------------------------------------------------------------

    def finish(self) -> Tape:
        program = self.program
        stations = program.stations
        held = np.array([s.held for s in stations], dtype=bool)
        holders_by_station: list[list[int]] = [[] for _ in stations]
        for h, holder in enumerate(self.holders):
            holders_by_station[holder.station].append(h)
        for s, station in enumerate(stations):
            if station.held and holders_by_station[s]:  # no holders: never waits
                inputs = tuple(self.holders[h].slot for h in holders_by_station[s])
                self.ops.append(Op(STATION, self.wait_slot[s], inputs, float(s)))
        self.holder_groups = holders_by_station
        levels, cyclic, producer = self.levelled()
        traffic = self.traffic()
        const_slots = np.fromiter(self.consts.values(), dtype=np.int64, count=len(self.consts))
        means = np.array([k[0] for k in self.consts], dtype=float)
        variances = np.array([k[1] for k in self.consts], dtype=float)
        return Tape(
            slots=self.slots,
            const_slots=const_slots,
            const_mean=means,
            const_var=variances,
            wait_slot=np.array(self.wait_slot, dtype=np.int64),
            endpoint_slot=np.array(self.endpoint_slot, dtype=np.int64),
            servers=np.array([s.servers for s in stations], dtype=float),
            copies=np.array([s.copies for s in stations], dtype=float),
            held=held,
            levels=levels,
            traffic=traffic,
            cyclic=cyclic,
            ops=self.ops,
            producer=producer,
            tags=tuple(self.tags),
            nominal=np.array(self.nominal, dtype=float),
        )

    def levelled(self) -> tuple[list[Level], bool, Ints]:
        """Operations grouped by level (longest path from the constants and plain waits);
        a cycle through held stations is cut at the stations, which are then iterated."""
        ops = self.ops
        producer = np.full(self.slots, -1, dtype=np.int64)
        producer[np.array([op.out for op in ops], dtype=np.int64)] = np.arange(len(ops))
        counts = np.array([len(op.inputs) for op in ops], dtype=np.int64)
        owner = np.repeat(np.arange(len(ops)), counts)
        inputs = np.fromiter((i for op in ops for i in op.inputs), dtype=np.int64,
                             count=int(counts.sum()))
        needs = producer[inputs]  # the operation each input waits for (-1: none)
        stations = np.array([op.kind == STATION for op in ops], dtype=bool)
        level = _layers(owner, needs, len(ops))
        cyclic = level is None
        if level is None:
            keep = ~stations[owner]  # a station reads its holders from the previous round
            level = _layers(owner[keep], needs[keep], len(ops))
            assert level is not None
        grouped: dict[int, dict[int, list[int]]] = {}
        for k, lv in enumerate(level.tolist()):
            grouped.setdefault(lv, {}).setdefault(ops[k].kind, []).append(k)
        return [self.level(grouped[lv]) for lv in sorted(grouped)], cyclic, producer

    def level(self, kinds: dict[int, list[int]]) -> Level:
        ops = self.ops
        out = Level()

        def outs(ks: list[int]) -> Ints:
            return np.array([ops[k].out for k in ks], dtype=np.int64)

        def firsts(ks: list[int], j: int = 0) -> Ints:
            return np.array([ops[k].inputs[j] for k in ks], dtype=np.int64)

        def params(ks: list[int]) -> Floats:
            return np.array([ops[k].param for k in ks], dtype=float)

        if ks := kinds.get(SUM):
            lengths = np.array([len(ops[k].inputs) for k in ks], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            flat = np.fromiter((i for k in ks for i in ops[k].inputs), dtype=np.int64,
                               count=int(lengths.sum()))
            out.sums = (outs(ks), starts, flat)
        if ks := kinds.get(REPEAT):
            out.repeats = (outs(ks), firsts(ks), params(ks))
        if ks := kinds.get(MIXZERO):
            out.mixes = (outs(ks), firsts(ks), params(ks))
            tagged = [j for j, k in enumerate(ks) if ops[k].tag >= 0]
            if tagged:
                out.mix_tags = (np.array(tagged, dtype=np.int64),
                                np.array([ops[ks[j]].tag for j in tagged], dtype=np.int64))
        if ks := kinds.get(MAX2):
            out.maxes = (outs(ks), firsts(ks), firsts(ks, 1))
        if ks := kinds.get(EXTERNAL):
            out.externals = (outs(ks), firsts(ks), firsts(ks, 1), params(ks),
                             np.array([ops[k].flag for k in ks], dtype=bool))
        if ks := kinds.get(STATION):
            stations = [int(ops[k].param) for k in ks]
            groups = [self.holder_groups[s] for s in stations]
            lengths = np.array([len(g) for g in groups], dtype=np.int64)
            out.stations = (np.array(stations, dtype=np.int64),
                            np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
                            np.fromiter((h for g in groups for h in g), dtype=np.int64,
                                        count=int(lengths.sum())))
        return out

    def traffic(self) -> Traffic:
        visits = self.visits
        holders = self.holders
        order = {e: n for n, e in enumerate(self.program.order)}
        calls = sorted(self.calls, key=lambda c: order[c.caller])
        return Traffic(
            visit_station=np.array([v.station for v in visits], dtype=np.int64),
            visit_endpoint=np.array([v.endpoint for v in visits], dtype=np.int64),
            visit_mult=np.array([v.mult for v in visits], dtype=float),
            visit_mean=np.array([v.mean for v in visits], dtype=float),
            visit_second=np.array([v.second for v in visits], dtype=float),
            holder_station=np.array([h.station for h in holders], dtype=np.int64),
            holder_endpoint=np.array([h.endpoint for h in holders], dtype=np.int64),
            holder_mult=np.array([h.mult for h in holders], dtype=float),
            holder_slot=np.array([h.slot for h in holders], dtype=np.int64),
            call_from=[c.caller for c in calls],
            call_to=[c.callee for c in calls],
            call_mult=[c.mult for c in calls],
            visit_held=[v.held for v in visits],
            holder_held=[h.held for h in holders],
            holder_inner=[h.inner for h in holders],
            call_held=[c.held if c.synchronous else None for c in calls],
            external_component=[e.component for e in self.externals],
            external_endpoint=np.array([e.endpoint for e in self.externals], dtype=np.int64),
            external_mult=np.array([e.mult for e in self.externals], dtype=float),
            retried=self.retried,
            attempts=self.attempts,
            visit_fac=[v.fac for v in visits],
            holder_fac=[h.fac for h in holders],
            call_fac=[c.fac for c in calls],
            external_fac=[e.fac for e in self.externals],
        )


def _only_visits(node: Node) -> tuple[int, ...] | None:
    """The stations ``node`` visits when it does nothing but queued visits (in sequence
    or repeated), else ``None``: a hold around such a body queues where its visits do."""
    match node:
        case Visit():
            return (node.station,)
        case Seq():
            found: list[int] = []
            for item in node.items:
                inner = _only_visits(item)
                if inner is None:
                    return None
                found += inner
            return tuple(found) if found else None
        case Loop():
            return _only_visits(node.body)
        case Publish() if node.outbox is not None:  # its row's insert; the relay is later
            return (node.outbox.station,)
        case (Delay() | Hold() | Invoke() | ExternalCall() | Publish() | Par() | CacheRead()
              | Fallback() | Choice()):
            return None
        case _:
            assert_never(node)


def _layers(owner: Ints, needs: Ints, n: int) -> Ints | None:
    """Each operation's level — 1 + the highest level of the operations it needs (0 when
    it needs none) — by Kahn's algorithm one layer at a time, on arrays; ``None`` when the
    operations need each other in a cycle.

    ``owner[e]`` needs ``needs[e]`` (``-1``: nothing), for every edge ``e``.
    """
    real = needs >= 0
    owner, needs = owner[real], needs[real]
    waiting = np.bincount(owner, minlength=n)  # unmet needs per operation
    order = np.argsort(needs, kind="stable")
    dependants = owner[order]  # grouped by what they need
    starts = np.searchsorted(needs[order], np.arange(n + 1))
    level = np.full(n, -1, dtype=np.int64)
    ready = np.flatnonzero(waiting == 0)
    depth = 0
    while ready.size:
        level[ready] = depth
        lengths = starts[ready + 1] - starts[ready]
        total = int(lengths.sum())
        if total == 0:
            break
        offsets = np.repeat(starts[ready] - np.cumsum(lengths) + lengths, lengths)
        freed = dependants[offsets + np.arange(total)]
        met = np.bincount(freed, minlength=n)
        waiting -= met
        ready = np.flatnonzero((waiting == 0) & (met > 0))
        depth += 1
    return None if (level < 0).any() else level


def repeated(mean: Floats, var: Floats, count: Floats) -> tuple[Floats, Floats]:
    """Moments of the sum of ``count`` independent copies of a time of moments ``mean``,
    ``var`` (fractional: a mix of ⌊n⌋ and ⌈n⌉); zero for ``count <= 0``, infinite for an
    infinite time — the tape's repeat.

    Example:
        >>> m, v = repeated(np.array([2.0]), np.array([1.0]), np.array([1.5]))
        >>> float(m[0]), float(v[0])   # half 1 copy, half 2: E = 3, E[X²] = (5 + 18) / 2
        (3.0, 2.5)
    """
    k = np.floor(count)
    f = count - k
    with np.errstate(invalid="ignore"):
        second = ((1 - f) * (k * var + (k * mean) ** 2)
                  + f * ((k + 1) * var + ((k + 1) * mean) ** 2))
        new_mean = count * mean
        new_var = np.maximum(second - new_mean * new_mean, 0.0)
    infinite = np.isinf(mean)
    none = count <= 0
    return (np.where(none, 0.0, np.where(infinite, math.inf, new_mean)),
            np.where(none, 0.0, np.where(infinite, math.inf, new_var)))
