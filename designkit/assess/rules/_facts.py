"""Facts about a design that several rules ask for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from designkit.flow.nodes import Flow, Invoke, Path, Site, walk
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.steps import CallStep, Step

__all__ = ["WRITES", "background", "endpoint_path", "envelope_standard", "inside", "is_write",
           "nested", "reached_from", "user_facing"]

WRITES = ("insert", "update", "delete", "upsert")


def envelope_standard(envelope: str) -> str:
    """Which standard an envelope finding applies, in words.

    Example:
        >>> envelope_standard("problem-json")
        "the design's policy: RFC 9457 problem+json (Zalando rule 176)"
    """
    if envelope == "problem-json":
        return "the design's policy: RFC 9457 problem+json (Zalando rule 176)"
    return ("the design's policy: the {data, meta, error} envelope, not the problem+json "
            "of RFC 9457 / Zalando rule 176")


def endpoint_path(ref: EndpointRef) -> str:
    """The path of an endpoint in the design file.

    Example:
        >>> endpoint_path(EndpointRef("api", "GET", "/x"))
        'components.api.endpoints."GET /x"'
    """
    return format_path(("components", ref.service, "endpoints", ref.key))


def inside(path: Path, outer: Path) -> bool:
    """Whether the step at ``path`` is nested in the step at ``outer``.

    Example:
        >>> inside(("steps", 0, "steps", 1), ("steps", 0)), inside(("steps", 1), ("steps", 0))
        (True, False)
    """
    return len(path) > len(outer) and path[:len(outer)] == outer


def nested(sites: Sequence[Site], at: int) -> Iterator[Site]:
    """The sites nested in ``sites[at]`` (a transaction's, a lock's, a loop's steps…), at
    any depth: the sites after it, depth first, while their paths are inside its path.

    Args:
        sites: Sites in the flow's order (:attr:`Flow.sites`, or one endpoint's).
        at: The position of the enclosing step's site.

    Example:
        >>> import designkit as dk
        >>> from designkit.flow.build import build
        >>> d = dk.Design(name="x")
        >>> tx = d.service("api").endpoint("POST /a").transaction("db")
        >>> _ = tx.call("db", service_ms=1).loop(2).call("db", service_ms=1)
        >>> _ = d.database("db")
        >>> [s.subject for s in nested(build(d).sites, 0)]  # doctest: +NORMALIZE_WHITESPACE
        ['components.api.endpoints."POST /a".steps[0].steps[0]',
         'components.api.endpoints."POST /a".steps[0].steps[1]',
         'components.api.endpoints."POST /a".steps[0].steps[1].loop.steps[0]']
    """
    outer = sites[at].path
    for i in range(at + 1, len(sites)):
        if not inside(sites[i].path, outer):
            return
        yield sites[i]


def is_write(step: Step) -> bool:
    """A database call that changes rows."""
    return isinstance(step, CallStep) and step.query is not None and step.query.kind in WRITES


def user_facing(flow: Flow, workload: Iterable[str]) -> set[str]:
    """The endpoints someone waits for: those with a workload of their own and every
    endpoint they call synchronously, at any depth — not a queue's handler, a scheduled
    job or what only those call (their slowness is lag, judged as such).

    Example:
        >>> import designkit as dk
        >>> from designkit.flow.build import build
        >>> d = dk.template("payments-saga")
        >>> "payments-svc POST /v1/charges" in user_facing(build(d), d.rates())
        False
    """
    return reached_from(flow, [key for key in workload if key not in flow.handlers
                               and key not in flow.scheduled])


def background(flow: Flow) -> set[str]:
    """The endpoints background work runs: queues' handlers, scheduled jobs, and every
    endpoint they call synchronously, at any depth."""
    return reached_from(flow, [*flow.handlers, *flow.scheduled])


def reached_from(flow: Flow, roots: Iterable[str]) -> set[str]:
    """``roots`` and every endpoint they call synchronously, at any depth."""
    reached: set[int] = set()
    todo = [flow.index[key] for key in roots if key in flow.index]
    while todo:
        index = todo.pop()
        if index in reached:
            continue
        reached.add(index)
        todo += [node.endpoint for node in walk(flow.endpoints[index].steps)
                 if isinstance(node, Invoke)]
    return {str(flow.endpoints[i].ref) for i in reached}
