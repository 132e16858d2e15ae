"""Benchmark: review and draw generated designs of 1,000 and 10,000 components.

Goal: ``dk.assess`` of 10,000 components in <= 10 s (and larger designs in proportion);
``designkit render`` / ``report`` of 10,000 components refused at once (a layout that large
does not finish in a minute), and a view of it (``--only``) drawn in seconds.
Run with `make bench` (or `python benchmarks/bench_scale.py 1000 10000`).

Rows (seconds; wall clock, and for ``dk.assess`` the CPU time of this process, which
other work on the machine disturbs less):

* assess: ``dk.assess`` of a generated design (validation, estimates, every rule, waivers),
  best of three below 5,000 components, one run above;
* cli render / cli report: ``designkit render FILE --format svg`` and ``designkit report
  FILE -o DIR`` in a new process at the largest size, each stopped after 120 s: "refused"
  when it exits with status 2 (the design is too large to lay out: it names the views to
  draw instead), "timeout" when it was stopped;
* cli render --only …: views of it (an entry service and its neighbours, what its endpoint
  reaches), and ``report --only`` of the service's view.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate import generated_design

import designkit as dk

TIMEOUT_S = 120.0
VIEWS = ["svc-0", "endpoint:svc-0 GET /work"]
"""Views of a generated design: an entry service and its neighbours, what its endpoint
reaches (through every layer of services)."""


def assess_seconds(design: dk.Design, runs: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of ``dk.assess(design)`` over ``runs`` runs."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        dk.assess(design)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def cli(*args: str) -> tuple[float, str]:
    """Seconds and outcome of ``designkit ARGS`` in a new process (stopped after 120 s)."""
    command = [sys.executable, "-m", "designkit.cli", *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, f"timeout (stopped after {TIMEOUT_S:.0f} s)"
    seconds = time.perf_counter() - start
    if done.returncode == 0:
        return seconds, "ok"
    if done.returncode == 2:
        return seconds, "refused"
    last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return seconds, f"failed (exit {done.returncode}): {last[0][:60]}"


def row(what: str, components: int, seconds: float, result: str) -> None:
    print(f"{what:<44} {components:>10,} {seconds:>9.2f}  {result}", flush=True)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    print(f"{'':<44} {'components':>10} {'seconds':>9}  result", flush=True)
    design = dk.Design(name="none")
    for size in sizes:
        design = generated_design(size)
        wall, cpu = assess_seconds(design, 3 if size < 5_000 else 1)
        row("assess", len(design.components), wall, f"cpu {cpu:.2f} s")
    count = len(design.components)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "design.yaml"
        dk.save(design, path)
        row("cli render --format svg", count, *cli("render", str(path), "--format", "svg"))
        row("cli report -o DIR", count, *cli("report", str(path), "-o", f"{tmp}/report"))
        for view in VIEWS:
            row(f"cli render --only {view}", count,
                *cli("render", str(path), "--format", "svg", "--only", view))
        row(f"cli report --only {VIEWS[0]}", count,
            *cli("report", str(path), "-o", f"{tmp}/view", "--only", VIEWS[0]))


if __name__ == "__main__":
    main()
