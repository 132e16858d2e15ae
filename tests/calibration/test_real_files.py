"""Calibration from files real tools wrote (``tests/data/measurements``): every name meets
the design, and the fitted design reproduces what each tool measured."""

from __future__ import annotations

from pathlib import Path

import pytest

import designkit as dk

DATA = Path(__file__).resolve().parents[1] / "data" / "measurements"

SHOP = """\
designkit: 1
name: shop   # producers/shop_server.py: products sleep 2-6 ms, search 20-60, orders 5-15
components:
  shop:
    kind: service
    workers: 64
    endpoints:
      "GET /products/{id}": {cpu_ms: 0.2, steps: [{call: db, service_ms: 2}]}
      "GET /search": {cpu_ms: 0.2, steps: [{call: search, service_ms: 20}]}
      "POST /orders": {cpu_ms: 0.2, steps: [{call: db, service_ms: 5}]}
  db: {kind: database, cores: 64, pool_size: 64}
  search: {kind: cache, servers: 64}
"""

ORDERS = """\
designkit: 1
name: orders   # producers/otel/trace_orders.js
components:
  orders-api:
    kind: service
    workers: 16
    endpoints:
      "GET /orders/{id}":
        cpu_ms: 0.5
        steps:
          - cache: orders-cache
            on_miss: [{call: orders-db, query: {table: orders, where: [id]}}]
      "POST /orders":
        cpu_ms: 1
        steps:
          - {call: orders-db, query: {table: orders, kind: insert}}
          - call: payments
  orders-cache: {kind: cache, engine: redis, service_ms: 0.5, hit_ratio: 0.6,
                 strategy: cache-aside}
  orders-db:
    kind: database
    engine: postgres
    cores: 4
    tables:
      orders: {rows: 100000, columns: {id: {type: uuid, primary_key: true}}}
  payments: {kind: external, latency_ms: 15}
"""


@pytest.mark.parametrize("name", ["locust/shop_stats.csv", "jmeter/shop-csv.jtl",
                                  "jmeter/shop-xml.jtl", "csv/shop-poisson.csv"])
def test_a_load_test_calibrates_the_shop(name: str) -> None:
    runs = dk.measurements(DATA / name)
    fit = dk.calibrate(dk.load(SHOP), runs, slowdown=False)
    assert fit.unmatched == ()
    keys = {"shop GET /products/{id}", "shop GET /search", "shop POST /orders"}
    assert {r.endpoint for r in fit.rows} == keys
    assert all(set(w) == keys for _, w in fit.runs)
    # the fitted design reproduces each endpoint's measured mean within 10 %, and every
    # statistic within 35 % (a p99 of a few hundred requests)
    means = [r for r in fit.rows if r.stat == "mean_ms"]
    assert max(abs(r.error) for r in means) < 0.10, fit.errors_table()
    assert fit.max_error < 0.35, fit.errors_table()
    # the server sleeps uniformly (products 2–6 ms, orders 5–15, search 20–60): the
    # database's and the search's times come out narrower than exponential, and the
    # database slower than the design's guesses (2 and 5 ms)
    fitted = {(p.component, p.what): p.value for p in fit.parameters}
    assert fitted[("db", "scv")] < 0.5 and fitted[("search", "scv")] < 0.5
    assert 1.5 < fitted[("db", "scale")] < 3.5
    assert 1.5 < fitted[("search", "scale")] < 2.5  # 40 ms of 20


def test_k6_samples_calibrate_a_site() -> None:
    site = dk.Design(name="site")
    site.service("web", workers=100).endpoint("GET /", cpu_ms=50)
    fit = dk.calibrate(site, dk.measurements(DATA / "k6" / "k6out-head.json"),
                       slowdown=False)
    assert fit.unmatched == ()  # http://test.k6.io and https://test.k6.io/ are GET /
    assert fit.runs[0][1] == {"web GET /": pytest.approx(10.78 + 10.43, rel=0.01)}
    mean = next(r for r in fit.rows if r.stat == "mean_ms")
    assert abs(mean.error) < 0.05


def test_a_trace_ties_each_span_to_its_component_and_endpoint() -> None:
    fit = dk.calibrate(dk.load(ORDERS), dk.measurements(DATA / "otlp" / "orders-trace.json"))
    assert fit.unmatched == ()
    spans = {(r.endpoint, r.label) for r in fit.rows if r.stat.startswith("span:")}
    assert spans == {("orders-api GET /orders/{id}", "orders-cache span"),
                     ("orders-api GET /orders/{id}", "orders-db span"),
                     ("orders-api POST /orders", "orders-db span"),
                     ("orders-api POST /orders", "payments span")}
    fitted = {(p.component, p.what): p for p in fit.parameters}
    assert {c for c, _ in fitted} == {"orders-api", "orders-db", "orders-cache", "payments"}
    # each span's time is reproduced by its component's fitted times: the payments call
    # (20.1 ms), the cache's reads and fills (1.2 and 1.1 ms against one read time), the
    # queries (an insert of 9.5 ms and a select of 7.0 ms share one scale)
    limits = {"payments span": 0.10, "orders-cache span": 0.25, "orders-db span": 0.25}
    for row in (r for r in fit.rows if r.stat.startswith("span:")):
        assert abs(row.error) < limits[row.label], fit.errors_table()
    # the trace's spans say the database is about ten times slower than the design's
    # default plan times, and the third party about 1.2×
    assert 8 < fitted[("orders-db", "scale")].value < 15
    assert 1.1 < fitted[("payments", "scale")].value < 1.4
    assert fit.rms_error < 0.15, fit.errors_table()
    payments = next(r for r in fit.rows if r.label == "payments span")
    assert payments.measured == pytest.approx(20.1, abs=0.05)
