"""The machinery of ``benchmarks/bench_targets.py`` (issue 16's target table) on tiny
inputs: the tandem it builds is what it claims, and verdicts and the table come out right.
Timing itself is not tested (``make bench`` measures it)."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import designkit as dk

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """``benchmarks/bench_targets.py``, loaded under a private name; the path and the
    benchmark modules it imports (``generate``, ``bench_estimate``, ``peer_line``) are put
    back as they were afterwards."""
    name = "_bench_targets"
    path, modules = list(sys.path), set(sys.modules)
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / "bench_targets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = path
        for added in {name, "generate", "bench_estimate", "peer_line"} - modules:
            sys.modules.pop(added, None)


def test_a_tandem_of_20_is_20_single_servers_at_half_load_with_the_closed_form_mean(
        bench: ModuleType) -> None:
    design = bench.tandem_design(20, rate=1.0, service_s=0.5)
    e = dk.estimate(design)
    loaded = [s for c in e.components.values() for s in c.stations.values()
              if s.utilization > 0]
    assert len(loaded) == 20
    assert all(s.servers == 1 and s.utilization == pytest.approx(0.5, rel=1e-12)
               and s.arrival_rps == pytest.approx(1.0) for s in loaded)
    mean = e.endpoints[bench.TANDEM_ENDPOINT].mean_ms
    assert mean == pytest.approx(20 * 500.0 / (1 - 0.5), rel=1e-9)  # 20 s
    assert bench.closed_form_ms(20, 1.0, 0.5) == 20_000.0
    assert bench.check_tandem(e, 20, 1.0, 0.5) == pytest.approx(20_000.0, rel=1e-9)


def test_check_tandem_refuses_a_tandem_at_another_load(bench: ModuleType) -> None:
    e = dk.estimate(bench.tandem_design(5, rate=1.5, service_s=0.5))  # ρ 0.75
    assert e.endpoints[bench.TANDEM_ENDPOINT].mean_ms == pytest.approx(5 * 2000.0, rel=1e-9)
    with pytest.raises(AssertionError, match="ρ"):
        bench.check_tandem(e, 5, 1.0, 0.5)


def test_verdicts_of_upper_and_lower_bounds(bench: ModuleType) -> None:
    assert bench.verdict(2.9, 3.0) == "MET"
    assert bench.verdict(3.0, 3.0) == "MET"
    assert bench.verdict(3.01, 3.0) == "MISSED"
    assert bench.verdict(150.0, 100.0, at_least=True) == "MET"
    assert bench.verdict(99.9, 100.0, at_least=True) == "MISSED"
    assert bench.verdict(None, 3.0) == "MISSED"
    assert bench.verdict(math.nan, 3.0) == "MISSED"


def test_a_timed_row_and_the_table(bench: ModuleType) -> None:
    fast = bench.timed_row("re-estimate", 0.0021, 0.003, "median of 31")
    slow = bench.timed_row("cli json", 1.73, 1.5, unit="s")
    assert (fast.measured, fast.goal, fast.verdict, fast.value) == (
        "2.1 ms", "≤ 3 ms", "MET", pytest.approx(2.1))
    assert (slow.measured, slow.goal, slow.verdict) == ("1.73 s", "≤ 1.5 s", "MISSED")
    fast.number, slow.number = "1", "4a"
    lines = bench.table([fast, slow]).splitlines()
    assert lines[0].split() == ["#", "target", "measured", "goal", "verdict"]
    assert lines[2].split()[0] == "1" and lines[2].endswith("MET")
    assert lines[3].strip() == "median of 31"
    assert lines[4].split()[0] == "4a" and lines[4].endswith("MISSED")


def test_a_row_that_breaks_is_an_error_row(bench: ModuleType) -> None:
    def broken() -> list[object]:
        raise RuntimeError("no dot")

    [row] = bench.guarded("2", "explorer", "≤ 100 ms", broken)
    assert (row.number, row.verdict, row.note) == ("2", "ERROR", "RuntimeError: no dot")
    rows = bench.guarded("8", "context", "—", lambda: [bench.Row("a", "1 s", "—", "—"),
                                                       bench.Row("b", "2 s", "—", "—")])
    assert [r.number for r in rows] == ["8a", "8b"]


def test_the_small_design_row_reads_the_templates(bench: ModuleType) -> None:
    design = dk.template("dashboard-slow")
    assert len(design.components) <= 20
    assert bench.reestimate_seconds(design, runs=3) > 0
