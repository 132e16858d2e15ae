"""``simulate``: a discrete-event simulation (SimPy) of the same compiled design.

The analytic estimator (:func:`designkit.estimate.estimate`) approximates: Erlang C with the
Allen–Cunneen correction, independent waits, Clark's maximum. This module *runs* the very
program it solves — the same stations, the same nodes — with random arrivals and service
times, and measures. Agreement between the two is the check that the approximations hold
for a design; a disagreement says which number not to trust.

What is simulated (mirrors :mod:`designkit.estimate.solve`):

* Poisson arrivals per workload endpoint at ``rps × scale``.
* A station is ``copies`` independent FCFS queues of ``servers`` servers each. An
  execution of an endpoint runs on one replica of its service, picked uniformly at random
  (load balancing), and uses that replica's copy of the service's own stations (its
  workers, its connection pools); any other station's copy is picked uniformly at random
  on every arrival (sharding over servers).
* An endpoint waits for a worker of its service; a *blocking* service keeps it during cpu
  and all steps, an *async* one only during cpu.
* ``Visit``: ``count`` visits in a row (fractional: ⌊count⌋, plus one with the fraction's
  probability), each a wait and a service time drawn by the time's own sampler
  (:meth:`~designkit.flow.times.Spec.sampler`): constant (scv 0), gamma (0 < scv < 1),
  exponential (scv 1), balanced two-phase hyperexponential (scv > 1), or the fitted
  lognormal.
* ``Hold``: a server of the held station (pool connection, lock, worker) is kept while the
  body runs, plus ``extra``.
* ``Invoke``: the other endpoint runs synchronously (its worker wait included), ``count``
  times; an internal call is assumed to succeed, as in the estimator.
* ``ExternalCall``: attempts; each draws a latency, cut at the timeout (a timed-out attempt
  takes ``timeout_ms`` and fails), and fails besides with probability ``failure_rate``; a
  failed attempt is retried up to ``retries.max`` times after a backoff — constant or
  exponential from ``base_ms``, drawn uniform on [0, 2 × mean] = [0, full delay] with
  jitter ("full jitter"; its mean is :func:`~designkit.estimate.external.backoff_ms`). When
  the breaker is open in steady state (:func:`~designkit.estimate.external.attempts`), the
  call takes no time, sends nothing and fails. A call whose attempts all fail fails the
  request (the last attempt's cause: a timeout or the third party's error), which still
  runs its remaining steps, as in the estimator. With a bounded ``concurrency``, every attempt
  queues for a slot and holds it for the attempt. Retry budgets are not modelled (nor are
  they by the estimator).
* ``Publish``: a visit to the broker (``count`` times); the handler endpoint then starts
  on its own (not awaited).
* ``Seq`` in order; ``Par`` runs the branches as processes and waits for all; ``Loop`` runs
  its body ``count`` times; ``CacheRead`` visits the cache and, with probability 1 − hit,
  runs the miss branch.

How stations run: a station whose service time is known when a request arrives (a database
core, a cache or broker shard, an external concurrency slot, the worker of an async
service) is an exact FCFS multi-server queue kept as the vector of its servers' next free
times (Kiefer–Wolfowitz): the request takes the earliest free server, and one timeout covers
its wait and service. A *held* station (pool, lock, blocking worker), whose holding time is
only known on release, is a counted resource with a FIFO of waiting requests.

What is measured, over the window after the warm-up:

* per endpoint: executions started per second, and mean/p50/p95/p99 of the response times of
  executions *completed* in the window (every execution counts, whether it came from the
  workload, a synchronous call or a message); ``dist`` holds them as a histogram on a grid
  (a :class:`~designkit.maths.distributions.Dist`, as the estimate's), so plots and
  ``cdf``/``quantile`` work on a simulation too; and the share of them that failed, by
  the cause the request failed of first (``error_ratio``, ``errors``);
* per station: arrivals per second, utilization = busy server-time / (servers × copies ×
  window), busy servers on average, mean wait and mean service (holding) time;
* ``saturated``: a station is saturated when its measured utilization is ≥ 0.99 or its queue
  is still growing at the end (the mean wait in the last quarter of the window exceeds twice
  the first quarter's plus 1 % of the time between them; requests still queued at the end
  count with the wait they have had so far). An endpoint is saturated when a station on its
  synchronous path is; as in the estimate, its latencies are then ``inf`` and a saturated
  station's wait is ``inf``.

What is *not* measured, but taken from the analytic model: ``max_scale`` — the factor the
workload can grow by before the first station saturates is a property of the model, not
of one run (a simulation can only bracket it by many runs); it is the estimator's value, so
it is finite (or ``inf`` when nothing is loaded), never NaN. ``retry_storms`` are likewise
the estimator's. ``bottleneck`` is the station with the highest *measured* utilization.

Progress: ``progress=True`` prints a text bar to stderr at every 10 % of simulated time;
a callable is called with the fraction done (0.1, 0.2, …, 1.0); ``False`` is silent;
``None`` (default) is silent unless the run is expected to process more than a million
events (arrivals at all stations plus endpoint executions, from the estimator's rates), in
which case it prints the bar.

Randomness: one ``numpy.random.Generator`` seeded with ``seed`` feeds every draw (in blocks,
for speed); the same seed gives the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from designkit.errors import MissingDependencyError
from designkit.estimate.api import capacities, prepare
from designkit.estimate.background import background_stations
from designkit.estimate.capacity import retry_storms
from designkit.estimate.result import Capacities, Capacity, Estimate
from designkit.estimate.scenarios import Scenario
from designkit.estimate.sim_results import (
    measured_components,
    measured_endpoints,
    reporter,
    warn_if_short,
)
from designkit.estimate.sim_run import Simulation
from designkit.estimate.solve import solve
from designkit.model.profile import LoadProfile

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["simulate"]


def simulate(design: Design, duration_s: float = 60.0, seed: int = 0,
             warmup_s: float | None = None, workload: dict[str, float] | None = None,
             scenario: Scenario | None = None, days: float = 0.0, scale: float = 1.0,
             progress: bool | Callable[[float], object] | None = None,
             profile: LoadProfile | None = None) -> Estimate:
    """Simulate ``design`` event by event and measure what :func:`dk.estimate` predicts.

    Args:
        design: The design (it is validated first).
        duration_s: Simulated seconds measured, after the warm-up.
        seed: Seed of the random numbers: the same seed gives the same result.
        warmup_s: Simulated seconds run before measuring, so queues reach steady state.
            Default: 10 % of ``duration_s``, and at least five times the slowest endpoint's
            mean response time as the estimator predicts it (when finite).
        workload: Requests per second by ``"svc METHOD /path"``; default: the design's.
        scenario: What-if conditions, as for :func:`dk.estimate`.
        days: Days of table growth.
        scale: Factor on the workload (multiplies the scenario's).
        progress: ``True``: a text bar on stderr every 10 % of simulated time; a callable:
            called with the fraction done; ``False``: silent; ``None``: the bar only when
            more than ~10⁶ events are expected.
        profile: The workload's factor over the measured time (its 0 s is the end of the
            warm-up, which runs at its first factor), as :func:`dk.transient
            <designkit.estimate.transient.transient>` takes it; the result's ``timeline``
            then holds every measured request's arrival and latency.

    Returns:
        An :class:`~designkit.estimate.result.Estimate` of the same shape as
        :func:`dk.estimate`'s, with measured numbers (see the module's docstring; its
        ``max_scale`` and ``retry_storms`` are the estimator's).

    Raises:
        DesignError: The design or the workload is invalid.
        MissingDependencyError: SimPy is not installed.
        ValueError: ``duration_s`` or ``warmup_s`` is not a positive time.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.simulate import simulate
        >>> d = dk.Design(name="mm1")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
        >>> _ = d.set_load("api GET /x", 50)
        >>> e = simulate(d, duration_s=1000, seed=1)
        >>> abs(e.endpoints["api GET /x"].mean_ms / 20.0 - 1) < 0.05  # M/M/1, ρ 0.5: 2 × 10 ms
        True
        >>> round(e.station("api workers").utilization, 1)
        0.5
    """
    try:
        import simpy
    except ImportError:
        raise MissingDependencyError(
            "simulate needs SimPy; install it: pip install 'simpy>=4.1'") from None
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    if warmup_s is not None and not (math.isfinite(warmup_s) and warmup_s >= 0):
        raise ValueError(f"warmup_s must be ≥ 0 seconds, got {warmup_s!r}")
    source, program, load, total_scale, scenario = prepare(design, workload, scenario, days,
                                                           scale)
    analytic = solve(program, load, total_scale)
    if warmup_s is None:
        slowest = max((m.mean for m in analytic.endpoint_moments if math.isfinite(m.mean)),
                      default=0.0)
        warmup_s = max(0.1 * duration_s, 5.0 * slowest / 1000.0)
    per_ms = sum(analytic.endpoint_rate) + sum(
        s.arrival for s in analytic.stations if math.isfinite(s.arrival))
    expected_events = per_ms * (warmup_s + duration_s) * 1000.0
    report = reporter(progress, expected_events)

    sim = Simulation(simpy.Environment(), program, np.random.default_rng(seed),
                      warmup_s * 1000.0, duration_s * 1000.0, profile)
    for key, rps in load.items():
        if rps * total_scale > 0:
            sim.env.process(sim.source(program.index[key], rps * total_scale / 1000.0))
    if report is not None:
        sim.env.process(sim.ticker(report))
    sim.env.run(until=sim.end)
    sim.finish()
    if report is not None:
        report(1.0)

    user, back = capacities(program, load, total_scale)
    background = background_stations(program, load)
    endpoints = measured_endpoints(sim, [r > 0 for r in analytic.endpoint_rate])
    warn_if_short(endpoints, {str(ep.ref): math.isinf(analytic.endpoint_moments[i].mean)
                               for i, ep in enumerate(program.endpoints)}, duration_s)
    components = measured_components(source, sim)
    stations = [(sim.stats[i].utilization, i) for i in range(len(program.stations))
                if sim.stats[i].arrivals > 0 and not background[i]]
    worst = max(stations)[1] if stations else None
    return Estimate(
        design=design.name,
        scale=total_scale,
        days=days,
        scenario=f"{scenario.describe()}; simulated {duration_s:g} s, seed {seed}",
        endpoints=endpoints,
        components=components,
        capacity=Capacities(Capacity(
            program.stations[worst].component if worst is not None else None,
            program.stations[worst].id if worst is not None else None, user.max_scale),
            back),
        retry_storms=tuple(retry_storms(analytic)),
        utilization_max=design.policy.utilization_max,
        timeline=None if sim.arrived is None else {
            str(program.endpoints[i].ref): (np.asarray(sim.arrived[i]) / 1000.0,
                                           np.asarray(sim.samples[i]))
            for i in range(len(program.endpoints)) if sim.samples[i]},
        _source=design,
    )
