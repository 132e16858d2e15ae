"""Engine defaults, multi-row writes, and the list of defaults an estimate relies on."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli
from designkit.estimate.scenarios import Scenario
from designkit.flow.plan import plan_query


def _shop() -> dk.Design:
    d = dk.Design(name="shop")
    db = d.database("db", cores=8, pool_size=20)
    db.table("items", rows=10_000).column("id", "uuid", primary_key=True)
    d.cache("cache", service_ms=0.2)  # its hit ratio left out
    d.queue("events", engine="sqs", partitions=4)  # its service time left out
    ep = d.service("api", io="async", workers=50).endpoint("POST /items")
    ep.cache("cache").call("db", query={"table": "items", "where": ["id"]})
    ep.call("db", query={"table": "items", "kind": "insert", "batch": 50})
    ep.publish("events")
    d.set_load("api POST /items", 10)
    return d


def test_a_multi_row_write_pays_the_statement_once() -> None:
    db = _shop().components["db"]
    assert isinstance(db, dk.Database)
    # 1 ms for the statement and its first row, 0.05 ms for each of the 49 others
    plan = plan_query(db, dk.Query(table="items", kind="insert", batch=50))
    assert plan.ms == pytest.approx(1.0 + 49 * 0.05, rel=1e-12)
    update = plan_query(db, dk.Query(table="items", kind="update", where=["id"], batch=10))
    assert update.ms == pytest.approx(0.5 + 9 * 0.02 + 1.0 + 9 * 0.05, rel=1e-12)


def test_an_engine_gives_the_default_a_design_leaves_out() -> None:
    e = dk.estimate(_shop())
    assert e.station("events partitions").service_ms == pytest.approx(20.0)  # SQS
    stated = _shop()
    stated.components["events"].service_ms = dk.Time(mean=5.0)  # type: ignore[union-attr]
    assert dk.estimate(stated).station("events partitions").service_ms == pytest.approx(5.0)
    kafka = _shop()
    kafka.components["events"].engine = "kafka"  # type: ignore[union-attr]
    assert dk.estimate(kafka).station("events partitions").service_ms == pytest.approx(1.0)
    # a slowed-down queue is slowed from its engine's default
    slow = dk.estimate(_shop(), scenario=Scenario(slow={"events": 2.0}))
    assert slow.station("events partitions").service_ms == pytest.approx(40.0)


def test_the_estimate_lists_the_defaults_it_relies_on() -> None:
    e = dk.estimate(_shop())
    found = {a.subject: a.value for a in e.assumptions}
    # the cache's hit ratio, the queue's time (SQS's) and its partitions stated: the
    # service's replicas; the database's seek and writes its queries use (no scan, one
    # row per seek: no scan_us_per_row, no row_ms)
    assert found == {"components.api.replicas": "1", "components.cache.hit_ratio": "0.9",
                     "components.events.service_ms": "20 ms",
                     "components.db.seek_ms": "0.5 ms", "components.db.write_ms": "1 ms",
                     "components.db.write_row_ms": "0.05 ms"}
    sources = {a.subject: a.source for a in e.assumptions}
    assert "SendMessage" in sources["components.events.service_ms"]
    assert sources["components.cache.hit_ratio"].startswith("designkit's generic default")
    assert ("relies on 6 default(s): db.seek_ms 0.5 ms, db.write_ms 1 ms, db.write_row_ms "
            "0.05 ms, cache.hit_ratio 0.9, events.service_ms 20 ms, api.replicas 1") in str(e)


def test_the_command_line_json_carries_the_assumptions(tmp_path: object) -> None:
    path = f"{tmp_path}/d.yaml"
    with open(path, "w") as out:
        out.write(dk.dump(_shop()))
    result = CliRunner().invoke(cli, ["estimate", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["assumptions"]  # one entry per setting and value
    queue = next(a for a in listed if a["setting"] == "service_ms")
    assert queue["value"] == "20 ms" and queue["subjects"] == ["components.events.service_ms"]
    assert "SendMessage" in queue["source"]
    assert sorted(a["setting"] for a in listed) == ["hit_ratio", "replicas", "seek_ms",
                                                     "service_ms", "write_ms", "write_row_ms"]
