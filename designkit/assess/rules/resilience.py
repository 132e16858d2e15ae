"""Rules of the resilience area: DK-RES-001 … DK-RES-008 (but RES-007).

Most are decided by numbers: tables after a year of growth and what their scans cost then
(RES-001), the estimate with every cache cold (RES-002), pool demand of a transaction held
across a remote call (RES-003), lock utilization (RES-006) and retry storms (RES-008). The
others read the model: timeouts (RES-004), sagas and outboxes (RES-005). Read-modify-write
races (RES-007) and a value's authority (RES-009) are in :mod:`~designkit.assess.rules.invariants`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from designkit.assess.context import Context
from designkit.assess.finding import Finding
from designkit.assess.rule import Reference, Rule, rule
from designkit.assess.rules._facts import is_write, nested
from designkit.estimate.capacity import RetryStorm
from designkit.estimate.result import ComponentEstimate, StationEstimate
from designkit.flow.nodes import Site
from designkit.flow.plan import plan_query, rows_after
from designkit.flow.times import Spec
from designkit.model.components import External
from designkit.model.database import Database
from designkit.model.design import Design
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.resilience import Retries
from designkit.model.saga import SagaStep
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    PublishStep,
    TransactionStep,
)
from designkit.text import number as _n
from designkit.text import percent as _pct

__all__ = ["RULES"]

_WA = "AWS Well-Architected"


# -- shared ----------------------------------------------------------------------------


def _queries_by_table(ctx: Context) -> dict[tuple[str, str], list[Site]]:
    """The calls with a query, by (called component, table), in file order."""
    out: dict[tuple[str, str], list[Site]] = {}
    for item in ctx.steps:
        step = item.step
        if isinstance(step, CallStep) and step.query is not None:
            out.setdefault((step.call, step.query.table), []).append(item)
    return out


def _storms_by_call(ctx: Context) -> dict[tuple[str, str], list[RetryStorm]]:
    """The estimate's retry storms by (caller, target), in the estimate's order (none
    without a workload)."""
    out: dict[tuple[str, str], list[RetryStorm]] = {}
    if any(v > 0 for v in ctx.design.rates().values()):
        for storm in ctx.estimate.retry_storms:
            out.setdefault((storm.caller, storm.target), []).append(storm)
    return out


def _retries_of(design: Design, step: CallStep) -> Retries | None:
    if step.retries is not None:
        return step.retries
    target = design.components.get(step.call)
    return target.retries if isinstance(target, External) else None


def _backoff_total(retries: Retries) -> float:
    """Mean total backoff delay over every retry (full jitter halves each delay)."""
    if retries.backoff == "none":
        return 0.0
    total = 0.0
    for k in range(1, retries.max + 1):
        delay = retries.base_ms * (2.0 ** (k - 1) if retries.backoff == "exponential" else 1.0)
        total += delay / 2.0 if retries.jitter else delay
    return total


# -- DK-RES-001 ------------------------------------------------------------------------

@rule("DK-RES-001", "Data size in one year", "medium", "estimate",
      rationale="A scan that is cheap today grows with its table: at next year's row count "
                "it may no longer fit a request's time budget.",
      remediation="Index the predicate of every query that scans a growing table (or page "
                  "it, pre-aggregate counts, archive old rows); state rows and "
                  "growth_per_day of every table.")
def data_size_one_year(ctx: Context) -> Iterator[Finding]:
    budget = ctx.policy.background_ms
    queries = ctx.memo(_queries_by_table)
    for db_name, db in ctx.of_kind("database").items():
        assert isinstance(db, Database)
        for table_name, table in db.tables.items():
            subject = format_path(("components", db_name, "tables", table_name))
            if table.rows is None or table.growth_per_day is None:
                yield ctx.needs_data(subject, f"{db_name}.{table_name}: set rows and "
                                              "growth_per_day")
                continue
            then = rows_after(table, 365)
            size = (f"{db_name}.{table_name}: {table.rows:,} rows now, "
                    f"{table.rows:,} + {table.growth_per_day:,.0f}/day × 365 = {then:,.0f} "
                    "in a year")
            scans = []
            for item in queries.get((db_name, table_name), ()):
                step = item.step
                assert isinstance(step, CallStep) and step.query is not None
                plan = plan_query(db, step.query, days=365)
                if plan.access == "scan":
                    what = "COUNT(*)/full read" if not step.query.filtered else \
                        f"WHERE {', '.join(step.query.filter_columns)}"
                    scans.append((plan.ms, f"{item.ref} ({what}) scans {plan.rows_visited:,.0f} "
                                           f"rows: {_n(plan.ms)} ms"))
            slow = [text for ms, text in sorted(scans, reverse=True) if ms > budget]
            if slow:
                yield ctx.finding(subject, False,
                                  f"{size}; {len(slow)} scan(s) then exceed {budget:g} ms: "
                                  + "; ".join(slow[:3]),
                                  rows_now=table.rows, rows_then=then,
                                  scan_ms_then=max(ms for ms, _ in scans))
            else:
                tail = (f"; {len(scans)} scan(s), the slowest "
                        f"{_n(max(ms for ms, _ in scans))} ms then (≤ {budget:g} ms)"
                        if scans else "; no query scans it")
                yield ctx.finding(subject, True, size + tail, rows_now=table.rows,
                                  rows_then=then)


# -- DK-RES-002 ------------------------------------------------------------------------

def _has_caches(ctx: Context) -> bool:
    return any(isinstance(item.step, CacheStep) for item in ctx.steps)


def _change(warm: ComponentEstimate, station: StationEstimate) -> str:
    before = warm.stations.get(station.id)
    u_before = before.utilization if before is not None else 0.0
    return f"{station.id} {_pct(u_before)} → {_pct(station.utilization)}"


@rule("DK-RES-002", "Cache loss survivable", "high", "estimate",
      rationale="A cache flush, restart or failover sends every read to the database at "
                "once; if the database cannot carry the cold load, the outage spreads.",
      remediation="Size the database for the cold-cache load (or add read replicas), warm "
                  "the cache before traffic, and shed or coalesce misses (request "
                  "collapsing, stale-while-revalidate).",
      applies=_has_caches)
def cache_loss(ctx: Context) -> Iterator[Finding]:
    if not any(v > 0 for v in ctx.design.rates().values()):
        yield ctx.needs_data("workload", "set the workload: the cold-cache load on the "
                                         "databases cannot be estimated without it")
        return
    limit = ctx.policy.utilization_max
    warm, cold = ctx.estimate, ctx.cold
    for name in ctx.of_kind("database"):
        hot = cold.components.get(name)
        now = warm.components.get(name)
        if hot is None or now is None or hot.arrival_rps <= now.arrival_rps * (1 + 1e-9):
            continue  # no cache in front of it: its load does not change
        stations = sorted(hot.stations.values(), key=lambda s: (s.role != "cpu", s.id))
        over = [s for s in stations if s.saturated or s.utilization > limit]
        worst = max(stations, key=lambda s: s.utilization)
        shown = over or [worst]

        verdict = ("saturated" if worst.saturated or worst.utilization >= 1
                   else f"above the {_pct(limit)} limit" if over
                   else f"within the {_pct(limit)} limit")
        before = now.stations.get(worst.id)
        yield ctx.finding(
            format_path(("components", name)), not over,
            f"{', '.join(_change(now, s) for s in shown)} with the cache cold "
            f"({_n(now.arrival_rps)} → {_n(hot.arrival_rps)} calls/s): {verdict}",
            station=worst.id, utilization_warm=before.utilization if before else 0.0,
            utilization_cold=worst.utilization, arrival_warm=now.arrival_rps,
            arrival_cold=hot.arrival_rps)


# -- DK-RES-003 ------------------------------------------------------------------------

@rule("DK-RES-003", "No transaction held across a third-party call", "high", "estimate",
      rationale="A transaction holds a pooled connection (and its row locks) for the whole "
                "remote call: a slow third party then exhausts the pool and every endpoint "
                "sharing it waits.",
      remediation="Move the remote call out of the transaction: record the intent in one "
                  "short transaction, call, then record the outcome in another (or run a "
                  "saga with an outbox).")
def transaction_remote_call(ctx: Context) -> Iterator[Finding]:
    design = ctx.design
    sites = ctx.steps
    for at, tx in enumerate(sites):
        if not isinstance(tx.step, TransactionStep):
            continue
        remote: list[str] = []
        latency = 0.0
        for site in nested(sites, at):
            inner = site.step
            if not isinstance(inner, CallStep):
                continue
            target = design.components.get(inner.call)
            if isinstance(target, External):
                mean = Spec.of(target.latency_ms).mean
                latency += mean * inner.count
                remote.append(f"{inner.call} (third party, mean {_n(mean)} ms)")
            elif EndpointRef.parse(inner.call) is not None:
                remote.append(f"{inner.call} (another service)")
        db = tx.step.transaction
        if not remote:
            yield ctx.finding(tx.subject, True,
                              f"{tx.ref}: the transaction on {db} makes no remote call")
            continue
        text = (f"{tx.ref}: the transaction on {db} is held across "
                f"{', '.join(remote)}")
        evidence: dict[str, object] = {"remote_calls": remote, "latency_ms": latency}
        pool = ctx.station(ctx.estimate, f"{db} pool {tx.ref.service}")
        ep = ctx.estimate.endpoints.get(str(tx.ref))
        if pool is not None and ep is not None and pool.arrival_rps > 0:
            held_here = ep.rps * latency / 1000.0
            text += (f"; at {_n(ep.rps)}/s that alone keeps ≈ {_n(held_here)} connections "
                     f"busy — pool demand {_n(pool.busy)} of {pool.servers} "
                     f"({_pct(pool.utilization)}), mean hold {_n(pool.service_ms)} ms")
            evidence.update(pool=pool.id, pool_busy=pool.busy, pool_size=pool.servers,
                            pool_utilization=pool.utilization, held_by_call=held_here)
        else:
            text += "; no workload reaches it, so its pool demand is not estimated"
        yield ctx.finding(tx.subject, False, text, **evidence)


# -- DK-RES-004 ------------------------------------------------------------------------

@rule("DK-RES-004", "Timeouts on every remote call", "high", "auto",
      rationale="A call without a timeout waits as long as the callee hangs, holding a "
                "thread and a connection; a timeout (with its retries) longer than the "
                "caller's own keeps working for a request that was already given up.",
      remediation="Set timeout_ms on every call (or on the external component), a little "
                  "above the callee's p99, and keep attempts × timeout + backoff below the "
                  "caller endpoint's own timeout_ms.",
      references=[Reference(_WA, "REL05-BP05", "Set client timeouts")])
def remote_call_timeouts(ctx: Context) -> Iterator[Finding]:
    design = ctx.design
    for item in ctx.steps:
        step = item.step
        if not isinstance(step, CallStep):
            continue
        target = design.components.get(step.call)
        if target is not None and target.kind == "lock":
            continue
        timeout = step.timeout_ms
        if timeout is None and isinstance(target, External):
            timeout = target.timeout_ms
        where = f"{item.ref} → {step.call}"
        if timeout is None:
            yield ctx.finding(item.subject, False,
                              f"{where}: no timeout — the call waits as long as the callee "
                              "hangs")
            continue
        retries = _retries_of(design, step)
        attempts = 1 + (retries.max if retries is not None else 0)
        budget = attempts * timeout + (_backoff_total(retries) if retries is not None else 0)
        spent = (f"{attempts} × {timeout:,.0f} ms"
                 + (f" + {_backoff_total(retries):,.0f} ms backoff"
                    if retries is not None and _backoff_total(retries) else "")
                 + (f" = {budget:,.0f} ms" if attempts > 1 else ""))
        own = item.endpoint.timeout_ms
        if own is None:
            yield ctx.needs_data(item.subject, f"{where}: timeout {spent}, but {item.ref} "
                                               "has no timeout_ms to fit it in: set it")
            continue
        ok = budget <= own
        yield ctx.finding(item.subject, ok,
                          f"{where}: {spent} {'≤' if ok else '>'} the endpoint's own "
                          f"{own:,.0f} ms", timeout_ms=timeout, attempts=attempts,
                          budget_ms=budget, caller_timeout_ms=own)


# -- DK-RES-005 ------------------------------------------------------------------------

def _idempotent(ctx: Context, ref_text: str) -> tuple[bool, str]:
    ref = EndpointRef.parse(ref_text)
    if ref is None:
        return False, "not an endpoint"
    if ref.method in ("PUT", "DELETE"):
        return True, f"{ref.method}: idempotent"
    ep = ctx.endpoint_map.get(ref)
    if ep is not None and ep.idempotency_key is not None:
        return True, f"idempotency key {ep.idempotency_key.header}"
    return False, f"{ref.method} without an idempotency key"


@rule("DK-RES-005", "Saga steps have compensations", "high", "auto",
      rationale="A saga undoes completed steps when a later one fails: a step before the "
                "pivot without a compensation leaves data half-done; a compensation that is "
                "not idempotent runs twice on a retry; a message published beside a commit "
                "(not through an outbox) is lost or sent for a rolled-back change.",
      remediation="Give every step before the pivot a compensation, make compensations and "
                  "post-pivot steps idempotent (PUT/DELETE or an idempotency key), and publish "
                  "events through a transactional outbox.",
      references=[Reference(_WA, "REL04-BP04", "Make mutating operations idempotent")])
def saga_compensations(ctx: Context) -> Iterator[Finding]:
    design = ctx.design
    for saga_name, saga in design.sagas.items():
        pivots = [i for i, s in enumerate(saga.steps) if s.pivot]
        pivot = pivots[0] if pivots else len(saga.steps) - 1
        how = "the pivot" if pivots else "the last step (no pivot is declared)"
        for i, step in enumerate(saga.steps):
            subject = format_path(("sagas", saga_name, "steps", i))
            if i < pivot:
                if step.compensation is None:
                    yield ctx.finding(subject, False,
                                      f"{saga_name}.{step.name} runs before {how} and has no "
                                      "compensation: a later failure leaves it done")
                    continue
                ok, why = _idempotent(ctx, step.compensation)
                yield ctx.finding(subject, ok,
                                  f"{saga_name}.{step.name} is compensated by "
                                  f"{step.compensation} ({why})")
            elif i == pivot:
                yield ctx.finding(subject, True,
                                  f"{saga_name}.{step.name} is {how}: nothing after it is "
                                  "undone")
            else:
                ok, why = _idempotent(ctx, step.action)
                stuck, text = _after_pivot(ctx, step)
                yield ctx.finding(subject, ok and not stuck,
                                  f"{saga_name}.{step.name} comes after {how}: {step.action} "
                                  f"({why}){text}")
    for item in ctx.steps:
        message = item.step
        if not isinstance(message, PublishStep):
            continue
        in_tx = item.tx is not None
        writes = any(is_write(o.step) for o in ctx.flow.sites_of(item.ref))
        if message.outbox:
            yield _outbox(ctx, item, message)
        elif in_tx or writes:
            where = "inside the transaction" if in_tx else "beside its database writes"
            yield ctx.finding(item.subject, False,
                              f"{item.ref} publishes to {message.publish} {where} without an "
                              "outbox: a crash or rollback between commit and publish loses "
                              "the event or sends one for a change that never happened")
        else:
            yield ctx.finding(item.subject, True, f"{item.ref} publishes to {message.publish} "
                                                  "and writes nothing it must stay consistent "
                                                  "with")


STUCK_PER_DAY = 1.0
"""Sagas a day left half-done after their pivot from which a post-pivot step fails the rule:
each is money taken and goods not sent, or the like, for a person to finish by hand."""


def _after_pivot(ctx: Context, step: SagaStep) -> tuple[bool, str]:
    """Whether a step after the pivot can fail for good — its action fails (the estimate's
    error ratio) and the orchestrator's retries do not outlast it — and what to say."""
    ref = EndpointRef.parse(step.action)
    found = ctx.estimate.endpoints.get(str(ref)) if ref is not None and ctx.design.loaded \
        else None
    if found is None or found.error_ratio <= 0:
        return False, "; it does not fail in the model" if found is not None else ""
    attempts = 1 + (step.retries.max if step.retries is not None else 0)
    left = found.error_ratio ** attempts
    per_day = left * found.rps * 86_400.0
    tries = ("nothing retries it (set the step's retries)" if step.retries is None
             else f"{attempts} attempts leave {_pct(left)} failed")
    if per_day < STUCK_PER_DAY:
        return False, (f"; it fails {_pct(found.error_ratio)} of runs and {tries}: "
                       f"{_n(per_day)} saga(s) a day stay half-done")
    return True, (f"; it fails {_pct(found.error_ratio)} of runs and {tries}: "
                  f"{_n(per_day)} saga(s) a day stay half-done after the pivot — retry it "
                  "until it succeeds (with backoff), or park it where someone finishes it")


def _outbox(ctx: Context, item: Site, message: PublishStep) -> Finding:
    """An outbox publish: inside a transaction whose database has the outbox table."""
    sent = f"{item.ref} publishes to {message.publish} through an outbox"
    if item.tx is None:
        return ctx.finding(item.subject, False,
                           f"{sent} outside any transaction: the row must be written in "
                           "the transaction whose change it announces, or the event and "
                           "the change can disagree")
    name = item.tx[1]
    database = ctx.design.components.get(name)
    table = database.outbox_table if isinstance(database, Database) else None
    if table is None:
        return ctx.finding(item.subject, False,
                           f"{sent}, but {name} has no outbox table: add one (e.g. 'outbox': "
                           "id, aggregate_id, event_type, payload, created_at) for the relay "
                           "to read")
    return ctx.finding(item.subject, True,
                       f"{sent}: a row in {name}.{table}, written in the transaction and "
                       "relayed after commit")


# -- DK-RES-006 ------------------------------------------------------------------------

def _lock_users(ctx: Context) -> dict[str, list[EndpointRef]]:
    """Per lock (or any component called), the endpoints that take it, in file order."""
    users: dict[str, list[EndpointRef]] = {}
    for item in ctx.steps:
        step = item.step
        name = (step.lock if isinstance(step, LockStep)
                else step.call if isinstance(step, CallStep) else None)
        if name is not None:
            mine = users.setdefault(name, [])
            if item.ref not in mine:
                mine.append(item.ref)
    return users


def _loaded(ctx: Context) -> dict[tuple[str, str], list[tuple[str, EndpointRef]]]:
    """The workload's loaded endpoints by (service, method): (workload key, endpoint), in
    the workload's order."""
    out: dict[tuple[str, str], list[tuple[str, EndpointRef]]] = {}
    for key, rps in ctx.design.rates().items():
        other = EndpointRef.parse(key)
        if other is not None and rps > 0:
            out.setdefault((other.service, other.method), []).append((key, other))
    return out


def _sibling(ctx: Context, ref: EndpointRef) -> str | None:
    """The loaded endpoint of the same service and method whose path is nearest to
    ``ref``'s: the traffic a locked variant of it would take."""
    best: tuple[int, str] | None = None
    for key, other in ctx.memo(_loaded).get((ref.service, ref.method), ()):
        if other == ref:
            continue
        common = 0
        for a, b in zip(other.path, ref.path, strict=False):
            if a != b:
                break
            common += 1
        if best is None or common > best[0]:
            best = (common, key)
    return best[1] if best else None


def _max_rps(hold_ms: float) -> float:
    """Most acquisitions per second of a lock held ``hold_ms`` (∞ for a zero hold)."""
    return 1000.0 / hold_ms if hold_ms > 0 else math.inf


def _lock_text(lock: StationEstimate) -> str:
    hold = lock.service_ms
    cap = _max_rps(hold)
    state = "saturated" if lock.saturated or lock.utilization >= 1 else "busy"
    return (f"{lock.component} held {_n(hold)} ms at {_n(lock.arrival_rps)}/s: "
            f"{_pct(lock.utilization)} {state}, max {_n(cap)}/s")


@rule("DK-RES-006", "Hot-row / lock contention", "high", "estimate",
      rationale="A lock (a row lock on one hot row) admits one holder at a time: its "
                "throughput is at most 1 / hold time, whatever the hardware.",
      remediation="Take the contended value out of the lock: an atomic conditional update "
                  "or an atomic counter (Redis DECR), sharded counters, or a queue per hot "
                  "key; and keep the hold time short.")
def lock_contention(ctx: Context) -> Iterator[Finding]:
    design = ctx.design
    limit = ctx.policy.utilization_max
    users_of = ctx.memo(_lock_users)
    for name in ctx.of_kind("lock"):
        subject = format_path(("components", name))
        users = users_of.get(name, [])
        if not users:
            continue
        lock = ctx.station(ctx.estimate, f"{name} lock")
        if lock is not None and lock.arrival_rps > 0:
            ok = lock.utilization <= limit and not lock.saturated
            yield ctx.finding(subject, ok, _lock_text(lock) + f" (limit {_pct(limit)})",
                              hold_ms=lock.service_ms, rate=lock.arrival_rps,
                              utilization=lock.utilization, max_rps=_max_rps(lock.service_ms))
            continue
        # No load reaches the lock: move the traffic of the nearest loaded sibling onto
        # the endpoints that take it (the "locked variant" of an operation).
        workload = design.rates()
        moved = []
        for ref in users:
            sibling = _sibling(ctx, ref)
            if sibling is not None and sibling in workload:
                workload[str(ref)] = workload.pop(sibling)
                moved.append(f"{sibling}'s {_n(workload[str(ref)])}/s onto {ref}")
        if not moved:
            yield ctx.needs_data(subject, f"no workload reaches {name} (taken by "
                                          f"{', '.join(map(str, users))}): set their workload")
            continue
        what_if = ctx.what_if(workload, f"{name} lock")
        if what_if is None or what_if.arrival_rps <= 0:
            yield ctx.needs_data(subject, f"no workload reaches {name}: set the workload of "
                                          f"{', '.join(map(str, users))}")
            continue
        ok = what_if.utilization <= limit and not what_if.saturated
        yield ctx.finding(subject, ok,
                          f"no workload reaches {name} as designed; with {'; '.join(moved)}: "
                          + _lock_text(what_if) + f" (limit {_pct(limit)})",
                          hold_ms=what_if.service_ms, rate=what_if.arrival_rps,
                          utilization=what_if.utilization,
                          max_rps=_max_rps(what_if.service_ms), assumed_workload=workload)


# -- DK-RES-008 ------------------------------------------------------------------------

@rule("DK-RES-008", "No retry storms (metastable overload)", "high", "estimate",
      rationale="When a dependency slows, every caller's retries multiply its load exactly "
                "when it is weakest; once the retries alone saturate it, it stays down after "
                "the trigger is gone.",
      remediation="Bound retries: a retry budget (≤ 10 % of calls), a circuit breaker, "
                  "exponential backoff with jitter, and retries at one layer only.",
      references=[Reference(_WA, "REL05-BP03", "Control and limit retry calls")])
def retry_storms(ctx: Context) -> Iterator[Finding]:
    design = ctx.design
    storms = ctx.memo(_storms_by_call)
    for item in ctx.steps:
        step = item.step
        if not isinstance(step, CallStep):
            continue
        retries = _retries_of(design, step)
        if retries is None or retries.max == 0:
            continue
        target = design.components.get(step.call)
        callee = EndpointRef.parse(step.call)
        target_name = str(callee) if callee is not None else step.call
        breaker = isinstance(target, External) and target.circuit_breaker is not None \
            and target.circuit_breaker.enabled
        mine = storms.get((str(item.ref), target_name), [])
        where = f"{item.ref} → {target_name}"
        problems: list[str] = []
        facts: list[str] = []
        evidence: dict[str, object] = {"max_attempts": 1 + retries.max,
                                       "budget": retries.budget, "breaker": breaker}
        if mine:
            worst = max(mine, key=lambda s: s.utilization_retrying)
            line = (f"{worst.station} {_pct(worst.utilization_now)} now, "
                    f"{_pct(worst.utilization_retrying)} if every call used all "
                    f"{worst.max_attempts} attempts")
            evidence.update(station=worst.station, utilization_now=worst.utilization_now,
                            utilization_retrying=worst.utilization_retrying)
            if worst.at_risk and retries.budget is not None and retries.max > 0:
                share = min(1.0, retries.budget / retries.max)
                bounded = worst.utilization_now + \
                    (worst.utilization_retrying - worst.utilization_now) * share
                evidence["utilization_budgeted"] = bounded
                line += f"; the {_pct(retries.budget)} retry budget caps it at {_pct(bounded)}"
                (problems if bounded >= 1 else facts).append(line)
            else:
                (problems if worst.at_risk else facts).append(line)
        else:
            facts.append("no load reaches it in the workload")
        if retries.budget is None and not breaker:
            problems.append(f"{retries.max} retries with no retry budget and no circuit "
                            f"breaker: a failing {target_name} receives up to "
                            f"{1 + retries.max}× the calls")
        else:
            facts.append("bounded by " + " and ".join(
                ([f"a {_pct(retries.budget)} retry budget"] if retries.budget is not None
                 else []) + (["a circuit breaker"] if breaker else [])))
        text = f"{where}: " + "; ".join(problems + facts)
        yield ctx.finding(item.subject, not problems, text, **evidence)


RULES: list[Rule] = [
    data_size_one_year, cache_loss, transaction_remote_call, remote_call_timeouts,
    saga_compensations, lock_contention, retry_storms,
]
