"""The result of an estimate: per endpoint, per component, per station, and its JSON (its
tables: :mod:`designkit.estimate.result_text`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from designkit.estimate.lazy_table import (  # noqa: F401 - _restored: what pickles name
    LazyTable,
    NotFoundError,
    _filled,
    _not_found,
    _restored,
)
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
           "NotFoundError", "Sampled", "StationEstimate", "Successes"]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _grouped(assumed: Sequence[Assumption]) -> list[dict[str, Any]]:
    """The assumptions for JSON: one entry per setting, value and source, with the subjects
    that rely on it (a large design repeats the same few defaults thousands of times)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for a in assumed:
        setting = a.subject.rsplit(".", 1)[-1]
        groups.setdefault((setting, a.value, a.source), []).append(a.subject)
    return [{"setting": setting, "value": value, "source": source, "subjects": subjects}
            for (setting, value, source), subjects in groups.items()]


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

    # -- display (designkit.estimate.result_text) -----------------------------------------

    def __str__(self) -> str:
        from designkit.estimate.result_text import estimate_text

        return estimate_text(self)

    def __repr__(self) -> str:
        scale = "inf" if math.isinf(self.max_scale) else f"{self.max_scale:.3g}"
        return (f"Estimate({self.design!r}, scale={self.scale:g}, "
                f"endpoints={len(self.endpoints)}, bottleneck={self.bottleneck_station!r}, "
                f"max_scale={scale})")

    HTML_ROWS = 100
    """Rows per table in a notebook: a large design shows its first endpoints and its
    busiest stations, and says how many more the estimate holds."""

    def _repr_html_(self) -> str:
        from designkit.estimate.result_text import estimate_html

        return estimate_html(self)
