"""Read k6's results: the JSON lines of ``--out json=FILE``, or its end-of-test summary JSON.

**JSON lines** (one object a line, ``{"type": "Point", "metric": "http_req_duration",
"data": {"time": …, "value": …, "tags": {…}}}``): every ``http_req_duration`` point is
one request, grouped by its ``name`` tag (without one: ``"METHOD url"``). A request failed
when its ``expected_response`` tag is ``"false"`` (k6's own rule, by default any status
outside 200-399), or, without that tag, when its ``status`` is 0 or 400 and above. The
latency is the point's value (ms); the rate comes from the point times, which k6 stamps
at the end of each request. ``method``, ``url`` and ``scenario`` become attributes when
all the requests of a name agree. Other metrics (``Metric`` declarations, ``http_reqs``,
``vus``…) are not needed and are skipped.

**Summary JSON** (``handleSummary``'s ``data`` or ``--summary-export``; ``{"metrics":
{"http_req_duration": …}}``): with ``http_req_duration{name:X}`` submetrics (k6 writes them
for names that have a threshold), one observation per name; the count and rate come
from ``http_reqs{name:X}`` (else the trend's ``count`` and the test's duration) and the
failures from ``http_req_failed{name:X}``. Without them, one observation named ``"*"``
for every HTTP request of the test. The latency is that of the successful requests when
the summary has the ``expected_response:true`` submetric; otherwise it includes the
failed ones (attribute ``latency_includes_errors``). Percentiles are those k6 computed
(``med``, ``p(95)``, ``p(99)`` when ``summaryTrendStats`` lists them). A summary whose
named requests do not add up to all of them, or whose failures cannot be given to names,
is refused.

The run is named after the file's stem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from designkit.measure._shared import (
    Groups,
    Problems,
    Source,
    fail,
    instant,
    json_document,
    json_lines,
    pointer,
    read_text,
    run_name,
    shown,
)
from designkit.measure.observations import Measurements, Observation

__all__ = ["read_k6"]

_SUBMETRIC = re.compile(r"^(?P<metric>[A-Za-z0-9_]+)\{(?P<tags>.*)\}$")


def read_k6(source: Source) -> Measurements:
    """Read k6's ``--out json`` lines or its summary JSON (see the module's docstring).

    Args:
        source: The file k6 wrote.

    Returns:
        One endpoint observation per request name; from JSON lines with every successful
        latency as a sample.

    Raises:
        MeasurementError: A line is not JSON, a point lacks what it needs, the file has no
            ``http_req_duration`` at all, or a summary cannot be split by name.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "k6.json"
        >>> point = ('{"type":"Point","metric":"http_req_duration","data":{"time":"%s",'
        ...          '"value":%s,"tags":{"name":"GET /x","status":"%s"}}}\\n')
        >>> _ = path.write_text(point % ("2024-06-01T10:00:00Z", 12.5, 200)
        ...                     + point % ("2024-06-01T10:00:02Z", 20.5, 200)
        ...                     + point % ("2024-06-01T10:00:04Z", 30000, 0))
        >>> (x,) = read_k6(path).endpoints()
        >>> x.count, x.errors, x.mean_ms, x.rate_rps, x.samples_ms
        (3, 1, 16.5, 0.5, (12.5, 20.5))
    """
    place = shown(source)
    path = Path(place)
    text = read_text(path, place)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.lstrip().startswith("{") and '"type"' in first and '"metric"' in first:
        return _read_points(text, place, run_name(path))
    return _read_summary(json_document(text, place), place, run_name(path))


def _read_points(text: str, place: str, run: str) -> Measurements:
    problems = Problems(place)
    groups = Groups()
    for line, record in json_lines(text, place, problems):
        where = f"{place}:{line}"
        if not isinstance(record, dict) or record.get("type") not in ("Point", "Metric"):
            problems.add(where, 'not a k6 output line: expected {"type": "Point" or '
                         '"Metric", …}')
            continue
        if record["type"] != "Point" or record.get("metric") != "http_req_duration":
            continue
        data = record.get("data")
        if not isinstance(data, dict):
            problems.add(f"{where}: /data", "missing: a point has data {time, value, tags}")
            continue
        parsed = _point(data, where, problems)
        if parsed is None:
            continue
        at, value, name, failed, attributes = parsed
        groups.clock(run).tick(at)
        groups.group(run, "endpoint", name, where).add(value, failed, attributes)
    problems.check()
    if not groups.groups:
        raise fail(place, "holds no http_req_duration points (k6 --out json writes one per "
                   "HTTP request)")
    return Measurements(groups.observations())


def _point(data: Mapping[str, object], where: str, problems: Problems
           ) -> tuple[float, float, str, bool, dict[str, str]] | None:
    found = len(problems.found)
    time = data.get("time")
    at = instant(time) if isinstance(time, str) else None
    if at is None:
        problems.add(f"{where}: /data/time", f"{time!r} is not an RFC 3339 time")
    value = data.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value < 0:
        problems.add(f"{where}: /data/value", f"{value!r} is not a duration in ms")
    tags = data.get("tags") or {}
    if not isinstance(tags, dict):
        problems.add(f"{where}: /data/tags", f"{tags!r} is not an object")
        tags = {}
    tags = {str(k): str(v) for k, v in tags.items()}
    name = tags.get("name") or " ".join(t for t in (tags.get("method"), tags.get("url")) if t)
    if not name:
        problems.add(f"{where}: /data/tags", "no name, method or url tag to group by")
    if "expected_response" in tags:
        failed = tags["expected_response"] == "false"
    elif tags.get("status", "").isascii() and tags.get("status", "").isdigit():
        failed = int(tags["status"]) == 0 or int(tags["status"]) >= 400
    else:
        problems.add(f"{where}: /data/tags", "no expected_response or status tag to tell "
                     "a failure")
        failed = False
    if len(problems.found) > found or at is None or not isinstance(value, int | float):
        return None
    attributes: dict[str, str] = {k: tags[k] for k in ("method", "url", "scenario")
                                  if k in tags}
    return at, float(value), name, failed, attributes


Tags = frozenset[tuple[str, str]]
_ALL: Tags = frozenset()
_OK: Tags = frozenset({("expected_response", "true")})


def _read_summary(document: object, place: str, run: str) -> Measurements:
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, dict):
        raise fail(f"{place}: /metrics", "missing: not a k6 summary (expected "
                   '{"metrics": {"http_req_duration": …}})')
    stats: dict[str, dict[Tags, dict[str, float]]] = {}
    keys: dict[tuple[str, Tags], str] = {}
    for key, metric in metrics.items():
        values = metric.get("values", metric) if isinstance(metric, dict) else None
        if not isinstance(values, dict):
            raise fail(f"{place}: {pointer('metrics', key)}", "not an object of values")
        name, tags = _split(key)
        keys[name, tags] = key
        stats.setdefault(name, {})[tags] = {
            k: float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
    for needed in ("http_req_duration", "http_reqs", "http_req_failed"):
        if _ALL not in stats.get(needed, {}):
            raise fail(f"{place}: {pointer('metrics', needed)}", "missing: the summary has "
                       "no HTTP requests" if needed == "http_req_duration" else
                       "missing: a summary of k6 0.31 or later has it")
    total = stats["http_reqs"][_ALL]
    state = document.get("state") if isinstance(document, dict) else None
    seconds = state.get("testRunDurationMs") if isinstance(state, dict) else None
    if isinstance(seconds, int | float) and seconds > 0:
        test_s = seconds / 1000
    elif total.get("rate"):
        test_s = total.get("count", math.nan) / total["rate"]
    else:
        test_s = math.nan
    summary = _Summary(stats, keys, place, run, test_s)
    names = [tags for tags in stats["http_req_duration"]
             if len(tags) == 1 and next(iter(tags))[0] == "name"]
    if not names:
        return Measurements((summary.observation("*", _ALL),))
    observations = [summary.observation(next(iter(tags))[1], tags) for tags in names]
    counted = sum(o.count for o in observations)
    if "count" in total and counted != total["count"]:
        raise fail(f"{place}: /metrics", f"the name submetrics cover {counted} of "
                   f"{total['count']:.0f} requests (http_reqs): give every request name a "
                   "threshold on http_req_duration{name:…}, or read k6's --out json output")
    return Measurements(tuple(observations))


class _Summary:
    def __init__(self, stats: dict[str, dict[Tags, dict[str, float]]],
                 keys: dict[tuple[str, Tags], str], place: str, run: str, test_s: float
                 ) -> None:
        self.stats = stats
        self.keys = keys
        self.place = place
        self.run = run
        self.test_s = test_s

    def _where(self, metric: str, tags: Tags) -> str:
        key = self.keys.get((metric, tags)) or metric + "{" + ",".join(
            f"{k}:{v}" for k, v in sorted(tags)) + "}"
        return f"{self.place}: {pointer('metrics', key)}"

    def observation(self, name: str, tags: Tags) -> Observation:
        durations = self.stats["http_req_duration"]
        here = self._where("http_req_duration", tags)
        latency = durations.get(tags | _OK, durations[tags])
        requests = self.stats["http_reqs"].get(tags, {})
        count = requests.get("count", durations[tags].get("count"))
        if count is None:
            raise fail(here, "no request count: add 'count' to summaryTrendStats, or a "
                       f"threshold on http_reqs{{name:{name}}}")
        failed = self.stats["http_req_failed"]
        failed_total = failed[_ALL].get("passes")
        if failed_total is None:
            raise fail(self._where("http_req_failed", _ALL), "no 'passes' (k6 counts the "
                       "failed requests there)")
        failures = failed.get(tags, {}).get("passes") if tags else failed_total
        if failures is None and failed_total:
            raise fail(here, f"{failed_total:.0f} requests failed but the summary does not "
                       f"say which: add a threshold on http_req_failed{{name:{name}}}")
        errors = int(failures or 0)
        rate = requests.get("rate", count / self.test_s if self.test_s > 0 else math.nan)
        attributes = {}
        if errors and (tags | _OK) not in durations:
            attributes["latency_includes_errors"] = "true"
        successes = count > errors
        return Observation(
            name=name, kind="endpoint", run=self.run, rate_rps=rate, count=int(count),
            errors=errors, mean_ms=latency.get("avg", math.nan) if successes else math.nan,
            p50_ms=latency.get("med") if successes else None,
            p95_ms=latency.get("p(95)") if successes else None,
            p99_ms=latency.get("p(99)") if successes else None,
            attributes=attributes, source=here)


def _split(key: str) -> tuple[str, Tags]:
    """``("http_req_duration", {("name", "GET /x")})`` from
    ``"http_req_duration{name:GET /x}"``; quotes around a tag's value dropped."""
    match = _SUBMETRIC.match(key)
    if match is None:
        return key, _ALL
    pairs = []
    for part in match["tags"].split(","):
        tag, _, value = part.partition(":")
        pairs.append((tag.strip(), value.strip().strip('"')))
    return match["metric"], frozenset(pairs)
