"""A design compiled for estimation: stations, and each endpoint as a tree of timed nodes.

Compiling resolves every reference once, derives each database call's time from its query
plan, and places every visit on a *station* (a set of identical servers with a queue):

| component | station | servers |
|---|---|---|
| service | ``workers`` | ``workers`` per replica, ``replicas`` copies |
| database | ``cpu`` | ``cores`` |
| database | ``pool <client>`` (held) | ``pool_size`` per client replica |
| cache | ``servers`` | 1 per server (keys are sharded), ``servers`` copies |
| queue | ``partitions`` | 1 per partition, ``partitions`` copies |
| lock | ``lock`` (held) | 1 |
| external | ``concurrency`` | its ``concurrency`` (no station when unbounded) |

A *held* station's service time is the time of what it wraps (a transaction, a lock, a
blocking worker), known only once the stations inside are solved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from designkit.errors import DesignError, Problem
from designkit.estimate.plan import plan_query
from designkit.estimate.times import Spec
from designkit.model.components import Cache, External, Lock, Queue
from designkit.model.database import DEFAULT_POOL_SIZE, Database
from designkit.model.design import Design
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.resilience import Retries
from designkit.model.service import Endpoint, Service
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    Step,
    TransactionStep,
)

__all__ = [
    "CacheRead", "Delay", "EndpointProgram", "ExternalCall", "Hold", "Invoke", "Loop", "Node",
    "Par", "Program", "Publish", "Seq", "Station", "Visit", "compile_design",
]


@dataclass
class Station:
    """Identical servers with one FCFS queue (per copy); ``held`` when it wraps other work."""

    id: str
    component: str
    role: str
    servers: int
    copies: int = 1
    held: bool = False


@dataclass
class Delay:
    """Time spent without queueing (a service's own cpu)."""

    time: Spec


@dataclass
class Visit:
    """A queued visit to a station: wait, then ``time`` of service; ``count`` in a row."""

    station: int
    time: Spec
    count: float = 1.0


@dataclass
class Hold:
    """Wait for a server of a held station, keep it during ``body`` (+ ``extra``)."""

    station: int
    body: Node
    extra: Spec = field(default_factory=lambda: Spec(0.0, 0.0))


@dataclass
class Invoke:
    """A synchronous call of another endpoint, ``count`` in a row (``retries`` are noted
    for the retry-storm check; an internal call is assumed to succeed)."""

    endpoint: int
    count: float = 1.0
    retries: Retries | None = None


@dataclass
class ExternalCall:
    """A call to a third party: attempts cut by the timeout, retried with backoff."""

    component: str
    latency: Spec
    timeout_ms: float | None
    retries: Retries | None
    failure_rate: float
    breaker_threshold: float | None
    station: int | None
    count: float = 1.0

    def breaker_open(self, failure: float) -> bool:
        """The breaker stays open when attempts fail at least as often as its threshold."""
        return self.breaker_threshold is not None and failure >= self.breaker_threshold


@dataclass
class Publish:
    """A message to a broker: a visit there; the handler runs asynchronously."""

    visit: Visit
    handler: int | None
    count: float = 1.0


@dataclass
class Seq:
    """Nodes one after another."""

    items: list[Node]


@dataclass
class Par:
    """Branches at once; done when the slowest is."""

    branches: list[Node]


@dataclass
class Loop:
    """``count`` iterations of ``body``, one after another."""

    count: float
    body: Node


@dataclass
class CacheRead:
    """Cache-aside: a visit to the cache; on a miss (1 − ``hit``), ``miss``."""

    visit: Visit
    hit: float
    miss: Node


Node = Delay | Visit | Hold | Invoke | ExternalCall | Publish | Seq | Par | Loop | CacheRead


@dataclass
class EndpointProgram:
    """One endpoint: wait for a worker, then its cpu and its steps."""

    ref: EndpointRef
    workers: int
    blocking: bool
    cpu: Spec
    steps: Seq
    timeout_ms: float | None = None


@dataclass
class Program:
    """The compiled design: stations and endpoints, callers before callees."""

    stations: list[Station]
    endpoints: list[EndpointProgram]
    index: dict[str, int]
    order: list[int]
    kinds: dict[str, str]
    cache: dict[object, object] = field(default_factory=dict)


def compile_design(design: Design, days: float = 0.0) -> Program:
    """Compile a (valid) design for estimation, with tables grown by ``days``.

    Example:
        >>> import designkit as dk
        >>> program = compile_design(dk.template("flash-sale"))
        >>> program.stations[0].id
        'checkout-api workers'
    """
    return _Compiler(design, days).run()


class _Compiler:
    def __init__(self, design: Design, days: float) -> None:
        self.design = design
        self.days = days
        self.stations: list[Station] = []
        self.station_ids: dict[str, int] = {}
        self.endpoints: list[EndpointProgram] = []
        refs = [ref for ref, _ in design.endpoints()]
        self.index = {str(ref): i for i, ref in enumerate(refs)}

    def run(self) -> Program:
        for name, component in self.design.components.items():
            if isinstance(component, Service):
                self.station(f"{name} workers", name, "workers", component.workers,
                             component.replicas, held=True)
        for ref, endpoint in self.design.endpoints():
            self.endpoints.append(self.endpoint(ref, endpoint))
        order = self.order()
        kinds: dict[str, str] = {n: str(c.kind) for n, c in self.design.components.items()}
        return Program(self.stations, self.endpoints, self.index, order, kinds)

    def station(self, sid: str, component: str, role: str, servers: int, copies: int = 1,
                held: bool = False) -> int:
        if sid not in self.station_ids:
            self.station_ids[sid] = len(self.stations)
            self.stations.append(Station(sid, component, role, servers, copies, held))
        return self.station_ids[sid]

    def endpoint(self, ref: EndpointRef, endpoint: Endpoint) -> EndpointProgram:
        service = self.design.components[ref.service]
        assert isinstance(service, Service)
        base = ("components", ref.service, "endpoints", ref.key, "steps")
        steps = self.steps(endpoint.steps, ref.service, base, frozenset())
        return EndpointProgram(ref, self.station_ids[f"{ref.service} workers"],
                               service.io == "blocking", Spec.of(endpoint.cpu_ms), steps,
                               endpoint.timeout_ms)

    def steps(self, steps: list[Step], client: str, path: tuple[str | int, ...],
              open_tx: frozenset[str]) -> Seq:
        return Seq([self.step(s, client, (*path, i), open_tx) for i, s in enumerate(steps)])

    def step(self, step: Step, client: str, path: tuple[str | int, ...],
             open_tx: frozenset[str]) -> Node:
        if isinstance(step, CallStep):
            return self.call(step, client, path, open_tx)
        if isinstance(step, TransactionStep):
            database = self.design.components[step.transaction]
            assert isinstance(database, Database)
            body = self.steps(step.steps, client, (*path, "steps"), open_tx | {step.transaction})
            return Hold(self.pool(step.transaction, database, client), body)
        if isinstance(step, LockStep):
            lock = self.design.components[step.lock]
            assert isinstance(lock, Lock)
            body = self.steps(step.steps, client, (*path, "steps"), open_tx)
            station = self.station(f"{step.lock} lock", step.lock, "lock", 1, held=True)
            return Hold(station, body, Spec(lock.acquire_ms, 0.0))
        if isinstance(step, LoopStep):
            body = self.steps(step.loop.steps, client, (*path, "loop", "steps"), open_tx)
            return Loop(step.loop.count, body)
        if isinstance(step, CacheStep):
            cache = self.design.components[step.cache]
            assert isinstance(cache, Cache)
            miss = self.steps(step.on_miss, client, (*path, "on_miss"), open_tx)
            hit = cache.hit_ratio if step.hit_ratio is None else step.hit_ratio
            return CacheRead(self.cache_visit(step.cache, cache, None), hit, miss)
        if isinstance(step, ParallelStep):
            return Par([self.steps(b, client, (*path, "parallel", i), open_tx)
                        for i, b in enumerate(step.parallel)])
        assert isinstance(step, PublishStep)
        return self.publish(step.publish, step.count)

    def call(self, step: CallStep, client: str, path: tuple[str | int, ...],
             open_tx: frozenset[str]) -> Node:
        ref = EndpointRef.parse(step.call)
        if ref is not None:
            return Invoke(self.index[str(ref)], step.count, _copy(step.retries))
        target = self.design.components[step.call]
        override = Spec.of(step.service_ms) if step.service_ms is not None else None
        if isinstance(target, Database):
            if override is not None:
                time = override
            else:
                if step.query is None:
                    raise ValueError(f"{format_path(path)}: a database call needs a query "
                                     "or service_ms")
                time = Spec.exponential(plan_query(target, step.query, self.days).ms)
            cpu = self.station(f"{step.call} cpu", step.call, "cpu", target.cores)
            visit = Visit(cpu, time, step.count)
            if step.call in open_tx:
                return visit
            return Hold(self.pool(step.call, target, client), visit)
        if isinstance(target, Cache):
            visit = self.cache_visit(step.call, target, override)
            visit.count = step.count
            return visit
        if isinstance(target, Queue):
            return self.publish(step.call, step.count)
        if isinstance(target, Lock):
            station = self.station(f"{step.call} lock", step.call, "lock", 1, held=True)
            return Hold(station, Seq([]), override or Spec(target.acquire_ms, 0.0))
        assert isinstance(target, External)
        bounded: int | None = None
        if target.concurrency is not None:
            bounded = self.station(f"{step.call} concurrency", step.call, "concurrency",
                                   target.concurrency)
        breaker = target.circuit_breaker
        return ExternalCall(
            component=step.call,
            latency=override or Spec.of(target.latency_ms),
            timeout_ms=step.timeout_ms or target.timeout_ms,
            retries=_copy(step.retries or target.retries),
            failure_rate=target.failure_rate,
            breaker_threshold=breaker.failure_threshold if breaker and breaker.enabled else None,
            station=bounded,
            count=step.count,
        )

    def cache_visit(self, name: str, cache: Cache, override: Spec | None) -> Visit:
        station = self.station(f"{name} servers", name, "servers", 1, cache.servers)
        return Visit(station, override or Spec.of(cache.service_ms))

    def publish(self, name: str, count: float) -> Publish:
        queue = self.design.components[name]
        assert isinstance(queue, Queue)
        station = self.station(f"{name} partitions", name, "partitions", 1, queue.partitions)
        handler = None
        if queue.handler is not None:
            handler = self.index[str(EndpointRef.parse(queue.handler))]
        return Publish(Visit(station, Spec.of(queue.service_ms)), handler, count)

    def pool(self, name: str, database: Database, client: str) -> int:
        service = self.design.components[client]
        replicas = service.replicas if isinstance(service, Service) else 1
        return self.station(f"{name} pool {client}", name, "pool",
                            database.pool_size or DEFAULT_POOL_SIZE,
                            replicas, held=True)

    def order(self) -> list[int]:
        """Endpoints with every caller (synchronous or by message) before its callees; the
        lowest index first among those ready (Kahn's algorithm with a heap)."""
        import heapq

        n = len(self.endpoints)
        callees: list[list[int]] = [[] for _ in range(n)]
        callers = [0] * n
        for i, program in enumerate(self.endpoints):
            for node in _walk(program.steps):
                target = (node.endpoint if isinstance(node, Invoke) else node.handler
                          if isinstance(node, Publish) else None)
                if target is not None:
                    callees[i].append(target)
                    callers[target] += 1
        ready = [i for i in range(n) if callers[i] == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for j in callees[i]:
                callers[j] -= 1
                if callers[j] == 0:
                    heapq.heappush(ready, j)
        if len(order) < n:
            cycle = _cycle(callees, {i for i in range(n) if callers[i] > 0})
            names = " → ".join(str(self.endpoints[u].ref) for u in cycle)
            first = self.endpoints[cycle[0]].ref
            where = format_path(("components", first.service, "endpoints", first.key))
            message = (f"messages loop back to their publisher ({names}): the load of a "
                       "message loop has no steady state; break the loop")
            raise DesignError([Problem(where, message)], source=f"design {self.design.name!r}")
        return order


def _cycle(edges: list[list[int]], stuck: set[int]) -> list[int]:
    """A cycle among ``stuck`` (the nodes a topological sort could not place), as the
    list of its nodes from its first back to it."""
    start = min(stuck)
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(j for j in edges[node] if j in stuck)
    return [*path[seen[node]:], node]


def _copy(retries: Retries | None) -> Retries | None:
    """The program keeps its own copy: it may outlive changes to the design."""
    return None if retries is None else retries.model_copy()


def _walk(node: Node) -> list[Node]:
    """Every node under ``node``, itself included."""
    out: list[Node] = [node]
    if isinstance(node, Seq):
        for item in node.items:
            out += _walk(item)
    elif isinstance(node, Par):
        for branch in node.branches:
            out += _walk(branch)
    elif isinstance(node, Hold | Loop):
        out += _walk(node.body)
    elif isinstance(node, CacheRead):
        out += [node.visit, *_walk(node.miss)]
    elif isinstance(node, Publish):
        out.append(node.visit)
    return out


walk = _walk
