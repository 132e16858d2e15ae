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
import sys
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterator
from heapq import heappush, heapreplace
from typing import TYPE_CHECKING, Any, assert_never

import numpy as np
from numpy.typing import NDArray

from designkit.errors import MissingDependencyError
from designkit.estimate.api import capacities, prepare
from designkit.estimate.background import background_stations
from designkit.estimate.capacity import retry_storms
from designkit.estimate.external import attempts, backoff_ms
from designkit.estimate.program import Program
from designkit.estimate.result import (
    Capacities,
    Capacity,
    ComponentEstimate,
    EndpointEstimate,
    Estimate,
    Sampled,
    StationEstimate,
    Successes,
)
from designkit.estimate.scenarios import Scenario
from designkit.estimate.solve import solve
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    EndpointFlow,
    ExternalCall,
    Fallback,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Publish,
    Seq,
    Visit,
)
from designkit.flow.times import Sampler, Spec, in_blocks
from designkit.maths.distributions import Dist, Grid
from designkit.model.profile import LoadProfile

if TYPE_CHECKING:
    from simpy import Environment, Event

    from designkit.model.design import Design

__all__ = ["simulate"]

Gen = Generator["Event", Any, "str | None"]  # returns what it failed of, if it failed
Factory = Callable[[], Gen]  # an endpoint's execution (it picks its replica)
Step = Callable[[int], Gen]  # a compiled node, run on the given replica of its service

_AUTO_PROGRESS_EVENTS = 1e6
_SATURATED_UTILIZATION = 0.99


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
    report = _reporter(progress, expected_events)

    sim = _Simulation(simpy.Environment(), program, np.random.default_rng(seed),
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
    endpoints = _endpoints(sim, [r > 0 for r in analytic.endpoint_rate])
    _warn_if_short(endpoints, {str(ep.ref): math.isinf(analytic.endpoint_moments[i].mean)
                               for i, ep in enumerate(program.endpoints)}, duration_s)
    components = _components(source, sim)
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


# -- stations ------------------------------------------------------------------------------


class _Stats:
    """What a station measured in the window ``[warm, end]``."""

    __slots__ = ("area", "arrivals", "capacity", "end", "per_quarter", "quarter_n",
                 "quarter_w", "served", "service_sum", "span", "wait_n", "wait_sum", "warm")

    def __init__(self, capacity: int, warm: float, end: float) -> None:
        self.capacity = capacity
        self.warm, self.end = warm, end
        self.span = end - warm
        self.per_quarter = 4.0 / self.span
        self.arrivals = 0
        self.wait_sum = 0.0
        self.wait_n = 0
        self.service_sum = 0.0
        self.served = 0
        self.area = 0.0  # busy server-ms in the window
        self.quarter_w = [0.0] * 4  # waits of arrivals by quarter of the window
        self.quarter_n = [0] * 4

    def waited(self, arrived: float, wait: float) -> None:
        """A request that arrived at ``arrived`` (≥ warm) got a server after ``wait``."""
        self.wait_sum += wait
        self.wait_n += 1
        q = int((arrived - self.warm) * self.per_quarter)
        q = q if q < 3 else 3
        self.quarter_w[q] += wait
        self.quarter_n[q] += 1

    @property
    def utilization(self) -> float:
        return self.area / (self.capacity * self.span)

    @property
    def growing(self) -> bool:
        """The queue still grows: waits in the last quarter far above the first's."""
        if self.quarter_n[0] == 0 or self.quarter_n[3] == 0:
            return False
        first = self.quarter_w[0] / self.quarter_n[0]
        last = self.quarter_w[3] / self.quarter_n[3]
        return last > 2.0 * first + 0.01 * 0.75 * self.span

    @property
    def saturated(self) -> bool:
        return self.utilization >= _SATURATED_UTILIZATION or self.growing


class _Plain:
    """FCFS copies of ``servers`` servers whose service time is known on arrival: the
    vector of next free times per copy gives each arrival its start exactly.

    A copy's heap holds only the servers used so far (an unused one is free now), so its
    size is the most servers ever busy at once, not ``servers``: a station of 10⁵ workers
    costs what its load does."""

    __slots__ = ("copies", "end", "free", "heaps", "servers", "stats", "uniform", "warm")

    def __init__(self, servers: int, copies: int, stats: _Stats,
                 uniform: Callable[[], float]) -> None:
        self.copies = copies
        self.servers = servers
        self.free = [0.0] * copies if servers == 1 else None
        self.heaps: list[list[float]] = [[] for _ in range(copies)] if servers > 1 else []
        self.stats = stats
        self.warm, self.end = stats.warm, stats.end
        self.uniform = uniform

    def visit(self, now: float, service: float, k: int = -1) -> float:
        """Queue an arrival at ``now`` needing ``service`` ms at copy ``k`` (``-1``: one
        picked at random); the time until it is done."""
        if k < 0:
            k = int(self.uniform() * self.copies) if self.copies > 1 else 0
        free = self.free
        if free is not None:
            f = free[k]
            start = f if f > now else now
            free[k] = done = start + service
        else:
            heap = self.heaps[k]
            if heap and (heap[0] <= now or len(heap) >= self.servers):
                f = heap[0]
                start = f if f > now else now
                done = start + service
                heapreplace(heap, done)
            else:  # a server never used yet: free now
                start = now
                done = now + service
                heappush(heap, done)
        warm = self.warm
        if done > warm:
            stats = self.stats
            end = self.end
            if now >= warm:
                stats.arrivals += 1
                stats.waited(now, start - now)
                stats.service_sum += service
                stats.served += 1
                stats.area += (done if done < end else end) - start if start < end else 0.0
            else:
                stats.area += (done if done < end else end) - (start if start > warm else warm)
        return done - now


class _Held:
    """FCFS copies of ``servers`` servers held for a time known only on release."""

    __slots__ = ("busy", "copies", "env", "free", "last", "queues", "stats", "uniform",
                 "warm")

    def __init__(self, env: Environment, servers: int, copies: int, stats: _Stats,
                 uniform: Callable[[], float]) -> None:
        self.env = env
        self.copies = copies
        self.free = [servers] * copies
        self.queues: list[deque[tuple[Event, float]]] = [deque() for _ in range(copies)]
        self.stats = stats
        self.warm = stats.warm
        self.uniform = uniform
        self.busy = 0
        self.last = 0.0

    def pick(self) -> int:
        return int(self.uniform() * self.copies) if self.copies > 1 else 0

    def _integrate(self, now: float) -> None:
        warm = self.warm
        if now > warm:
            last = self.last
            self.stats.area += self.busy * (now - (last if last > warm else warm))
        self.last = now

    def request(self, k: int, now: float) -> Event | None:
        """Ask for a server of copy ``k``: ``None`` when one is free (taken at once), else
        the event that fires when one is handed over."""
        if self.free[k] > 0:
            self.free[k] -= 1
            self._integrate(now)
            self.busy += 1
            if now >= self.warm:
                self.stats.arrivals += 1
                self.stats.waited(now, 0.0)
            return None
        if now >= self.warm:
            self.stats.arrivals += 1
        event = self.env.event()
        self.queues[k].append((event, now))
        return event

    def release(self, k: int, now: float, held: float) -> None:
        """Give back a server of copy ``k`` that was held for ``held`` ms."""
        warm = self.warm
        if now - held >= warm:
            self.stats.service_sum += held
            self.stats.served += 1
        queue = self.queues[k]
        if queue:
            event, asked = queue.popleft()
            if asked >= warm:
                self.stats.waited(asked, now - asked)
            event.succeed()
            return
        self.free[k] += 1
        self._integrate(now)
        self.busy -= 1

    def finish(self, end: float) -> None:
        """Close the busy-time integral; requests still queued count in the growth check
        with the wait they have had so far."""
        self._integrate(end)
        stats = self.stats
        for queue in self.queues:
            for _, asked in queue:
                if asked >= self.warm:
                    q = min(3, int((asked - self.warm) * stats.per_quarter))
                    stats.quarter_w[q] += end - asked
                    stats.quarter_n[q] += 1


# -- the simulation ------------------------------------------------------------------------


def _nothing(r: int = 0) -> Gen:
    return None
    yield  # pragma: no cover - makes this a generator


def _failing(cause: str) -> Step:
    """A step that takes no time and fails (a call its open breaker cuts off)."""

    def fail(r: int = 0) -> Gen:
        return cause
        yield  # pragma: no cover - makes this a generator

    return fail


class _Simulation:
    def __init__(self, env: Environment, program: Program, rng: np.random.Generator,
                 warm: float, span: float, profile: LoadProfile | None = None) -> None:
        self.env = env
        self.profile = profile
        self.program = program
        self.rng = rng
        self.warm = warm
        self.end = warm + span
        self.span = span
        self.uniform = in_blocks(lambda n: rng.random(n).tolist())
        self.unit_exp = in_blocks(lambda n: rng.exponential(1.0, n).tolist())
        self.samplers: dict[Spec, Sampler] = {}
        async_workers = {ep.workers for ep in program.endpoints if not ep.blocking}
        self.stats = [_Stats(st.servers * st.copies, warm, self.end) for st in program.stations]
        self.plain: dict[int, _Plain] = {}
        self.held: dict[int, _Held] = {}
        for i, st in enumerate(program.stations):
            if st.held and i not in async_workers:
                self.held[i] = _Held(env, st.servers, st.copies, self.stats[i], self.uniform)
            else:
                self.plain[i] = _Plain(st.servers, st.copies, self.stats[i], self.uniform)
        n = len(program.endpoints)
        self.samples: list[list[float]] = [[] for _ in range(n)]
        # per endpoint, the measured times of the requests that succeeded
        self.succeeded: list[list[float]] = [[] for _ in range(n)]
        # per endpoint, the requests measured that failed, by cause (see errors.py)
        self.failed: list[dict[str, int]] = [{} for _ in range(n)]
        self.started = [0] * n
        # per endpoint, each measured request's arrival (ms after the warm-up), with a profile
        self.arrived: list[list[float]] | None = [[] for _ in range(n)] if profile else None
        self.attempts: dict[str, int] = {}
        self.factories: list[Factory] = []  # filled next; calls look them up when they run
        self.factories.extend(self.endpoint(i) for i in range(n))

    def sampler(self, spec: Spec) -> Sampler:
        """Draws of the time ``spec``: one sampler per time, made when first asked."""
        if spec not in self.samplers:
            self.samplers[spec] = spec.sampler(self.rng)
        return self.samplers[spec]

    def times(self, count: float) -> Callable[[], int]:
        """How many times a ``count`` runs: ⌊count⌋, plus one with the fraction's odds."""
        whole = math.floor(count) if count > 0 else 0
        frac = count - whole if count > 0 else 0.0
        if frac < 1e-12:
            return lambda: whole
        uniform = self.uniform
        return lambda: whole + (1 if uniform() < frac else 0)

    # -- processes -----------------------------------------------------------------------

    def source(self, index: int, rate: float) -> Gen:
        """Poisson arrivals at ``rate`` per ms to endpoint ``index`` (× the profile's factor
        at the time, by thinning, when there is one)."""
        env, unit_exp, run = self.env, self.unit_exp, self.factories[index]
        profile = self.profile
        if profile is None:
            mean = 1.0 / rate
            while True:
                yield env.timeout(unit_exp() * mean)
                env.process(run())
        first = profile.points[0][1]
        peak = max(profile.peak, first)
        if peak <= 0:
            return None
        mean, warm, uniform = 1.0 / (rate * peak), self.warm, self.uniform
        while True:
            yield env.timeout(unit_exp() * mean)
            now = env.now
            factor = first if now < warm else profile.at((now - warm) / 1000.0)
            if uniform() * peak < factor:
                env.process(run())

    def ticker(self, report: Callable[[float], None]) -> Gen:
        """Report 10 %, …, 90 % of the simulated time (100 % is reported by the caller)."""
        for tick in range(1, 10):
            yield self.env.timeout(self.end * tick / 10.0 - self.env.now)
            report(tick / 10.0)
        return None

    def finish(self) -> None:
        for held in self.held.values():
            held.finish(self.end)

    # -- compiling nodes to generator factories --------------------------------------------

    def endpoint(self, index: int) -> Factory:
        ep: EndpointFlow = self.program.endpoints[index]
        run = self.run(index)
        if ep.consume is None:
            return run
        env, consumers = self.env, self.held[ep.consume]

        def consumed() -> Gen:  # a queue's handler: its message waits for a consumer
            arrived = env.now
            k = consumers.pick()
            event = consumers.request(k, env.now)
            if event is not None:
                yield event
            granted = env.now
            cause = yield from run(arrived)
            now = env.now
            consumers.release(k, now, now - granted)
            return cause

        return consumed

    def run(self, index: int) -> Callable[..., Gen]:
        """Endpoint ``index``'s run: a worker, its cpu and its steps, measured from ``t0``
        (a handler's message's arrival: see ``endpoint``), else from when it starts."""
        ep: EndpointFlow = self.program.endpoints[index]
        env, samples, started = self.env, self.samples[index], self.started
        failed, succeeded = self.failed[index], self.succeeded[index]
        warm = self.warm
        cpu = self.sampler(ep.cpu)
        steps = self.compile(ep.steps)
        replicas = self.program.stations[ep.workers].copies
        uniform = self.uniform

        arrived = None if self.arrived is None else self.arrived[index]

        def measure(t0: float, cause: str | None) -> None:
            now = env.now
            if now >= warm:
                samples.append(now - t0)
                if arrived is not None:
                    arrived.append(t0 - warm)
                if cause is not None:
                    failed[cause] = failed.get(cause, 0) + 1
                else:
                    succeeded.append(now - t0)

        if ep.workers in self.held:
            workers = self.held[ep.workers]

            def blocking(t0: float | None = None) -> Gen:
                t0 = env.now if t0 is None else t0
                if t0 >= warm:
                    started[index] += 1
                r = int(uniform() * replicas) if replicas > 1 else 0
                event = workers.request(r, env.now)
                if event is not None:
                    yield event
                granted = env.now
                d = cpu()
                if d > 0:
                    yield env.timeout(d)
                cause = yield from steps(r)
                now = env.now
                workers.release(r, now, now - granted)
                measure(t0, cause)
                return cause

            return blocking
        station = self.plain[ep.workers]

        def nonblocking(t0: float | None = None) -> Gen:
            t0 = env.now if t0 is None else t0
            if t0 >= warm:
                started[index] += 1
            r = int(uniform() * replicas) if replicas > 1 else 0
            d = station.visit(env.now, cpu(), r)
            if d > 0:
                yield env.timeout(d)
            cause = yield from steps(r)
            measure(t0, cause)
            return cause

        return nonblocking

    def compile(self, node: Node) -> Step:
        """A factory of generators that run ``node`` in the simulation (on a replica of
        its service: the copy of that replica's own stations)."""
        env = self.env
        match node:
            case Seq():
                parts = [self.compile(item) for item in node.items]
                if not parts:
                    return _nothing
                if len(parts) == 1:
                    return parts[0]

                def seq(r: int) -> Gen:
                    first = None  # a request fails at the first step that fails
                    for part in parts:
                        cause = yield from part(r)
                        first = first or cause
                    return first

                return seq
            case Delay():
                draw = self.sampler(node.time)

                def delay(r: int) -> Gen:
                    d = draw()
                    if d > 0:
                        yield env.timeout(d)
                    return None

                return delay
            case Visit():
                return self.visit(node)
            case Hold():
                return self.hold(node)
            case Invoke():
                times, factories, j = self.times(node.count), self.factories, node.endpoint
                failure_rate, uniform = node.failure_rate, self.uniform
                own = f"failure: {node.site.target if node.site is not None else 'call'}"

                def invoke(r: int) -> Gen:
                    first = None
                    for _ in range(times()):
                        failed = own if failure_rate > 0 and uniform() < failure_rate \
                            else None  # the call's own failures, then the callee's
                        cause = yield from factories[j]()
                        first = first or failed or cause
                    return first

                return invoke
            case Choice():
                first, second = self.compile(node.first), self.compile(node.second)
                p, uniform = node.p, self.uniform

                def choice(r: int) -> Gen:
                    return (yield from (first if uniform() < p else second)(r))

                return choice
            case Fallback():
                body, fallback = self.compile(node.body), self.compile(node.fallback)

                def fall_back(r: int) -> Gen:
                    cause = yield from body(r)
                    if cause is None:
                        return None
                    return (yield from fallback(r))

                return fall_back
            case ExternalCall():
                return self.external(node)
            case Publish():
                return self.publish(node)
            case Par():
                branches = [self.compile(b) for b in node.branches]
                if len(branches) == 1:
                    return branches[0]

                def par(r: int) -> Gen:
                    runs = [env.process(b(r)) for b in branches]
                    yield env.all_of(runs)
                    return next((run.value for run in runs if run.value), None)

                return par
            case Loop():
                times, body = self.times(node.count), self.compile(node.body)

                def loop(r: int) -> Gen:
                    first = None
                    for _ in range(times()):
                        cause = yield from body(r)
                        first = first or cause
                    return first

                return loop
            case CacheRead():
                visit, miss = self.visit(node.visit), self.compile(node.miss)
                hit, uniform = node.hit, self.uniform

                def cache(r: int) -> Gen:
                    yield from visit(r)
                    if uniform() >= hit:
                        return (yield from miss(r))
                    return None

                return cache
            case _:
                assert_never(node)

    def copy_of(self, station: int) -> bool:
        """Whether a request uses the copy of its own replica at ``station`` (the
        service's workers and connection pools), rather than one picked at random."""
        return self.program.stations[station].replicas_of is not None

    def visit(self, node: Visit) -> Step:
        env, station, draw = self.env, self.plain[node.station], self.sampler(node.time)
        own = self.copy_of(node.station)
        if node.count == 1.0:
            def once(r: int) -> Gen:
                d = station.visit(env.now, draw(), r if own else -1)
                if d > 0:
                    yield env.timeout(d)
                return None

            return once
        times = self.times(node.count)

        def visits(r: int) -> Gen:
            for _ in range(times()):
                d = station.visit(env.now, draw(), r if own else -1)
                if d > 0:
                    yield env.timeout(d)
            return None

        return visits

    def hold(self, node: Hold) -> Step:
        env, station = self.env, self.held[node.station]
        body, extra = self.compile(node.body), self.sampler(node.extra)
        own = self.copy_of(node.station)

        def hold(r: int) -> Gen:
            k = r if own else station.pick()
            event = station.request(k, env.now)
            if event is not None:
                yield event
            granted = env.now
            cause = yield from body(r)
            d = extra()
            if d > 0:
                yield env.timeout(d)
            now = env.now
            station.release(k, now, now - granted)
            return cause

        return hold

    def publish(self, node: Publish) -> Step:
        env, visit, times = self.env, self.visit(node.visit), self.times(node.count)
        factories, handler = self.factories, node.handler

        def send(r: int) -> Gen:  # the handler's failures are its own
            yield from visit(r)
            if handler is not None:
                env.process(factories[handler]())
            return None

        if node.outbox is None:
            def publish(r: int) -> Gen:
                for _ in range(times()):
                    yield from send(r)
                return None

            return publish
        insert = self.visit(node.outbox)

        def relayed(r: int) -> Gen:  # the row now; the relay publishes it later
            for _ in range(times()):
                yield from insert(r)
                env.process(send(r))
            return None

        return relayed

    def external(self, node: ExternalCall) -> Step:
        info = attempts(node)
        if info.breaker_open:  # every call fails at once, none sent
            return _failing(f"breaker: {node.component}")
        env, uniform, warm, counts = self.env, self.uniform, self.warm, self.attempts
        latency, timeout, failure_rate = self.sampler(node.latency), node.timeout_ms, \
            node.failure_rate
        name = node.component
        timed_out, own_error = f"timeout: {name}", f"failure: {name}"
        counts.setdefault(name, 0)
        jitter = node.retries is not None and node.retries.jitter
        backoffs = [backoff_ms(node, k) for k in range(1, info.max_attempts)]
        station = self.plain[node.station] if node.station is not None else None
        times = self.times(node.count)

        def one() -> Gen:
            for attempt in range(info.max_attempts):
                if attempt > 0:
                    pause = backoffs[attempt - 1]
                    if jitter:
                        pause *= 2.0 * uniform()
                    if pause > 0:
                        yield env.timeout(pause)
                took = latency()
                failed: str | None
                if timeout is not None and took > timeout:
                    took, failed = timeout, timed_out
                else:
                    failed = own_error if failure_rate > 0 and uniform() < failure_rate \
                        else None
                now = env.now
                if now >= warm:
                    counts[name] += 1
                d = station.visit(now, took) if station is not None else took
                if d > 0:
                    yield env.timeout(d)
                if failed is None:
                    return None
            return failed  # every attempt failed: the last one's cause

        def calls(r: int) -> Gen:
            first = None
            for _ in range(times()):
                cause = yield from one()
                first = first or cause
            return first

        return calls

    # -- reach ---------------------------------------------------------------------------

    def reach(self, index: int, memo: dict[int, frozenset[int]]) -> frozenset[int]:
        """Stations on the synchronous path of endpoint ``index``."""
        if index not in memo:
            memo[index] = frozenset()  # no synchronous cycles: a guard only
            ep = self.program.endpoints[index]
            own = {ep.workers} if ep.consume is None else {ep.workers, ep.consume}
            memo[index] = frozenset(own | set(self._reach(ep.steps, memo)))
        return memo[index]

    def _reach(self, node: Node, memo: dict[int, frozenset[int]]) -> Iterator[int]:
        match node:
            case Seq():
                for item in node.items:
                    yield from self._reach(item, memo)
            case Par():
                for branch in node.branches:
                    yield from self._reach(branch, memo)
            case Visit():
                yield node.station
            case Hold():
                yield node.station
                yield from self._reach(node.body, memo)
            case Invoke():
                yield from self.reach(node.endpoint, memo)
            case ExternalCall():
                if node.station is not None and not attempts(node).breaker_open:
                    yield node.station
            case Publish():
                yield node.waited.station
            case Loop():
                yield from self._reach(node.body, memo)
            case CacheRead():
                yield node.visit.station
                yield from self._reach(node.miss, memo)
            case Choice():
                yield from self._reach(node.first, memo)
                yield from self._reach(node.second, memo)
            case Fallback():
                yield from self._reach(node.body, memo)
                yield from self._reach(node.fallback, memo)
            case Delay():
                pass
            case _:
                assert_never(node)


# -- results -------------------------------------------------------------------------------


def _reporter(progress: bool | Callable[[float], object] | None,
              expected_events: float) -> Callable[[float], None] | None:
    if progress is None:
        progress = expected_events > _AUTO_PROGRESS_EVENTS
    if progress is False:
        return None
    if progress is True:
        def bar(fraction: float) -> None:
            done = round(fraction * 10)
            end = "\n" if done >= 10 else ""
            print(f"\rsimulating [{'#' * done}{'.' * (10 - done)}] {fraction:4.0%}",
                  end=end, file=sys.stderr, flush=True)

        return bar
    callback = progress

    def call(fraction: float) -> None:
        callback(fraction)

    return call


def _endpoints(sim: _Simulation, loaded: list[bool]) -> dict[str, EndpointEstimate]:
    out: dict[str, EndpointEstimate] = {}
    memo: dict[int, frozenset[int]] = {}
    seconds = sim.span / 1000.0
    for i, ep in enumerate(sim.program.endpoints):
        if not loaded[i] and not sim.samples[i]:
            continue
        rps = sim.started[i] / seconds
        saturated = any(sim.stats[s].saturated for s in sim.reach(i, memo))
        samples = sim.samples[i]
        if not samples:
            warnings.warn(f"{ep.ref}: no request completed in the {seconds:g} s measured; "
                          "simulate longer", RuntimeWarning, stacklevel=3)
        if saturated or not samples:
            out[str(ep.ref)] = EndpointEstimate(rps, math.inf, math.inf, math.inf, math.inf,
                                                saturated or sim.started[i] > 0)
            continue
        values = np.asarray(samples)
        p50, p95, p99 = (float(v) for v in np.percentile(values, [50.0, 95.0, 99.0]))
        causes = {c: n / len(samples) for c, n in sim.failed[i].items()}
        ok = np.asarray(sim.succeeded[i])
        out[str(ep.ref)] = EndpointEstimate(
            rps, float(values.mean()), p50, p95, p99, False, _empirical(values),
            _sampled(values), error_ratio=sum(sim.failed[i].values()) / len(samples),
            errors=dict(sorted(causes.items(), key=lambda item: (-item[1], item[0]))),
            success=None if not causes or not len(ok) else Successes(
                float(ok.mean()), *(float(v) for v in np.percentile(ok, [50.0, 95.0, 99.0]))))
    return out


BATCHES = 20
T_19 = 2.093024054408263  # Student's t, 97.5 % quantile, 19 degrees of freedom
ENOUGH = 2000  # completions below which a p95 is not worth quoting without a warning
WIDE = 0.10  # a p95 interval wider than ± this fraction is reported as too short a run


def _sampled(values: NDArray[np.float64]) -> Sampled:
    """Completions and batch-means 95 % confidence intervals of the mean and the p95 (the
    completions in time order, in :data:`BATCHES` batches: neighbouring requests share
    queues, batches far apart hardly do)."""
    n = len(values)
    if n < BATCHES:
        nan = math.nan
        return Sampled(n, (nan, nan), (nan, nan))
    batches = np.array_split(values, BATCHES)
    intervals = []
    for stat in (np.mean, lambda b: np.percentile(b, 95.0)):
        per_batch = np.array([float(stat(b)) for b in batches])
        centre = float(per_batch.mean())
        half = T_19 * float(per_batch.std(ddof=1)) / math.sqrt(BATCHES)
        intervals.append((centre - half, centre + half))
    return Sampled(n, intervals[0], intervals[1])


def _warn_if_short(endpoints: dict[str, EndpointEstimate], analytic: dict[str, bool],
                   seconds: float) -> None:
    """Say which simulated numbers a run too short cannot back: an endpoint the estimate
    calls saturated that the run shows finite (its queue had no time to grow), a p95 from
    few completions, a p95 whose confidence interval is wide."""
    for ref, e in endpoints.items():
        sampled = e.sampled
        if analytic.get(ref) and not e.saturated:
            warnings.warn(f"{ref}: the estimate says this load saturates it; the {seconds:g} s "
                          "simulated show finite times only because its queue had no time "
                          "to grow — simulate longer, or lower the load", RuntimeWarning,
                          stacklevel=3)
        elif sampled is not None and not e.saturated:
            if sampled.completions < ENOUGH:
                warnings.warn(f"{ref}: p95 from {sampled.completions:,} completions — "
                              f"simulate longer for at least {ENOUGH:,}", RuntimeWarning,
                              stacklevel=3)
            elif sampled.p95_half_width(e.p95_ms) > WIDE:
                width = sampled.p95_half_width(e.p95_ms)
                warnings.warn(f"{ref}: p95 {e.p95_ms:.3g} ms ± {width:.0%} (95 % confidence) "
                              "— simulate longer for a tighter number", RuntimeWarning,
                              stacklevel=3)


def _empirical(values: NDArray[np.float64]) -> Dist:
    """The response times measured, as a distribution on a grid up to the largest."""
    grid = Grid.covering(float(values.max()) * 1.0001 + 1e-9)
    cells = np.minimum(np.floor(values / grid.step + 0.5).astype(np.int64), grid.size - 1)
    counts = np.bincount(cells, minlength=grid.size).astype(np.float64)
    return Dist(grid, counts / counts.sum())


def _components(design: Design, sim: _Simulation) -> dict[str, ComponentEstimate]:
    program = sim.program
    seconds = sim.span / 1000.0
    grouped: dict[str, dict[str, StationEstimate]] = {n: {} for n in design.components}
    for station, stats in zip(program.stations, sim.stats, strict=True):
        utilization = stats.utilization
        saturated = stats.saturated
        wait = stats.wait_sum / stats.wait_n if stats.wait_n else 0.0
        grouped[station.component][station.id] = StationEstimate(
            id=station.id, component=station.component, role=station.role,
            servers=stats.capacity, arrival_rps=stats.arrivals / seconds,
            service_ms=stats.service_sum / stats.served if stats.served else 0.0,
            utilization=utilization, busy=utilization * stats.capacity,
            wait_ms=math.inf if saturated else wait, saturated=saturated)
    out = {}
    for name, component in design.components.items():
        stations = grouped[name]
        if component.kind == "service":
            arrival = sum(sim.started[i] for i, ep in enumerate(program.endpoints)
                          if ep.ref.service == name) / seconds
        elif component.kind == "external":
            arrival = sim.attempts.get(name, 0) / seconds
        else:
            first = next(iter(stations.values()), None)
            arrival = first.arrival_rps if first else 0.0
        utilization = max((s.utilization for s in stations.values()), default=0.0)
        out[name] = ComponentEstimate(component.kind, arrival, utilization,
                                      any(s.saturated for s in stations.values()), stations)
    return out
