"""Databases and their schema: tables, columns, indexes, partitioning."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from designkit.model.base import Strict
from designkit.model.bounds import (
    Connections,
    Micros,
    Millis,
    PositiveMillis,
    ReadReplicas,
    Rows,
    RowsPerDay,
    Servers,
)

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_POOL_SIZE", "DOCUMENT_ENGINES", "INDEX_SERVES",
           "Column", "Database", "Index", "IndexKind", "Partitioning", "Predicate", "Table",
           "index_serves"]

DEFAULT_POOL_SIZE = 10
"""Connections per client replica the estimate assumes when a database does not say."""
DEFAULT_MAX_CONNECTIONS = 100
"""Server connections the estimate assumes when a database does not say (PostgreSQL's)."""

_DOCUMENT_TYPES = ("json", "jsonb", "hstore", "xml", "tsvector", "tsquery")

IndexKind = Literal["btree", "hash", "gin", "gist", "brin", "fulltext"]
"""btree, hash, gin, gist, brin (PostgreSQL's), fulltext (MySQL's FULLTEXT, MongoDB's text
index); MongoDB's single-field/compound indexes are ``btree``, its hashed ones ``hash``."""

Predicate = Literal["equality", "range", "order", "contains", "nearest"]
"""What an index can serve: equality (``=``, ``IN``), a range (``<``, ``>``, ``BETWEEN``),
the order of a result, containment or text search (``@>``, ``&&``, ``@@``), nearest
neighbours (``ORDER BY col <-> $1``)."""

INDEX_SERVES: dict[str, frozenset[Predicate]] = {
    "btree": frozenset({"equality", "range", "order"}),
    "hash": frozenset({"equality"}),
    "gin": frozenset({"contains"}),
    "gist": frozenset({"contains", "range", "nearest"}),
    "brin": frozenset({"range"}),
    "fulltext": frozenset({"contains"}),
}
"""What each index kind can serve (PostgreSQL docs, "Index Types"): a B-tree equality on its
leading columns, then one range, then the order of the columns after them; a hash index
equality on its one column only; GIN containment; GiST containment, ranges and nearest
neighbours; BRIN a range on a column the rows are stored in the order of (coarse: it reads
whole block ranges); a full-text index text search."""

DOCUMENT_ENGINES = frozenset({"mongodb", "mongo", "documentdb", "cosmosdb", "couchbase"})
"""Engines that index arrays and nested documents with their regular indexes (multikey):
GIN and GiST are PostgreSQL's, and advice about them does not apply."""

_NONE: frozenset[Predicate] = frozenset()


def index_serves(engine: str, kind: str) -> frozenset[Predicate]:
    """What an index of ``kind`` serves on ``engine``: :data:`INDEX_SERVES` on PostgreSQL;
    on MySQL (InnoDB) a B-tree or a FULLTEXT index (``USING HASH`` builds a B-tree; GIN,
    GiST and BRIN do not exist); on a document store (:data:`DOCUMENT_ENGINES`) a regular
    index — multikey on an array — also serves containment, a hashed one equality, a text
    index text search, and GIN, GiST and BRIN do not exist.

    Example:
        >>> sorted(index_serves("mongodb", "btree"))
        ['contains', 'equality', 'order', 'range']
        >>> sorted(index_serves("mysql", "hash")), sorted(index_serves("mysql", "gin"))
        (['equality', 'order', 'range'], [])
    """
    name = engine.strip().lower()
    if name in DOCUMENT_ENGINES:
        if kind == "btree":
            return INDEX_SERVES["btree"] | {"contains"}
        return INDEX_SERVES[kind] if kind in ("hash", "fulltext") else _NONE
    if name in ("mysql", "mariadb"):
        if kind in ("btree", "hash"):
            return INDEX_SERVES["btree"]
        return INDEX_SERVES[kind] if kind == "fulltext" else _NONE
    return INDEX_SERVES[kind] if kind != "fulltext" or name not in ("postgres", "postgresql") \
        else _NONE


class Column(Strict):
    """A table column.

    Args:
        type: SQL type as written (uuid, int, text, jsonb, timestamptz…).
        primary_key: Part of the primary key.
        references: Foreign key, ``table.column`` (same database) or ``db.table.column``.
        nullable: NULL allowed.
        unique: A unique constraint on this column alone.
        sensitive: Holds a secret or personal data (passwords, tokens, card numbers…).
        denormalized: A deliberate copy of data held elsewhere.

    Example:
        >>> Column(type="uuid", references="users.id").references
        'users.id'
    """

    type: str = "text"
    primary_key: bool = False
    references: str | None = None
    nullable: bool = True
    unique: bool = False
    sensitive: bool = False
    denormalized: bool = False

    @property
    def document(self) -> bool:
        """Whether its type is JSON, an array or text search (``jsonb``, ``text[]``,
        ``tsvector``): a predicate on it is a containment test, a GIN/GiST index's business.

        Example:
            >>> (Column(type="jsonb").document, Column(type="uuid").document)
            (True, False)
        """
        kind = self.type.strip().lower().split("(")[0].strip()
        return (kind in _DOCUMENT_TYPES or self.type.strip().endswith("[]")
                or kind.startswith("array"))


class Index(Strict):
    """An index on one or more columns, leading column first.

    Example:
        >>> Index(columns=["user_id", "created_at"]).kind
        'btree'
    """

    columns: list[str] = Field(min_length=1)
    kind: IndexKind = "btree"
    unique: bool = False
    name: str | None = None

    @property
    def serves(self) -> frozenset[Predicate]:
        """What this index's kind can serve (:data:`INDEX_SERVES`).

        Example:
            >>> sorted(Index(columns=["email"], kind="hash").serves)
            ['equality']
        """
        return INDEX_SERVES[self.kind]


class Partitioning(Strict):
    """How a table is split: by range, hash or list of a key, across partitions or shards.

    Example:
        >>> Partitioning(key=["created_at"], kind="range").kind
        'range'
    """

    key: list[str] = Field(min_length=1)
    kind: Literal["range", "hash", "list"] = "range"
    shards: Servers | None = None


class Table(Strict):
    """A table: its size now, its growth, columns, indexes and partitioning.

    Args:
        rows: Rows now (``null``: not stated; estimated as empty).
        growth_per_day: Rows added per day (``null``: not stated; estimated as 0).
        columns: Columns by name.
        indexes: Indexes, leading column first.
        partitioning: How the table is split, if it is.
        version_column: The column for optimistic locking (``version``, ``etag``), if any.

    Example:
        >>> t = Table(rows=5_000_000, growth_per_day=100_000)
        >>> _ = t.column("id", "uuid", primary_key=True).column("user_id", "uuid")
        >>> _ = t.index("user_id")
        >>> (list(t.columns), t.indexes[0].columns)
        (['id', 'user_id'], ['user_id'])
    """

    rows: Rows | None = None
    growth_per_day: RowsPerDay | None = None
    columns: dict[str, Column] = Field(default_factory=dict)
    indexes: list[Index] = Field(default_factory=list)
    partitioning: Partitioning | None = None
    version_column: str | None = None

    def column(self, name: str, type: str = "text", **fields: Any) -> Table:
        """Declare column ``name`` (replacing an earlier one); returns the table to chain."""
        from designkit.model.problems import placed_at, validated

        self.columns[name] = validated(Column, {"type": type, **fields}, *placed_at(self),
                                       "columns", name)
        return self

    def index(self, *columns: str, kind: IndexKind = "btree", unique: bool = False,
              name: str | None = None) -> Table:
        """Declare an index on ``columns`` (replacing one on those columns); returns the table."""
        from designkit.model.problems import placed_at, validated

        index = validated(Index, {"columns": list(columns), "kind": kind, "unique": unique,
                                  "name": name}, *placed_at(self), "indexes")
        self.indexes = [i for i in self.indexes if i.columns != index.columns] + [index]
        return self


class Database(Strict):
    """A database server: CPU cores, connections, per-operation costs, and its tables.

    Args:
        kind: Always ``"database"``.
        engine: postgres, mysql, …
        cores: CPU cores (servers of the CPU station).
        max_connections: Connections the server accepts in all (``null``: not stated; the
            estimate assumes 100).
        pool_size: Connections in each client replica's pool (``null``: not stated; the
            estimate assumes 10).
        seek_ms: Time of one index seek (ms).
        scan_us_per_row: Time per row a scan visits (µs).
        row_ms: Time per further row a seek returns (an ``IN`` list, a range, a limit) (ms).
        write_ms: Time of one single-row insert/update/delete (ms), index upkeep included.
        write_row_ms: Time of each further row of a multi-row write (``batch``): the
            statement, its round trip and the commit's flush are ``write_ms``, once.
        read_replicas: Read-only replicas beside the primary.
        tables: Tables by name.
        migrations: Its migration scripts, relative to the design file: a folder of
            ``.sql`` files (run in name order) or a list of files. With the design's
            ``previous``, DK-DB-005 checks that they cover every schema change since.
        boundary: Bounded context / deployable unit it belongs to (diagram groups).
        zone: Network trust zone (public, dmz, private…), for diagrams and review.
        region: The region it runs in (a hop to another region costs
            ``network.cross_region_ms``).
        az: Its availability zone, or the zones its replicas spread over evenly (a hop
            between zones costs ``network.cross_zone_ms``, within one
            ``network.same_zone_ms``).

    Example:
        >>> db = Database(kind="database", cores=8, max_connections=200)
        >>> _ = db.table("orders", rows=5_000_000)
        >>> db.tables["orders"].rows
        5000000
    """

    kind: Literal["database"]
    description: str | None = None
    engine: str = "postgres"
    cores: Servers = 4
    max_connections: Connections | None = None
    pool_size: Servers | None = None
    seek_ms: PositiveMillis = 0.5
    scan_us_per_row: Micros = 0.05
    row_ms: Millis = 0.02
    write_ms: PositiveMillis = 1.0
    write_row_ms: Millis = 0.05
    read_replicas: ReadReplicas = 0
    boundary: str | None = None
    zone: str | None = None
    region: str | None = None
    az: str | list[str] | None = None
    tables: dict[str, Table] = Field(default_factory=dict)
    migrations: str | list[str] | None = None

    def table(self, name: str, **fields: Any) -> Table:
        """Declare table ``name``, or update the fields given of an existing one.

        Existing columns and indexes are kept unless ``columns``/``indexes`` are given.
        """
        from designkit.model.problems import placed_at, upsert

        return upsert(self.tables, name, Table, fields, *placed_at(self), "tables")

    @property
    def outbox_table(self) -> str | None:
        """The table a transactional outbox writes to: ``outbox``, else the one table
        whose name ends in ``outbox`` (``order_outbox``); ``None`` when there is none (or
        several such and no ``outbox``).

        Example:
            >>> Database(kind="database", tables={"order_outbox": {}}).outbox_table
            'order_outbox'
        """
        if "outbox" in self.tables:
            return "outbox"
        found = [name for name in self.tables if name.lower().endswith("outbox")]
        return found[0] if len(found) == 1 else None
