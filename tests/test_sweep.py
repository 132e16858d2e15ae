"""``dk.sweep``: every point equals a brute-force loop of ``dk.estimate`` / ``dk.simulate``
on the same copy, load, scenario and seed — here, in threads, in processes and on a real
Dask cluster — in grid order, with errors that name what is wrong."""

from __future__ import annotations

import importlib
import io
import math
import re
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import designkit as dk
from designkit.sweep import SweepError, sweep
from designkit.sweep_table import SweepTable

sweep_module = importlib.import_module("designkit.sweep")  # dk.sweep is the function

METRICS = ["max_scale", "bottleneck", "p95:api GET /x", "p99:api GET /y", "mean:api GET /x",
           "utilization:db", "utilization:api workers", "saturated"]


def tiny() -> dk.Design:
    """A service whose requests read a cache (misses go to a database; the step states its
    own hit ratio), and a second endpoint: one replica of 4 workers saturates at about 2.8×
    the load."""
    d = dk.Design(name="tiny")
    api = d.service("api", replicas=1, workers=4)
    api.endpoint("GET /x", cpu_ms=5).cache("c", hit_ratio=0.7).call("db", service_ms=4)
    api.endpoint("GET /y", cpu_ms=2)
    d.cache("c", hit_ratio=0.8)
    d.database("db", cores=2)
    d.set_load("api GET /x", 200).set_load("api GET /y", 100)
    return d


def measured(e: dk.Estimate, metrics: list[str] = METRICS) -> dict[str, Any]:
    """The metrics as a loop reads them from one estimate."""
    out: dict[str, Any] = {}
    for name in metrics:
        stat, _, subject = name.partition(":")
        if not subject:
            out[name] = getattr(e, stat)
        elif stat == "utilization":
            found = e.components.get(subject)
            out[name] = found.utilization if found else e.station(subject).utilization
        else:
            out[name] = getattr(e.endpoints[subject], {"mean": "mean_ms"}.get(stat,
                                                                             f"{stat}_ms"))
    return out


def resized(design: dk.Design, **settings: Any) -> dk.Design:
    copy = design.model_copy(deep=True)
    for key, value in settings.items():
        name, field = key.split("__")
        setattr(copy.components[name], field, value)
    return copy


def brute_scale_replicas(design: dk.Design, scales: list[float], replicas: list[int],
                         ) -> list[dict[str, Any]]:
    return [{"scale": s, "api.replicas": r,
             **measured(dk.estimate(resized(design, api__replicas=r), scale=s))}
            for s in scales for r in replicas]


SCALES, REPLICAS = [1.0, 2.0, 3.0], [1, 2]


@pytest.fixture(scope="module")
def expected() -> list[dict[str, Any]]:
    rows = brute_scale_replicas(tiny(), SCALES, REPLICAS)
    # the knob moves the numbers (a sweep that dropped it would not match the loop)
    by_replicas = {r: [row for row in rows if row["api.replicas"] == r] for r in REPLICAS}
    assert all(a["p95:api GET /x"] != b["p95:api GET /x"] and a["max_scale"] != b["max_scale"]
               for a, b in zip(by_replicas[1], by_replicas[2], strict=True))
    assert len({row["p95:api GET /x"] for row in by_replicas[1]}) == len(SCALES)
    return rows


@pytest.mark.parametrize("make", [None, lambda: ThreadPoolExecutor(max_workers=2),
                                  lambda: ProcessPoolExecutor(max_workers=2)],
                         ids=["default", "threads", "processes"])
def test_grid_equals_the_loop_on_every_executor(make: Any, expected: list[dict[str, Any]],
                                                ) -> None:
    executor = make() if make else None
    try:
        table = dk_sweep(tiny(), over={"scale": SCALES, "api.replicas": REPLICAS},
                         metrics=METRICS, executor=executor)
    finally:
        if executor is not None:
            executor.shutdown()
    assert table.columns == ("scale", "api.replicas", *METRICS)
    assert table.rows == expected


def dk_sweep(*args: Any, **kwargs: Any) -> SweepTable:
    """``dk.sweep`` once the package exports it; the module's function until then."""
    found = getattr(dk, "sweep", None)
    return (found if callable(found) else sweep)(*args, **kwargs)


def test_the_default_process_pool_of_a_long_sweep(monkeypatch: pytest.MonkeyPatch,
                                                  expected: list[dict[str, Any]]) -> None:
    monkeypatch.setattr(sweep_module, "LOCAL_S", 0.0)  # as if the points took long
    started: list[Executor] = []
    real = sweep_module._process_pool
    monkeypatch.setattr(sweep_module, "_process_pool",
                        lambda n: started.append(real(n)) or started[-1])
    table = sweep(tiny(), over={"scale": SCALES, "api.replicas": REPLICAS}, metrics=METRICS)
    assert len(started) == 1 and table.rows == expected


def test_short_sweeps_run_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "_process_pool", lambda n: pytest.fail("a pool"))
    assert len(sweep(tiny(), over={"scale": [1, 2]})) == 2


def test_every_knob_kind_equals_the_loop() -> None:
    d = tiny()
    d.components["db"].tables = {"items": {
        "rows": 1000, "growth_per_day": 1000,
        "columns": {"id": {"type": "int", "primary_key": True}, "name": {}}}}
    d.endpoint("api GET /y").call("db", query={"table": "items", "kind": "select",
                                                "where": ["name"]})
    cold = dk.Scenario(cold_caches=True, name="cold")
    over = {"c.hit_ratio": [0.5, 0.9], "workload.api get /y": [50.0, 150.0],
            "days": [0, 30], "scenario": [None, cold], "db.cores": [2, 3]}
    table = sweep(d, over=over, metrics=METRICS)
    rows = []
    for hit in over["c.hit_ratio"]:
        for rps in over["workload.api get /y"]:
            for days in over["days"]:
                for scenario in over["scenario"]:
                    for cores in over["db.cores"]:
                        copy = resized(d, db__cores=cores, c__hit_ratio=hit)
                        for step in copy.endpoint("api GET /x").steps:
                            if isinstance(step, dk.CacheStep):
                                step.hit_ratio = hit  # as the explorer sets it
                        e = dk.estimate(copy, workload={"api GET /x": 200, "api GET /y": rps},
                                        scenario=scenario, days=days)
                        rows.append([hit, rps, days,
                                     "as designed" if scenario is None else "cold: caches cold",
                                     cores, *measured(e).values()])
    assert table.columns == ("c.hit_ratio", "workload.api get /y", "days", "scenario",
                             "db.cores", *METRICS)
    assert [list(row.values()) for row in table] == rows
    # each knob moves some number: dropping any one would not match the loop
    for i, key in enumerate(over):
        others = [j for j in range(len(over)) if j != i]
        groups: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[j] for j in others), set()).add(tuple(row[5:]))
        assert any(len(numbers) > 1 for numbers in groups.values()), key


@pytest.mark.filterwarnings("ignore:.*simulate longer:RuntimeWarning")  # short on purpose
def test_simulation_replications_equal_a_loop_with_the_same_seeds() -> None:
    d = tiny()
    metrics = ["p50:api GET /x", "p95:api GET /x", "mean:api GET /y", "utilization:db"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        table = sweep(d, over={"seed": [1, 2, 3]}, metrics=metrics, method="simulate",
                      duration_s=5, executor=pool)
    loop = [{"seed": s, **measured(dk.simulate(d, duration_s=5, seed=s, progress=False),
                                   metrics)} for s in (1, 2, 3)]
    assert table.rows == loop
    assert len({row["p95:api GET /x"] for row in loop}) == 3  # the seed moves the numbers


@pytest.fixture(scope="module")
def dask_client(request: pytest.FixtureRequest) -> Any:
    distributed = pytest.importorskip("distributed", reason="pip install -e '.[distributed]'")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    request.addfinalizer(cluster.close)
    client = distributed.Client(cluster)
    request.addfinalizer(client.close)
    return client


def test_a_real_dask_cluster_gives_the_loop(dask_client: Any,
                                            expected: list[dict[str, Any]]) -> None:
    table = sweep(tiny(), over={"scale": SCALES, "api.replicas": REPLICAS}, metrics=METRICS,
                  executor=dask_client.get_executor())
    assert table.rows == expected
    workers = dask_client.run(lambda: "designkit.sweep" in __import__("sys").modules)
    assert len(workers) == 2 and all(workers.values())  # it ran there, not here
    with pytest.raises(SweepError, match=r"point 2 of 2 \(api.replicas=1\)") as caught:
        sweep(tiny(), over={"api.replicas": [2, 1]}, executor=dask_client.get_executor(),
              scenario=dk.Scenario(lost_replicas={"api": 1}))
    assert isinstance(caught.value.__cause__, dk.DesignError)  # it came back whole


def test_a_client_itself_is_refused_with_the_fix() -> None:
    class Client:
        def get_executor(self) -> None: ...

    with pytest.raises(TypeError, match=r"pass client\.get_executor\(\)"):
        sweep(tiny(), over={"scale": [1]}, executor=Client())  # type: ignore[arg-type]


class Reversed(Executor):
    """Runs every task once all are submitted, finishing them last first."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.tasks: list[tuple[Future[Any], Any, tuple[Any, ...]]] = []
        self.finished: list[Any] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.tasks.append((future, fn, args))
        if len(self.tasks) == self.count:
            threading.Thread(target=self._finish).start()
        return future

    def _finish(self) -> None:
        for future, fn, args in reversed(self.tasks):
            future.set_result(fn(*args))
            self.finished.append(args[1])
            time.sleep(0.01)


def test_rows_keep_the_grid_order_when_tasks_finish_out_of_order(
        expected: list[dict[str, Any]]) -> None:
    executor = Reversed(len(expected))
    table = sweep(tiny(), over={"scale": SCALES, "api.replicas": REPLICAS}, metrics=METRICS,
                  executor=executor)
    assert executor.finished == [(s, r) for s in SCALES for r in REPLICAS][::-1]
    assert table.rows == expected


@pytest.mark.parametrize("executor", [None, "threads", "processes"])
def test_a_failing_point_is_named_and_stops_the_sweep(executor: str | None) -> None:
    lose = dk.Scenario(lost_replicas={"api": 1})
    pool = (None if executor is None else ThreadPoolExecutor(max_workers=1)
            if executor == "threads" else ProcessPoolExecutor(max_workers=1))
    with pytest.raises(SweepError) as caught:
        sweep(tiny(), over={"scale": [1.0, 2.0], "api.replicas": [2, 1]}, scenario=lose,
              executor=pool)
    if pool:
        pool.shutdown()
    err = caught.value
    assert err.point == {"scale": 1.0, "api.replicas": 1} and err.index == 1
    assert "sweep point 2 of 4 (scale=1.0, api.replicas=1) failed: DesignError" in str(err)
    assert "has 1 replicas; losing 1 leaves none" in str(err)
    assert isinstance(err.__cause__, dk.DesignError) and isinstance(err, dk.DesignkitError)


@pytest.mark.parametrize(("over", "said"), [
    ({"api.replica": [1]}, "over.\"api.replica\": 'api' is a service; a sweep can change its "
                           "replicas, workers (did you mean 'api.replicas'?)"),
    ({"apii.replicas": [1]}, "over.\"apii.replicas\": unknown knob (did you mean 'api.replicas'"),
    ({"db.pool": [5]}, "'db' is a database; a sweep can change its cores, pool_size "
                       "(did you mean 'db.pool_size'?)"),
    ({"workload.api GET /z": [1]}, "unknown endpoint (did you mean 'workload.api GET /y' or "
                                   "'workload.api GET /x'?)"),
    ({"sclae": [1]}, "unknown knob (did you mean 'scale'?)"),
    ({"seed": [1]}, "a seed is a simulation's: pass method='simulate'"),
    ({"api.replicas": [2, 0]}, 'over."api.replicas"[1]: must be ≥ 1, got 0'),
    ({"api.replicas": [1.5]}, 'over."api.replicas"[0]:'),
    ({"scale": [1, -1]}, "over.scale[1]: scale must be a finite number > 0, got -1"),
    ({"scale": []}, "over.scale: has no values to sweep"),
    ({"scale": 2}, "over.scale: must be a list of values, got 2"),
    ({"scenario": [dk.Scenario(slow={"dbb": 2})]},
     "over.scenario[0]: scenario.slow.dbb: unknown component 'dbb' (did you mean 'db'?)"),
])
def test_wrong_knobs_and_values_are_refused_before_anything_runs(
        over: dict[str, Any], said: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "_evaluate", lambda *a: pytest.fail("it ran"))
    with pytest.raises(dk.DesignError) as caught:
        sweep(tiny(), over=over)
    assert said in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(dk.DesignError) as caught:
        sweep(tiny(), over={"api.replica": [1], "scale": [0, 1, -2]},
              metrics=["p96:api GET /x", "max_scale"], scenario=dk.Scenario(down=("dbb",)))
    assert [p.path for p in caught.value.problems] == [
        "metrics[0]", 'over."api.replica"', "over.scale[0]", "over.scale[2]", "scenario"]


def test_replicas_lost_from_a_swept_service_are_judged_at_each_point() -> None:
    lose = dk.Scenario(lost_replicas={"api": 1})  # the design has one replica
    table = sweep(tiny(), over={"api.replicas": [2, 3]}, scenario=lose, metrics=["max_scale"])
    assert table.rows == [{"api.replicas": r, "max_scale": dk.estimate(
        resized(tiny(), api__replicas=r), scenario=lose).max_scale} for r in (2, 3)]
    with pytest.raises(dk.DesignError, match="losing 1 leaves none"):
        sweep(tiny(), over={"scale": [1, 2]}, scenario=lose)


@pytest.mark.parametrize(("metric", "said"), [
    ("p95:api GET /z", "unknown endpoint 'api GET /z' (did you mean 'p95:api GET /y' or "
                       "'p95:api GET /x'?)"),
    ("p96:api GET /x", "unknown metric 'p96:api GET /x' (did you mean 'p99:' or 'p95:'?)"),
    ("max_scal", "(did you mean 'max_scale'?)"),
    ("utilization:dbb", "(did you mean 'utilization:db'"),
    ("utilization:api worker", "(did you mean 'utilization:api workers'"),
])
def test_unknown_metrics_say_the_nearest(metric: str, said: str) -> None:
    with pytest.raises(dk.DesignError) as caught:
        sweep(tiny(), over={"scale": [1]}, metrics=[metric])
    assert said in str(caught.value)


def test_wrong_arguments_are_refused() -> None:
    with pytest.raises(dk.ArgumentError, match="method='simulate'"):
        sweep(tiny(), over={"scale": [1]}, duration_s=5)
    with pytest.raises(dk.ArgumentError, match="method must be"):
        sweep(tiny(), over={"scale": [1]}, method="simulat")  # type: ignore[arg-type]


def test_saturated_points_are_inf_never_nan(expected: list[dict[str, Any]]) -> None:
    table = sweep(tiny(), over={"scale": [3.0], "api.replicas": [1, 2]}, metrics=METRICS)
    saturated, fine = table.rows
    assert saturated["saturated"] and math.isinf(saturated["p95:api GET /x"])
    assert saturated["max_scale"] < 1 and not fine["saturated"]
    assert math.isfinite(fine["p95:api GET /x"])
    assert "inf" in str(table) and "∞" in table._repr_html_()
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(table)
    assert list(frame.columns) == list(table.columns)
    assert math.isinf(frame["p95:api GET /x"][0]) and not frame.isna().any().any()
    assert frame.equals(table.to_pandas())


def test_default_metrics_are_capacity_and_each_loaded_endpoint_p95() -> None:
    d = tiny()
    table = sweep(d, over={"workload.api GET /y": [0.0, 100.0]})
    assert table.columns == ("workload.api GET /y", "max_scale", "bottleneck",
                             "p95:api GET /x", "p95:api GET /y")
    assert table["p95:api GET /y"][0] is None  # no traffic there
    assert table["p95:api GET /y"][1] == dk.estimate(d).endpoints["api GET /y"].p95_ms
    assert table["bottleneck"] == ["api", "api"]


def test_wildcard_utilization_gives_every_component() -> None:
    table = sweep(tiny(), over={"scale": [1]}, metrics=["utilization:*"])
    e = dk.estimate(tiny())
    assert table.rows == [{"scale": 1.0, **{f"utilization:{n}": c.utilization
                                            for n, c in e.components.items()}}]


def test_the_bar_writes_to_the_stream_it_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    sweep(tiny(), over={"scale": [1, 2, 3]}, progress=stream)
    assert re.search(r"sweep: 100%.*3/3", stream.getvalue())
    sweep(tiny(), over={"scale": [1, 2, 3]})  # short: no bar by default
    sweep(tiny(), over={"scale": [1, 2, 3]}, progress=False)
    assert capsys.readouterr().err == ""


def test_a_long_sweep_shows_its_bar_by_default(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sweep_module, "BAR_AFTER_S", 0.0)
    sweep(tiny(), over={"scale": [1, 2, 3]})
    assert re.search(r"sweep: 100%.*3/3", capsys.readouterr().err)


def test_the_table_reads_as_plain_data() -> None:
    t = SweepTable(["a", "b"], [(1, "x"), (2, None)])
    assert t.to_dict() == {"a": [1, 2], "b": ["x", None]} and len(t) == 2
    assert list(t) == t.rows == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    assert str(t) == "a  b\n1  x\n2  -"
    with pytest.raises(KeyError, match="did you mean 'a'"):
        t["A"]
    with pytest.raises(ValueError, match="row 0 has 1 values for 2 columns"):
        SweepTable(["a", "b"], [(1,)])
    long = SweepTable(["i"], [(i,) for i in range(100)])
    assert "… 80 more rows …" in repr(long) and "… 80 more rows …" in long._repr_html_()
    assert len(str(long).splitlines()) == 101


def test_the_guide_example_runs() -> None:
    """docs/sweeps.md's first example (the later Dask snippet starts a cluster of its own)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "sweeps.md").read_text("utf-8")
    block = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    exec(compile(block, "docs/sweeps.md", "exec"), {"__name__": "__main__"})


def test_a_design_error_crosses_a_process_boundary_whole() -> None:
    """A task's DesignError comes back from another process with its problems (pickled by
    them, not by its text)."""
    import pickle

    from designkit.errors import Problem
    from designkit.imports.openapi_document import OpenApiError

    for error in (dk.DesignError([Problem("a.b", "bad", ("c",))], source="x.yaml"),
                  dk.UnsupportedVersionError([Problem("designkit", "too new")]),
                  OpenApiError([Problem("#/openapi", "2.0 is not read")])):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert (back.problems, back.source, str(back)) == (error.problems, error.source,
                                                           str(error))
