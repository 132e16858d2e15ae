"""What the diagrams show, decided once for every format.

:func:`architecture_view` reads the flow IR (:attr:`~designkit.flow.nodes.Flow.sites`, one
site per step, loops and cache misses already multiplied in) and an estimate into
components and edges ``(caller, target, relation) → calls/s``; :func:`data_view` reads the
flow's parsed foreign keys into tables and relationships whose cardinality is decided here;
:func:`sequence_view` nests one endpoint's sites as its steps are nested in the file, with
the hit ratios the flow resolved, the participants in the order first reached and — under
an estimate — each step's mean time (:mod:`~designkit.estimate.step_times`). Graphviz
(:mod:`~designkit.render.graphviz_views`) and Mermaid (:mod:`~designkit.render.mermaid`)
format these objects and compute nothing of their own, so they cannot disagree about a
rate, an edge, a cardinality, a hit ratio or a step's time; neither walks the design's
steps (``designkit.flow`` does, once).

How an edge's rate is attributed: the caller endpoint's rate in the estimate (its workload,
the scale, and what other endpoints and queues send it) times the site's executions per
request — :attr:`~designkit.flow.nodes.Site.rate` (loop counts × cache-miss ratios × the
step's ``count``) for a call or a publish, :attr:`~designkit.flow.nodes.Site.times` for the
``transaction``, ``lock`` and ``cache`` scopes, which count once per execution. Parallel
branches each count in full. Retries are not added: a dependency's utilization includes
them, its edge shows first attempts. A call to a queue is a publish (the estimator sends
it to the queue's handler). A queue's ``consume`` edge carries its handler endpoint's rate
in the estimate, else the messages published to the queue.

Example:
    >>> import designkit as dk
    >>> d = dk.template("dashboard-slow")
    >>> view = architecture_view(d, dk.estimate(d))
    >>> round(view.rate("dashboard-api", "app-db", "call"), 1)
    386.6
    >>> [(r.key.table, r.referencing, r.referenced) for r in data_view(d).relationships][:1]
    [('customers', 'zero-or-many', 'exactly-one')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, assert_never

from designkit.estimate.errors import Errors, node_errors
from designkit.estimate.step_times import (
    EndpointTimes,
    StepTime,
    endpoint_times,
    errors_by_endpoint,
)
from designkit.flow.build import build
from designkit.flow.nodes import CacheRead, Fallback, Par, walk
from designkit.model.components import Queue
from designkit.model.database import Database
from designkit.model.invariants import parse_store
from designkit.model.refs import EndpointRef
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    TransactionStep,
)

if TYPE_CHECKING:
    from designkit.estimate.result import ComponentEstimate, Estimate
    from designkit.flow.nodes import Flow, ForeignKey, Path, Site
    from designkit.model.database import Table
    from designkit.model.design import Design

__all__ = [
    "RELATIONS", "ArchitectureView", "Cardinality", "ComponentNode", "DataView", "Edge",
    "EdgeKey", "Load", "Relation", "Relationship", "SequenceView", "State", "StepView",
    "TableNode", "architecture_view", "data_view", "list_ms", "ratio", "sequence_view",
]

Relation = Literal["call", "cache", "transaction", "lock", "publish", "consume"]
RELATIONS: tuple[Relation, ...] = ("call", "cache", "transaction", "lock", "publish", "consume")
"""Every relation an edge can have, in the order legends list them."""

_SCOPES = frozenset({"cache", "transaction", "lock"})
"""Relations that count once per execution of the step (its ``count`` does not apply)."""

EdgeKey = tuple[str, str, str]
"""(caller, target, relation): one arrow of the architecture view."""

State = Literal["idle", "ok", "warning", "saturated", "unbounded"]
Cardinality = Literal["exactly-one", "zero-or-one", "zero-or-many"]


# -- architecture ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """A component under the estimate: its busiest station's utilization, its arrivals,
    and the one colour state every format draws.

    ``state`` is ``saturated`` when the estimate says so or utilization is ≥ 100 % (or not
    finite), ``warning`` at or above ``utilization_max``, ``idle`` with no arrivals and no
    utilization, ``unbounded`` when it is called but has no station (an external API
    without a ``concurrency`` limit: nothing queues there, so it has no utilization and
    never saturates; the diagrams show its calls/s and latency), else ``ok``.
    """

    utilization: float
    arrival_rps: float
    saturated: bool
    state: State


@dataclass(frozen=True)
class ComponentNode:
    """One component of the architecture view, where it is drawn and how loaded it is;
    ``keeps``: the invariants whose value it is the authority for (``no-oversell``)."""

    name: str
    kind: str
    zone: str | None = None
    boundary: str | None = None
    load: Load | None = None
    keeps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edge:
    """One arrow: ``caller`` reaches ``target`` by ``relation``, ``rate`` times a second
    (0 without an estimate)."""

    caller: str
    target: str
    relation: Relation
    rate: float = 0.0

    @property
    def key(self) -> EdgeKey:
        """``(caller, target, relation)``."""
        return self.caller, self.target, self.relation


@dataclass(frozen=True)
class ArchitectureView:
    """The components and the edges between them, with rates when ``estimated``.

    Attributes:
        name: The design's name.
        nodes: Every component, in file order.
        edges: One edge per (caller, target, relation), in the order of
            :meth:`Design.graph`: callers in file order, each caller's targets in the order
            first reached, each target's relations in the order first reached.
        estimated: Whether an estimate gave the rates and loads.
        utilization_max: The utilization at and above which a component is a warning (the
            estimate's, else the design's policy).
    """

    name: str
    nodes: tuple[ComponentNode, ...]
    edges: tuple[Edge, ...]
    estimated: bool
    utilization_max: float

    @property
    def rates(self) -> dict[EdgeKey, float]:
        """Each edge's rate by its key (a new dict on each call)."""
        return dict(self._rates)

    def rate(self, caller: str, target: str, relation: str) -> float:
        """The rate of the edge ``(caller, target, relation)``; 0 when there is none."""
        return self._rates.get((caller, target, relation), 0.0)

    @cached_property
    def _rates(self) -> dict[EdgeKey, float]:
        return {edge.key: edge.rate for edge in self.edges}

    @property
    def relations(self) -> tuple[Relation, ...]:
        """The relations the edges use, in :data:`RELATIONS` order."""
        used = {edge.relation for edge in self.edges}
        return tuple(r for r in RELATIONS if r in used)


def architecture_view(design: Design, estimate: Estimate | None = None,
                      flow: Flow | None = None) -> ArchitectureView:
    """The architecture view of ``design``, with rates and loads from ``estimate``.

    Args:
        design: The design (or the part of it to draw).
        estimate: Rates and loads; it may be the estimate of a larger design that holds
            this one (``render --only``): endpoints and components are read by name.
        flow: The design's flow, when the caller has built it (else built here).

    Returns:
        The view: nodes in file order, edges in :meth:`Design.graph` order.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("GET /a").loop(3).call("q", count=2)
        >>> _ = d.queue("q", handler="worker POST /jobs")
        >>> _ = d.service("worker").endpoint("POST /jobs")
        >>> _ = d.set_load("api GET /a", 10)
        >>> [(e.key, e.rate) for e in architecture_view(d, dk.estimate(d)).edges]
        [(('api', 'q', 'publish'), 60.0), (('q', 'worker', 'consume'), 60.0)]
    """
    flow = flow if flow is not None else build(design)
    rps: Mapping[str, float] = ({ref: e.rps for ref, e in estimate.endpoints.items()}
                                if estimate is not None else {})
    rates: dict[tuple[str, str, Relation], float] = {}
    for site in flow.sites:
        relation = _relation(site, flow.kinds)
        if relation is None or site.target is None or site.target not in flow.kinds:
            continue
        # a cache read is one call of the cache, and one more to fill it on a miss
        per_request = site.times * (1.0 + site.fills) if relation in _SCOPES else site.rate
        key: tuple[str, str, Relation] = (site.ref.service, site.target, relation)
        rates[key] = rates.get(key, 0.0) + rps.get(str(site.ref), 0.0) * per_request
    published: dict[str, float] = {}
    for (_, target, relation), rate in rates.items():
        if relation == "publish":
            published[target] = published.get(target, 0.0) + rate
    for name, component in design.components.items():
        if not isinstance(component, Queue) or component.handler is None:
            continue
        handler = EndpointRef.parse(component.handler)
        if handler is None or handler.service not in flow.kinds:
            continue
        rates[(name, handler.service, "consume")] = rps.get(str(handler),
                                                            published.get(name, 0.0))

    position = {name: i for i, name in enumerate(design.components)}
    first: dict[tuple[str, str], int] = {}
    for caller, target, _ in rates:
        first.setdefault((caller, target), len(first))
    order = sorted(rates, key=lambda k: (position.get(k[0], len(position)), first[k[:2]]))
    edges = tuple(Edge(*key, rates[key]) for key in order)

    limit = (estimate.utilization_max if estimate is not None
             else design.policy.utilization_max)
    keeps: dict[str, list[str]] = {}
    for invariant_name, invariant in design.invariants.items():
        if invariant.authority is not None:
            keeps.setdefault(parse_store(invariant.authority).component, []).append(
                invariant_name)
    nodes = []
    for name, component in design.components.items():
        known = estimate.components.get(name) if estimate is not None else None
        nodes.append(ComponentNode(name, str(component.kind), component.zone,
                                   component.boundary,
                                   _load(known, limit) if known is not None else None,
                                   tuple(keeps.get(name, ()))))
    return ArchitectureView(design.name, tuple(nodes), edges, estimate is not None, limit)


def _relation(site: Site, kinds: Mapping[str, str]) -> Relation | None:
    """The relation by which the step of ``site`` reaches its target (``None``: it does not
    reach one of its own: a loop, a parallel block)."""
    step = site.step
    match step:
        case CallStep():
            # a call of a queue by its name publishes to it (a call "q METHOD /path" does not)
            to_queue = site.target == step.call and kinds.get(step.call) == "queue"
            return "publish" if to_queue else "call"
        case PublishStep():
            return "publish"
        case TransactionStep():
            return "transaction"
        case LockStep():
            return "lock"
        case CacheStep():
            return "cache"
        case LoopStep() | ParallelStep():
            return None
        case _:
            assert_never(step)


def _load(known: ComponentEstimate, limit: float) -> Load:
    u = known.utilization
    state: State
    if known.saturated or not math.isfinite(u) or u >= 1.0:
        state = "saturated"
    elif u >= limit:
        state = "warning"
    elif known.arrival_rps <= 0 and u == 0:
        state = "idle"
    elif not known.stations:
        state = "unbounded"
    else:
        state = "ok"
    return Load(u, known.arrival_rps, known.saturated, state)


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableNode:
    """One table of one database."""

    database: str
    name: str
    table: Table


@dataclass(frozen=True)
class Relationship:
    """A foreign key drawn between two tables that exist, with its two ends.

    Attributes:
        key: The foreign key (``database.table.column`` → ``to_database.to_table.to_column``).
        referencing: How many referencing rows one referenced row has: ``zero-or-one`` when
            the column is ``unique``, else ``zero-or-many``.
        referenced: How many referenced rows one referencing row has: ``exactly-one`` when
            the column is not nullable, else ``zero-or-one``.
    """

    key: ForeignKey
    referencing: Cardinality
    referenced: Cardinality


@dataclass(frozen=True)
class DataView:
    """The tables of every database and the foreign keys between them.

    Attributes:
        databases: Every database, in file order (with or without tables).
        tables: Every table, by database in file order.
        relationships: The foreign keys whose target table exists, in file order.
    """

    databases: tuple[str, ...]
    tables: tuple[TableNode, ...]
    relationships: tuple[Relationship, ...]

    def drawn(self, database: str, table: str, column: str) -> bool:
        """Whether the column's foreign key is drawn as a relationship."""
        return (database, table, column) in self._drawn

    @cached_property
    def _drawn(self) -> frozenset[tuple[str, str, str]]:
        return frozenset((r.key.database, r.key.table, r.key.column)
                         for r in self.relationships)


def data_view(design: Design, flow: Flow | None = None) -> DataView:
    """The data view of ``design``: tables, and relationships from its foreign keys.

    Args:
        design: The design.
        flow: The design's flow, when the caller has built it (else built here); its
            :attr:`~designkit.flow.nodes.Flow.foreign_keys` are the keys drawn.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> db = d.database("db")
        >>> _ = db.table("users").column("id", "uuid", primary_key=True)
        >>> _ = db.table("profiles").column("user_id", "uuid", references="users.id",
        ...                                 unique=True, nullable=False)
        >>> [(r.key.column, r.referencing, r.referenced) for r in data_view(d).relationships]
        [('user_id', 'zero-or-one', 'exactly-one')]
    """
    flow = flow if flow is not None else build(design)
    databases = {name: c for name, c in design.components.items() if isinstance(c, Database)}
    tables = {(db_name, name): TableNode(db_name, name, table)
              for db_name, database in databases.items()
              for name, table in database.tables.items()}
    relationships = []
    for key in flow.foreign_keys:
        here = tables.get((key.database, key.table))
        if here is None or (key.to_database, key.to_table) not in tables:
            continue
        column = here.table.columns[key.column]
        relationships.append(Relationship(
            key,
            referencing="zero-or-one" if key.unique else "zero-or-many",
            referenced="zero-or-one" if column.nullable else "exactly-one"))
    return DataView(tuple(databases), tuple(tables.values()), tuple(relationships))


# -- sequence --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StepView:
    """One step of an endpoint as a sequence diagram shows it.

    Attributes:
        site: The step's site: its model step (for labels), path and target.
        lists: The step lists nested in it, in file order: the body of a transaction, a
            lock or a loop, the miss branch of a cache read (one list each), one list per
            branch of a parallel step (empty branches included); none for a call or a
            publish.
        hit: A cache read's hit ratio as the flow resolved it (the step's, else its
            cache's); ``None`` when neither is known.
        failing: A call with a fallback: how often the call fails and the fallback (its
            one nested list) runs; ``None`` for any other step.
        time: Its mean time under the estimate (:mod:`~designkit.estimate.step_times`);
            ``None`` without an estimate, or when the estimate does not know a station or
            an endpoint on its way.
    """

    site: Site
    lists: tuple[tuple[StepView, ...], ...] = ()
    hit: float | None = None
    time: StepTime | None = None
    failing: float | None = None

    @property
    def body(self) -> tuple[StepView, ...]:
        """The one nested list of a transaction, lock, loop, cache read or a call's
        fallback (``()``: none)."""
        return self.lists[0] if self.lists else ()


@dataclass(frozen=True)
class SequenceView:
    """One endpoint's sequence: who takes part, its steps, and their times.

    Attributes:
        ref: The endpoint.
        steps: Its steps, nested as in the file.
        participants: The endpoint's service, then each component or service its steps
            reach, in the order first reached (depth first, as the messages are drawn).
        times: The endpoint's mean and its worker wait and cpu under the estimate (the
            steps carry their own); ``None`` without an estimate.
        scale: The estimate's factor on the workload (``None`` without one).
    """

    ref: EndpointRef
    steps: tuple[StepView, ...]
    participants: tuple[str, ...]
    times: EndpointTimes | None = None
    scale: float | None = None

    @property
    def estimated(self) -> bool:
        """Whether an estimate gave the times."""
        return self.times is not None


def sequence_view(design: Design, endpoint_ref: str, estimate: Estimate | None = None,
                  flow: Flow | None = None) -> SequenceView:
    """The steps of one endpoint, nested as in the file, read from the flow's sites, with
    each step's mean time under ``estimate``.

    Args:
        design: The design.
        endpoint_ref: The endpoint, ``"svc METHOD /path"``.
        estimate: The estimate whose waits and endpoint means time the steps (see
            :mod:`~designkit.estimate.step_times`); it may be a larger design's.
        flow: The design's flow, when the caller has built it (else built here).

    Raises:
        KeyError: No such endpoint (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> d = dk.template("dashboard-slow")
        >>> seq = sequence_view(d, "dashboard-api GET /v1/dashboard", dk.estimate(d))
        >>> [type(s.site.step).__name__ for s in seq.steps][:3]
        ['CallStep', 'CallStep', 'LoopStep']
        >>> seq.participants, round(seq.steps[2].time.ms)
        (('dashboard-api', 'app-db'), 7679)
    """
    endpoint = design.endpoint(endpoint_ref)
    flow = flow if flow is not None else build(design)
    ref = EndpointRef.parse(endpoint_ref)
    assert ref is not None  # design.endpoint raised otherwise
    times: EndpointTimes | None = None
    if estimate is not None:
        timed = flow if estimate.days == 0 else build(design, days=estimate.days)
        times = endpoint_times(timed, str(ref), estimate)
    sites = [s for s in flow.sites_of(str(ref)) if s.endpoint is endpoint]
    if not sites:
        return SequenceView(ref, (), (ref.service,), times,
                            estimate.scale if estimate is not None else None)
    lists: dict[Path, list[Site]] = {}
    for site in sites:
        lists.setdefault(site.path[:-1], []).append(site)
    branches: dict[Path, int] = {}
    hits: dict[Path, float] = {}
    failing: dict[Path, float] = {}
    callees: list[Errors | None] = []
    for flow_endpoint in flow.endpoints:
        if flow_endpoint.ref != ref:
            continue
        for node in walk(flow_endpoint.steps):
            if not isinstance(node, Par | CacheRead | Fallback) or node.site is None \
                    or node.site.endpoint is not endpoint:
                continue
            if isinstance(node, Par):
                branches[node.site.path] = len(node.branches)
            elif isinstance(node, Fallback):
                callees = callees or errors_by_endpoint(flow, estimate)
                failing[node.site.path] = node_errors(node.body, callees).ratio
            else:
                hits[node.site.path] = node.hit
    participants = [ref.service]

    def view(site: Site) -> StepView:
        here, step = site.path, site.step
        nested: list[Path]
        match step:
            case TransactionStep() | LockStep():
                nested = [(*here, "steps")]
            case LoopStep():
                nested = [(*here, "loop", "steps")]
            case CacheStep():
                nested = [(*here, "on_miss")]
            case ParallelStep():
                nested = [(*here, "parallel", b) for b in range(branches.get(here, 0))]
            case CallStep():
                nested = [(*here, "fallback")] if step.fallback is not None else []
            case PublishStep():
                nested = []
            case _:
                assert_never(step)
        if site.target is not None and site.target not in participants:
            participants.append(site.target)
        hit = hits.get(here, step.hit_ratio) if isinstance(step, CacheStep) else None
        time = times.steps.get(here) if times is not None else None
        if time is not None and math.isnan(time.ms):
            time = None
        return StepView(site, tuple(tuple(view(s) for s in lists.get(key, ()))
                                    for key in nested), hit, time, failing.get(here))

    steps = tuple(view(site) for site in lists[sites[0].path[:-1]])
    return SequenceView(ref, steps, tuple(participants), times,
                        estimate.scale if estimate is not None else None)


def list_ms(steps: Sequence[StepView]) -> float | None:
    """The mean time of a list of steps run one after another (a miss branch, a parallel
    branch, a loop's body): the sum of theirs; ``None`` when one has none.

    Example:
        >>> list_ms(())
        0.0
    """
    total = 0.0
    for step in steps:
        if step.time is None:
            return None
        total += step.time.ms
    return total


def fallback_label(view: StepView) -> str:
    """The section of a call's fallback: ``psp fails (2.7%)`` — how often it runs.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.external("psp", latency_ms=10, failure_rate=0.027)
        >>> _ = d.service("api").endpoint("POST /pay").call("psp", fallback=[])
        >>> fallback_label(sequence_view(d, "api POST /pay").steps[0])
        'psp fails (2.7%)'
    """
    who = view.site.target or "the call"
    return f"{who} fails" if view.failing is None else \
        f"{who} fails ({ratio(view.failing)})"


def ratio(value: float) -> str:
    """A hit or miss ratio as every sequence diagram spells it: ``99.9%``, ``0.1%``, ``90%``.

    Example:
        >>> [ratio(v) for v in (0.999, 0.001, 0.9, 1.0)]
        ['99.9%', '0.1%', '90%', '100%']
    """
    return f"{value * 100:.3g}%"
