"""Rules of the database area: normal form, denormalization, partitioning, migrations,
optimistic locking and Redis structures (DK-DB-001 … DK-DB-008; the rules about indexes and
keys, DK-DB-002 and DK-DB-008, are in :mod:`~designkit.assess.rules.indexes`).

Subjects are tables (``components.<db>.tables.<t>``), databases (``components.<db>``) or
endpoints; messages quote the rows, rates and plans they were decided by.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from designkit.assess.context import Context
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Reference, Rule, rule
from designkit.assess.rules._facts import WRITES, endpoint_path
from designkit.assess.rules._refs import AWS_QUERY_PERFORMANCE
from designkit.assess.rules._schema import (
    PG_DOCS,
    TEXT_SEARCH,
    base_type,
    engine_family,
    every_table,
    is_document,
    table_path,
)
from designkit.assess.rules.indexes import index_types, partition_unique_keys
from designkit.flow.nodes import ForeignKey, Site
from designkit.flow.plan import rows_after
from designkit.model.components import Cache
from designkit.model.database import DOCUMENT_ENGINES, Database, Table
from designkit.model.design import Design
from designkit.model.problems import format_path
from designkit.model.steps import CacheStep, CallStep
from designkit.text import number as _n

__all__ = ["DOCUMENT_ENGINES", "READ_WRITE_MIN", "RULES", "index_types", "migrations",
           "optimistic_locking", "partition_unique_keys", "partitioning",
           "read_heavy_denormalization", "redis_structures", "third_normal_form"]

READ_WRITE_MIN = 10.0
"""DK-DB-003: reads per write below which a denormalized copy costs more than it saves."""

def _rates(ctx: Context) -> dict[tuple[str, str], tuple[float, float]]:
    """Statements per second on each (database, table): (reads, writes), from every
    endpoint's steps weighted by its rate in the estimate (counts, loops and cache misses
    applied; an invoked endpoint counts once, at its own rate)."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for ref, _endpoint in ctx.endpoints:
        est = ctx.estimate.endpoints.get(str(ref))
        if est is None or est.rps <= 0:
            continue
        for site in ctx.flow.sites_of(ref):
            step = site.step
            if (isinstance(step, CallStep) and step.query is not None
                    and isinstance(ctx.design.components.get(step.call), Database)):
                slot = 1 if step.query.kind in WRITES else 0
                acc[(step.call, step.query.table)][slot] += est.rps * site.times * step.count
    return {key: (r, w) for key, (r, w) in acc.items()}


# -- DK-DB-001 -----------------------------------------------------------------------------

_NUMBERED = re.compile(r"^(.*?[A-Za-z_])(\d+)$")


def _foreign_keys(ctx: Context) -> dict[tuple[str, str], list[ForeignKey]]:
    """The flow's foreign keys by (database, table), in column order."""
    out: dict[tuple[str, str], list[ForeignKey]] = defaultdict(list)
    for fk in ctx.flow.foreign_keys:
        out[(fk.database, fk.table)].append(fk)
    return out


def _duplicates(db: Database, table: Table, keys: list[ForeignKey]) -> list[str]:
    """Non-key columns of ``table`` (in ``db``, whose foreign keys are ``keys``) that copy a
    column reachable through a foreign key: ``order_items.product_name`` next to
    ``product_id → products.id`` (products has ``name``), or ``payments.merchant_id`` next
    to ``order_id → orders.id`` (orders has ``merchant_id``, itself a key)."""
    found: list[str] = []
    for fk in keys:
        if fk.to_database != fk.database or fk.to_table not in db.tables:
            continue  # another database's table: not this schema's normal form
        fk_name = fk.column
        target = db.tables[fk.to_table]
        stem = fk_name[:-3] if fk_name.endswith("_id") else None
        for name, column in table.columns.items():
            if name == fk_name or column.primary_key or column.denormalized:
                continue
            other = target.columns.get(name)
            transitive = (other is not None and not other.primary_key
                          and (other.references is not None or name.endswith("_id")))
            copied = (stem is not None and name.startswith(stem + "_")
                      and (t := target.columns.get(name[len(stem) + 1:])) is not None
                      and not t.primary_key)
            if (transitive or copied) and name not in [d.split(" ")[0] for d in found]:
                source = name if transitive else name[len(stem or "") + 1:]
                found.append(f"{name} (copies {fk.to_table}.{source} via {fk_name})")
    return found


@rule("DK-DB-001", "3NF by default", "low", "auto",
      rationale="Repeating groups and copies of other tables' columns must be kept in step "
                "by hand; every write that forgets one leaves the data inconsistent.",
      remediation="Move repeating groups (JSON/array columns, phone1/phone2…) to a child "
                  "table and drop copied columns — or tag a deliberate copy "
                  "``denormalized: true`` and say how it is kept in step.",
      references=[Reference("PostgreSQL docs", "Constraints", "Foreign keys",
                            PG_DOCS + "ddl-constraints.html#DDL-CONSTRAINTS-FK")])
def third_normal_form(ctx: Context) -> Iterator[Finding]:
    """Every table: JSON/array columns and numbered column groups (repeating groups), and
    non-key columns that duplicate a column reachable through a foreign key of the same
    database, unless tagged ``denormalized``. A table without columns needs data."""
    keys = ctx.memo(_foreign_keys)
    for db_name, db, name, table, path in every_table(ctx.design):
        if not table.columns:
            yield ctx.needs_data(path, f"declare the columns of {name} to judge its normal form")
            continue
        problems = [f"{c} ({col.type}: a repeating group in one column)"
                    for c, col in table.columns.items()
                    if is_document(col) and not col.denormalized
                    and base_type(col) not in TEXT_SEARCH]
        groups: dict[str, list[str]] = defaultdict(list)
        for c, col in table.columns.items():
            match = _NUMBERED.match(c)
            if match and not col.denormalized:
                groups[match.group(1)].append(c)
        problems += [f"{', '.join(cols)} (numbered repeating group)"
                     for cols in groups.values() if len(cols) >= 2]
        problems += _duplicates(db, table, keys.get((db_name, name), []))
        tagged = [c for c, col in table.columns.items() if col.denormalized]
        if problems:
            msg = f"{name}: {'; '.join(problems)} — not tagged denormalized"
        else:
            msg = (f"{name}: {len(table.columns)} columns, no repeating groups or untagged "
                   "copies" + (f" ({', '.join(tagged)} tagged denormalized)" if tagged else ""))
        yield ctx.finding(path, not problems, msg, problems=problems, denormalized=tagged)


# -- DK-DB-003 -----------------------------------------------------------------------------

@rule("DK-DB-003", "Denormalize only read-heavy hotspots", "low", "estimate",
      rationale="A denormalized copy saves a join on every read and costs an extra write (and "
                "a chance of drift) on every change; it pays only where reads dominate.",
      remediation=f"Keep the copy only where reads outnumber writes {READ_WRITE_MIN:g}:1 or "
                  "more; otherwise normalize and join (or cache the joined read).",
      references=[AWS_QUERY_PERFORMANCE])
def read_heavy_denormalization(ctx: Context) -> Iterator[Finding]:
    """Tables with ``denormalized`` columns: reads/s vs writes/s from the endpoints' steps at
    the estimate's rates; the copy must be read ≥ ``READ_WRITE_MIN`` (10) times per write."""
    rates = ctx.memo(_rates)
    for db_name, _db, name, table, path in every_table(ctx.design):
        copies = [c for c, col in table.columns.items() if col.denormalized]
        if not copies:
            continue
        reads, writes = rates.get((db_name, name), (0.0, 0.0))
        what = f"{name} ({', '.join(copies)} denormalized)"
        if reads <= 0 and writes <= 0:
            yield ctx.needs_data(path, f"{what}: no endpoint with traffic reads or writes it — "
                                       "model its queries and workload to get its read/write "
                                       "ratio")
            continue
        ratio = reads / writes if writes > 0 else math.inf
        ok = ratio >= READ_WRITE_MIN
        if writes <= 0:
            msg = (f"{what}: {_n(reads)} reads/s and no writes in this design (designkit's "
                   f"threshold: ≥ {READ_WRITE_MIN:g} reads per write)")
        else:
            msg = (f"{what}: {_n(reads)} reads/s vs {_n(writes)} writes/s, ratio {_n(ratio)} "
                   f"{'≥' if ok else '<'} {READ_WRITE_MIN:g} (designkit's threshold)")
        yield ctx.finding(
            path, ok, msg,
            reads_per_s=reads, writes_per_s=writes, ratio=ratio, threshold=READ_WRITE_MIN)


# -- DK-DB-004 -----------------------------------------------------------------------------

@rule("DK-DB-004", "Partitioning planned for large tables", "medium", "estimate",
      rationale="A very large table makes vacuum, index builds, backups and retention "
                "(DELETE of old rows) slow; partitions keep each piece small and let old "
                "data be dropped at once.",
      remediation="Partition by range of time (or hash of the tenant/key), or shard; state "
                  "the key in the design's partitioning.",
      references=[Reference("PostgreSQL docs", "Table Partitioning", "Table Partitioning",
                            PG_DOCS + "ddl-partitioning.html"),
                  AWS_QUERY_PERFORMANCE])
def partitioning(ctx: Context) -> Iterator[Finding]:
    """Every table: rows in one year (rows + growth_per_day × 365) vs
    ``policy.partition_rows``, unless partitioned. ``rows`` unset → needs-data;
    ``growth_per_day`` unset on a table still below the threshold → needs-data."""
    threshold = ctx.policy.partition_rows
    for _db_name, _db, name, table, path in every_table(ctx.design):
        if table.rows is None:
            yield ctx.needs_data(path, f"set rows (and growth_per_day) of {name}")
            continue
        year = rows_after(table, 365.0)
        if table.partitioning is not None:
            part = table.partitioning
            yield ctx.finding(path, True, f"{name}: {_n(year)} rows in 1 year, partitioned by "
                              f"{part.kind} of ({', '.join(part.key)})"
                              + (f" over {part.shards} shards" if part.shards else ""),
                              rows_year=year, threshold=threshold)
            continue
        if table.growth_per_day is None and year <= threshold:
            yield ctx.needs_data(path, f"set growth_per_day of {name} (0 if it does not grow): "
                                       f"{_n(year)} rows now ≤ {_n(threshold)}")
            continue
        ok = year <= threshold
        yield ctx.finding(
            path, ok,
            f"{name}: {_n(table.rows)} rows + {_n(table.growth_per_day or 0.0)}/day × 365 = "
            f"{_n(year)} rows in 1 year {'≤' if ok else '>'} {_n(threshold)}"
            + ("" if ok else " and no partitioning or sharding key"),
            rows_year=year, threshold=threshold)


# -- DK-DB-005 -----------------------------------------------------------------------------

def _previous(ctx: Context) -> Design | str:
    """The design's previous version, loaded; or why it cannot be."""
    from designkit.errors import DesignkitError
    from designkit.model.io import load, source_dir

    assert ctx.design.previous is not None
    path = source_dir(ctx.design) / ctx.design.previous
    try:
        return load(path)
    except (DesignkitError, OSError) as err:
        return f"previous: {path}: {err}"


def _scripts(ctx: Context, db: Database) -> list[Path]:
    """The migration files of ``db``: a folder's ``.sql`` files in name order, or a list."""
    from designkit.model.io import source_dir

    stated = db.migrations
    base = source_dir(ctx.design)
    if isinstance(stated, str):
        folder = base / stated
        return sorted(folder.glob("*.sql")) if folder.is_dir() else [folder]
    return [base / p for p in stated or []]


def _covered(db: Database, scripts: list[Path], old: Database | None
             ) -> tuple[set[tuple[str, ...]], list[str]]:
    """What ``scripts`` change, and the ones that cannot be read (with why)."""
    import sqlglot

    from designkit.migration import index_names, script_targets

    family = engine_family(db)
    dialect = family if family in ("mysql", "sqlite") else "postgres"
    names = {**(index_names(old) if old is not None else {}), **index_names(db)}
    out: set[tuple[str, ...]] = set()
    unread: list[str] = []
    for path in scripts:
        try:
            text = path.read_text(encoding="utf-8")
            out |= script_targets(text, dialect, names)  # type: ignore[arg-type]
        except OSError as err:
            unread.append(f"{path}: {err.strerror or err}")
        except sqlglot.errors.ParseError as err:
            unread.append(f"{path}: not {dialect} SQL ({str(err).splitlines()[0]})")
    return out, unread


@rule("DK-DB-005", "Migration for every schema change", "medium", "attestation",
      rationale="A schema change without a migration is applied by hand, differently in "
                "every environment, and cannot be reviewed or rolled back.",
      remediation="Keep versioned migrations (Flyway, Liquibase, Alembic, sqitch…) next to "
                  "the code and name them in the design (a database's migrations: folder, "
                  "and the design's previous: version) so the review checks that they cover "
                  "every change; `designkit migrate OLD NEW` writes the DDL to start from. "
                  "Without a previous version, attest where the migrations live.",
      references=[Reference("PostgreSQL docs", "Modifying Tables", "Modifying Tables",
                            PG_DOCS + "ddl-alter.html")])
def migrations(ctx: Context) -> Iterator[Finding]:
    """With ``previous`` (the design's version running now): the schema changes since
    (:func:`~designkit.migration.migration`) must each be touched by a script of the
    database's ``migrations`` (parsed with sqlglot); a dangerous statement is named with its
    cost. Without it, every database with tables asks for an attestation."""
    from designkit.migration import migration

    previous = ctx.memo(_previous) if ctx.design.previous is not None else None
    for name, db in ctx.design.components.items():
        if not isinstance(db, Database) or not db.tables:
            continue
        subject = format_path(("components", name))
        if previous is None:
            yield ctx.finding(
                subject, Status.NEEDS_ATTESTATION,
                f"{name} ({len(db.tables)} tables): the design names no previous version, "
                "so designkit cannot tell what changed — set previous: (the design running "
                "now) and migrations:, or attest where the migrations live and that CI "
                "checks them", tables=sorted(db.tables))
            continue
        if isinstance(previous, str):
            yield ctx.needs_data(subject, previous)
            continue
        changes = migration(previous, ctx.design, database=name).statements
        if not changes:
            yield ctx.finding(subject, True, f"{name}: no schema change since "
                                             f"{ctx.design.previous}")
            continue
        old = previous.components.get(name)
        done, unread = _covered(db, _scripts(ctx, db), old if isinstance(old, Database)
                                else None)
        missing = [s for s in changes if s.target not in done]
        dangers = [s.danger for s in changes if s.danger is not None]
        evidence = {"changes": [s.sql for s in changes], "missing": [s.sql for s in missing],
                    "dangers": dangers}
        what = f"{name}: {len(changes)} schema change(s) since {ctx.design.previous}"
        if db.migrations is None or missing or unread:
            problems = unread + [f"no script does {s.sql}" for s in missing]
            if db.migrations is None:
                problems = ["no migrations: stated"]
            yield ctx.finding(subject, False, f"{what}; " + "; ".join(problems[:5])
                              + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
                              + (f"; dangerous: {'; '.join(dangers[:2])}" if dangers else ""),
                              **evidence)
        else:
            yield ctx.finding(subject, True, f"{what}, each made by a migration script"
                              + (f"; mind: {'; '.join(dangers[:2])}" if dangers else ""),
                              **evidence)


# -- DK-DB-006 -----------------------------------------------------------------------------

def _locked(ctx: Context, site: Site) -> bool:
    """Whether a lock step holds the site's step (pessimistic locking)."""
    return any(ctx.flow.kinds.get(name) == "lock" for name in site.holders)


@rule("DK-DB-006", "Optimistic locking for concurrent updates", "medium", "auto",
      rationale="Two writers that read a row and write it back lose one of the updates "
                "unless the write is conditional on the version they read.",
      remediation="Add a version column (or ETag) and update WHERE id = $1 AND version = $2, "
                  "retrying on 0 rows — or make the update atomic (SET n = n - 1 …); set "
                  "version_column on the table.",
      references=[Reference("CWE", "362", "Concurrent Execution using Shared Resource with "
                            "Improper Synchronization ('Race Condition')"),
                  Reference("RFC 9110", "13.1.1", "If-Match"),
                  Reference("Zalando RESTful API Guidelines", "182",
                            "Consider to support ETag with If-Match/If-None-Match")])
def optimistic_locking(ctx: Context) -> Iterator[Finding]:
    """Tables updated (update/upsert) by an endpoint: non-atomic updates from ≥ 2
    endpoints, or a select then a non-atomic update of the table in one endpoint, need a
    ``version_column``. Updates declared ``atomic: true``, or held inside a lock step
    (pessimistic locking), cannot lose an update."""
    writers: dict[tuple[str, str], list[str]] = defaultdict(list)
    atomic: dict[tuple[str, str], list[str]] = defaultdict(list)
    rmw: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ref, _endpoint in ctx.endpoints:
        read: set[tuple[str, str]] = set()
        for site in ctx.flow.sites_of(ref):
            step = site.step
            if not (isinstance(step, CallStep) and step.query is not None
                    and isinstance(ctx.design.components.get(step.call), Database)):
                continue
            key = (step.call, step.query.table)
            if step.query.kind == "select":
                read.add(key)
            elif step.query.kind in ("update", "upsert"):
                safe = bool(step.query.atomic) or _locked(ctx, site)
                bucket = atomic if safe else writers
                if str(ref) not in bucket[key]:
                    bucket[key].append(str(ref))
                if not safe and key in read and str(ref) not in rmw[key]:
                    rmw[key].append(str(ref))
    for db_name, _db, name, table, path in every_table(ctx.design):
        key = (db_name, name)
        if key not in writers and key not in atomic:
            continue
        who, loops = writers.get(key, []), rmw.get(key, [])
        risky = len(who) >= 2 or bool(loops)
        why = []
        if len(who) >= 2:
            why.append(f"updated by {len(who)} endpoints ({', '.join(who)})")
        if loops:
            why.append(f"read then updated in {', '.join(loops)}")
        if table.version_column is not None:
            msg = (f"{name}: optimistic locking on {table.version_column}"
                   + (f" ({'; '.join(why)})" if why else ""))
            ok = True
        elif risky:
            msg = f"{name}: {'; '.join(why)} without a version column or ETag"
            ok = False
        else:
            parts = []
            if who:
                parts.append(f"updated only by {who[0]}, no read-before-write")
            if atomic.get(key):
                parts.append(f"atomic or lock-guarded updates from {', '.join(atomic[key])}")
            msg = f"{name}: {'; '.join(parts)}"
            ok = True
        yield ctx.finding(path, ok, msg, writers=who, read_modify_write=loops,
                          atomic_writers=atomic.get(key, []),
                          version_column=table.version_column)


# -- DK-DB-007 -----------------------------------------------------------------------------

_PATTERN = re.compile(r"leader.?board|ranking|high.?scores?|top.?scores|rate.?limit|"
                      r"throttl|quota", re.IGNORECASE)
_REDIS_OPS = re.compile(r"\b(Z(ADD|INCRBY|RANGE|REVRANGE|RANGEBYSCORE|REMRANGEBYSCORE|RANK|"
                        r"REVRANK|SCORE|COUNT|CARD|POPMIN|POPMAX)|INCR|INCRBY|DECR|DECRBY|"
                        r"EVAL|EVALSHA|FCALL|CL\.THROTTLE)\b", re.IGNORECASE)


def _suggests(ctx: Context) -> bool:
    """A table name or endpoint path names a leaderboard or a rate limit."""
    return (any(_PATTERN.search(name) for _, _, name, _, _ in every_table(ctx.design))
            or any(_PATTERN.search(ref.path) for ref, _ in ctx.endpoints))


def _is_redis(ctx: Context, name: str) -> bool:
    cache = ctx.design.components.get(name)
    return isinstance(cache, Cache) and any(
        e in cache.engine.lower() for e in ("redis", "valkey", "keydb", "dragonfly"))


@rule("DK-DB-007", "Redis structures for leaderboards and rate limits", "info", "auto",
      rationale="Top-N by score and per-key counters with expiry are what Redis sorted sets "
                "(ZADD/ZREVRANGE) and atomic counters (INCR + EXPIRE) do in O(log n) and "
                "O(1); in a relational table they are hot rows and ORDER BY scans.",
      remediation="Keep leaderboards in a sorted set and rate-limit counters in INCR/EXPIRE "
                  "(or a Lua script), with the database as the durable record if needed.",
      references=[Reference("Redis docs", "Sorted sets", "Redis sorted sets",
                            "https://redis.io/docs/latest/develop/data-types/sorted-sets/"),
                  Reference("Redis docs", "INCR", "Pattern: Rate limiter",
                            "https://redis.io/docs/latest/commands/incr/")],
      applies=_suggests)
def redis_structures(ctx: Context) -> Iterator[Finding]:
    """Heuristic, since the model has no access-pattern facts: applies only when a table name
    or endpoint path matches leaderboard/ranking/high-score/rate-limit/throttle/quota. Each
    such endpoint (or endpoint querying such a table): Redis op naming a sorted-set or
    counter command → pass; Redis without such an op → needs-attestation; no Redis → fail.
    A matching table no endpoint touches → needs-data."""
    tables = {(db, t) for db, _, t, _, _ in every_table(ctx.design) if _PATTERN.search(t)}
    touched: set[tuple[str, str]] = set()
    rates = ctx.memo(_rates)
    for ref, _endpoint in ctx.endpoints:
        steps = [site.step for site in ctx.flow.sites_of(ref)]
        hits = {(s.call, s.query.table) for s in steps if isinstance(s, CallStep)
                and s.query is not None and (s.call, s.query.table) in tables}
        touched |= hits
        if not hits and not _PATTERN.search(ref.path):
            continue
        redis = [(s.call, s.op) for s in steps
                 if isinstance(s, CallStep) and _is_redis(ctx, s.call)]
        redis += [(s.cache, s.op) for s in steps
                  if isinstance(s, CacheStep) and _is_redis(ctx, s.cache)]
        why = ("its path names a leaderboard/rate limit" if _PATTERN.search(ref.path)
               else f"it queries {', '.join(f'{d}.{t}' for d, t in sorted(hits))}")
        subject = endpoint_path(ref)
        ops = [op for _, op in redis if op and _REDIS_OPS.search(op)]
        if ops:
            yield ctx.finding(subject, True, f"{ref}: {why}; it uses Redis "
                              f"({', '.join(sorted({c for c, _ in redis}))}: {', '.join(ops)})")
        elif redis:
            yield ctx.finding(subject, Status.NEEDS_ATTESTATION,
                              f"{ref}: {why}; it calls Redis "
                              f"({', '.join(sorted({c for c, _ in redis}))}) but no op names a "
                              "sorted-set or counter command — attest the structure used")
        else:
            where = "; ".join(f"{d}.{t} {_n(rates.get((d, t), (0.0, 0.0))[0])} reads/s, "
                              f"{_n(rates.get((d, t), (0.0, 0.0))[1])} writes/s"
                              for d, t in sorted(hits))
            yield ctx.finding(subject, False,
                              f"{ref}: {why} (a name heuristic: the model has no access-"
                              "pattern facts); no Redis sorted set or counter serves it"
                              + (f" — {where}" if where else ""))
    for db_name, name in sorted(tables - touched):
        yield ctx.needs_data(table_path(db_name, name),
                             f"{name} looks like a leaderboard/rate limit by its name, but no "
                             "endpoint reads or writes it: model its access to judge it")


RULES: list[Rule] = [third_normal_form, index_types, read_heavy_denormalization, partitioning,
                     migrations, optimistic_locking, redis_structures, partition_unique_keys]
