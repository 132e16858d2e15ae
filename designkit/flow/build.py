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

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import assert_never

from designkit.errors import DesignError, Problem
from designkit.flow.build_calls import Calls
from designkit.flow.build_checks import Checks, parse_foreign_key
from designkit.flow.nodes import (
    CacheRead,
    EndpointFlow,
    ExternalCall,
    Fallback,
    Flow,
    Hold,
    Loop,
    Node,
    Par,
    Path,
    Seq,
)
from designkit.flow.times import Constant, Spec
from designkit.flow.walker import Around, then
from designkit.model.components import Cache, External, Lock, Queue
from designkit.model.database import Database
from designkit.model.design import Design
from designkit.model.problems import nearest
from designkit.model.refs import EndpointRef, is_endpoint_key, is_endpoint_ref
from designkit.model.service import HTTP_METHODS, Service
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
        >>> from designkit.model.problems import format_path
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


class _Builder(Calls, Checks):
    """One walk of a design into its flow: services, endpoints and their steps (the calls:
    :class:`~designkit.flow.build_calls.Calls`; the other parts' checks:
    :class:`~designkit.flow.build_checks.Checks`)."""

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
            around = Around(ref, endpoint, normal)
            steps = self.steps(endpoint.steps, (*where, "steps"), around)
            self.endpoints.append(EndpointFlow(
                ref, self.resource_ids[f"{name} workers"], service.io == "blocking",
                self.timed(name, Spec.of(endpoint.cpu_ms)), steps, endpoint.timeout_ms,
                self.consume.get(str(ref))))

    def steps(self, steps: Sequence[Step], path: Path, around: Around) -> Seq:
        """The nodes of ``steps`` (and of the steps nested in them), each step's site
        recorded and its references checked, in file order."""
        return Seq(tuple(self.step(step, (*path, i), around) for i, step in enumerate(steps)))

    def step(self, step: Step, path: Path, around: Around) -> Node:
        match step:
            case CallStep():
                return self.call(step, path, around)
            case TransactionStep():
                site = self.site(step, path, around, step.transaction)
                valid = self.target(path, "transaction", step.transaction, "database",
                                    "a transaction")
                inner = Around(around.ref, around.endpoint, around.normal, around.iterations,
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
                inner = Around(around.ref, around.endpoint, around.normal, around.iterations,
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
                inner = Around(around.ref, around.endpoint, around.normal, around.iterations,
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
                    then(miss, fill), site, self.uncertain(
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
                inner = Around(around.ref, around.endpoint, around.normal,
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

    def call(self, step: CallStep, path: Path, around: Around) -> Node:
        start = len(self.sites)
        node = self.target_call(step, path, around)
        site = self.sites[start]  # the call's own (what it reaches comes after)
        if site.target is not None and not isinstance(node, ExternalCall):
            node = self.hopped(around, site.target, node, site, step.count)
        if step.fallback is None:
            return node
        return Fallback(node, self.steps(step.fallback, (*path, "fallback"), around), site)
