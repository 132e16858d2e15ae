"""Caches, queues, external APIs and locks; and the ``Component`` union keyed by ``kind``."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from designkit.model.base import Strict
from designkit.model.bounds import Megabytes, Millis, PositiveMillis, Ratio, Seconds, Servers
from designkit.model.database import Database
from designkit.model.resilience import CircuitBreaker, Retries
from designkit.model.service import Service
from designkit.model.times import Time

__all__ = ["KINDS", "Cache", "Component", "External", "Lock", "Queue"]

KINDS = ("service", "database", "cache", "queue", "external", "lock")


class Cache(Strict):
    """A cache cluster (Redis, Memcached…).

    Args:
        kind: Always ``"cache"``.
        engine: redis | memcached | …
        servers: Servers (shards) serving requests in parallel.
        service_ms: Time of one operation.
        hit_ratio: Share of reads served from the cache, 0–1.
        strategy: cache-aside | read-through | write-through | write-behind.
        ttl_s: Time to live of an entry (s).
        invalidation: How entries are invalidated on writes (ttl, event, write-through…).
        max_memory_mb: Memory limit.
        eviction: Eviction policy (allkeys-lru, volatile-ttl…; Redis's default is
            noeviction).
        persistence: What survives a restart: none | snapshot (RDB: the last snapshot) |
            aof (append-only file, fsync every second: up to a second of writes lost) |
            aof-always (fsync on every write).
        boundary: Bounded context / deployable unit it belongs to (diagram groups).
        zone: Network trust zone (public, dmz, private…), for diagrams and review.
        region: The region it runs in (a hop to another region costs
            ``network.cross_region_ms``).
        az: Its availability zone, or the zones its replicas spread over evenly (a hop
            between zones costs ``network.cross_zone_ms``, within one
            ``network.same_zone_ms``).

    Example:
        >>> Cache(kind="cache", hit_ratio=0.95).servers
        1
    """

    kind: Literal["cache"]
    description: str | None = None
    engine: str = "redis"
    servers: Servers = 1
    service_ms: Time = Field(default_factory=lambda: Time(mean=0.1))
    hit_ratio: Ratio = 0.9
    strategy: Literal["cache-aside", "read-through", "write-through", "write-behind"] | None = None
    ttl_s: Seconds | None = None
    invalidation: str | None = None
    max_memory_mb: Megabytes | None = None
    eviction: str | None = None
    persistence: Literal["none", "snapshot", "aof", "aof-always"] | None = None
    boundary: str | None = None
    zone: str | None = None
    region: str | None = None
    az: str | list[str] | None = None


PARTITIONED_ENGINES = frozenset({"kafka", "redpanda", "kinesis", "event-hubs", "eventhubs",
                                 "msk", "confluent"})
"""Engines whose topics are partitions consumed in order, one consumer per partition."""


class Queue(Strict):
    """A message broker topic or queue (Kafka, RabbitMQ, SQS…).

    Args:
        kind: Always ``"queue"``.
        engine: kafka | rabbitmq | sqs | …
        partitions: Partitions (Kafka) or queues; the broker's parallelism.
        service_ms: Broker time to accept one message.
        handler: The endpoint that consumes each message, ``"svc METHOD /path"``.
        consumers: Messages processed at once, in all (default: partitions). On a
            partitioned engine (Kafka, Redpanda, Kinesis…) one partition's messages are
            taken one at a time, so at most ``partitions`` of them work unless ``ordering``
            is ``key``.
        ordering: What a partitioned engine's consumers keep in order: ``partition`` (one
            message of a partition at a time, the default) or ``key`` (parallel consumers
            that only keep one key's messages in order, several per partition).
        ack: When a consumer acknowledges a message: after-commit | before-processing | auto.
        boundary: Bounded context / deployable unit it belongs to (diagram groups).
        zone: Network trust zone (public, dmz, private…), for diagrams and review.
        region: The region it runs in (a hop to another region costs
            ``network.cross_region_ms``).
        az: Its availability zone, or the zones its replicas spread over evenly (a hop
            between zones costs ``network.cross_zone_ms``, within one
            ``network.same_zone_ms``).

    Example:
        >>> Queue(kind="queue", engine="kafka", partitions=12).partitions
        12
    """

    kind: Literal["queue"]
    description: str | None = None
    engine: str = "kafka"
    partitions: Servers = 1
    service_ms: Time = Field(default_factory=lambda: Time(mean=1.0))
    handler: str | None = None
    consumers: Servers | None = None
    ordering: Literal["partition", "key"] = "partition"
    ack: Literal["after-commit", "before-processing", "auto"] | None = None
    boundary: str | None = None
    zone: str | None = None
    region: str | None = None
    az: str | list[str] | None = None

    @property
    def partitioned(self) -> bool:
        """Whether the engine splits the topic into partitions, each consumed in order
        by one consumer (Kafka and its kin), rather than one queue shared by competing
        consumers (RabbitMQ, SQS…)."""
        return self.engine.lower().replace("_", "-") in PARTITIONED_ENGINES

    @property
    def consumer_slots(self) -> tuple[int, int]:
        """How its messages are consumed: ``(slots, queues)`` — ``queues`` queues of
        messages (a partition's, or one shared queue), each taken ``slots`` at a time.

        Example:
            >>> Queue(kind="queue", partitions=12, consumers=4).consumer_slots
            (1, 4)
            >>> Queue(kind="queue", partitions=48, consumers=192, ordering="key").consumer_slots
            (4, 48)
            >>> Queue(kind="queue", engine="rabbitmq", consumers=8).consumer_slots
            (8, 1)
        """
        slots = self.consumers or self.partitions
        if not self.partitioned:
            return slots, 1
        if self.ordering == "key" and slots >= self.partitions:
            return slots // self.partitions, self.partitions
        return 1, min(slots, self.partitions)


class External(Strict):
    """A third-party API outside the system (payment provider, email, …).

    Args:
        kind: Always ``"external"``.
        latency_ms: Its response time.
        timeout_ms: The caller's timeout on it.
        retries: Retry policy of callers.
        circuit_breaker: A breaker in front of it (``true`` for the defaults).
        failure_rate: Share of calls that fail, 0–1.
        availability: Share of calls that succeed (0.999: three nines) — the same fact as
            ``failure_rate`` (1 − availability), as an SLA states it; give one of the two.
        concurrency: Concurrent calls it accepts from us (``None`` = unbounded).

    Example:
        >>> ext = External(kind="external", latency_ms={"p50": 120, "p95": 400})
        >>> ext.latency_ms
        Time(p50=120, p95=400)
    """

    kind: Literal["external"]
    description: str | None = None
    latency_ms: Time = Field(default_factory=lambda: Time(mean=100.0))
    timeout_ms: PositiveMillis | None = None
    retries: Retries | None = None
    circuit_breaker: CircuitBreaker | None = None
    failure_rate: Ratio = 0.0
    availability: Ratio | None = None
    concurrency: Servers | None = None
    boundary: str | None = None
    zone: str | None = None


class Lock(Strict):
    """A mutual-exclusion lock: one holder at a time, so throughput ≤ 1 / hold time.

    Args:
        kind: Always ``"lock"``.
        engine: row | advisory | redis | zookeeper | …
        acquire_ms: Time to take and release the lock, beyond the work it wraps.
        keys: Distinct keys it locks (a row per seat, an advisory lock per SKU): the
            acquisitions spread evenly over them, each key one holder at a time — 3,000
            holds/s over 50,000 seats do not wait for one another. A hot key (one SKU
            everybody buys) is a lock of its own with ``keys: 1``, or ``hot_key_share``.
        hot_key_share: The share of acquisitions on the hottest key (at least
            ``1 / keys``); the others spread evenly over the other keys. 0.3 of 3,000
            holds/s on one SKU is 900 holds/s through one holder at a time.
        boundary: Bounded context / deployable unit it belongs to (diagram groups).
        zone: Network trust zone (public, dmz, private…), for diagrams and review.
        region: The region it runs in (a hop to another region costs
            ``network.cross_region_ms``).
        az: Its availability zone, or the zones its replicas spread over evenly (a hop
            between zones costs ``network.cross_zone_ms``, within one
            ``network.same_zone_ms``).

    Example:
        >>> Lock(kind="lock", engine="row").engine
        'row'
        >>> Lock(kind="lock", keys=1000, hot_key_share=0.3).hot_key_share
        0.3
    """

    kind: Literal["lock"]
    description: str | None = None
    engine: str = "row"
    acquire_ms: Millis = 0.0
    keys: Servers = 1
    hot_key_share: Ratio | None = None
    boundary: str | None = None
    zone: str | None = None
    region: str | None = None
    az: str | list[str] | None = None


Component = Annotated[
    Union[Service, Database, Cache, Queue, External, Lock],  # noqa: UP007
    Field(discriminator="kind"),
]
"""Any component of a design, chosen by its ``kind`` key."""
