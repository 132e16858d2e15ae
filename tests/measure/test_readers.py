"""designkit.measure on real files, each written by the tool it reads (see
tests/data/measurements/README.md): names, counts, errors, rates and latencies checked
against values computed here straight from the files (csv, json, ElementTree, statistics)
or printed by the tool itself."""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from designkit.measure import Measurements, Observation, measurements
from designkit.measure.read import detect_format

DATA = Path(__file__).resolve().parents[1] / "data" / "measurements"
POISSON = DATA / "csv" / "shop-poisson.csv"
LOCUST = DATA / "locust" / "shop"
K6_POINTS = DATA / "k6" / "k6out-head.json"
K6_SUMMARY = DATA / "k6" / "summary.json"
JMETER_CSV = DATA / "jmeter" / "shop-csv.jtl"
JMETER_XML = DATA / "jmeter" / "shop-xml.jtl"
OTLP = DATA / "otlp" / "orders-trace.json"


class Expected:
    """Per-name requests of one run, computed independently of the reader."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.latencies: dict[str, list[float]] = defaultdict(list)  # successful only
        self.counts: dict[str, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)

    def add(self, name: str, start: float, latency_ms: float, failed: bool) -> None:
        self.starts.append(start)
        self.counts[name] += 1
        if failed:
            self.errors[name] += 1
        else:
            self.latencies[name].append(latency_ms)

    def rate(self, name: str) -> float:
        n = len(self.starts)
        return self.counts[name] * (n - 1) / (n * (max(self.starts) - min(self.starts)))

    def check(self, observation: Observation) -> None:
        name = observation.name
        samples = self.latencies[name]
        assert observation.count == self.counts[name]
        assert observation.errors == self.errors[name]
        assert observation.rate_rps == pytest.approx(self.rate(name), rel=1e-9)
        assert observation.mean_ms == pytest.approx(statistics.fmean(samples), rel=1e-9)
        assert observation.p50_ms == pytest.approx(statistics.median(samples), rel=1e-9)
        cuts = statistics.quantiles(samples, n=100, method="inclusive")  # linear
        assert observation.p95_ms == pytest.approx(cuts[94], rel=1e-9)
        assert observation.p99_ms == pytest.approx(cuts[98], rel=1e-9)
        assert sorted(observation.samples_ms) == sorted(samples)


# --- plain CSV: the open-loop Poisson driver, two runs in one file ---------------------------

def test_plain_csv_runs_and_endpoints_as_the_rows_say() -> None:
    expected: dict[str, Expected] = defaultdict(Expected)
    with POISSON.open(newline="") as handle:
        for row in csv.DictReader(handle):
            status = int(row["status"])
            expected[row["run"]].add(row["endpoint"], float(row["timestamp"]),
                                     float(row["latency_ms"]), status == 0 or status >= 400)
    m = measurements(POISSON)
    assert m.runs() == ("low", "high")
    assert m.spans() == ()
    assert {(o.run, o.name) for o in m.endpoints()} == {
        (run, name) for run in ("low", "high")
        for name in ("GET /products/{id}", "GET /search", "POST /orders")}
    for o in m.endpoints():
        expected[o.run].check(o)
    # the file as the driver wrote it: 653 requests, 20 of them failed (POST /orders 500)
    assert sum(o.count for o in m.endpoints()) == 653
    assert sum(o.errors for o in m.endpoints()) == 20
    # the driver asked for 20 then 60 requests/s (Poisson): the runs' rates are near that
    low, high = (sum(o.rate_rps for o in m.endpoints() if o.run == run) for run in m.runs())
    assert 16 < low < 24 and 54 < high < 66


def test_plain_csv_source_names_the_first_line_of_each_endpoint() -> None:
    m = measurements(POISSON)
    lines = POISSON.read_text().splitlines()
    for o in m.endpoints():
        path, _, line = o.source.rpartition(":")
        assert path == str(POISSON)
        fields = lines[int(line) - 1].split(",")
        assert (fields[1], fields[4]) == (o.name, o.run)


# --- Locust --csv --------------------------------------------------------------------------

def _locust_rows() -> list[dict[str, str]]:
    with Path(f"{LOCUST}_stats.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_locust_stats_as_locust_wrote_them() -> None:
    rows = _locust_rows()
    m = measurements(LOCUST)
    assert m.runs() == ("shop",)
    named = [r for r in rows if r["Name"] != "Aggregated"]
    assert [o.name for o in m.endpoints()] == [r["Name"] for r in named] == [
        "/orders", "/products/{id}", "/search"]
    for o, row in zip(m.endpoints(), named, strict=True):
        assert o.count == int(row["Request Count"])
        assert o.errors == int(row["Failure Count"])
        assert o.rate_rps == float(row["Requests/s"])
        assert o.mean_ms == float(row["Average Response Time"])
        assert (o.p50_ms, o.p95_ms, o.p99_ms) == (float(row["50%"]), float(row["95%"]),
                                                  float(row["99%"]))
        assert o.attributes["method"] == row["Type"]
        assert o.samples_ms == ()
    aggregated = next(r for r in rows if r["Name"] == "Aggregated")
    assert sum(o.count for o in m.endpoints()) == int(aggregated["Request Count"])
    assert sum(o.errors for o in m.endpoints()) == int(aggregated["Failure Count"])
    orders = m.endpoints()[0]
    assert orders.errors > 0 and orders.attributes["latency_includes_errors"] == "true"


def test_locust_console_summary_lists_the_same_names() -> None:
    # Locust's printed summary is final; its CSV is rewritten each second, so it can lag.
    console = (DATA / "locust" / "shop_console.txt").read_text()
    m = measurements(LOCUST)
    for o in m.endpoints():
        printed = re.search(rf"^{o.attributes['method']}\s+{re.escape(o.name)}\s+(\d+)\s+(\d+)",
                            console, re.MULTILINE)
        assert printed is not None
        assert int(printed[1]) >= o.count and int(printed[2]) >= o.errors


@pytest.mark.parametrize("given", ["shop", "shop_stats.csv", "shop_stats_history.csv",
                                   "shop_failures.csv", "shop_exceptions.csv"])
def test_locust_prefix_or_any_of_its_files_reads_the_stats(given: str) -> None:
    assert detect_format(DATA / "locust" / given) == "locust"
    assert measurements(DATA / "locust" / given) == measurements(f"{LOCUST}_stats.csv")


# --- k6: --out json lines and the summary JSON ---------------------------------------------

def test_k6_points_by_name_tag() -> None:
    expected = Expected()
    failed_points = 0
    for line in K6_POINTS.read_text().splitlines():
        record = json.loads(line)
        if record["type"] != "Point":
            continue
        data = record["data"]
        if record["metric"] == "http_req_failed":
            failed_points += int(data["value"])
        if record["metric"] != "http_req_duration":
            continue
        at = datetime.fromisoformat(data["time"]).timestamp()
        expected.add(data["tags"]["name"], at, data["value"],
                     data["tags"]["expected_response"] == "false")
    m = measurements(K6_POINTS)
    assert m.runs() == ("k6out-head",)
    assert [o.name for o in m.endpoints()] == ["http://test.k6.io", "https://test.k6.io/"]
    for o in m.endpoints():
        expected.check(o)
        assert o.attributes == {"method": "GET", "url": o.name, "scenario": "default"}
    assert sum(o.errors for o in m.endpoints()) == failed_points == 0
    assert [o.count for o in m.endpoints()] == [31, 30]


def test_k6_summary_as_k6_summed_it_up() -> None:
    summary = json.loads(K6_SUMMARY.read_text())["metrics"]
    ok = summary["http_req_duration{expected_response:true}"]["values"]
    (o,) = measurements(K6_SUMMARY).endpoints()
    assert (o.run, o.name, o.kind) == ("summary", "*", "endpoint")
    assert o.count == summary["http_reqs"]["values"]["count"] == 20
    assert o.rate_rps == summary["http_reqs"]["values"]["rate"]
    assert o.errors == summary["http_req_failed"]["values"]["passes"] == 0
    assert (o.mean_ms, o.p50_ms, o.p95_ms) == (ok["avg"], ok["med"], ok["p(95)"])
    assert o.p99_ms is None  # its summaryTrendStats has no p(99)
    assert o.samples_ms == ()


# --- JMeter .jtl, CSV and XML --------------------------------------------------------------

def _jmeter_console(path: Path) -> tuple[int, int]:
    console = path.with_name(path.stem + ".console.txt").read_text()
    total = re.search(r"^summary =\s+(\d+) in .* Err:\s+(\d+)", console, re.MULTILINE)
    assert total is not None
    return int(total[1]), int(total[2])


def test_jmeter_csv_samples_by_label() -> None:
    expected = Expected()
    with JMETER_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            expected.add(row["label"], int(row["timeStamp"]) / 1000, float(row["elapsed"]),
                         row["success"] == "false")
    m = measurements(JMETER_CSV)
    assert m.runs() == ("shop-csv",)
    assert [o.name for o in m.endpoints()] == ["GET /products/{id}", "GET /search",
                                               "POST /orders"]
    for o in m.endpoints():
        expected.check(o)
    assert (sum(o.count for o in m.endpoints()), sum(o.errors for o in m.endpoints())) \
        == _jmeter_console(JMETER_CSV)


def test_jmeter_xml_samples_by_label() -> None:
    expected = Expected()
    for sample in ET.parse(JMETER_XML).getroot():
        expected.add(sample.get("lb", ""), int(sample.get("ts", "")) / 1000,
                     float(sample.get("t", "")), sample.get("s") == "false")
    m = measurements(JMETER_XML)
    assert m.runs() == ("shop-xml",)
    for o in m.endpoints():
        expected.check(o)
    assert (sum(o.count for o in m.endpoints()), sum(o.errors for o in m.endpoints())) \
        == _jmeter_console(JMETER_XML)
    assert {o.name for o in m.endpoints()} == {"GET /products/{id}", "GET /search",
                                               "POST /orders"}


# --- OpenTelemetry OTLP/JSON, one export request per line ----------------------------------

def _otlp_spans() -> list[dict[str, Any]]:
    spans = []
    for line in OTLP.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                spans.extend(scope["spans"])
    return spans


def test_otlp_root_spans_are_endpoints_and_children_spans() -> None:
    spans = _otlp_spans()
    ids = {(s["traceId"], s["spanId"]) for s in spans}
    by_id = {(s["traceId"], s["spanId"]): s for s in spans}
    roots = [s for s in spans if (s["traceId"], s.get("parentSpanId", "")) not in ids]
    starts = [int(str(s["startTimeUnixNano"])) / 1e9 for s in roots]
    expected = {"endpoint": Expected(), "span": Expected()}
    for kind in expected:
        expected[kind].starts = starts
    for s in spans:
        kind = "endpoint" if s in roots else "span"
        duration = (int(str(s["endTimeUnixNano"])) - int(str(s["startTimeUnixNano"]))) / 1e6
        failed = s.get("status", {}).get("code") == 2
        e = expected[kind]
        e.counts[str(s["name"])] += 1
        e.errors[str(s["name"])] += failed
        if not failed:
            e.latencies[str(s["name"])].append(duration)
    m = measurements(OTLP)
    assert m.runs() == ("orders-trace",)
    assert [o.name for o in m.endpoints()] == ["GET /orders/{id}", "POST /orders"]
    assert {o.name for o in m.spans()} == {"redis GET", "SELECT orders", "redis SET",
                                           "INSERT orders", "POST /charge"}
    for o in m.observations:
        expected[o.kind].check(o)
    assert sum(o.count for o in m.endpoints()) == len(roots) == 80
    assert sum(o.errors for o in m.observations) == sum(
        1 for s in spans if s["status"]["code"] == 2)
    # every child's parent is in the file: the trace is whole
    assert all(by_id.get((s["traceId"], s["parentSpanId"])) for s in spans if s not in roots)


def test_otlp_attributes_say_what_each_span_calls() -> None:
    m = {o.name: o for o in measurements(OTLP).observations}
    select = m["SELECT orders"].attributes
    assert select["db.system"] == "postgresql" and select["server.address"] == "orders-db"
    assert select["span.kind"] == "client" and select["parent"] == "GET /orders/{id}"
    assert select["service.name"] == "orders-api"
    assert m["redis GET"].attributes["db.system"] == "redis"
    assert m["POST /charge"].attributes["peer.service"] == "payments"
    route = m["GET /orders/{id}"].attributes
    assert route["http.route"] == "/orders/{id}" and route["span.kind"] == "server"
    assert route["http.request.method"] == "GET"
    assert "url.path" not in route  # /orders/753, /orders/12…: not common to all
    assert "parent" not in route


def test_otlp_single_document_reads_the_same(tmp_path: Path) -> None:
    documents = [json.loads(line) for line in OTLP.read_text().splitlines()]
    merged = {"resourceSpans": [r for d in documents for r in d["resourceSpans"]]}
    single = tmp_path / "orders-trace.json"
    single.write_text(json.dumps(merged, indent=2))
    assert detect_format(single) == "otlp"
    one, lines = measurements(single), measurements(OTLP)
    assert [_no_source(o) for o in one.observations] == [_no_source(o) for o in
                                                         lines.observations]
    assert one.observations[0].source.startswith(f"{single}: /resourceSpans/0/scopeSpans/0/")


def _no_source(o: Observation) -> tuple[object, ...]:
    return (o.run, o.kind, o.name, o.count, o.errors, o.rate_rps, o.mean_ms, o.samples_ms)


# --- every file: its format told from its content ------------------------------------------

@pytest.mark.parametrize(("path", "fmt"), [
    (POISSON, "csv"), (Path(f"{LOCUST}_stats.csv"), "locust"), (LOCUST, "locust"),
    (K6_POINTS, "k6"), (K6_SUMMARY, "k6"), (JMETER_CSV, "jmeter"), (JMETER_XML, "jmeter"),
    (OTLP, "otlp")])
def test_format_is_told_from_content(path: Path, fmt: str) -> None:
    assert detect_format(path) == fmt
    assert measurements(path, format=fmt) == measurements(path)


def test_all_files_combine_into_one() -> None:
    everything = measurements(POISSON, LOCUST, K6_POINTS, K6_SUMMARY, JMETER_CSV, JMETER_XML,
                              OTLP)
    assert everything.runs() == ("low", "high", "shop", "k6out-head", "summary", "shop-csv",
                                 "shop-xml", "orders-trace")
    assert len(everything.spans()) == 5
    parts = [measurements(p) for p in (POISSON, LOCUST, K6_POINTS)]
    assert parts[0] + parts[1] + parts[2] == measurements(POISSON, LOCUST, K6_POINTS)
    table = everything.table()
    assert len(table) == len(everything.observations)
    assert all("samples_ms" not in row for row in table)
    assert all(isinstance(row["rate_rps"], float) and not math.isnan(row["rate_rps"])
               for row in table)
    assert isinstance(everything, Measurements)
