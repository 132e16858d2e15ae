"""Small generated designs that reach every step kind, holder and time shape.

Each *family* below builds, from a seeded ``random.Random``, a small design whose endpoints
use one step kind in its usual settings (and the others around it): ``call`` (a database
by ``service_ms`` or by query, a cache, a third party, another service's endpoint),
``transaction`` (statements, and a call of another endpoint inside), ``lock`` (nested, in
one order), ``loop``, ``cache`` (cache-aside with ``on_miss``), ``parallel``,
``publish`` (a queue with a handler) and calls that fail (timeouts, retries, a
``fallback``, an internal call's ``failure_rate``). Holders are blocking and async services with few
workers, connection pools and locks; every time is drawn from the three shapes a design
may state: a number (exponential), ``{mean, scv}`` with scv 0, 0.5, 1 or 2 (constant,
gamma, exponential, hyperexponential) and ``{p50, p95}`` (a lognormal).

The same seed gives the same design (``random.Random`` seeded with a string is the same
on every platform), so a test built on them is stable. A :class:`Case` is a family, a seed
and a utilization: :func:`loaded` scales the workload until the estimate's busiest station
is there. :func:`compare` holds the estimate of a case against ``dk.simulate`` (several
seeds; a confidence interval from their spread), :func:`features` lists what a design
exercises.

Example:
    >>> import designkit as dk
    >>> case = Case("parallel", 1, 0.3)
    >>> round(max(s.utilization for s in stations(dk.estimate(case.design, scale=case.scale))), 2)
    0.3
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import designkit as dk
from designkit.flow.build import design_steps
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    TransactionStep,
)

__all__ = ["FAMILIES", "Case", "Row", "compare", "features", "loaded", "peak", "shapes",
           "stations", "time_shape"]


def time_shape(rng: random.Random, mean: float, shape: str | None = None) -> Any:
    """A time of about ``mean`` ms in one of the shapes a design may state: ``"number"``
    (exponential), ``"scv0"``, ``"scv0.5"``, ``"scv1"``, ``"scv2"`` or ``"lognormal"``
    (``{p50, p95}``, p95 1.5–4 × p50); drawn at random when ``shape`` is ``None``.

    Example:
        >>> time_shape(random.Random(0), 2.0, "scv0.5")
        {'mean': 2.0, 'scv': 0.5}
    """
    shape = shape or rng.choice(["number", "scv0", "scv0.5", "scv1", "scv2", "lognormal"])
    if shape == "number":
        return mean
    if shape.startswith("scv"):
        return {"mean": mean, "scv": float(shape[3:])}
    spread = rng.uniform(1.5, 4.0)
    # a lognormal with p95 = spread × p50 has mean p50·exp(s²/2), s = ln(spread)/1.645
    s = math.log(spread) / 1.6448536269514722
    p50 = mean / math.exp(s * s / 2)
    return {"p50": round(p50, 4), "p95": round(p50 * spread, 4)}


def _ms(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 3)


def _db(d: dk.Design, rng: random.Random, name: str = "db", cores: int | None = None,
        pool: int | None = None) -> dk.Database:
    db = d.database(name, cores=cores or rng.randint(1, 4), pool_size=pool or rng.randint(2, 8))
    db.table("items", rows=rng.randint(100, 100_000)).column("id", "uuid", primary_key=True)
    return db


def _statement(container: Any, rng: random.Random, db: str = "db") -> None:
    """A database call: by ``service_ms`` of a random shape, or (one in four) by a query
    whose plan decides its time (an exponential seek)."""
    if rng.random() < 0.25:
        container.call(db, query={"table": "items", "where": ["id"]})
    else:
        container.call(db, service_ms=time_shape(rng, _ms(rng, 0.5, 4.0)))


def _backend(d: dk.Design, rng: random.Random) -> str:
    """A second service with few workers and one endpoint (cpu, a cache read); its
    reference."""
    io = rng.choice(["blocking", "async"])
    svc = d.service("backend", workers=rng.randint(2, 6), io=io)
    ep = svc.endpoint("GET /y", cpu_ms=time_shape(rng, _ms(rng, 1.0, 4.0)))
    d.cache("bcache", service_ms=time_shape(rng, _ms(rng, 0.2, 1.0)))
    ep.call("bcache")
    d.set_load("backend GET /y", 1.0)
    return "backend GET /y"


def _api(d: dk.Design, rng: random.Random, io: str | None = None, key: str = "GET /x",
         workers: tuple[int, int] = (2, 8)) -> dk.Endpoint:
    svc = d.service("api", workers=rng.randint(*workers),
                    io=io or rng.choice(["blocking", "async"]))
    return svc.endpoint(key, cpu_ms=time_shape(rng, _ms(rng, 0.5, 3.0)))


# -- families ------------------------------------------------------------------------------


def calls(rng: random.Random) -> dk.Design:
    """``call`` of every kind of target: a database (``service_ms`` or a query, through
    the caller's pool), a cache, a third party with a concurrency limit (the other families'
    are unbounded), and another service's endpoint — in a random order."""
    d = dk.Design(name="calls")
    _db(d, rng)
    d.cache("cache", service_ms=time_shape(rng, _ms(rng, 0.2, 1.5)))
    d.external("ext", latency_ms=time_shape(rng, _ms(rng, 5.0, 30.0)),
               concurrency=rng.randint(4, 10))
    backend = _backend(d, rng)
    ep = _api(d, rng)
    steps: list[Callable[[], object]] = [
        lambda: _statement(ep, rng), lambda: ep.call("cache"), lambda: ep.call("ext"),
        lambda: ep.call(backend)]
    rng.shuffle(steps)
    for step in steps:
        step()
    d.set_load("api GET /x", 1.0)
    return d


def transaction(rng: random.Random) -> dk.Design:
    """A ``transaction`` of one to three statements on a small pool, and one that calls
    another service's endpoint while it keeps its connection."""
    d = dk.Design(name="transaction")
    _db(d, rng, cores=rng.randint(2, 8), pool=rng.randint(2, 6))
    backend = _backend(d, rng)
    ep = _api(d, rng)
    tx = ep.transaction("db")
    for _ in range(rng.randint(1, 3)):
        _statement(tx, rng)
    write = d.service("api").endpoint("POST /w", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2.0)))
    tx2 = write.transaction("db")
    _statement(tx2, rng)
    tx2.call(backend)
    d.set_load("api GET /x", 1.0)
    d.set_load("api POST /w", rng.uniform(0.3, 1.0))
    return d


def lock(rng: random.Random) -> dk.Design:
    """A ``lock`` around a cache call and a statement, and two endpoints taking two locks
    nested in the same order (outer, then inner: inside a transaction in one, inside a loop
    in the other)."""
    d = dk.Design(name="lock")
    _db(d, rng, cores=rng.randint(2, 4), pool=rng.randint(3, 8))
    d.cache("cache", service_ms=time_shape(rng, _ms(rng, 0.2, 1.0)))
    d.lock("outer", acquire_ms=_ms(rng, 0.0, 0.5))
    d.lock("inner", acquire_ms=_ms(rng, 0.0, 0.5))
    d.lock("single", acquire_ms=_ms(rng, 0.0, 0.5))
    ep = _api(d, rng, key="POST /single")
    held = ep.lock("single")
    held.call("cache")
    _statement(held, rng)
    nested = d.service("api").endpoint("POST /nested", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2)))
    tx = nested.lock("outer").transaction("db")
    tx.lock("inner").call("db", service_ms=time_shape(rng, _ms(rng, 0.5, 2.0)))
    looped = d.service("api").endpoint("POST /looped", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2)))
    body = looped.lock("outer").loop(rng.randint(2, 3))
    body.lock("inner").call("cache")
    d.set_load("api POST /single", 1.0)
    d.set_load("api POST /nested", rng.uniform(0.3, 1.0))
    d.set_load("api POST /looped", rng.uniform(0.3, 1.0))
    return d


def loop(rng: random.Random) -> dk.Design:
    """A ``loop`` of two to five iterations over a cache call and a statement, and one
    over calls of another service's endpoint."""
    d = dk.Design(name="loop")
    _db(d, rng, cores=rng.randint(4, 8), pool=rng.randint(4, 8))
    d.cache("cache", servers=2, service_ms=time_shape(rng, _ms(rng, 0.1, 0.5)))
    backend = _backend(d, rng)
    ep = _api(d, rng)
    body = ep.loop(rng.randint(2, 5))
    body.call("cache")
    _statement(body, rng)
    fan = d.service("api").endpoint("GET /fan", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2.0)))
    fan.loop(rng.randint(2, 5)).call(backend)
    d.set_load("api GET /x", 1.0)
    d.set_load("api GET /fan", rng.uniform(0.2, 0.5))
    return d


def cache(rng: random.Random) -> dk.Design:
    """``cache``-aside reads: a hit ratio of 0.5–0.95 and ``on_miss`` steps (a statement, a
    transaction, a third party, another service's endpoint)."""
    d = dk.Design(name="cache")
    _db(d, rng, cores=rng.randint(1, 4), pool=rng.randint(2, 6))
    d.cache("cache", hit_ratio=round(rng.uniform(0.5, 0.95), 3),
            service_ms=time_shape(rng, _ms(rng, 0.2, 1.0)))
    d.external("ext", latency_ms=time_shape(rng, _ms(rng, 10.0, 40.0)))
    backend = _backend(d, rng)
    ep = _api(d, rng)
    miss = ep.cache("cache")
    _statement(miss, rng)
    miss.call("ext")
    other = d.service("api").endpoint("GET /other", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2)))
    miss2 = other.cache("cache", hit_ratio=round(rng.uniform(0.5, 0.95), 3))
    _statement(miss2.transaction("db"), rng)
    miss2.call(backend)
    d.set_load("api GET /x", 1.0)
    d.set_load("api GET /other", rng.uniform(0.3, 1.0))
    return d


def parallel(rng: random.Random) -> dk.Design:
    """``parallel`` with two or three branches (a statement, a cache call, a third party,
    another service's endpoint, or two of them in a row), and a lock held around two
    branches of about the same length (a cache call and a third party)."""
    d = dk.Design(name="parallel")
    _db(d, rng, cores=rng.randint(2, 4), pool=rng.randint(4, 8))
    d.cache("cache", service_ms=time_shape(rng, _ms(rng, 0.5, 3.0)))
    d.external("ext", latency_ms=time_shape(rng, _ms(rng, 2.0, 10.0)))
    backend = _backend(d, rng)
    ep = _api(d, rng)
    fills: list[Callable[[Any], object]] = [
        lambda b: _statement(b, rng), lambda b: b.call("cache"), lambda b: b.call("ext"),
        lambda b: b.call(backend), lambda b: b.call("cache").call("ext")]
    n = rng.randint(2, 3)
    branches = ep.parallel(n)
    for i, fill in enumerate(rng.sample(fills, n)):
        fill(branches.branch(i))
    d.lock("plock", acquire_ms=_ms(rng, 0.0, 0.3))
    length = _ms(rng, 1.0, 4.0)
    d.cache("pcache", service_ms=time_shape(rng, length))
    d.external("pext", latency_ms=time_shape(rng, length * rng.uniform(0.7, 1.4)))
    locked = d.service("api").endpoint("POST /locked", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2)))
    pair = locked.lock("plock").parallel(2)
    pair.branch(0).call("pcache")
    pair.branch(1).call("pext")
    d.set_load("api GET /x", 1.0)
    d.set_load("api POST /locked", rng.uniform(0.3, 1.0))
    return d


def publish(rng: random.Random) -> dk.Design:
    """``publish`` to a queue whose handler (another service) runs a statement on its own
    database; the publisher reads a cache first."""
    d = dk.Design(name="publish")
    _db(d, rng, name="wdb", cores=rng.randint(1, 4), pool=rng.randint(2, 6))
    d.cache("cache", service_ms=time_shape(rng, _ms(rng, 0.2, 1.0)))
    d.queue("events", partitions=rng.randint(1, 4),
            service_ms=time_shape(rng, _ms(rng, 0.2, 1.5)), handler="worker POST /h")
    worker = d.service("worker", workers=rng.randint(2, 6),
                       io=rng.choice(["blocking", "async"]))
    handler = worker.endpoint("POST /h", cpu_ms=time_shape(rng, _ms(rng, 0.5, 3.0)))
    _statement(handler, rng, "wdb")
    ep = _api(d, rng, key="POST /x")
    ep.call("cache").publish("events", count=rng.choice([1, 2]))
    d.set_load("api POST /x", 1.0)
    return d


def mixed(rng: random.Random) -> dk.Design:
    """Every step kind in one endpoint: a cache-aside read whose miss runs a transaction
    with a loop, parallel branches, a lock, and a publish."""
    d = dk.Design(name="mixed")
    _db(d, rng, cores=rng.randint(4, 8), pool=rng.randint(4, 8))
    d.cache("cache", hit_ratio=round(rng.uniform(0.5, 0.9), 3),
            service_ms=time_shape(rng, _ms(rng, 0.2, 1.0)))
    d.external("ext", latency_ms=time_shape(rng, _ms(rng, 5.0, 20.0)))
    d.lock("mutex", acquire_ms=_ms(rng, 0.0, 0.3))
    d.queue("events", partitions=2, service_ms=time_shape(rng, _ms(rng, 0.2, 1.0)),
            handler="worker POST /h")
    d.service("worker", workers=4, io="async").endpoint(
        "POST /h", cpu_ms=time_shape(rng, _ms(rng, 0.5, 2.0))).call("cache")
    backend = _backend(d, rng)
    ep = _api(d, rng, workers=(4, 10))
    tx = ep.cache("cache").transaction("db")
    _statement(tx.loop(rng.randint(2, 3)), rng)
    branches = ep.parallel(2)
    branches.branch(0).call("ext")
    branches.branch(1).call(backend)
    _statement(ep.lock("mutex"), rng)
    ep.publish("events")
    d.set_load("api GET /x", 1.0)
    return d


def failing(rng: random.Random) -> dk.Design:
    """Calls that fail: a third party failing 10–40 % of attempts within time, cut by a
    timeout at 1.5–3× its mean and retried 0–2 times after a constant backoff, with a
    ``fallback`` that reads a cache or runs a statement; another service's endpoint that
    fails 2–10 % on its own (``failure_rate``) and degrades with an empty fallback."""
    d = dk.Design(name="failing")
    _db(d, rng)
    d.cache("cache", service_ms=time_shape(rng, _ms(rng, 0.2, 1.5)))
    mean = _ms(rng, 5.0, 30.0)
    d.external("ext", latency_ms=time_shape(rng, mean),
               timeout_ms=round(mean * rng.uniform(1.5, 3.0), 3),
               failure_rate=round(rng.uniform(0.1, 0.4), 3),
               retries={"max": rng.randint(0, 2), "backoff": "constant",
                        "base_ms": _ms(rng, 1.0, 5.0)})
    backend = _backend(d, rng)
    ep = _api(d, rng)
    if rng.random() < 0.5:
        ep.call("ext", fallback=[{"call": "cache"}])
    else:
        ep.call("ext", fallback=[{"call": "db", "service_ms": time_shape(rng, _ms(rng, 0.5,
                                                                                 4.0))}])
    ep.call(backend, failure_rate=round(rng.uniform(0.02, 0.1), 3), fallback=[])
    d.set_load("api GET /x", 1.0)
    return d


def calibrated(rng: random.Random) -> dk.Design:
    """:func:`calls` as measurements adjusted it (``calibration:``): the database slowing
    down as it fills (slowdown 0.2–1), the cache's times scaled (0.5–2×) into another shape
    (scv 0–2), the third party's scaled."""
    d = calls(rng)
    d.name = "calibrated"
    d.calibration = {"components": {
        "db": {"slowdown": _ms(rng, 0.2, 1.0)},
        "cache": {"scale": _ms(rng, 0.5, 2.0), "scv": rng.choice([0.0, 0.5, 2.0])},
        "ext": {"scale": _ms(rng, 0.5, 2.0)}}}
    return d


FAMILIES: dict[str, Callable[[random.Random], dk.Design]] = {
    f.__name__: f for f in (calls, transaction, lock, loop, cache, parallel, publish, mixed,
                            failing, calibrated)}
"""Family name → builder of a design from a seeded generator."""


# -- load ----------------------------------------------------------------------------------


def stations(estimate: dk.Estimate) -> Iterator[dk.StationEstimate]:
    """Every station of an estimate."""
    for component in estimate.components.values():
        yield from component.stations.values()


def peak(design: dk.Design, scale: float) -> float:
    """The estimate's utilization of the busiest station at ``scale``."""
    return max(s.utilization for s in stations(dk.estimate(design, scale=scale)))


def loaded(design: dk.Design, rho: float) -> float:
    """The scale at which the estimate's busiest station is at utilization ``rho`` (to
    0.1 %), found by bisection below ``max_scale`` (a held station's utilization grows
    faster than the load: what it wraps slows down)."""
    high = dk.estimate(design).max_scale
    low = 0.0
    for _ in range(60):
        mid = (low + high) / 2
        if peak(design, mid) < rho:
            low = mid
        else:
            high = mid
        if high - low <= 1e-3 * high:
            break
    return low


@dataclass(frozen=True)
class Case:
    """A generated design of ``family`` from ``seed``, loaded to ``rho`` at its busiest
    station."""

    family: str
    seed: int
    rho: float

    @property
    def id(self) -> str:
        return f"{self.family}-{self.seed} @ ρ {self.rho:g}"

    @functools.cached_property
    def design(self) -> dk.Design:
        return FAMILIES[self.family](random.Random(f"{self.family}-{self.seed}"))

    @functools.cached_property
    def scale(self) -> float:
        return loaded(self.design, self.rho)


def shapes(design: dk.Design) -> set[str]:
    """The shapes of the times a design states (``cpu_ms``, ``service_ms``,
    ``latency_ms``): ``number``, ``scv0``, ``scv0.5``, ``scv1``, ``scv2``, ``lognormal``."""
    found: set[str] = set()
    keys = ("cpu_ms", "service_ms", "latency_ms")

    def walk(value: Any, key: str = "") -> None:
        if key in keys and isinstance(value, int | float):
            found.add("number")
        elif key in keys and isinstance(value, dict):
            found.add("lognormal" if "p50" in value else f"scv{value['scv']:g}")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    walk(design.model_dump(mode="json", exclude_defaults=True))
    return found


def features(design: dk.Design) -> set[str]:
    """What a design exercises: its step kinds (``call:database``, ``transaction``,
    ``lock:nested``, ``loop:3``, ``parallel:2``, …), its holders (``workers:blocking``,
    ``workers:async``, ``pool``, ``lock``) and the shapes of its times (``time:scv0.5``, …).

    Example:
        >>> sorted(f for f in features(Case("publish", 1, 0.3).design) if f.startswith("publish"))
        ['publish', 'publish:handler']
    """
    found = {f"time:{shape}" for shape in shapes(design)}
    if design.calibration is not None:
        found |= {f"calibration:{what}" for c in design.calibration.components.values()
                  for what in ("scale", "scv", "slowdown") if what in c.model_fields_set}
    found |= {f"workers:{c.io}" for c in design.components.values() if isinstance(c, dk.Service)}
    locks: list[tuple[str | int, ...]] = []
    for _, path, step in design_steps(design):
        found.add(dk.step_kind(step) or "")
        match step:
            case CallStep():
                target = design.components.get(step.call)
                if target is None:
                    found.add("call:endpoint")
                elif isinstance(target, dk.Database):
                    found |= {"call:database", "pool",
                              "call:database(query)" if step.query else "call:database(time)"}
                elif isinstance(target, dk.External):
                    found.add("call:external" + ("(concurrency)" if target.concurrency else ""))
                    if target.failure_rate > 0 and target.timeout_ms is not None:
                        found.add("call:external(failing)")
                else:
                    found.add(f"call:{target.kind}")
                if step.fallback is not None:
                    found.add("call:fallback" + ("" if step.fallback else "(degrade)"))
                if step.failure_rate:
                    found.add("call:failure_rate")
            case TransactionStep():
                found.add("pool")
                calls = [s for s in step.steps if isinstance(s, CallStep)]
                statements = [s for s in calls if s.call == step.transaction]
                if len(statements) >= 2:
                    found.add("transaction:statements")
                if len(statements) < len(calls):
                    found.add("transaction:calls an endpoint")
            case LockStep():
                found.add("lock")
                if any(path[:len(outer)] == outer for outer in locks):
                    found.add("lock:nested")
                locks.append(path)
            case LoopStep():
                found.add(f"loop:{step.loop.count:g}")
            case CacheStep():
                if step.on_miss:
                    found.add("cache:on_miss")
            case ParallelStep():
                found.add(f"parallel:{len(step.parallel)}")
            case PublishStep():
                queue = design.components.get(step.publish)
                if isinstance(queue, dk.Queue) and queue.handler:
                    found.add("publish:handler")
    return found


# -- estimate against simulation -----------------------------------------------------------

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086)
"""Student's t, 97.5 % quantile, for 1–20 degrees of freedom."""


@dataclass(frozen=True)
class Row:
    """One endpoint of one case: the estimate, and the simulation over independent
    replications (different seeds) with the half-widths of 95 % confidence intervals of
    its mean and p95 from their spread."""

    case: str
    endpoint: str
    rho: float  # the estimate's utilization of the busiest station
    est_mean: float
    est_p95: float
    sim_mean: float
    sim_p95: float
    half_mean: float
    half_p95: float
    completions: int

    def error(self, metric: str) -> float:
        """(estimate − simulation) / simulation of ``"mean"`` or ``"p95"``."""
        est, sim = getattr(self, f"est_{metric}"), getattr(self, f"sim_{metric}")
        return float(est / sim - 1.0)

    def allowed(self, metric: str, slack: float = 0.05) -> float:
        """The largest |error| that passes: ``slack`` plus the relative half-width."""
        return slack + float(getattr(self, f"half_{metric}") / getattr(self, f"sim_{metric}"))

    def agrees(self, metric: str, slack: float = 0.05) -> bool:
        """|estimate − simulation| ≤ ``slack`` × simulation + the half-width."""
        return abs(self.error(metric)) <= self.allowed(metric, slack)


def compare(case: Case, completions: int = 21_000, replications: int = 8) -> list[Row]:
    """The estimate of ``case`` and ``replications`` simulations of it (seeds 0, 1, …), long
    enough together for ``completions`` of its least-used endpoint: one row per endpoint
    with traffic."""
    design, scale = case.design, case.scale
    estimate = dk.estimate(design, scale=scale)
    rates = {name: ep.rps for name, ep in estimate.endpoints.items() if ep.rps > 0}
    seconds = completions / replications / min(rates.values())
    runs = [dk.simulate(design, scale=scale, duration_s=seconds, seed=seed, progress=False)
            for seed in range(replications)]
    t = _T975[replications - 2]
    rho = max(s.utilization for s in stations(estimate))
    rows = []
    for name in rates:
        means = [run.endpoints[name].mean_ms for run in runs]
        p95s = [run.endpoints[name].p95_ms for run in runs]
        done = sum(round(run.endpoints[name].rps * seconds) for run in runs)  # executions
        want = estimate.endpoints[name]
        rows.append(Row(case.id, name, rho, want.mean_ms, want.p95_ms,
                        statistics.fmean(means), statistics.fmean(p95s),
                        t * statistics.stdev(means) / math.sqrt(replications),
                        t * statistics.stdev(p95s) / math.sqrt(replications), done))
    return rows
