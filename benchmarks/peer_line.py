"""The peer of issue 16's tandem target: the LINE solver's MVA on an open tandem.

A Poisson source (``rate`` per second) feeds ``stations`` single-server FCFS queues in
series, each with exponential service of mean ``service_s`` seconds, then a sink — the
network ``bench_targets.tandem_design`` builds in designkit. LINE is called through its
native Python package (``line_solver``, no JVM): ``Network`` / ``Source`` / ``Queue`` /
``Sink`` / ``OpenClass`` with ``Exp`` times, ``Network.serial_routing``, then
``SolverMVA(model, method="exact", lang="python", verbose=False)``, ``runAnalyzer()``,
``getAvgSysRespT()`` (the mean response time of the source's chain) and ``getAvgUtil()``.

Timed (seconds):

* build: making the ``Network`` object (not compared: designkit's design is built apart
  too);
* first: ``SolverMVA`` on a freshly built model (it extracts the network's structure),
  ``runAnalyzer`` and ``getAvgSysRespT`` — best of ``runs``, a new model each time;
* again: the same on the last model once more (LINE keeps the structure in the model),
  best of ``runs``.

Run in its own process by ``bench_targets.py`` (``python benchmarks/peer_line.py
STATIONS RATE SERVICE_S RUNS``) so that pandas and LINE's imports weigh on none of the
in-process timings there; the last line printed is a JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

INSTALL = "peer not installed: pip install -e '.[bench]'"


def available() -> bool:
    """Whether LINE's Python package can be imported here (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("line_solver") is not None


def tandem_network(stations: int, rate: float, service_s: float) -> Any:
    """LINE's ``Network`` of ``stations`` M/M/1 FCFS queues in series after a source."""
    from line_solver import Exp, Network, OpenClass, Queue, SchedStrategy, Sink, Source

    model = Network(f"tandem-{stations}")
    source = Source(model, "Source")
    queues = [Queue(model, f"station-{i}", SchedStrategy.FCFS) for i in range(stations)]
    sink = Sink(model, "Sink")
    job = OpenClass(model, "Job")
    source.setArrival(job, Exp(rate))  # Exp takes a rate
    for queue in queues:
        queue.setService(job, Exp(1.0 / service_s))
    model.link(Network.serial_routing([source, *queues, sink]))
    return model


def solve(model: Any) -> tuple[float, Any, str]:
    """LINE's exact MVA in native Python: mean response time (s), the solver, its lang."""
    from line_solver import SolverMVA

    solver = SolverMVA(model, method="exact", lang="python", verbose=False)
    solver.runAnalyzer()
    response = float(solver.getAvgSysRespT()[0])
    return response, solver, str(solver.options.lang)


def tandem(stations: int, rate: float, service_s: float, runs: int = 3) -> dict[str, Any]:
    """Build and solve the tandem with LINE; seconds, the mean response and utilizations."""
    import line_solver

    firsts, builds = [], []
    model: Any = None
    for _ in range(runs):
        start = time.perf_counter()
        model = tandem_network(stations, rate, service_s)
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        response, solver, lang = solve(model)
        firsts.append(time.perf_counter() - start)
    agains = []
    for _ in range(runs):
        start = time.perf_counter()
        response, solver, lang = solve(model)
        agains.append(time.perf_counter() - start)
    util = [float(u) for u in solver.getAvgUtil()[:, 0]]
    queue_util = util[1:]  # station 0 is the source
    version = getattr(line_solver, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("line-solver")
    return {"stations": stations, "rate": rate, "service_s": service_s,
            "mean_response_s": response, "util_min": min(queue_util),
            "util_max": max(queue_util), "queues": len(queue_util),
            "build_s": min(builds), "first_s": min(firsts), "again_s": min(agains),
            "solver": f"SolverMVA(method='exact', lang={lang!r})",
            "version": str(version)}


def main() -> None:
    stations, rate, service_s, runs = (int(sys.argv[1]), float(sys.argv[2]),
                                       float(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(tandem(stations, rate, service_s, runs)))


if __name__ == "__main__":
    main()
