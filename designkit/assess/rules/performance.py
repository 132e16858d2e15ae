"""Rules of the performance area: latency targets, query plans, pools, background work,
pagination, caching, compression and capacity (DK-PERF-001 … DK-PERF-009).

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
from designkit.assess.rules._facts import background, endpoint_path, user_facing
from designkit.assess.rules._refs import (
    AWS_QUERY_PERFORMANCE,
    CWE_SEQUENTIAL_SEARCH,
    OWASP_API4,
)
from designkit.flow.plan import plan_query, rows_after
from designkit.flow.times import Spec
from designkit.model.components import Cache, Queue
from designkit.model.database import Database, Index
from designkit.model.engines import setting
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.service import Service
from designkit.model.steps import CacheStep, CallStep, PublishStep, Step, TransactionStep
from designkit.text import number as _n
from designkit.text import percent as _pct

__all__ = ["RULES", "background_jobs", "cached_read_p95", "caching_strategy", "capacity",
           "compression", "cursor_pagination", "headroom", "pool_sizing", "simple_seeks"]

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
        if est.saturated:
            continue  # no finite time to judge: DK-PERF-008 reports the saturation, once
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
    """Every database call with a ``where``: its time now and after 365 days vs
    ``policy.seek_p95_ms`` — the estimate's time: its plan's cost (or the ``service_ms``
    the step states, which the estimate uses) plus the wait for the database's cpu at the
    workload. A call whose database is saturated is DK-PERF-008's."""
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
        if not query.filtered:
            continue  # not a lookup: inserts and unfiltered reads are judged elsewhere
        cpu = ctx.station(ctx.estimate, f"{step.call} cpu")
        if cpu is not None and cpu.saturated:
            continue  # no finite wait to add: DK-PERF-008 reports the saturation, once
        wait = cpu.wait_ms if cpu is not None and math.isfinite(cpu.wait_ms) else 0.0
        queued = f" + {_n(wait)} ms waiting for {step.call} cpu" if wait >= 0.0005 else ""
        table = db.tables[query.table]
        now, year = plan_query(db, query, 0.0), plan_query(db, query, 365.0)
        where = ", ".join(query.filter_columns)
        what = f"{query.kind} on {step.call}.{query.table} where ({where})"
        if step.service_ms is not None:  # the design states its time: the estimate's
            stated = Spec.of(step.service_ms).mean
            ok = stated + wait <= target
            plan = (f"seek on ({', '.join(year.index)})" if year.access == "seek"
                    else f"a scan of {_n(year.rows_visited)} rows in 1 year")
            msg = (f"{what}: its stated service_ms {_n(stated)} ms{queued} "
                   f"{'≤' if ok else '>'} {_n(target)} ms (the plan: {plan})")
            yield ctx.finding(path, ok, msg, access=year.access, ms_now=stated + wait,
                              ms_year=stated + wait, wait_ms=wait, stated_ms=stated,
                              rows_now=now.rows_visited, rows_year=year.rows_visited,
                              target_ms=target)
            continue
        ok = now.ms + wait <= target and year.ms + wait <= target
        many = query.batch > 1 or (query.kind == "select" and (query.limit or 1) > 1)
        if year.access == "seek" and many:
            # a batch of keys or a top-N reads its rows by design: the seek is what is
            # judged (its descent and its wait), the rows are reported beside it
            descent = float(setting(db, "seek_ms"))
            ok = descent + wait <= target
            msg = (f"{what}: seek on ({', '.join(year.index)}) for "
                   f"{_n(year.rows_visited)} rows ({'a batch' if query.batch > 1 else 'a top-N'}"
                   f"): the seek {_n(descent)} ms{queued} {'≤' if ok else '>'} {_n(target)} ms; "
                   f"with its rows {_n(now.ms)} ms now, {_n(year.ms)} ms in 1 year")
        elif year.access == "seek":
            msg = (f"{what}: seek on ({', '.join(year.index)}) visiting {_n(year.rows_visited)} "
                   f"row(s) costs {_n(now.ms)} ms now, {_n(year.ms)} ms in 1 year{queued} "
                   f"{'≤' if ok else '>'} {_n(target)} ms")
        else:
            kind = "btree" if query.where or query.range else "gin"
            indexed = db.model_copy(update={"tables": {
                **db.tables, query.table: table.model_copy(update={
                    "indexes": [*table.indexes, Index(
                        columns=[*query.where, *([query.range] if query.range else [])]
                        or list(query.contains), kind=kind)]})}})
            seek = plan_query(indexed, query, 365.0)
            # an index on the columns whose kind cannot serve the predicate: say why
            unfit = f" ({now.reason.split(': ', 1)[1]})" if ": " in now.reason else ""
            msg = (f"{what}: scan of {_n(now.rows_visited)} rows costs {_n(now.ms)} ms now, "
                   f"{_n(year.ms)} ms in 1 year ({_n(rows_after(table, 365.0))} rows){queued} "
                   f"{'≤' if ok else '>'} {_n(target)} ms{unfit}; a seek on a "
                   f"{'B-tree' if kind == 'btree' else 'GIN index'} over ({where}) would cost "
                   f"{_n(seek.ms)} ms")
        yield ctx.finding(path, ok, msg, access=year.access, ms_now=now.ms + wait,
                          ms_year=year.ms + wait, wait_ms=wait, rows_now=now.rows_visited,
                          rows_year=year.rows_visited, target_ms=target)


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
    # what users wait for: not a queue's handler, a scheduled job, nor what only they call
    facing = user_facing(ctx.flow, ctx.design.rates())
    behind = background(ctx.flow)
    for ref, _endpoint in ctx.endpoints:
        if str(ref) in behind and str(ref) not in facing:
            continue
        subject = endpoint_path(ref)
        est = ctx.estimate.endpoints.get(str(ref))
        if est is None or est.rps <= 0:
            yield ctx.needs_data(subject, f"{ref} has no traffic: set its rate in the "
                                          "workload to estimate its p95")
            continue
        if est.saturated:
            continue  # no finite time to judge: DK-PERF-008 reports the saturation, once
        queues = sorted({s.publish for s in _all_steps(ctx, ref) if isinstance(s, PublishStep)})
        slow = est.p95_ms > threshold
        if not slow:
            msg = f"p95 {_n(est.p95_ms)} ms ≤ {_n(threshold)} ms at {_n(est.rps)} rps"
        elif queues:  # what it publishes is off its path; what makes it slow is not
            msg = (f"p95 {_n(est.p95_ms)} ms > {_n(threshold)} ms at {_n(est.rps)} rps on the "
                   f"request's own path (what it publishes to {', '.join(queues)} is not "
                   "what makes it slow): move the slow part behind the queue")
        else:
            msg = (f"p95 {_n(est.p95_ms)} ms > {_n(threshold)} ms at {_n(est.rps)} rps, "
                   "synchronously: nothing is offloaded to a queue")
        yield ctx.finding(subject, not slow, msg, p95_ms=est.p95_ms,
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
        if station.saturated:  # DK-PERF-008 fails it (critical), with the backlog's growth
            msg = (f"{where}: they cannot keep up — the backlog grows by "
                   f"{_n(station.backlog_per_s)} msgs/s and the lag without bound "
                   "(DK-PERF-008)")
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

TOP_N_MAX = 1000
"""The largest ``limit`` a list may have and still be a top-N that needs no pagination."""


def _top_n(ctx: Context, ref: EndpointRef) -> int | None:
    """The largest ``limit`` of an endpoint's reads when every one of them has one (at most
    ``TOP_N_MAX``): a top-N list, bounded by design; ``None`` otherwise."""
    limits = [site.step.query.limit for site in ctx.flow.sites_of(ref)
              if isinstance(site.step, CallStep) and site.step.query is not None
              and site.step.query.kind == "select"]
    if not limits or any(limit is None or limit > TOP_N_MAX for limit in limits):
        return None
    return max(limit for limit in limits if limit is not None)


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
        bounded = _top_n(ctx, ref)
        if pagination == "none" and bounded is not None:
            yield ctx.finding(subject, True, f"collection {ref.path} is a top-N: its queries "
                              f"return at most {_n(bounded)} rows (limit), so it needs no "
                              "pagination", pagination=pagination, limit=bounded)
        elif pagination == "none":
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


# -- DK-PERF-008 / DK-PERF-009: capacity ------------------------------------------------

_SRE_OVERLOAD = Reference("Google SRE Book", "21", "Handling Overload",
                          "https://sre.google/sre-book/handling-overload/")


def _saturated_endpoints(ctx: Context) -> list[str]:
    return [k for k, e in ctx.estimate.endpoints.items() if e.saturated]


@rule("DK-PERF-008", "The workload fits: nothing saturates", "critical", "estimate",
      rationale="A station asked for more work than its servers can do queues without "
                "bound: requests wait ever longer until clients time out, or a queue's "
                "backlog grows until messages are days old. No other number of such a "
                "design means anything until it fits.",
      remediation="Add capacity at the station that saturates (replicas, workers, cores, "
                  "partitions and consumers), or take work off it (a cache, an index, a "
                  "batched query, a shorter hold), until the workload fits with the "
                  "policy's headroom (DK-PERF-009).",
      references=[_SRE_OVERLOAD])
def capacity(ctx: Context) -> Iterator[Finding]:
    """The estimate's ``max_scale`` (what users wait for) and its background capacity
    (what only queues' handlers load): below 1× the workload, the station that saturates
    first, by how much, and the endpoints left with no finite latency — once, here (the
    rules that judge those endpoints' times leave saturated ones to this one)."""
    e = ctx.estimate
    if not any(x.rps > 0 for x in e.endpoints.values()):
        yield ctx.needs_data("", "no endpoint has a workload rate: set the workload to judge "
                                 "whether it fits")
        return
    yield from _fits(ctx, e.bottleneck, e.bottleneck_station, e.max_scale, background=False)
    back = e.background
    if back is not None and back.station is not None:
        yield from _fits(ctx, back.component, back.station, back.max_scale, background=True)


def _fits(ctx: Context, component: str | None, station_id: str | None, scale: float,
          background: bool) -> Iterator[Finding]:
    if component is None or station_id is None:
        return
    subject = format_path(("components", component))
    station = ctx.station(ctx.estimate, station_id)
    busy = (f" ({_pct(station.utilization)} busy)" if station is not None
            and math.isfinite(station.utilization) else "")
    kind = "background work" if background else "the requests users wait for"
    if scale >= 1.0:
        yield ctx.finding(subject, True, f"the workload fits: of {kind}, {station_id} "
                          f"saturates first, at {_n(scale)}× the workload{busy}",
                          station=station_id, max_scale=scale, background=background)
        return
    what = "saturated at the workload" if scale <= 0 else f"saturates at {_n(scale)}× the " \
        "workload"
    if background:
        grows = station.backlog_per_s if station is not None else math.nan
        msg = (f"{station_id} {what}: queues' handlers cannot keep up — the backlog grows by "
               f"{_n(grows)}/s and their lag without bound")
    else:
        stuck = [k for k in _saturated_endpoints(ctx)
                 if k not in ctx.flow.handlers and k not in ctx.flow.scheduled]
        shown = ", ".join(stuck[:3]) + (f" and {len(stuck) - 3} more" if len(stuck) > 3 else "")
        msg = (f"{station_id} {what}{busy}: it needs {_n(1.0 / scale) if scale > 0 else '∞'}× "
               f"its capacity; {len(stuck)} endpoint(s) wait without bound ({shown})")
    yield ctx.finding(subject, False, msg, station=station_id, max_scale=scale,
                      background=background)


@rule("DK-PERF-009", "Headroom: the workload at the policy's utilization", "high",
      "estimate",
      rationale="Waits grow steeply as a station fills (at 90 % an M/M/1 waits 9 service "
                "times, at 70 % 2.3); a design at its limit has no room for a burst, a "
                "lost replica or next month's growth.",
      remediation="Add capacity at the first station to saturate until it saturates at "
                  "1 / utilization_max × the workload (1.43× for the default 70 %), or take "
                  "work off it; dk.size finds the smallest change.",
      references=[_SRE_OVERLOAD])
def headroom(ctx: Context) -> Iterator[Finding]:
    """``max_scale`` vs ``1 / policy.utilization_max``; a design that does not fit at all
    is DK-PERF-008's."""
    e = ctx.estimate
    if e.bottleneck is None or e.bottleneck_station is None or not e.max_scale >= 1.0:
        return
    needed = 1.0 / ctx.policy.utilization_max
    subject = format_path(("components", e.bottleneck))
    station = ctx.station(e, e.bottleneck_station)
    busy = f" ({_pct(station.utilization)} busy now)" if station is not None else ""
    ok = e.max_scale >= needed * (1 - 1e-9)
    yield ctx.finding(
        subject, ok,
        f"{e.bottleneck_station} saturates at {_n(e.max_scale)}× the workload{busy} "
        f"{'≥' if ok else '<'} {_n(needed)}× the policy keeps (utilization ≤ "
        f"{_pct(ctx.policy.utilization_max)})",
        station=e.bottleneck_station, max_scale=e.max_scale, needed=needed)


RULES: list[Rule] = [cached_read_p95, simple_seeks, pool_sizing, background_jobs,
                     cursor_pagination, caching_strategy, compression, capacity, headroom]

