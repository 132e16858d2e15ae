"""N+1 by shape (DK-BE-002): a per-item call repeated per request fails whatever its
spelling — a loop, a ``count``, parallel branches — and a batch or a few distinct calls
pass."""

from __future__ import annotations

import designkit as dk

SEEK = {"table": "items", "where": ["id"]}


def _design() -> tuple[dk.Design, dk.Endpoint]:
    d = dk.Design(name="n1")
    db = d.database("db", cores=8, pool_size=20, max_connections=100)
    db.table("items", rows=100_000).column("id", "uuid", primary_key=True)
    d.cache("cache", service_ms=0.1)
    ep = d.service("api", io="async", workers=50).endpoint("GET /x")
    d.set_load("api GET /x", 10)
    return d, ep


def _findings(d: dk.Design) -> list[dk.Finding]:
    return dk.assess(d).rule("DK-BE-002")


def test_a_query_with_count_20_is_an_n_plus_one() -> None:
    d, ep = _design()
    ep.call("db", query=SEEK, count=20)
    [f] = _findings(d)
    assert f.status is dk.Status.FAIL
    assert f.message == ("GET /x: count 20 × items seek (0.5 ms) = 10 ms of database time and "
                         "20 queries per request (N+1); one batched query (batch 20, WHERE … "
                         "IN/ANY): ~0.88 ms")


def test_twenty_parallel_queries_are_an_n_plus_one_at_once() -> None:
    d, ep = _design()
    fan = ep.parallel(20)
    for i in range(20):
        fan.branch(i).call("db", query=SEEK)
    [f] = _findings(d)
    assert f.status is dk.Status.FAIL and f.subject.endswith('"GET /x".steps[0]')
    assert "20 parallel branches × items seek" in f.message
    assert "20 queries per request, at once (N+1)" in f.message


def test_a_batch_a_pair_and_distinct_branches_pass() -> None:
    d, ep = _design()
    ep.call("db", query={**SEEK, "batch": 20})
    ep.call("db", query=SEEK, count=2)  # a read and a re-read: not a pattern
    fan = ep.parallel(3)
    fan.branch(0).call("db", query=SEEK)
    fan.branch(1).call("cache")
    fan.branch(2).call("db", query={"table": "items", "kind": "insert"})
    assert [f.status for f in _findings(d)] == [dk.Status.PASS]


def test_a_loop_of_service_calls_counts_the_queries_one_level_down() -> None:
    # api loops 20 × items GET /v1/items/{id}; each makes one seek of catalog-db and
    # calls prices GET, which makes two: 20 + 20 × 2 = 60 statements per cart, hidden
    # behind 20 service calls
    d = dk.Design(name="nested")
    db = d.database("catalog-db")
    _ = db.table("items", rows=1000).column("id", "uuid", primary_key=True)
    _ = db.table("prices", rows=1000).column("item_id", "uuid", primary_key=True)
    d.service("prices").endpoint("GET /v1/prices/{id}").call(
        "catalog-db", query={"table": "prices", "where": ["item_id"]}, count=2)
    d.service("items").endpoint("GET /v1/items/{id}").call(
        "catalog-db", query={"table": "items", "where": ["id"]}).call(
        "prices GET /v1/prices/{id}")
    d.service("api").endpoint("GET /v1/carts/{id}").loop(20).call("items GET /v1/items/{id}")
    d.set_load("api GET /v1/carts/{id}", 1)
    [found] = [f for f in dk.assess(d).findings if f.rule == "DK-BE-002"
               and f.subject.startswith('components.api.')]
    assert found.status.value == "fail"
    assert "; each makes 3 queries of catalog-db: 60 per request;" in found.message
    assert found.evidence["queries_per_request"] == {"catalog-db": 60.0}
