"""Synchronous call cycles: found in one pass with the other reference checks."""

from __future__ import annotations

from typing import Any

from designkit.flow.build import check_references
from designkit.model.design import Design

DESIGN: dict[str, Any] = {"name": "x", "components": {
    "a": {"kind": "service", "endpoints": {"GET /x": {"steps": [
        {"call": "b GET /y"}, {"cache": "c", "on_miss": [{"call": "a get /x"}]}]}}},
    "b": {"kind": "service", "endpoints": {"get /y": {"steps": [
        {"parallel": [[{"call": "c2 GET /z"}], [{"call": "a GET /x"}]]}]}}},
    "c2": {"kind": "service", "endpoints": {"GET /z": {"steps": [
        {"loop": {"count": 2, "steps": [{"call": "b GET /y"}]}}]}}},
    "c": {"kind": "cache"}}}


def test_every_cycle_once_sorted_at_its_closing_call() -> None:
    """A self-call, and two rings sharing an endpoint; the path of a call made by an
    endpoint whose key is written in lower case names the endpoint as ``METHOD /path``."""
    problems = [str(p) for p in check_references(Design.model_validate(DESIGN))]
    advice = "break it with a queue (publish) or by removing a call"
    assert problems == [
        'components.a.endpoints."GET /x".steps[1].on_miss[0].call: synchronous call cycle: '
        f"a GET /x → a GET /x; {advice}",
        'components.b.endpoints."GET /y".steps[0].parallel[1][0].call: synchronous call '
        f"cycle: a GET /x → b GET /y → a GET /x; {advice}",
        'components.c2.endpoints."GET /z".steps[0].loop.steps[0].call: synchronous call '
        f"cycle: b GET /y → c2 GET /z → b GET /y; {advice}",
    ]


def test_no_cycle_without_a_ring() -> None:
    data = {"name": "x", "components": {
        "a": {"kind": "service", "endpoints": {"GET /x": {"steps": [
            {"call": "b GET /y"}, {"call": "b GET /y"}]}}},
        "b": {"kind": "service", "endpoints": {"GET /y": {}}}}}
    assert check_references(Design.model_validate(data)) == []
