"""The flow builder's calls: a step's call of a component — a database statement inside a
pooled connection, a cache visit, a publish, a lock, a third party's attempts — or of
another endpoint, with the network's round trips around it."""

from __future__ import annotations

from designkit.flow.nodes import (
    Choice,
    Delay,
    ExternalCall,
    Hold,
    Invoke,
    Node,
    Path,
    Publish,
    Seq,
    Site,
    Visit,
)
from designkit.flow.plan import Planner
from designkit.flow.times import Constant, Spec, TwoPoint
from designkit.flow.walker import Around, Walker, copied, then
from designkit.model.components import Cache, External, Lock, Queue
from designkit.model.database import DEFAULT_POOL_SIZE, Database
from designkit.model.engines import setting
from designkit.model.network import placement_of, round_trip
from designkit.model.problems import nearest
from designkit.model.query import Query
from designkit.model.service import Service
from designkit.model.steps import (
    CallStep,
)

__all__ = ["Calls"]


class Calls(Walker):
    """A step's call, as flow nodes (its references checked)."""

    def target_call(self, step: CallStep, path: Path, around: Around) -> Node:
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
            return Invoke(self.index[callee], step.count, copied(step.retries), site,
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
                retries=copied(step.retries or component.retries),
                failure_rate=(component.failure_rate if component.availability is None
                              else 1.0 - component.availability),
                breaker_threshold=(breaker.failure_threshold
                                   if breaker and breaker.enabled else None),
                station=bounded,
                count=step.count,
                site=site,
            )
        return Seq()

    def database_call(self, step: CallStep, path: Path, around: Around, database: Database,
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

    def outbox(self, around: Around, site: Site) -> Visit | None:
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

    def hop(self, around: Around, target: str, site: Site | None,
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

    def hopped(self, around: Around, target: str, node: Node, site: Site | None,
               count: float = 1.0) -> Node:
        """``node`` after its round trips to ``target`` (a database statement's inside the
        connection it holds)."""
        hop = self.hop(around, target, site, count)
        if hop is None:
            return node
        if isinstance(node, Hold) and isinstance(self.components.get(target), Database):
            return Hold(node.station, then(hop, node.body), node.extra, node.site)
        return then(hop, node)
