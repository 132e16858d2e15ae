"""Database rules DK-DB-001 … 007: a failing, a passing and a needs-data design each."""

from __future__ import annotations

import datetime as dt

import designkit as dk
from designkit.assess.finding import Finding
from designkit.assess.rule import Rule
from designkit.assess.rules import database

FAIL, PASS, NEEDS = dk.Status.FAIL, dk.Status.PASS, dk.Status.NEEDS_DATA
ATTEST, NA = dk.Status.NEEDS_ATTESTATION, dk.Status.NOT_APPLICABLE


def run(design: dk.Design, rule: Rule) -> dict[str, Finding]:
    found = dk.assess(design, rules=[rule]).rule(rule.id)
    by_subject = {f.subject: f for f in found}
    assert len(by_subject) == len(found), found
    return by_subject


def table_path(name: str, db: str = "db") -> str:
    return f"components.{db}.tables.{name}"


def test_catalogue_metadata() -> None:
    ids = [r.id for r in database.RULES]
    assert ids == [f"DK-DB-00{i}" for i in range(1, 9)]
    modes = {r.id: r.mode.value for r in database.RULES}
    assert modes["DK-DB-005"] == "attestation" and modes["DK-DB-004"] == "estimate"
    assert all(r.references and r.rationale and r.remediation for r in database.RULES)


# -- DK-DB-001 3NF -----------------------------------------------------------------------

def shop(tag_copy: bool = False) -> dk.Design:
    d = dk.Design(name="3nf")
    db = d.database("db")
    db.table("products").column("id", "uuid", primary_key=True).column("name", "text")
    items = db.table("order_items")
    items.column("id", "uuid", primary_key=True)
    items.column("product_id", "uuid", references="products.id")
    items.column("product_name", "text", denormalized=tag_copy)
    db.table("users").column("id", "uuid", primary_key=True).column("tags", "jsonb") \
        .column("phone1", "text").column("phone2", "text")
    db.table("empty")
    return d


def test_db001_repeating_groups_and_copies_fail() -> None:
    found = run(shop(), database.third_normal_form)
    users = found[table_path("users")]
    assert users.status is FAIL
    assert "tags (jsonb" in users.message and "phone1, phone2 (numbered" in users.message
    items = found[table_path("order_items")]
    assert items.status is FAIL
    assert "product_name (copies products.name via product_id)" in items.message


def test_db001_tagged_copy_passes_and_no_columns_needs_data() -> None:
    found = run(shop(tag_copy=True), database.third_normal_form)
    assert found[table_path("order_items")].status is PASS
    assert "product_name tagged denormalized" in found[table_path("order_items")].message
    assert found[table_path("products")].status is PASS
    assert found[table_path("empty")].status is NEEDS


def test_db001_transitive_key_copy() -> None:
    found = run(dk.template("dashboard-fixed"), database.third_normal_form)
    payments = found["components.app-db.tables.payments"]
    assert payments.status is PASS and "merchant_id tagged denormalized" in payments.message


# -- DK-DB-002 index types ---------------------------------------------------------------

def indexed() -> dk.Design:
    d = dk.Design(name="idx")
    db = d.database("db")
    events = db.table("events", rows=3_000_000)
    events.column("id", "uuid", primary_key=True).column("created_at", "timestamptz") \
        .column("kind", "text").column("payload", "jsonb").column("user_id", "uuid")
    events.index("created_at", kind="hash").index("payload").index("user_id", kind="gin")
    good = db.table("orders", rows=1_000_000)
    good.column("id", "uuid", primary_key=True).column("user_id", "uuid") \
        .column("created_at", "timestamptz").column("attrs", "jsonb")
    good.index("user_id", "created_at").index("attrs", kind="gin")
    db.table("unused").column("id", "uuid", primary_key=True)
    api = d.service("api")
    api.endpoint("GET /events").call("db", query=dk.Query(
        table="events", where=["kind"], order_by=["created_at"]))
    api.endpoint("GET /orders").call("db", query=dk.Query(
        table="orders", where=["user_id"], order_by=["created_at"], limit=20))
    api.endpoint("GET /orders/search").call("db", query=dk.Query(
        table="orders", where=["attrs"]))
    return d


def test_db002_wrong_index_kinds_and_missing_index_fail() -> None:
    f = run(indexed(), database.index_types)[table_path("events")]
    assert f.status is FAIL
    assert "hash index on (created_at): created_at is temporal" in f.message
    assert "hash index on (created_at) under ORDER BY created_at" in f.message
    assert "btree index on (payload): payload is JSON/array/text-search and needs GIN" \
        in f.message
    assert "gin index on (user_id) of plain scalars" in f.message
    assert "select where (kind) has no index — a scan of 3,000,000 rows (150 ms)" in f.message


def test_db002_fitting_indexes_pass_untouched_tables_skipped() -> None:
    found = run(indexed(), database.index_types)
    assert found[table_path("orders")].status is PASS
    assert "2 filtered quer(ies), each served by an index" in found[table_path("orders")].message
    assert table_path("unused") not in found


def test_db002_json_filter_without_gin_fails() -> None:
    d = dk.Design(name="j")
    db = d.database("db")
    db.table("docs", rows=10).column("id", "uuid", primary_key=True).column("body", "jsonb")
    d.service("api").endpoint("GET /docs").call("db", query=dk.Query(table="docs",
                                                                     where=["body"]))
    f = run(d, database.index_types)[table_path("docs")]
    assert f.status is FAIL and "filters on body (JSON/array/text-search) with no GIN" \
        in f.message


def test_db002_dashboard_templates() -> None:
    slow = run(dk.template("dashboard-slow"), database.index_types)
    payments = slow["components.app-db.tables.payments"]
    assert payments.status is FAIL and "a scan of 2,280,000 rows (150 ms)" in payments.message
    fixed = run(dk.template("dashboard-fixed"), database.index_types)
    assert all(f.status is PASS for f in fixed.values())


# -- DK-DB-003 denormalize read-heavy only -----------------------------------------------

def denormalized(read_rps: float | None, write_rps: float | None) -> dk.Design:
    d = dk.Design(name="dn")
    d.cache("c", hit_ratio=0.9)
    db = d.database("db")
    db.table("views", rows=1000).column("id", "uuid", primary_key=True) \
        .column("sku_name", "text", denormalized=True)
    db.table("plain", rows=10).column("id", "uuid", primary_key=True)
    api = d.service("api", workers=100)
    # 1 read per request only on a cache miss (10 %), and a loop of 2 reads
    reader = api.endpoint("GET /views/{id}")
    reader.cache("c").call("db", query=dk.Query(table="views", where=["id"]))
    reader.loop(2).call("db", query=dk.Query(table="views", where=["id"]))
    api.endpoint("PUT /views/{id}").call("db", query=dk.Query(table="views", kind="update",
                                                              where=["id"], atomic=True))
    if read_rps is not None:
        d.set_load("api GET /views/{id}", read_rps)
    if write_rps is not None:
        d.set_load("api PUT /views/{id}", write_rps)
    return d


def test_db003_write_heavy_denormalized_table_fails() -> None:
    f = run(denormalized(read_rps=100, write_rps=50), database.read_heavy_denormalization)
    g = f[table_path("views")]
    assert g.status is FAIL
    # 100 × (0.1 + 2) = 210 reads/s vs 50 writes/s
    assert "210 reads/s vs 50 writes/s, ratio 4.2 < 10" in g.message
    assert len(f) == 1  # tables without denormalized columns are not judged


def test_db003_read_heavy_passes_and_no_traffic_needs_data() -> None:
    g = run(denormalized(read_rps=1000, write_rps=10),
            database.read_heavy_denormalization)[table_path("views")]
    assert g.status is PASS and "2,100 reads/s vs 10 writes/s, ratio 210 ≥ 10" in g.message
    g = run(denormalized(read_rps=None, write_rps=None),
            database.read_heavy_denormalization)[table_path("views")]
    assert g.status is NEEDS


# -- DK-DB-004 partitioning --------------------------------------------------------------

def test_db004_partitioning() -> None:
    d = dk.Design(name="p")
    db = d.database("db")
    db.table("big", rows=50_000_000, growth_per_day=200_000)
    db.table("split", rows=50_000_000, growth_per_day=200_000,
             partitioning={"key": ["created_at"], "kind": "range"})
    db.table("split").column("created_at", "timestamptz")
    db.table("small", rows=1000, growth_per_day=10)
    db.table("unsized")
    db.table("static", rows=5000)
    found = run(d, database.partitioning)
    big = found[table_path("big")]
    assert big.status is FAIL
    assert "50,000,000 rows + 200,000/day × 365 = 123,000,000 rows in 1 year > 100,000,000" \
        in big.message
    split = found[table_path("split")]
    assert split.status is PASS and "partitioned by range of (created_at)" in split.message
    assert found[table_path("small")].status is PASS
    assert found[table_path("unsized")].status is NEEDS
    static = found[table_path("static")]
    assert static.status is NEEDS and "growth_per_day" in static.message


def test_db004_payments_monolith_orders_need_partitioning() -> None:
    found = run(dk.template("payments-monolith"), database.partitioning)
    orders = found["components.shop-db.tables.orders"]
    assert orders.status is FAIL and "149,500,000 rows in 1 year" in orders.message


# -- DK-DB-005 migrations ----------------------------------------------------------------

def test_db005_needs_attestation_until_attested() -> None:
    d = dk.Design(name="m")
    d.database("db").table("t").column("id", "uuid", primary_key=True)
    d.database("nothing")
    found = run(d, database.migrations)
    assert list(found) == ["components.db"]
    assert found["components.db"].status is ATTEST
    assert "names no previous version" in found["components.db"].message
    d.attestations.append(dk.Attestation(rule="DK-DB-005", subject="components.db", by="ana",
                                         on=dt.date(2026, 1, 5),
                                         evidence="alembic; CI diffs the schema"))
    assert run(d, database.migrations)["components.db"].status is PASS


# -- DK-DB-006 optimistic locking --------------------------------------------------------

def writers(version: bool = False, atomic: bool = False, locked: bool = False) -> dk.Design:
    d = dk.Design(name="w")
    d.lock("row", engine="row")
    db = d.database("db")
    t = db.table("accounts", rows=10, version_column="version" if version else None)
    t.column("id", "uuid", primary_key=True).column("balance", "bigint") \
        .column("version", "int")
    db.table("profiles", rows=10).column("id", "uuid", primary_key=True)
    update = dk.Query(table="accounts", kind="update", where=["id"], atomic=atomic or None)
    api = d.service("api")
    api.endpoint("POST /deposits").call("db", query=update)
    transfer = api.endpoint("POST /transfers")
    body = transfer.lock("row") if locked else transfer
    body.call("db", query=dk.Query(table="accounts", where=["id"]))
    body.call("db", query=update)
    api.endpoint("PUT /profiles/{id}").call("db", query=dk.Query(
        table="profiles", kind="update", where=["id"]))
    return d


def test_db006_concurrent_writers_and_read_modify_write_fail() -> None:
    found = run(writers(), database.optimistic_locking)
    f = found[table_path("accounts")]
    assert f.status is FAIL
    assert "updated by 2 endpoints (api POST /deposits, api POST /transfers)" in f.message
    assert "read then updated in api POST /transfers" in f.message
    profiles = found[table_path("profiles")]
    assert profiles.status is PASS and "updated only by api PUT /profiles/{id}" in \
        profiles.message


def test_db006_version_column_atomic_or_locked_pass() -> None:
    f = run(writers(version=True), database.optimistic_locking)[table_path("accounts")]
    assert f.status is PASS and "optimistic locking on version" in f.message
    f = run(writers(atomic=True), database.optimistic_locking)[table_path("accounts")]
    assert f.status is PASS and "atomic" in f.message
    found = run(writers(atomic=False, locked=True), database.optimistic_locking)
    # the lock guards the transfer's read-modify-write; deposits is the only other writer
    assert found[table_path("accounts")].status is PASS


# -- DK-DB-007 Redis structures ----------------------------------------------------------

def test_db007_not_applicable_without_a_leaderboard_or_rate_limit() -> None:
    for name in ("dashboard-slow", "flash-sale", "payments-saga"):
        found = run(dk.template(name), database.redis_structures)
        assert [f.status for f in found.values()] == [NA]


def game(redis_op: str | None) -> dk.Design:
    d = dk.Design(name="game")
    d.cache("redis", engine="redis")
    db = d.database("db")
    db.table("leaderboard", rows=1_000_000).column("user_id", "uuid", primary_key=True) \
        .column("score", "bigint").index("score")
    db.table("rate_limits").column("key", "text", primary_key=True)
    api = d.service("api")
    top = api.endpoint("GET /games/{id}/top")
    if redis_op is None:
        top.call("db", query=dk.Query(table="leaderboard", where=["score"], limit=10))
    else:
        top.call("redis", op=redis_op)
        top.call("db", query=dk.Query(table="leaderboard", kind="upsert", where=["user_id"]))
    d.set_load("api GET /games/{id}/top", 200)
    return d


def test_db007_leaderboard_in_postgres_fails_with_its_rates() -> None:
    found = run(game(None), database.redis_structures)
    f = found['components.api.endpoints."GET /games/{id}/top"']
    assert f.status is FAIL
    assert "it queries db.leaderboard" in f.message and "name heuristic" in f.message
    assert "db.leaderboard 200 reads/s, 0 writes/s" in f.message
    rate = found[table_path("rate_limits")]
    assert rate.status is NEEDS and "no endpoint reads or writes it" in rate.message


def test_db007_sorted_set_passes_unnamed_redis_op_needs_attestation() -> None:
    found = run(game("ZREVRANGE lb 0 9 WITHSCORES"), database.redis_structures)
    f = found['components.api.endpoints."GET /games/{id}/top"']
    assert f.status is PASS and "ZREVRANGE" in f.message
    found = run(game("GET lb"), database.redis_structures)
    assert found['components.api.endpoints."GET /games/{id}/top"'].status is ATTEST
