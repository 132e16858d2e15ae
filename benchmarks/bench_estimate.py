"""Benchmark: estimate generated designs of 100 / 1,000 / 10,000 components.

Goal: <= 0.2 s in process and <= 1 s as a CLI run for 10,000 components.
Run with `make bench` (or `python benchmarks/bench_estimate.py 100 1000`).

Columns (seconds, best of three):

* load yaml / load json: ``dk.load`` of the design's text (parse, build, validate, and
  remember the digest of what passed);
* first: ``dk.estimate`` of a freshly loaded design and its ``max_scale`` (validation,
  compilation, solution, capacity search — run when first read —, bottleneck); endpoint
  percentiles are computed when first read;
* again: ``dk.estimate`` once more of the same, unchanged design (its compiled program is
  kept, by content fingerprint): what a what-if slider or another scenario costs;
* percentiles: reading mean/p50/p95/p99 of every endpoint of an estimate;
* cli yaml / cli json: ``designkit estimate FILE --format json`` in a new process (start-up,
  import, load, estimate, every percentile, the JSON).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate import generated_design

import designkit as dk


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def first_estimate(text: str) -> float:
    """A freshly loaded design, and no compiled program kept from an earlier estimate."""
    from designkit.estimate import api

    api.PROGRAMS.clear()
    design = dk.load(text)
    start = time.perf_counter()
    dk.estimate(design).max_scale  # noqa: B018 - the capacity search runs when read
    return time.perf_counter() - start


def percentiles(design: dk.Design) -> float:
    """Seconds to read every endpoint's percentiles of a new estimate."""
    estimate = dk.estimate(design)  # a new solution: nothing read yet
    start = time.perf_counter()
    for endpoint in estimate.endpoints.values():
        endpoint.p99_ms  # noqa: B018 - reading computes it
    return time.perf_counter() - start


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1_000, 10_000]
    columns = ["components", "endpoints", "load yaml", "load json", "first", "again",
               "percentiles", "cli yaml", "cli json"]
    print("  ".join(f"{c:>11}" for c in columns), flush=True)
    for size in sizes:
        design = generated_design(size)
        texts = {"yaml": dk.dump(design), "json": dk.dump(design, "json")}
        endpoints = sum(1 for _ in design.endpoints())
        load = {f: best_of(3, lambda t=t: dk.load(t)) for f, t in texts.items()}  # type: ignore[misc]
        first = min(first_estimate(texts["json"]) for _ in range(3))
        dk.estimate(design).max_scale  # noqa: B018
        again = best_of(3, lambda design=design: dk.estimate(design).max_scale)  # type: ignore[misc]
        reading = min(percentiles(design) for _ in range(3))
        cli = {}
        with tempfile.TemporaryDirectory() as tmp:
            for fmt, text in texts.items():
                path = Path(tmp) / f"design.{fmt}"
                path.write_text(text)
                cli[fmt] = best_of(3, lambda path=path: subprocess.run(  # type: ignore[misc]
                    [sys.executable, "-m", "designkit.cli", "estimate", str(path), "--format",
                     "json"], check=True, capture_output=True))
        row = [f"{len(design.components):,}", f"{endpoints:,}"] + [
            f"{v:.3f}" for v in (load["yaml"], load["json"], first, again, reading,
                                 cli["yaml"], cli["json"])]
        print("  ".join(f"{c:>11}" for c in row), flush=True)


if __name__ == "__main__":
    main()
