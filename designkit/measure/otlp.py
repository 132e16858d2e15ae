"""Read OpenTelemetry spans in OTLP/JSON: one ``ExportTraceServiceRequest`` object
(``{"resourceSpans": [...]}``), or one per line as the Collector's file exporter and an
OTLP/HTTP receiver that keeps each request body write them.

A span whose parent is not in the file (no ``parentSpanId``, or one of another file) is an
endpoint-level observation (kind ``"endpoint"``); every other span is kind ``"span"``.
Spans are grouped by name; a span failed when its ``status.code`` is 2 (``ERROR``); its
latency is ``endTimeUnixNano - startTimeUnixNano``. The rate of a name is its share of
the rate of the endpoint-level spans, from their start times (``(n - 1) / (t_n - t_1)``
over the file's ``n`` of them): a database call made twice per request shows twice the
request rate. The attributes of an
observation are those all its spans agree on: the span's own (``http.route``,
``db.system``, ``server.address``, ``peer.service``…), the resource's ``service.*`` and
``deployment.*``, ``span.kind`` (``server``, ``client``…) and ``parent`` (the parent
span's name). The run is named after the file's stem.

Ids are read as OTLP/JSON writes them, in hex (32 digits for a trace, 16 for a span).
This is plain ``json`` rather than ``opentelemetry-proto`` with protobuf's ``json_format``:
that parser takes the hex ids for base64 (OTLP/JSON differs from protobuf's JSON mapping
there) and decodes them to wrong bytes without a word, and its errors carry no position.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from designkit.measure._shared import (
    Groups,
    Problems,
    Source,
    fail,
    json_document,
    json_lines,
    pointer,
    read_text,
    run_name,
    shown,
)
from designkit.measure.observations import Measurements

__all__ = ["read_otlp"]

_HEX_TRACE = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX_SPAN = re.compile(r"^[0-9a-fA-F]{16}$")
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer",
          5: "consumer"}
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


@dataclass(frozen=True)
class _Span:
    place: str
    trace: str
    span: str
    parent: str
    name: str
    start_ns: int
    end_ns: int
    failed: bool
    attributes: dict[str, str]


def read_otlp(source: Source) -> Measurements:
    """Read OpenTelemetry spans from an OTLP/JSON file (see the module's docstring).

    Args:
        source: The file: one ``ExportTraceServiceRequest`` in JSON, or one per line.

    Returns:
        An observation per (kind, span name): ``"endpoint"`` for spans without a parent in
        the file, ``"span"`` for the others, with every successful duration as a sample.

    Raises:
        MeasurementError: A line or the document is not JSON, or a span lacks an id, a
            name or a time, has one of the wrong shape, ends before it starts, or appears
            twice (each listed with its line and JSON pointer).

    Example:
        >>> import json, pathlib, tempfile
        >>> def span(sid, parent, name, start_ms, end_ms, code=0):
        ...     return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": sid,
        ...             "parentSpanId": parent, "name": name, "kind": 2 if not parent else 3,
        ...             "startTimeUnixNano": str(start_ms * 10**6),
        ...             "endTimeUnixNano": str(end_ms * 10**6), "status": {"code": code}}
        >>> spans = [span("eee19b7ec3c1b174", "", "GET /orders/{id}", 0, 40),
        ...          span("eee19b7ec3c1b175", "eee19b7ec3c1b174", "SELECT orders", 10, 30)]
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "trace.json"
        >>> request = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
        >>> _ = path.write_text(json.dumps(request))
        >>> for o in read_otlp(path).observations:
        ...     print(o.kind, o.name, o.mean_ms, o.attributes["span.kind"])
        endpoint GET /orders/{id} 40.0 server
        span SELECT orders 20.0 client
    """
    place = shown(source)
    path = Path(place)
    text = read_text(path, place)
    problems = Problems(place)
    spans = list(_spans(_documents(text, place, problems), problems))
    problems.check()
    if not spans:
        raise fail(place, "holds no spans")
    names: dict[tuple[str, str], _Span] = {}
    for s in spans:
        if (s.trace, s.span) in names:
            problems.add(s.place, f"span {s.span} of trace {s.trace} appears twice (first at "
                         f"{names[s.trace, s.span].place}): was a batch exported twice?")
        names.setdefault((s.trace, s.span), s)
    problems.check()
    run = run_name(path)
    groups = Groups()
    for s in spans:
        parent = names.get((s.trace, s.parent)) if s.parent else None
        if parent is None:
            groups.clock(run).tick(s.start_ns / 1e9)
        attributes = dict(s.attributes)
        if parent is not None:
            attributes["parent"] = parent.name
        groups.group(run, "span" if parent else "endpoint", s.name, s.place).add(
            (s.end_ns - s.start_ns) / 1e6, s.failed, attributes)
    ordered = sorted(groups.groups.values(), key=lambda g: g.kind != "endpoint")
    return Measurements(tuple(g.observation(groups.clock(run)) for g in ordered))


def _documents(text: str, place: str, problems: Problems) -> Iterator[tuple[str, object]]:
    """Each ``ExportTraceServiceRequest`` with the place to prefix its JSON pointers."""
    lines = [line for line in text.splitlines() if line.strip()]
    one = len(lines) == 1
    if not one:
        try:
            json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            one = True  # a document spread over several lines
    if one:
        yield place, json_document(text, place)
        return
    for line, document in json_lines(text, place, problems):
        yield f"{place}:{line}", document


def _spans(documents: Iterator[tuple[str, object]], problems: Problems) -> Iterator[_Span]:
    for place, document in documents:
        if not isinstance(document, dict) or not isinstance(document.get("resourceSpans"),
                                                            list):
            problems.add(f"{place}: /resourceSpans", "missing: not an OTLP/JSON "
                         'ExportTraceServiceRequest ({"resourceSpans": [...]})')
            continue
        for r, resource_spans in enumerate(document["resourceSpans"]):
            base = ("resourceSpans", r)
            if not isinstance(resource_spans, dict):
                problems.add(f"{place}: {pointer(*base)}", "not an object")
                continue
            resource = resource_spans.get("resource") or {}
            raw = resource.get("attributes", []) if isinstance(resource, dict) else None
            shared = {k: v for k, v in _attributes(raw, f"{place}: {pointer(*base, 'resource')}",
                                                   problems).items()
                      if k.startswith(("service.", "deployment."))}
            scopes_key = "scopeSpans" if "scopeSpans" in resource_spans \
                else "instrumentationLibrarySpans"
            scopes = resource_spans.get(scopes_key, [])
            if not isinstance(scopes, list):
                problems.add(f"{place}: {pointer(*base, scopes_key)}", "not a list")
                continue
            for s, scope in enumerate(scopes):
                spans = scope.get("spans", []) if isinstance(scope, dict) else None
                if not isinstance(spans, list):
                    problems.add(f"{place}: {pointer(*base, scopes_key, s, 'spans')}",
                                 "not a list")
                    continue
                for i, span in enumerate(spans):
                    where = f"{place}: {pointer(*base, scopes_key, s, 'spans', i)}"
                    parsed = _span(span, where, shared, problems)
                    if parsed is not None:
                        yield parsed


def _span(span: object, where: str, shared: dict[str, str], problems: Problems
          ) -> _Span | None:
    if not isinstance(span, dict):
        problems.add(where, "not an object")
        return None
    found = len(problems.found)
    trace = _id(span, "traceId", _HEX_TRACE, 32, where, problems, required=True)
    span_id = _id(span, "spanId", _HEX_SPAN, 16, where, problems, required=True)
    parent = _id(span, "parentSpanId", _HEX_SPAN, 16, where, problems, required=False)
    name = span.get("name")
    if not isinstance(name, str) or not name:
        problems.add(f"{where}/name", "missing: every span has a name")
    start = _nanos(span, "startTimeUnixNano", where, problems)
    end = _nanos(span, "endTimeUnixNano", where, problems)
    if start is not None and end is not None and end < start:
        problems.add(f"{where}/endTimeUnixNano", "before the start")
    status = span.get("status") or {}
    code = status.get("code", 0) if isinstance(status, dict) else None
    code = _STATUS.get(code, code) if isinstance(code, str) else code
    if code not in (0, 1, 2):
        problems.add(f"{where}/status", f"{status!r} has no status code 0, 1 or 2")
    kind = span.get("kind", 0)
    if isinstance(kind, str):
        kind = kind.removeprefix("SPAN_KIND_").lower()
    elif isinstance(kind, int) and kind in _KINDS:
        kind = _KINDS[kind]
    else:
        problems.add(f"{where}/kind", f"{kind!r} is not a span kind (0-5)")
    attributes = _attributes(span.get("attributes", []), where, problems)
    if len(problems.found) > found or start is None or end is None or not isinstance(
            name, str):
        return None
    return _Span(where, trace, span_id, parent, name, start, end, code == 2,
                 {**shared, "span.kind": str(kind), **attributes})


def _id(span: dict[str, object], key: str, pattern: re.Pattern[str], digits: int, where: str,
        problems: Problems, required: bool) -> str:
    value = span.get(key, "")
    if value == "" and not required:
        return ""
    if not isinstance(value, str) or not pattern.match(value):
        problems.add(f"{where}/{key}", f"{value!r} is not {digits} hex digits (OTLP/JSON "
                     "writes ids in hex, not base64)")
        return ""
    return value.lower()


def _nanos(span: dict[str, object], key: str, where: str, problems: Problems) -> int | None:
    value = span.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    problems.add(f"{where}/{key}", "missing" if value is None else
                 f"{value!r} is not a time in nanoseconds since the epoch")
    return None


def _attributes(raw: object, where: str, problems: Problems) -> dict[str, str]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        problems.add(f"{where}/attributes", "not a list of {key, value}")
        return {}
    found: dict[str, str] = {}
    for a, attribute in enumerate(raw):
        key = attribute.get("key") if isinstance(attribute, dict) else None
        value = _value(attribute.get("value")) if isinstance(attribute, dict) else None
        if not isinstance(key, str) or value is None:
            problems.add(f"{where}/attributes/{a}", f"{attribute!r} is not an attribute "
                         "{key, value: {stringValue | intValue | …}}")
            continue
        found[key] = value
    return found


def _value(value: object) -> str | None:
    """An OTLP ``AnyValue`` as text; ``None`` if it is none."""
    if not isinstance(value, dict):
        return None
    if not value:
        return ""
    (kind, content), *rest = value.items()
    if rest:
        return None
    if kind == "stringValue" and isinstance(content, str):
        return content
    if kind == "boolValue" and isinstance(content, bool):
        return "true" if content else "false"
    if kind == "intValue" and (isinstance(content, int) or (
            isinstance(content, str) and content.removeprefix("-").isascii()
            and content.removeprefix("-").isdigit())):
        return str(int(content))
    if kind == "doubleValue" and isinstance(content, int | float | str):
        try:
            number = float(content)
        except ValueError:
            return None
        return repr(number) if math.isfinite(number) else str(content)
    if kind == "bytesValue" and isinstance(content, str):
        return content
    if kind in ("arrayValue", "kvlistValue") and isinstance(content, dict):
        return json.dumps(content, sort_keys=True)
    return None
