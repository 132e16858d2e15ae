"""Rules about indexes and keys: the index a predicate needs, of a kind the engine has
(DK-DB-002), and unique keys a partitioned table can enforce (DK-DB-008)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from designkit.assess.context import Context
from designkit.assess.finding import Finding
from designkit.assess.rule import Reference, rule
from designkit.assess.rules._refs import CWE_SEQUENTIAL_SEARCH
from designkit.assess.rules._schema import (
    PG_DOCS,
    SCALAR,
    TEMPORAL,
    base_type,
    database_calls,
    engine_family,
    every_table,
    is_document,
)
from designkit.flow.plan import plan_query
from designkit.model.database import Database, Table, index_serves
from designkit.model.query import Query
from designkit.model.steps import CallStep
from designkit.text import number as _n

__all__ = ["index_types", "partition_unique_keys"]


# -- DK-DB-002 -----------------------------------------------------------------------------

_SERIAL = ("serial", "bigserial", "smallserial")


def _missing_kind(db: Database, kind: str, cols: str) -> str:
    """The advice for an index kind ``db``'s engine does not have."""
    engine = engine_family(db)
    if engine == "document":
        return (f"{kind} index on ({cols}): {db.engine} has no {kind.upper()}; a regular index "
                "on an array field is multikey, and text search takes a text index")
    if engine == "mysql":
        return (f"{kind} index on ({cols}): MySQL (InnoDB) has no {kind.upper()}; it has "
                "B-tree indexes (multi-valued ones for JSON arrays) and FULLTEXT for text "
                "search")
    return (f"{kind} index on ({cols}): {db.engine} has no {kind} index; index a tsvector "
            "column with GIN for text search")


def _index_problems(db: Database, table: Table, mine: list[tuple[str, CallStep]]
                    ) -> Iterator[str]:
    """What is wrong with ``table``'s declared indexes on ``db``'s engine."""
    engine = engine_family(db)
    for index in table.indexes:
        cols = ", ".join(index.columns)
        typed = [table.columns.get(c) for c in index.columns]
        if not index_serves(str(db.engine), index.kind):
            yield _missing_kind(db, index.kind, cols)
            continue
        if engine == "document":  # a document store indexes arrays and documents itself
            continue
        if index.kind == "hash" and engine == "mysql":
            yield (f"hash index on ({cols}): InnoDB builds a B-tree for USING HASH (its "
                   "adaptive hash index is internal, not declared): declare it btree")
            continue
        if index.kind == "hash":
            if len(index.columns) > 1:
                yield f"hash index on ({cols}): hash indexes take one column"
            temporal = [c for c, col in zip(index.columns, typed, strict=True)
                        if col is not None and base_type(col) in TEMPORAL]
            if temporal:
                yield (f"hash index on ({cols}): {', '.join(temporal)} is temporal, its range "
                       "predicates need a B-tree")
            ordered = sorted({c for _, s in mine if s.query
                              for c in s.query.order_by if c in index.columns})
            if ordered:
                yield (f"hash index on ({cols}) under ORDER BY {', '.join(ordered)}: a hash "
                       "index cannot order; use a B-tree")
        if index.kind == "brin":
            first = table.columns.get(index.columns[0])
            if first is not None and base_type(first) not in TEMPORAL + _SERIAL:
                yield (f"brin index on ({cols}): BRIN serves ranges only on a column the rows "
                       f"are stored in the order of (an insert timestamp, a serial id); "
                       f"{index.columns[0]} is {first.type}")
        documents = [c for c, col in zip(index.columns, typed, strict=True)
                     if col is not None and is_document(col)]
        if index.kind in ("btree", "hash") and documents:
            need = ("a multi-valued index (JSON arrays) or FULLTEXT (text)" if engine == "mysql"
                    else "GIN (or GiST)")
            yield (f"{index.kind} index on ({cols}): {', '.join(documents)} is "
                   f"JSON/array/text-search and needs {need}")
        if index.kind in ("gin", "gist") and typed and all(
                col is not None and base_type(col) in SCALAR for col in typed):
            yield (f"{index.kind} index on ({cols}) of plain scalars: a B-tree serves "
                   "equality and ranges (GIN needs btree_gin)")


def _predicate_text(query: Query) -> str:
    """``where (a, b) range c contains (d)``: a query's predicate as the file states it."""
    parts = [f"where ({', '.join(query.where)})"] if query.where else []
    if query.range:
        parts.append(f"range {query.range}")
    if query.contains:
        parts.append(f"contains ({', '.join(query.contains)})")
    return " ".join(parts)


def _fix(db: Database, table: Table, query: Query) -> str:
    """The index that would serve ``query`` on ``db``'s engine, in its words."""
    engine = engine_family(db)
    contains = list(query.contains) + [c for c in query.where if (col := table.columns.get(c))
                                       is not None and is_document(col)]
    keys = [c for c in query.where if c not in contains] + (
        [query.range] if query.range else [])
    if engine == "document":
        both = [*query.where, *([query.range] if query.range else [])]
        both += [c for c in query.contains if c not in both]
        return (f"a compound index on ({', '.join(both)}) (equality fields first, the range "
                "last; multikey on an array field, a text index for text search)")
    if contains and engine == "mysql":
        return (f"a FULLTEXT index on ({', '.join(contains)}) for text, a multi-valued index "
                "for a JSON array")
    if contains:
        return f"a GIN index on ({', '.join(contains)})"
    return f"a B-tree on ({', '.join(keys)})"


@rule("DK-DB-002", "Index type fits the predicate", "medium", "auto",
      rationale="A B-tree serves equality, ranges and ordering; a hash index only equality "
                "on one column; JSON, arrays and text search need GIN or GiST (PostgreSQL), "
                "a multi-valued or FULLTEXT index (MySQL), a multikey or text index "
                "(MongoDB). A declared query that no index serves scans the table.",
      remediation="Use B-tree for equality/range/order, hash only for single-column "
                  "equality, GIN/GiST for JSON, arrays and full-text (on MySQL a FULLTEXT or "
                  "multi-valued index, on MongoDB a multikey or text index); add the index a "
                  "query's predicate needs (leading columns = the where columns, then the "
                  "range column).",
      references=[Reference("PostgreSQL docs", "Index Types", "Index Types",
                            PG_DOCS + "indexes-types.html"),
                  Reference("MySQL docs", "Comparison of B-Tree and Hash Indexes",
                            "Comparison of B-Tree and Hash Indexes",
                            "https://dev.mysql.com/doc/refman/8.0/en/index-btree-hash.html"),
                  Reference("MongoDB docs", "Indexes", "Index Types",
                            "https://www.mongodb.com/docs/manual/core/indexes/index-types/"),
                  CWE_SEQUENTIAL_SEARCH])
def index_types(ctx: Context) -> Iterator[Finding]:
    """Tables with indexes or filtered queries: index kinds the engine lacks (GIN on
    MongoDB or MySQL, a hash on InnoDB); hash indexes on several columns, on temporal columns
    or under an ``order_by``; BRIN on a column rows are not stored in the order of;
    B-tree/hash on JSON/array/text-search columns; GIN/GiST on plain scalars; a query's
    predicate on a document column without GIN/GiST; a query whose predicate no index
    serves (its plan is a scan for want of an index: its rows are quoted, with the index
    its engine needs). A scan the planner prefers to a usable index passes."""
    queries: dict[tuple[str, str], list[tuple[str, CallStep]]] = defaultdict(list)
    for _ref, path, step in database_calls(ctx):
        assert step.query is not None
        queries[(step.call, step.query.table)].append((path, step))
    for db_name, db, name, table, path in every_table(ctx.design):
        mine = queries.get((db_name, name), [])
        if not table.indexes and not any(s.query and s.query.filtered for _, s in mine):
            continue
        problems = list(_index_problems(db, table, mine))
        documents_native = engine_family(db) == "document"
        gin_columns = {c for i in table.indexes if i.kind in ("gin", "gist") for c in i.columns}
        seeks = 0
        for step_path, step in mine:
            query = step.query
            assert query is not None
            if not query.filtered:
                continue
            documents = [c for c in [*query.where, *query.contains]
                         if (col := table.columns.get(c)) is not None
                         and is_document(col) and c not in gin_columns
                         and not documents_native and engine_family(db) != "mysql"]
            if documents:
                problems.append(f"{step_path} filters on {', '.join(documents)} "
                                "(JSON/array/text-search) with no GIN/GiST index")
            plan = plan_query(db, query)
            if plan.access == "scan" and plan.reason.startswith("no index"):
                why = plan.reason.partition(": ")[2]
                problems.append(f"{step_path}: {query.kind} {_predicate_text(query)} has no "
                                "index" + (f" that serves it ({why})" if why else "")
                                + f" — a scan of {_n(plan.rows_visited)} rows "
                                f"({_n(plan.ms)} ms); fix: {_fix(db, table, query)}")
            else:
                seeks += 1
        msg = (f"{name}: " + "; ".join(problems) if problems else
               f"{name}: {len(table.indexes)} secondary index(es), each fits its columns' "
               f"types; {seeks} filtered quer(ies), each served by an index")
        yield ctx.finding(path, not problems, msg, problems=problems)


# -- DK-DB-008 -----------------------------------------------------------------------------

def _unique_keys(table: Table) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(what, columns) of every unique key: the primary key, unique columns, unique indexes."""
    primary = tuple(c for c, col in table.columns.items() if col.primary_key)
    if primary:
        yield "primary key", primary
    for c, col in table.columns.items():
        if col.unique:
            yield "unique column", (c,)
    for index in table.indexes:
        if index.unique:
            yield "unique index", tuple(index.columns)


def _key_problem(engine: str, what: str, columns: tuple[str, ...],
                 key: list[str]) -> str | None:
    """Why a unique key cannot exist on a table partitioned (sharded) by ``key``; ``None``
    when it can."""
    cols = ", ".join(columns)
    if engine == "document":
        if what == "primary key":
            return None  # _id: unique per shard, which MongoDB does not refuse
        if list(columns[:len(key)]) == key:
            return None
        return (f"{what} ({cols}) is not prefixed by the shard key ({', '.join(key)}): "
                "MongoDB cannot keep it unique across shards and refuses to build it")
    missing = [c for c in key if c not in columns]
    if not missing:
        return None
    who = "MySQL refuses it (every unique key must include all columns of the partitioning " \
          "expression)" if engine == "mysql" else ("PostgreSQL refuses it: \"unique "
                                                    "constraint on partitioned table must "
                                                    "include all partitioning columns\"")
    return f"{what} ({cols}) lacks the partition key column(s) {', '.join(missing)}: {who}"


def _references_into(ctx: Context, db_name: str, name: str,
                     keys: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Foreign keys into partitioned table ``name`` whose column is not a unique key by
    itself: the database refuses them (a foreign key needs a unique target, and on a
    partitioned table the unique keys hold the partition key too)."""
    alone = {cols[0] for _what, cols in keys if len(cols) == 1}
    out = []
    for fk in ctx.flow.foreign_keys:
        if (fk.to_database, fk.to_table) == (db_name, name) and fk.to_column not in alone:
            out.append(f"the foreign key {fk.table}.{fk.column} → {name}.{fk.to_column} has "
                       f"no unique key to point at ({name}.{fk.to_column} is not unique by "
                       "itself): reference the whole key, or drop the constraint and keep "
                       "it in the application")
    return out


@rule("DK-DB-008", "Unique keys include the partition key", "high", "auto",
      rationale="A partitioned table checks uniqueness inside each partition only: PostgreSQL "
                "and MySQL refuse a primary key or unique index that does not include every "
                "partition key column, and MongoDB a unique index on a sharded collection "
                "that is not prefixed by the shard key. A design that relies on such a key "
                "(an idempotency key, one order per cart) cannot be built as drawn — nor "
                "can a foreign key into the table that names only part of its key.",
      remediation="Add the partition key to the primary key and to each unique index "
                  "(PRIMARY KEY (id, created_at)); or partition by a column the unique keys "
                  "share (hash of user_id); or keep the unique keys in a small unpartitioned "
                  "table written in the same transaction.",
      references=[Reference("PostgreSQL docs", "5.12.2.3", "Table Partitioning: "
                            "Limitations", PG_DOCS + "ddl-partitioning.html"
                            "#DDL-PARTITIONING-DECLARATIVE-LIMITATIONS"),
                  Reference("MySQL docs", "26.6.1", "Partitioning Keys, Primary Keys, and "
                            "Unique Keys", "https://dev.mysql.com/doc/refman/8.0/en/"
                            "partitioning-limitations-partitioning-keys-unique-keys.html"),
                  Reference("MongoDB docs", "Unique Indexes in Sharded Collections",
                            "Shard keys", "https://www.mongodb.com/docs/manual/core/"
                            "sharding-shard-key/")])
def partition_unique_keys(ctx: Context) -> Iterator[Finding]:
    """Partitioned (or sharded) tables: the primary key, each unique column and each unique
    index must include every partition key column (PostgreSQL, MySQL, and any other
    engine); on a document store each unique index must start with the shard key (its
    ``_id`` primary key is not judged). A foreign key into the table must name a column
    that is a unique key by itself."""
    for _db_name, db, name, table, path in every_table(ctx.design):
        part = table.partitioning
        if part is None:
            continue
        engine = engine_family(db)
        keys = list(_unique_keys(table))
        how = f"{name}: partitioned by {part.kind} of ({', '.join(part.key)})"
        problems = [p for what, cols in keys
                    if (p := _key_problem(engine, what, cols, part.key)) is not None]
        problems += _references_into(ctx, _db_name, name, keys)
        if problems:
            yield ctx.finding(path, False, f"{how}; " + "; ".join(problems),
                              problems=problems, partition_key=part.key)
        elif keys:
            shown = "; ".join(f"{what} ({', '.join(cols)})" for what, cols in keys)
            yield ctx.finding(path, True, f"{how}; every unique key includes it: {shown}",
                              partition_key=part.key)
        else:
            yield ctx.finding(path, True, f"{how}; no primary key or unique index to check",
                              partition_key=part.key)
