"""``dk.calibrate``: a design fitted to what a load test or a trace measured."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from designkit.calibration.fit import STATS, Parameter, Run, Target, significant, solve_fit
from designkit.calibration.match import Ambiguous, component_of, endpoint_of
from designkit.calibration.result import CalibrationFit, Row
from designkit.errors import DesignkitError, MissingDependencyError
from designkit.estimate.api import estimate_with
from designkit.flow.nodes import Flow, Site
from designkit.flow.times import Spec
from designkit.gcpause import gc_running
from designkit.model.components import Lock
from designkit.model.problems import nearest
from designkit.model.refs import EndpointRef
from designkit.model.service import Service
from designkit.model.steps import CacheStep, CallStep

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.measure import Measurements, Observation
    from designkit.model.design import Design
    from designkit.model.times import Time

__all__ = ["CalibrationError", "calibrate"]

WHAT = ("scale", "scv", "slowdown")


class CalibrationError(DesignkitError, ValueError):
    """The measurements cannot calibrate the design: nothing in them is part of it, a
    name fits several endpoints, a component to fit does not exist.

    Example:
        >>> import designkit as dk
        >>> issubclass(dk.CalibrationError, dk.DesignkitError)
        True
    """


def calibrate(design: Design, measurements: Measurements, fit: Iterable[str] | None = None,
              mapping: Mapping[str, str] | None = None, shape: bool | None = None,
              slowdown: bool | None = None) -> CalibrationFit:
    """Fit a design's times to measurements, and say how well they fit.

    Each run of the measurements (one load level) is estimated at the rates it measured;
    the fitted components' times (``scale``), their shape (``scv``) and how they slow down
    as they fill (``slowdown``) are chosen so that every endpoint's mean, p50, p95 and p99
    (and every span's mean) come out as measured. The result's design holds them in its
    ``calibration:`` section, with the highest load measured per endpoint: estimating it
    past that load is named as an extrapolation.

    Args:
        design: The design measured.
        measurements: What was measured (:func:`designkit.measurements`).
        fit: Components whose times to fit; default: every component the measured
            endpoints spend time in.
        mapping: Measured names to design references, where they are not found by
            themselves: ``{"checkout": "shop POST /orders", "pg-query": "orders-db"}``.
        shape: Fit each component's scv (default: when percentiles were measured).
        slowdown: Fit each component's slowdown with load (default: when two or more
            loads were measured).

    Returns:
        The fit: the calibrated design, the parameters with their standard errors, and the
        error of every measured statistic.

    Raises:
        DesignError: The design is invalid.
        CalibrationError: No measured name is part of the design, a name fits several
            endpoints, a mapping names nothing in the design, a run has no rate (fewer
            than two requests at different times) or nothing to fit (every request
            failed), or a component in ``fit`` does not exist.
        MissingDependencyError: SciPy is not installed.

    Example:
        >>> import designkit as dk
        >>> from designkit.measure import Measurements, Observation
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=5)
        >>> seen = Measurements((Observation("GET /x", "endpoint", "run", 50.0, 5000, 0,
        ...                                  20.0, None, None, None),))
        >>> f = dk.calibrate(d, seen)
        >>> round(f.design.calibration.components["api"].scale, 3)  # M/M/1: 10 ms
        2.0
    """
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "calibrate needs SciPy; install it: pip install 'designkit[calibrate]'") from None
    from designkit.flow.build import build

    design.validate()
    flow = build(design)
    runs, unmatched = _runs(design, measurements, _checked(design, mapping or {}))
    measured_keys = {k for run in runs for k in run.workload}
    names = _fitted(design, flow, measured_keys, fit)
    has_shape = any(t.stat in ("p50_ms", "p95_ms", "p99_ms") for r in runs for t in r.targets)
    loads = {round(sum(r.workload.values()), 9) for r in runs}
    shape = has_shape if shape is None else shape
    slowdown = len(loads) >= 2 if slowdown is None else slowdown
    parameters = _parameters(design, names, shape, slowdown)
    extent = {k: significant(max(r.workload.get(k, 0.0) for r in runs))
              for k in sorted(measured_keys)}
    sources = sorted({_file(o.source) for o in measurements.observations if o.source})
    with gc_running():  # hundreds of estimates, each with cycles: collected as it goes
        calibrated, predicted, converged = solve_fit(design, runs, parameters, _predict,
                                                     extent, sources)
    rows = [Row(t.run, t.endpoint, t.stat,
                t.rps if t.rps is not None else run.workload.get(t.endpoint, math.nan),
                t.measured, p)
            for run, values in zip(runs, predicted, strict=True)
            for t, p in zip(run.targets, values, strict=True)]
    return CalibrationFit(calibrated, tuple(parameters), tuple(rows),
                          tuple((r.name, dict(r.workload)) for r in runs), tuple(unmatched),
                          converged)


def _checked(design: Design, mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping with each target normalised: an endpoint of the design (``svc METHOD
    /path``, its method in any case, spaces collapsed) or a component.

    Raises:
        CalibrationError: A target is neither.
    """
    endpoints = {str(ref): str(ref) for ref, _ in design.endpoints()}
    out = {}
    for name, target in mapping.items():
        ref = EndpointRef.parse(" ".join(target.split()))
        if ref is not None and str(ref) in endpoints:
            out[name] = str(ref)
        elif target in design.components:
            out[name] = target
        else:
            hint = nearest(target, [*endpoints, *design.components])
            raise CalibrationError(
                f"--map {name}={target}: {target!r} is neither an endpoint ('svc METHOD "
                "/path') nor a component of the design"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    return out


def _file(source: str) -> str:
    """The file of an observation's source (``runs/low.csv:2`` → ``runs/low.csv``)."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def _runs(design: Design, measurements: Measurements, mapping: Mapping[str, str]
          ) -> tuple[list[Run], list[str]]:
    """The runs, each with its workload and targets; the names matched to nothing.

    Several observations of one endpoint in one run (two URLs of one route) add their rates
    and share its weight by their counts. Latencies are compared with the estimate's of
    the requests that succeed, unless the tool mixed the failed ones in (Locust).
    """
    matched: dict[tuple[str, str], list[Observation]] = {}
    unmatched: list[str] = []
    spans: list[Observation] = []
    for o in measurements.observations:
        if o.kind != "endpoint":
            spans.append(o)
            continue
        target = mapping.get(o.name)
        if target is not None and target in design.components:
            raise CalibrationError(
                f"--map {o.name}={target}: {o.name!r} is an endpoint's measurement; map it to "
                f"an endpoint ('{target} METHOD /path'), not to component {target!r}")
        try:
            key = endpoint_of(design, o.name, o.attributes, mapping)
        except Ambiguous as err:
            raise CalibrationError(f"{o.source or o.run}: {err}; say which with a mapping "
                                   f"(--map '{o.name}=SVC METHOD /path')") from None
        if key is None:
            unmatched.append(f"{o.name} ({o.run})")
        elif o.count == 0:
            unmatched.append(f"{o.name} ({o.run}: no requests)")
        elif not (math.isfinite(o.rate_rps) and o.rate_rps > 0):
            raise CalibrationError(
                f"{o.source or o.run}: {o.name!r} in run {o.run!r} has no rate "
                f"({o.rate_rps!r}): a run needs two or more requests at different times")
        else:
            matched.setdefault((o.run, key), []).append(o)
    if not matched:
        known = [str(ref) for ref, _ in design.endpoints()]
        seen = sorted({o.name for o in measurements.endpoints()})
        hint = nearest(seen[0], known) if seen else ()
        raise CalibrationError(
            f"no measured endpoint is part of design {design.name!r}: measured "
            f"{', '.join(seen[:5]) or 'no endpoint'}; the design has {', '.join(known[:5])}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + " — name them as 'svc METHOD /path', 'METHOD /path', or map them")
    runs: dict[str, Run] = {}
    for (run_name, key), observed in matched.items():
        run = runs.setdefault(run_name, Run(run_name, {}))
        run.workload[key] = sum(o.rate_rps for o in observed)
        total = sum(o.count - o.errors for o in observed) or 1
        for o in observed:
            share = (o.count - o.errors) / total
            success = o.attributes.get("latency_includes_errors") != "true"
            for stat, weight in STATS:
                value = getattr(o, stat)
                if value is not None and math.isfinite(value) and value > 0 and share > 0:
                    run.targets.append(Target(run_name, key, stat, float(value),
                                              weight * math.sqrt(share), success=success))
    empty = [f"{key} in run {run}" for (run, key) in matched
             if not any(t.endpoint == key for t in runs[run].targets)]
    if empty and len(empty) == len(matched):
        raise CalibrationError(f"nothing to fit: no latency of a successful request was "
                               f"measured ({', '.join(empty[:3])}: every request failed, "
                               "or took no time)")
    unmatched += [f"{e} (every request failed: its load counts, its latency cannot)"
                  for e in empty]
    for o in spans:
        target = mapping.get(o.name)
        if target is not None and target not in design.components:
            raise CalibrationError(
                f"--map {o.name}={target}: {o.name!r} is a span (a call); map it to the "
                "component it called, not to an endpoint")
        component = component_of(design, o.name, o.attributes, mapping)
        into = runs.get(o.run)
        if component is None or into is None or not (o.mean_ms and o.mean_ms > 0):
            why = ("no component" if component is None else "no endpoint measured in its run"
                   if into is None else "no time")
            unmatched.append(f"{o.name} ({o.run}, span: {why})")
            continue
        into.targets.append(Target(o.run, _caller(design, o, into, mapping),
                                   f"span:{component}", float(o.mean_ms), 1.0,
                                   o.rate_rps if math.isfinite(o.rate_rps) else None))
    return list(runs.values()), unmatched


def _caller(design: Design, span: Observation, run: Run, mapping: Mapping[str, str]) -> str:
    """The measured endpoint a span was called from (its ``parent`` attribute, when that is
    an endpoint of the run); empty when unknown — the span then stands for every call of
    its component."""
    parent = span.attributes.get("parent")
    if not parent:
        return ""
    try:
        key = endpoint_of(design, parent, {"service.name": span.attributes.get(
            "service.name", "")} if span.attributes.get("service.name") else None, mapping)
    except Ambiguous:
        return ""
    return key if key is not None and key in run.workload else ""


def _fitted(design: Design, flow: Flow, keys: set[str], fit: Iterable[str] | None
            ) -> list[str]:
    """The components to fit: those named, else every one the measured endpoints (and the
    endpoints they call) spend time in."""
    if fit is not None:
        named = list(dict.fromkeys(fit))
        for name in named:
            if name not in design.components:
                hint = nearest(name, design.components)
                raise CalibrationError(f"no component {name!r} to fit" + (
                    f" (did you mean {hint[0]!r}?)" if hint else ""))
        return named
    reached = set(keys)
    names: list[str] = []
    todo = list(keys)
    sites: dict[str, list[Site]] = {}
    for site in flow.sites:
        sites.setdefault(str(site.ref), []).append(site)
    while todo:
        key = todo.pop()
        service = key.split(" ", 1)[0]
        component = design.components.get(service)
        endpoint = component.endpoints.get(key.split(" ", 1)[1]) if isinstance(
            component, Service) else None
        if endpoint is None and isinstance(component, Service):
            endpoint = next((e for k, e in component.endpoints.items()
                             if f"{service} {' '.join(k.split())}".lower() == key.lower()),
                            None)
        if endpoint is not None and _spends(endpoint.cpu_ms) and service not in names:
            names.append(service)
        for site in sites.get(key, ()):
            step = site.step
            if isinstance(site.step, CacheStep) and site.target is not None \
                    and site.target not in names:
                names.append(site.target)
            if not isinstance(step, CallStep) or site.target is None:
                continue
            target = design.components.get(site.target)
            if target is not None and not isinstance(target, Service | Lock) \
                    and site.target not in names:
                names.append(site.target)
            callee = " ".join(step.call.split())
            for other in flow.index:
                if other.lower() == callee.lower() and other not in reached:
                    reached.add(other)
                    todo.append(other)
    return names


def _spends(time: Time | None) -> bool:
    """Whether a stated time is more than nothing."""
    return Spec.of(time).mean > 0


def _parameters(design: Design, names: Sequence[str], shape: bool, slowdown: bool
                ) -> list[Parameter]:
    before = design.calibration.components if design.calibration else {}
    out = []
    for name in names:
        was = before.get(name)
        out.append(Parameter(name, "scale", was.scale if was else 1.0))
        if shape:
            out.append(Parameter(name, "scv", was.scv if was and was.scv is not None else 1.0))
        if slowdown:
            out.append(Parameter(name, "slowdown", was.slowdown if was else 0.0))
    return out


def _predict(design: Design, run: Run) -> list[float]:
    """A run's targets under a candidate design. The design was validated when the fit
    began, and a candidate changes only its calibration (valid by construction): no second
    check, no program kept for re-use."""
    e = estimate_with(design, workload=run.workload, capacity=False, validated=True)
    return [_value(e, t) for t in run.targets]


def _value(e: Estimate, target: Target) -> float:
    if target.stat.startswith("span:"):
        return _span_mean(e, target.stat.removeprefix("span:"), target.endpoint)
    found = e.endpoints.get(target.endpoint)
    if found is None:
        return math.nan
    if target.success and found.success is not None:  # the requests that succeed
        return float(getattr(found.success, target.stat))
    return float(getattr(found, target.stat))


def _span_mean(e: Estimate, component: str, endpoint: str = "") -> float:
    """The mean time of one call of ``component`` (a call, or a cache step's read) from
    ``endpoint`` — or from every loaded endpoint, weighted by how often each calls it."""
    from designkit.estimate.step_times import endpoint_times

    flow = e._flow
    assert flow is not None
    total = weight = 0.0
    for key, loaded in e.endpoints.items():
        if loaded.rps <= 0 or (endpoint and key != endpoint):
            continue
        times = None
        for site in flow.sites_of(key):
            step = site.step
            if site.target != component or not isinstance(step, CallStep | CacheStep):
                continue
            times = times or endpoint_times(flow, key, e)
            found = times.steps.get(site.path)
            if found is None or not math.isfinite(found.own_ms):
                continue
            count = step.count if isinstance(step, CallStep) else 1.0
            rate = loaded.rps * site.times * count
            total += rate * found.own_ms / count
            weight += rate
    return total / weight if weight > 0 else math.nan
