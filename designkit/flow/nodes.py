"""The flow IR: what every endpoint does, as one tree of frozen nodes per endpoint.

The design's steps say what a request does in the words of the file (``call``,
``transaction``, ``cache``…). The IR says it in the words every consumer needs: a queued
*visit* to a resource, a *hold* of a resource around other work, a synchronous *invoke* of
another endpoint, an *external call*, a *publish*, and the sequence, parallel, loop and
cache-aside shapes around them. Names are resolved and normalised once, times derived once
(query plans, hit ratios), and every node keeps the :class:`Site` of the step it comes from
(its path, its subject as findings name it, the loops, cache misses, transaction and holders
around it).

:func:`designkit.flow.build.build` is the only code that walks a design's steps; the
estimator, the simulator, the rules and the diagrams read what it builds. Each interpreter
``match``-es on :data:`Node` and ends in ``assert_never``, so a new node kind is a type error
in every interpreter that does not handle it yet (see docs/flow.md).

Resources (the estimator's *stations*):

| component | resource | servers |
|---|---|---|
| service | ``workers`` (held) | ``workers`` per replica, ``replicas`` copies |
| database | ``cpu`` | ``cores`` |
| database | ``pool <client>`` (held) | ``pool_size`` per client replica |
| cache | ``servers`` | 1 per server (keys are sharded), ``servers`` copies |
| queue | ``partitions`` | 1 per partition, ``partitions`` copies |
| queue | ``consumers`` (held, around its handler's run) | see ``Queue.consumer_slots`` |
| lock | ``lock`` (held) | 1 per key, ``keys`` copies |
| lock | ``lock (hot key)`` (held) | 1: its hottest key (``lock``: the ``keys − 1`` others) |
| external | ``concurrency`` | its ``concurrency`` (none when unbounded) |
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from designkit.flow.times import Constant, Spec
from designkit.model.refs import EndpointRef

if TYPE_CHECKING:
    from designkit.errors import Problem
    from designkit.model.resilience import Retries
    from designkit.model.service import Endpoint
    from designkit.model.steps import Step

__all__ = [
    "CacheRead", "Choice", "Delay", "EndpointFlow", "ExternalCall", "Fallback", "Flow",
    "ForeignKey", "Hold", "Invoke", "Loop", "Node", "Par", "Path", "Publish", "Resource", "Seq",
    "Site", "Visit", "children", "walk",
]

Path = tuple[str | int, ...]


@dataclass(frozen=True, eq=False)
class Site:
    """One step of an endpoint, where the design file has it, with what encloses it.

    Attributes:
        ref: The endpoint that runs it (method upper-cased).
        endpoint: That endpoint (the model part).
        path: The step's path in the design (``("components", svc, "endpoints", key,
            "steps", 0, …)``, the endpoint's key as the file spells it).
        step: The model step.
        iterations: Product of the counts of the loops around it (1 outside loops).
        times: Executions per request of the list it sits in: ``iterations`` times the
            miss ratios of the cache steps around it (its own ``count`` not included).
        tx: Subject and database of the innermost transaction around it, if any.
        holders: Names of the locks and transactions (databases) held around it,
            outermost first.
        target: The component it reaches (a call's component, the service of an endpoint
            it calls, the database of a transaction…), when that exists.
        fills: For a cache read, the share of its executions that miss and then fill the
            cache (one more call of it); 0 for any other step.

    Example:
        >>> import designkit as dk
        >>> from designkit.flow.build import build
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("GET /a").loop(3).call("db", service_ms=1)
        >>> _ = d.database("db")
        >>> site = build(d).sites[1]
        >>> site.subject, site.iterations, site.target
        ('components.api.endpoints."GET /a".steps[0].loop.steps[0]', 3.0, 'db')
    """

    ref: EndpointRef
    endpoint: Endpoint
    path: Path
    step: Step
    iterations: float = 1.0
    times: float = 1.0
    tx: tuple[str, str] | None = None
    holders: tuple[str, ...] = ()
    target: str | None = None
    fills: float = 0.0

    @cached_property
    def subject(self) -> str:
        """The step's path as a finding names it (formatted once, when first asked)."""
        from designkit.model.problems import format_path

        return format_path(self.path)

    @property
    def looped(self) -> bool:
        """Whether a loop with more than one iteration encloses the step."""
        return self.iterations > 1.0

    @property
    def rate(self) -> float:
        """Executions of the step per request of its endpoint: ``times`` × its count."""
        return self.times * float(getattr(self.step, "count", 1.0))


@dataclass(frozen=True)
class Resource:
    """Identical servers with one FCFS queue per copy; ``held`` when it wraps other work
    (its service time is the time of what it wraps). ``replicas_of``: the service whose
    replicas its copies are (its workers, its connection pools) — a request uses the copy
    of the replica it runs on; ``None``: a copy is picked at random (shards)."""

    id: str
    component: str
    role: str
    servers: int
    copies: int = 1
    held: bool = False
    replicas_of: str | None = None


@dataclass(frozen=True, eq=False)
class Delay:
    """Time spent without queueing (a service's own cpu; with a ``site``, the network round
    trip of that step's hop)."""

    time: Spec
    site: Site | None = None


@dataclass(frozen=True, eq=False)
class Visit:
    """A queued visit to a resource: wait, then ``time`` of service; ``count`` in a row."""

    station: int
    time: Spec
    count: float = 1.0
    site: Site | None = None


@dataclass(frozen=True, eq=False)
class Hold:
    """Wait for a server of a held resource, keep it during ``body`` (+ ``extra``)."""

    station: int
    body: Node
    extra: Spec = field(default_factory=lambda: Constant(0.0))
    site: Site | None = None


@dataclass(frozen=True, eq=False)
class Invoke:
    """A synchronous call of another endpoint, ``count`` in a row (``retries`` are noted
    for the retry-storm check). It fails when the callee's request does, or at the
    ``failure_rate`` the call states (beyond the callee's model; after the retries)."""

    endpoint: int
    count: float = 1.0
    retries: Retries | None = None
    site: Site | None = None
    failure_rate: float = 0.0


@dataclass(frozen=True, eq=False)
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
    site: Site | None = None

    def breaker_open(self, failure: float) -> bool:
        """The breaker stays open when attempts fail at least as often as its threshold."""
        return self.breaker_threshold is not None and failure >= self.breaker_threshold


@dataclass(frozen=True, eq=False)
class Publish:
    """A message to a broker: a visit there; the handler runs asynchronously. Through a
    transactional outbox (``outbox``: the insert of its row, inside the transaction) the
    request only writes the row; a relay makes the broker visit later, off the request's
    path and outside its transaction."""

    visit: Visit
    handler: int | None
    count: float = 1.0
    site: Site | None = None
    outbox: Visit | None = None

    @property
    def waited(self) -> Visit:
        """What the request waits for: the outbox row's insert, else the broker."""
        return self.visit if self.outbox is None else self.outbox


@dataclass(frozen=True, eq=False)
class Seq:
    """Nodes one after another."""

    items: tuple[Node, ...] = ()


@dataclass(frozen=True, eq=False)
class Par:
    """Branches at once; done when the slowest is."""

    branches: tuple[Node, ...]
    site: Site | None = None


@dataclass(frozen=True, eq=False)
class Loop:
    """``count`` iterations of ``body``, one after another."""

    count: float
    body: Node
    site: Site | None = None


@dataclass(frozen=True, eq=False)
class CacheRead:
    """Cache-aside: a visit to the cache; on a miss (1 − ``hit``), ``miss``."""

    visit: Visit
    hit: float
    miss: Node
    site: Site | None = None
    tag: str | None = None  # the design's path of ``hit`` when it is uncertain


@dataclass(frozen=True, eq=False)
class Fallback:
    """``body`` (a call); when it fails, ``fallback`` instead of failing: the request goes
    on, and fails only when the fallback does."""

    body: Node
    fallback: Node
    site: Site | None = None


@dataclass(frozen=True, eq=False)
class Choice:
    """With probability ``p``, ``first``; else ``second`` (a lock's hot key, or the rest)."""

    p: float
    first: Node
    second: Node
    site: Site | None = None


Node = (Delay | Visit | Hold | Invoke | ExternalCall | Publish | Seq | Par | Loop | CacheRead
        | Fallback | Choice)


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly under ``node``, in order.

    Example:
        >>> from designkit.flow.times import Spec
        >>> [type(n).__name__ for n in children(Seq((Delay(Spec(1.0)), Seq())))]
        ['Delay', 'Seq']
    """
    from typing import assert_never

    match node:
        case Seq(items=items):
            return items
        case Par(branches=branches):
            return branches
        case Hold(body=body) | Loop(body=body):
            return (body,)
        case CacheRead():
            return node.visit, node.miss
        case Fallback():
            return node.body, node.fallback
        case Choice():
            return node.first, node.second
        case Publish():
            return (node.visit,) if node.outbox is None else (node.outbox, node.visit)
        case Delay() | Visit() | Invoke() | ExternalCall():
            return ()
        case _:
            assert_never(node)


def walk(node: Node) -> Iterator[Node]:
    """Every node under ``node``, itself included, depth first.

    Example:
        >>> from designkit.flow.times import Spec
        >>> len(list(walk(Seq((Delay(Spec(1.0)), Seq())))))
        3
    """
    stack = [node]
    while stack:
        here = stack.pop()
        yield here
        stack.extend(reversed(children(here)))


@dataclass(frozen=True, eq=False)
class EndpointFlow:
    """One endpoint: wait for a worker, then its cpu and its steps. A queue's handler
    first waits for one of the queue's consumers (``consume``), which it keeps until its
    run is done: the wait is the message's lag."""

    ref: EndpointRef
    workers: int
    blocking: bool
    cpu: Spec
    steps: Seq
    timeout_ms: float | None = None
    consume: int | None = None


@dataclass(frozen=True)
class ForeignKey:
    """A column's foreign key, parsed once: from ``database.table.column`` to
    ``to_database.to_table.to_column`` (the target may not exist; see the problems)."""

    database: str
    table: str
    column: str
    to_database: str
    to_table: str
    to_column: str
    unique: bool = False


@dataclass(frozen=True, eq=False)
class Flow:
    """A design's behaviour: its resources, each endpoint's tree, every step's site, the
    order callers-before-callees, and the problems found while building it.

    Attributes:
        resources: The stations, in the order they were first met.
        endpoints: Each endpoint's flow, in file order (``design.endpoints()``).
        index: Endpoint position by its normalised reference ``"svc METHOD /path"``.
        order: Endpoint positions, every caller (by call or message) before its callees;
            empty when the calls or messages loop (a problem says where).
        kinds: Each component's kind, by name.
        sites: Every step of every endpoint, depth first in file order.
        handlers: The queue each handler endpoint consumes, by the handler's reference.
        scheduled: The endpoints only a schedule runs (none of the workload's).
        foreign_keys: Every foreign key whose text parses, in file order.
        problems: Broken references and loops; an empty tuple for a valid design.
    """

    resources: tuple[Resource, ...]
    endpoints: tuple[EndpointFlow, ...]
    index: Mapping[str, int]
    order: tuple[int, ...]
    kinds: Mapping[str, str]
    sites: tuple[Site, ...]
    handlers: Mapping[str, str]
    foreign_keys: tuple[ForeignKey, ...]
    problems: tuple[Problem, ...]
    scheduled: frozenset[str] = frozenset()

    @property
    def stations(self) -> tuple[Resource, ...]:
        """The resources, by the estimator's name for them."""
        return self.resources

    def sites_of(self, ref: EndpointRef | str) -> tuple[Site, ...]:
        """Every step site of one endpoint, depth first in file order."""
        return self._by_endpoint.get(str(ref), ())

    @cached_property
    def _by_endpoint(self) -> dict[str, tuple[Site, ...]]:
        grouped: dict[str, list[Site]] = {}
        for site in self.sites:
            grouped.setdefault(str(site.ref), []).append(site)
        return {ref: tuple(sites) for ref, sites in grouped.items()}
