"""The estimate against ``dk.simulate`` on generated designs of every step kind.

The property tests build no ``parallel``, ``loop``, ``lock`` or ``publish`` step. Here the
families of ``tests/estimate/designs.py`` do: ``call`` (a database by ``service_ms`` or by
query, a cache, a third party with or without a concurrency limit, another service's
endpoint), ``transaction`` (one to three statements; one that calls an endpoint while it
keeps its connection), ``lock`` (nested locks taken in one order), ``loop`` (2–5),
``cache`` (cache-aside with ``on_miss``), ``parallel`` (2–3 branches; a lock around two),
``publish`` (a queue with a handler), calls that fail (a third party failing within time
and by timeout, retried, with a ``fallback``; an internal call's ``failure_rate`` with an
empty fallback), all of them in one endpoint, and ``calibrated`` (the calls with a
``calibration:`` — a database slowing down with load, a cache's times scaled and reshaped,
a third party's scaled); holders are blocking
and async services with 2–10 workers, pools of 2–8 connections and locks; times are
numbers, ``{mean, scv}`` with scv 0, 0.5, 1, 2 and ``{p50, p95}``
(``test_the_cases_reach_every_step_kind_holder_and_time_shape``).

**How a case is compared.** The workload is scaled until the estimate's busiest station is
at ρ (0.3, or 0.7–0.85). Eight simulations with seeds 0–7 run, together long enough for
20,000 executions of the case's least-used endpoint (the others get more). Per endpoint
with traffic, the simulated mean and p95 are the averages over the eight runs, with the
half-width h of their 95 % confidence interval (Student's t, 7 degrees of freedom, from
the spread of the runs); the estimate agrees when |estimate − simulated| ≤ 5 % ×
simulated + h, for the mean and for the p95.

**The cases.** Seed 1 of every family at ρ 0.3 (``LOW``); one seed of every family at ρ
0.7–0.85, and ``publish-4`` at 0.8 for bursts (``HIGH``); ``cache-2`` at 0.3, whose
backend's two workers hold a nearly constant 2.6 ms (``STEADY``: the flow-equivalent
server's wait is scaled by the hold's steadiness, 0.21 ms against 0.20 simulated); two
cases whose disagreement
is a modelling limit that ``docs/estimator.md`` does not state (``LIMITS``, ``KNOWN``:
strict expected failures, so that a fix of the estimator shows as an unexpected pass).
The sweep behind the choice — every family, seeds 1–4, ρ 0.3 and 0.8, 192 endpoint
cases — is ``benchmarks/fidelity_step_kinds.py``: 168 agree, and each of the others is
a limit of ``KNOWN`` or a documented approximation below. At ρ 0.8 the
high-load seeds left out are those limits, or cases whose simulated numbers do not settle
within a test's time (a blocking service of four workers holding a third party of scv 2,
``cache-1`` and ``parallel-1``: ±13–25 % at these lengths; ``failing-1``'s backend, four
blocking workers at ρ 0.8, p95 +12 % ± 6 %).

Each of these fails when the estimator is broken on purpose: Clark's maximum replaced by
the larger mean (the parallel cases), the cache-miss mixture dropped (the cache cases), a
loop's time counted once (the loop and lock cases), a retried call's failed attempts
taken as typical attempts (``failing-1 @ ρ 0.3``: p95 −8.6 %; ``failing-3``: −15 %).

**Documented approximations** (``docs/estimator.md``, "When not to trust the estimate"):

* *Several visits to one congested station* — ``loop-2 @ ρ 0.8``: five visits in a row to
  a pool at ρ 0.79 (``api GET /x``) and five calls of an endpoint whose cache is at ρ 0.8
  (``api GET /fan``). The waits of one request's visits are correlated, so the simulated
  tail is longer: the p95 is checked one-sided (the estimate not above the simulation by
  more than 5 % + h; measured −18 % and −23 %); the mean is held to 5 % + h (+0.7 %,
  +0.7 %).
* *Bursts from a publish that forks a handler* — ``publish-1 @ 0.3`` and ``publish-4 @
  0.8`` publish two messages per request, so two handlers start within a millisecond:
  the estimate's Poisson wait at the handler's workers is low, as documented; mean and p95
  are checked one-sided (measured −6 % / −5 % at 0.3, −33 % / −39 % at 0.8). The
  publishers themselves, and ``publish-2`` (one message), are held to 5 % + h.
* *Messages published after a lock* — ``mixed-1 @ 0.3`` and ``mixed-3 @ 0.85`` publish
  once the request has released the lock 'mutex' (one server), so messages leave spaced
  by its holds, smoother than Poisson: the broker's partitions wait 0.003 ms simulated
  against 0.032 ms (mixed-1), and each partition's single consumer 0.34 ms against 0.44
  (0.89 against 1.38 ms in mixed-3). The estimate's Poisson arrivals make the handler's
  mean and p95 high — checked one-sided (measured +6 % / +7 % at 0.3, +27 % / +29 % at
  0.85); the same handler with no lock upstream agrees within 2 % at 0.3 and 0.7
  (``tests/estimate/test_consumers.py``).
* *A transaction that queues at one station several times* — kept away from: where a
  transaction visits its database more than once, the cpu does not queue (the pool bounds
  it to its cores, or it is nearly idle;
  ``test_no_transaction_queues_at_its_database_several_times``).
* *Parallel branches* — the latency grid takes the exact maximum of independent branches;
  a held station's holding time uses Clark's maximum, whose mean is 4.3 % high for two
  exponential branches of one mean (a lock at ρ 0.8 around two such branches: +5.7 % on
  the endpoint's mean against Pollaczek–Khinchine). ``docs/estimator.md`` gives no number
  for it; the parallel cases here are held to 5 % + h.

Close calls at these seeds (within 1.6 points of the limit; if a change that only
reshuffles random draws flips one, this is why): ``lock-1 @ 0.7`` ``POST /looped`` p95
+5.5 % (limit 6.4 %) and ``POST /nested`` p95 +5.2 % (limit 6.8 %) — the second limit of
``KNOWN``, weakly.
"""

from __future__ import annotations

import functools
import math
import statistics
from typing import Any

import pytest

import designkit as dk
from designkit.flow.build import design_steps
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    TransactionStep,
)
from tests.estimate.designs import FAMILIES, Case, Row, compare, features, peak
from tests.oracles import tandem_chain_response

# runs shorter than a full study: their "simulate longer" warnings are expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*simulate longer:RuntimeWarning")

LOW = [Case(family, 1, 0.3) for family in FAMILIES]
HIGH = [Case("calls", 2, 0.85), Case("calibrated", 2, 0.8), Case("transaction", 3, 0.75),
        Case("lock", 1, 0.7), Case("loop", 2, 0.8), Case("cache", 3, 0.85), Case("parallel", 4, 0.75),
        Case("publish", 2, 0.75), Case("publish", 4, 0.8), Case("mixed", 3, 0.85),
        Case("failing", 2, 0.8)]
LIMITS = [Case("transaction", 2, 0.8), Case("lock", 3, 0.8)]
STEADY = [Case("cache", 2, 0.3)]  # steady holds behind a flow-equivalent server
CASES = {case.id: case for case in [*LOW, *HIGH, *STEADY, *LIMITS]}

BELOW = "the estimate is documented to be low: checked one-sided"
ABOVE = "the estimate is documented to be high: checked one-sided"
DOCUMENTED: dict[tuple[str, str], dict[str, str]] = {
    ("loop-2 @ ρ 0.8", "api GET /x"): {"p95": BELOW},
    ("loop-2 @ ρ 0.8", "api GET /fan"): {"p95": BELOW},
    ("publish-1 @ ρ 0.3", "worker POST /h"): {"mean": BELOW, "p95": BELOW},
    ("publish-4 @ ρ 0.8", "worker POST /h"): {"mean": BELOW, "p95": BELOW},
    ("mixed-1 @ ρ 0.3", "worker POST /h"): {"mean": ABOVE, "p95": ABOVE},
    ("mixed-3 @ ρ 0.85", "worker POST /h"): {"mean": ABOVE, "p95": ABOVE},
}
"""(case, endpoint) → metric → why it is checked one-sided (see the module's docstring)."""

_NESTED = (
    "Holds inside holds that a few held servers bound are solved layer by layer, each "
    "with the waits the layer below gives it — close (a pool of 4 inside 8 blocking "
    "workers: GET /x within 5 %), but the errors of the layers add up. ")
_CORRELATED = (
    "A station reached only inside several held stations of few servers (the cache here: "
    "only inside the locks 'single' and 'inner', one holder each) gets the mean-value "
    "wait of bounded classes (0.19 ms; the open M/G/1 said 0.51 ms, simulated 0.14 ms): "
    "its classes arrive in bursts (POST /looped's 2–3 visits in a row), not as the "
    "mean-value analysis assumes. ")
KNOWN: dict[tuple[str, str], str] = {
    ("transaction-2 @ ρ 0.8", "api POST /w"):
        _NESTED + "POST /w keeps its connection through a call of backend's GET /y "
        "(3 workers inside the pool of 4): the workers' wait is 2.14 ms against 1.70 ms "
        "simulated; mean +7.8 % (allowed 6.6 %), p95 +5.0 %.",
    ("lock-3 @ ρ 0.8", "api POST /single"):
        _CORRELATED + "The lock 'single' waits less than simulated (1.08 vs 1.30 ms): "
        "mean −6.8 % (allowed 7.0 %), p95 −13.1 % (allowed 8.5 %).",
    ("lock-3 @ ρ 0.8", "api POST /nested"):
        _CORRELATED + "The lock 'outer' holds 3.04 ms against 2.86 ms simulated, so it "
        "is at ρ 0.80 rather than 0.75 and waits 8.8 ms against 6.9: mean +29 %, p95 "
        "+33 % (the open estimate: +123 %, +138 %).",
    ("lock-3 @ ρ 0.8", "api POST /looped"):
        _CORRELATED + "As for POST /nested: mean +27 %, p95 +32 % (the open estimate: "
        "+112 %, +137 %).",
}
"""(case, endpoint) → why the estimate misses the simulation by more than 5 % + h: a
modelling limit, measured (over seeds 0–7), not sampling noise; strict expected failures."""


def _endpoints(case: Case) -> list[str]:
    return [name for name, ep in dk.estimate(case.design).endpoints.items() if ep.rps > 0]


@functools.cache
def _rows(case_id: str) -> dict[str, Row]:
    return {row.endpoint: row for row in compare(CASES[case_id])}


def _params() -> list[object]:
    out: list[object] = []
    for case in CASES.values():
        for endpoint in _endpoints(case):
            reason = KNOWN.get((case.id, endpoint))
            marks = ([pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)]
                     if reason else [])
            out.append(pytest.param(case.id, endpoint, marks=marks, id=f"{case.id}: {endpoint}"))
    return out


def test_the_cases_reach_every_step_kind_holder_and_time_shape() -> None:
    """The cases held to the simulation (not counting ``LIMITS``) reach them all."""
    reached = set().union(*(features(case.design) for case in [*LOW, *HIGH]))
    wanted = {
        "call:database(time)", "call:database(query)", "call:cache", "call:external",
        "call:external(concurrency)", "call:endpoint", "transaction", "transaction:statements",
        "transaction:calls an endpoint", "lock", "lock:nested", "loop", "cache:on_miss",
        "parallel:2", "parallel:3", "publish:handler", "call:external(failing)",
        "call:fallback", "call:fallback(degrade)", "call:failure_rate",
        "workers:blocking", "workers:async",
        "pool", "time:number", "time:scv0", "time:scv0.5", "time:scv1", "time:scv2",
        "time:lognormal", "calibration:scale", "calibration:scv", "calibration:slowdown"}
    assert wanted <= reached, sorted(wanted - reached)
    assert {f for f in reached if f.startswith("loop:")} <= {f"loop:{n}" for n in range(2, 6)}
    for case in CASES.values():
        assert case.design.validate() is case.design


def test_the_load_is_the_one_asked_for() -> None:
    for case in CASES.values():
        rho = peak(case.design, case.scale)
        assert rho == pytest.approx(case.rho, abs=0.002), case.id
        assert rho <= 0.85 + 1e-3


@pytest.mark.parametrize(("case_id", "endpoint"), _params())
def test_the_estimate_agrees_with_the_simulation(case_id: str, endpoint: str) -> None:
    row = _rows(case_id)[endpoint]
    assert row.completions >= 20_000
    one_sided = DOCUMENTED.get((case_id, endpoint), {})
    problems = []
    for metric in ("mean", "p95"):
        error, allowed = row.error(metric), row.allowed(metric)
        side = one_sided.get(metric)
        ok = (error <= allowed if side == BELOW else error >= -allowed if side == ABOVE
              else abs(error) <= allowed)
        if not ok:
            problems.append(
                f"{metric}: estimate {getattr(row, f'est_{metric}'):.4g} ms, simulated "
                f"{getattr(row, f'sim_{metric}'):.4g} ms ({error:+.1%}; allowed "
                f"{'+' if side == BELOW else '-' if side == ABOVE else '±'}{allowed:.1%})")
    assert not problems, f"{row.completions:,} completions; " + "; ".join(problems)


def _statements(steps: list[Any], database: str, times: float = 1.0) -> float:
    """Visits to ``database`` per execution of ``steps``: loops multiply, a cache's miss
    steps count as if they always ran, parallel branches add up."""
    total = 0.0
    for step in steps:
        match step:
            case CallStep() if step.call == database:
                total += times * step.count
            case LoopStep():
                total += _statements(step.loop.steps, database, times * step.loop.count)
            case LockStep() | TransactionStep():
                total += _statements(step.steps, database, times)
            case CacheStep():
                total += _statements(step.on_miss, database, times)
            case ParallelStep():
                total += sum(_statements(branch, database, times) for branch in step.parallel)
    return total


def test_no_transaction_queues_at_its_database_several_times() -> None:
    """Kept away from the documented approximation: a transaction that visits its database
    more than once does so where the cpu does not queue (the pool bounds it to its cores,
    or it is nearly idle)."""
    for case in CASES.values():
        e = dk.estimate(case.design, scale=case.scale)
        for _, _, step in design_steps(case.design):
            if isinstance(step, TransactionStep) and _statements(step.steps,
                                                                 step.transaction) > 1:
                cpu = e.station(f"{step.transaction} cpu")
                assert cpu.wait_ms <= 0.01 * cpu.service_ms, case.id


def test_known_and_documented_cases_name_real_endpoints() -> None:
    for case_id, endpoint in [*KNOWN, *DOCUMENTED]:
        assert case_id in CASES and endpoint in _endpoints(CASES[case_id])


# -- the flow-equivalent hold, reduced -------------------------------------------------------


def two_workers(parallel: bool = False) -> dk.Design:
    """Two blocking workers: 1 ms of cpu, then two 5 ms caches (one server each) — one
    after the other, or in two parallel branches; 100 rps."""
    d = dk.Design(name="two-workers")
    d.cache("a", service_ms=5.0)
    d.cache("b", service_ms=5.0)
    ep = d.service("api", workers=2, io="blocking").endpoint("GET /x", cpu_ms=1.0)
    if parallel:
        branches = ep.parallel(2)
        branches.branch(0).call("a")
        branches.branch(1).call("b")
    else:
        ep.call("a").call("b")
    d.set_load("api GET /x", 100.0)
    return d


def _simulated_mean(design: dk.Design) -> tuple[float, float]:
    """Mean response over eight simulations of 2,500 s (250,000 requests in all), and the
    half-width of its 95 % confidence interval."""
    means = [dk.simulate(design, duration_s=312.5, seed=seed, progress=False)
             .endpoints["api GET /x"].mean_ms for seed in range(8)]
    return statistics.fmean(means), 2.365 * statistics.stdev(means) / math.sqrt(8)


EXACT_TANDEM = 31.904
"""``tandem_chain_response(0.1, 2, 1.0, [(1, 5.0), (1, 5.0)])``, ms."""


def test_the_exact_chain_and_the_simulation_agree_on_two_workers_before_two_caches() -> None:
    assert tandem_chain_response(0.1, 2, 1.0, [(1, 5.0), (1, 5.0)]) == pytest.approx(
        EXACT_TANDEM, abs=1e-3)
    mean, half = _simulated_mean(two_workers())
    assert abs(mean - EXACT_TANDEM) <= half + 0.01 * EXACT_TANDEM


def test_two_workers_before_two_caches_equal_the_exact_chain() -> None:
    """Two stations in a row inside the hold: the flow-equivalent server alone gives
    37.34 ms (+17 %); with how requests leave it (``departures``), 30.99 ms (−2.9 %)."""
    assert dk.estimate(two_workers()).endpoints["api GET /x"].mean_ms == pytest.approx(
        EXACT_TANDEM, rel=0.03)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "Parallel branches inside a flow-equivalent hold are solved as visits one after the "
    "other: the closed network's demands add up (5 + 5 ms at population 2), so the estimate "
    "has max_scale 1.33 (133 rps) and 23.4 ms at 100 rps; simulated 17.9 ms."))
def test_parallel_branches_inside_a_hold_run_at_once() -> None:
    design = two_workers(parallel=True)
    mean, half = _simulated_mean(design)
    estimate = dk.estimate(design).endpoints["api GET /x"].mean_ms
    assert abs(estimate - mean) <= 0.05 * mean + half
