"""The flow builder's checks of what is not a step: databases (index, partitioning and
foreign-key columns), calibration, invariants, sagas, and loops of calls or messages
(with the order endpoints are solved in when there are none)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from designkit.flow.nodes import (
    ForeignKey,
    Path,
)
from designkit.flow.walker import Walker
from designkit.model.components import Cache
from designkit.model.database import Database
from designkit.model.invariants import Store, parse_store
from designkit.model.problems import nearest
from designkit.model.refs import is_endpoint_ref

__all__ = ["Checks", "parse_foreign_key"]


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


class Checks(Walker):
    """The references of a design's parts other than its steps, checked."""

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

    def calibration(self) -> None:
        calibration = self.design.calibration
        if calibration is None:
            return
        for name in calibration.components:
            self.component(("calibration", "components"), name, name)
        for key in calibration.measured:
            self.endpoint_ref(("calibration", "measured", key), key)

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
