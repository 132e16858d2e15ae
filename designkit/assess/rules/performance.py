"""Rules of the performance area: latency targets, query plans, pools, background work,
pagination, caching and compression (DK-PERF-001 … DK-PERF-007).

Every finding quotes the numbers it was decided by: the estimate's p95 and rates, the
query plan's rows and cost, Little's law for the pools.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

from designkit.assess.context import Context
from designkit.assess.finding import Finding
from designkit.assess.rule import Reference, Rule, Severity, rule
from designkit.assess.rules._facts import endpoint_path
from designkit.assess.rules._refs import (
    AWS_QUERY_PERFORMANCE,
    CWE_SEQUENTIAL_SEARCH,
    OWASP_API4,
)
from designkit.flow.plan import plan_query, rows_after
from designkit.model.components import Cache, Queue
from designkit.model.database import Database, Index
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.service import Service
from designkit.model.steps import CacheStep, CallStep, PublishStep, Step, TransactionStep
from designkit.text import number as _n
from designkit.text import percent as _pct

__all__ = ["RULES", "background_jobs", "cached_read_p95", "caching_strategy", "compression",
           "cursor_pagination", "pool_sizing", "simple_seeks"]

_PG = "https://www.postgresql.org/docs/current/"
_ZALANDO = "Zalando RESTful API Guidelines"


def _all_steps(ctx: Context, ref: EndpointRef) -> Iterator[Step]:
    """Every step of the endpoint ``ref``, nested ones included, in file order."""
    for site in ctx.flow.sites_of(ref):
        yield site.step


# -- DK-PERF-001 ---------------------------------------------------------------------------

@rule("DK-PERF-001", "p95 < 50 ms for cached reads", "medium", "estimate",
      rationale="A read served from a cache should be fast; a slow cached read means the "
                "misses, the cache itself or the work around it dominate.",
      remediation="Raise the hit ratio (key design, TTL), make the miss path cheap (an "
                  "index, a batched query), or move work off the read path.",
      references=[Reference("AWS Well-Architected", "PERF03-BP05",
                            "Implement data access patterns that utilize caching")])
def cached_read_p95(ctx: Context) -> Iterator[Finding]:
    """GET endpoints with a cache step: their estimated p95 vs ``policy.cached_read_p95_ms``."""
    target = ctx.policy.cached_read_p95_ms
    for ref, _endpoint in ctx.endpoints:
        if ref.method != "GET":
            continue
        caches = [s for s in _all_steps(ctx, ref) if isinstance(s, CacheStep)]
        if not caches:
            continue
        subject = endpoint_path(ref)
        est = ctx.estimate.endpoints.get(str(ref))
        if est is None or est.rps <= 0:
            yield ctx.needs_data(subject, f"{ref} has no traffic: set its rate in the "
                                          "workload to estimate its p95")
            continue
        hits = []
        for step in caches:
            cache = ctx.design.components.get(step.cache)
            ratio = step.hit_ratio if step.hit_ratio is not None else (
                cache.hit_ratio if isinstance(cache, Cache) else None)
            hits.append(f"{step.cache}" + (f" hit ratio {ratio:g}" if ratio is not None else ""))
        ok = est.p95_ms <= target
        yield ctx.finding(
            subject, ok,
            f"p95 {_n(est.p95_ms)} ms {'≤' if ok else '>'} {_n(target)} ms target for a "
            f"cached read at {_n(est.rps)} rps ({', '.join(hits)})"
            + (" — saturated" if est.saturated else ""),
            p95_ms=est.p95_ms, target_ms=target, rps=est.rps, saturated=est.saturated)


# -- DK-PERF-002 ---------------------------------------------------------------------------

@rule("DK-PERF-002", "Simple seeks < 10 ms", "high", "estimate",
      rationale="A lookup by key should be an index seek whose cost does not depend on the "
                "table size; a scan costs rows × per-row time and grows with the table.",
      remediation="Add an index whose leading columns are the predicate's columns "
                  "(CREATE INDEX CONCURRENTLY), or cache the result.",
      references=[CWE_SEQUENTIAL_SEARCH,
                  AWS_QUERY_PERFORMANCE,
                  Reference("PostgreSQL docs", "Indexes", "Indexes", _PG + "indexes.html")])
def simple_seeks(ctx: Context) -> Iterator[Finding]:
    """Every database call with a ``where``: its plan's cost now and after 365 days vs
    ``policy.seek_p95_ms`` (the plan's service time, before any queueing)."""
    target = ctx.policy.seek_p95_ms
    for item in ctx.steps:
        step = item.step
        if not isinstance(step, CallStep):
            continue
        db = ctx.design.components.get(step.call)
        if not isinstance(db, Database):
            continue
        path = item.subject
        if step.query is None:
            yield ctx.needs_data(path, f"the call to {step.call} has only service_ms: declare "
                                       "its query {table, kind, where} to plan it")
            continue
        query = step.query
        if not query.where:
            continue  # not a lookup: inserts and unfiltered reads are judged elsewhere
        table = db.tables[query.table]
        now, year = plan_query(db, query, 0.0), plan_query(db, query, 365.0)
        where = ", ".join(query.where)
        ok = now.ms <= target and year.ms <= target
        what = f"{query.kind} on {step.call}.{query.table} where ({where})"
        if year.access == "seek":
            msg = (f"{what}: seek on ({', '.join(year.index)}) visiting {_n(year.rows_visited)} "
                   f"row(s) costs {_n(now.ms)} ms now, {_n(year.ms)} ms in 1 year "
                   f"{'≤' if ok else '>'} {_n(target)} ms")
        else:
            indexed = db.model_copy(update={"tables": {
                **db.tables, query.table: table.model_copy(update={
                    "indexes": [*table.indexes, Index(columns=list(query.where))]})}})
            seek = plan_query(indexed, query, 365.0)
            msg = (f"{what}: scan of {_n(now.rows_visited)} rows costs {_n(now.ms)} ms now, "
                   f"{_n(year.ms)} ms in 1 year ({_n(rows_after(table, 365.0))} rows) "
                   f"{'≤' if ok else '>'} {_n(target)} ms; a seek on an index over ({where}) "
                   f"would cost {_n(seek.ms)} ms")
        yield ctx.finding(path, ok, msg, access=year.access, ms_now=now.ms, ms_year=year.ms,
                          rows_now=now.rows_visited, rows_year=year.rows_visited,
                          target_ms=target)


# -- DK-PERF-003 ---------------------------------------------------------------------------

def _clients(ctx: Context) -> dict[str, list[str]]:
    """For each database, the services whose endpoints take connections from its pool, in
    file order (one pass over the steps)."""
    out: dict[str, list[str]] = {}
    for item in ctx.steps:
        ref, step = item.ref, item.step
        target = (step.call if isinstance(step, CallStep) else
                  step.transaction if isinstance(step, TransactionStep) else None)
        if target is not None:
            services = out.setdefault(target, [])
            if ref.service not in services:
                services.append(ref.service)
    return out


@rule("DK-PERF-003", "Connection pools sized, no exhaustion", "high", "estimate",
      rationale="A pool connection is held for everything its transaction wraps; by Little's "
                "law the connections in use are the call rate × the hold time. Demand above "
                "the pool queues every request behind it, and pools that together exceed "
                "max_connections fail with 'too many clients'.",
      remediation="Shorten what a connection is held for (no remote calls inside a "
                  "transaction, indexes), size pool_size × replicas to the demand with "
                  "headroom, and keep the sum of all pools ≤ max_connections (or add a "
                  "pooler such as PgBouncer).",
      references=[Reference("CWE", "400", "Uncontrolled Resource Consumption"),
                  Reference("PostgreSQL docs", "max_connections", "Connections and "
                            "Authentication", _PG + "runtime-config-connection.html")])
def pool_sizing(ctx: Context) -> Iterator[Finding]:
    """Per database: each client pool's demand (station ``busy`` = arrivals × hold) vs its
    ``pool_size × replicas`` and ``policy.pool_utilization_max``; the pools summed over the
    clients vs ``max_connections``."""
    limit = ctx.policy.pool_utilization_max
    clients_of = _clients(ctx)
    for name, db in ctx.design.components.items():
        if not isinstance(db, Database):
            continue
        clients = clients_of.get(name, [])
        if not clients:
            continue
        subject = format_path(("components", name))
        sizes = {}
        for client in clients:
            service = ctx.design.components[client]
            sizes[client] = service.replicas if isinstance(service, Service) else 1
        missing = [f for f in ("pool_size", "max_connections") if getattr(db, f) is None]
        if missing:
            yield ctx.needs_data(subject, f"set {' and '.join(missing)} on {name}: the "
                                          "estimate's assumptions (pool_size 10, "
                                          "max_connections 100) are not a sizing")
            continue
        assert db.pool_size is not None and db.max_connections is not None
        total = sum(db.pool_size * r for r in sizes.values())
        sum_text = " + ".join(f"{c} {r} × {db.pool_size}" for c, r in sizes.items())
        parts, bad, pools = [], False, {}
        for client, replicas in sizes.items():
            station = ctx.station(ctx.estimate, f"{name} pool {client}")
            if station is None:  # the client reaches the database only inside another's pool
                continue
            if station.arrival_rps <= 0:
                continue
            demand, cap = station.busy, station.servers
            use = station.utilization
            where = f"{cap} available ({replicas} replicas × {db.pool_size})"
            rate = (f"at {_n(station.arrival_rps)} rps (Little: {_n(station.arrival_rps)}/s × "
                    f"{_n(station.service_ms)} ms held)")
            if not math.isfinite(demand) or demand > cap:
                parts.append(f"{client} pool demand {_n(demand)} connections > {where} {rate}")
                bad = True
            elif use > limit:
                parts.append(f"{client} pool demand {_n(demand)} connections = {_pct(use)} of "
                             f"{where} {rate}, above the {_pct(limit)} limit")
                bad = True
            else:
                parts.append(f"{client} pool demand {_n(demand)} connections ≤ "
                             f"{_n(cap * limit)} ({_pct(limit)} of {where}), {_pct(use)} in use "
                             f"{rate}")
            pools[client] = {"demand": demand, "available": cap, "utilization": use,
                             "rps": station.arrival_rps, "hold_ms": station.service_ms}
        if not pools:
            yield ctx.needs_data(subject, f"no workload reaches {name}: set workload rates for "
                                          f"the endpoints of {', '.join(clients)}")
            continue
        over = total > db.max_connections
        parts.append(f"pools {total} connections ({sum_text}) "
                     f"{'>' if over else '≤'} max_connections {db.max_connections}")
        yield ctx.finding(subject, not (bad or over), "; ".join(parts), pools=pools,
                          connections=total, max_connections=db.max_connections,
                          utilization_max=limit)


# -- DK-PERF-004 ---------------------------------------------------------------------------

@rule("DK-PERF-004", "Work > 200 ms goes to background jobs", "medium", "estimate",
      rationale="A request that takes longer than the threshold holds a worker, a "
                "connection and the client; slow work belongs in a job fed by a queue — "
                "whose consumers must keep up, or the work waits ever longer.",
      remediation="Accept the request, publish the work to a queue (202 Accepted with a "
                  "status resource), and do it in a consumer; give the queue enough "
                  "consumers (and partitions: a partition's messages are taken one at a "
                  "time unless the consumers keep only per-key order) to stay below the "
                  "policy's utilization.",
      references=[Reference(_ZALANDO, "253", "Support asynchronous request processing")])
def background_jobs(ctx: Context) -> Iterator[Finding]:
    """Synchronous endpoints (not queue handlers nor scheduled jobs): p95 vs
    ``policy.background_ms``; an
    endpoint that publishes to a queue counts as offloaded. Each queue with a handler:
    its consumers' utilization vs ``policy.utilization_max`` (saturated: the backlog
    grows), and consumers a partitioned engine leaves idle."""
    yield from _consumers_keep_up(ctx)
    threshold = ctx.policy.background_ms
    handlers = ctx.flow.handlers  # endpoints that consume a queue: already background work
    for ref, _endpoint in ctx.endpoints:
        if str(ref) in handlers or str(ref) in ctx.flow.scheduled:  # so is a scheduled job
            continue
        subject = endpoint_path(ref)
        est = ctx.estimate.endpoints.get(str(ref))
        if est is None or est.rps <= 0:
            yield ctx.needs_data(subject, f"{ref} has no traffic: set its rate in the "
                                          "workload to estimate its p95")
            continue
        queues = sorted({s.publish for s in _all_steps(ctx, ref) if isinstance(s, PublishStep)})
        slow = est.p95_ms > threshold
        if not slow:
            msg = f"p95 {_n(est.p95_ms)} ms ≤ {_n(threshold)} ms at {_n(est.rps)} rps"
        elif queues:
            msg = (f"p95 {_n(est.p95_ms)} ms > {_n(threshold)} ms at {_n(est.rps)} rps, but it "
                   f"publishes to {', '.join(queues)} (counted as offloaded)")
        else:
            msg = (f"p95 {_n(est.p95_ms)} ms > {_n(threshold)} ms at {_n(est.rps)} rps, "
                   "synchronously: nothing is offloaded to a queue")
        yield ctx.finding(subject, not slow or bool(queues), msg, p95_ms=est.p95_ms,
                          threshold_ms=threshold, rps=est.rps, offloaded_to=queues)


def _consumers_keep_up(ctx: Context) -> Iterator[Finding]:
    limit = ctx.design.policy.utilization_max
    for name, queue in ctx.design.components.items():
        if not isinstance(queue, Queue) or queue.handler is None:
            continue
        subject = format_path(("components", name))
        station = ctx.station(ctx.estimate, f"{name} consumers")
        if station is None or station.arrival_rps <= 0:
            yield ctx.needs_data(subject, f"no workload publishes to {name}: set workload "
                                          "rates for its publishers")
            continue
        slots, queues = queue.consumer_slots
        wanted = queue.consumers or queue.partitions
        idle = wanted - slots * queues
        shape = (f"{queues} partitions × {slots}" if queue.partitioned
                 else f"{slots} consumers")
        where = (f"{name} consumers ({shape}) at {_pct(station.utilization)} with "
                 f"{_n(station.arrival_rps)} msgs/s × {_n(station.service_ms)} ms")
        if station.saturated:
            msg = (f"{where}: they cannot keep up — the backlog grows by "
                   f"{_n(station.backlog_per_s)} msgs/s and the lag without bound")
        elif station.utilization > limit:
            msg = f"{where}, above the {_pct(limit)} limit: lag {_n(station.wait_ms)} ms"
        else:
            msg = f"{where} ≤ {_pct(limit)}: lag {_n(station.wait_ms)} ms"
        if idle > 0:
            msg += (f"; {idle} of {wanted} consumers stay idle: {queue.engine} gives a "
                    f"partition's messages to one consumer at a time ({queue.partitions} "
                    "partitions; ordering: key lets several take one partition's keys)")
        ok = not station.saturated and station.utilization <= limit and idle <= 0
        yield ctx.finding(subject, ok, msg, utilization=station.utilization,
                          lag_ms=station.wait_ms, backlog_per_s=station.backlog_per_s,
                          idle_consumers=max(idle, 0))


# -- DK-PERF-005 ---------------------------------------------------------------------------

def _single_resource(path: str) -> bool:
    """``/orders/{id}``: the last segment is a parameter, so one resource, not a list."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.startswith("{") and last.endswith("}")


@rule("DK-PERF-005", "Cursor pagination for collections", "medium", "auto",
      rationale="An unpaginated collection grows with the data until responses time out; "
                "offset pagination reads and discards every skipped row and skips or "
                "repeats items when rows are inserted.",
      remediation="Return pages with an opaque cursor (keyset: WHERE (created_at, id) < "
                  "cursor ORDER BY … LIMIT n) and a next link.",
      references=[Reference(_ZALANDO, "159", "Support pagination"),
                  Reference(_ZALANDO, "160", "Prefer cursor-based pagination, avoid "
                            "offset-based pagination"),
                  OWASP_API4,
                  Reference("CWE", "770", "Allocation of Resources Without Limits or "
                            "Throttling")])
def cursor_pagination(ctx: Context) -> Iterator[Finding]:
    """GET endpoints declared ``collection: true``: pagination none (high), offset when the
    policy says cursor (low). ``collection`` unset → needs-data, except on a path that
    ends in a parameter (``/orders/{id}``), which names one resource."""
    wanted = ctx.policy.pagination
    override = ctx.rule is not None and ctx.rule.id in ctx.policy.severity
    for ref, endpoint in ctx.endpoints:
        if ref.method != "GET":
            continue
        subject = endpoint_path(ref)
        if endpoint.collection is None:
            if not _single_resource(ref.path):
                yield ctx.needs_data(subject, "set collection: true|false — does it return a "
                                              "list?")
            continue
        if not endpoint.collection:
            continue
        pagination = endpoint.pagination or "none"
        if pagination == "none":
            finding = ctx.finding(subject, False, f"collection {ref.path} returns every item: "
                                  "no pagination", pagination=pagination)
            yield finding if override else replace(finding, severity=Severity.HIGH)
        elif pagination == "offset" and wanted == "cursor":
            finding = ctx.finding(subject, False, "collection paginated by offset; the policy "
                                  "(Zalando #160) wants cursor pagination",
                                  pagination=pagination)
            yield finding if override else replace(finding, severity=Severity.LOW)
        else:
            yield ctx.finding(subject, True, f"collection paginated by {pagination}",
                              pagination=pagination)


# -- DK-PERF-006 ---------------------------------------------------------------------------

@rule("DK-PERF-006", "Caching strategy defined", "medium", "auto",
      rationale="A cache without a stated strategy, TTL and invalidation serves stale data "
                "for an unknown time and nobody can say when it is correct.",
      remediation="State the strategy (cache-aside, read-through, write-through, "
                  "write-behind), a TTL that bounds staleness, and how writes invalidate "
                  "entries.",
      references=[Reference("AWS Well-Architected", "PERF03-BP05",
                            "Implement data access patterns that utilize caching")])
def caching_strategy(ctx: Context) -> Iterator[Finding]:
    """Every cache: ``strategy``, ``ttl_s`` and ``invalidation`` set (a write-through or
    write-behind strategy is its own invalidation)."""
    for name, cache in ctx.design.components.items():
        if not isinstance(cache, Cache):
            continue
        missing = []
        if cache.strategy is None:
            missing.append("strategy")
        if cache.ttl_s is None:
            missing.append("ttl_s")
        if cache.invalidation is None and cache.strategy not in ("write-through",
                                                                 "write-behind"):
            missing.append("invalidation")
        stated = (f"strategy {cache.strategy or '—'}, TTL "
                  f"{_n(cache.ttl_s) + ' s' if cache.ttl_s is not None else '—'}, invalidation "
                  f"{'stated' if cache.invalidation else '—'}")
        msg = (f"{name}: {stated}" if not missing
               else f"{name} lacks {', '.join(missing)} ({stated})")
        yield ctx.finding(format_path(("components", name)), not missing, msg, missing=missing)


# -- DK-PERF-007 ---------------------------------------------------------------------------

@rule("DK-PERF-007", "Compression for large JSON", "low", "auto",
      rationale="Large JSON compresses 5–10×; uncompressed it costs bandwidth and latency "
                "on every response.",
      remediation="Enable gzip or br content encoding for responses above the threshold.",
      references=[Reference(_ZALANDO, "156", "Use gzip compression"),
                  Reference("RFC 9110", "8.4", "Content-Encoding")])
def compression(ctx: Context) -> Iterator[Finding]:
    """GET endpoints (and any endpoint that states ``response_kb``): size vs
    ``policy.compression_kb`` and ``compression``."""
    threshold = ctx.policy.compression_kb
    for ref, endpoint in ctx.endpoints:
        subject = endpoint_path(ref)
        size = endpoint.response_kb
        if size is None:
            if ref.method == "GET":
                yield ctx.needs_data(subject, "set response_kb (typical response size) to "
                                              "judge compression")
            continue
        encodings = endpoint.compression or []
        large = size > threshold
        if encodings:
            msg = f"{_n(size)} KB responses compressed with {', '.join(encodings)}"
        elif large:
            msg = f"{_n(size)} KB responses > {_n(threshold)} KB and no gzip/br compression"
        else:
            msg = f"{_n(size)} KB responses ≤ {_n(threshold)} KB: compression optional"
        yield ctx.finding(subject, not large or bool(encodings), msg, response_kb=size,
                          threshold_kb=threshold, compression=encodings)


RULES: list[Rule] = [cached_read_p95, simple_seeks, pool_sizing, background_jobs,
                     cursor_pagination, caching_strategy, compression]

