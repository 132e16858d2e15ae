"""What the readers share: reading a file, locating a problem, parsing numbers and
instants, and turning per-request samples into observations.

The rate estimator for sources that list each request: a run whose requests start at
``t_1 <= … <= t_n`` (over all its names; for traces, its endpoint-level spans) has the
rate ``(n - 1) / (t_n - t_1)``: the number of gaps between starts over their total length
(for Poisson arrivals, the maximum-likelihood rate given those gaps; ``n / (t_n - t_1)``
would count one request more than the span holds gaps for). A name with ``c`` of those
requests gets ``c / n`` of that rate, so the names of a run add up to the run's rate. A
run with fewer than two distinct instants has no measurable rate (``nan``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import get_close_matches
from pathlib import Path

import numpy as np

from designkit.errors import Problem
from designkit.measure.errors import MeasurementError
from designkit.measure.observations import Observation

Source = str | os.PathLike[str]

KEPT = 1000
"""The most problems of one file kept on its error (the rest are counted)."""


def fail(place: str, message: str) -> MeasurementError:
    """The error of a single problem at ``place`` (for ``raise fail(...)``)."""
    return MeasurementError([Problem(place, message)], place)


class Problems:
    """The problems found so far in one file, kept in file order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[Problem] = []
        self.more = 0

    def add(self, place: str, message: str) -> None:
        """Note a problem at ``place``."""
        if len(self.found) < KEPT:
            self.found.append(Problem(place, message))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.found)

    def check(self) -> None:
        """Raise one :class:`MeasurementError` listing every problem, if there is any."""
        if self.found:
            raise MeasurementError(self.found, self.source, self.more)


def shown(source: Source) -> str:
    """The source as the caller wrote it, for messages."""
    return os.fspath(source)


def _digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def read_bytes(path: Path, place: str) -> bytes:
    """The file's bytes, decompressed when its name ends in ``.gz`` (load-test results are
    large: ``runs.csv.gz`` reads as ``runs.csv``), or one located error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail(place, "no such file") from None
    except IsADirectoryError:
        raise fail(place, "is a directory, not a file") from None
    except OSError as err:
        raise fail(place, f"cannot be read ({err.strerror})") from None
    if path.suffix.lower() != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise fail(place, f"not a complete gzip file ({err})") from None


def run_name(path: Path) -> str:
    """A file's default run name: its stem, without a ``.gz``.

    Example:
        >>> run_name(Path("runs/low.csv.gz")), run_name(Path("high.jtl"))
        ('low', 'high')
    """
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def read_text(path: Path, place: str) -> str:
    """The file's text (UTF-8, a byte-order mark dropped; a ``.gz`` file decompressed), or
    one located error."""
    data = read_bytes(path, place)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise fail(f"{place}:{line}", f"not UTF-8 text (byte {data[err.start]:#04x})") from None


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) to ``parts``: ``pointer("metrics", "a/b") == "/metrics/a~1b"``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def number(text: str) -> float | None:
    """``text`` as a finite float, else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def integer(text: str) -> int | None:
    """``text`` as an integer (``"12"``), else ``None``."""
    text = text.strip()
    if not _digits(text.removeprefix("-")):
        return None
    return int(text)


def instant(text: str) -> float | None:
    """Seconds since the epoch from a number of seconds or an ISO-8601 date and time
    (without an offset: UTC), else ``None``."""
    seconds = number(text)
    if seconds is not None:
        return seconds
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def nearest(name: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``valid``, or ``""``."""
    close = get_close_matches(name, valid, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def csv_rows(text: str, place: str, problems: Problems, delimiter: str = ","
             ) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows of a CSV text with the line each ends on (the header included)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            problems.add(f"{place}:{reader.line_num}", f"not CSV ({err})")
            return
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def json_lines(text: str, place: str, problems: Problems) -> Iterator[tuple[int, object]]:
    """The JSON value of each non-blank line, with its line number; a line that is not
    JSON is a problem."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as err:
            problems.add(f"{place}:{line_no}", f"not JSON ({err.msg}, column {err.colno})")


def json_document(text: str, place: str) -> object:
    """The JSON value of the whole text, or one error naming the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise fail(f"{place}:{err.lineno}", f"not JSON ({err.msg}, column {err.colno})"
                   ) from None


def latency(samples: Sequence[float]) -> tuple[float, float | None, float | None,
                                               float | None]:
    """Mean, p50, p95 and p99 of ``samples`` (``numpy.percentile``, linear
    interpolation); ``(nan, None, None, None)`` without samples."""
    if not samples:
        return math.nan, None, None, None
    values = np.asarray(samples, dtype=float)
    p50, p95, p99 = (float(p) for p in np.percentile(values, [50, 95, 99]))
    return float(values.mean()), p50, p95, p99


def common(shared: dict[str, str] | None, more: Mapping[str, str]) -> dict[str, str]:
    """The attributes of ``shared`` that ``more`` has with the same value (all of
    ``more`` when ``shared`` is ``None``, the first member)."""
    if shared is None:
        return dict(more)
    return {k: v for k, v in shared.items() if more.get(k) == v}


@dataclass
class Clock:
    """When the requests of one run started: how many, the first and the last."""

    count: int = 0
    first: float = math.inf
    last: float = -math.inf

    def tick(self, at: float) -> None:
        """Note one request starting at ``at`` (seconds)."""
        self.count += 1
        self.first = min(self.first, at)
        self.last = max(self.last, at)

    def rate(self, count: int) -> float:
        """The rate of ``count`` of this run's requests (see the module's docstring)."""
        if self.count < 2 or self.last <= self.first:
            return math.nan
        return count * (self.count - 1) / (self.count * (self.last - self.first))


@dataclass
class Group:
    """The requests (or spans) of one name in one run, as a reader meets them."""

    run: str
    kind: str
    name: str
    source: str
    count: int = 0
    errors: int = 0
    samples: list[float] = field(default_factory=list)
    attributes: dict[str, str] | None = None

    def add(self, latency_ms: float, failed: bool, attributes: Mapping[str, str]) -> None:
        """Count one request; its latency joins the samples if it succeeded."""
        self.count += 1
        if failed:
            self.errors += 1
        else:
            self.samples.append(latency_ms)
        self.attributes = common(self.attributes, attributes)

    def observation(self, clock: Clock) -> Observation:
        """The observation of this group, its rate from the run's clock."""
        mean, p50, p95, p99 = latency(self.samples)
        return Observation(
            name=self.name, kind=self.kind, run=self.run, rate_rps=clock.rate(self.count),
            count=self.count, errors=self.errors, mean_ms=mean, p50_ms=p50, p95_ms=p95,
            p99_ms=p99, samples_ms=tuple(self.samples), attributes=self.attributes or {},
            source=self.source)


class Groups:
    """The groups of one file by (run, kind, name), in order of first appearance, and
    each run's clock."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, str], Group] = {}
        self.clocks: dict[str, Clock] = {}

    def group(self, run: str, kind: str, name: str, source: str) -> Group:
        """The group of ``name`` in ``run``, new if it is the first of its kind."""
        key = (run, kind, name)
        if key not in self.groups:
            self.groups[key] = Group(run, kind, name, source)
        return self.groups[key]

    def clock(self, run: str) -> Clock:
        """The clock of ``run``."""
        return self.clocks.setdefault(run, Clock())

    def observations(self) -> tuple[Observation, ...]:
        """Every group's observation."""
        return tuple(g.observation(self.clock(g.run)) for g in self.groups.values())
