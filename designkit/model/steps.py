"""The steps an endpoint executes, in order: calls, transactions, locks, loops, caches…

A step is a mapping with exactly one of the keys ``call``, ``transaction``, ``lock``,
``parallel``, ``loop``, ``cache`` or ``publish``; that key decides its type. Steps that
wrap other steps (transaction, lock, loop, cache-aside, parallel branches) are *step
containers*: the builder methods of :class:`StepBuilder` add steps to them.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, Discriminator, Field, Tag

from designkit.model.base import Strict
from designkit.model.bounds import Count, PositiveMillis, Ratio
from designkit.model.effects import Effect
from designkit.model.query import Query
from designkit.model.resilience import Retries
from designkit.model.times import Time

__all__ = [
    "STEP_KEYS",
    "CacheStep",
    "CallStep",
    "LockStep",
    "Loop",
    "LoopStep",
    "ParallelStep",
    "PublishStep",
    "Step",
    "StepBuilder",
    "TransactionStep",
    "step_kind",
]

_M = TypeVar("_M", bound=BaseModel)

STEP_KEYS = ("call", "transaction", "lock", "parallel", "loop", "cache", "publish")


def step_kind(value: Any) -> str | None:
    """The type of a step: the one step key it holds, else ``None``.

    Example:
        >>> step_kind({"call": "orders-db", "count": 2})
        'call'
    """
    if isinstance(value, dict):
        present = [k for k in STEP_KEYS if k in value]
        return present[0] if len(present) == 1 else None
    cls = type(value)
    if cls not in _KIND_OF_CLASS:  # a step model: its kind is its class's (asked per dump)
        fields = getattr(cls, "model_fields", {})
        present = [k for k in STEP_KEYS if k in fields]
        _KIND_OF_CLASS[cls] = present[0] if len(present) == 1 else None
    return _KIND_OF_CLASS[cls]


_KIND_OF_CLASS: dict[type, str | None] = {}


class _Steps:
    """The list that a step container's builder methods append to, and where it is."""

    def _step_list(self) -> list[Step]:
        return self.steps  # type: ignore[attr-defined,no-any-return]

    def _list_path(self) -> tuple[str | int, ...]:
        from designkit.model.problems import placed_at

        return (*placed_at(self), "steps")

    def _add(self, model: type[_M], data: dict[str, Any] | None = None,
             step: _M | None = None) -> _M:
        """Append a step (validated from ``data``, or ``step`` as built); it remembers its
        path, so an error in it or in what is added to it later names the place."""
        from designkit.model.problems import place, validated

        steps = self._step_list()
        path = (*self._list_path(), len(steps))
        new = validated(model, data, *path) if step is None else step
        steps.append(new)  # type: ignore[arg-type]
        return place(new, path)


class _AddsCalls(_Steps):
    def call(
        self,
        target: str,
        *,
        op: str | None = None,
        query: Query | dict[str, Any] | None = None,
        service_ms: Time | float | dict[str, float] | None = None,
        count: float = 1,
        timeout_ms: float | None = None,
        retries: Retries | dict[str, Any] | None = None,
        failure_rate: float | None = None,
        fallback: list[Any] | None = None,
    ) -> Any:
        """Append a call to a component (or ``"svc METHOD /path"``); returns this container.
        ``fallback``: the steps run instead of failing when the call fails (mappings or
        step models)."""
        data: dict[str, Any] = {"call": target, "count": count}
        for key, value in (("op", op), ("query", query), ("service_ms", service_ms),
                           ("timeout_ms", timeout_ms), ("retries", retries),
                           ("failure_rate", failure_rate), ("fallback", fallback)):
            if value is not None:
                data[key] = value
        self._add(CallStep, data)
        return self

    def publish(self, queue: str, *, count: float = 1, outbox: bool = False) -> Any:
        """Append a publish of a message to a queue; returns this container."""
        data = {"publish": queue, "count": count, "outbox": outbox}
        self._add(PublishStep, data)
        return self

    def parallel(self, branches: int = 2) -> ParallelStep:
        """Append ``branches`` concurrent branches; fill them with ``.branch(i)``."""
        return self._add(ParallelStep, step=ParallelStep(parallel=[[] for _ in range(branches)]))


class _AddsTransactions(_Steps):
    def transaction(self, database: str) -> TransactionStep:
        """Append a transaction on ``database``; returns it to add the steps inside."""
        return self._add(TransactionStep, step=TransactionStep(transaction=database))


class _AddsLocks(_Steps):
    def lock(self, lock: str) -> LockStep:
        """Append a lock held around its steps; returns it to add the steps inside."""
        return self._add(LockStep, step=LockStep(lock=lock))


class _AddsLoops(_Steps):
    def loop(self, count: float) -> LoopStep:
        """Append a loop of ``count`` iterations; returns it to add the loop body."""
        return self._add(LoopStep, {"loop": {"count": count}})


class _AddsCaches(_Steps):
    def cache(self, cache: str, *, op: str | None = None,
              hit_ratio: float | None = None) -> CacheStep:
        """Append a cache-aside read; returns it to add the steps run on a miss."""
        return self._add(CacheStep, {"cache": cache, "op": op, "hit_ratio": hit_ratio})


class StepBuilder(_AddsCalls, _AddsTransactions, _AddsLocks, _AddsLoops, _AddsCaches):
    """Builder methods of everything that holds a list of steps.

    Each method appends a step and returns either the container itself (``call``,
    ``publish``: chain them) or the new nested container (``transaction``, ``lock``,
    ``loop``, ``cache``, ``parallel``: add its inner steps to it). A container does not
    offer the method named like its own key (``tx.transaction`` is the database name).

    Example:
        >>> import designkit as dk
        >>> ep = dk.Endpoint()
        >>> _ = ep.call("stock-cache", op="DECR stock").publish("order-events")
        >>> tx = ep.transaction("orders-db")
        >>> _ = tx.call("orders-db", query=dk.Query(table="orders", kind="insert"))
        >>> [dk.step_kind(s) for s in ep.steps]
        ['call', 'publish', 'transaction']
    """


class CallStep(Strict):
    """A synchronous call to a component, or to another service's endpoint.

    Args:
        call: A component name, or ``"svc METHOD /path"`` for a service endpoint.
        op: What the call does at the target (``DECR stock:{sku}``, ``GET``). A cache
            call starting with a Redis/Memcached command is read for its effect and key
            (:mod:`designkit.model.effects`): ``GET`` then ``SET`` of one key is a
            read-modify-write, ``DECR`` is atomic.
        does: Its effect when ``op`` does not say it in a command the model knows:
            read | locking-read | watch | write | atomic | claim | versioned-write | create.
        idempotency_key: The call forwards the caller's idempotency key to the target
            (the provider's ``Idempotency-Key`` header): a repeated call has no second
            effect.
        query: The statement, when the target is a database.
        service_ms: Time the target spends on this call; overrides the derived time.
        count: Calls per execution of this step (may be fractional: 0.2 = one in five).
        timeout_ms: The caller's timeout on this call.
        retries: The caller's retry policy for this call (overrides the target's).
        failure_rate: For a call of another service's endpoint: the share of these calls
            that fail beyond what the callee's own model says (it is down, it drops the
            connection), after the caller's retries; adds no load.
        fallback: What the caller does when this call fails (after its retries, timeouts
            or an open breaker): these steps instead of failing — a stale copy from a
            cache, a default answer (an empty list: degrade, with no extra work). The
            request fails only when the fallback fails.

    Example:
        >>> CallStep(call="stock-cache", op="DECR stock", service_ms=0.1).service_ms
        Time(mean=0.1)
        >>> CallStep(call="recs-api", fallback=[{"call": "recs-cache"}]).fallback[0].call
        'recs-cache'
    """

    call: str
    op: str | None = None
    does: Effect | None = None
    idempotency_key: bool | None = None
    query: Query | None = None
    service_ms: Time | None = None
    count: Count = 1.0
    timeout_ms: PositiveMillis | None = None
    retries: Retries | None = None
    failure_rate: Ratio | None = None
    fallback: list[Step] | None = None


class PublishStep(Strict):
    """Publish a message to a queue; the consumer's work is not part of this request.

    Args:
        publish: The queue component.
        count: Messages per execution of this step.
        outbox: Written through a transactional outbox (publish-after-commit).

    Example:
        >>> PublishStep(publish="order-events").count
        1.0
    """

    publish: str
    count: Count = 1.0
    outbox: bool = False


class TransactionStep(Strict, _AddsCalls, _AddsLocks, _AddsLoops, _AddsCaches):
    """One connection from the pool and one database transaction held around its steps.

    Example:
        >>> TransactionStep(transaction="orders-db").call("orders-db", service_ms=1).steps[0].call
        'orders-db'
    """

    transaction: str
    steps: list[Step] = Field(default_factory=list)


class LockStep(Strict, _AddsCalls, _AddsTransactions, _AddsLoops, _AddsCaches):
    """Mutual exclusion held around its steps (a single-server station).

    Example:
        >>> LockStep(lock="sku-lock").lock
        'sku-lock'
    """

    lock: str
    steps: list[Step] = Field(default_factory=list)


class Loop(Strict):
    """The body of a loop: ``count`` iterations of ``steps``, one after another.

    Example:
        >>> Loop(count=50).count
        50.0
    """

    count: Count
    steps: list[Step] = Field(default_factory=list)


class LoopStep(Strict, _AddsCalls, _AddsTransactions, _AddsLocks, _AddsCaches):
    """A loop of ``loop.count`` sequential iterations of ``loop.steps``.

    Example:
        >>> LoopStep(loop=Loop(count=3)).call("catalog-db", service_ms=1).loop.steps[0].call
        'catalog-db'
    """

    loop: Loop

    def _step_list(self) -> list[Step]:
        return self.loop.steps

    def _list_path(self) -> tuple[str | int, ...]:
        from designkit.model.problems import placed_at

        return (*placed_at(self), "loop", "steps")


class CacheStep(Strict, _AddsCalls, _AddsTransactions, _AddsLocks, _AddsLoops):
    """A cache-aside read: a hit ends here, a miss runs ``on_miss`` (then fills the cache).

    Args:
        cache: The cache component.
        op: The cache operation, for humans.
        hit_ratio: Hit ratio of this access pattern; defaults to the cache's.
        on_miss: Steps run on a miss.

    Example:
        >>> CacheStep(cache="product-cache").call("catalog-db", service_ms=2).on_miss[0].call
        'catalog-db'
    """

    cache: str
    op: str | None = None
    hit_ratio: Ratio | None = None
    on_miss: list[Step] = Field(default_factory=list)

    def _step_list(self) -> list[Step]:
        return self.on_miss

    def _list_path(self) -> tuple[str | int, ...]:
        from designkit.model.problems import placed_at

        return (*placed_at(self), "on_miss")


class _Branch(StepBuilder):
    """Builder over one branch of a parallel step."""

    def __init__(self, steps: list[Step], path: tuple[str | int, ...] = ()) -> None:
        self.steps = steps
        self.path = path

    def _list_path(self) -> tuple[str | int, ...]:
        return self.path

    def __repr__(self) -> str:
        return f"Branch({len(self.steps)} steps)"


class ParallelStep(Strict):
    """Branches that run concurrently; the step ends when the slowest branch ends.

    Example:
        >>> par = ParallelStep(parallel=[[], []])
        >>> _ = par.branch(0).call("pricing-svc GET /prices/{id}")
        >>> _ = par.branch(1).call("stock-cache", op="GET")
        >>> [len(b) for b in par.parallel]
        [1, 1]
    """

    parallel: list[list[Step]] = Field(min_length=1)

    def branch(self, index: int) -> _Branch:
        """The builder of branch ``index`` (0-based)."""
        from designkit.model.problems import placed_at

        return _Branch(self.parallel[index], (*placed_at(self), "parallel", index))


def _tag(value: Any) -> str | None:
    return step_kind(value)


Step = Annotated[
    Union[  # noqa: UP007 - a tagged union needs the Union form
        Annotated[CallStep, Tag("call")],
        Annotated[TransactionStep, Tag("transaction")],
        Annotated[LockStep, Tag("lock")],
        Annotated[ParallelStep, Tag("parallel")],
        Annotated[LoopStep, Tag("loop")],
        Annotated[CacheStep, Tag("cache")],
        Annotated[PublishStep, Tag("publish")],
    ],
    Discriminator(
        _tag,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of: " + ", ".join(STEP_KEYS),
    ),
]

for _model in (CallStep, TransactionStep, LockStep, Loop, CacheStep, ParallelStep):
    _model.model_rebuild()
