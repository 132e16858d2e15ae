"""The design as a networkx graph of components and the calls between them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from designkit.flow.build import walk_steps
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.steps import CacheStep, CallStep, LockStep, PublishStep, TransactionStep

if TYPE_CHECKING:
    import networkx as nx

    from designkit.model.design import Design

__all__ = ["component_graph"]


def component_graph(design: Design) -> nx.MultiDiGraph:
    """Components as nodes, one edge per step that reaches another component.

    Nodes carry ``kind``. Edges go from the calling service to the target and carry
    ``relation`` (call | transaction | lock | cache | publish | consume), ``endpoint`` (the
    caller's ``"svc METHOD /path"``), ``path`` (the step's path in the file), ``count``
    and, for calls to a service, ``target_endpoint``. A queue with a handler gets a
    ``consume`` edge to the handler's service.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x"); _ = d.cache("c"); _ = d.queue("q")
        >>> _ = d.service("api").endpoint("GET /a").call("c").publish("q")
        >>> g = d.graph()
        >>> sorted((u, v, e["relation"]) for u, v, e in g.edges(data=True))
        [('api', 'c', 'call'), ('api', 'q', 'publish')]
    """
    import networkx as nx

    graph = nx.MultiDiGraph(name=design.name)
    for name, component in design.components.items():
        graph.add_node(name, kind=component.kind)
    for ref, endpoint in design.endpoints():
        base = ("components", ref.service, "endpoints", ref.key, "steps")
        for path, step in walk_steps(endpoint.steps, base):
            edge = _edge(step)
            if edge is None:
                continue
            relation, target, count, target_endpoint = edge
            if target not in graph:
                continue
            attrs = {"relation": relation, "endpoint": str(ref), "path": format_path(path),
                     "count": count}
            if target_endpoint:
                attrs["target_endpoint"] = target_endpoint
            graph.add_edge(ref.service, target, **attrs)
    for name, queue in design.of_kind("queue").items():
        handler = EndpointRef.parse(getattr(queue, "handler", None) or "")
        if handler is not None and handler.service in graph:
            graph.add_edge(name, handler.service, relation="consume", endpoint=str(handler),
                           path=format_path(("components", name, "handler")), count=1.0)
    return graph


def _edge(step: object) -> tuple[str, str, float, str | None] | None:
    if isinstance(step, CallStep):
        ref = EndpointRef.parse(step.call)
        if ref is not None:
            return "call", ref.service, step.count, str(ref)
        return "call", step.call, step.count, None
    if isinstance(step, TransactionStep):
        return "transaction", step.transaction, 1.0, None
    if isinstance(step, LockStep):
        return "lock", step.lock, 1.0, None
    if isinstance(step, CacheStep):
        return "cache", step.cache, 1.0, None
    if isinstance(step, PublishStep):
        return "publish", step.publish, step.count, None
    return None
