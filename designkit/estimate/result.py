"""The result of an estimate: per endpoint, per component, per station; JSON and tables."""

from __future__ import annotations

import gc
import html
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from designkit.errors import DesignkitError
from designkit.gcpause import gc_paused
from designkit.text import json_text

if TYPE_CHECKING:
    from designkit.estimate.assumptions import Assumption
    from designkit.estimate.capacity import RetryStorm
    from designkit.estimate.scenarios import Scenario
    from designkit.estimate.slo import SloCheck
    from designkit.estimate.uncertainty import Bands
    from designkit.flow.nodes import Flow
    from designkit.maths.distributions import Dist
    from designkit.model.design import Design

__all__ = ["Capacity", "ComponentEstimate", "Composed", "EndpointEstimate", "Estimate", "LazyTable",
           "NotFoundError", "Sampled", "StationEstimate", "Successes",
           "error_share", "success_p95"]

V = TypeVar("V")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


HUGE = 1e15
"""Beyond this a number is written with an exponent (``1e+306``), not 306 digits."""


def _num(value: float) -> str:
    """A rate or a count for a table: ``10,000``, ``85.5``, ``0.25``."""
    if math.isinf(value):
        return "∞"
    if value >= HUGE:
        return f"{value:.3g}"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _ms(value: float) -> str:
    if math.isinf(value):
        return "∞"
    if value >= HUGE:
        return f"{value:.3g}"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1 else f"{value:.3f}"


def _saturated(station: StationEstimate) -> str:
    """``SATURATED``, and how fast its queue grows when that is known."""
    growth = station.backlog_per_s
    return f"SATURATED (+{_num(growth)}/s)" if 0 < growth < math.inf else "SATURATED"


def _missed(check: SloCheck) -> str:
    """What an SLO check misses, in its numbers."""
    slo, out = check.slo, []
    if check.p95_met is False:
        out.append(f"p95 {_ms(check.p95_ms)} ms > {_ms(slo.p95_ms or 0.0)} ms")
    if check.p99_met is False:
        out.append(f"p99 {_ms(check.p99_ms)} ms > {_ms(slo.p99_ms or 0.0)} ms")
    if check.availability_met is False:
        used = check.error_budget_used
        budget = "spent" if used is None or math.isinf(used) else f"{used:.3g}× its budget"
        out.append(f"availability {check.availability:.4%} < {slo.availability:.4%} "
                   f"(errors {budget})")
    return "; ".join(out)


def error_share(ratio: float) -> str:
    """An error ratio: ``2.7%``, ``0.015%``, ``100%``; ``-`` for none."""
    if ratio <= 0:
        return "-"
    return f"{ratio * 100:.2g}%" if ratio < 0.1 else f"{ratio:.0%}"


def _grouped(assumed: Sequence[Assumption]) -> list[dict[str, Any]]:
    """The assumptions for JSON: one entry per setting, value and source, with the subjects
    that rely on it (a large design repeats the same few defaults thousands of times)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for a in assumed:
        setting = a.subject.rsplit(".", 1)[-1]
        groups.setdefault((setting, a.value, a.source), []).append(a.subject)
    return [{"setting": setting, "value": value, "source": source, "subjects": subjects}
            for (setting, value, source), subjects in groups.items()]


ASSUMED_SHOWN = 6
"""Defaults a text estimate names (the JSON lists them all, with their sources)."""


def success_p95(e: EndpointEstimate) -> str:
    """The p95 of an endpoint's successful requests as a table shows it: ``-`` when none
    fails (it is the p95), ``none`` when none succeeds."""
    if e.error_ratio <= 0:
        return "-"
    return "none" if e.success is None else _ms(e.success.p95_ms)


def _percent(ratio: float) -> str:
    """A utilization: ``86%``; ``∞`` when infinite; with an exponent when absurdly high."""
    if math.isinf(ratio):
        return "∞"
    if ratio * 100 >= HUGE:
        return f"{ratio * 100:.3g}%"
    return f"{ratio:.0%}"


@dataclass(frozen=True)
class Successes:
    """The latency (ms) of an endpoint's requests that succeed, when some fail: what a
    user who got an answer waited (a timed-out call is not among them; a call that
    succeeded on its second attempt is, with its first attempt and backoff).

    Example:
        >>> Successes(74.4, 64.6, 193.1, 228.6).to_dict()["p95_ms"]
        193.1
    """

    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready (``null`` for an infinite time)."""
        return {"mean_ms": _finite(self.mean_ms), "p50_ms": _finite(self.p50_ms),
                "p95_ms": _finite(self.p95_ms), "p99_ms": _finite(self.p99_ms)}


@dataclass(frozen=True)
class EndpointEstimate:
    """Rate, latency (ms) and errors of one endpoint; latencies are ``inf`` when saturated.

    ``error_ratio`` is the share of requests that fail (a third party's calls all failing,
    timing out or cut off by an open breaker, on the synchronous path), ``errors`` that
    share by cause — ``"timeout: NAME"``, ``"failure: NAME"``, ``"breaker: NAME"``
    (:mod:`designkit.estimate.errors`). ``lag_ms``, for a queue's handler only: how long
    its messages wait for a consumer, on average (``inf`` when the consumers cannot keep
    up: the backlog grows by the consumers' station's ``backlog_per_s``).

    The latencies are every request's, the failed ones included (a failed request runs
    its remaining steps: decision 39); ``success`` is the latency of the requests that
    succeed, given when some fail (``error_ratio > 0``) and some succeed (``None``
    otherwise: with no error it is the endpoint's own).

    Example:
        >>> e = EndpointEstimate(rps=90, mean_ms=166.9, p50_ms=132.9, p95_ms=436.1,
        ...                      p99_ms=625.0, saturated=False)
        >>> e.to_dict()["p95_ms"], e.to_dict()["error_ratio"]
        (436.1, 0.0)
    """

    rps: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    saturated: bool
    dist: Dist | None = field(default=None, repr=False, compare=False)
    sampled: Sampled | None = field(default=None, compare=False)
    error_ratio: float = 0.0
    errors: Mapping[str, float] = field(default_factory=dict)
    lag_ms: float | None = None
    success: Successes | None = None

    @classmethod
    def composing(cls, rps: float, mean_ms: float, saturated: bool,
                  compose: Callable[[], Composed], *, error_ratio: float = 0.0,
                  errors: Mapping[str, float] | None = None,
                  lag_ms: float | None = None) -> EndpointEstimate:
        """An endpoint whose rate, mean and errors are known and whose distribution —
        ``p50_ms``, ``p95_ms``, ``p99_ms``, ``dist``, ``success`` — is composed by
        ``compose`` when one of them is first read (composing costs far more than the
        mean: a 1,000-step chain read to its mean need not compose it). Equal, printed,
        pickled and copied like an endpoint given every number (reading them composes).

        Example:
            >>> calls = []
            >>> e = EndpointEstimate.composing(90, 166.9, False, lambda: calls.append(1)
            ...     or Composed(132.9, 436.1, 625.0, None, None))
            >>> e.mean_ms, len(calls), e.p95_ms, e.p99_ms, len(calls)
            (166.9, 0, 436.1, 625.0, 1)
        """
        made = cls.__new__(cls)
        for name, value in (("rps", rps), ("mean_ms", mean_ms), ("saturated", saturated),
                            ("sampled", None), ("error_ratio", error_ratio),
                            ("errors", {} if errors is None else errors),
                            ("lag_ms", lag_ms)):
            object.__setattr__(made, name, value)
        made.__dict__["_compose"] = compose
        return made

    def __getattr__(self, name: str) -> Any:
        # only reached for a field not set yet: one composed when first read
        compose = self.__dict__.get("_compose") if name in Composed._fields else None
        if compose is None:
            if name in self.__dict__:  # composed on another thread meanwhile
                return self.__dict__[name]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        composed = compose()
        for key, value in zip(Composed._fields, composed, strict=True):
            object.__setattr__(self, key, value)
        self.__dict__.pop("_compose", None)
        return getattr(composed, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return EndpointEstimate, tuple(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: a saturated endpoint has ``null`` latencies; a simulated one also
        its completions and 95 % confidence intervals; a queue's handler its
        ``lag_ms``; an endpoint with errors its successes' latency (``"success"``,
        ``null`` when none succeeds)."""
        out: dict[str, Any] = {"rps": _finite(self.rps), "mean_ms": _finite(self.mean_ms),
                               "p50_ms": _finite(self.p50_ms),
                               "p95_ms": _finite(self.p95_ms), "p99_ms": _finite(self.p99_ms),
                               "saturated": self.saturated, "error_ratio": self.error_ratio,
                               "errors": dict(self.errors)}
        if self.lag_ms is not None:
            out["lag_ms"] = _finite(self.lag_ms)
        if self.error_ratio > 0:
            out["success"] = None if self.success is None else self.success.to_dict()
        if self.sampled is not None:
            out.update(self.sampled.to_dict())
        return out


for _name in ("dist", "success"):  # no class default: a lazy endpoint composes them when
    delattr(EndpointEstimate, _name)  # read (``__getattr__``); ``__init__`` keeps defaults


class Composed(NamedTuple):
    """What composing an endpoint's latency distribution gives (see
    :meth:`EndpointEstimate.composing`)."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    dist: Dist | None
    success: Successes | None


@dataclass(frozen=True)
class Sampled:
    """How far a simulated endpoint's numbers can be trusted: requests completed while
    measuring, and 95 % confidence intervals of its mean and p95 (batch means: the
    completions split in time order into 20 batches, Student's t with 19 degrees of
    freedom; ``nan`` bounds with fewer than 20 completions).

    Example:
        >>> s = Sampled(40_000, (19.6, 20.4), (58.9, 61.1))
        >>> s.p95_half_width(60.0) < 0.02, s.to_dict()["completions"]
        (True, 40000)
    """

    completions: int
    mean_ci: tuple[float, float]
    p95_ci: tuple[float, float]

    def p95_half_width(self, p95: float) -> float:
        """Half the p95 interval, relative to ``p95`` (``inf`` when unknown)."""
        low, high = self.p95_ci
        if not (math.isfinite(low) and math.isfinite(high)) or p95 <= 0:
            return math.inf
        return (high - low) / 2.0 / p95

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (unknown bounds are ``null``)."""
        return {"completions": self.completions,
                "mean_ci_ms": [_finite(v) for v in self.mean_ci],
                "p95_ci_ms": [_finite(v) for v in self.p95_ci]}


class NotFoundError(DesignkitError, KeyError):
    """An estimate has no endpoint, component or station of this name; the message names
    the nearest.

    Example:
        >>> import designkit as dk
        >>> e = dk.estimate(dk.template("flash-sale"))
        >>> try:
        ...     e.endpoints["checkout-api GET /typo"]
        ... except KeyError as err:
        ...     print(str(err).split("; ")[1])
        did you mean 'checkout-api POST /v1/orders'?
    """

    def __str__(self) -> str:
        return str(self.args[0])


def _not_found(what: str, key: object, known: Iterable[str]) -> NotFoundError:
    from designkit.estimate.arguments import suggest

    hint = suggest(str(key), known) if isinstance(key, str) else ()
    text = f"no {what} {key!r}"
    if what == "endpoint":
        text += " has traffic in this estimate"
    if hint:
        text += f"; did you mean {', '.join(map(repr, hint))}?"
    return NotFoundError(text)


class LazyTable(Mapping[str, V]):
    """Results by name, each computed when first read.

    A large design has thousands of endpoints and components, and composing an endpoint's
    latency distribution costs far more than solving the queues: an estimate answers the
    bottleneck and the capacity at once, and an endpoint's percentiles or a component's
    stations when they are read (a report, the JSON or a table reads them all).

    A missing key raises :class:`NotFoundError` (a ``KeyError``) naming the nearest keys.
    Pickling computes every entry (what makes them is not kept). ``order``: the keys in the
    order to make them when every entry is read (:meth:`fill`) — an endpoint's callees
    before it, say, so that what they share can be freed as soon as every caller has it;
    the table's own order otherwise. ``complete``: what :meth:`fill` does to each entry
    once made (an endpoint's percentiles composed, in that order).

    Example:
        >>> t = LazyTable(["a GET /x"], lambda key: EndpointEstimate(1, 2, 2, 3, 4, False))
        >>> len(t), t["a GET /x"].p95_ms
        (1, 3)
    """

    def __init__(self, keys: Iterable[str], make: Callable[[str], V],
                 what: str = "entry", order: Iterable[str] | None = None,
                 complete: Callable[[V], object] | None = None) -> None:
        self._keys = dict.fromkeys(keys)
        self._make = make
        self._done: dict[str, V] = {}
        self._what = what
        self._order = list(order) if order is not None else None
        self._complete = complete

    def fill(self) -> LazyTable[V]:
        """Make every entry not made yet, in the table's making order; returns the table
        (a JSON, a report or a text table reads them all).

        Example:
            >>> made = []
            >>> t = LazyTable(["a", "b"], lambda k: made.append(k) or k, order=["b", "a"])
            >>> list(t.fill().items()), made
            ([('a', 'a'), ('b', 'b')], ['b', 'a'])
        """
        with gc_paused():  # (the entries are made, and completed, with it paused)
            for key in self._order if self._order is not None else self._keys:
                made = self[key]
                if self._complete is not None:
                    self._complete(made)
        return self

    def __getitem__(self, key: str) -> V:
        found = self._done.get(key)
        if found is None:
            if key not in self._keys:
                raise _not_found(self._what, key, self._keys)
            if not gc.isenabled():  # paused already (the command line): read on
                found = self._done[key] = self._make(key)
                return found
            with gc_paused():
                found = self._done[key] = self._make(key)
        return found

    def get(self, key: str, default: Any = None) -> Any:  # a miss needs no suggestion
        return self[key] if key in self._keys else default

    def __reduce__(self) -> tuple[Any, ...]:
        return _restored, (list(self._keys), {key: self[key] for key in self._keys}, self._what)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _filled(table: Mapping[str, V]) -> Mapping[str, V]:
    """``table`` with every entry made, in its making order when it is a lazy one."""
    return table.fill() if isinstance(table, LazyTable) else table


def _restored(keys: list[str], values: dict[str, V], what: str) -> LazyTable[V]:
    """A table whose every entry is computed (what unpickling a table gives)."""
    table: LazyTable[V] = LazyTable(keys, _missing, what)
    table._done = values
    return table


def _missing(key: str) -> Any:
    raise KeyError(key)  # pragma: no cover - every entry of a restored table is computed


@dataclass(frozen=True)
class StationEstimate:
    """One station: servers, load, queue.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=10).endpoint("GET /x", cpu_ms=100)
        >>> _ = d.set_load("api GET /x", 90)
        >>> s = dk.estimate(d).station("api workers")
        >>> (s.servers, round(s.utilization, 2), round(s.busy, 1))
        (10, 0.9, 9.0)

    Attributes:
        id: ``"<component> <role>"`` (``orders-db cpu``, ``orders-db pool checkout-api``).
        role: workers | cpu | pool | servers | partitions | lock | concurrency.
        servers: Servers in all (per copy × copies).
        arrival_rps: Arrivals per second.
        service_ms: Mean service — or holding — time.
        utilization: Busy fraction of the servers (≥ 1: saturated).
        busy: Servers busy on average (λ·S, Little's law): e.g. connections in use.
        wait_ms: Mean wait in queue.
        backlog_per_s: (property) How fast its queue grows when saturated.
    """

    id: str
    component: str
    role: str
    servers: int
    arrival_rps: float
    service_ms: float
    utilization: float
    busy: float
    wait_ms: float
    saturated: bool

    @property
    def headroom(self) -> float:
        """Unused share of capacity: 1 − utilization (0 when saturated)."""
        return max(0.0, 1.0 - self.utilization)

    @property
    def backlog_per_s(self) -> float:
        """How fast its queue grows, requests per second: arrivals beyond what its
        servers can take at their service time (0 unless saturated; ``inf`` when its
        service time is — a held station around a saturated one). A queue's consumers
        that cannot keep up lag by this many more messages every second.

        Example:
            >>> StationEstimate("q consumers", "q", "consumers", 4, 250.0, 20.0, 1.25, 5.0,
            ...                 float("inf"), True).backlog_per_s
            50.0
        """
        if not self.saturated or self.arrival_rps <= 0:
            return 0.0
        if not math.isfinite(self.service_ms) or self.service_ms <= 0:
            return math.inf
        return max(0.0, self.arrival_rps - self.servers * 1000.0 / self.service_ms)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no NaN or Infinity)."""
        return {"role": self.role, "servers": self.servers,
                "arrival_rps": _finite(self.arrival_rps),
                "service_ms": _finite(self.service_ms), "utilization": _finite(self.utilization),
                "busy": _finite(self.busy), "wait_ms": _finite(self.wait_ms),
                "headroom": self.headroom, "saturated": self.saturated,
                "backlog_per_s": _finite(self.backlog_per_s)}


@dataclass(frozen=True)
class ComponentEstimate:
    """A component: its arrivals and its most utilized station.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=10).endpoint("GET /x", cpu_ms=100)
        >>> _ = d.set_load("api GET /x", 90)
        >>> c = dk.estimate(d).components["api"]
        >>> (c.kind, c.arrival_rps, round(c.utilization, 2), list(c.stations))
        ('service', 90.0, 0.9, ['api workers'])
    """

    kind: str
    arrival_rps: float
    utilization: float
    saturated: bool
    stations: dict[str, StationEstimate]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (stations keyed by their id)."""
        return {"kind": self.kind, "arrival_rps": _finite(self.arrival_rps),
                "utilization": _finite(self.utilization), "saturated": self.saturated,
                "stations": {k: v.to_dict() for k, v in self.stations.items()}}


class Capacity(NamedTuple):
    """How far a part of the load can grow: the station that saturates first, its
    component, and the factor on the workload where it does (``inf``: never).

    Example:
        >>> import designkit as dk
        >>> e = dk.estimate(dk.template("flash-sale"))
        >>> e.background.station, round(e.background.max_scale, 2)
        ('order-events consumers', 1.73)
    """

    component: str | None
    station: str | None
    max_scale: float

    def to_dict(self) -> dict[str, Any]:
        """``{"bottleneck", "bottleneck_station", "max_scale"}`` as the JSON has them."""
        return {"bottleneck": self.component, "bottleneck_station": self.station,
                "max_scale": _finite(self.max_scale)}


class Capacities:
    """How far the load can grow — for the users' requests and for the background work —
    searched when first asked (:func:`designkit.estimate.api.capacities`): an estimate read
    only for its latencies (a what-if slider, a sizing loop) never pays for the search.

    Example:
        >>> Capacities(Capacity("db", "db cpu", 2.0)).get()
        (Capacity(component='db', station='db cpu', max_scale=2.0), None)
        >>> calls = []
        >>> lazy = Capacities(search=lambda: calls.append(1) or (Capacity(None, None, 1.0), None))
        >>> len(calls)
        0
        >>> lazy.get()[0].max_scale, lazy.get()[0].max_scale, len(calls)
        (1.0, 1.0, 1)
    """

    __slots__ = ("_found", "_search")

    def __init__(self, user: Capacity | None = None, background: Capacity | None = None,
                 search: Callable[[], tuple[Capacity, Capacity | None]] | None = None
                 ) -> None:
        if (user is None) == (search is None):
            raise ValueError("give the capacity or the search that finds it")
        self._found = None if user is None else (user, background)
        self._search = search

    def get(self) -> tuple[Capacity, Capacity | None]:
        """The users' capacity and the background's (``None``: no background work)."""
        found, search = self._found, self._search
        if found is None:  # (two threads may both search: the same answer, kept once)
            assert search is not None
            found = self._found = search()
            self._search = None  # what it kept (the program, the solution) may go
        return found

    def __getstate__(self) -> tuple[Capacity, Capacity | None]:
        return self.get()

    def __setstate__(self, state: tuple[Capacity, Capacity | None]) -> None:
        self._found, self._search = state, None


@dataclass(frozen=True)
class Estimate:
    """What a design does under a workload: latency per endpoint, load per component.

    Attributes:
        design: The design's name.
        scale: Factor applied to the workload.
        days: Days of table growth assumed.
        scenario: The scenario, in words.
        endpoints: Endpoints receiving traffic, by ``"svc METHOD /path"``.
        components: Every component, by name.
        bottleneck: The component that saturates first as the load grows, of those the
            users' requests wait for (queues' handlers are background: see
            ``background``).
        bottleneck_station: Its station.
        max_scale: The factor on the workload at which it saturates (``inf``: never).
        background: The same for the stations only queues' handlers load (their lag
            grows when one saturates, no request slows); ``None`` when there are none.
        retry_storms: Retried calls and the load their retries could cause.
        timeline: A simulation under a load profile: per endpoint, every measured
            request's arrival (seconds from the profile's start) and latency (ms), as two
            arrays; ``None`` otherwise.
        bands: With ``samples``: the spread of the numbers over the design's uncertain
            inputs (:class:`~designkit.estimate.uncertainty.Bands`); ``None`` otherwise.

    Example:
        >>> import designkit as dk
        >>> e = dk.estimate(dk.template("dashboard-slow"))
        >>> e.bottleneck, round(e.endpoints["dashboard-api GET /v1/dashboard"].mean_ms, -2)
        ('app-db', 7900.0)
    """

    design: str
    scale: float
    days: float
    scenario: str
    endpoints: Mapping[str, EndpointEstimate]
    components: Mapping[str, ComponentEstimate]
    capacity: Capacities = field(repr=False, compare=False)
    retry_storms: tuple[RetryStorm, ...] = ()
    utilization_max: float = 0.7
    timeline: Mapping[str, tuple[Any, Any]] | None = field(default=None, repr=False,
                                                            compare=False)
    bands: Bands | None = field(default=None, repr=False, compare=False)
    _source: Design | None = field(default=None, repr=False, compare=False)
    _scenario: Scenario | None = field(default=None, repr=False, compare=False)
    _flow: Flow | None = field(default=None, repr=False, compare=False)

    @property
    def bottleneck(self) -> str | None:
        """The component that saturates first as the load grows (of those the users'
        requests wait for); ``None`` when nothing is loaded."""
        return self.capacity.get()[0].component

    @property
    def bottleneck_station(self) -> str | None:
        """The bottleneck's station."""
        return self.capacity.get()[0].station

    @property
    def max_scale(self) -> float:
        """The factor on the workload at which the bottleneck saturates (``inf``: never;
        ``nan`` when the estimate was asked not to search)."""
        return self.capacity.get()[0].max_scale

    @property
    def background(self) -> Capacity | None:
        """The same for the stations only queues' handlers load; ``None`` when none."""
        return self.capacity.get()[1]

    @property
    def saturated(self) -> bool:
        """Some station is saturated at this load."""
        return any(c.saturated for c in self.components.values())

    def station(self, station_id: str) -> StationEstimate:
        """The station ``"<component> <role>"``.

        Raises:
            NotFoundError: No such station (a ``KeyError``; the message names the nearest).
        """
        for component in self.components.values():
            if station_id in component.stations:
                return component.stations[station_id]
        known = [s for c in self.components.values() for s in c.stations]
        raise _not_found("station", station_id, known)

    @property
    def slos(self) -> dict[str, SloCheck]:
        """Each endpoint with a service-level objective (its own, else the policy's
        default) against its estimate (:mod:`designkit.estimate.slo`); empty when the
        design states none. The policy's latency targets do not apply to a queue's handler
        or a scheduled job (nobody waits for them: their lag is judged instead), its
        availability does."""
        from designkit.estimate.slo import check_slo

        source = self._source
        if source is None:
            return {}
        default = source.policy.slo
        background = source.background_endpoints()
        out: dict[str, SloCheck] = {}
        for ref, endpoint in source.endpoints():
            key = str(ref)
            slo = endpoint.slo or (default if default is None or key not in background
                                   else default.model_copy(update={"p95_ms": None,
                                                                   "p99_ms": None}))
            if slo is None or key not in self.endpoints or slo == type(slo)():
                continue
            e = self.endpoints[key]
            out[key] = check_slo(key, slo, e.p95_ms, e.p99_ms, e.error_ratio)
        return out

    @cached_property
    def assumptions(self) -> list[Assumption]:
        """The defaults this estimate relies on: every setting that moves it which the
        design leaves out, with the value used and its source
        (:mod:`designkit.estimate.assumptions`); empty when the design states them all.
        Found once per estimate (the table, the JSON and the report all read it).

        Example:
            >>> import designkit as dk
            >>> [a.subject for a in dk.estimate(dk.template("flash-sale")).assumptions]
            ['components.order-read-db.row_ms']
        """
        from designkit.estimate.assumptions import assumptions

        return [] if self._source is None else assumptions(self._source, self.days,
                                                           self._flow)

    @property
    def beyond_measured(self) -> dict[str, tuple[float, float]]:
        """Endpoints loaded past the highest load their calibration measured: ``{endpoint:
        (factor, measured rps)}`` — their numbers extrapolate the measurements.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x")
            >>> _ = d.service("api", workers=4).endpoint("GET /x", cpu_ms=10)
            >>> _ = d.set_load("api GET /x", 300)
            >>> d.calibration = {"measured": {"api GET /x": 200}}
            >>> dk.estimate(d).beyond_measured
            {'api GET /x': (1.5, 200.0)}
        """
        calibration = self._source.calibration if self._source is not None else None
        if calibration is None:
            return {}
        out = {}
        for key, measured in calibration.measured.items():
            e = self.endpoints.get(key)
            if e is not None and e.rps > measured * (1 + 1e-3):  # (written to 4 digits)
                out[key] = (e.rps / measured if measured > 0 else math.inf, measured)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``designkit estimate --format json`` (no NaN/Infinity);
        ``"slos"`` when the design states any; ``"assumptions"``: the defaults it relies
        on, one entry per setting, value and source with the ``"subjects"`` that use it;
        ``"beyond_measured"`` when a calibrated endpoint is loaded past its measurements."""
        slos = self.slos
        beyond = self.beyond_measured
        return {
            "design": self.design,
            "scale": self.scale,
            "days": self.days,
            "scenario": self.scenario,
            "endpoints": {k: v.to_dict() for k, v in _filled(self.endpoints).items()},
            "components": {k: v.to_dict() for k, v in self.components.items()},
            "bottleneck": self.bottleneck,
            "bottleneck_station": self.bottleneck_station,
            "max_scale": _finite(self.max_scale),
            **({"background": self.background.to_dict()} if self.background else {}),
            "retry_storms": [
                {"caller": r.caller, "target": r.target, "station": r.station,
                 "utilization_now": _finite(r.utilization_now),
                 "utilization_retrying": _finite(r.utilization_retrying),
                 "max_attempts": r.max_attempts, "at_risk": r.at_risk}
                for r in self.retry_storms],
            **({"slos": {k: c.to_dict() for k, c in slos.items()}} if slos else {}),
            "assumptions": _grouped(self.assumptions),
            **({"beyond_measured": {k: {"factor": _finite(f), "measured_rps": m}
                                    for k, (f, m) in beyond.items()}} if beyond else {}),
            **({"bands": self.bands.to_dict()} if self.bands is not None else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (what ``json.dumps(…, indent=indent)`` writes)."""
        data = self.to_dict()
        if indent is None:
            return json.dumps(data, allow_nan=False)
        return json_text(data, indent)

    def curve(self, scales: Sequence[float], endpoints: Sequence[str] | None = None
              ) -> dict[str, list[float]]:
        """p95 (ms) of every endpoint (or of ``endpoints``) at each load scale: the
        throughput–latency curve. ``inf`` where the design saturates.
        """
        if self._source is None:
            raise ValueError("this estimate was built without its design")
        from designkit.estimate.api import p95_curve

        return p95_curve(self._source, self._scenario, self.days,
                         [scale * self.scale for scale in scales],
                         list(self.endpoints if endpoints is None else endpoints))

    # -- display -------------------------------------------------------------------------

    def _rows(self) -> tuple[list[list[str]], list[list[str]]]:
        endpoints = [[k, _num(e.rps), _ms(e.mean_ms), _ms(e.p50_ms), _ms(e.p95_ms),
                      _ms(e.p99_ms), "SATURATED" if e.saturated else ""]
                     for k, e in _filled(self.endpoints).items()]
        stations = [[s.id, c.kind, f"{s.servers:,}", _num(s.arrival_rps),
                     _ms(s.service_ms), _num(s.busy),
                     _percent(s.utilization),
                     _ms(s.wait_ms), _saturated(s) if s.saturated else ""]
                    for c in self.components.values() for s in c.stations.values()
                    if s.arrival_rps > 0]
        return endpoints, stations

    def _headline(self) -> str:
        scale = "∞" if math.isinf(self.max_scale) else f"{self.max_scale:.3g}×"
        where = (f"{self.bottleneck_station} saturates first at {scale} this load"
                 if self.bottleneck_station else "no station is loaded")
        days = f", tables after {self.days:g} days" if self.days else ""
        back = self.background
        if back is not None and back.station is not None:
            when = "∞" if math.isinf(back.max_scale) else f"{back.max_scale:.3g}×"
            where += f"; background: {back.station} at {when}"
        return (f"estimate of {self.design!r} at {self.scale:g}× workload "
                f"({self.scenario}{days}): {where}")

    def _idle(self) -> str | None:
        """What to say instead of two empty tables when no endpoint has traffic."""
        if self.endpoints:
            return None
        source = self._source
        example = next((str(ref) for ref, _ in source.endpoints()), None) if source else None
        example = example or "api GET /items"
        if source is not None and source.loaded:
            what = "its workload sends no requests (every rate is 0)"
        else:
            what = "it has no workload"
        return (f"nothing to estimate in {self.design!r}: {what}. Give requests per second "
                f"to an endpoint — in the file: workload: {{\"{example}\": 100}}, or in "
                f"Python: design.set_load(\"{example}\", 100)")

    def __str__(self) -> str:
        idle = self._idle()
        if idle is not None:
            return idle
        endpoints, stations = self._rows()
        header = ["endpoint", "rps", "mean ms", "p50 ms", "p95 ms", "p99 ms", ""]
        if any(e.error_ratio > 0 for e in self.endpoints.values()):  # errors beside latency
            header[6:6] = ["errors", "ok p95 ms"]
            for row, e in zip(endpoints, self.endpoints.values(), strict=True):
                row[6:6] = [error_share(e.error_ratio), success_p95(e)]
        parts = [self._headline(), "",
                 _table(header, endpoints), "",
                 _table(["station", "kind", "servers", "arrivals/s", "service ms", "busy",
                         "util", "wait ms", ""], stations)]
        slos = self.slos
        if slos:
            missed = [c for c in slos.values() if not c.met]
            parts += ["", f"SLOs: {len(slos) - len(missed)} of {len(slos)} met"]
            parts += [f"  {c.endpoint}: {_missed(c)}" for c in missed]
        assumed = self.assumptions
        if assumed:
            shown = ", ".join(f"{a.subject.removeprefix('components.')} {a.value}"
                              for a in assumed[:ASSUMED_SHOWN])
            more = f" and {len(assumed) - ASSUMED_SHOWN:,} more" \
                if len(assumed) > ASSUMED_SHOWN else ""
            parts += ["", f"relies on {len(assumed):,} default(s): {shown}{more} — state them, "
                          "or see their sources in --format json (\"assumptions\")"]
        parts += [f"\n{line}" for line in self._extrapolated()]
        if self.bands is not None:
            parts += ["", str(self.bands)]
        risky = [r for r in self.retry_storms if r.at_risk]
        if risky:
            parts += ["", "retry storms possible (every attempt used):"]
            parts += [f"  {r.caller} → {r.target}: {r.station} at "
                      f"{_percent(r.utilization_retrying)} (now {_percent(r.utilization_now)}, "
                      f"{r.max_attempts} attempts)" for r in risky]
        return "\n".join(parts)

    def _extrapolated(self) -> list[str]:
        """What to say of endpoints loaded past their measurements (one line)."""
        beyond = self.beyond_measured
        if not beyond:
            return []
        said = ", ".join(f"{k} at {f:.3g}× the {m:,.4g} rps measured"
                         for k, (f, m) in beyond.items())
        return [f"beyond the measurements: {said} — the calibrated times are extrapolated"]

    def __repr__(self) -> str:
        scale = "inf" if math.isinf(self.max_scale) else f"{self.max_scale:.3g}"
        return (f"Estimate({self.design!r}, scale={self.scale:g}, "
                f"endpoints={len(self.endpoints)}, bottleneck={self.bottleneck_station!r}, "
                f"max_scale={scale})")

    HTML_ROWS = 100
    """Rows per table in a notebook: a large design shows its first endpoints and its
    busiest stations, and says how many more the estimate holds."""

    def _repr_html_(self) -> str:
        esc = html.escape
        keys = list(self.endpoints)
        shown = {k: self.endpoints[k] for k in keys[:self.HTML_ROWS]}
        endpoints = [[k, _num(e.rps), _ms(e.mean_ms), _ms(e.p50_ms), _ms(e.p95_ms),
                      _ms(e.p99_ms), "SATURATED" if e.saturated else ""]
                     for k, e in shown.items()]
        loaded = [s for c in self.components.values() for s in c.stations.values()
                  if s.arrival_rps > 0]
        busiest = loaded if len(loaded) <= self.HTML_ROWS else sorted(
            loaded, key=lambda s: -s.utilization)[:self.HTML_ROWS]
        more = []
        if len(keys) > len(shown):
            more.append(f"the first {len(shown):,} of {len(keys):,} endpoints")
        if len(loaded) > len(busiest):
            more.append(f"the {len(busiest):,} busiest of {len(loaded):,} stations")
        note = (f"<p>Showing {' and '.join(more)}: <code>.endpoints</code> and "
                "<code>.components</code> hold them all.</p>" if more else "")

        def colour(u: float) -> str:
            if u >= 1 or math.isinf(u):
                return "background:#d62728;color:white"
            if u >= self.utilization_max:
                return "background:#ffbf47"
            return ""

        idle = self._idle()
        if idle is not None:
            return f"<div class='designkit-estimate'><p>{esc(idle)}</p></div>"
        head = f"<p><strong>{esc(self._headline())}</strong></p>"
        ep_rows = "".join("<tr>" + "".join(
            f"<td style='text-align:{'left' if i == 0 else 'right'}'>{esc(v)}</td>"
            for i, v in enumerate(row)) + "</tr>" for row in endpoints)
        st_rows = "".join(
            f"<tr><td>{esc(s.id)}</td><td>{s.servers:,}</td>"
            f"<td style='text-align:right'>{_num(s.arrival_rps)}</td>"
            f"<td style='text-align:right'>{esc(_ms(s.service_ms))}</td>"
            f"<td style='text-align:right;{colour(s.utilization)}'>"
            f"{_percent(s.utilization)}</td>"
            f"<td style='text-align:right'>{esc(_ms(s.wait_ms))}</td></tr>"
            for s in busiest)
        return (f"<div class='designkit-estimate'>{head}"
                "<table><tr><th>endpoint</th><th>rps</th><th>mean ms</th><th>p50 ms</th>"
                f"<th>p95 ms</th><th>p99 ms</th><th></th></tr>{ep_rows}</table>"
                "<table><tr><th>station</th><th>servers</th><th>arrivals/s</th>"
                "<th>service ms</th><th>utilization</th><th>wait ms</th></tr>"
                f"{st_rows}</table>{note}"
                + "".join(f"<p><strong>{esc(line)}</strong></p>"
                          for line in self._extrapolated()) +
                f"<p>utilization coloured above the policy's {self.utilization_max:.0%}; "
                "red = saturated</p></div>")


def _table(header: list[str], rows: list[list[str]]) -> str:
    if rows and not any(row[-1] for row in rows):  # no flags: drop the flag column
        header, rows = header[:-1], [row[:-1] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = []
    for r, row in enumerate([header, *rows]):
        cells = [(c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in
                 enumerate(zip(row, widths, strict=False))]
        lines.append("  ".join(cells).rstrip())
        if r == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
