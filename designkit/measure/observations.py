"""What a load test or a trace measured, per endpoint (or span name) and run.

An :class:`Observation` is one name during one run (one load level): its throughput, how
many requests there were and how many failed, and the latency of the successful ones.
:class:`Measurements` holds the observations of one or more files; ``+`` combines them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from designkit.errors import Problem
from designkit.measure.errors import MeasurementError

__all__ = ["KINDS", "Measurements", "Observation"]

KINDS = ("endpoint", "span")
"""The kinds of observation: a request to an endpoint, or a span inside one."""


@dataclass(frozen=True)
class Observation:
    """What was measured of one endpoint (or one span name) during one run (one load level).

    Attributes:
        name: As the source names it: ``"GET /products/42"``, a Locust or JMeter label, a
            k6 ``name`` tag, a span name.
        kind: ``"endpoint"`` or ``"span"``.
        run: Label of the run it belongs to (by default the file's stem; a plain CSV's
            optional ``run`` column).
        rate_rps: Throughput of this name during the run, requests per second, errors
            included. From a source that lists each request: the run's ``n`` requests
            (all names) starting from ``t_1`` to ``t_n`` make ``(n - 1) / (t_n - t_1)``,
            shared among the names in proportion to their counts; ``nan`` for a run with
            fewer than two distinct start times. From a summary: the tool's own rate.
        count: Requests (or spans) measured, errors included.
        errors: Of which failed.
        mean_ms: Mean latency of the successful ones (``nan`` if none).
        p50_ms: Median latency of the successful ones (``None`` if unknown).
        p95_ms: 95th percentile (``None`` if unknown).
        p99_ms: 99th percentile (``None`` if unknown).
        samples_ms: Every successful latency, when the source has each one.
        attributes: Spans: ``service.name``, ``peer.service``, ``db.system``,
            ``server.address``, ``http.route``, ``parent`` (the parent span's name)…;
            endpoints: ``method``/``url`` when the source has them.
        source: Where it came from: ``path/file.csv:2`` (the first line of its rows) or
            ``file.json: /json/pointer``.

    Example:
        >>> o = Observation("GET /x", "endpoint", "low", 9.5, 20, 1, 12.0, 11.0, 30.0, 41.0)
        >>> o.errors / o.count
        0.05
        >>> o.run, o.rate_rps, o.p95_ms, o.samples_ms
        ('low', 9.5, 30.0, ())
    """

    name: str
    kind: str
    run: str
    rate_rps: float
    count: int
    errors: int
    mean_ms: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    samples_ms: tuple[float, ...] = field(default=(), repr=False)
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    source: str = ""

    def __post_init__(self) -> None:
        wrong = []
        if self.kind not in KINDS:
            wrong.append(f"kind {self.kind!r} is not 'endpoint' or 'span'")
        if not 0 <= self.errors <= self.count:
            wrong.append(f"errors {self.errors} not within 0..count ({self.count})")
        if wrong:
            where = self.source or f"{self.run}/{self.name}"
            raise MeasurementError([Problem(where, w) for w in wrong], where)


@dataclass(frozen=True)
class Measurements:
    """The observations read from one or more files; ``a + b`` combines two.

    Each (run, kind, name) appears once: combining two files that both hold the same run
    and name raises :class:`MeasurementError` (give their runs distinct labels).

    Attributes:
        observations: In the order of the files, then of first appearance in each.

    Example:
        >>> low = Observation("GET /x", "endpoint", "low", 10.0, 100, 0, 12.0, 11.0, 20.0, 25.0)
        >>> high = Observation("GET /x", "endpoint", "high", 50.0, 500, 4, 19.0, 15.0, 44.0, 80.0)
        >>> m = Measurements((low,)) + Measurements((high,))
        >>> m.runs(), [o.rate_rps for o in m.endpoints()]
        (('low', 'high'), [10.0, 50.0])
        >>> m.table()[1]["p95_ms"]
        44.0
    """

    observations: tuple[Observation, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "observations", tuple(self.observations))
        first: dict[tuple[str, str, str], Observation] = {}
        problems = []
        for o in self.observations:
            key = (o.run, o.kind, o.name)
            if key in first:
                problems.append(Problem(
                    o.source or "measurements",
                    f"run {o.run!r} already has {o.kind} {o.name!r} (from "
                    f"{first[key].source or 'another source'}): give the runs distinct "
                    "labels (rename a file, or use a `run` column)"))
            else:
                first[key] = o
        if problems:
            raise MeasurementError(problems, "measurements")

    def endpoints(self) -> tuple[Observation, ...]:
        """The observations of endpoints (``kind == "endpoint"``)."""
        return tuple(o for o in self.observations if o.kind == "endpoint")

    def spans(self) -> tuple[Observation, ...]:
        """The observations of spans inside endpoints (``kind == "span"``)."""
        return tuple(o for o in self.observations if o.kind == "span")

    def runs(self) -> tuple[str, ...]:
        """The run labels, in order of first appearance."""
        return tuple(dict.fromkeys(o.run for o in self.observations))

    def table(self) -> list[dict[str, object]]:
        """One row per observation with every field but the samples (for printing or
        ``pandas.DataFrame``); ``attributes`` is a plain dict."""
        return [{"run": o.run, "kind": o.kind, "name": o.name, "rate_rps": o.rate_rps,
                 "count": o.count, "errors": o.errors, "mean_ms": o.mean_ms,
                 "p50_ms": o.p50_ms, "p95_ms": o.p95_ms, "p99_ms": o.p99_ms,
                 "attributes": dict(o.attributes), "source": o.source}
                for o in self.observations]

    def __add__(self, other: object) -> Measurements:
        if not isinstance(other, Measurements):
            return NotImplemented
        return Measurements(self.observations + other.observations)

    def __repr__(self) -> str:
        count = len(self.observations)
        return (f"Measurements({count} observation{'s' if count != 1 else ''}, "
                f"runs={self.runs()!r})")
