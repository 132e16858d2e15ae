"""``dk.transient``: the design under a load that changes with time (an on-sale's minutes).

Every station with load is a fluid queue (:mod:`designkit.maths.fluid`, the pointwise
stationary fluid flow approximation), served at the service time the estimate finds at the
workload as designed, one copy at a time (the load splits evenly over copies). Requests
enter an endpoint through its *gates* — a queue's consumers, then its service's workers —
at the workload × the profile's factor at that moment; what lies behind a gate (the
endpoint's statements, pools, calls and messages) gets what the gate serves, so a backlog
builds at the gate that falls behind, not further in. A gate is held for its request's whole
run, so its service time grows by how much longer the waits behind it are. An endpoint's
mean at time t is its mean in the estimate plus, for every wait on its way (its own visits
and holds, and those of the endpoints it calls synchronously), how much longer that wait is
at t than at the workload.

What it does not model: pools and locks held longer while what they wrap queues (only the
gates are), throttling by a pool or lock that falls behind (only the gates throttle), the
spread of a queue (the fluid drains a little early: docs/estimator.md has the measured
error) and queue limits (nothing is rejected: a backlog is what a bounded queue would
refuse).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, assert_never

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.api import estimate_with, prepare
from designkit.estimate.arguments import ArgumentError, positive
from designkit.estimate.errors import failing_share
from designkit.estimate.external import attempts
from designkit.estimate.program import Program
from designkit.estimate.scenarios import Scenario
from designkit.estimate.solve import solve
from designkit.estimate.tape import tape_of
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    ExternalCall,
    Fallback,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Publish,
    Seq,
    Visit,
)
from designkit.maths import fluid
from designkit.model.profile import LoadProfile

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.model.design import Design

__all__ = ["StationSeries", "Transient", "transient"]

Floats = NDArray[np.float64]

SUBSTEPS = 10
"""Backward-Euler steps per reported step."""

SETTLED = 1.05
"""A station has drained when it holds no more than 5 % (and one request) above its
stationary queue at the load of the moment."""


@dataclass(frozen=True)
class StationSeries:
    """One station over time (one value per reported time).

    Attributes:
        arrival_rps: Requests offered per second.
        backlog: Requests waiting (not in service), all copies together.
        wait_ms: Mean wait of a request arriving then (the backlog over what is served).
        utilization: Busy share of the servers.
    """

    arrival_rps: Floats
    backlog: Floats
    wait_ms: Floats
    utilization: Floats


@dataclass(frozen=True)
class Transient:
    """What the design does over time under a load profile.

    Attributes:
        design: The design's name.
        profile: The profile followed (factor on the workload over time).
        times_s: The reported times, seconds.
        scale: The profile's factor at each time.
        stations: Per loaded station, by id, its series.
        endpoints: Per endpoint with traffic, its mean latency (ms) at each time.
        drain_s: When the last backlog has drained: from then on every station holds its
            stationary queue at the load of the moment (within 5 % and one request);
            ``inf`` when that is not within ``times_s``, ``None`` when no station ever
            falls behind.
        timeouts: Per endpoint with a ``timeout_ms``, the seconds its mean is above it.
        errors: Per endpoint with traffic, its error ratio at each time: its third parties'
            failures (the estimate's, the same at every load) and, with a ``timeout_ms``,
            the share of its requests beyond it — the estimate's distribution shifted by
            how much longer its waits are then.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
        >>> _ = d.set_load("api GET /x", 50)
        >>> t = transient(d, dk.LoadProfile.burst(3, for_s=10))
        >>> round(float(t.stations["api workers"].backlog.max()))  # ≈ (150 − 100)/s × 10 s
        509
        >>> t.drain_s  # 509 requests at (100 − 50)/s from 10 s: settled in the 11th second
        21.0
    """

    design: str
    profile: LoadProfile
    times_s: Floats
    scale: Floats
    stations: Mapping[str, StationSeries]
    endpoints: Mapping[str, Floats]
    drain_s: float | None
    timeouts: Mapping[str, float] = field(default_factory=dict)
    errors: Mapping[str, Floats] = field(default_factory=dict)

    def at(self, t: float) -> int:
        """The index of the reported time nearest ``t`` seconds."""
        return int(np.argmin(np.abs(self.times_s - t)))

    def worst(self, n: int = 5) -> list[str]:
        """The ``n`` stations whose backlog grows most above where it starts (by at least
        one request), most first."""
        rise = {sid: float(s.backlog.max() - s.backlog[0]) for sid, s in self.stations.items()}
        return [sid for sid in sorted(rise, key=lambda k: -rise[k]) if rise[sid] >= 1][:n]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``null`` for a drain that never comes)."""
        def floats(values: Floats) -> list[float]:
            return [float(v) for v in values]

        return {
            "design": self.design,
            "profile": [list(p) for p in self.profile.points],
            "times_s": floats(self.times_s),
            "scale": floats(self.scale),
            "stations": {sid: {"arrival_rps": floats(s.arrival_rps),
                               "backlog": floats(s.backlog), "wait_ms": floats(s.wait_ms),
                               "utilization": floats(s.utilization)}
                         for sid, s in self.stations.items()},
            "endpoints": {k: floats(v) for k, v in self.endpoints.items()},
            "drain_s": None if self.drain_s is None or math.isinf(self.drain_s)
            else self.drain_s,
            "timeouts": dict(self.timeouts),
            "error_ratio": {k: floats(v) for k, v in self.errors.items()},
        }

    def __str__(self) -> str:
        name = f" {self.profile.name!r}" if self.profile.name else ""
        peak = self.profile.peak
        lines = [f"transient of {self.design!r} under the profile{name} (peak {peak:g}× the "
                 f"workload, {self.times_s[-1]:g} s shown)"]
        worst = self.worst()
        if not worst:
            lines.append("no station backs up: every queue stays as the estimate has it")
        for sid in worst:
            s = self.stations[sid]
            k = int(np.argmax(s.backlog))
            lines.append(f"  {sid}: backlog peaks at {s.backlog[k]:,.0f} requests at "
                         f"{self.times_s[k]:g} s (wait {s.wait_ms[k]:,.1f} ms)")
        if self.drain_s is not None:
            lines.append("drained by " + (f"{self.drain_s:g} s" if math.isfinite(self.drain_s)
                                          else "— not within the time shown"))
        for key, seconds in self.timeouts.items():
            if seconds > 0:
                lines.append(f"  {key}: mean above its timeout for {seconds:g} s")
        for key, ratio in self.errors.items():
            k = int(np.argmax(ratio))
            if ratio[k] > ratio[0] + 0.001:
                lines.append(f"  {key}: errors peak at {ratio[k]:.1%} at {self.times_s[k]:g} s "
                             f"(from {ratio[0]:.1%})")
        lines.append("nothing is rejected: designkit models no queue limits")
        return "\n".join(lines)


def transient(design: Design, profile: LoadProfile | None = None, *, step_s: float = 1.0,
              until_s: float | None = None, scenario: Scenario | None = None,
              workload: dict[str, float] | None = None, days: float = 0.0) -> Transient:
    """The design over time under a load profile (see the module's docstring).

    Args:
        design: The design.
        profile: The factor on the workload over time; default: the design's ``profile``.
        step_s: Seconds between reported times.
        until_s: The last time reported; default: the profile's last point, then until the
            backlogs drain (at most ten times the profile's length, and 60 s at least).
        scenario: What-if conditions, as for :func:`dk.estimate`.
        workload: Requests per second by endpoint; default: the design's.
        days: Days of table growth.

    Raises:
        ArgumentError: No profile, or a step or horizon that is not a positive time.
        DesignError: The design or the workload is invalid.

    Example:
        >>> import designkit as dk
        >>> drop = dk.LoadProfile(points=[(0, 1), (0, 2), (60, 2), (180, 1)])
        >>> minutes = dk.transient(dk.template("flash-sale"), drop)
        >>> minutes.worst(1), minutes.drain_s  # the projector's consumers fall behind
        (['order-events consumers'], 125.0)
    """
    profile = profile if profile is not None else design.profile
    if profile is None:
        raise ArgumentError("no load profile: give one — dk.transient(design, "
                            "dk.LoadProfile.burst(2, for_s=60)), or designkit transient "
                            "--profile 0:1,0:2,60:2,180:1 — or write `profile:` in the design")
    step_s = positive("step_s", step_s)
    base = estimate_with(design, workload, scenario, days, 1.0, capacity=False)
    _, program, load, total, _ = prepare(design, workload, scenario, days, 1.0)
    solution = solve(program, load, total)
    trial = solution.trial
    loaded = np.flatnonzero(trial.arrival[:, 0] > 0)
    stations = [program.stations[int(i)] for i in loaded]
    copies = np.array([s.copies for s in stations], dtype=float)
    servers = np.array([s.servers for s in stations], dtype=np.int64)
    arrival = trial.arrival[loaded, 0] / copies  # per ms per copy, at factor 1
    service = trial.service[loaded, 0]
    scv = np.nan_to_num(trial.scv[loaded, 0], nan=1.0, posinf=1.0)
    with np.errstate(divide="ignore"):
        capacity = np.where(service > 0, servers / service, np.inf)  # per ms per copy
    capacity = np.where(np.isfinite(capacity), capacity, 1e300)
    finite = np.isfinite(service) & (service > 0)

    def stationary(factor: float) -> Floats:
        return fluid.settle(np.where(finite, factor * arrival / capacity, 0.0), servers, scv)

    before = profile.points[0][1]  # the factor just before 0 s (a step at 0 comes after)
    start = stationary(before)
    x = np.where(np.isfinite(start), start, 0.0)
    end = profile.duration_s
    horizon = until_s if until_s is not None else max(end + 60.0, 60.0)
    limit = until_s if until_s is not None else max(10.0 * end, 600.0)
    designed = stationary(1.0)  # the estimate's endpoint means are at the workload
    base_wait = _wait_ms(fluid.waiting(designed, np.minimum(arrival / capacity, 1.0), servers),
                         arrival)
    times, scales, xs, rhos = [0.0], [before], [x.copy()], [
        np.minimum(before * arrival / capacity, 1.0)]
    offered = [before * arrival * copies]
    dt = step_s * 1000.0 / SUBSTEPS
    curves = fluid.Curves(servers, scv)
    gates = _Gates(program, load, loaded)
    rho_now = rhos[0]
    t = 0.0
    unsettled: float | None = None  # the last reported time a station was off its queue
    behind = False  # a station is off its queue at the last time reported
    while t < horizon - 1e-9 or (until_s is None and behind and t < limit - 1e-9):
        for k in range(SUBSTEPS):  # arrivals at each sub-step's middle
            now = t + (k + 0.5) * step_s / SUBSTEPS
            reaching = gates.arrivals(profile.at(now))  # all copies, per ms
            if gates.slower:  # a gate holds its request through the waits behind it
                now_wait = _wait_ms(fluid.waiting(x, rho_now, servers), rho_now * capacity)
                held = service + gates.held_longer(now_wait - base_wait)
                capacity = np.where(finite, servers / np.maximum(held, 1e-12), 1e300)
            x, rho_now = fluid.step(x, reaching / copies, capacity, servers, scv, dt, curves)
            gates.passed(rho_now * capacity * copies, reaching)
            rho = rho_now
        t += step_s
        times.append(t)
        scales.append(profile.at(t))
        xs.append(x.copy())
        rhos.append(rho)
        offered.append(reaching)
        behind = _behind(x, stationary(profile.at(t)), copies)
        if behind:
            unsettled = t
    xs_arr, rho_arr = np.array(xs), np.array(rhos)
    waiting = fluid.waiting(xs_arr, rho_arr, servers)
    wait = _wait_ms(waiting, rho_arr * capacity)  # over what is served, per ms per copy
    reached = np.array(offered) * 1000.0
    series = {stations[j].id: StationSeries(
        arrival_rps=reached[:, j],
        backlog=waiting[:, j] * copies[j], wait_ms=wait[:, j],
        utilization=rho_arr[:, j]) for j in range(len(stations))}
    extra = wait - np.where(np.isfinite(base_wait), base_wait, 0.0)
    means, lag = _endpoint_means(program, base, loaded, extra)
    timeouts = {}
    for key in means:
        ep = program.endpoints[program.index[key]]
        if ep.timeout_ms is not None:
            timeouts[key] = float(step_s * (means[key] > ep.timeout_ms).sum())
    drained = (None if unsettled is None else math.inf if behind
               else unsettled + step_s)
    return Transient(design.name, profile, np.array(times), np.array(scales), series, means,
                     drained, timeouts, _errors_over_time(program, base, means, lag))


def _errors_over_time(program: Program, base: Estimate, means: Mapping[str, Floats],
                      lag: Mapping[str, Floats]) -> dict[str, Floats]:
    """Each endpoint's error ratio over time: its failures (the same at any load), then,
    with a ``timeout_ms``, the share beyond it of its distribution shifted by how much
    longer its run is (``1 − F(timeout − extra)``; a handler's timeout runs from when a
    consumer takes its message: its lag is not part of it)."""
    out: dict[str, Floats] = {}
    for key, mean in means.items():
        e = base.endpoints[key]
        ratio = np.full(len(mean), e.error_ratio)
        timeout = program.endpoints[program.index[key]].timeout_ms
        if timeout is not None and e.dist is not None:
            # a handler's timeout runs from when a consumer takes its message: how much
            # longer its messages wait for one (its lag growing) is left out
            extra = np.nan_to_num(mean - e.mean_ms - lag.get(key, 0.0), nan=np.inf,
                                  posinf=np.inf)
            within = np.array([e.dist.cdf(timeout - x) if math.isfinite(x) and x < timeout
                               else 0.0 for x in extra])
            ratio = 1.0 - (1.0 - ratio) * within
        out[key] = ratio
    return out


class _Gates:
    """Where each endpoint's requests arrive, when some of them wait at its door.

    A request enters an endpoint through its gates — a queue's consumers (for a handler),
    then its service's workers — and reaches everything else it does (its statements,
    pools, the endpoints it calls or sends messages to) only once through them. When a
    gate serves fewer than arrive (it is backing up), what lies behind it gets only what
    it serves: the backlog builds at the gate, not further in (the flash-sale's projector
    consumers, saturated at 2×, pass the read database no more than they can take)."""

    def __init__(self, program: Program, load: Mapping[str, float],
                 loaded: NDArray[np.int64]) -> None:
        traffic = tape_of(program).traffic
        n, m = len(program.endpoints), len(program.stations)
        own = np.zeros((n, m))
        np.add.at(own, (traffic.visit_endpoint, traffic.visit_station), traffic.visit_mult)
        np.add.at(own, (traffic.holder_endpoint, traffic.holder_station), traffic.holder_mult)
        self.gates: list[tuple[int, ...]] = []
        for j, ep in enumerate(program.endpoints):
            gates = (ep.workers,) if ep.consume is None else (ep.consume, ep.workers)
            for g in gates:
                own[j, g] -= 1.0  # the entry's own hold: counted as a gate instead
            self.gates.append(gates)
        self.own = own[:, loaded]
        self.loaded = loaded
        self.position = {int(g): k for k, g in enumerate(loaded)}
        self.direct = np.zeros(n)
        for key, rps in load.items():
            self.direct[program.index[key]] += rps / 1000.0
        self.calls: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for caller, callee, mult in zip(traffic.call_from, traffic.call_to, traffic.call_mult,
                                        strict=True):
            self.calls[caller].append((callee, mult))
        self.order = program.order or tuple(range(n))
        self.share = np.ones(len(loaded))  # per loaded station: served over arrived
        self.program = program
        # per loaded gate station: the endpoints entering through it, by their rate at 1×
        rates = self.direct.copy()
        for j in self.order:
            for callee, mult in self.calls[j]:
                rates[callee] += rates[j] * mult
        self.entering: dict[int, list[tuple[int, float, bool]]] = {}
        for j, ep in enumerate(program.endpoints):
            if rates[j] <= 0:
                continue
            if ep.consume is not None and ep.consume in self.position:
                self.entering.setdefault(self.position[ep.consume], []).append(
                    (j, rates[j], True))
            if ep.blocking and ep.workers in self.position:
                self.entering.setdefault(self.position[ep.workers], []).append(
                    (j, rates[j], False))
        self.slower = bool(self.entering)

    def held_longer(self, longer_waits: Floats) -> Floats:
        """Per loaded station, how much longer a gate is held (its requests' run behind
        it takes longer by the waits there: ``longer_waits`` per loaded station, ms);
        0 for the others."""
        longer = np.zeros((1, len(self.program.stations)))
        longer[0, self.loaded] = longer_waits
        walker = _Longer(self.program, longer)
        out = np.zeros(len(self.loaded))
        for k, entering in self.entering.items():
            total = weight = 0.0
            for j, rate, consumed in entering:
                ep = self.program.endpoints[j]
                run = float(walker.node(ep.steps)[0])
                if consumed:
                    run += float(longer[0, ep.workers])
                total += rate * run
                weight += rate
            out[k] = total / weight
        return out

    def arrivals(self, factor: float) -> Floats:
        """Arrivals per ms at each loaded station (all copies) at ``factor``."""
        offered = factor * self.direct
        passed = np.zeros_like(offered)
        at_gates = np.zeros(len(self.loaded))
        for j in self.order:
            rate = offered[j]
            if rate <= 0:
                continue
            for g in self.gates[j]:
                k = self.position.get(g)
                if k is not None:
                    at_gates[k] += rate
                    rate *= self.share[k]
            passed[j] = rate
            for callee, mult in self.calls[j]:
                offered[callee] += rate * mult
        return np.asarray(at_gates + passed @ self.own, dtype=float)

    def passed(self, served: Floats, arrived: Floats) -> None:
        """Record what each station served of what arrived (the next step's shares)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            self.share = np.where(arrived > 0, np.minimum(served / arrived, 1.0), 1.0)


def _behind(x: Floats, settled: Floats, copies: Floats) -> bool:
    """Some station holds more than its stationary queue at the load of the moment (by
    more than 5 % and one request; any backlog of one that is overloaded then)."""
    return bool((x > np.where(np.isfinite(settled), settled * SETTLED + 1.0 / copies,
                              -1.0)).any())


def _wait_ms(waiting: Floats, arrival: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(arrival > 0, waiting / np.where(arrival > 0, arrival, 1.0), 0.0)


def _endpoint_means(program: Program, base: Any, loaded: NDArray[np.int64],
                    extra: Floats) -> tuple[dict[str, Floats], dict[str, Floats]]:
    """Each endpoint's mean over time: the estimate's, plus how much longer (``extra``,
    time × loaded station) each wait on its way is, as many times as it waits there; and,
    for a queue's handler, how much longer its messages wait for a consumer (its lag)."""
    longer = np.zeros((extra.shape[0], len(program.stations)))
    longer[:, loaded] = extra
    walker = _Longer(program, longer)
    means, lag = {}, {}
    for key, e in base.endpoints.items():
        ep = program.endpoints[program.index[key]]
        means[key] = e.mean_ms + walker.endpoint(program.index[key])
        if ep.consume is not None:
            lag[key] = longer[:, ep.consume]
    return means, lag


class _Longer:
    """How much longer a node takes over time, from the stations' longer waits."""

    def __init__(self, program: Program, longer: Floats) -> None:
        self.program = program
        self.longer = longer
        self.memo: dict[int, Floats] = {}

    def endpoint(self, index: int) -> Floats:
        if index not in self.memo:
            ep = self.program.endpoints[index]
            own = self.longer[:, ep.workers] + self.node(ep.steps)
            self.memo[index] = own if ep.consume is None else own + self.longer[:, ep.consume]
        return self.memo[index]

    def node(self, node: Node) -> Floats:
        zero = np.zeros(self.longer.shape[0])
        match node:
            case Visit():
                return node.count * self.longer[:, node.station]
            case Hold():
                return self.longer[:, node.station] + self.node(node.body)
            case Invoke():
                return node.count * self.endpoint(node.endpoint)
            case ExternalCall():
                info = attempts(node)
                if node.station is None or info.breaker_open:
                    return zero
                return node.count * info.expected * self.longer[:, node.station]
            case Publish():  # the request waits for the broker, or for its outbox row
                return node.count * self.node(node.waited)
            case Seq():
                return sum((self.node(item) for item in node.items), zero)
            case Par():  # the branch that is longest then
                return np.max([self.node(b) for b in node.branches], axis=0,
                              initial=0.0) if node.branches else zero
            case Loop():
                return node.count * self.node(node.body)
            case CacheRead():
                return self.node(node.visit) + (1.0 - node.hit) * self.node(node.miss)
            case Choice():
                return node.p * self.node(node.first) + (1.0 - node.p) * self.node(node.second)
            case Fallback():
                failing = failing_share(self.program, node.body)
                return self.node(node.body) + failing * self.node(node.fallback)
            case Delay():
                return zero
            case _:
                assert_never(node)
