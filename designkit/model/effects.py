"""What a call does to the data it touches: a read, a write, or a change made safely.

A cache call's effect is read from its ``op`` when it starts with a Redis, Valkey or
Memcached command (``GET stock:{sku}``, ``DECR stock:{sku}``, ``SET idem:{k} NX``), or
stated with ``does:``; a database call's from its query (``select``, ``for_update``,
``atomic``, a ``where`` on the table's version column).

Effects:

- ``read``: reads the value (``GET``, ``SELECT``).
- ``locking-read``: reads it and holds it until the transaction ends
  (``SELECT … FOR UPDATE``).
- ``watch``: starts an optimistic check of the key (``WATCH``: a later ``EXEC`` fails if
  the key changed).
- ``write``: replaces the value with one computed by the caller (``SET``, ``UPDATE … SET
  n = $value``): safe only when nothing read it first, or a guard holds.
- ``atomic``: changes the value in place, in one step (``DECR``, ``INCRBY``, a script,
  ``UPDATE … SET n = n - 1 WHERE n >= 1``).
- ``claim``: sets it only when absent (``SET … NX``, ``SETNX``, memcached ``add``).
- ``versioned-write``: writes only if the value is unchanged since it was read (memcached
  ``cas``, ``UPDATE … WHERE version = $read``).
- ``create``: inserts a new row (no earlier value to lose).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from designkit.model.database import Database
from designkit.model.query import Query

__all__ = ["EFFECTS", "Access", "Effect", "cache_access", "query_effect"]

Effect = Literal["read", "locking-read", "watch", "write", "atomic", "claim",
                 "versioned-write", "create"]
EFFECTS: tuple[Effect, ...] = ("read", "locking-read", "watch", "write", "atomic", "claim",
                               "versioned-write", "create")

_READS = {"GET", "MGET", "HGET", "HMGET", "HGETALL", "EXISTS", "TTL", "PTTL", "STRLEN",
          "LRANGE", "LLEN", "SMEMBERS", "SISMEMBER", "SCARD", "ZRANGE", "ZSCORE", "ZCARD",
          "ZRANK", "ZREVRANGE", "GETS", "HEXISTS", "HLEN", "HKEYS", "HVALS", "GETRANGE"}
_WRITES = {"SET", "MSET", "HSET", "HMSET", "SETEX", "PSETEX", "DEL", "UNLINK", "EXPIRE",
           "PEXPIRE", "REPLACE", "APPEND", "SETRANGE", "RENAME", "LSET", "HDEL"}
_ATOMIC = {"INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT", "HINCRBY", "HINCRBYFLOAT",
           "ZINCRBY", "EVAL", "EVALSHA", "FCALL", "GETSET", "GETDEL", "GETEX", "LPUSH",
           "RPUSH", "LPOP", "RPOP", "SADD", "SREM", "ZADD", "ZREM", "SPOP", "LMOVE",
           "BLMOVE", "RPOPLPUSH", "PFADD", "XADD", "TOUCH", "PREPEND"}
_CLAIMS = {"SETNX", "HSETNX", "ADD", "MSETNX"}
_VERSIONED = {"CAS"}
_WATCH = {"WATCH"}
_EFFECT_OF: dict[str, Effect] = {
    **dict.fromkeys(_READS, "read"), **dict.fromkeys(_WRITES, "write"),
    **dict.fromkeys(_ATOMIC, "atomic"), **dict.fromkeys(_CLAIMS, "claim"),
    **dict.fromkeys(_VERSIONED, "versioned-write"), **dict.fromkeys(_WATCH, "watch")}
"""Each command the model knows, by its effect."""


class Access(NamedTuple):
    """One call's effect on one key of a cache (or one table of a database).

    Attributes:
        effect: What it does (see the module's list); ``None``: the ``op`` is not a
            command the model knows and ``does`` is not given.
        key: The key it names, lower-cased (a cache), or the table (a database).
        command: The command word as written, upper-cased (``DECR``), or the query kind.
    """

    effect: Effect | None
    key: str | None
    command: str | None


def cache_access(op: str | None, does: Effect | None = None) -> Access:
    """The effect and key of a cache call from its ``op`` (``does`` wins when given).

    Example:
        >>> cache_access("DECR stock:{sku}")
        Access(effect='atomic', key='stock:{sku}', command='DECR')
        >>> cache_access("SET idem:{user}:{key} NX EX 86400").effect
        'claim'
        >>> cache_access("GET stock:{sku}").effect, cache_access("take one", "atomic").effect
        ('read', 'atomic')
    """
    words = (op or "").split()
    command = words[0].upper() if words else None
    key = words[1].lower() if len(words) > 1 else None
    if command in ("EVAL", "EVALSHA", "FCALL"):
        key = None  # a script's keys follow its body and their count
    if does is not None:
        return Access(does, key, command)
    if command == "SET" and "NX" in {w.upper() for w in words[2:]}:
        return Access("claim", key, command)
    return Access(_EFFECT_OF.get(command or ""), key, command)


def query_effect(query: Query, database: Database | None) -> Effect:
    """What a statement does to its table's rows.

    An ``update``/``upsert``/``delete`` is ``atomic`` when ``query.atomic`` says it changes
    the value in place, ``versioned-write`` when its ``where`` tests the table's
    ``version_column``, else ``write``.

    Example:
        >>> query_effect(Query(table="stock", kind="update", where=["sku_id"], atomic=True),
        ...              None)
        'atomic'
        >>> query_effect(Query(table="stock", kind="select", where=["sku_id"],
        ...                    for_update=True), None)
        'locking-read'
    """
    if query.kind == "select":
        return "locking-read" if query.for_update else "read"
    if query.kind == "insert":
        return "create"
    if query.atomic:
        return "atomic"
    table = database.tables.get(query.table) if database is not None else None
    if table is not None and table.version_column is not None \
            and table.version_column in query.where:
        return "versioned-write"
    return "write"
