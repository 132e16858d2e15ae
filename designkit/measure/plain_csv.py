"""Read designkit's plain CSV of requests: one row per request, from any load generator.

The header names the columns, in any order::

    timestamp,endpoint,latency_ms,status[,run][,method][,url]

* ``timestamp``: when the request was sent, in seconds since the epoch (``1717236000.25``)
  or ISO-8601 (``2024-06-01T10:00:00.250Z``; without an offset it is UTC).
* ``endpoint``: the name to group by, e.g. ``GET /products/{id}``.
* ``latency_ms``: the time to the whole response, in milliseconds (>= 0).
* ``status``: the HTTP status code (0, or 400 and above, is an error) or ``ok`` / ``error``.
* ``run`` (optional): the label of the run (load level) the row belongs to; without it,
  every row belongs to the run named after the file's stem.
* ``method``, ``url`` (optional): kept as attributes of an endpoint when all its rows agree.

No other column is accepted (a misspelt one would otherwise be ignored silently). Every
row must be valid: the file is refused, with each bad row's line, rather than read in part.
"""

from __future__ import annotations

from pathlib import Path

from designkit.measure._shared import (
    Groups,
    Problems,
    Source,
    csv_rows,
    fail,
    instant,
    nearest,
    number,
    read_text,
    run_name,
    shown,
)
from designkit.measure.observations import Measurements

__all__ = ["COLUMNS", "OPTIONAL_COLUMNS", "read_csv"]

COLUMNS = ("timestamp", "endpoint", "latency_ms", "status")
"""The columns every plain CSV has."""

OPTIONAL_COLUMNS = ("run", "method", "url")
"""The columns a plain CSV may add."""



def _failed(status: str) -> bool | None:
    """Whether ``status`` is an error; ``None`` if it is no status."""
    word = status.strip().lower()
    if word in ("ok", "error"):
        return word == "error"
    if word.isascii() and word.isdigit() and (int(word) == 0 or 100 <= int(word) <= 599):
        return int(word) == 0 or int(word) >= 400
    return None


def read_csv(source: Source) -> Measurements:
    """Read a plain CSV of requests (see the module's docstring for its columns).

    Args:
        source: The CSV file.

    Returns:
        One endpoint observation per (run, endpoint), with every successful latency as a
        sample; runs and endpoints in order of first appearance.

    Raises:
        MeasurementError: The file is missing, has no rows, lacks a column, has an unknown
            one, or a row with a bad value (each such row is listed with its line).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "low.csv"
        >>> _ = path.write_text("timestamp,endpoint,latency_ms,status\\n"
        ...                     "0.0,GET /x,10,200\\n0.5,GET /x,30,200\\n1.0,GET /x,99,503\\n")
        >>> (x,) = read_csv(path).endpoints()
        >>> x.run, x.count, x.errors, x.mean_ms, x.rate_rps
        ('low', 3, 1, 20.0, 2.0)
    """
    place = shown(source)
    path = Path(place)
    text = read_text(path, place)
    problems = Problems(place)
    rows = csv_rows(text, place, problems)
    header_line, header = next(rows, (0, []))
    problems.check()
    if not header:
        raise fail(place, "empty: expected a header line " + ",".join(COLUMNS))
    columns = [c.strip() for c in header]
    _check_header(columns, f"{place}:{header_line}")
    at = {c: i for i, c in enumerate(columns)}
    groups = Groups()
    for line, row in rows:
        where = f"{place}:{line}"
        if len(row) != len(columns):
            problems.add(where, f"{len(row)} fields, the header has {len(columns)}")
            continue
        values = {c: row[i].strip() for c, i in at.items()}
        started = instant(values["timestamp"])
        if started is None:
            problems.add(where, f"timestamp {values['timestamp']!r} is neither seconds since "
                         "the epoch nor an ISO-8601 date and time")
        latency_ms = number(values["latency_ms"])
        if latency_ms is None:
            problems.add(where, f"latency_ms {values['latency_ms']!r} is not a number")
        elif latency_ms < 0:
            problems.add(where, f"latency_ms {values['latency_ms']!r} is negative")
        failed = _failed(values["status"])
        if failed is None:
            problems.add(where, f"status {values['status']!r} is neither an HTTP status code "
                         "nor ok/error")
        if not values["endpoint"]:
            problems.add(where, "endpoint is empty")
        run = values.get("run", run_name(path))
        if not run:
            problems.add(where, "run is empty")
        if started is None or latency_ms is None or latency_ms < 0 or failed is None \
                or not values["endpoint"] or not run:
            continue
        attributes: dict[str, str] = {k: values[k] for k in ("method", "url") if k in values}
        groups.clock(run).tick(started)
        groups.group(run, "endpoint", values["endpoint"], where).add(
            latency_ms, failed, attributes)
    problems.check()
    if not groups.groups:
        raise fail(place, "holds no requests: only a header line")
    return Measurements(groups.observations())


def _check_header(columns: list[str], where: str) -> None:
    known = COLUMNS + OPTIONAL_COLUMNS
    problems = Problems(where)
    unknown = [c for c in columns if c not in known]
    for column in unknown:
        problems.add(where, f"unknown column {column!r}{nearest(column, known)}; the "
                     f"columns are {', '.join(COLUMNS)} and optionally "
                     f"{', '.join(OPTIONAL_COLUMNS)}")
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        problems.add(where, f"missing column{'s' if len(missing) > 1 else ''} "
                     f"{', '.join(missing)} (the header is {','.join(columns)})")
    doubled = sorted({c for c in columns if columns.count(c) > 1})
    if doubled:
        problems.add(where, f"column{'s' if len(doubled) > 1 else ''} "
                     f"{', '.join(doubled)} appear more than once")
    problems.check()
