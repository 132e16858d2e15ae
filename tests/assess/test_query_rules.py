"""The query model in the review: DK-DB-002 judges indexes by what their kind serves, per
engine; DK-DB-008 checks unique keys against the partition key; DK-PERF-002 reads ranges."""

from __future__ import annotations

import designkit as dk
from designkit.assess.finding import Finding
from designkit.assess.rule import Rule
from designkit.assess.rules import database, performance

FAIL, PASS = dk.Status.FAIL, dk.Status.PASS
TABLE = "components.db.tables.events"


def run(design: dk.Design, rule: Rule) -> dict[str, Finding]:
    found = dk.assess(design, rules=[rule]).rule(rule.id)
    return {f.subject: f for f in found}


def events(engine: str = "postgres", kind: str = "btree", column: str = "created_at",
           **query: object) -> dk.Design:
    d = dk.Design(name="q")
    db = d.database("db", engine=engine)
    t = db.table("events", rows=3_000_000)
    t.column("id", "uuid", primary_key=True).column("user_id", "uuid") \
        .column("created_at", "timestamptz").column("tags", "text[]").column("body", "text")
    t.index(column, kind=kind)  # type: ignore[arg-type]
    d.service("api", io="async").endpoint("GET /events").call(
        "db", query=dk.Query(table="events", **query))
    d.set_load("api GET /events", 10)
    return d


# -- DK-DB-002 --------------------------------------------------------------------------

def test_db002_a_hash_index_under_a_range_fails_with_the_btree_fix() -> None:
    f = run(events(kind="hash", range="created_at", rows=100), database.index_types)[TABLE]
    assert f.status is FAIL
    assert ('GET /events".steps[0]: select range created_at has no index that serves it '
            "(hash (created_at) serves only equality on postgres) — a scan of 3,000,000 rows "
            "(150 ms); fix: a B-tree on (created_at)") in f.message


def test_db002_a_btree_under_the_same_range_passes() -> None:
    f = run(events(kind="btree", range="created_at", rows=100), database.index_types)[TABLE]
    assert f.status is PASS
    assert "1 filtered quer(ies), each served by an index" in f.message


def test_db002_a_scan_the_planner_prefers_passes() -> None:
    # 1 M rows through the index cost 20,000 ms; the scan of 3 M rows 150 ms
    f = run(events(range="created_at", rows=1_000_000), database.index_types)[TABLE]
    assert f.status is PASS


def test_db002_containment_advice_per_engine() -> None:
    pg = run(events(column="user_id", contains=["tags"]), database.index_types)[TABLE]
    assert pg.status is FAIL and "fix: a GIN index on (tags)" in pg.message
    mongo = run(events("mongodb", column="user_id", contains=["tags"]),
                database.index_types)[TABLE]
    assert mongo.status is FAIL and "GIN" not in mongo.message
    assert "fix: a compound index on (tags) (equality fields first" in mongo.message
    mysql = run(events("mysql", column="user_id", contains=["body"]),
                database.index_types)[TABLE]
    assert mysql.status is FAIL and "fix: a FULLTEXT index on (body)" in mysql.message
    served = run(events("mysql", kind="fulltext", column="body", contains=["body"]),
                 database.index_types)[TABLE]
    assert served.status is PASS
    multikey = run(events("mongodb", column="tags", where=["tags"]),
                   database.index_types)[TABLE]
    assert multikey.status is PASS


def test_db002_index_kinds_the_engine_lacks() -> None:
    innodb = run(events("mysql", kind="hash", column="user_id", where=["user_id"]),
                 database.index_types)[TABLE]
    assert innodb.status is FAIL
    assert "InnoDB builds a B-tree for USING HASH (its adaptive hash index is internal" \
        in innodb.message
    gin = run(events("mysql", kind="gin", column="tags"), database.index_types)[TABLE]
    assert gin.status is FAIL and "MySQL (InnoDB) has no GIN" in gin.message
    fulltext = run(events(kind="fulltext", column="body"), database.index_types)[TABLE]
    assert fulltext.status is FAIL
    assert "postgres has no fulltext index; index a tsvector column with GIN" \
        in fulltext.message
    brin = run(events(kind="brin", column="user_id"), database.index_types)[TABLE]
    assert brin.status is FAIL and "BRIN serves ranges only on a column" in brin.message
    assert run(events(kind="brin", range="created_at", rows=10),
               database.index_types)[TABLE].status is PASS


def test_perf002_judges_a_range_by_its_plan() -> None:
    slow = run(events(kind="hash", range="created_at", rows=100), performance.simple_seeks)
    [f] = slow.values()
    assert f.status is FAIL and "where (created_at): scan of 3,000,000 rows" in f.message
    fast = run(events(range="created_at", rows=100), performance.simple_seeks)
    [g] = fast.values()
    assert g.status is PASS and "seek on (created_at) visiting 100 row(s)" in g.message


# -- DK-DB-008 --------------------------------------------------------------------------

def orders(engine: str = "postgres", primary: tuple[str, ...] = ("id",),
           unique: tuple[str, ...] | None = ("user_id", "idempotency_key"),
           key: tuple[str, ...] = ("created_at",)) -> dk.Design:
    """The flash-sale's orders as shipped: PK id, unique (user_id, idempotency_key),
    range-partitioned by created_at."""
    d = dk.Design(name="p")
    t = d.database("db", engine=engine).table(
        "orders", rows=5_000_000, partitioning={"key": list(key), "kind": "range"})
    for name in ("id", "user_id", "idempotency_key", "created_at"):
        t.column(name, "text", primary_key=name in primary)
    if unique:
        t.index(*unique, unique=True)
    return d


def test_db008_the_shipped_flash_sale_orders_fail() -> None:
    f = run(orders(), database.partition_unique_keys)["components.db.tables.orders"]
    assert f.status is FAIL
    assert f.message == (
        "orders: partitioned by range of (created_at); primary key (id) lacks the partition "
        "key column(s) created_at: PostgreSQL refuses it: \"unique constraint on partitioned "
        "table must include all partitioning columns\"; unique index (user_id, "
        "idempotency_key) lacks the partition key column(s) created_at: PostgreSQL refuses "
        "it: \"unique constraint on partitioned table must include all partitioning "
        "columns\"")
    assert database.partition_unique_keys.severity.value == "high"
    assert database.partition_unique_keys.mode.value == "auto"


def test_db008_keys_that_include_the_partition_key_pass() -> None:
    d = orders(primary=("id", "created_at"), unique=("user_id", "idempotency_key",
                                                      "created_at"))
    f = run(d, database.partition_unique_keys)["components.db.tables.orders"]
    assert f.status is PASS
    assert f.message == ("orders: partitioned by range of (created_at); every unique key "
                         "includes it: primary key (id, created_at); unique index (user_id, "
                         "idempotency_key, created_at)")


def test_db008_unpartitioned_tables_are_not_judged() -> None:
    d = dk.Design(name="u")
    d.database("db").table("orders").column("id", "uuid", primary_key=True)
    [f] = run(d, database.partition_unique_keys).values()
    assert f.status is dk.Status.NOT_APPLICABLE and f.subject == ""


def test_db008_mysql_says_the_partitioning_expression() -> None:
    f = run(orders("mysql", primary=("id", "created_at"), unique=("user_id",)),
            database.partition_unique_keys)["components.db.tables.orders"]
    assert f.status is FAIL
    assert f.message.endswith("unique index (user_id) lacks the partition key column(s) "
                              "created_at: MySQL refuses it (every unique key must include "
                              "all columns of the partitioning expression)")


def test_db008_mongodb_wants_the_shard_key_as_a_prefix() -> None:
    bad = run(orders("mongodb", unique=("idempotency_key", "user_id"), key=("user_id",)),
              database.partition_unique_keys)["components.db.tables.orders"]
    assert bad.status is FAIL
    assert "unique index (idempotency_key, user_id) is not prefixed by the shard key " \
        "(user_id): MongoDB cannot keep it unique across shards" in bad.message
    good = run(orders("mongodb", unique=("user_id", "idempotency_key"), key=("user_id",)),
               database.partition_unique_keys)["components.db.tables.orders"]
    assert good.status is PASS  # its _id primary key is not judged


def test_db008_metadata() -> None:
    r = database.partition_unique_keys
    assert (r.id, r.title) == ("DK-DB-008", "Unique keys include the partition key")
    assert r.rationale and r.remediation
    assert any("ddl-partitioning" in ref.url for ref in r.references)
    assert r in database.RULES
