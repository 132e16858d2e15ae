"""Which assumption moves a number most: ``dk.sensitivity(design, metric=…, endpoint=…)``.

Each input is moved to a low and a high value, one at a time, the others left as the design
has them, and the design estimated at both: the metric's two values are the bars of a
tornado plot (``plots.tornado(result)``, :func:`designkit.render.plots.tornado`), widest
first. The inputs:

* every uncertain number of the design (:mod:`designkit.model.uncertain`), from its 5th to
  its 95th percentile (a range: from ``low`` to ``high``);
* every cache's hit ratio (and a cache step's own), moved by ±``step`` of its miss ratio (a 0.95
  hit ratio: 0.945–0.955 at 10 %) — a miss ratio is what multiplies the load behind it;
* every workload rate, ±``step``;
* every component's times, ×(1 ± ``step``) (as a calibration's ``scale`` would).

A rate is moved as the workload given (the design's kept program solved again) and a
component's times as a stretch of them (:func:`~designkit.estimate.api.estimate_with`'s
``stretch``: the same design compiled again with those times multiplied): the design is not
copied or checked again for them, and the numbers are those of the design changed by hand,
to the last digit. Hit ratios and uncertain numbers are moved in a copy (and so is a
calibration scale the move would take out of its bounds: the copy's checks refuse it, as
they would refuse the design changed by hand).

Each row also gives the elasticity, ``d ln metric / d ln input`` by the central difference
of the two runs: 2 means a 1 % change of the input moves the metric 2 %. Inputs whose range
is known (uncertain numbers) are ranked by what their range does; the others by what a
±``step`` does — the question "which assumption do I measure first" is the widest bar.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from designkit.errors import DesignError, Problem
from designkit.estimate.arguments import ArgumentError
from designkit.model.problems import format_path, nearest

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.estimate.scenarios import Scenario
    from designkit.model.design import Design

__all__ = ["Input", "Sensitivity", "Swing", "sensitivity"]

Metric = Literal["mean", "p50", "p95", "p99", "max_scale", "utilization"]
METRICS: tuple[str, ...] = ("mean", "p50", "p95", "p99", "max_scale", "utilization")
Kind = Literal["uncertain", "hit_ratio", "rate", "times"]


@dataclass(frozen=True)
class Input:
    """One input moved: its name, what kind, and its low, nominal and high values.

    ``path`` is where it is in the design (a calibration scale for ``times``)."""

    name: str
    kind: Kind
    path: str
    low: float
    nominal: float
    high: float


@dataclass(frozen=True)
class Swing:
    """What moving one input does to the metric.

    Attributes:
        input: The input.
        at_low: The metric with the input at its low value.
        at_high: The metric with the input at its high value.
        elasticity: ``d ln metric / d ln input`` (central difference; ``nan`` when the
            metric is 0 or infinite at either end).
    """

    input: Input
    at_low: float
    at_high: float
    elasticity: float

    @property
    def swing(self) -> float:
        """How far apart the two values are (``inf`` when one saturates)."""
        if math.isinf(self.at_low) or math.isinf(self.at_high):
            return math.inf if self.at_low != self.at_high else 0.0
        return abs(self.at_high - self.at_low)


@dataclass
class Sensitivity:
    """The inputs ranked by how far each moves the metric (widest first).

    Attributes:
        metric: What was measured (``"p95 of api GET /x"``).
        nominal: Its value with every input as the design has it.
        rows: One :class:`Swing` per input, widest first.
        step: The relative move of inputs without a known range.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.cache("c", hit_ratio=0.8, service_ms=0.5)
        >>> _ = d.database("db", cores=2)
        >>> ep = d.service("api", workers=50, io="async").endpoint("GET /x", cpu_ms=1)
        >>> _ = ep.cache("c").call("db", service_ms=8)
        >>> _ = d.set_load("api GET /x", 400)
        >>> s = dk.sensitivity(d, metric="mean", endpoint="api GET /x")
        >>> [row.input.name for row in s.rows][:2]
        ['c hit ratio', 'db times']
    """

    metric: str
    nominal: float
    rows: list[Swing]
    step: float

    def __iter__(self) -> Iterator[Swing]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def table(self) -> list[dict[str, Any]]:
        """One row per input: its name, low/nominal/high, the metric at low and high, the
        swing and the elasticity."""
        return [{"input": r.input.name, "kind": r.input.kind, "low": r.input.low,
                 "nominal": r.input.nominal, "high": r.input.high, "at_low": r.at_low,
                 "at_high": r.at_high, "swing": r.swing, "elasticity": r.elasticity}
                for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready: infinities as ``None``)."""
        def plain(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"metric": self.metric, "nominal": plain(self.nominal), "step": self.step,
                "rows": [{k: plain(v) for k, v in row.items()} for row in self.table()]}

    def __str__(self) -> str:
        lines = [f"{self.metric}: {_num(self.nominal)} as designed; what moves it most:"]
        width = max((len(r.input.name) for r in self.rows), default=10)
        for r in self.rows:
            lines.append(f"  {r.input.name:<{width}}  {_num(r.input.low)}–{_num(r.input.high)}"
                         f"  →  {_num(r.at_low)}–{_num(r.at_high)}"
                         f"  (elasticity {_num(r.elasticity)})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        body = "".join(
            f"<tr><td>{esc(r.input.name)}</td><td>{_num(r.input.low)}–{_num(r.input.high)}"
            f"</td><td>{_num(r.at_low)}</td><td>{_num(r.at_high)}</td>"
            f"<td>{_num(r.elasticity)}</td></tr>" for r in self.rows)
        return (f"<p>{esc(self.metric)}: {_num(self.nominal)} as designed</p><table>"
                "<tr><th>input</th><th>moved</th><th>at low</th><th>at high</th>"
                f"<th>elasticity</th></tr>{body}</table>")


def _num(value: float) -> str:
    return "∞" if math.isinf(value) else "—" if math.isnan(value) else f"{value + 0.0:.4g}"


def sensitivity(design: Design, metric: Metric = "p95", endpoint: str | None = None,
                component: str | None = None, *, step: float = 0.1,
                inputs: Sequence[str] | None = None, scenario: Scenario | None = None,
                days: float = 0.0, scale: float = 1.0) -> Sensitivity:
    """Rank the inputs of ``design`` by how far each moves ``metric``.

    Args:
        design: The design.
        metric: ``"mean"``, ``"p50"``, ``"p95"``, ``"p99"`` (of ``endpoint``),
            ``"max_scale"``, or ``"utilization"`` (of ``component``).
        endpoint: The endpoint of a latency metric (may be left out when one endpoint
            is loaded).
        component: The component of ``"utilization"``.
        step: The relative move of inputs without a range (0 < step < 1).
        inputs: Only these inputs (by name, as the rows show them).
        scenario, days, scale: As for :func:`designkit.estimate`.

    Returns:
        The :class:`Sensitivity`: rows widest first (``plots.tornado`` draws them).

    Raises:
        DesignError: An unknown endpoint, component or input (with the nearest names).
        ArgumentError: An unknown metric or a step outside (0, 1).

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="mm1")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
        >>> _ = d.set_load("api GET /x", 60)
        >>> s = dk.sensitivity(d, metric="mean")
        >>> [(r.input.name, round(r.elasticity, 2)) for r in s.rows]  # 1/(1−ρ), ρ/(1−ρ)
        [('api times', 2.51), ('api GET /x rate', 1.51)]
    """
    from designkit.estimate.api import estimate_with
    from designkit.model.uncertain import parse_path

    if metric not in METRICS:
        raise ArgumentError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not (isinstance(step, int | float) and 0 < step < 1):
        raise ArgumentError(f"step must be a number between 0 and 1, got {step!r}")
    base = estimate_with(design, scenario=scenario, days=days, scale=scale,
                         capacity=metric == "max_scale")
    read = _reader(base, metric, endpoint, component)
    candidates = list(_inputs(design, step))
    if isinstance(inputs, str):
        raise ArgumentError(f"inputs is a list of names, got the text {inputs!r}: write "
                            f"inputs=[{inputs!r}]")
    if inputs is not None:
        inputs = list(dict.fromkeys(inputs))
        names = {i.name: i for i in candidates}
        unknown = [n for n in inputs if n not in names]
        if unknown:
            raise DesignError([Problem(format_path(("inputs", n)), "not an input of this "
                                       "design", nearest(n, names)) for n in unknown])
        candidates = [names[n] for n in inputs]
    rows = []
    calibration = design.calibration
    slowed = calibration is not None and bool(calibration.slowdowns())

    def at(item: Input, value: float) -> float:
        """The metric with ``item`` at ``value``: a rate as the workload given (the
        design's kept program solved again), a component's times as a stretch of them
        (the same design compiled again with them multiplied: no copy, no check), any
        other number — or a calibration scale the move takes out of its bounds — in a
        copy holding it (which the checks then refuse, or take)."""
        options: dict[str, Any] = {"scenario": scenario, "days": days, "scale": scale,
                                   "capacity": metric == "max_scale"}
        if item.kind == "rate":
            moved = {str(parse_path(item.path)[1]): value}
            return read(estimate_with(design, design.rates(moved), **options))
        if item.kind == "times" and not slowed:  # (a slowdown stretches them per load)
            name = str(parse_path(item.path)[2])
            if _scale_allowed(design, name, value):
                return read(estimate_with(design, stretch={name: value}, **options))
        return read(estimate_with(_moved(design, item, value), **options))

    for item in candidates:
        low, high = at(item, item.low), at(item, item.high)
        rows.append(Swing(item, low, high, _elasticity(item, low, high)))
    rows.sort(key=lambda r: (-r.swing if not math.isnan(r.swing) else 0.0, r.input.name))
    return Sensitivity(read.label, read(base), rows, float(step))


class _Read:
    def __init__(self, label: str, key: str | None, metric: str) -> None:
        self.label = label
        self.key = key
        self.metric = metric

    def __call__(self, estimate: Estimate) -> float:
        if self.metric == "max_scale":
            return float(estimate.max_scale)
        if self.metric == "utilization":
            assert self.key is not None
            return float(estimate.components[self.key].utilization)
        assert self.key is not None
        ep = estimate.endpoints[self.key]
        return float({"mean": ep.mean_ms, "p50": ep.p50_ms, "p95": ep.p95_ms,
                      "p99": ep.p99_ms}[self.metric])


def _reader(base: Estimate, metric: str, endpoint: str | None,
            component: str | None) -> _Read:
    if metric == "max_scale":
        return _Read("max_scale", None, metric)
    if metric == "utilization":
        names = list(base.components)
        if component not in names:
            raise DesignError([Problem("component", "name the component whose utilization "
                                       f"to follow; got {component!r}",
                                       nearest(str(component), names))])
        return _Read(f"utilization of {component}", component, metric)
    loaded = list(base.endpoints)
    if endpoint is None and len(loaded) == 1:
        endpoint = loaded[0]
    if endpoint is None:
        raise DesignError([Problem("endpoint", f"name the endpoint whose {metric} to "
                                   f"follow: one of {', '.join(loaded[:8])}"
                                   f"{' …' if len(loaded) > 8 else ''}")])
    if endpoint not in base.endpoints:
        from designkit.model.refs import EndpointRef

        ref = EndpointRef.parse(endpoint)
        normal = str(ref) if ref else endpoint
        if normal not in base.endpoints:
            raise DesignError([Problem("endpoint", f"{endpoint!r} is not a loaded endpoint",
                                       nearest(endpoint, loaded))])
        endpoint = normal
    return _Read(f"{metric} of {endpoint}", endpoint, metric)


def _inputs(design: Design, step: float) -> Iterator[Input]:
    from designkit.flow.build import design_steps
    from designkit.model.components import Cache

    uncertain = design.uncertain
    for path, u in sorted(uncertain.items()):
        yield Input(_label(path), "uncertain", path, u.quantile(0.05) if not u.ranged
                    else float(u.low or 0.0), u.nominal,
                    u.quantile(0.95) if not u.ranged else float(u.high or 0.0))
    used: set[str] = set()
    for _, where, step_ in design_steps(design):
        hit = getattr(step_, "hit_ratio", None)
        cache = getattr(step_, "cache", None)
        if cache is not None and hit is None:
            used.add(cache)
        key = format_path((*where, "hit_ratio"))
        if hit is not None and key not in uncertain and 0 < hit < 1:
            yield _ratio(f"{_label(format_path(where))} hit ratio", key, hit, step)
    for name, component in design.components.items():
        key = format_path(("components", name, "hit_ratio"))
        if isinstance(component, Cache) and name in used and key not in uncertain \
                and 0 < component.hit_ratio < 1:
            yield _ratio(f"{name} hit ratio", key, component.hit_ratio, step)
    for ref, rps in design.workload.items():
        key = format_path(("workload", ref))
        if rps > 0 and key not in uncertain:
            yield Input(f"{ref} rate", "rate", key, rps * (1 - step), rps, rps * (1 + step))
    for name in design.components:
        yield Input(f"{name} times", "times", format_path(("calibration", "components", name,
                                                            "scale")),
                    1 - step, 1.0, 1 + step)


def _ratio(name: str, path: str, hit: float, step: float) -> Input:
    miss = 1.0 - hit
    return Input(name, "hit_ratio", path, max(0.0, 1.0 - miss * (1 + step)), hit,
                 min(1.0, 1.0 - miss * (1 - step)))


def _label(path: str) -> str:
    from designkit.model.uncertain import parse_path

    parts = parse_path(path)
    if parts[0] == "workload":
        return f"{parts[1]} rate"
    if parts[0] == "components" and len(parts) == 3:
        return f"{parts[1]} {str(parts[2]).replace('_', ' ')}"
    if parts[0] == "components" and len(parts) > 4 and parts[2] == "endpoints":
        # a step: "svc METHOD /path steps[2]" (and "hit ratio" when it is one)
        rest = format_path(parts[4:]).replace(".hit_ratio", " hit ratio")
        return f"{parts[1]} {parts[3]} {rest}"
    return path


def _scale_allowed(design: Design, name: str, factor: float) -> bool:
    """Whether component ``name``'s calibration scale times ``factor`` is a scale the
    design may hold (the copy :func:`_moved` makes would pass its checks)."""
    from pydantic import ValidationError

    from designkit.model.calibration import ComponentCalibration

    calibration = design.calibration
    entry = calibration.components.get(name) if calibration is not None else None
    try:
        ComponentCalibration(scale=(entry.scale if entry is not None else 1.0) * factor)
    except ValidationError:
        return False
    return True


def _moved(design: Design, item: Input, value: float) -> Design:
    """A copy of ``design`` with the input at ``value`` (a time scale: its calibration's
    scale multiplied)."""
    from designkit.estimate.uncertainty import with_values
    from designkit.model.uncertain import parse_path

    if item.kind != "times":
        return with_values(design, {item.path: value})
    name = str(parse_path(item.path)[2])
    copy = with_values(design, {})
    calibration = copy.calibration.model_dump(exclude_none=True) if copy.calibration \
        else {"components": {}}
    components = calibration.setdefault("components", {})
    entry = components.setdefault(name, {})
    entry["scale"] = float(entry.get("scale", 1.0)) * value
    copy.calibration = calibration  # type: ignore[assignment]
    return copy


def _elasticity(item: Input, low: float, high: float) -> float:
    """``d ln metric / d ln input`` between the two runs (a hit ratio's input is its
    miss ratio, the one the load is proportional to — reported with the sign of the
    hit ratio's effect)."""
    x_low, x_high = item.low, item.high
    if item.kind == "hit_ratio" or (item.kind == "uncertain"
                                    and item.path.endswith("hit_ratio")):
        x_low, x_high = 1.0 - item.low, 1.0 - item.high
    values = (low, high, x_low, x_high)
    if any(not math.isfinite(v) or v <= 0 for v in values) or x_low == x_high:
        return math.nan
    return math.log(high / low) / math.log(x_high / x_low)

