"""A part has one spelling in every finding: the subject ``format_path`` gives it (a name
with a dot is quoted: ``components."orders.db"``), whichever rule judged it, so one waiver
or attestation covers all of its findings."""

from __future__ import annotations

import datetime as dt

import designkit as dk

TODAY = dt.date(2026, 1, 1)
DB = 'components."orders.db"'
CACHE = 'components."hot.cache"'


def dotted() -> dk.Design:
    """A database and a cache whose names hold a dot, judged by every area's rules."""
    d = dk.Design(name="dotted")
    db = d.database("orders.db", pool_size=10, max_connections=100)
    db.table("orders", rows=50_000_000, growth_per_day=100_000) \
        .column("id", "uuid", primary_key=True).column("customer_id", "uuid") \
        .column("tags", "jsonb").column("status", "text")
    db.table("order_items", rows=1_000) \
        .column("id", "uuid", primary_key=True) \
        .column("order_id", "uuid", references="orders.id") \
        .column("order_status", "text").column("qty", "int", denormalized=True)
    db.table("leaderboard", rows=10, growth_per_day=0).column("id", "uuid", primary_key=True)
    d.cache("hot.cache", hit_ratio=0.8)
    api = d.service("api")
    api.endpoint("GET /orders/{id}").cache("hot.cache").call(
        "orders.db", query={"table": "orders", "where": ["customer_id"]})
    tx = api.endpoint("POST /orders").transaction("orders.db")
    tx.call("orders.db", query={"table": "orders", "kind": "select", "where": ["id"]})
    tx.call("orders.db", query={"table": "orders", "kind": "update", "where": ["id"]})
    tx.call("orders.db", query={"table": "order_items", "kind": "insert"})
    d.workload = {"api GET /orders/{id}": 50, "api POST /orders": 5}
    return d


def test_a_dotted_name_has_one_spelling_in_every_subject() -> None:
    findings = dk.assess(dotted(), today=TODAY).findings
    about = [f for f in findings if "orders.db" in f.subject or "hot.cache" in f.subject]
    assert not [f.fingerprint for f in about
                if not f.subject.startswith((DB + ".", CACHE)) and f.subject != DB]
    assert {f.rule for f in about if f.subject.startswith(DB + ".tables.")} >= {
        "DK-DB-001", "DK-DB-002", "DK-DB-003", "DK-DB-004", "DK-DB-006", "DK-DB-007",
        "DK-RES-001"}
    assert {f.rule for f in about if f.subject == DB} >= {
        "DK-DB-005", "DK-PERF-003", "DK-RES-002", "DK-SEC-001"}
    assert [f.rule for f in about if f.subject == CACHE] == ["DK-PERF-006"]


def test_a_waiver_on_the_quoted_subject_covers_its_findings() -> None:
    design = dotted()
    design.waivers = [
        dk.Waiver(finding=f"DK-DB-005@{DB}", reason="migrations in the app repo",
                  owner="ana"),
        dk.Waiver(finding=f"DK-DB-001@{DB}.tables.*", reason="legacy schema", owner="ana"),
        dk.Waiver(finding=f"DK-PERF-006@{CACHE}", reason="a throwaway cache", owner="ana"),
    ]
    assessment = dk.assess(design, today=TODAY)
    waived = sorted((f.rule, f.subject) for f in assessment.findings
                    if f.status is dk.Status.WAIVED)
    assert waived == [("DK-DB-001", f"{DB}.tables.order_items"),
                      ("DK-DB-001", f"{DB}.tables.orders"),
                      ("DK-DB-005", DB), ("DK-PERF-006", CACHE)]
    assert not assessment.unused_waivers
