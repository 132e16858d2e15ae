"""Broken files, one format at a time: each gives one MeasurementError whose message names
the file and the line (or JSON pointer) and says what is wrong; nothing is skipped silently.
Most are real files from tests/data/measurements with one thing broken."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from designkit.errors import DesignkitError
from designkit.measure import MeasurementError, measurements
from designkit.measure.read import detect_format

DATA = Path(__file__).resolve().parents[1] / "data" / "measurements"


def _error(*sources: object, **options: str) -> str:
    with pytest.raises(MeasurementError) as caught:
        measurements(*sources, **options)  # type: ignore[arg-type]
    assert isinstance(caught.value, DesignkitError) and isinstance(caught.value, ValueError)
    return str(caught.value)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


# --- plain CSV -----------------------------------------------------------------------------

def test_csv_latency_not_a_number(tmp_path: Path) -> None:
    rows = _lines(DATA / "csv" / "shop-poisson.csv")
    rows[13] = rows[13].replace(rows[13].split(",")[2], "abc")
    path = tmp_path / "low.csv"
    path.write_text("".join(rows))
    assert _error(path) == f"{path}:14: latency_ms 'abc' is not a number"


def test_csv_every_bad_row_is_listed_in_one_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("timestamp,endpoint,latency_ms,status\n"
                    "1717236000,GET /x,12,200\n"
                    "yesterday,GET /x,12,200\n"
                    "1717236001,GET /x,-3,200\n"
                    "1717236002,GET /x,12,teapot\n"
                    "1717236003,GET /x,12\n"
                    "1717236004,,12,200\n")
    assert _error(path) == "\n".join([
        f"{path}: 5 problems",
        f"  {path}:3: timestamp 'yesterday' is neither seconds since the epoch nor an "
        "ISO-8601 date and time",
        f"  {path}:4: latency_ms '-3' is negative",
        f"  {path}:5: status 'teapot' is neither an HTTP status code nor ok/error",
        f"  {path}:6: 3 fields, the header has 4",
        f"  {path}:7: endpoint is empty"])


def test_csv_missing_and_misspelt_columns(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("timestamp,endpoint,latncy_ms,status\n1,GET /x,12,200\n")
    message = _error(path)
    assert f"{path}:1: unknown column 'latncy_ms' (did you mean 'latency_ms'?)" in message
    assert f"{path}:1: missing column latency_ms" in message


def test_csv_header_only_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("timestamp,endpoint,latency_ms,status\n")
    assert _error(path) == f"{path}: holds no requests: only a header line"
    path.write_text("")
    assert "empty" in _error(path, format="csv")


def test_csv_statuses_and_iso_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "iso.csv"
    path.write_text("timestamp,endpoint,latency_ms,status,method\n"
                    "2024-06-01T10:00:00Z,GET /x,10,ok,GET\n"
                    "2024-06-01T10:00:01.5+00:00,GET /x,20,200,GET\n"
                    "2024-06-01 10:00:02,GET /x,30,0,GET\n"
                    "2024-06-01T10:00:03Z,GET /x,40,ERROR,GET\n")
    (x,) = measurements(path).endpoints()
    assert (x.count, x.errors, x.samples_ms, x.rate_rps) == (4, 2, (10.0, 20.0), 1.0)
    assert x.attributes == {"method": "GET"}


# --- Locust --------------------------------------------------------------------------------

def test_locust_history_alone_asks_for_the_stats(tmp_path: Path) -> None:
    history = tmp_path / "shop_stats_history.csv"
    history.write_text((DATA / "locust" / "shop_stats_history.csv").read_text())
    assert _error(history) == (f"{history}: no shop_stats.csv beside it: pass the "
                               "PREFIX_stats.csv that Locust's --csv PREFIX wrote")
    renamed = tmp_path / "history.csv"
    renamed.write_text(history.read_text())
    assert "this is Locust's stats history: pass the PREFIX_stats.csv" in _error(renamed)


def test_locust_bad_count(tmp_path: Path) -> None:
    rows = _lines(DATA / "locust" / "shop_stats.csv")
    rows[2] = rows[2].replace(",451,", ",many,")
    path = tmp_path / "shop_stats.csv"
    path.write_text("".join(rows))
    assert _error(tmp_path / "shop") == f"{path}:3: Request Count 'many' is not a count"


def test_locust_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "old_stats.csv"
    path.write_text('"Method","Name","# requests","# failures"\n"GET","/x",3,0\n')
    message = _error(path)
    assert message.startswith(f"{path}:1: not Locust's PREFIX_stats.csv: missing columns Type,")


# --- k6 ------------------------------------------------------------------------------------

def test_k6_line_not_json(tmp_path: Path) -> None:
    rows = _lines(DATA / "k6" / "k6out-head.json")
    rows[6] = rows[6].replace(',"metric"', ' "metric"', 1)
    path = tmp_path / "k6.json"
    path.write_text("".join(rows))
    assert _error(path) == f"{path}:7: not JSON (Expecting ',' delimiter, column 123)"


def test_k6_truncated_last_line(tmp_path: Path) -> None:
    text = (DATA / "k6" / "k6out-head.json").read_text()
    path = tmp_path / "k6.json"
    path.write_text(text[:-40])
    assert _error(path).startswith(f"{path}:{text.count(chr(10))}: not JSON (")


def test_k6_point_without_value_or_name(tmp_path: Path) -> None:
    path = tmp_path / "k6.json"
    path.write_text('{"type":"Point","metric":"http_req_duration","data":{"time":'
                    '"2024-06-01T10:00:00Z","value":"slow","tags":{"status":"200"}}}\n')
    assert _error(path) == "\n".join([
        f"{path}: 2 problems",
        f"  {path}:1: /data/value: 'slow' is not a duration in ms",
        f"  {path}:1: /data/tags: no name, method or url tag to group by"])


def test_k6_summary_without_metrics(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text('{"metrics": {"http_reqs": {"count": 3, "rate": 1}}}')
    assert _error(path) == (f"{path}: /metrics/http_req_duration: missing: the summary has "
                            "no HTTP requests")


def test_k6_summary_names_must_cover_every_request(tmp_path: Path) -> None:
    summary = json.loads((DATA / "k6" / "summary.json").read_text())
    metrics = summary["metrics"]
    metrics["http_req_duration{name:GET /contacts.php}"] = metrics["http_req_duration"]
    metrics["http_reqs{name:GET /contacts.php}"] = {"type": "counter",
                                                   "values": {"count": 15, "rate": 1.8}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    assert _error(path) == (f"{path}: /metrics: the name submetrics cover 15 of 20 requests "
                            "(http_reqs): give every request name a threshold on "
                            "http_req_duration{name:…}, or read k6's --out json output")
    metrics["http_reqs{name:GET /contacts.php}"]["values"]["count"] = 20
    metrics["http_req_failed"]["values"]["passes"] = 2
    path.write_text(json.dumps(summary))
    assert _error(path) == (f"{path}: /metrics/http_req_duration{{name:GET ~1contacts.php}}: "
                            "2 requests failed but the summary does not say which: add a "
                            "threshold on http_req_failed{name:GET /contacts.php}")


def test_k6_summary_by_name(tmp_path: Path) -> None:
    summary = json.loads((DATA / "k6" / "summary.json").read_text())
    metrics = summary["metrics"]
    for name, count in (("home", 12), ("contacts", 8)):
        metrics[f"http_req_duration{{name:{name}}}"] = {"type": "trend", "values": {
            "avg": 100.0 + count, "med": 90.0, "p(95)": 150.0, "p(99)": 170.0}}
        metrics[f"http_reqs{{name:{name}}}"] = {"type": "counter",
                                                "values": {"count": count, "rate": count / 8}}
        metrics[f"http_req_failed{{name:{name}}}"] = {"type": "rate", "values": {
            "rate": 0.25, "passes": count // 4, "fails": count - count // 4}}
    metrics["http_req_duration{name:home,expected_response:true}"] = {"values": {
        "avg": 99.0, "med": 91.0, "p(95)": 140.0}}
    path = tmp_path / "by-name.json"
    path.write_text(json.dumps(summary))
    home, contacts = measurements(path).endpoints()
    assert (home.name, home.count, home.errors, home.rate_rps, home.mean_ms, home.p99_ms) == (
        "home", 12, 3, 1.5, 99.0, None)
    assert "latency_includes_errors" not in home.attributes
    assert (contacts.count, contacts.errors, contacts.mean_ms, contacts.p99_ms) == (
        8, 2, 108.0, 170.0)
    assert contacts.attributes == {"latency_includes_errors": "true"}


def test_k6_legacy_summary_export(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"root_group": {}, "metrics": {
        "http_req_duration": {"avg": 1812.9, "med": 836.9, "p(95)": 6927.5, "max": 30050.0},
        "http_reqs": {"count": 20144, "rate": 68.44},
        "http_req_failed": {"passes": 3335, "fails": 16809, "value": 0.1656}}}))
    (o,) = measurements(path).endpoints()
    assert (o.count, o.errors, o.rate_rps, o.p95_ms) == (20144, 3335, 68.44, 6927.5)
    assert o.attributes == {"latency_includes_errors": "true"}


def test_k6_csv_output_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "k6.csv"
    path.write_text("metric_name,timestamp,metric_value,check,error\n"
                    "http_req_duration,1641298536,114.365000,,\n")
    assert "k6's CSV output (--out csv) is not read: run k6 with --out json=FILE" in _error(path)


# --- JMeter --------------------------------------------------------------------------------

def test_jmeter_csv_without_header(tmp_path: Path) -> None:
    path = tmp_path / "run.jtl"
    path.write_text("".join(_lines(DATA / "jmeter" / "shop-csv.jtl")[1:]))
    assert detect_format(path) == "jmeter"
    assert _error(path) == (f"{path}:1: no header line: JMeter 2.x writes one only when run "
                            "with -Jjmeter.save.saveservice.print_field_names=true (or read "
                            "its XML .jtl)")


def test_jmeter_csv_bad_elapsed(tmp_path: Path) -> None:
    rows = _lines(DATA / "jmeter" / "shop-csv.jtl")
    fields = rows[4].split(",")
    fields[1] = "fast"
    rows[4] = ",".join(fields)
    path = tmp_path / "run.jtl"
    path.write_text("".join(rows))
    assert _error(path) == f"{path}:5: elapsed 'fast' is not a number of milliseconds"


def test_jmeter_xml_cut_short(tmp_path: Path) -> None:
    text = (DATA / "jmeter" / "shop-xml.jtl").read_text()
    path = tmp_path / "run.jtl"
    path.write_text(text[: text.rindex("<httpSample")])
    lines = path.read_text().count("\n") + 1
    assert _error(path) == (f"{path}:{lines}: not well-formed XML (no element found) (the "
                            "file ends before </testResults>: did JMeter stop before it "
                            "finished?)")


def test_jmeter_xml_bad_sample(tmp_path: Path) -> None:
    rows = _lines(DATA / "jmeter" / "shop-xml.jtl")
    rows[3] = re.sub(r' s="true"', "", rows[3])
    rows[5] = re.sub(r' t="\d+"', ' t="-4"', rows[5])
    path = tmp_path / "run.jtl"
    path.write_text("".join(rows))
    assert _error(path) == "\n".join([
        f"{path}: 2 problems",
        f"  {path}:4: <httpSample> lacks s (success)",
        f"  {path}:6: elapsed '-4' is not a number of milliseconds"])


def test_jmeter_xml_with_a_dtd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.jtl"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE testResults [<!ENTITY a "aaaa">]>\n'
                    '<testResults><httpSample t="1" ts="1" s="true" lb="&a;"/></testResults>')
    assert _error(path) == (f"{path}:2: has a document type declaration (DTD), which JMeter "
                            "never writes: refused")


# --- OpenTelemetry OTLP/JSON ---------------------------------------------------------------

def _otlp_document() -> dict[str, object]:
    line = (DATA / "otlp" / "orders-trace.json").read_text().splitlines()[0]
    return json.loads(line)  # type: ignore[no-any-return]


def _spans(document: dict[str, object]) -> list[dict[str, object]]:
    return document["resourceSpans"][0]["scopeSpans"][0]["spans"]  # type: ignore[index,no-any-return]


def test_otlp_span_ending_before_it_starts(tmp_path: Path) -> None:
    document = _otlp_document()
    span = _spans(document)[3]
    span["startTimeUnixNano"], span["endTimeUnixNano"] = (span["endTimeUnixNano"],
                                                          span["startTimeUnixNano"])
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(document, indent=1))
    assert _error(path) == (f"{path}: /resourceSpans/0/scopeSpans/0/spans/3/endTimeUnixNano: "
                            "before the start")


def test_otlp_base64_ids_in_one_line_of_many(tmp_path: Path) -> None:
    lines = _lines(DATA / "otlp" / "orders-trace.json")
    second = json.loads(lines[1])
    _spans(second)[0]["traceId"] = "W47/95gDgQPSabYzgT/GDA=="  # protobuf's JSON mapping
    del _spans(second)[1]["name"]
    path = tmp_path / "trace.json"
    path.write_text(lines[0] + json.dumps(second) + "\n")
    assert _error(path) == "\n".join([
        f"{path}: 2 problems",
        f"  {path}:2: /resourceSpans/0/scopeSpans/0/spans/0/traceId: 'W47/95gDgQPSabYzgT/GDA==' "
        "is not 32 hex digits (OTLP/JSON writes ids in hex, not base64)",
        f"  {path}:2: /resourceSpans/0/scopeSpans/0/spans/1/name: missing: every span has a "
        "name"])


def test_otlp_batch_written_twice(tmp_path: Path) -> None:
    lines = _lines(DATA / "otlp" / "orders-trace.json")
    path = tmp_path / "trace.json"
    path.write_text(lines[0] + lines[0])
    message = _error(path)
    assert message.startswith(f"{path}: {len(_spans(json.loads(lines[0])))} problems\n")
    assert re.search(rf"  {re.escape(str(path))}:2: /resourceSpans/0/scopeSpans/0/spans/0: "
                     r"span [0-9a-f]{16} of trace [0-9a-f]{32} appears twice \(first at "
                     rf"{re.escape(str(path))}:1: /resourceSpans/0/scopeSpans/0/spans/0\): was "
                     "a batch exported twice\\?", message)


def test_otlp_not_json(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    path.write_text('{"resourceSpans": [\n  {"scopeSpans": []\n  {}\n]}\n')
    assert _error(path) == f"{path}:3: not JSON (Expecting ',' delimiter, column 3)"


# --- any format ----------------------------------------------------------------------------

def test_unknown_format_lists_the_five(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("latency was fine\n")
    message = _error(path)
    assert message.startswith(f"{path}: not a format designkit reads; pass format= one of:\n")
    for name in ("csv", "locust", "k6", "jmeter", "otlp"):
        assert re.search(rf"^  {name} +\S", message, re.MULTILINE)
    assert "format='gatling': unknown; the formats are:\n  csv" in _error(path,
                                                                          format="gatling")


def test_no_file_and_no_files(tmp_path: Path) -> None:
    assert _error(tmp_path / "missing.csv") == f"{tmp_path / 'missing.csv'}: no such file"
    assert _error() == "measurements(): no files given: pass one or more paths"
    assert _error(tmp_path) == f"{tmp_path}: is a directory, not a file"


def test_the_same_run_twice_is_refused() -> None:
    path = DATA / "jmeter" / "shop-csv.jtl"
    message = _error(path, path)
    assert message.startswith("measurements: 3 problems\n")
    assert (f"  {path}:2: run 'shop-csv' already has endpoint 'GET /products/{{id}}' (from "
            f"{path}:2): give the runs distinct labels") in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_bytes(b"timestamp,endpoint,latency_ms,status\n1,GET /caf\xe9,1,200\n")
    assert _error(path) == f"{path}:2: not UTF-8 text (byte 0xe9)"
