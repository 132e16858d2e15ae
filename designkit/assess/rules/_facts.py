"""Facts about a design that several rules ask for."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from designkit.flow.nodes import Path, Site
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.steps import CallStep, Step

__all__ = ["WRITES", "endpoint_path", "envelope_standard", "inside", "is_write", "nested"]

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
