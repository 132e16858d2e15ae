"""Read any number of load-test results and traces into one :class:`Measurements`,
telling each file's format from its content."""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Callable
from pathlib import Path

from designkit.measure._shared import Source, fail, read_bytes, read_text, shown
from designkit.measure.errors import MeasurementError
from designkit.measure.observations import Measurements

__all__ = ["FORMATS", "detect_format", "measurements"]

FORMATS: dict[str, str] = {
    "csv": "designkit's plain CSV: a header timestamp,endpoint,latency_ms,status[,run]",
    "locust": "Locust's --csv PREFIX output: PREFIX_stats.csv (Type,Name,Request Count,…), "
              "or the PREFIX",
    "k6": "k6's --out json=FILE lines ({\"type\":\"Point\",\"metric\":…}) or its summary "
          "JSON ({\"metrics\": {\"http_req_duration\": …}})",
    "jmeter": "a JMeter .jtl: CSV with a header timeStamp,elapsed,label,… or XML "
              "<testResults><httpSample …/>",
    "otlp": "OpenTelemetry spans in OTLP/JSON: {\"resourceSpans\": [...]}, one object or "
            "one per line",
}
"""The formats :func:`measurements` reads, with what each looks like."""

_READERS: dict[str, tuple[str, str]] = {
    "csv": ("plain_csv", "read_csv"), "locust": ("locust", "read_locust"),
    "k6": ("k6", "read_k6"), "jmeter": ("jmeter", "read_jmeter"), "otlp": ("otlp", "read_otlp"),
}
"""Each format's reader (module and function): loaded when a file of it is read, so that
``import designkit`` does not load five parsers."""


def _reader(format: str) -> Callable[[Source], Measurements]:
    module, name = _READERS[format]
    found: Callable[[Source], Measurements] = getattr(
        importlib.import_module(f"designkit.measure.{module}"), name)
    return found
_HEAD = 65536


def measurements(*sources: Source, format: str | None = None) -> Measurements:
    """Read load-test results and traces into one :class:`Measurements`.

    Args:
        *sources: Files (a Locust ``--csv`` prefix also works). Each file's observations
            belong to the run named after its stem, unless the format says otherwise (a
            plain CSV's ``run`` column, a Locust prefix).
        format: ``"csv"``, ``"locust"``, ``"k6"``, ``"jmeter"`` or ``"otlp"`` for every
            source; by default each file's is told from its content (:func:`detect_format`).

    Returns:
        The observations of every source, in order; each (run, kind, name) once.

    Raises:
        MeasurementError: No source was given, a format is unknown or cannot be told, a
            file cannot be read (the message names the file and the line or JSON pointer,
            and the fix), or two files hold the same run and name.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.csv"
        >>> _ = path.write_text("timestamp,endpoint,latency_ms,status,run\\n"
        ...                     "0.0,GET /x,10,200,low\\n1.0,GET /x,14,200,low\\n"
        ...                     "5.0,GET /x,30,200,high\\n5.1,GET /x,50,500,high\\n")
        >>> m = measurements(path)
        >>> m.runs(), [(o.run, o.count, o.errors, round(o.rate_rps, 3)) for o in m.endpoints()]
        (('low', 'high'), [('low', 2, 0, 1.0), ('high', 2, 1, 10.0)])
    """
    if not sources:
        raise fail("measurements()", "no files given: pass one or more paths")
    if format is not None and format not in _READERS:
        raise fail(f"format={format!r}", "unknown; the formats are:\n" + _formats())
    found = Measurements(())
    for source in sources:
        found = found + _reader(format or detect_format(source))(source)
    return found


def detect_format(source: Source) -> str:
    """The format of ``source``, told from its content: one of :data:`FORMATS`.

    Raises:
        MeasurementError: The file does not exist, or looks like none of the formats (the
            message lists what each looks like).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jtl"
        >>> _ = path.write_text("timeStamp,elapsed,label,responseCode,success\\n")
        >>> detect_format(path)
        'jmeter'
    """
    place = shown(source)
    path = Path(place)
    if not path.exists():
        from designkit.measure.locust import locust_stats_path

        stats = locust_stats_path(source)
        if stats is not None and stats.exists():
            return "locust"
        raise fail(place, "no such file")
    if path.is_dir():
        raise fail(place, "is a directory, not a file")
    head = read_bytes(path, place)[:_HEAD].decode("utf-8-sig", errors="replace").lstrip()
    detected = _detect(head, path)
    if detected is None:
        raise fail(place, "not a format designkit reads; pass format= one of:\n" + _formats())
    return detected


def _detect(head: str, path: Path) -> str | None:
    if head.startswith("<"):
        return "jmeter" if "<testResults" in head else None
    if head.startswith(("{", "[")):
        return _detect_json(head, path)
    first = head.partition("\n")[0].rstrip("\r")
    if not first:
        return None
    fields = {f.strip() for f in next(csv.reader([first], delimiter="\t" if "\t" in first
                                                  else ";" if ";" in first and "," not in
                                                  first else ","))}
    if {"Type", "Name", "Request Count"} <= fields or {"Timestamp", "User Count"} <= fields \
            or {"Method", "Name", "Error", "Occurrences"} <= fields \
            or {"Count", "Message", "Traceback", "Nodes"} <= fields \
            or {"Name", "# requests"} <= fields:  # Locust before 1.0: refused with the reason
        return "locust"
    if {"timeStamp", "elapsed"} <= fields or (first[:1].isdigit() and first.count(",") >= 7):
        return "jmeter"
    if {"metric_name", "timestamp", "metric_value"} <= fields:
        raise fail(str(path), "k6's CSV output (--out csv) is not read: run k6 with "
                   "--out json=FILE, or read its summary JSON")
    if "timestamp" in fields and fields & {"endpoint", "latency_ms", "status"}:
        return "csv"
    return None


def _detect_json(head: str, path: Path) -> str | None:
    first = head.partition("\n")[0]
    try:
        value = json.loads(first)
    except json.JSONDecodeError:
        try:
            value = json.loads(read_text(path, str(path)))
        except (json.JSONDecodeError, MeasurementError):
            return _detect_text(head)
    if not isinstance(value, dict):
        return None
    if "resourceSpans" in value:
        return "otlp"
    if value.get("type") in ("Point", "Metric") and "metric" in value:
        return "k6"
    if isinstance(value.get("metrics"), dict):
        return "k6"
    return None


def _detect_text(head: str) -> str | None:
    """A JSON file that does not parse: tell its format from its first keys, so that its
    reader reports where it breaks."""
    if '"resourceSpans"' in head:
        return "otlp"
    if ('"metric"' in head and '"type"' in head) or '"metrics"' in head:
        return "k6"
    return None


def _formats() -> str:
    return "\n".join(f"  {name:<7} {looks}" for name, looks in FORMATS.items())
