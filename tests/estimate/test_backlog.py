"""A saturated station reports how fast its queue grows."""

from __future__ import annotations

import math

import pytest

import designkit as dk


def handler(rps: float, workers: int) -> dk.Design:
    """A queue's handler on ``workers`` blocking workers, each message 20 ms of mail."""
    d = dk.Design(name="events")
    d.queue("events", partitions=4, service_ms=0.5, handler="worker POST /h")
    d.external("mail", latency_ms=20.0)
    d.service("worker", io="blocking", workers=workers).endpoint("POST /h").call("mail")
    d.service("api", io="async").endpoint("POST /x").publish("events")
    d.set_load("api POST /x", rps)
    return d


def test_a_handler_that_cannot_keep_up_reports_its_backlog() -> None:
    # 250 messages/s against 4 × 1000 / 20 = 200 handled: 50 more waiting every second
    e = dk.estimate(handler(250, 4))
    station = e.station("worker workers")
    assert station.saturated and station.backlog_per_s == pytest.approx(50.0)
    assert e.to_dict()["components"]["worker"]["stations"]["worker workers"][
        "backlog_per_s"] == pytest.approx(50.0)
    assert "SATURATED (+50/s)" in str(e)
    keeping_up = dk.estimate(handler(150, 4)).station("worker workers")
    assert not keeping_up.saturated and keeping_up.backlog_per_s == 0.0


def test_a_backlog_behind_an_endless_hold_is_infinite() -> None:
    station = dk.StationEstimate("a workers", "a", "workers", 4, 10.0, math.inf, math.inf,
                                 math.inf, math.inf, True)
    assert station.backlog_per_s == math.inf
    assert station.to_dict()["backlog_per_s"] is None
