"""Cross-reference checks: every name a design uses must name something that exists.

Checked: call targets (a component, or ``"svc METHOD /path"``), the kind of component each
step needs (a transaction on a database, a publish to a queue…), tables and columns of
queries, index and partitioning columns, foreign keys, queue handlers, saga actions and
compensations, workload keys, endpoint keys, and synchronous call cycles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from designkit.errors import Problem
from designkit.model.components import Component
from designkit.model.database import Database, Table
from designkit.model.design import Design
from designkit.model.problems import format_path, nearest
from designkit.model.refs import EndpointRef
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

__all__ = ["check_references", "endpoint_calls", "walk_steps"]

Path = tuple[str | int, ...]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def walk_steps(steps: Sequence[Step], path: Path) -> Iterator[tuple[Path, Step]]:
    """Every step, nested ones included, with its path, depth first in file order.

    Example:
        >>> from designkit.model.steps import TransactionStep
        >>> tx = TransactionStep(transaction="db").call("db", service_ms=1)
        >>> [(format_path(p), type(s).__name__) for p, s in walk_steps([tx], ("steps",))]
        [('steps[0]', 'TransactionStep'), ('steps[0].steps[0]', 'CallStep')]
    """
    for i, step in enumerate(steps):
        here = (*path, i)
        yield here, step
        if isinstance(step, TransactionStep | LockStep):
            yield from walk_steps(step.steps, (*here, "steps"))
        elif isinstance(step, LoopStep):
            yield from walk_steps(step.loop.steps, (*here, "loop", "steps"))
        elif isinstance(step, CacheStep):
            yield from walk_steps(step.on_miss, (*here, "on_miss"))
        elif isinstance(step, ParallelStep):
            for b, branch in enumerate(step.parallel):
                yield from walk_steps(branch, (*here, "parallel", b))


def endpoint_calls(design: Design) -> Iterator[tuple[EndpointRef, Path, CallStep]]:
    """Every call step of every endpoint: (the caller, the step's path, the step)."""
    for ref, endpoint in design.endpoints():
        base: Path = ("components", ref.service, "endpoints", ref.key, "steps")
        for path, step in walk_steps(endpoint.steps, base):
            if isinstance(step, CallStep):
                yield ref, path, step


def check_references(design: Design, known: Iterable[str] = ()) -> list[Problem]:
    """Every broken reference in ``design``.

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
    checker = _Checker(design, set(known))
    checker.run()
    return checker.problems


class _Checker:
    """One walk over the design: each check in file order, and the calls between endpoints
    that the cycle check needs (one more walk over every step cost as much as the checks)."""

    def __init__(self, design: Design, known: set[str]) -> None:
        self.design = design
        self.known = known
        self.problems: list[Problem] = []
        self.endpoint_refs = {str(ref) for ref, _ in design.endpoints()}
        self.refs: dict[str, tuple[EndpointRef | None, str, bool]] = {}  # see parse()
        # Calls between existing endpoints, in file order: (caller, callee) -> the first
        # call's path and the caller's normalised key (the path of a cycle names it).
        self.first_call: dict[tuple[str, str], tuple[Path, str]] = {}
        # Publishes to queues, in file order: (publisher, queue) -> the first one's path.
        self.first_publish: dict[tuple[str, str], tuple[Path, str]] = {}

    def report(self, path: Path, message: str, suggestions: Iterable[str] = ()) -> None:
        self.problems.append(Problem(format_path(path), message, tuple(suggestions)))

    def parse(self, text: str) -> tuple[EndpointRef | None, str, bool]:
        """``EndpointRef.parse(text)``, its ``str``, and whether ``text`` is one word; each
        distinct text is parsed once."""
        ref = EndpointRef.parse(text)
        parsed = self.refs[text] = (ref, "" if ref is None else str(ref), len(text.split()) == 1)
        return parsed

    def run(self) -> None:
        for name, component in self.design.components.items():
            where: Path = ("components", name)
            if not _NAME.match(name):
                self.report(where, f"component name {name!r} may hold only letters, digits, "
                            "'-', '_' and '.', and no spaces")
            if isinstance(component, Service):
                self.service(name, component)
            elif isinstance(component, Database):
                self.database(name, component)
            elif component.kind == "queue" and component.handler is not None:
                self.endpoint_ref((*where, "handler"), component.handler)
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
        for key in self.design.workload:
            self.endpoint_ref(("workload", key), key)
        self.cycles()

    # -- services ------------------------------------------------------------------------

    def service(self, name: str, service: Service) -> None:
        seen: dict[str, str] = {}
        for key, endpoint in service.endpoints.items():
            where: Path = ("components", name, "endpoints", key)
            method, _, path = key.partition(" ")
            if method.upper() not in HTTP_METHODS or not path.startswith("/") or " " in path:
                self.report(where, f"endpoint key {key!r} is not 'METHOD /path'; methods are "
                            f"{', '.join(HTTP_METHODS)}",
                            nearest(method.upper(), HTTP_METHODS))
            normal = f"{method.upper()} {path}"
            if normal in seen:
                self.report(where, f"duplicate endpoint: {key!r} and {seen[normal]!r} are the "
                            "same endpoint")
            seen[normal] = key
            self.steps(endpoint.steps, (*where, "steps"), f"{name} {normal}", normal)

    def steps(self, steps: Sequence[Step], path: Path, caller: str, normal: str) -> None:
        """Check ``steps`` and the steps nested in them, in the order of :func:`walk_steps`.

        ``caller`` is the endpoint that runs them (``"svc METHOD /path"``), ``normal`` its
        key with the method upper-cased.
        """
        for i, step in enumerate(steps):
            here = (*path, i)
            if isinstance(step, CallStep):
                self.call(here, step, caller, normal)
            elif isinstance(step, TransactionStep):
                self.target(here, "transaction", step.transaction, "database", "a transaction")
                self.steps(step.steps, (*here, "steps"), caller, normal)
            elif isinstance(step, LockStep):
                self.target(here, "lock", step.lock, "lock", "a lock step")
                self.steps(step.steps, (*here, "steps"), caller, normal)
            elif isinstance(step, CacheStep):
                self.target(here, "cache", step.cache, "cache", "a cache step")
                self.steps(step.on_miss, (*here, "on_miss"), caller, normal)
            elif isinstance(step, PublishStep):
                self.target(here, "publish", step.publish, "queue", "publish")
                self.first_publish.setdefault((caller, step.publish), (here, normal))
            elif isinstance(step, LoopStep):
                self.steps(step.loop.steps, (*here, "loop", "steps"), caller, normal)
            elif isinstance(step, ParallelStep):
                for b, branch in enumerate(step.parallel):
                    self.steps(branch, (*here, "parallel", b), caller, normal)

    def call(self, path: Path, step: CallStep, caller: str, normal: str) -> None:
        text = step.call
        ref, callee, one_word = self.refs.get(text) or self.parse(text)
        if ref is not None:
            if callee in self.endpoint_refs:  # the common case: nothing to report
                self.first_call.setdefault((caller, callee), (path, normal))
            else:
                self.endpoint_ref((*path, "call"), text)
            return
        if not one_word:
            self.report((*path, "call"), f"call target {text!r} is neither a component "
                        "name nor 'svc METHOD /path'")
            return
        component = self.component(path, "call", text)
        if component is None:
            return
        if isinstance(component, Service):
            options = [str(r) for r in self.endpoint_refs if r.startswith(step.call + " ")]
            self.report((*path, "call"), f"a call to service {step.call!r} names its endpoint "
                        "as 'svc METHOD /path'", sorted(options)[:3])
        elif isinstance(component, Database):
            if step.query is not None:
                self.query(path, component, step)
            elif step.service_ms is None:
                self.report(path, f"a call to database {step.call!r} needs a query "
                            "({table, kind, where}) or service_ms")
        elif step.query is not None:
            self.report((*path, "query"), f"{step.call!r} is a {component.kind}, not a "
                        "database: only database calls take a query")

    def query(self, path: Path, database: Database, step: CallStep) -> None:
        """Check the query of ``step`` (at ``path``, the step's path)."""
        assert step.query is not None
        query = step.query
        table = database.tables.get(query.table)
        if table is None:
            self.report((*path, "query", "table"), f"database {step.call!r} has no table "
                        f"{query.table!r}", nearest(query.table, database.tables))
            return
        columns = table.columns
        if not columns:
            return  # columns not stated: any column goes
        for field, names in (("where", query.where), ("order_by", query.order_by)):
            for i, column in enumerate(names):
                if column not in columns:
                    self.column((*path, "query", field, i), step.call, query.table, table,
                                column)

    def column(self, path: Path, db: str, name: str, table: Table, column: str) -> None:
        if table.columns and column not in table.columns:
            self.report(path, f"table {db}.{name} has no column {column!r}",
                        nearest(column, table.columns))

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
                                     spec.references)

    def foreign_key(self, path: Path, db_name: str, target: str) -> None:
        parts = target.split(".")
        if len(parts) == 2:
            db_name, (table_name, column) = db_name, parts
        elif len(parts) == 3:
            db_name, table_name, column = parts
        else:
            self.report(path, f"a foreign key is 'table.column' or 'database.table.column', "
                        f"got {target!r}")
            return
        database = self.design.components.get(db_name)
        if not isinstance(database, Database):
            if db_name not in self.known:
                self.report(path, f"unknown database {db_name!r}",
                            nearest(db_name, self.design.of_kind("database")))
            return
        table = database.tables.get(table_name)
        if table is None:
            self.report(path, f"foreign key to a missing table: database {db_name!r} has no "
                        f"table {table_name!r}", nearest(table_name, database.tables))
        elif table.columns and column not in table.columns:
            self.report(path, f"foreign key to a missing column: table {db_name}.{table_name} "
                        f"has no column {column!r}", nearest(column, table.columns))

    # -- shared --------------------------------------------------------------------------

    def component(self, path: Path, field: str, name: str) -> Component | None:
        """The component ``name`` that the step at ``path`` names in ``field``, if any."""
        component = self.design.components.get(name)
        if component is None and name not in self.known:
            self.report((*path, field), f"unknown component {name!r}",
                        nearest(name, [*self.design.components, *self.known]))
        return component

    def target(self, path: Path, field: str, name: str, kind: str, what: str) -> None:
        component = self.component(path, field, name)
        if component is not None and component.kind != kind:
            options = self.design.of_kind(kind)
            self.report((*path, field), f"{what} needs a {kind}; {name!r} is a "
                        f"{component.kind}", nearest(name, options) or tuple(sorted(options))[:3])

    def endpoint_ref(self, path: Path, text: str) -> None:
        ref, name, _ = self.refs.get(text) or self.parse(text)
        if ref is None:
            self.report(path, f"{text!r} is not an endpoint reference 'svc METHOD /path'",
                        nearest(text, self.endpoint_refs))
            return
        if name in self.endpoint_refs or (self.known and {ref.service, name} & self.known):
            return
        component = self.design.components.get(ref.service)
        if component is None:
            self.report(path, f"unknown service {ref.service!r}",
                        nearest(ref.service, self.design.of_kind("service")))
        elif not isinstance(component, Service):
            self.report(path, f"{ref.service!r} is a {component.kind}, not a service")
        else:
            self.report(path, f"service {ref.service!r} has no endpoint {ref.key!r}",
                        nearest(name, self.endpoint_refs | self.known))

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
        handlers: dict[str, str] = {}
        for name, component in self.design.components.items():
            if component.kind == "queue" and component.handler is not None:
                ref = EndpointRef.parse(component.handler)
                if ref is not None and str(ref) in self.endpoint_refs:
                    handlers[name] = str(ref)
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
        path, normal = by_message[(ring[hop], ring[(hop + 1) % len(ring)])]
        loop = " → ".join([*ring, ring[0]])
        self.report(("components", path[1], "endpoints", normal, *path[4:], "publish"),
                    f"messages loop back to their publisher ({loop}): the load of a message "
                    "loop has no steady state; break the loop")


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
