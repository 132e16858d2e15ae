"""Load over time: ``dk.transient`` (a fluid approximation) against closed forms and
``dk.simulate`` run with the same profile."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import designkit as dk
from designkit.estimate.arguments import ArgumentError
from designkit.maths import fluid
from tests.oracles import mmc_wait

GET = "api GET /x"


def mm1(rate: float = 50.0, servers: int = 1) -> dk.Design:
    d = dk.Design(name="mm1")
    d.service("api", workers=servers).endpoint("GET /x", cpu_ms=10.0)
    d.set_load(GET, rate)
    return d


def test_the_fluid_settles_on_the_stationary_queue() -> None:
    # L(ρ) of M/M/c: c·ρ + C·ρ/(1 − ρ); the fluid started anywhere ends there
    servers = np.array([1, 4, 16])
    rho = np.array([0.5, 0.8, 0.9])
    scv = np.ones(3)
    want = servers * rho + np.array([mmc_wait(rho[i] * servers[i] * 0.1, 0.1, int(servers[i]))
                                     * rho[i] * servers[i] * 0.1 for i in range(3)])
    assert fluid.settle(rho, servers, scv) == pytest.approx(want, rel=1e-9)
    x = np.zeros(3)
    for _ in range(200):
        x, got = fluid.step(x, rho * servers * 0.1, servers * 0.1, servers, scv, dt=1000.0)
    assert x == pytest.approx(want, rel=1e-6) and got == pytest.approx(rho, rel=1e-6)
    # M/D/1: Pollaczek–Khinchine's half of the queue
    md1 = fluid.settle(np.array([0.5]), np.array([1]), np.array([0.0]))
    assert md1[0] == pytest.approx(0.5 + 0.5 * 0.5 / 0.5 / 2)


def test_a_constant_load_is_the_estimate_at_every_moment() -> None:
    d = mm1(servers=2, rate=150)
    t = dk.transient(d, dk.LoadProfile(points=[(0, 1), (30, 1)]))
    # to the fluid's grid (numbers in a station 2 % apart, interpolated): 10⁻⁴
    assert t.endpoints[GET] == pytest.approx(dk.estimate(d).endpoints[GET].mean_ms, rel=1e-4)
    assert t.drain_s is None and t.worst() == []


def test_an_overload_builds_a_backlog_and_drains_it_at_the_fluid_rates() -> None:
    # M/M/1 of 100/s at 50/s, then 150/s for 10 s: +50/s for 10 s, then −50/s
    t = dk.transient(mm1(), dk.LoadProfile.burst(3, for_s=10))
    backlog = t.stations["api workers"].backlog
    # +50/s, and a little more at first: the fluid's utilization reaches 1 as it fills
    assert backlog[t.at(10)] - backlog[t.at(5)] == pytest.approx(250, rel=0.01)
    assert backlog[t.at(10)] == pytest.approx(500, rel=0.03)
    assert t.drain_s == pytest.approx(20, abs=1.0)
    mean = t.endpoints[GET]  # the queue ahead at 10 ms each, and its own 10 ms
    assert mean[t.at(10)] == pytest.approx(10 + backlog[t.at(10)] * 10, rel=3e-3)
    assert mean[t.at(40)] == pytest.approx(20.0, rel=1e-4)  # back to M/M/1 at ρ 0.5
    assert "api workers: backlog peaks at 509 requests at 10 s" in str(t)
    assert t.to_dict()["drain_s"] == t.drain_s


def test_the_simulation_agrees_while_the_backlog_grows() -> None:
    """Mean latency of the requests arriving in each second, over eight simulations, against
    the fluid's at that second: within 10 % while the backlog grows (measured −1…+5 % from
    the 3rd second; +11 % in the 2nd, where the simulated queue has not yet lost its
    stationary start). Draining, the fluid runs ahead of the simulation — it has no
    spread, so it empties the queue ~2 s early (−10 % at 15 s, −30 % at 18 s): the drain
    time is checked at 15 %."""
    d, profile = mm1(), dk.LoadProfile.burst(3, for_s=10)
    t = dk.transient(d, profile, until_s=30)
    windows = []
    drained = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # short runs: wide p95s
        for seed in range(8):
            run = dk.simulate(d, duration_s=30, warmup_s=20, seed=seed, profile=profile,
                              progress=False)
            assert run.timeline is not None
            arrived, latency = run.timeline[GET]
            windows.append([latency[(arrived >= k) & (arrived < k + 1)].mean()
                            for k in range(30)])
            late = arrived[latency > 100.0]  # queued behind the burst
            drained.append(float(late.max()) if late.size else 0.0)
    simulated = np.nanmean(np.array(windows), axis=0)
    mean = t.endpoints[GET]
    for k in range(2, 11):
        fluid_mid = 0.5 * (mean[k] + mean[k + 1])
        assert fluid_mid == pytest.approx(simulated[k], rel=0.10), k
    assert t.drain_s == pytest.approx(float(np.mean(drained)), rel=0.15)


def test_a_profile_in_the_design_file() -> None:
    d = mm1()
    d.profile = dk.LoadProfile(name="the drop", points=[(0, 1), (0, 2), (30, 2), (60, 1)])
    text = dk.dump(d)
    assert "profile:\n  name: the drop\n  points:\n  - [0, 1]\n  - [0, 2]" in text
    again = dk.load(yaml.safe_load(text))
    assert again.profile == d.profile
    t = dk.transient(d)  # the design's own
    assert t.profile.name == "the drop" and t.scale[t.at(10)] == 2.0


def test_bad_profiles_are_located_errors() -> None:
    base = {"designkit": 1, "name": "x"}
    with pytest.raises(dk.DesignError, match=r"profile\.points: .*the first point is at 0 s"):
        dk.load({**base, "profile": {"points": [[5, 1], [10, 2]]}})
    with pytest.raises(dk.DesignError, match="comes before point 1"):
        dk.load({**base, "profile": {"points": [[0, 1], [10, 2], [5, 1]]}})
    with pytest.raises(ArgumentError, match="no load profile"):
        dk.transient(mm1())


def test_an_outbox_relay_is_not_the_publisher_s_wait() -> None:
    """The endpoint's extra time over time counts the waits it has (here the worker's and
    the outbox row's), not the relay's at the broker, which saturates under the burst."""
    d = dk.Design(name="relay")
    d.database("db", cores=64, tables={"outbox": {"rows": 10}})
    d.queue("q", partitions=1, service_ms=5.0)
    ep = d.service("api", workers=64).endpoint("POST /x", cpu_ms=1.0)
    ep.transaction("db").publish("q", outbox=True)
    d.set_load("api POST /x", 100)
    t = dk.transient(d, dk.LoadProfile.burst(3, for_s=10))  # the broker: 300/s, takes 200/s
    assert t.stations["q partitions"].backlog.max() == pytest.approx(1000, rel=0.02)
    assert t.endpoints["api POST /x"].max() == pytest.approx(
        dk.estimate(d).endpoints["api POST /x"].mean_ms, rel=1e-3)
    assert math.isfinite(t.drain_s or math.inf)


def test_a_gate_holds_its_requests_through_the_waits_behind_it() -> None:
    """Two consumers before a one-core database: three times the messages for 10 s back up
    at the consumers, not at the database (no more than two messages are ever there). The
    consumers' hold grows with the database's wait, so they pass about what it serves:
    simulated, the handler's mean is within 16 % of the fluid's from the 3rd to the 10th
    second (measured −7…−14 % at 3–10 s over four seeds: the fluid's two consumers pass
    ~215/s where the closed loop passes 200/s)."""
    d = dk.Design(name="gate")
    d.database("db", cores=1)
    d.queue("q", engine="rabbitmq", consumers=2, service_ms=0.01, handler="worker POST /h")
    d.service("worker", workers=64).endpoint("POST /h", cpu_ms=0.0).call("db", service_ms=5.0)
    d.service("api", workers=64, io="async").endpoint("POST /x", cpu_ms=0.1).publish("q")
    d.set_load("api POST /x", 100)
    profile = dk.LoadProfile.burst(3, for_s=10)
    t = dk.transient(d, profile, until_s=30)
    assert t.worst() == ["q consumers"]
    assert t.stations["db cpu"].backlog.max() < 1.0
    assert t.stations["q consumers"].backlog[t.at(10)] == pytest.approx(1000, rel=0.25)
    windows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in range(4):
            run = dk.simulate(d, duration_s=30, warmup_s=10, seed=seed, profile=profile,
                              progress=False)
            assert run.timeline is not None
            arrived, latency = run.timeline["worker POST /h"]
            windows.append([latency[(arrived >= k) & (arrived < k + 1)].mean()
                            for k in range(30)])
    simulated = np.nanmean(np.array(windows), axis=0)
    mean = t.endpoints["worker POST /h"]
    for k in range(3, 11):
        assert 0.5 * (mean[k] + mean[k + 1]) == pytest.approx(simulated[k], rel=0.16), k


def test_the_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from designkit.cli import cli

    path = tmp_path / "mm1.yaml"
    path.write_text(dk.dump(mm1()), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["transient", str(path), "--profile", "0:1,0:3,10:3,10:1"])
    assert result.exit_code == 0, result.output
    assert "api workers: backlog peaks at 509 requests at 10 s" in result.output
    as_json = runner.invoke(cli, ["transient", str(path), "--profile", "0:1,0:3,10:3,10:1",
                                  "--format", "json"])
    data = json.loads(as_json.output)
    assert data["drain_s"] == 21.0 and data["profile"][1] == [0.0, 3.0]
    none = runner.invoke(cli, ["transient", str(path)])
    assert none.exit_code == 2 and "--profile 0:1,0:2,60:2,180:1" in none.output
    typo = runner.invoke(cli, ["transient", str(path), "--profile", "0:1,x:2"])
    assert typo.exit_code == 2 and "expected SECONDS:FACTOR pairs, got 'x:2'" in typo.output
    late = runner.invoke(cli, ["transient", str(path), "--profile", "5:1,10:2"])
    assert late.exit_code == 2
    assert "--profile: the first point is at 0 s, got 5 s" in late.output


def test_the_error_ratio_over_time_counts_the_requests_past_their_timeout() -> None:
    # An M/M/1 of 10 ms at 50/s: T is exponential of mean 20 ms, so e^(−100/20) of the
    # requests take longer than the 100 ms timeout; during a 3× burst the wait grows to
    # seconds and every request times out; once drained, the share is back.
    d = dk.Design(name="timeouts")
    d.service("api", workers=1).endpoint("GET /x", cpu_ms=10, timeout_ms=100)
    d.set_load("api GET /x", 50)
    t = dk.transient(d, dk.LoadProfile.burst(3, for_s=10))
    errors = t.errors["api GET /x"]
    assert errors[0] == pytest.approx(math.exp(-5.0), rel=0.02)
    assert errors[t.at(10.0)] == pytest.approx(1.0)
    assert errors[-1] == pytest.approx(math.exp(-5.0), rel=0.02)
    assert "api GET /x: errors peak at 100.0%" in str(t)
    assert t.to_dict()["error_ratio"]["api GET /x"][0] == pytest.approx(math.exp(-5.0),
                                                                         rel=0.02)
