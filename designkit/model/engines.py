"""The numbers a design leaves out, per engine, and where each comes from.

A component that does not state a time (a cache's ``service_ms``, a database's
``seek_ms``…) gets its engine's default — :data:`ENGINE_DEFAULTS`, each with its source —
else designkit's generic one (the field's default). :func:`setting` reads a component's
value the way the estimator does; :func:`assumptions` lists every default a design relies
on (:func:`designkit.estimate.assumptions.assumptions`), so a review can say which numbers
are measured and which are guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from designkit.model.times import Time

__all__ = ["ENGINE_DEFAULTS", "GENERIC", "POOL", "RELIED_ON", "Default", "engine_default",
           "setting"]


@dataclass(frozen=True)
class Default:
    """An engine's default for one setting, and where it comes from."""

    value: float
    source: str


_REDIS = ("redis.io's benchmarks measure 100,000+ simple GET/SET per second on one instance "
          "without pipelining (~0.01 ms of server time each); 0.1 ms leaves room for larger "
          "values and client overhead. Measure yours: INFO commandstats, usec_per_call")
_POSTGRES_SEEK = ("a B-tree descent and a heap fetch on warm buffers, with planning and "
                  "executor overhead; EXPLAIN (ANALYZE, BUFFERS) gives yours")
_POSTGRES_WRITE = ("one row written with its index entries and the commit's WAL flush "
                   "(synchronous_commit on, a local SSD); pg_stat_statements gives yours")

ENGINE_DEFAULTS: dict[tuple[str, str], dict[str, Default]] = {
    ("cache", "redis"): {"service_ms": Default(0.1, _REDIS)},
    ("cache", "valkey"): {"service_ms": Default(0.1, _REDIS + " (Valkey is Redis's fork)")},
    ("cache", "memcached"): {"service_ms": Default(
        0.1, "memcached serves a GET from one hash lookup in memory, like Redis's (its own "
             "benchmarks run to hundreds of thousands per second); stats gives cmd_get")},
    ("queue", "kafka"): {"service_ms": Default(
        1.0, "a produce acknowledged by the partition's leader after its in-sync replicas "
             "(acks=all) on a local network; Kafka states no figure — Confluent's 2020 "
             "benchmark reports produce p99 ≈ 5 ms at 200 MB/s. Measure: "
             "request-latency-avg of the producer")},
    ("queue", "rabbitmq"): {"service_ms": Default(
        1.0, "a publish with publisher confirms on a durable queue (RabbitMQ's documentation: "
             "confirms wait for the message to be written to disk); without confirms it is "
             "far less")},
    ("queue", "sqs"): {"service_ms": Default(
        20.0, "an SQS SendMessage is an HTTPS call to a regional service: tens of ms (AWS "
              "states no figure; 10–30 ms round trips are the common measurement)")},
    ("database", "postgres"): {
        "seek_ms": Default(0.5, _POSTGRES_SEEK),
        "row_ms": Default(0.02, "each further row of an index range read on warm buffers"),
        "scan_us_per_row": Default(0.05, "a sequential scan of narrow rows in shared buffers "
                                         "(~20 M rows/s per core)"),
        "write_ms": Default(1.0, _POSTGRES_WRITE),
        "write_row_ms": Default(0.05, "each further row of a multi-row write: the "
                                      "statement, its round trip and WAL flush are paid once"),
    },
}
ENGINE_DEFAULTS[("database", "mysql")] = {
    **ENGINE_DEFAULTS[("database", "postgres")],
    "seek_ms": Default(0.5, "an InnoDB lookup: a secondary index's B-tree, then the "
                            "clustered index's (two descents) on a warm buffer pool"),
    "write_ms": Default(1.0, "one row written with the redo log flushed at commit "
                             "(innodb_flush_log_at_trx_commit=1, a local SSD)"),
}
"""(kind, engine) → setting → its default and source (docs/estimator.md, "Defaults")."""

RELIED_ON: dict[str, tuple[str, ...]] = {
    "service": ("replicas", "workers"),
    "database": ("cores", "pool_size", "seek_ms", "row_ms", "scan_us_per_row", "write_ms",
                 "write_row_ms"),
    "cache": ("service_ms", "hit_ratio"),
    "queue": ("service_ms", "partitions"),
    "external": ("latency_ms",),
    "lock": ("acquire_ms",),
}
"""The settings of each kind that move the estimate, whose defaults are listed (a
database's costs only where its queries use them)."""

GENERIC = "designkit's generic default (state it for this component)"
POOL = ("connections per client replica: HikariCP's default maximumPoolSize, and a common "
         "default of other pools")


def setting(component: Any, name: str) -> Any:
    """``component``'s ``name`` as the estimator uses it: the stated value, else its
    engine's default, else the field's.

    Example:
        >>> from designkit.model.components import Queue
        >>> setting(Queue(kind="queue", engine="sqs"), "service_ms")
        Time(mean=20)
        >>> setting(Queue(kind="queue", engine="sqs", service_ms=5), "service_ms")
        Time(mean=5)
    """
    value = getattr(component, name)
    if name in component.model_fields_set:
        return value
    found = engine_default(component, name)
    if found is None:
        return value
    # a time is made afresh: model parts are mutable, and a shared one could be edited
    return Time(mean=found.value) if isinstance(value, Time) else float(found.value)


def engine_default(component: Any, name: str) -> Default | None:
    """``component``'s engine's default for ``name``, if the table has one."""
    engine = getattr(component, "engine", None)
    if not isinstance(engine, str):
        return None
    table = ENGINE_DEFAULTS.get((component.kind, engine)) or ENGINE_DEFAULTS.get(
        (component.kind, engine.lower()))
    return None if table is None else table.get(name)
