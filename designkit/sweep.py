"""``dk.sweep``: a design's numbers over a grid of loads, scenarios, sizes and seeds.

A sweep estimates (or simulates) the design once per point of a grid — the cartesian
product of the values in ``over``, the last key varying fastest — and returns a
:class:`~designkit.sweep_table.SweepTable` with one row per point: the knobs, then the
metrics. Each point is one task, run here or on any ``concurrent.futures.Executor``; the
rows come back in grid order whatever order the tasks finish in, and every point gives the
same numbers as calling :func:`dk.estimate <designkit.estimate.api.estimate>` (or
:func:`dk.simulate <designkit.estimate.simulate.simulate>`, same seed) on it in a loop.

What ``over`` may name (each with a list of values):

* ``scale`` — factor on the whole workload (``dk.estimate``'s ``scale``);
* ``scenario`` — :class:`~designkit.estimate.scenarios.Scenario` objects, or ``None`` for
  the design as it is (cold caches, slow or failing dependencies, lost replicas…); the
  column shows each one's description;
* ``days`` — days of table growth;
* ``seed`` — the simulation's random seed (``method="simulate"`` only);
* ``"<component>.<setting>"`` — a copy of the design with that setting changed: service
  ``replicas``, ``workers``; database ``cores``, ``pool_size``; cache ``servers``,
  ``hit_ratio`` (set on the cache *and* on every step reading it, as the what-if explorer
  does); queue ``partitions``, ``consumers``; lock ``keys``; external ``concurrency``;
* ``"workload.<svc METHOD /path>"`` — that endpoint's requests per second, as if written in
  the design's ``workload`` (a schedule of the endpoint still adds to it).

Metrics: see :mod:`designkit.sweep_table` (default ``max_scale``, ``bottleneck`` and
every endpoint's p95; a saturated latency is ``inf``, never NaN).

Executors. ``executor=None``: the first point runs in this process; when the others would
take under :data:`LOCAL_S` seconds more at its pace, or the machine has one core, they
run here too; otherwise in a process pool (one worker per core, at most one per point
left; ``forkserver`` start where available, else ``spawn`` — so a script calls
``dk.sweep`` under ``if __name__ == "__main__":``), shut down at the end. Any other
``Executor`` — ``ThreadPoolExecutor``, ``ProcessPoolExecutor``, a Dask cluster's
``Client.get_executor()`` — gets every point at once and is left running. A task carries
the design as its JSON text, the point and the metrics, and returns plain numbers, so it
pickles; the design's text travels with every task.

Progress. ``progress=True`` shows a ``tqdm.auto`` bar (a widget in a notebook);
a text stream (``sys.stderr``, a file) shows a text bar there; ``False`` none;
``None`` (default) a bar only once a sweep of several points has run
:data:`BAR_AFTER_S` seconds. tqdm is imported only when a bar is shown.

Errors. Wrong knobs, values or metrics are refused before anything runs, all at once, as
a :class:`~designkit.errors.DesignError` naming each (``over."api.replica": unknown knob
(did you mean 'api.replicas'?)``). A point that fails when it runs (a combination of
values the design cannot take) stops the sweep: the points not yet started are cancelled
and :class:`SweepError` names the point, with the point's own error as its cause.
"""

from __future__ import annotations

import importlib
import itertools
import numbers
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from designkit.errors import DesignError, DesignkitError, Problem
from designkit.model.problems import format_path, nearest
from designkit.model.refs import EndpointRef
from designkit.sweep_table import Metric, SweepTable, measure, metric_columns, metrics_of

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from designkit.estimate.result import Estimate
    from designkit.estimate.scenarios import Scenario
    from designkit.model.design import Design

__all__ = ["BAR_AFTER_S", "LOCAL_S", "SETTINGS", "SweepError", "sweep"]

SETTINGS: Mapping[str, tuple[str, ...]] = {
    "service": ("replicas", "workers"),
    "database": ("cores", "pool_size"),
    "cache": ("servers", "hit_ratio"),
    "queue": ("partitions", "consumers"),
    "lock": ("keys",),
    "external": ("concurrency",),
}
"""The settings ``over`` may change, by component kind (``"<component>.<setting>"``)."""

LOCAL_S = 3.0
"""``executor=None``: the points after the first run in this process when they would take
less than this many seconds at the first one's pace (starting a process pool costs about
that much on two cores)."""

BAR_AFTER_S = 2.0
"""``progress=None``: seconds after which a sweep still running shows its progress bar."""

_GLOBAL = ("scale", "scenario", "days", "seed")


class SweepError(DesignkitError, RuntimeError):
    """One point of a sweep failed; the sweep stopped. ``point`` is that point (knob →
    value), ``index`` its place in the grid; the point's own error is ``__cause__``.

    Example:
        >>> import designkit as dk
        >>> from designkit.sweep import sweep
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", replicas=2).endpoint("GET /x", cpu_ms=1)
        >>> _ = d.set_load("api GET /x", 10)
        >>> try:
        ...     sweep(d, over={"api.replicas": [2, 1]},
        ...           scenario=dk.Scenario(lost_replicas={"api": 1}))
        ... except SweepError as err:
        ...     print(err.point, type(err.__cause__).__name__)
        {'api.replicas': 1} DesignError
    """

    def __init__(self, index: int, total: int, point: dict[str, Any],
                 error: BaseException) -> None:
        self.index, self.total, self.point = index, total, point
        where = ", ".join(f"{k}={_column_value(v)}" for k, v in point.items()) or "no knobs"
        kind = type(error).__name__
        super().__init__(f"sweep point {index + 1} of {total} ({where}) failed: {kind}: "
                         f"{error}")


@dataclass(frozen=True)
class _Knob:
    """One key of ``over``, parsed: what it changes."""

    key: str
    kind: Literal["scale", "scenario", "days", "seed", "workload", "setting"]
    target: str = ""  # the component (setting) or endpoint (workload)
    field: str = ""   # the component's setting


@dataclass(frozen=True)
class _Job:
    """What every task of one sweep shares (picklable: the design travels as JSON)."""

    text: str
    method: Literal["estimate", "simulate"]
    knobs: tuple[_Knob, ...]
    metrics: tuple[Metric, ...]
    scenario: Scenario | None
    duration_s: float
    warmup_s: float | None


def sweep(design: Design, over: Mapping[str, Iterable[Any]],
          metrics: Sequence[str] | str | None = None, *,
          method: Literal["estimate", "simulate"] = "estimate",
          scenario: Scenario | None = None, duration_s: float | None = None,
          warmup_s: float | None = None, executor: Executor | None = None,
          progress: bool | Any | None = None) -> SweepTable:
    """Estimate (or simulate) ``design`` at every point of a grid, as a table.

    Args:
        design: The design (never modified; each point changes a copy).
        over: Knob → values; the grid is their cartesian product, the last key varying
            fastest. Knobs: ``scale``, ``scenario``, ``days``, ``seed``,
            ``"<component>.<setting>"``, ``"workload.<svc METHOD /path>"`` (see the
            module's documentation).
        metrics: Metric names (see the module's documentation); default ``max_scale``,
            ``bottleneck`` and every endpoint's p95.
        method: ``"estimate"`` (:func:`dk.estimate`) or ``"simulate"``
            (:func:`dk.simulate`, with the seed from ``over`` or 0).
        scenario: The scenario of every point when ``over`` has no ``scenario``.
        duration_s: Simulated seconds measured per point (``method="simulate"``; 60 s
            when not given).
        warmup_s: Simulated warm-up per point (``method="simulate"``; as ``dk.simulate``
            chooses when not given).
        executor: Where the points run: ``None`` (here, or a local process pool when the
            sweep is long) or any ``concurrent.futures.Executor``.
        progress: ``True``: a progress bar; a text stream: a bar written there;
            ``False``: none; ``None``: a bar once a long sweep has run a while.

    Returns:
        One row per point, in grid order: the knobs' values (a scenario by its
        description), then the metrics.

    Raises:
        DesignError: Unknown knobs or metrics (with the nearest valid names), values
            out of range, or an invalid design; nothing has run.
        ArgumentError: ``duration_s``/``warmup_s`` given without ``method="simulate"``.
        SweepError: A point failed when it ran; its cause is the point's error.
        TypeError: ``executor`` is not an executor.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="mm")
        >>> _ = d.service("api", workers=10).endpoint("GET /x", cpu_ms=100)
        >>> _ = d.set_load("api GET /x", 90)
        >>> from designkit.sweep import sweep
        >>> sweep(d, over={"scale": [0.5, 1.0], "api.workers": [10, 20]})
        scale  api.workers  max_scale  bottleneck  p95:api GET /x
          0.5           10      2.222  api                    300
          0.5           20      4.444  api                  299.6
            1           10      1.111  api                  436.1
            1           20      2.222  api                  299.6
    """
    from designkit.estimate.arguments import ArgumentError
    from designkit.model.io import dump

    if method not in ("estimate", "simulate"):
        raise ArgumentError(f"method must be 'estimate' or 'simulate', got {method!r}")
    if method == "estimate" and (duration_s is not None or warmup_s is not None):
        raise ArgumentError("duration_s and warmup_s are simulation settings: pass "
                            "method='simulate'")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        hint = (": pass client.get_executor()" if hasattr(executor, "get_executor") else "")
        raise TypeError(f"executor must be a concurrent.futures.Executor, got "
                        f"{type(executor).__name__}{hint}")
    design.validate()
    problems: list[Problem] = []
    knobs, values = _grid(design, over, method, scenario, problems)
    wanted = metrics_of(design, metrics, problems)
    if problems:
        raise DesignError(problems, source="sweep")
    job = _Job(dump(design, "json"), method, knobs, wanted, scenario,
               60.0 if duration_s is None else duration_s, warmup_s)
    points = list(itertools.product(*values))
    results = _run(design, job, points, executor, progress)
    return _table(design, job, points, results)


# -- the grid ----------------------------------------------------------------------------

def _grid(design: Design, over: Mapping[str, Iterable[Any]], method: str,
          scenario: Scenario | None, problems: list[Problem],
          ) -> tuple[tuple[_Knob, ...], list[list[Any]]]:
    """The knobs of ``over`` and their checked values; a problem for each wrong one."""
    if not isinstance(over, Mapping):
        raise TypeError(f"over must be a mapping of knob → values, got {type(over).__name__}")
    knobs: list[_Knob] = []
    values: list[list[Any]] = []
    probe: Design | None = None
    for key, raw in over.items():
        knob = _knob(design, str(key), method, problems)
        items = _items(str(key), raw, problems)
        if knob is None or items is None:
            continue
        if knob.kind == "setting" and probe is None:
            probe = design.model_copy(deep=True)
        knobs.append(knob)
        values.append(_checked(probe, knob, items, problems))
    sized = {k.target for k in knobs if k.field in ("replicas", "servers")}
    for knob, items in zip(knobs, values, strict=True):
        if knob.kind == "scenario":
            _check_scenarios(design, items, sized, problems, indexed=True)
    if scenario is not None and "scenario" not in over:
        _check_scenarios(design, [scenario], sized, problems, indexed=False)
    return tuple(knobs), values


def _knob(design: Design, key: str, method: str, problems: list[Problem]) -> _Knob | None:
    where = format_path(("over", key))
    if key in _GLOBAL:
        if key == "seed" and method != "simulate":
            problems.append(Problem(where, "a seed is a simulation's: pass "
                                           "method='simulate'"))
            return None
        return _Knob(key, key)  # type: ignore[arg-type]  # one of the four
    if key.startswith("workload."):
        endpoints = [str(ref) for ref, _ in design.endpoints()]
        ref = EndpointRef.parse(key.removeprefix("workload."))
        if ref is not None and str(ref) in endpoints:
            return _Knob(key, "workload", str(ref))
        problems.append(Problem(where, "unknown endpoint", tuple(
            f"workload.{n}" for n in nearest(key.removeprefix("workload."), endpoints))))
        return None
    name, dot, field = key.rpartition(".")
    component = design.components.get(name) if dot else None
    if component is None:
        problems.append(Problem(where, "unknown knob", nearest(key, [
            *_GLOBAL, *(f"{n}.{f}" for n, c in design.components.items()
                        for f in SETTINGS.get(c.kind, ())),
            *(f"workload.{ref}" for ref, _ in design.endpoints())])))
        return None
    allowed = SETTINGS.get(component.kind, ())
    if field in allowed:
        return _Knob(key, "setting", name, field)
    problems.append(Problem(where, f"{name!r} is a {component.kind}; a sweep can change "
                                   f"its {', '.join(allowed) or 'nothing'}",
                            tuple(f"{name}.{f}" for f in nearest(field, allowed))))
    return None


def _items(key: str, raw: Any, problems: list[Problem]) -> list[Any] | None:
    """The values to sweep, numpy's numbers as Python's (the table holds plain values)."""
    where = format_path(("over", key))
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        problems.append(Problem(where, f"must be a list of values, got {raw!r}"))
        return None
    items = [v if isinstance(v, bool) or not isinstance(v, numbers.Real)
             else int(v) if isinstance(v, numbers.Integral) else float(v) for v in raw]
    if not items:
        problems.append(Problem(where, "has no values to sweep"))
        return None
    return items


def _checked(probe: Design | None, knob: _Knob, items: list[Any], problems: list[Problem],
             ) -> list[Any]:
    """``items`` as the knob takes them; a problem for each it cannot take."""
    from designkit.estimate.arguments import ArgumentError, at_least_zero, positive

    if knob.kind == "scenario":
        return items  # checked once every knob is known (see _check_scenarios)
    out = []
    for i, value in enumerate(items):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        try:
            if knob.kind == "scale":
                out.append(positive("scale", value))
            elif knob.kind in ("days", "workload"):
                out.append(at_least_zero("days" if knob.kind == "days" else "a rate", value))
            elif knob.kind == "seed":
                if not (number and isinstance(value, int) and value >= 0):
                    raise ArgumentError(f"a seed must be a whole number ≥ 0, got {value!r}")
                out.append(value)
            else:  # a setting: checked by setting it on a copy of the design
                assert probe is not None
                if not number:
                    raise ArgumentError(f"must be a number, got {value!r}")
                component = probe.components[knob.target]
                before = getattr(component, knob.field)
                setattr(component, knob.field, value)
                out.append(getattr(component, knob.field))
                setattr(component, knob.field, before)
        except (ArgumentError, DesignError) as err:
            text = (err.problems[0].message if isinstance(err, DesignError) and err.problems
                    else str(err))
            problems.append(Problem(format_path(("over", knob.key, i)), text))
    return out


def _check_scenarios(design: Design, items: list[Any], sized: set[str],
                     problems: list[Problem], indexed: bool) -> None:
    """A problem for each item that is not a Scenario (or None) the design can take — but
    replicas lost from a service (servers from a cache) whose size the sweep sets are
    judged at each point."""
    from designkit.estimate.arguments import ArgumentError, positive
    from designkit.estimate.scenarios import Scenario

    for i, scenario in enumerate(items):
        where = format_path(("over", "scenario", i) if indexed else ("scenario",))
        if scenario is None:
            continue
        if not isinstance(scenario, Scenario):
            problems.append(Problem(where, f"must be a dk.Scenario or None, got {scenario!r}"))
            continue
        try:
            positive("the scenario's scale", scenario.scale)
            scenario.apply(design)
        except ArgumentError as err:
            problems.append(Problem(where, str(err)))
        except DesignError as err:
            problems += [Problem(where, f"{p.path}: {p.message}", p.suggestions)
                         for p in err.problems if not _sized_later(p, scenario, sized)]


def _sized_later(problem: Problem, scenario: Scenario, sized: set[str]) -> bool:
    """Whether ``problem`` is a whole number of replicas lost from a component whose size
    the sweep sets (too many for the design as it is, maybe not at the points)."""
    for name in sized:
        lost = scenario.lost_replicas.get(name)
        if (problem.path == format_path(("scenario", "lost_replicas", name))
                and isinstance(lost, int) and not isinstance(lost, bool) and lost >= 0):
            return True
    return False


# -- one point ---------------------------------------------------------------------------

def _task(job: _Job, point: tuple[Any, ...]) -> dict[str, Any]:
    """One point, where an executor runs it: the design from its text."""
    from designkit.model.io import load

    return _evaluate(load(job.text), job, point)


def _evaluate(design: Design, job: _Job, point: tuple[Any, ...]) -> dict[str, Any]:
    """The metrics of ``design`` at ``point`` — exactly what a loop of ``dk.estimate``
    (or ``dk.simulate``) on the same copy, load and scenario gives."""
    settings: list[tuple[_Knob, Any]] = []
    rates: dict[str, float] = {}
    scale, days, seed, scenario = 1.0, 0.0, 0, job.scenario
    for knob, value in zip(job.knobs, point, strict=True):
        if knob.kind == "scale":
            scale = value
        elif knob.kind == "days":
            days = value
        elif knob.kind == "seed":
            seed = value
        elif knob.kind == "scenario":
            scenario = value
        elif knob.kind == "workload":
            rates[knob.target] = value
        else:
            settings.append((knob, value))
    if settings:
        design = _resized(design, settings)
    workload = design.rates(rates) if rates else None
    result: Estimate
    if job.method == "simulate":
        from designkit.estimate.simulate import simulate

        result = simulate(design, duration_s=job.duration_s, seed=seed,
                          warmup_s=job.warmup_s, workload=workload, scenario=scenario,
                          days=days, scale=scale, progress=False)
    else:
        from designkit.estimate.api import estimate

        result = estimate(design, workload=workload, scenario=scenario, days=days,
                          scale=scale)
    return measure(result, job.metrics)


def _resized(design: Design, settings: list[tuple[_Knob, Any]]) -> Design:
    """A copy of ``design`` with the settings changed; a cache's hit ratio also on every
    step reading the cache (as :class:`~designkit.widgets.Explorer` sets them)."""
    from designkit.flow.build import design_steps
    from designkit.model.steps import CacheStep

    copy = design.model_copy(deep=True)
    for knob, value in settings:
        setattr(copy.components[knob.target], knob.field, value)
        if knob.field == "hit_ratio":
            for _, _, step in design_steps(copy):
                if isinstance(step, CacheStep) and step.cache == knob.target:
                    step.hit_ratio = value
    return copy


# -- running -----------------------------------------------------------------------------

def _run(design: Design, job: _Job, points: list[tuple[Any, ...]],
         executor: Executor | None, progress: bool | Any | None) -> list[dict[str, Any]]:
    """Every point's metrics, in grid order."""
    results: list[dict[str, Any] | None] = [None] * len(points)
    bar = _Bar(progress, len(points))
    try:
        if executor is not None:
            _remote(executor, job, points, range(len(points)), results, bar)
        else:
            started = time.perf_counter()
            results[0] = _local(design, job, points, 0)
            bar.advance()
            pace = time.perf_counter() - started
            rest = range(1, len(points))
            if len(rest) and (_cores() < 2 or pace * len(rest) < LOCAL_S):
                for i in rest:
                    results[i] = _local(design, job, points, i)
                    bar.advance()
            elif len(rest):
                pool = _process_pool(min(_cores(), len(rest)))
                try:
                    _remote(pool, job, points, rest, results, bar)
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
    return [r for r in results if r is not None]


def _local(design: Design, job: _Job, points: list[tuple[Any, ...]], i: int,
           ) -> dict[str, Any]:
    try:
        return _evaluate(design, job, points[i])
    except Exception as err:
        raise _failed(job, points, i, err) from err


def _remote(executor: Executor, job: _Job, points: list[tuple[Any, ...]],
            indexes: Iterable[int], results: list[dict[str, Any] | None], bar: _Bar) -> None:
    """Submit every point, collect them as they finish; on a failure, cancel the rest."""
    from concurrent.futures import as_completed

    futures = {executor.submit(_task, job, points[i]): i for i in indexes}
    try:
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as err:
                raise _failed(job, points, i, err) from err
            bar.advance()
    finally:
        for future in futures:
            future.cancel()


def _failed(job: _Job, points: list[tuple[Any, ...]], i: int, err: BaseException,
            ) -> SweepError:
    point = {k.key: v for k, v in zip(job.knobs, points[i], strict=True)}
    return SweepError(i, len(points), point, err)


def _cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def _process_pool(workers: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
              else "spawn")
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context(method))


class _Bar:
    """The sweep's progress bar: opened at once when ``progress`` asks for it; by default
    once the sweep has run :data:`BAR_AFTER_S` (tqdm is imported only then)."""

    def __init__(self, progress: bool | Any | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        self.started = time.perf_counter()
        self.bar: Any = None
        if progress is True or _stream(progress):
            self._open()

    def _open(self) -> None:
        stream = self.progress if _stream(self.progress) else None
        # by name: tqdm ships no type stubs; tqdm.auto is a widget in a notebook
        tqdm = importlib.import_module("tqdm.auto" if stream is None else "tqdm.std").tqdm
        self.bar = tqdm(total=self.total, initial=self.done, desc="sweep", unit="point",
                        file=stream)

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif (self.progress is None and self.done < self.total
              and time.perf_counter() - self.started >= BAR_AFTER_S):
            self._open()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _stream(progress: object) -> bool:
    return not isinstance(progress, bool | None) and callable(getattr(progress, "write", None))


# -- the table ---------------------------------------------------------------------------

def _table(design: Design, job: _Job, points: list[tuple[Any, ...]],
           results: list[dict[str, Any]]) -> SweepTable:
    found = set().union(*results)
    knobs = [k.key for k in job.knobs]
    columns = [*knobs, *metric_columns(design, job.metrics, found)]
    rows = [[*(_column_value(v) for v in point), *(result.get(c) for c in columns[len(knobs):])]
            for point, result in zip(points, results, strict=True)]
    return SweepTable(columns, rows)


def _column_value(value: Any) -> Any:
    """A knob's value as the table holds it: a scenario by its description."""
    from designkit.estimate.scenarios import Scenario

    if value is None:
        return "as designed"
    return value.describe() if isinstance(value, Scenario) else value

