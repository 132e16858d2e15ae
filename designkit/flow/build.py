"""The one walker: a design's steps, read once, into the flow IR — and every broken
reference found on the way.

Checked while building: call targets (a component, or ``"svc METHOD /path"``), the kind of
component each step needs (a transaction on a database, a publish to a queue…), tables and
columns of queries, index and partitioning columns, foreign keys, queue handlers, saga
actions and compensations, workload keys, endpoint keys, and call or message loops. A
design with problems still builds (the parts that are broken become empty sequences), so
the problems can be listed; only a flow without problems may be estimated.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from designkit.errors import DesignError, Problem
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    EndpointFlow,
    ExternalCall,
    Fallback,
    Flow,
    ForeignKey,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Path,
    Publish,
    Resource,
    Seq,
    Site,
    Visit,
)
from designkit.flow.plan import Planner
from designkit.flow.times import Constant, Spec, TwoPoint, shape_of
from designkit.model.components import Cache, Component, External, Lock, Queue
from designkit.model.database import DEFAULT_POOL_SIZE, Database, Table
from designkit.model.design import Design
from designkit.model.engines import setting
from designkit.model.invariants import Store, parse_store
from designkit.model.network import Network, placement_of, round_trip
from designkit.model.problems import format_path, nearest
from designkit.model.query import Query
from designkit.model.refs import EndpointRef, is_endpoint_key, is_endpoint_ref
from designkit.model.resilience import Retries
from designkit.model.service import HTTP_METHODS, Endpoint, Service
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

__all__ = ["build", "check_references", "design_steps", "parse_foreign_key", "program",
           "walk_steps"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def build(design: Design, days: float = 0.0, known: Iterable[str] = (),
          stretch: Mapping[str, float] | None = None) -> Flow:
    """The flow of ``design``, with tables grown by ``days`` for its query times.

    Args:
        design: The design (it may hold only the parts that validated).
        days: Days of table growth behind each derived query time.
        known: Further component names that exist but failed validation; references to
            them are not reported.
        stretch: Factors on the times of components, beyond their calibration (a
            calibrated slowdown at one load: :mod:`designkit.estimate.slowdown`).

    Example:
        >>> import designkit as dk
        >>> flow = build(dk.template("flash-sale"))
        >>> flow.resources[0].id, flow.problems
        ('checkout-api workers', ())
    """
    return _Builder(design, days, set(known), stretch or {}).run()


def check_references(design: Design, known: Iterable[str] = ()) -> list[Problem]:
    """Every broken reference in ``design``: the problems of its flow.

    Args:
        design: The design (it may hold only the parts that validated).
        known: Further component names that exist but failed validation; references to
            them are not reported.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("GET /").call("dbx")
        >>> _ = d.database("db")
        >>> for problem in check_references(d):
        ...     print(problem)
        components.api.endpoints."GET /".steps[0].call: unknown component 'dbx' (did you mean 'db'?)
    """
    return list(build(design, known=known).problems)


def walk_steps(steps: Sequence[Step], path: Path) -> Iterator[tuple[Path, Step]]:
    """Every step under ``steps``, nested ones included, with its path, depth first in file
    order (the order of :attr:`Flow.sites`).

    Example:
        >>> from designkit.model.steps import TransactionStep
        >>> tx = TransactionStep(transaction="db").call("db", service_ms=1)
        >>> [(format_path(p), type(s).__name__) for p, s in walk_steps([tx], ("steps",))]
        [('steps[0]', 'TransactionStep'), ('steps[0].steps[0]', 'CallStep')]
    """
    for i, step in enumerate(steps):
        here = (*path, i)
        yield here, step
        match step:
            case TransactionStep() | LockStep():
                yield from walk_steps(step.steps, (*here, "steps"))
            case LoopStep():
                yield from walk_steps(step.loop.steps, (*here, "loop", "steps"))
            case CacheStep():
                yield from walk_steps(step.on_miss, (*here, "on_miss"))
            case ParallelStep():
                for b, branch in enumerate(step.parallel):
                    yield from walk_steps(branch, (*here, "parallel", b))
            case CallStep():
                if step.fallback is not None:
                    yield from walk_steps(step.fallback, (*here, "fallback"))
            case PublishStep():
                pass
            case _:
                assert_never(step)


def design_steps(design: Design) -> Iterator[tuple[EndpointRef, Path, Step]]:
    """Every step of every endpoint, nested ones included: (the endpoint, the step's path,
    the step), depth first in file order — for code that changes steps in place (what-if
    copies of a design); code that reads a design's behaviour reads :attr:`Flow.sites`.

    Example:
        >>> import designkit as dk
        >>> [str(ref) for ref, _, _ in design_steps(dk.template("flash-sale"))][:1]
        ['checkout-api POST /v1/orders']
    """
    for ref, endpoint in design.endpoints():
        base: Path = ("components", ref.service, "endpoints", ref.key, "steps")
        for path, step in walk_steps(endpoint.steps, base):
            yield ref, path, step


def program(design: Design, days: float = 0.0,
            stretch: Mapping[str, float] | None = None) -> Flow:
    """The flow of a design to estimate: :func:`build`, refused when it has problems.

    Raises:
        DesignError: The design's references are broken, or its calls or messages loop.

    Example:
        >>> import designkit as dk
        >>> program(dk.template("flash-sale")).stations[0].id
        'checkout-api workers'
    """
    flow = build(design, days, stretch=stretch)
    if flow.problems:
        raise DesignError(list(flow.problems), source=f"design {design.name!r}")
    return flow


def parse_foreign_key(database: str, text: str) -> tuple[str, str, str] | None:
    """The (database, table, column) a foreign key names; ``table.column`` is in
    ``database``. ``None`` when the text is neither form.

    Example:
        >>> parse_foreign_key("app-db", "users.id"), parse_foreign_key("a", "b.c.d")
        (('app-db', 'users', 'id'), ('b', 'c', 'd'))
    """
    parts = text.split(".")
    if len(parts) == 2:
        return database, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return None


@dataclass(frozen=True)
class _Around:
    """What encloses the steps being walked."""

    ref: EndpointRef
    endpoint: Endpoint
    normal: str  # the endpoint's key with the method upper-cased (problem paths name it)
    iterations: float = 1.0
    times: float = 1.0
    tx: tuple[str, str] | None = None
    holders: tuple[str, ...] = ()
    open_tx: frozenset[str] = frozenset()


class _Builder:
    def __init__(self, design: Design, days: float, known: set[str],
                 stretch: Mapping[str, float]) -> None:
        self.design = design
        self.stretch = stretch
        self.components = design.components
        self.days = days
        self.known = known
        self.problems: list[Problem] = []
        self.resources: list[Resource] = []
        self.resource_ids: dict[str, int] = {}
        self.endpoints: list[EndpointFlow] = []
        self.sites: list[Site] = []
        self.foreign_keys: list[ForeignKey] = []
        self.index: dict[str, int] = {}
        for i, (ref, _) in enumerate(design.endpoints()):
            self.index[str(ref)] = i
        self.refs: dict[str, tuple[EndpointRef | None, str, bool]] = {}  # see parse()
        self.planners: dict[str, Planner] = {}  # see plan()
        # Calls between existing endpoints, in file order: (caller, callee) -> the first
        # call's path and the caller's normalised key (the path of a cycle names it).
        self.first_call: dict[tuple[str, str], tuple[Path, str]] = {}
        # Messages to queues (a publish, or a call of a queue), in file order: (publisher,
        # queue) -> the first one's path, the publisher's normalised key and the field.
        self.first_publish: dict[tuple[str, str], tuple[Path, str, str]] = {}
        self.handlers: dict[str, str] = {}  # queue name -> its handler's reference
        placed = any(placement_of(c) != (None, ()) for c in self.components.values())
        self.network = design.network or (Network() if placed else None)
        for name, component in self.components.items():
            if isinstance(component, Queue) and component.handler is not None:
                handler = EndpointRef.parse(component.handler)
                if handler is not None:
                    self.handlers[name] = str(handler)

    # -- the walk ------------------------------------------------------------------------

    def run(self) -> Flow:
        for name, component in self.components.items():
            if isinstance(component, Service):
                self.resource(f"{name} workers", name, "workers", component.workers,
                              component.replicas, held=True, replicas_of=name)
        self.consume: dict[str, int] = {}  # a handler's reference -> its consumers
        for name, handler in self.handlers.items():
            queue = self.components[name]
            assert isinstance(queue, Queue)
            if handler not in self.consume and handler in self.index:
                slots, queues = queue.consumer_slots
                self.consume[handler] = self.resource(f"{name} consumers", name, "consumers",
                                                      slots, queues, held=True)
        for name, component in self.components.items():
            where: Path = ("components", name)
            if not _NAME.match(name):
                self.report(where, f"component name {name!r} may hold only letters, digits, "
                            "'-', '_' and '.', and no spaces")
            if isinstance(component, Service):
                self.service(name, component)
            elif isinstance(component, Database):
                self.database(name, component)
            elif isinstance(component, Queue) and component.handler is not None:
                self.endpoint_ref((*where, "handler"), component.handler)
            elif isinstance(component, External) and component.availability is not None \
                    and component.failure_rate > 0 \
                    and abs(component.failure_rate - (1.0 - component.availability)) > 1e-12:
                self.report((*where, "availability"), "give availability or failure_rate, "
                            f"not both (availability {component.availability:g} is "
                            f"failure_rate {1.0 - component.availability:.6g}, not "
                            f"{component.failure_rate:g})")
        self.sagas()
        self.invariants()
        self.calibration()
        for field in ("workload", "schedule"):
            for key in getattr(self.design, field):
                if is_endpoint_ref(key):
                    self.endpoint_ref((field, key), key)
                else:
                    self.report((field, key), f"{key!r} is not an endpoint reference 'svc "
                                "METHOD /path'", nearest(key, self.index))
        self.cycles()
        order = self.order() if not self.problems else ()
        return Flow(
            resources=tuple(self.resources),
            endpoints=tuple(self.endpoints),
            index=self.index,
            order=order,
            kinds={n: str(c.kind) for n, c in self.components.items()},
            sites=tuple(self.sites),
            handlers={ref: queue for queue, ref in self.handlers.items()},
            scheduled=frozenset(key for key in self.design.schedule
                                if key not in self.design.workload),
            foreign_keys=tuple(self.foreign_keys),
            problems=tuple(self.problems),
        )

    def report(self, path: Path, message: str, suggestions: Iterable[str] = ()) -> None:
        self.problems.append(Problem(format_path(path), message, tuple(suggestions)))

    def resource(self, rid: str, component: str, role: str, servers: int, copies: int = 1,
                 held: bool = False, replicas_of: str | None = None) -> int:
        if rid not in self.resource_ids:
            self.resource_ids[rid] = len(self.resources)
            self.resources.append(Resource(rid, component, role, servers, copies, held,
                                           replicas_of))
        return self.resource_ids[rid]

    # -- services ------------------------------------------------------------------------

    def service(self, name: str, service: Service) -> None:
        seen: dict[str, str] = {}
        for key, endpoint in service.endpoints.items():
            where: Path = ("components", name, "endpoints", key)
            method, _, path = key.partition(" ")
            if not is_endpoint_key(key):
                self.report(where, f"endpoint key {key!r} is not 'METHOD /path'; methods are "
                            f"{', '.join(HTTP_METHODS)}",
                            nearest(method.upper(), HTTP_METHODS))
            normal = f"{method.upper()} {path}"
            if normal in seen:
                self.report(where, f"duplicate endpoint: {key!r} and {seen[normal]!r} are the "
                            "same endpoint")
            seen[normal] = key
            ref = EndpointRef(name, method.upper(), path)
            around = _Around(ref, endpoint, normal)
            steps = self.steps(endpoint.steps, (*where, "steps"), around)
            self.endpoints.append(EndpointFlow(
                ref, self.resource_ids[f"{name} workers"], service.io == "blocking",
                self.timed(name, Spec.of(endpoint.cpu_ms)), steps, endpoint.timeout_ms,
                self.consume.get(str(ref))))

    def steps(self, steps: Sequence[Step], path: Path, around: _Around) -> Seq:
        """The nodes of ``steps`` (and of the steps nested in them), each step's site
        recorded and its references checked, in file order."""
        return Seq(tuple(self.step(step, (*path, i), around) for i, step in enumerate(steps)))

    def site(self, step: Step, path: Path, around: _Around, target: str | None,
             fills: float = 0.0) -> Site:
        ref = around.ref
        site_path = path if path[3] == ref.key else (*path[:3], ref.key, *path[4:])
        site = Site(ref, around.endpoint, site_path, step, around.iterations, around.times,
                    around.tx, around.holders, target, fills)
        self.sites.append(site)
        return site

    def step(self, step: Step, path: Path, around: _Around) -> Node:
        match step:
            case CallStep():
                return self.call(step, path, around)
            case TransactionStep():
                site = self.site(step, path, around, step.transaction)
                valid = self.target(path, "transaction", step.transaction, "database",
                                    "a transaction")
                inner = _Around(around.ref, around.endpoint, around.normal, around.iterations,
                                around.times, (site.subject, step.transaction),
                                (*around.holders, step.transaction),
                                around.open_tx | {step.transaction})
                body = self.steps(step.steps, (*path, "steps"), inner)
                database = self.components.get(step.transaction)
                if not valid or not isinstance(database, Database):
                    return body
                begin = self.hop(around, step.transaction, None)  # BEGIN, then COMMIT
                if begin is not None:
                    body = Seq((begin, body, begin))
                return Hold(self.pool(step.transaction, database, around.ref.service), body,
                            site=site)
            case LockStep():
                site = self.site(step, path, around, step.lock)
                valid = self.target(path, "lock", step.lock, "lock", "a lock step")
                inner = _Around(around.ref, around.endpoint, around.normal, around.iterations,
                                around.times, around.tx, (*around.holders, step.lock),
                                around.open_tx)
                body = self.steps(step.steps, (*path, "steps"), inner)
                lock = self.components.get(step.lock)
                if not valid or not isinstance(lock, Lock):
                    return body
                return self.locked(step.lock, lock, body,
                                   self.timed(step.lock, Constant(lock.acquire_ms)), site)
            case CacheStep():
                cache = self.components.get(step.cache)
                hit = step.hit_ratio if step.hit_ratio is not None else (
                    cache.hit_ratio if isinstance(cache, Cache) else 0.0)
                site = self.site(step, path, around, step.cache,
                                 1.0 - hit if isinstance(cache, Cache) else 0.0)
                valid = self.target(path, "cache", step.cache, "cache", "a cache step")
                inner = _Around(around.ref, around.endpoint, around.normal, around.iterations,
                                around.times * (1.0 - hit), around.tx, around.holders,
                                around.open_tx)
                miss = self.steps(step.on_miss, (*path, "on_miss"), inner)
                if not valid or not isinstance(cache, Cache):
                    return miss
                # a miss reads on, then fills the cache: one more call of it
                fill = self.hopped(around, step.cache,
                                   self.cache_visit(step.cache, cache, None, 1.0, site), site)
                return self.hopped(around, step.cache, CacheRead(
                    self.cache_visit(step.cache, cache, None, 1.0, site), hit,
                    _then(miss, fill), site, self.uncertain(
                        (*path, "hit_ratio") if step.hit_ratio is not None
                        else ("components", step.cache, "hit_ratio"))), site)
            case PublishStep():
                site = self.site(step, path, around, step.publish)
                if not self.target(path, "publish", step.publish, "queue", "publish"):
                    return Seq()
                self.first_publish.setdefault((str(around.ref), step.publish),
                                              (path, around.normal, "publish"))
                outbox = self.outbox(around, site) if step.outbox else None
                reached = around.tx[1] if outbox is not None and around.tx else step.publish
                return self.hopped(around, reached,
                                   self.publish(step.publish, step.count, site, outbox), site,
                                   step.count)
            case LoopStep():
                site = self.site(step, path, around, None)
                n = step.loop.count
                inner = _Around(around.ref, around.endpoint, around.normal,
                                around.iterations * n, around.times * n, around.tx,
                                around.holders, around.open_tx)
                return Loop(n, self.steps(step.loop.steps, (*path, "loop", "steps"), inner),
                            site)
            case ParallelStep():
                site = self.site(step, path, around, None)
                return Par(tuple(self.steps(branch, (*path, "parallel", b), around)
                                 for b, branch in enumerate(step.parallel)), site)
            case _:
                assert_never(step)

    def call(self, step: CallStep, path: Path, around: _Around) -> Node:
        start = len(self.sites)
        node = self.target_call(step, path, around)
        site = self.sites[start]  # the call's own (what it reaches comes after)
        if site.target is not None and not isinstance(node, ExternalCall):
            node = self.hopped(around, site.target, node, site, step.count)
        if step.fallback is None:
            return node
        return Fallback(node, self.steps(step.fallback, (*path, "fallback"), around), site)

    # -- times ---------------------------------------------------------------------------

    def uncertain(self, path: Path) -> str | None:
        """The design's name of the number at ``path`` when it is uncertain (a range or
        a distribution: :mod:`designkit.model.uncertain`), else ``None``."""
        if not self.design.uncertain:
            return None
        key = format_path(path)
        return key if key in self.design.uncertain else None

    def timed(self, component: str, time: Spec) -> Spec:
        """A time ``component`` spends, as its calibration (and the stretch of its
        slowdown at the load being solved) says: scaled, and of the calibrated shape."""
        calibrated = (self.design.calibration.components.get(component)
                      if self.design.calibration is not None else None)
        factor = self.stretch.get(component, 1.0) * (calibrated.scale if calibrated else 1.0)
        if factor != 1.0:
            time = time.scaled(factor)
        if calibrated is not None and calibrated.scv is not None and time.mean > 0:
            time = shape_of(time.mean, calibrated.scv)
        return time

    # -- network -------------------------------------------------------------------------

    def hop(self, around: _Around, target: str, site: Site | None,
            count: float = 1.0) -> Delay | None:
        """The round trips (``count``) from the caller's replica to ``target``; ``None`` in
        a design that places nothing (a third party's latency already holds its own)."""
        if self.network is None or count <= 0:
            return None
        low, high, p = round_trip(self.network,
                                  placement_of(self.components.get(around.ref.service)),
                                  placement_of(self.components.get(target)))
        time: Spec = (Constant(low) if p <= 0 else Constant(high) if p >= 1
                      else TwoPoint(low, high, p))
        if time.mean <= 0:
            return None
        return Delay(time.scaled(count) if count != 1.0 else time, site)

    def hopped(self, around: _Around, target: str, node: Node, site: Site | None,
               count: float = 1.0) -> Node:
        """``node`` after its round trips to ``target`` (a database statement's inside the
        connection it holds)."""
        hop = self.hop(around, target, site, count)
        if hop is None:
            return node
        if isinstance(node, Hold) and isinstance(self.components.get(target), Database):
            return Hold(node.station, _then(hop, node.body), node.extra, node.site)
        return _then(hop, node)

    def target_call(self, step: CallStep, path: Path, around: _Around) -> Node:
        text = step.call
        ref, callee, one_word = self.refs.get(text) or self.parse(text)
        site = self.site(step, path, around, ref.service if ref is not None else text)
        if ref is not None:
            if callee not in self.index:
                self.endpoint_ref((*path, "call"), text)
                return Seq()
            self.first_call.setdefault((str(around.ref), callee), (path, around.normal))
            target = self.components.get(ref.service)
            down = (1.0 - target.availability if isinstance(target, Service)
                    and target.availability is not None else 0.0)
            return Invoke(self.index[callee], step.count, _copy(step.retries), site,
                          1.0 - (1.0 - (step.failure_rate or 0.0)) * (1.0 - down))
        if step.failure_rate is not None:
            self.report((*path, "failure_rate"), "only a call of another service's endpoint "
                        "takes a failure_rate; a third party's is on its component "
                        f"({text}: failure_rate: …)")
        if not one_word:
            self.report((*path, "call"), f"call target {text!r} is neither a component "
                        "name nor 'svc METHOD /path'")
            return Seq()
        component = self.component(path, "call", text)
        if component is None:
            return Seq()
        override = (self.timed(text, Spec.of(step.service_ms))
                    if step.service_ms is not None else None)
        if isinstance(component, Service):
            options = [r for r in self.index if r.startswith(text + " ")]
            self.report((*path, "call"), f"a call to service {text!r} names its endpoint "
                        "as 'svc METHOD /path'", sorted(options)[:3])
            return Seq()
        if isinstance(component, Database):
            return self.database_call(step, path, around, component, override, site)
        if step.query is not None:
            self.report((*path, "query"), f"{text!r} is a {component.kind}, not a "
                        "database: only database calls take a query")
        if isinstance(component, Cache):
            return self.cache_visit(text, component, override, step.count, site)
        if isinstance(component, Queue):
            self.first_publish.setdefault((str(around.ref), text),
                                          (path, around.normal, "call"))
            return self.publish(text, step.count, site)
        if isinstance(component, Lock):
            return self.locked(text, component, Seq(), override or self.timed(
                text, Constant(component.acquire_ms)), site)
        if isinstance(component, External):
            bounded: int | None = None
            if component.concurrency is not None:
                bounded = self.resource(f"{text} concurrency", text, "concurrency",
                                        component.concurrency)
            breaker = component.circuit_breaker
            return ExternalCall(
                component=text,
                latency=override or self.timed(text, Spec.of(component.latency_ms)),
                timeout_ms=step.timeout_ms or component.timeout_ms,
                retries=_copy(step.retries or component.retries),
                failure_rate=(component.failure_rate if component.availability is None
                              else 1.0 - component.availability),
                breaker_threshold=(breaker.failure_threshold
                                   if breaker and breaker.enabled else None),
                station=bounded,
                count=step.count,
                site=site,
            )
        return Seq()

    def database_call(self, step: CallStep, path: Path, around: _Around, database: Database,
                      override: Spec | None, site: Site) -> Node:
        if step.query is not None:
            before = len(self.problems)
            self.query(path, database, step)
            if override is None and len(self.problems) > before:
                return Seq()
        elif override is None:
            self.report(path, f"a call to database {step.call!r} needs a query "
                        "({table, kind, where}) or service_ms")
            return Seq()
        if override is not None:
            time = override
        else:
            assert step.query is not None
            time = self.timed(step.call, Spec.exponential(self.plan(step.call, database,
                                                                    step.query)))
        cpu = self.resource(f"{step.call} cpu", step.call, "cpu", database.cores)
        visit = Visit(cpu, time, step.count, site)
        if step.call in around.open_tx:
            return visit
        return Hold(self.pool(step.call, database, around.ref.service), visit, site=site)

    def plan(self, name: str, database: Database, query: Query) -> float:
        """The time (ms) of ``query`` on database ``name`` (one planner per database)."""
        planner = self.planners.get(name)
        if planner is None:
            planner = self.planners[name] = Planner(database)
        return planner.plan(query, self.days).ms

    def query(self, path: Path, database: Database, step: CallStep) -> None:
        """Check the query of ``step`` (at ``path``, the step's path)."""
        assert step.query is not None
        query = step.query
        table = database.tables.get(query.table)
        if table is None:
            self.report((*path, "query", "table"), f"database {step.call!r} has no table "
                        f"{query.table!r}", nearest(query.table, database.tables))
            return
        if not table.columns:
            return  # columns not stated: any column goes
        for place, column in query.columns():
            self.column((*path, "query", *place), step.call, query.table, table, column)

    def column(self, path: Path, db: str, name: str, table: Table, column: str) -> None:
        if table.columns and column not in table.columns:
            self.report(path, f"table {db}.{name} has no column {column!r}",
                        nearest(column, table.columns))

    def cache_visit(self, name: str, cache: Cache, override: Spec | None, count: float,
                    site: Site | None) -> Visit:
        station = self.resource(f"{name} servers", name, "servers", 1, cache.servers)
        return Visit(station, override or self.timed(name, Spec.of(setting(cache, "service_ms"))),
                     count, site)

    def publish(self, name: str, count: float, site: Site | None,
                outbox: Visit | None = None) -> Node:
        queue = self.components[name]
        if not isinstance(queue, Queue):
            return Seq()
        station = self.resource(f"{name} partitions", name, "partitions", 1, queue.partitions)
        handler = self.index.get(self.handlers.get(name, ""))
        time = self.timed(name, Spec.of(setting(queue, "service_ms")))
        return Publish(Visit(station, time, 1.0, site),
                       handler, count,
                       site, outbox)

    def outbox(self, around: _Around, site: Site) -> Visit | None:
        """The insert of a message's outbox row into the database of the transaction around
        the publish (one row written: ``write_ms``); ``None`` outside a transaction, where
        there is nothing to write it with — the message is then sent directly (DK-RES-005
        fails that, and an outbox table that does not exist)."""
        if around.tx is None:
            return None
        name = around.tx[1]
        database = self.components.get(name)
        if not isinstance(database, Database):
            return None  # the transaction's own reference is reported where it is
        cpu = self.resource(f"{name} cpu", name, "cpu", database.cores)
        return Visit(cpu, self.timed(name, Spec.exponential(setting(database, "write_ms"))),
                     1.0, site)

    def pool(self, name: str, database: Database, client: str) -> int:
        service = self.components[client]
        replicas = service.replicas if isinstance(service, Service) else 1
        return self.resource(f"{name} pool {client}", name, "pool",
                             database.pool_size or DEFAULT_POOL_SIZE, replicas, held=True,
                             replicas_of=client if isinstance(service, Service) else None)

    def locked(self, name: str, lock: Lock, body: Node, extra: Spec, site: Site) -> Node:
        """``body`` under lock ``name``: a hold of one of its keys — of the hottest key with
        probability ``hot_key_share`` (a station of its own), else of one of the others."""
        share = lock.hot_key_share
        if share is None:
            return Hold(self.resource(f"{name} lock", name, "lock", 1, lock.keys, held=True),
                        body, extra, site)
        if lock.keys < 2 or share < 1.0 / lock.keys:
            self.report(("components", name, "hot_key_share"),
                        f"the hottest of {lock.keys:,} key(s) takes at least 1/{lock.keys:,} "
                        f"of the acquisitions, not {share:g}: "
                        + ("give keys (how many distinct keys it locks)" if lock.keys < 2
                           else f"set hot_key_share ≥ {1.0 / lock.keys:.3g} or leave it out"))
            return body
        hot = self.resource(f"{name} lock (hot key)", name, "lock (hot key)", 1, 1, held=True)
        if share >= 1.0:
            return Hold(hot, body, extra, site)
        rest = self.resource(f"{name} lock", name, "lock", 1, lock.keys - 1, held=True)
        return Choice(share, Hold(hot, body, extra, site), Hold(rest, body, extra, site), site)

    # -- databases -----------------------------------------------------------------------

    def database(self, name: str, database: Database) -> None:
        for table_name, table in database.tables.items():
            where: Path = ("components", name, "tables", table_name)
            for i, index in enumerate(table.indexes):
                for j, column in enumerate(index.columns):
                    self.column((*where, "indexes", i, "columns", j), name, table_name,
                                table, column)
            if table.version_column is not None:
                self.column((*where, "version_column"), name, table_name, table,
                            table.version_column)
            if table.partitioning is not None:
                for j, column in enumerate(table.partitioning.key):
                    self.column((*where, "partitioning", "key", j), name, table_name,
                                table, column)
            for column_name, spec in table.columns.items():
                if spec.references is not None:
                    self.foreign_key((*where, "columns", column_name, "references"), name,
                                     table_name, column_name, spec.references, spec.unique)

    def foreign_key(self, path: Path, db_name: str, table_name: str, column_name: str,
                    target: str, unique: bool) -> None:
        parsed = parse_foreign_key(db_name, target)
        if parsed is None:
            self.report(path, f"a foreign key is 'table.column' or 'database.table.column', "
                        f"got {target!r}")
            return
        to_db, to_table, to_column = parsed
        self.foreign_keys.append(ForeignKey(db_name, table_name, column_name, to_db, to_table,
                                            to_column, unique))
        database = self.components.get(to_db)
        if not isinstance(database, Database):
            if to_db not in self.known:
                self.report(path, f"unknown database {to_db!r}",
                            nearest(to_db, self.design.of_kind("database")))
            return
        table = database.tables.get(to_table)
        if table is None:
            self.report(path, f"foreign key to a missing table: database {to_db!r} has no "
                        f"table {to_table!r}", nearest(to_table, database.tables))
        elif table.columns and to_column not in table.columns:
            self.report(path, f"foreign key to a missing column: table {to_db}.{to_table} "
                        f"has no column {to_column!r}", nearest(to_column, table.columns))

    # -- calibration ---------------------------------------------------------------------

    def calibration(self) -> None:
        calibration = self.design.calibration
        if calibration is None:
            return
        for name in calibration.components:
            self.component(("calibration", "components"), name, name)
        for key in calibration.measured:
            self.endpoint_ref(("calibration", "measured", key), key)

    # -- invariants ----------------------------------------------------------------------

    def invariants(self) -> None:
        for name, invariant in self.design.invariants.items():
            here: Path = ("invariants", name)
            if invariant.charged_by is not None:
                if is_endpoint_ref(invariant.charged_by):
                    self.endpoint_ref((*here, "charged_by"), invariant.charged_by)
                else:
                    self.component(here, "charged_by", invariant.charged_by)
                continue
            texts = [("authority", invariant.authority)] + \
                [(("copies", i), text) for i, text in enumerate(invariant.copies)]
            for field, text in texts:
                assert text is not None
                self.store(here, field, parse_store(text))

    def store(self, path: Path, field: str | tuple[str, int], store: Store) -> None:
        """Check that an invariant's store exists: a cache or a database, and its table
        and column when named."""
        where = (*path, *(field if isinstance(field, tuple) else (field,)))
        component = self.components.get(store.component)
        if component is None:
            if store.component not in self.known:
                self.report(where, f"unknown component {store.component!r}",
                            nearest(store.component, self.components))
            return
        if not isinstance(component, Cache | Database):
            self.report(where, f"a value lives in a cache or a database; {store.component!r} "
                        f"is a {component.kind}")
            return
        if store.table is None:
            return
        if not isinstance(component, Database):
            self.report(where, f"{store.component!r} is a cache: name it alone, and its "
                        "keys with key: (stock:{sku})")
            return
        table = component.tables.get(store.table)
        if table is None:
            self.report(where, f"database {store.component!r} has no table {store.table!r}",
                        nearest(store.table, component.tables))
        elif store.column is not None and table.columns and store.column not in table.columns:
            self.report(where, f"table {store.component}.{store.table} has no column "
                        f"{store.column!r}", nearest(store.column, table.columns))

    # -- sagas ---------------------------------------------------------------------------

    def sagas(self) -> None:
        for name, saga in self.design.sagas.items():
            pivots = [s.name for s in saga.steps if s.pivot]
            if len(pivots) > 1:
                self.report(("sagas", name, "steps"),
                            f"a saga has at most one pivot step; found {', '.join(pivots)}")
            seen: set[str] = set()
            for i, step in enumerate(saga.steps):
                here: Path = ("sagas", name, "steps", i)
                if step.name in seen:
                    self.report((*here, "name"), f"step name {step.name!r} is used twice")
                seen.add(step.name)
                self.endpoint_ref((*here, "action"), step.action)
                if step.compensation is not None:
                    self.endpoint_ref((*here, "compensation"), step.compensation)

    # -- shared --------------------------------------------------------------------------

    def parse(self, text: str) -> tuple[EndpointRef | None, str, bool]:
        """``EndpointRef.parse(text)``, its ``str``, and whether ``text`` is one word; each
        distinct text is parsed once."""
        ref = EndpointRef.parse(text)
        parsed = self.refs[text] = (ref, "" if ref is None else str(ref), len(text.split()) == 1)
        return parsed

    def component(self, path: Path, field: str, name: str) -> Component | None:
        """The component ``name`` that the step at ``path`` names in ``field``, if any."""
        component = self.components.get(name)
        if component is None and name not in self.known:
            self.report((*path, field), f"unknown component {name!r}",
                        nearest(name, [*self.components, *self.known]))
        return component

    def target(self, path: Path, field: str, name: str, kind: str, what: str) -> bool:
        """Whether ``name`` is a component of ``kind`` (else a problem, unless known)."""
        component = self.component(path, field, name)
        if component is None:
            return False
        if component.kind != kind:
            options = self.design.of_kind(kind)
            self.report((*path, field), f"{what} needs a {kind}; {name!r} is a "
                        f"{component.kind}", nearest(name, options) or tuple(sorted(options))[:3])
            return False
        return True

    def endpoint_ref(self, path: Path, text: str) -> None:
        ref, name, _ = self.refs.get(text) or self.parse(text)
        if ref is None:
            self.report(path, f"{text!r} is not an endpoint reference 'svc METHOD /path'",
                        nearest(text, self.index))
            return
        if name in self.index or (self.known and {ref.service, name} & self.known):
            return
        component = self.components.get(ref.service)
        if component is None:
            self.report(path, f"unknown service {ref.service!r}",
                        nearest(ref.service, self.design.of_kind("service")))
        elif not isinstance(component, Service):
            self.report(path, f"{ref.service!r} is a {component.kind}, not a service")
        else:
            self.report(path, f"service {ref.service!r} has no endpoint {ref.key!r}",
                        nearest(name, set(self.index) | self.known))

    # -- loops ---------------------------------------------------------------------------

    def cycles(self) -> None:
        """Report each synchronous call cycle between endpoints, in sorted order.

        Most designs have none: a topological sort (Kahn) proves that without building a
        networkx graph; only a design with a cycle lists them with ``nx.simple_cycles``.
        """
        edges = self.first_call
        if not _has_cycle(edges):
            self.message_loops()
            return
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_edges_from(edges)
        rings = []
        for cycle in nx.simple_cycles(graph):
            at = cycle.index(min(cycle))
            rings.append(cycle[at:] + cycle[:at])
        for ring in sorted(rings):
            loop = " → ".join([*ring, ring[0]])
            path, normal = edges[(ring[-1], ring[0])]
            self.report(("components", path[1], "endpoints", normal, *path[4:], "call"),
                        f"synchronous call cycle: {loop}; break it with a queue (publish) or "
                        "by removing a call")

    def message_loops(self) -> None:
        """Report one loop of messages (an endpoint's publish reaching, through handlers
        and calls, the endpoint again): its load has no steady state, so the estimate
        could not run. Called only when there is no synchronous cycle."""
        handlers = {queue: ref for queue, ref in self.handlers.items() if ref in self.index}
        by_message = {(caller, handlers[queue]): where
                      for (caller, queue), where in self.first_publish.items()
                      if queue in handlers}
        if not by_message or not _has_cycle([*self.first_call, *by_message]):
            return
        import networkx as nx

        graph = nx.DiGraph([*self.first_call, *by_message])
        ring = min((c[c.index(min(c)):] + c[:c.index(min(c))] for c in nx.simple_cycles(graph)
                    if any((c[i], c[(i + 1) % len(c)]) in by_message for i in range(len(c)))),
                   default=None)
        if ring is None:
            return
        hop = next(i for i in range(len(ring)) if (ring[i], ring[(i + 1) % len(ring)])
                   in by_message)
        path, normal, field = by_message[(ring[hop], ring[(hop + 1) % len(ring)])]
        loop = " → ".join([*ring, ring[0]])
        self.report(("components", path[1], "endpoints", normal, *path[4:], field),
                    f"messages loop back to their publisher ({loop}): the load of a message "
                    "loop has no steady state; break the loop")

    def order(self) -> tuple[int, ...]:
        """Endpoints with every caller (synchronous or by message) before its callees; the
        lowest index first among those ready (Kahn's algorithm with a heap). Called on a
        design without problems, whose calls and messages do not loop."""
        n = len(self.endpoints)
        callees: list[list[int]] = [[] for _ in range(n)]
        callers = [0] * n
        for (caller, callee) in [*self.first_call, *self._message_edges()]:
            i, j = self.index[caller], self.index[callee]
            callees[i].append(j)
            callers[j] += 1
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
        assert len(order) == n, "loops are reported as problems before the order is asked"
        return tuple(order)

    def _message_edges(self) -> list[tuple[str, str]]:
        return [(caller, self.handlers[queue]) for (caller, queue) in self.first_publish
                if self.handlers.get(queue) in self.index]


def _has_cycle(edges: Iterable[tuple[str, str]]) -> bool:
    """Whether the directed graph of ``edges`` (self-loops included) has a cycle."""
    successors: dict[str, list[str]] = {}
    indegree: dict[str, int] = {}
    for caller, callee in edges:  # each edge once: they are the keys of a dict
        successors.setdefault(caller, []).append(callee)
        indegree[callee] = indegree.get(callee, 0) + 1
        indegree.setdefault(caller, 0)
    ready = [node for node, count in indegree.items() if count == 0]
    removed = 0
    while ready:
        node = ready.pop()
        removed += 1
        for callee in successors.get(node, ()):
            indegree[callee] -= 1
            if indegree[callee] == 0:
                ready.append(callee)
    return removed < len(indegree)


def _copy(retries: Retries | None) -> Retries | None:
    """The flow keeps its own copy: it may outlive changes to the design."""
    return None if retries is None else retries.model_copy()


def _then(node: Node, after: Node) -> Seq:
    """``node``, then ``after``, as one sequence (a sequence's items run on, unnested)."""
    items = node.items if isinstance(node, Seq) else (node,)
    return Seq((*items, after))
