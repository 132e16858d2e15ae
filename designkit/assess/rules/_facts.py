"""Facts about a design that several rules ask for."""

from __future__ import annotations

from collections.abc import Iterator

from designkit.flow.build import walk_steps
from designkit.model.design import Design
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.service import Endpoint
from designkit.model.steps import CallStep, Step

__all__ = ["WRITES", "endpoint_path", "endpoint_steps", "envelope_standard",
           "is_write"]

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


def endpoint_steps(design: Design) -> Iterator[tuple[EndpointRef, Endpoint, str, Step]]:
    """Every step of every endpoint: (endpoint ref, endpoint, the step's path, the step)."""
    for ref, endpoint in design.endpoints():
        base = ("components", ref.service, "endpoints", ref.key, "steps")
        for path, step in walk_steps(endpoint.steps, base):
            yield ref, endpoint, format_path(path), step


def is_write(step: Step) -> bool:
    """A database call that changes rows."""
    return isinstance(step, CallStep) and step.query is not None and step.query.kind in WRITES
