"""A queue's consumers are a station: its handler's messages wait for one (the lag).

A Kafka-like topic's partitions are each taken one message at a time (``ordering:
partition``) or by several consumers that keep only per-key order (``ordering: key``); a
RabbitMQ/SQS queue is shared by its competing consumers. Held to closed forms (M/M/1,
M/M/c) and to ``dk.simulate``; saturated consumers are background work: their backlog and
lag grow, the user-facing capacity does not move.
"""

from __future__ import annotations

import math

import pytest

import designkit as dk
from designkit.estimate.background import background_stations
from designkit.estimate.program import compile_design
from tests.oracles import mmc_sojourn_quantile, mmc_wait

HANDLER = "worker POST /h"


def design(rate: float, handler_ms: float = 10.0, **queue: object) -> dk.Design:
    """``api POST /x`` publishes each request to ``q``; the handler runs ``handler_ms``
    of exponential cpu on one of plenty of workers: the consumers are the only queue."""
    d = dk.Design(name="consumers")
    d.queue("q", service_ms=0.01, handler=HANDLER, **queue)
    d.service("worker", workers=500, io="async").endpoint("POST /h", cpu_ms=handler_ms)
    d.service("api", workers=500, io="async").endpoint("POST /x", cpu_ms=1.0).publish("q")
    d.set_load("api POST /x", rate)
    return d


def test_one_consumer_of_a_partitioned_topic_is_an_mm1() -> None:
    # 12 partitions, 1 consumer: it takes every partition's messages, one at a time.
    e = dk.estimate(design(50, partitions=12, consumers=1))
    h = e.endpoints[HANDLER]
    assert h.mean_ms == pytest.approx(20.0, rel=1e-6)  # 10 / (1 − 0.5)
    assert h.p95_ms == pytest.approx(20.0 * math.log(20.0), rel=0.005)
    assert h.lag_ms == pytest.approx(10.0, rel=1e-6)
    station = e.station("q consumers")
    assert (station.servers, station.utilization) == (1, pytest.approx(0.5))


def test_consumers_beyond_the_partitions_take_no_work() -> None:
    two = dk.estimate(design(100, partitions=2, consumers=2)).endpoints[HANDLER]
    eight = dk.estimate(design(100, partitions=2, consumers=8)).endpoints[HANDLER]
    assert eight.mean_ms == pytest.approx(two.mean_ms, rel=1e-9)
    # two M/M/1 of 50 msgs/s each: 10 / (1 − 0.5)
    assert two.mean_ms == pytest.approx(20.0, rel=1e-6)


def test_competing_consumers_share_one_queue_as_an_mmc() -> None:
    e = dk.estimate(design(250, engine="rabbitmq", partitions=1, consumers=3))
    h = e.endpoints[HANDLER]
    lam, mu = 0.25, 0.1  # per ms
    assert h.lag_ms == pytest.approx(mmc_wait(lam, mu, 3), rel=1e-6)
    assert h.mean_ms == pytest.approx(mmc_wait(lam, mu, 3) + 10.0, rel=1e-6)
    assert h.p95_ms == pytest.approx(mmc_sojourn_quantile(0.95, lam, mu, 3), rel=0.01)


def test_key_ordering_lets_several_consumers_take_one_partition() -> None:
    # 4 partitions × 2 consumers each (8 in all): four M/M/2 queues of 40 msgs/s.
    e = dk.estimate(design(160, partitions=4, consumers=8, ordering="key"))
    h = e.endpoints[HANDLER]
    assert h.lag_ms == pytest.approx(mmc_wait(0.04, 0.1, 2), rel=1e-6)
    assert e.station("q consumers").servers == 8
    # with partition order, the same 8 consumers are 4 M/M/1: a longer lag
    strict = dk.estimate(design(160, partitions=4, consumers=8)).endpoints[HANDLER]
    assert strict.lag_ms == pytest.approx(0.4 * 10.0 / 0.6, rel=1e-6)
    assert strict.lag_ms > 2 * h.lag_ms


def test_one_consumer_changes_the_numbers() -> None:
    one = dk.estimate(design(80, partitions=12, consumers=1)).endpoints[HANDLER]
    many = dk.estimate(design(80, partitions=12, consumers=12)).endpoints[HANDLER]
    assert one.mean_ms == pytest.approx(10.0 / 0.2, rel=1e-6)
    assert many.mean_ms < 12.0


def test_saturated_consumers_are_a_growing_backlog_not_a_slower_request() -> None:
    # 150 msgs/s into one consumer of 100/s: 50 msgs/s more every second.
    e = dk.estimate(design(150, partitions=4, consumers=1))
    station = e.station("q consumers")
    assert station.saturated and station.backlog_per_s == pytest.approx(50.0, rel=1e-6)
    h = e.endpoints[HANDLER]
    assert h.saturated and math.isinf(h.lag_ms) and math.isinf(h.p95_ms)
    assert h.to_dict()["lag_ms"] is None
    # the publisher does not wait for its handler: its capacity is its own
    api = e.endpoints["api POST /x"]
    assert not api.saturated and api.mean_ms == pytest.approx(1.01, rel=0.01)
    assert e.background is not None
    assert e.background.station == "q consumers"
    assert e.background.max_scale == pytest.approx(100 / 150, rel=2e-3)
    assert e.bottleneck_station != "q consumers" and e.max_scale > 100
    assert e.to_dict()["background"]["bottleneck_station"] == "q consumers"
    assert "background: q consumers at 0.667×" in str(e).splitlines()[0]


def test_a_design_without_handlers_has_no_background() -> None:
    d = dk.Design(name="plain")
    d.service("api", workers=2).endpoint("GET /x", cpu_ms=10.0)
    d.set_load("api GET /x", 100)
    e = dk.estimate(d)
    assert e.background is None and "background" not in e.to_dict()
    assert e.max_scale == pytest.approx(2.0, rel=2e-3)


def test_a_station_shared_with_users_is_user_facing() -> None:
    d = design(50, partitions=2)
    d.database("db", cores=2)
    d.components["worker"].endpoints["POST /h"].steps.clear()
    d.service("worker").endpoint("POST /h").call("db", service_ms=5.0)
    d.service("api").endpoint("POST /x").call("db", service_ms=1.0)
    program = compile_design(d)
    mask = background_stations(program, dict(d.workload))
    background = {s.id for s, bg in zip(program.stations, mask, strict=True) if bg}
    assert background == {"q consumers", "worker workers", "db pool worker"}
    assert "db cpu" not in background  # the publisher's own query runs there


@pytest.mark.parametrize(("queue", "rate"), [
    ({"partitions": 2, "consumers": 2}, 120),  # two M/M/1 at ρ 0.6
    ({"engine": "rabbitmq", "consumers": 3}, 240),  # M/M/3 at ρ 0.8
    ({"partitions": 3, "consumers": 6, "ordering": "key"}, 480),  # three M/M/2 at ρ 0.8
])
def test_the_simulation_agrees(queue: dict[str, object], rate: float) -> None:
    d = design(rate, **queue)
    want = dk.estimate(d).endpoints[HANDLER]
    got = dk.simulate(d, duration_s=400, seed=3, progress=False).endpoints[HANDLER]
    assert got.mean_ms == pytest.approx(want.mean_ms, rel=0.05)
    assert got.p95_ms == pytest.approx(want.p95_ms, rel=0.05)
