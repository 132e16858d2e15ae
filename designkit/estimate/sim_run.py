"""The simulator's run of a compiled design: every node of its flow compiled to SimPy
processes (:meth:`Simulation.compile`), Poisson sources per loaded endpoint, and what the
run measures per endpoint and station (see :mod:`designkit.estimate.simulate` for what is
simulated)."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, assert_never

import numpy as np

from designkit.estimate.external import attempts, backoff_ms
from designkit.estimate.program import Program
from designkit.estimate.sim_stations import HeldStation, PlainStation, StationStats
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
from designkit.model.profile import LoadProfile

if TYPE_CHECKING:
    from simpy import Environment, Event

__all__ = ["Simulation"]

Gen = Generator["Event", Any, "str | None"]  # returns what it failed of, if it failed
Factory = Callable[[], Gen]  # an endpoint's execution (it picks its replica)
Step = Callable[[int], Gen]  # a compiled node, run on the given replica of its service


def nothing(r: int = 0) -> Gen:
    return None
    yield  # pragma: no cover - makes this a generator


def failing(cause: str) -> Step:
    """A step that takes no time and fails (a call its open breaker cuts off)."""

    def fail(r: int = 0) -> Gen:
        return cause
        yield  # pragma: no cover - makes this a generator

    return fail


class Simulation:
    """One simulation of a compiled design: its stations, its endpoints compiled to SimPy
    processes, and what it measured (per endpoint the completions' latencies and failures,
    per station :class:`~designkit.estimate.sim_stations.StationStats`)."""

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
        self.stats = [StationStats(st.servers * st.copies, warm, self.end)
                      for st in program.stations]
        self.plain: dict[int, PlainStation] = {}
        self.held: dict[int, HeldStation] = {}
        for i, st in enumerate(program.stations):
            if st.held and i not in async_workers:
                self.held[i] = HeldStation(env, st.servers, st.copies, self.stats[i], self.uniform)
            else:
                self.plain[i] = PlainStation(st.servers, st.copies, self.stats[i], self.uniform)
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
                    return nothing
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
            return failing(f"breaker: {node.component}")
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
