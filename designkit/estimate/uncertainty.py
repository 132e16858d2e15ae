"""Bands of an estimate over a design's uncertain numbers: ``dk.estimate(design, samples=…)``.

A design may state a hit ratio, a table's rows or a request rate as a range or a
distribution (:mod:`designkit.model.uncertain`). The estimate then draws ``samples`` sets of
values (independently, from ``seed``), solves every set as one column of the same tape
(:mod:`designkit.estimate.columns`) — one solution for all of them, not one per set — and
searches every column's capacity together (:func:`~designkit.estimate.capacity.
column_max_scale`). Each column is the solution a design holding that set's values gets:
the bands are those of a loop over such designs, without the loop.

Endpoint percentiles need each set's latency distribution composed on its grid; they are
composed when first read, every endpoint at once, the sets as columns too (16 at a time:
:func:`~designkit.estimate.latency.endpoint_latencies`).

Table rows change query plans, not only numbers: a design with uncertain rows is solved
one set at a time (the same values, the same bands, slower).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast, get_args

import numpy as np
from numpy.typing import NDArray

from designkit.errors import DesignError, Problem
from designkit.estimate.arguments import ArgumentError
from designkit.estimate.background import background_stations
from designkit.estimate.capacity import column_max_scale
from designkit.estimate.columns import Columns, columns_of
from designkit.estimate.latency import forked_paths
from designkit.estimate.program import Program
from designkit.estimate.solve import Solution, Trials, trials
from designkit.estimate.tape import tape_of
from designkit.flow.nodes import CacheRead, Node, Seq, children, walk
from designkit.model.uncertain import LIMITS, Uncertain, holds, kind_of, locate, parse_path

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["Band", "Bands", "EndpointBands", "draw", "with_values"]

Floats = NDArray[np.float64]

MAX_SAMPLES = 1_000_000
"""Most sets of values one estimate draws."""



@dataclass(frozen=True)
class Band:
    """The spread of one number over the samples: its 5th, 50th and 95th percentiles.

    Attributes:
        p5: 5 % of the samples are below.
        p50: The median sample.
        p95: 95 % of the samples are below.
        values: Every sample's value, in the order drawn (``inf``: saturated).

    Example:
        >>> b = Band.of(np.arange(101.0))
        >>> b.p5, b.p50, b.p95
        (5.0, 50.0, 95.0)
    """

    p5: float
    p50: float
    p95: float
    values: Floats = field(repr=False, compare=False)

    @classmethod
    def of(cls, values: Floats) -> Band:
        """The band of ``values`` (percentiles by linear interpolation; an infinite value
        counts as above every finite one)."""
        data = np.asarray(values, dtype=float)
        if not len(data):
            return cls(math.nan, math.nan, math.nan, data)
        ordered = np.sort(data)
        p5, p50, p95 = (_quantile(ordered, q) for q in (0.05, 0.5, 0.95))
        return cls(p5, p50, p95, data)

    def __str__(self) -> str:
        return f"{_num(self.p50)} ({_num(self.p5)}–{_num(self.p95)})"

    def to_dict(self) -> dict[str, float | None]:
        """``{p5, p50, p95}``, ``None`` for an infinite value (JSON has none)."""
        return {"p5": _finite(self.p5), "p50": _finite(self.p50), "p95": _finite(self.p95)}


def _quantile(ordered: Floats, q: float) -> float:
    """Linear interpolation between order statistics (numpy's default), with ``inf``
    kept as ``inf`` (never ``inf − inf``)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    a, b = float(ordered[low]), float(ordered[high])
    if math.isinf(a) or math.isinf(b) or a == b:
        return b if position > low else a
    return a + (b - a) * (position - low)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _num(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.4g}"


@dataclass(frozen=True)
class EndpointBands:
    """One endpoint's numbers over the samples (its percentiles composed when first read;
    its mean too when parallel branches are on its way: the grid's, as the estimate's)."""

    name: str
    _mean: Band | None = field(repr=False)
    _percentiles: Callable[[], tuple[Band, Band, Band, Band]] = field(repr=False,
                                                                      compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its percentiles composed (what composes them stays here)."""
        return (EndpointBands, (self.name, self._mean, _Known(self._percentiles())))

    @property
    def mean_ms(self) -> Band:
        """The band of its mean time."""
        return self._mean if self._mean is not None else self._percentiles()[3]

    @property
    def p50_ms(self) -> Band:
        """The band of its median."""
        return self._percentiles()[0]

    @property
    def p95_ms(self) -> Band:
        """The band of its 95th percentile."""
        return self._percentiles()[1]

    @property
    def p99_ms(self) -> Band:
        """The band of its 99th percentile."""
        return self._percentiles()[2]


@dataclass(frozen=True)
class _Known:
    """Percentile bands already composed (a pickled :class:`EndpointBands`'s)."""

    bands: tuple[Band, Band, Band, Band]

    def __call__(self) -> tuple[Band, Band, Band, Band]:
        return self.bands


@dataclass
class Bands:
    """An estimate's numbers over samples of the design's uncertain numbers.

    Attributes:
        samples: Sets of values drawn.
        seed: The seed they were drawn from.
        inputs: Every uncertain number's drawn values, by its path in the design.
        max_scale: The band of how far the workload can grow.
        bottlenecks: How often each station is the bottleneck (share of the samples).
        utilization: Per component, the band of its busiest station's utilization.
        endpoints: Per loaded endpoint, its bands (:class:`EndpointBands`).

    Example:
        >>> import designkit as dk
        >>> d = dk.load({"designkit": 1, "name": "x", "components": {"api": {
        ...     "kind": "service", "workers": 1, "endpoints": {"GET /x": {"cpu_ms": 10}}}},
        ...     "workload": {"api GET /x": {"low": 40, "high": 60}}})
        >>> b = dk.estimate(d, samples=100, seed=3).bands
        >>> print(b.max_scale)   # one server of 10 ms: 100 rps over each sample's rate
        1.961 (1.705–2.397)
        >>> rates = b.inputs['workload."api GET /x"']
        >>> bool(np.allclose(b.max_scale.values, 100 / rates, rtol=1e-3))
        True
        >>> sorted(b.bottlenecks.items())
        [('api workers', 1.0)]
    """

    samples: int
    seed: int | None
    inputs: dict[str, Floats]
    max_scale: Band
    bottlenecks: dict[str, float]
    utilization: dict[str, Band]
    endpoints: Mapping[str, EndpointBands]

    def table(self) -> list[dict[str, Any]]:
        """One row per number: what, p5, p50, p95."""
        rows: list[dict[str, Any]] = [{"number": "max_scale", **self.max_scale.to_dict()}]
        for name, band in self.endpoints.items():
            rows.append({"number": f"{name} p95_ms", **band.p95_ms.to_dict()})
        for name, util in self.utilization.items():
            rows.append({"number": f"{name} utilization", **util.to_dict()})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The bands as plain data (JSON-ready)."""
        return {
            "samples": self.samples, "seed": self.seed,
            "inputs": {k: Band.of(v).to_dict() for k, v in self.inputs.items()},
            "max_scale": self.max_scale.to_dict(),
            "bottlenecks": dict(self.bottlenecks),
            "utilization": {k: v.to_dict() for k, v in self.utilization.items()},
            "endpoints": {k: {"mean_ms": v.mean_ms.to_dict(), "p50_ms": v.p50_ms.to_dict(),
                              "p95_ms": v.p95_ms.to_dict(), "p99_ms": v.p99_ms.to_dict()}
                          for k, v in self.endpoints.items()},
        }

    def __str__(self) -> str:
        lines = [f"over {self.samples:,} samples of {len(self.inputs)} uncertain "
                 f"number{'s' if len(self.inputs) != 1 else ''} (p50, p5–p95):"]
        for path, values in self.inputs.items():
            lines.append(f"  {path}: {Band.of(values)}")
        lines.append(f"  max_scale: {self.max_scale}")
        if self.bottlenecks:
            shares = ", ".join(f"{name} {share:.0%}" for name, share in sorted(
                self.bottlenecks.items(), key=lambda item: -item[1]))
            lines.append(f"  bottleneck: {shares}")
        for name, band in self.endpoints.items():
            lines.append(f"  {name} p95: {band.p95_ms} ms")
        for name, util in self.utilization.items():
            if util.p95 > 0:
                lines.append(f"  {name} utilization: {util}")
        return "\n".join(lines)


def draw(uncertain: Mapping[str, Uncertain], samples: int, seed: int | None
         ) -> dict[str, Floats]:
    """``samples`` independent draws of every uncertain number, in the order of their
    paths (so a design gets the same draws whatever order it lists them in).

    Example:
        >>> from designkit.model.uncertain import Uncertain
        >>> drawn = draw({"b": Uncertain(low=0, high=1), "a": Uncertain(low=5, high=6)}, 3, 1)
        >>> list(drawn), [round(float(v), 3) for v in drawn["a"]]
        (['a', 'b'], [5.512, 5.95, 5.144])
    """
    rng = np.random.default_rng(seed)
    drawn = {}
    for path in sorted(uncertain):
        kind = kind_of(parse_path(path))
        drawn[path] = uncertain[path].draw(rng, samples, LIMITS[kind] if kind else math.inf)
    for path, values in drawn.items():
        if parse_path(path)[-1] == "rows":  # whole rows, as the design holds them
            drawn[path] = np.round(values)
    return drawn


def with_values(design: Design, values: Mapping[str, float]) -> Design:
    """A copy of ``design`` holding ``values`` (by path) in place of its uncertain
    numbers (rows rounded to whole rows); the others stay uncertain.

    Example:
        >>> import designkit as dk
        >>> d = dk.load({"designkit": 1, "name": "x", "components": {"c": {
        ...     "kind": "cache", "hit_ratio": {"low": 0.5, "high": 0.7}}}})
        >>> one = with_values(d, {"components.c.hit_ratio": 0.55})
        >>> one.components["c"].hit_ratio, dict(one.uncertain)
        (0.55, {})
    """
    from designkit.model.design import Design
    from designkit.model.io import to_data

    data = to_data(design)
    for path, value in values.items():
        parts = parse_path(path)
        owner, last = locate(data, parts)
        owner[last] = round(value) if kind_of(parts) == "rows" else float(value)
    return Design.model_validate(data)


def estimate_bands(design: Design, source: Design, program: Program,
                   load: dict[str, float], total_scale: float, samples: int,
                   seed: int | None, capacity: bool = True, days: float = 0.0,
                   given_workload: bool = False) -> Bands:
    """The bands of ``samples`` draws of ``design``'s uncertain numbers (``source``: the
    design under the scenario, compiled as ``program``; ``load`` its workload at scale 1;
    ``given_workload``: the caller's workload replaces the design's, whose uncertain rates
    are then not drawn). A number the scenario sets (a cold cache's hit ratio) keeps the
    scenario's value: it is not drawn.

    Raises:
        ArgumentError: ``samples`` or ``seed`` is not a whole number in range, or the
            design states no range.
        DesignError: A range whose number was changed since it was stated (it is not
            the range's middle any more), or one the design has no number for.
    """
    samples = _whole("samples", samples, 1, MAX_SAMPLES)
    seed = None if seed is None else _whole("seed", seed, 0, 2**63 - 1)
    if program.slowdown is not None:
        raise DesignError([Problem("calibration", "samples of uncertain numbers are not "
                                   "drawn for a design with a calibrated slowdown yet; "
                                   "estimate it without samples, or set slowdown to 0")])
    stale = [Problem(path, f"no longer holds the middle of its range ({u.describe()}): "
                           "it was changed since; vary it again, or remove the range by "
                           "giving the number again in the file")
             for path, u in design.uncertain.items() if not holds(design, path, u)]
    if stale:
        raise DesignError(stale)
    uncertain = {p: u for p, u in design.uncertain.items()
                 if not (given_workload and parse_path(p)[0] == "workload")
                 and holds(source, p, u)}  # (what the scenario sets is not drawn)
    if not uncertain:
        raise ArgumentError(
            "samples: the design states no range to draw from; write one in place of a "
            "number — hit_ratio: {low: 0.8, high: 0.95}, rows: {p50: …, p95: …}, a "
            "workload rate {low: …, high: …} — or design.vary(path, low=…, high=…) "
            "(docs/uncertainty.md)" + (" (the workload given, or the scenario, replaces "
                                       "the design's ranges)" if design.uncertain else ""))
    drawn = draw(uncertain, samples, seed)
    if any(parse_path(p)[-1] == "rows" for p in drawn):
        return _looped(source, drawn, load if given_workload else None, total_scale, days,
                       samples, seed, capacity)
    tape = tape_of(program)
    nominal = tape.nominal if tape.nominal is not None else np.zeros(0)
    values = np.repeat(nominal[:, None], samples, axis=1)
    used: set[str] = set()
    for t, tag in enumerate(tape.tags):
        if tag in drawn:
            values[t] = drawn[tag]
            used.add(tag)
    direct = np.zeros((len(program.endpoints), samples))
    for name, rps in load.items():
        direct[program.index[name]] += rps
    for path, sampled in drawn.items():
        parts = parse_path(path)
        if parts[0] == "workload" and str(parts[1]) in program.index:
            direct[program.index[str(parts[1])]] += sampled - design.uncertain[path].nominal
            used.add(path)
    idle = sorted(set(drawn) - used)
    if idle:  # a range nothing reads (a cache's own ratio every step overrides)
        raise DesignError([Problem(path, "no step reads this number (a cache step with its "
                                         "own hit_ratio overrides the cache's): its range "
                                         "cannot move anything; state it where it is read")
                           for path in idle])
    columns = columns_of(program, load, direct, values)
    solved = trials(program, load, np.full(samples, total_scale), columns=columns)
    return _bands(program, load, total_scale, columns, solved, drawn, samples, seed, capacity)


def _whole(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as a whole number from ``low`` to ``high`` (numpy's too), or a located
    error."""
    import operator

    try:
        whole = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        whole = None
    if whole is None or not low <= whole <= high:
        raise ArgumentError(f"{name} must be a whole number from {low:,} to {high:,}, got "
                            f"{value!r}")
    return int(whole)


def _bands(program: Program, load: dict[str, float], total_scale: float, columns: Columns,
           solved: Trials, drawn: dict[str, Floats], samples: int, seed: int | None,
           capacity: bool) -> Bands:
    if capacity:
        background = background_stations(program, load)
        caps, worst = column_max_scale(program, load, columns, ~background)
        with np.errstate(invalid="ignore"):
            caps = np.where(np.isfinite(caps), caps / total_scale, caps)
    else:
        caps, worst = np.full(samples, math.nan), np.full(samples, -1)
    named = [program.stations[w].id if w >= 0 else None for w in worst.tolist()]
    bottlenecks = _shares(named, samples)
    by_component: dict[str, list[int]] = {}
    for i, spec in enumerate(program.stations):
        by_component.setdefault(spec.component, []).append(i)
    utilization = {name: Band.of(solved.utilization[rows].max(axis=0))
                   for name, rows in by_component.items()}
    forks = forked_paths(program)
    indexes = [i for i in range(len(program.endpoints)) if (columns.rate[i] > 0).any()]
    percentiles = _Percentiles(program, load, total_scale, columns, solved, indexes)
    endpoints = {str(program.endpoints[i].ref): EndpointBands(
        str(program.endpoints[i].ref),
        None if forks[i] else Band.of(solved.endpoint_mean[i]), percentiles.of(i))
        for i in indexes}
    return Bands(samples, seed, drawn, Band.of(caps), bottlenecks, utilization, endpoints)


def _shares(named: list[str | None], samples: int) -> dict[str, float]:
    """How often each station is the bottleneck, as a share of the samples."""
    counts: dict[str, int] = {}
    for name in named:
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return {name: count / samples for name, count in sorted(counts.items())}


class _Percentiles:
    """Each sample's endpoint percentiles, composed on its own grid when the first is
    asked: the sample's solution (its column) on the program holding its values, every
    endpoint of it at once (callees first, as :meth:`LazyTable.fill`), one sample at a time
    — each sample's callees composed once for all their callers, and no sample's
    distributions kept once its numbers are read."""

    def __init__(self, program: Program, load: dict[str, float], total_scale: float,
                 columns: Columns, solved: Trials, indexes: list[int]) -> None:
        self.program = program
        self.load = load
        self.scale = total_scale
        self.columns = columns
        self.solved = solved
        self.indexes = indexes
        self.rows: dict[int, Floats] = {}
        self.lock = threading.Lock()
        self.valuer: _Valuer | None = None

    def of(self, index: int) -> Callable[[], tuple[Band, Band, Band, Band]]:
        found: list[tuple[Band, Band, Band, Band]] = []

        def compute() -> tuple[Band, Band, Band, Band]:
            if not found:
                rows = self.every()[index]
                found.append((Band.of(rows[0]), Band.of(rows[1]), Band.of(rows[2]),
                              Band.of(rows[3])))
            return found[0]
        return compute

    def every(self) -> dict[int, Floats]:
        """p50, p95, p99 and mean (rows) of every endpoint with bands, every sample
        (columns); composed once."""
        from designkit.estimate.latency import (
            callees,
            column_groups,
            endpoint_latencies,
            released,
        )
        from designkit.gcpause import gc_paused

        with self.lock:
            if self.rows:
                return self.rows
            count = self.columns.count
            rows = {i: np.empty((4, count)) for i in self.indexes}
            wanted = set(self.indexes)
            order = [i for i in reversed(self.program.order) if i in wanted]
            callees(self.program)  # (the samples' programs share the nominal one's)
            groups = column_groups(count) if self.columnwise else (
                (k, k + 1) for k in range(count))
            with gc_paused():
                for start, stop in groups:
                    solution = self.solution(start, stop)
                    for i in order:
                        rows[i][:, start:stop] = endpoint_latencies(solution, i)
                    released(solution)  # (the collector is paused: no cycle left behind)
            self.rows = rows
            return rows

    @functools.cached_property
    def columnwise(self) -> bool:
        """Whether samples can be composed together, as columns of the nominal program:
        unless a sampled hit ratio moves how often something fails (a cache read whose
        miss path can fail: then each sample's program holds its own ratios)."""
        from designkit.estimate.errors import errors_of, node_errors

        tags = set(tape_of(self.program).tags)
        errors = errors_of(self.program)
        return not any(isinstance(node, CacheRead) and node.tag in tags
                       and node_errors(node.miss, errors).ratio > 0
                       for ep in self.program.endpoints for node in walk(ep.steps))

    def solution(self, start: int, stop: int) -> Solution:
        """Samples ``start`` to ``stop`` (excluded) as the columns of one solution (made
        anew: what it composes is dropped with it); one sample at a time on the program
        holding its values when they cannot be columns (:meth:`columnwise`)."""
        from designkit.estimate.solve import flows_of

        nominal = flows_of(self.program, self.load)
        trial = self.solved.span(start, stop)
        if not self.columnwise:
            return Solution(self.sampled(start), self.scale, trial,
                            self.columns.flows(nominal, start))
        tags = tape_of(self.program).tags
        return Solution(self.program, self.scale, trial, nominal,
                        hits={tag: self.columns.values[t, start:stop]
                              for t, tag in enumerate(tags)},
                        rates=self.columns.rate[:, start:stop])

    def sampled(self, k: int) -> Program:
        """The program with column ``k``'s values in its cache reads (what else it keeps
        is the nominal program's: the same structure)."""
        tape = tape_of(self.program)
        values = {tag: float(self.columns.values[t, k]) for t, tag in enumerate(tape.tags)}
        if not values:
            return self.program
        flow = self.program.flow
        if self.valuer is None:
            self.valuer = _Valuer(frozenset(values))
        valued = self.valuer.valued
        endpoints = tuple(replace(ep, steps=cast(Seq, valued(ep.steps, values)))
                          if self.valuer.tagged(ep.steps) else ep for ep in flow.endpoints)
        program = Program(replace(flow, endpoints=endpoints), tape=tape,
                          forks=self.program.forks, callees=self.program.callees,
                          by_component=self.program.by_component,
                          spectra=self.program.spectra)
        return program


class _Valuer:
    """Puts a sample's values into the cache reads whose hit ratio is uncertain
    (``tags``): the nodes above them rebuilt, every other node the same object (which
    nodes hold such a read is found once, by identity, for all the samples)."""

    def __init__(self, tags: frozenset[str]) -> None:
        self.tags = tags
        self.holds: dict[int, bool] = {}  # id(node) -> a tagged read lies under it

    def tagged(self, node: Node) -> bool:
        found = self.holds.get(id(node))
        if found is None:
            found = (isinstance(node, CacheRead) and node.tag in self.tags) or any(
                [self.tagged(child) for child in children(node)])
            self.holds[id(node)] = found
        return found

    def valued(self, node: Node, values: Mapping[str, float]) -> Node:
        """``node`` with the cache reads whose hit ratio is uncertain holding ``values``
        (the same object where nothing under it changes)."""
        if not self.tagged(node):
            return node
        if isinstance(node, CacheRead) and node.tag is not None and node.tag in values:
            return replace(node, hit=values[node.tag], miss=self.valued(node.miss, values))
        changes: dict[str, Any] = {}
        for name in _node_fields(type(node)):
            value = getattr(node, name)
            if isinstance(value, tuple):
                items = tuple(self.valued(v, values) if _is_node(v) else v for v in value)
                if any(a is not b for a, b in zip(items, value, strict=True)):
                    changes[name] = items
            elif _is_node(value):
                new = self.valued(value, values)
                if new is not value:
                    changes[name] = new
        return replace(node, **changes) if changes else node


_FIELDS: dict[type, tuple[str, ...]] = {}


def _node_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node class (a dataclass), by name (found once per class)."""
    found = _FIELDS.get(kind)
    if found is None:
        from dataclasses import fields

        found = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    return found


_NODES = get_args(Node)


def _is_node(value: object) -> bool:
    return isinstance(value, _NODES)


def _looped(design: Design, drawn: dict[str, Floats], workload: dict[str, float] | None,
            total_scale: float, days: float, samples: int, seed: int | None,
            capacity: bool) -> Bands:
    """The bands one design per set of values (uncertain rows change query plans)."""
    from designkit.estimate.api import estimate_with

    caps = np.empty(samples)
    means: dict[str, list[float]] = {}
    p: dict[str, list[tuple[float, float, float]]] = {}
    utilization: dict[str, list[float]] = {}
    named: list[str | None] = []
    for k in range(samples):
        one = with_values(design, {path: float(v[k]) for path, v in drawn.items()})
        result = estimate_with(one, workload, days=days, scale=total_scale,
                               capacity=capacity)
        caps[k] = result.max_scale
        named.append(result.bottleneck_station)
        for name, ep in result.endpoints.items():
            means.setdefault(name, []).append(ep.mean_ms)
            p.setdefault(name, []).append((ep.p50_ms, ep.p95_ms, ep.p99_ms))
        for name, component in result.components.items():
            utilization.setdefault(name, []).append(component.utilization)

    def fixed(rows: list[tuple[float, float, float]], mean: list[float]) -> _Known:
        data = np.array(rows, dtype=float)
        return _Known((Band.of(data[:, 0]), Band.of(data[:, 1]), Band.of(data[:, 2]),
                       Band.of(np.array(mean))))

    return Bands(samples, seed, drawn, Band.of(caps), _shares(named, samples),
                 {k: Band.of(np.array(v)) for k, v in utilization.items()},
                 {k: EndpointBands(k, Band.of(np.array(means[k])), fixed(p[k], means[k]))
                  for k in means})


def iter_bands(bands: Bands) -> Iterator[tuple[str, Band]]:
    """Every band of ``bands`` with its name, for tables and plots."""
    yield "max_scale", bands.max_scale
    for name, ep in bands.endpoints.items():
        yield f"{name} p95_ms", ep.p95_ms
    for name, util in bands.utilization.items():
        yield f"{name} utilization", util
