"""A transactional outbox is what it is: a row inserted in the transaction, relayed later.

The request writes the outbox row inside its transaction (a query on the database: its
cpu, under its connection); a relay publishes it to the broker afterwards, off the
request's path and outside the transaction — so the connection is not held through the
broker's time, while the broker and the handler still get every message.
"""

from __future__ import annotations

import pytest

import designkit as dk
from designkit.flow.plan import plan_query
from designkit.model.query import Query

API, HANDLER = "api POST /orders", "worker POST /h"


def design(outbox: bool = True, tables: tuple[str, ...] = ("orders", "outbox"),
           rate: float = 100.0, in_transaction: bool = True) -> dk.Design:
    d = dk.Design(name="outbox")
    d.database("db", cores=64, pool_size=50, write_ms=0.4,
               tables={name: {"rows": 1000} for name in tables})
    d.queue("q", partitions=4, service_ms=5.0, handler="worker POST /h")
    d.service("worker", workers=64).endpoint("POST /h", cpu_ms=1.0)
    ep = d.service("api", workers=200).endpoint("POST /orders", cpu_ms=1.0)
    if in_transaction:
        tx = ep.transaction("db")
        tx.call("db", query={"table": "orders", "kind": "insert"})
        tx.publish("q", outbox=outbox)
    else:
        ep.call("db", query={"table": "orders", "kind": "insert"}).publish("q", outbox=outbox)
    d.set_load(API, rate)
    return d


def insert_ms(d: dk.Design, table: str) -> float:
    return plan_query(d.components["db"], Query(table=table, kind="insert")).ms


def test_the_connection_is_held_for_the_inserts_not_the_broker() -> None:
    d = design(rate=10)
    e = dk.estimate(d)
    pool = e.station("db pool api")
    # two exponential inserts on 64 nearly idle cores; the broker's 5 ms are not in it
    assert pool.service_ms == pytest.approx(insert_ms(d, "orders") + insert_ms(d, "outbox"),
                                            rel=1e-6)
    assert e.station("db cpu").arrival_rps == pytest.approx(20)  # order row + outbox row
    direct = dk.estimate(design(outbox=False, rate=10))
    broker = direct.station("q partitions")  # a publish inside: its wait and 5 ms held
    assert direct.station("db pool api").service_ms == pytest.approx(
        insert_ms(d, "orders") + broker.wait_ms + 5.0, rel=1e-6)
    assert direct.station("db cpu").arrival_rps == pytest.approx(10)


def test_the_relay_still_publishes_every_message() -> None:
    e = dk.estimate(design(rate=400))
    partitions = e.station("q partitions")
    assert partitions.arrival_rps == pytest.approx(400)
    assert partitions.utilization == pytest.approx(400 * 5.0 / 1000 / 4)  # 50 %
    assert e.endpoints[HANDLER].rps == pytest.approx(400)
    # the request waits for neither the broker's 5 ms nor its queue
    api = e.endpoints[API]
    assert api.mean_ms == pytest.approx(1.0 + 2 * 0.4, rel=0.01)


def test_the_simulation_relays_the_same_way() -> None:
    d = design(rate=400)
    want = dk.estimate(d)
    got = dk.simulate(d, duration_s=200, seed=4, progress=False)
    for name in (API, HANDLER):
        assert got.endpoints[name].mean_ms == pytest.approx(want.endpoints[name].mean_ms,
                                                            rel=0.05), name
        assert got.endpoints[name].p95_ms == pytest.approx(want.endpoints[name].p95_ms,
                                                           rel=0.05), name
    assert got.station("db pool api").service_ms == pytest.approx(
        want.station("db pool api").service_ms, rel=0.05)
    assert got.station("q partitions").arrival_rps == pytest.approx(400, rel=0.03)


def test_the_outbox_table_must_exist() -> None:
    from designkit.assess.rules import resilience

    (bad,) = [f for f in dk.assess(design(tables=("orders",)),
                                   rules=[resilience.saga_compensations]).findings]
    assert bad.status is dk.Status.FAIL
    assert bad.subject == 'components.api.endpoints."POST /orders".steps[0].steps[1]'
    assert "but db has no outbox table: add one (e.g. 'outbox'" in bad.message
    (good,) = dk.assess(design(tables=("orders", "order_outbox")),
                        rules=[resilience.saga_compensations]).findings
    assert good.status is dk.Status.PASS and "a row in db.order_outbox" in good.message
    # the estimate writes the row all the same (one row: write_ms)
    assert dk.estimate(design(tables=("orders",))).station("db cpu").arrival_rps == (
        pytest.approx(200))


def test_an_outbox_publish_belongs_in_a_transaction() -> None:
    from designkit.assess.rules import resilience

    d = design(in_transaction=False)
    (bad,) = [f for f in dk.assess(d, rules=[resilience.saga_compensations]).findings
              if "outbox" in f.message]
    assert bad.status is dk.Status.FAIL and "outside any transaction" in bad.message
    # nothing to write the row with: the message is sent directly, its broker time waited
    e = dk.estimate(d)
    assert e.station("db cpu").arrival_rps == pytest.approx(100)
    assert e.endpoints[API].mean_ms > 5.0


def test_the_sequence_view_times_the_row_not_the_broker() -> None:
    from designkit.render.view import sequence_view

    d = design(rate=10)
    seq = sequence_view(d, API, dk.estimate(d))
    assert seq.times is not None
    publish = next(t for path, t in seq.times.steps.items() if path[-1] == 1)
    assert publish.ms == pytest.approx(insert_ms(d, "outbox"), rel=1e-3)


def test_the_relay_queues_at_the_broker_on_its_own() -> None:
    # One connection, one partition: published inside the transaction, at most one message
    # is ever at the broker (it never queues); relayed, messages reach it as they come
    # (Poisson), an M/M/1 of 5 ms at ρ 0.5: 5 ms of wait — not the request's.
    e = dk.estimate(_one_partition(design(rate=100)))
    assert e.station("q partitions").wait_ms == pytest.approx(5.0, rel=1e-6)
    assert e.endpoints[API].mean_ms < 2.0
    inside = dk.estimate(_one_partition(design(outbox=False, rate=100)))
    assert inside.station("q partitions").wait_ms == pytest.approx(0.0, abs=1e-9)


def _one_partition(d: dk.Design) -> dk.Design:
    d.database("db", pool_size=1)
    d.queue("q", partitions=1)
    return d
