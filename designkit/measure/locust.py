"""Read what Locust writes with ``--csv PREFIX``: the per-name totals of ``PREFIX_stats.csv``.

Each row but ``Aggregated`` becomes an endpoint observation named as Locust names it (the
``Name`` column; when one name has rows of several request types, ``"Type Name"``), with
Locust's own request count, failure count, ``Requests/s``, ``Average Response Time`` and
``50%`` / ``95%`` / ``99%`` columns, and the ``Type`` (the HTTP method) as the ``method``
attribute. The run is named after the prefix (``runs/shop`` → ``shop``).

What Locust's numbers are: its response times include the failed requests (the attribute
``latency_includes_errors`` is ``"true"`` when a row has failures); its percentiles are
read from a histogram that rounds times above 100 ms to 2 significant digits; its
``Requests/s`` is the count over the time from the test's start to the last request. The
CSV is rewritten every second while the test runs, so its final state can lag the summary
Locust prints on exit by up to a second. There are no per-request samples.

The prefix, or any file Locust wrote with it (``_stats_history.csv``, ``_failures.csv``,
``_exceptions.csv``), reads the ``_stats.csv`` beside it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from designkit.measure._shared import (
    Problems,
    Source,
    csv_rows,
    fail,
    integer,
    number,
    read_text,
    shown,
)
from designkit.measure.observations import Measurements, Observation

__all__ = ["STATS_COLUMNS", "locust_stats_path", "read_locust"]

STATS_COLUMNS = ("Type", "Name", "Request Count", "Failure Count", "Average Response Time",
                 "Requests/s", "50%", "95%", "99%")
"""The columns of ``PREFIX_stats.csv`` the reader uses (Locust 1.0 and later)."""

_SIBLINGS = ("_stats_history.csv", "_failures.csv", "_exceptions.csv", "_stats.csv")


def locust_stats_path(source: Source) -> Path | None:
    """The ``PREFIX_stats.csv`` that ``source`` (a prefix, or a file Locust wrote with that
    prefix) stands for, or ``None`` if ``source`` is neither.

    Example:
        >>> locust_stats_path("runs/shop_failures.csv").as_posix()
        'runs/shop_stats.csv'
        >>> locust_stats_path("runs/shop.csv") is None
        True
    """
    text = os.fspath(source)
    for suffix in _SIBLINGS:
        if text.endswith(suffix):
            return Path(text[: -len(suffix)] + "_stats.csv")
    if not Path(text).exists() and Path(text + "_stats.csv").exists():
        return Path(text + "_stats.csv")
    return None


def read_locust(source: Source) -> Measurements:
    """Read Locust's ``--csv`` statistics (see the module's docstring).

    Args:
        source: ``PREFIX_stats.csv``, the ``PREFIX`` itself, or another file Locust wrote
            with that prefix.

    Returns:
        One endpoint observation per row of ``PREFIX_stats.csv`` but ``Aggregated``.

    Raises:
        MeasurementError: There is no ``_stats.csv`` beside the file given, it lacks a
            column Locust writes, or a row has a bad value.

    Example:
        >>> import pathlib, tempfile
        >>> prefix = pathlib.Path(tempfile.mkdtemp()) / "shop"
        >>> _ = pathlib.Path(f"{prefix}_stats.csv").write_text(
        ...     "Type,Name,Request Count,Failure Count,Median Response Time,"
        ...     "Average Response Time,Requests/s,50%,95%,99%\\n"
        ...     "GET,/search,154,0,43,42.7,17.1,43,60,61\\n"
        ...     ",Aggregated,154,0,43,42.7,17.1,43,60,61\\n")
        >>> (search,) = read_locust(prefix).endpoints()
        >>> search.run, search.name, search.count, search.rate_rps, search.p95_ms
        ('shop', '/search', 154, 17.1, 60.0)
    """
    given = shown(source)
    stats = locust_stats_path(source)
    if stats is None:
        stats = Path(given)
    elif not stats.exists():
        raise fail(given, f"no {stats.name} beside it: pass the PREFIX_stats.csv that "
                   "Locust's --csv PREFIX wrote")
    place = given if stats == Path(given) else os.fspath(stats)
    run = stats.name.removesuffix("_stats.csv") if stats.name.endswith("_stats.csv") \
        else stats.stem
    problems = Problems(place)
    rows = csv_rows(read_text(stats, place), place, problems)
    header_line, header = next(rows, (0, []))
    problems.check()
    if "Timestamp" in header and "User Count" in header:
        raise fail(place, "this is Locust's stats history: pass the PREFIX_stats.csv "
                   "written beside it")
    missing = [c for c in STATS_COLUMNS if c not in header]
    if missing:
        raise fail(f"{place}:{header_line}", f"not Locust's PREFIX_stats.csv: missing "
                   f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    at = {c: header.index(c) for c in STATS_COLUMNS}
    table: list[tuple[str, dict[str, str]]] = []
    for line, row in rows:
        where = f"{place}:{line}"
        if len(row) != len(header):
            problems.add(where, f"{len(row)} fields, the header has {len(header)}")
            continue
        values = {c: row[i] for c, i in at.items()}
        if values["Name"] == "Aggregated" and not values["Type"]:
            continue
        table.append((where, values))
    types = Counter(values["Name"] for _, values in table)
    observations = []
    for where, values in table:
        name = values["Name"] if types[values["Name"]] == 1 \
            else f"{values['Type']} {values['Name']}"
        observation = _observation(run, name, values, where, problems)
        if observation is not None:
            observations.append(observation)
    problems.check()
    if not table:
        raise fail(place, "holds no request names, only the Aggregated row")
    return Measurements(tuple(observations))


def _observation(run: str, name: str, values: dict[str, str], where: str,
                 problems: Problems) -> Observation | None:
    count = integer(values["Request Count"])
    failures = integer(values["Failure Count"])
    found = len(problems.found)
    if count is None or count < 0:
        problems.add(where, f"Request Count {values['Request Count']!r} is not a count")
    if failures is None or failures < 0 or (count is not None and failures > count):
        problems.add(where, f"Failure Count {values['Failure Count']!r} is not a count of "
                     "at most Request Count")
    measured = {c: _value(values[c], count == 0) for c in
                ("Average Response Time", "Requests/s", "50%", "95%", "99%")}
    for column, value in measured.items():
        if value is None:
            problems.add(where, f"{column} {values[column]!r} is not a number")
    if len(problems.found) > found or count is None or failures is None:
        return None
    attributes = {"method": values["Type"]} if values["Type"] else {}
    if failures:
        attributes["latency_includes_errors"] = "true"
    mean = measured["Average Response Time"]
    rate = measured["Requests/s"]
    assert mean is not None and rate is not None
    return Observation(
        name=name, kind="endpoint", run=run, rate_rps=rate, count=count, errors=failures,
        mean_ms=mean if count else float("nan"), p50_ms=measured["50%"] if count else None,
        p95_ms=measured["95%"] if count else None, p99_ms=measured["99%"] if count else None,
        attributes=attributes, source=where)


def _value(text: str, empty: bool) -> float | None:
    """A number of the stats row; Locust writes ``N/A`` for the percentiles of a name
    without requests."""
    if empty and text.strip() in ("N/A", ""):
        return 0.0
    value = number(text)
    return value if value is not None and value >= 0 else None
