"""The quick pass that finds a design's ranges before any is read in full."""

from __future__ import annotations


def test_a_times_own_shape_is_not_taken_for_a_range() -> None:
    """A time's ``{p50, p95}`` is its shape: a design stating only those is passed through
    untouched (not copied: the quick pass finds no range), while ``{low, high}`` on a time
    is still refused, and a range in a list is still looked at."""
    from designkit.model.uncertain import extract

    data = {"components": {"api": {"kind": "service", "endpoints": {"GET /a": {
        "cpu_ms": {"p50": 2, "p95": 9},
        "steps": [{"call": "db", "service_ms": {"p50": 1, "p95": 4}}]}}},
        "db": {"kind": "database"}}}
    plain, found, problems = extract(data)
    assert plain is data and found == {} and problems == []
    data["components"]["api"]["endpoints"]["GET /a"]["cpu_ms"] = {"low": 2, "high": 9}
    assert [p for p, _ in extract(data)[2]] == [
        ("components", "api", "endpoints", "GET /a", "cpu_ms")]
    listed = {"components": {"c": {"kind": "cache", "tags_ms": [{"p50": 1, "p95": 2}]}}}
    assert extract(listed)[2]  # not a time (an item of a list): a range where none is


def test_a_workload_rate_of_an_endpoint_named_like_a_time_may_be_uncertain() -> None:
    """Workload keys are endpoints: ``api GET /stats_ms`` is a rate, not a time."""
    import designkit as dk

    design = dk.load({"designkit": 1, "name": "x", "components": {"api": {
        "kind": "service", "endpoints": {"GET /stats_ms": {"cpu_ms": 1}}}},
        "workload": {"api GET /stats_ms": {"p50": 10, "p95": 30}}})
    assert list(design.uncertain) == ['workload."api GET /stats_ms"']
    assert design.rates() == {"api GET /stats_ms": 10.0}
