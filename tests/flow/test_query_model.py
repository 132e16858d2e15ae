"""The query model and its planner: predicates (equality, range, containment), shapes
(point, range, aggregate, top-n, batch), index kinds and what each serves per engine, rows
from selectivity, and an index read of many rows never dearer than a full scan."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import designkit as dk
from designkit.flow.plan import BRIN_RANGE_ROWS, plan_query
from designkit.model.database import INDEX_SERVES, Index, index_serves

# seek 0.5 ms, 0.02 ms a further row by index, 0.05 µs a row scanned; write 1 ms + 0.05
SEEK, ROW, SCAN_US, WRITE, WRITE_ROW = 0.5, 0.02, 0.05, 1.0, 0.05


def db(engine: str = "postgres", rows: int = 3_000_000, growth: float = 0.0,
       indexes: tuple[tuple[tuple[str, ...], str], ...] = ()) -> dk.Database:
    d = dk.Database(kind="database", engine=engine, seek_ms=SEEK, row_ms=ROW,
                    scan_us_per_row=SCAN_US, write_ms=WRITE, write_row_ms=WRITE_ROW)
    t = d.table("events", rows=rows, growth_per_day=growth)
    t.column("id", "uuid", primary_key=True).column("user_id", "uuid") \
        .column("created_at", "timestamptz").column("amount", "numeric") \
        .column("tags", "text[]").column("body", "jsonb")
    for columns, kind in indexes:
        t.index(*columns, kind=kind)  # type: ignore[arg-type]
    return d


def q(**fields: object) -> dk.Query:
    return dk.Query(table="events", **fields)


# -- defect 1: index kinds serve what they can -----------------------------------------

def test_a_hash_index_cannot_serve_a_range_the_plan_scans() -> None:
    hashed = db(indexes=((("created_at",), "hash"),))
    plan = plan_query(hashed, q(range="created_at", rows=1000))
    assert plan.access == "scan"
    assert plan.ms == pytest.approx(3_000_000 * SCAN_US / 1000)  # 150 ms
    assert plan.reason == ("no index serves a range on created_at: hash (created_at) serves "
                           "only equality on postgres")
    # the same range on a B-tree: one descent, then 999 further rows
    btree = plan_query(db(indexes=((("created_at",), "btree"),)),
                       q(range="created_at", rows=1000))
    assert (btree.access, btree.index_kind) == ("seek", "btree")
    assert btree.ms == pytest.approx(SEEK + 999 * ROW)  # 20.48 ms
    assert btree.shape == "range"


def test_a_hash_index_serves_equality_on_its_one_column_only() -> None:
    hashed = db(indexes=((("user_id",), "hash"),))
    assert plan_query(hashed, q(where=["user_id"])).path == "hash (user_id)"
    assert plan_query(hashed, q(where=["user_id"], order_by=["user_id"], limit=5)).index == (
        "user_id",)  # served, but not in order: it reads the matched rows then sorts
    two = db(indexes=((("user_id", "created_at"), "hash"),))
    assert plan_query(two, q(where=["user_id", "created_at"])).access == "scan"


def test_a_btree_serves_equality_then_one_range_then_the_order() -> None:
    idx = db(indexes=((("user_id", "created_at"), "btree"),))
    assert plan_query(idx, q(where=["user_id"], range="created_at")).reason == (
        "btree index (user_id, created_at) serves equality on user_id and a range on "
        "created_at")
    # the range column must follow the equality columns
    assert plan_query(idx, q(where=["created_at"], range="user_id")).access == "scan"
    assert plan_query(idx, q(range="created_at")).access == "scan"
    ordered = plan_query(idx, q(where=["user_id"], order_by=["created_at"], limit=20))
    assert ordered.reason.endswith("order by created_at")


def test_gin_gist_and_brin_serve_what_postgres_says() -> None:
    assert INDEX_SERVES["gin"] == {"contains"}
    assert INDEX_SERVES["gist"] == {"contains", "range", "nearest"}
    gin = db(indexes=((("tags",), "gin"),))
    assert plan_query(gin, q(contains=["tags"])).path == "gin (tags)"
    assert plan_query(gin, q(where=["tags"])).path == "gin (tags)"  # an array's "=" is @>
    assert plan_query(gin, q(range="tags")).access == "scan"
    gist = db(indexes=((("created_at",), "gist"),))
    assert plan_query(gist, q(range="created_at")).path == "gist (created_at)"
    # BRIN: a range on its column, coarse — the matched rows plus one block range, scanned
    brin = plan_query(db(indexes=((("created_at",), "brin"),)),
                      q(range="created_at", rows=300_000, aggregate=True))
    assert brin.path == "brin (created_at)"
    assert brin.ms == pytest.approx(SEEK + (300_000 + BRIN_RANGE_ROWS) * SCAN_US / 1000)
    assert plan_query(db(indexes=((("created_at",), "brin"),)),
                      q(where=["created_at"])).access == "scan"


def test_index_kinds_per_engine() -> None:
    # MongoDB: a regular index on an array is multikey; no GIN/GiST/BRIN
    mongo = db("mongodb", indexes=((("tags",), "btree"),))
    assert plan_query(mongo, q(where=["tags"])).access == "seek"
    assert plan_query(mongo, q(contains=["tags"])).access == "seek"
    assert index_serves("mongodb", "gin") == frozenset()
    assert plan_query(db("mongodb", indexes=((("tags",), "gin"),)),
                      q(contains=["tags"])).access == "scan"
    # PostgreSQL: a B-tree on an array column does not serve containment
    assert plan_query(db(indexes=((("tags",), "btree"),)), q(where=["tags"])).access == "scan"
    # MySQL: USING HASH on InnoDB builds a B-tree (ranges served); FULLTEXT for text
    mysql = db("mysql", indexes=((("user_id", "created_at"), "hash"),))
    assert plan_query(mysql, q(where=["user_id"], range="created_at")).access == "seek"
    assert plan_query(db("mysql", indexes=((("body",), "fulltext"),)),
                      q(contains=["body"])).path == "fulltext (body)"
    assert plan_query(db(indexes=((("body",), "fulltext"),)), q(contains=["body"])).reason == (
        "no index serves containment on body: fulltext (body) does not exist on postgres")
    assert Index(columns=["a"], kind="brin").serves == {"range"}


# -- defect 2: shapes and rows ------------------------------------------------------------

def test_an_aggregate_reads_the_rows_it_matches_and_they_grow_with_the_table() -> None:
    # one merchant's 30 days: 0.01 % of 3.65 M rows = 365 rows, then 730 after a year
    d = db(rows=3_650_000, growth=10_000, indexes=((("user_id", "created_at"), "btree"),))
    revenue = q(where=["user_id"], range="created_at", selectivity=0.0001, aggregate=True)
    now, year = plan_query(d, revenue), plan_query(d, revenue, 365)
    assert (now.shape, now.access, now.rows_returned) == ("aggregate", "seek", 1.0)
    assert now.rows_matched == pytest.approx(365) and now.rows_visited == pytest.approx(365)
    assert now.ms == pytest.approx(SEEK + 364 * ROW)  # 7.78 ms, not a 1-row 0.5 ms seek
    assert year.rows_matched == pytest.approx(730)
    assert year.ms == pytest.approx(SEEK + 729 * ROW)  # 15.08 ms
    assert not now.rows_assumed


def test_shapes() -> None:
    assert q(where=["id"]).shape == "point"
    assert q(where=["user_id"], range="created_at").shape == "range"
    assert q(where=["user_id"], rows=40).shape == "range"
    assert q(range="created_at", aggregate=True).shape == "aggregate"
    assert q(where=["user_id"], order_by=["created_at"], limit=20).shape == "top-n"
    assert q(where=["id"], batch=500).shape == "batch"


def test_the_default_rows_keep_todays_numbers_and_say_they_are_assumed() -> None:
    d = db(indexes=((("user_id",), "btree"),))
    point = plan_query(d, q(where=["id"]))  # the primary key: one row, known
    assert (point.rows_visited, point.ms, point.rows_assumed) == (1, SEEK, False)
    lookup = plan_query(d, q(where=["user_id"]))  # not unique: one row, assumed
    assert (lookup.rows_visited, lookup.ms, lookup.rows_assumed) == (1, SEEK, True)
    limited = plan_query(d, q(where=["user_id"], limit=20))  # its limit, assumed
    assert limited.rows_visited == 20 and limited.ms == pytest.approx(SEEK + 19 * ROW)
    assert limited.rows_assumed
    stated = plan_query(d, q(where=["user_id"], rows=5, limit=20))
    assert stated.rows_visited == 5 and not stated.rows_assumed


def test_a_top_n_reads_its_limit_only_when_the_index_gives_the_order() -> None:
    query = q(where=["user_id"], order_by=["created_at"], limit=20, rows=5_000)
    ordered = plan_query(db(rows=1_000_000, indexes=((("user_id", "created_at"), "btree"),)),
                         query)
    assert (ordered.rows_visited, ordered.rows_returned) == (20, 20)
    assert ordered.ms == pytest.approx(SEEK + 19 * ROW)  # 0.88 ms
    # an index on user_id alone: 5,000 rows to sort (100.48 ms) — a 50 ms scan is cheaper
    unordered = plan_query(db(rows=1_000_000, indexes=((("user_id",), "btree"),)), query)
    assert unordered.access == "scan" and unordered.ms == pytest.approx(50.0)
    assert unordered.reason == "scan cheaper than reading 5,000 rows by index (user_id)"


def test_a_batch_of_keys_reads_one_row_per_key() -> None:
    plan = plan_query(db(rows=1_000), q(where=["id"], batch=500))
    # one row per key keeps its index, even where a scan of the small table is cheaper
    assert (plan.access, plan.shape, plan.rows_visited) == ("seek", "batch", 500)
    assert plan.ms == pytest.approx(SEEK + 499 * ROW)  # 10.48 ms


def test_a_write_finds_its_rows_like_a_read_then_writes_them() -> None:
    d = db(indexes=((("user_id",), "btree"),))
    plan = plan_query(d, q(kind="update", where=["user_id"], rows=100))
    assert plan.ms == pytest.approx(SEEK + 99 * ROW + WRITE + 99 * WRITE_ROW)  # 8.43 ms
    default = plan_query(d, q(kind="update", where=["id"], batch=10))
    assert default.ms == pytest.approx(SEEK + 9 * ROW + WRITE + 9 * WRITE_ROW)
    insert = plan_query(d, q(kind="insert", batch=3))
    assert insert.access == "insert" and insert.ms == pytest.approx(WRITE + 2 * WRITE_ROW)


# -- defect 3: never dearer than a scan ----------------------------------------------------

def test_reading_200000_rows_by_index_is_a_600_ms_scan_not_4000_ms() -> None:
    d = db(rows=12_000_000, indexes=((("user_id",), "btree"),))
    plan = plan_query(d, q(where=["user_id"], rows=200_000))
    # by index: 0.5 + 199,999 × 0.02 = 4,000.48 ms; a scan of 12 M rows: 600 ms
    assert plan.access == "scan"
    assert plan.ms == pytest.approx(600.0)
    assert plan.rows_visited == 12_000_000
    assert plan.reason == "scan cheaper than reading 200,000 rows by index (user_id)"
    # the 30-day revenue of every merchant: 30/365 of 3.65 M rows = 300,000 rows → scan
    everyone = plan_query(db(rows=3_650_000, indexes=((("created_at",), "btree"),)),
                          q(range="created_at", selectivity=30 / 365, aggregate=True))
    assert everyone.access == "scan" and everyone.ms == pytest.approx(182.5)


@pytest.mark.parametrize("matched", [2, 10, 1_000, 24_000, 25_000, 100_000, 3_000_000])
def test_an_index_read_of_several_rows_never_costs_more_than_a_scan(matched: int) -> None:
    d = db(rows=3_000_000, indexes=((("user_id",), "btree"),))
    plan = plan_query(d, q(where=["user_id"], rows=matched))
    assert plan.ms <= 3_000_000 * SCAN_US / 1000 + 1e-9
    assert plan.access == ("seek" if SEEK + (matched - 1) * ROW <= 150 else "scan")


def test_a_table_of_unstated_size_keeps_its_index() -> None:
    d = db(indexes=((("user_id",), "btree"),))
    d.tables["events"].rows = None
    assert plan_query(d, q(where=["user_id"], rows=1_000)).access == "seek"


# -- the model: one row count, columns named -----------------------------------------------

def test_rows_and_selectivity_are_exclusive_and_the_range_is_not_an_equality() -> None:
    with pytest.raises(ValidationError, match=r"give rows .* or selectivity"):
        q(rows=10, selectivity=0.1)
    with pytest.raises(ValidationError, match="both an equality column"):
        q(where=["created_at"], range="created_at")
    with pytest.raises(ValidationError):
        q(selectivity=1.5)


DESIGN = """
designkit: 1
name: plans
components:
  api:
    kind: service
    endpoints:
      "GET /revenue":
        steps:
          - call: db
            query: {table: payments, where: [merchant_id], range: {range}, aggregate: true,
                    rows: 300, selectivity: {selectivity}}
  db:
    kind: database
    tables:
      payments:
        rows: 1000000
        columns: {id: {type: uuid, primary_key: true}, merchant_id: {type: uuid},
                  created_at: {type: timestamptz}, amount: {type: numeric}}
        indexes: [{columns: [merchant_id, created_at]}]
"""


def test_a_file_with_both_row_counts_is_refused_at_the_query() -> None:
    text = DESIGN.replace("{range}", "created_at").replace("{selectivity}", "0.01")
    with pytest.raises(dk.DesignError) as err:
        dk.load(text)
    assert 'components.api.endpoints."GET /revenue".steps[0].query' in str(err.value)
    assert "give rows" in str(err.value)


def test_the_new_fields_load_and_round_trip() -> None:
    text = DESIGN.replace("{range}", "created_at").replace(
        "rows: 300, selectivity: {selectivity}", "rows: 300")
    design = dk.load(text)
    assert dk.load(dk.dump(design)) == design
    [plan] = dk.query_plans(design).plans
    assert (plan.now.shape, plan.now.path) == ("aggregate", "btree (merchant_id, created_at)")
    assert plan.now.ms == pytest.approx(SEEK + 299 * ROW)


def test_query_columns_name_their_place() -> None:
    assert q(where=["a"], range="b", contains=["c"], order_by=["d"]).columns() == [
        (("where", 0), "a"), (("range",), "b"), (("contains", 0), "c"), (("order_by", 0), "d")]


def test_an_unknown_range_column_is_an_error_that_names_the_place() -> None:
    text = DESIGN.replace("{range}", "created_on").replace(
        "rows: 300, selectivity: {selectivity}", "rows: 300")
    with pytest.raises(dk.DesignError) as err:
        dk.load(text)
    assert ('components.api.endpoints."GET /revenue".steps[0].query.range: table '
            "db.payments has no column 'created_on' (did you mean 'created_at'?)") \
        in str(err.value)


def test_the_estimate_lists_the_rows_it_assumes() -> None:
    d = dk.Design(name="a")
    t = d.database("db").table("orders", rows=1_000_000)
    t.column("id", "uuid", primary_key=True).column("user_id", "uuid").index("user_id")
    ep = d.service("api").endpoint("GET /orders")
    ep.call("db", query={"table": "orders", "where": ["user_id"], "limit": 20})
    ep.call("db", query={"table": "orders", "where": ["id"]})
    ep.call("db", query={"table": "orders", "where": ["user_id"], "rows": 12})
    d.set_load("api GET /orders", 10)
    found = {a.subject: a.value for a in dk.estimate(d).assumptions
             if a.subject.endswith(".query.rows")}
    # the limited read of a non-unique index only: the key lookup is exact, 12 is stated
    assert found == {'components.api.endpoints."GET /orders".steps[0].query.rows': "20"}
