"""Benchmark: estimate generated designs of 100 / 1,000 / 10,000 components.

Goal: <= 0.2 s in process and <= 1 s as a CLI run for 10,000 components.
Run with `make bench`.
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


def best_of(runs: int, fn: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1_000, 10_000]
    print(f"{'components':>10}  {'endpoints':>9}  {'load s':>7}  {'estimate s':>10}  "
          f"{'cli s':>7}")
    for size in sizes:
        design = generated_design(size)
        text = dk.dump(design)
        endpoints = sum(1 for _ in design.endpoints())
        load_s = best_of(3, lambda text=text: dk.load(text))
        estimate_s = best_of(3, lambda design=design: dk.estimate(design))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "design.yaml"
            path.write_text(text)
            cli_s = best_of(3, lambda path=path: subprocess.run(
                [sys.executable, "-m", "designkit.cli", "estimate", str(path), "--format",
                 "json"], check=True, capture_output=True))
        print(f"{len(design.components):>10,}  {endpoints:>9,}  {load_s:>7.3f}  "
              f"{estimate_s:>10.3f}  {cli_s:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
