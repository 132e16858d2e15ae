"""The result of :func:`dk.sweep <designkit.sweep.sweep>`: one row per point of the grid,
and its metric columns (what each metric name means, and how it is read from an estimate).

A :class:`SweepTable` is plain data — strings, numbers, ``None`` — in named columns: the
knobs swept first (as ``over`` named them), then the metrics. A saturated latency stays
``inf`` (never NaN); a metric that has nothing to measure at a point (an endpoint without
traffic there) is ``None``.

It iterates as row dicts, so ``pandas.DataFrame(table)`` builds a frame without any
conversion; :meth:`SweepTable.to_dict` gives the columns as lists and
:meth:`SweepTable.to_pandas` the frame itself (pandas is imported only then).

Metrics, by name: ``max_scale``, ``bottleneck``, ``bottleneck_station``, ``saturated``;
per endpoint ``p50:``, ``p95:``, ``p99:``, ``mean:`` (ms), ``rps:`` and ``errors:`` (error
ratio) followed by ``svc METHOD /path``; ``utilization:`` followed by a component or a
station id (``"orders-db cpu"``). ``*`` in place of the endpoint or the component gives a
column for every one with a value at some point, in the design's order (``"p95:*"``).
Default (:data:`DEFAULT_METRICS`): ``max_scale``, ``bottleneck`` and ``p95:*``. A saturated
latency is ``inf``; an endpoint without traffic at a point gives ``None``. A simulation's
``max_scale`` and bottleneck are the estimator's (as ``dk.simulate`` reports them).
"""

from __future__ import annotations

import html
import importlib
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from designkit.errors import MissingDependencyError, Problem
from designkit.model.problems import format_path, nearest
from designkit.model.refs import EndpointRef

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.model.design import Design

__all__ = ["DEFAULT_METRICS", "Metric", "SweepTable", "measure", "metric_columns",
           "metrics_of"]

SHOWN = 30
"""Rows shown by ``repr`` and the notebook view before they elide the middle."""


class SweepTable:
    """Named columns of plain values, one row per point of a sweep.

    Args:
        columns: The column names, in order.
        rows: One sequence of values per row, in the order of ``columns``.

    Raises:
        ValueError: A row has more or fewer values than there are columns, or a column name
            repeats.

    Example:
        >>> t = SweepTable(["scale", "p95:api GET /x"], [(1.0, 436.09), (1.2, math.inf)])
        >>> t
        scale  p95:api GET /x
            1           436.1
          1.2             inf
        >>> len(t), t.columns, t["p95:api GET /x"]
        (2, ('scale', 'p95:api GET /x'), [436.09, inf])
        >>> [row["scale"] for row in t]
        [1.0, 1.2]
        >>> t.to_dict()
        {'scale': [1.0, 1.2], 'p95:api GET /x': [436.09, inf]}
    """

    __slots__ = ("_columns", "_rows")

    def __init__(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self._columns = tuple(columns)
        if len(set(self._columns)) != len(self._columns):
            seen = [c for i, c in enumerate(self._columns) if c in self._columns[:i]]
            raise ValueError(f"column {seen[0]!r} appears twice")
        self._rows = [tuple(row) for row in rows]
        for i, row in enumerate(self._rows):
            if len(row) != len(self._columns):
                raise ValueError(f"row {i} has {len(row)} values for {len(self._columns)} "
                                 "columns")

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names: the knobs swept, then the metrics."""
        return self._columns

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row as a dict ``{column: value}``, in the order of the grid."""
        return list(self)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(zip(self._columns, row, strict=True)) for row in self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, column: str) -> list[Any]:
        """The values of one column, in row order.

        Raises:
            KeyError: No such column (the message names the nearest).
        """
        try:
            i = self._columns.index(column)
        except ValueError:
            from designkit.estimate.arguments import suggest

            hint = suggest(str(column), self._columns)
            raise KeyError(f"no column {column!r}" + (
                f"; did you mean {', '.join(map(repr, hint))}?" if hint else "")) from None
        return [row[i] for row in self._rows]

    def to_dict(self) -> dict[str, list[Any]]:
        """The columns as lists, ``{column: [value per row]}``: what
        ``pandas.DataFrame(...)`` and ``polars.DataFrame(...)`` take."""
        return {column: [row[i] for row in self._rows]
                for i, column in enumerate(self._columns)}

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame`` (same columns, one row per point).

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        try:  # by name: pandas ships no type stubs
            pandas = importlib.import_module("pandas")
        except ImportError:
            raise MissingDependencyError(
                "to_pandas needs pandas; install it: pip install pandas") from None
        return pandas.DataFrame(self.to_dict(), columns=list(self._columns))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SweepTable):
            return NotImplemented
        return self._columns == other._columns and self._rows == other._rows

    __hash__ = None  # type: ignore[assignment]  # mutable rows: not hashable

    # -- display -------------------------------------------------------------------------

    def _shown(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The rows before and after the elided middle (all of them when few)."""
        if len(self._rows) <= SHOWN:
            return self._rows, []
        return self._rows[:SHOWN // 3], self._rows[-(SHOWN // 3):]

    def _text(self, head: list[tuple[Any, ...]], tail: list[tuple[Any, ...]]) -> str:
        numeric = [_numeric(row[i] for row in self._rows) for i in range(len(self._columns))]
        cells = [[_cell(v) for v in row] for row in [*head, *tail]]
        widths = [max([len(c), *(len(r[i]) for r in cells)])
                  for i, c in enumerate(self._columns)]

        def line(values: Sequence[str]) -> str:
            return "  ".join(v.rjust(w) if right else v.ljust(w)
                             for v, w, right in zip(values, widths, numeric, strict=True)
                             ).rstrip()

        lines = [line(self._columns), *(line(r) for r in cells[:len(head)])]
        if tail:
            lines.append(f"… {len(self._rows) - len(head) - len(tail)} more rows …")
            lines += [line(r) for r in cells[len(head):]]
        return "\n".join(lines)

    def __str__(self) -> str:
        """Every row, as an aligned plain-text table."""
        return self._text(self._rows, [])

    def __repr__(self) -> str:
        return self._text(*self._shown())

    def _repr_html_(self) -> str:
        esc = html.escape
        numeric = [_numeric(row[i] for row in self._rows) for i in range(len(self._columns))]

        def row_html(row: tuple[Any, ...]) -> str:
            return "<tr>" + "".join(
                f"<td style='text-align:{'right' if right else 'left'}'>"
                f"{esc(_cell(v, infinity='∞'))}</td>"
                for v, right in zip(row, numeric, strict=True)) + "</tr>"

        head, tail = self._shown()
        gap = (f"<tr><td colspan='{len(self._columns)}'>… "
               f"{len(self._rows) - len(head) - len(tail)} more rows …</td></tr>"
               if tail else "")
        return ("<table class='designkit-sweep'><thead><tr>"
                + "".join(f"<th>{esc(c)}</th>" for c in self._columns)
                + "</tr></thead><tbody>" + "".join(row_html(r) for r in head) + gap
                + "".join(row_html(r) for r in tail) + "</tbody></table>")


def _numeric(values: Iterable[Any]) -> bool:
    """Whether a column holds numbers only (``None`` aside): such a column aligns right."""
    return all(v is None or (isinstance(v, int | float) and not isinstance(v, bool))
               for v in values)


def _cell(value: Any, infinity: str = "inf") -> str:
    """One value as the table shows it: numbers to four significant digits (thousands
    whole, with separators), ``inf`` as is, ``None`` as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if math.isinf(value):
        return infinity if value > 0 else "-" + infinity
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


# -- the metrics: names → columns --------------------------------------------------------

Metric = tuple[str, str]
"""A metric, parsed: ``(stat, subject)``; the subject is ``""`` (a plain metric), ``"*"``
(every one) or an endpoint, component or station."""

PLAIN = ("max_scale", "bottleneck", "bottleneck_station", "saturated")
ENDPOINT_STATS = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms", "mean": "mean_ms",
                  "rps": "rps", "errors": "error_ratio"}
"""Per-endpoint metrics and the field of the endpoint's estimate each reads."""
DEFAULT_METRICS = ("max_scale", "bottleneck", "p95:*")


def metrics_of(design: Design, metrics: Sequence[str] | str | None,
               problems: list[Problem]) -> tuple[Metric, ...]:
    """The metrics named (default :data:`DEFAULT_METRICS`), parsed; a problem for each the
    design has not, with the nearest names.

    Example:
        >>> import designkit as dk
        >>> found: list[Problem] = []
        >>> metrics_of(dk.template("flash-sale"), ["max_scale", "p95:*", "utilization:sku-lock",
        ...                                        "p95:checkout-api post /v1/orders"], found)
        (('max_scale', ''), ('p95', '*'), ('utilization', 'sku-lock'),
         ('p95', 'checkout-api POST /v1/orders'))
    """
    asked = (DEFAULT_METRICS if metrics is None else (metrics,) if isinstance(metrics, str)
             else tuple(metrics))
    out: list[Metric] = []
    stations: list[str] | None = None
    endpoints = [str(ref) for ref, _ in design.endpoints()]
    for i, name in enumerate(asked):
        where = format_path(("metrics", i))
        if not isinstance(name, str):
            problems.append(Problem(where, f"must be a metric name, got {name!r}"))
            continue
        stat, colon, subject = (s.strip() for s in name.partition(":"))
        if not colon and stat in PLAIN:
            out.append((stat, ""))
        elif colon and stat in ENDPOINT_STATS:
            ref = EndpointRef.parse(subject)
            if subject == "*" or (ref is not None and str(ref) in endpoints):
                out.append((stat, subject if subject == "*" else str(ref)))
            else:
                problems.append(Problem(where, f"unknown endpoint {subject!r}", tuple(
                    f"{stat}:{n}" for n in nearest(subject, endpoints))))
        elif colon and stat == "utilization":
            if subject != "*" and subject not in design.components and stations is None:
                stations = _stations(design)
            if subject == "*" or subject in design.components or subject in (stations or ()):
                out.append((stat, subject))
            else:
                problems.append(Problem(where, f"no component or station {subject!r}", tuple(
                    f"utilization:{n}" for n in nearest(subject, [*design.components,
                                                                  *(stations or ())]))))
        else:
            names = [*PLAIN, *(f"{s}:" for s in (*ENDPOINT_STATS, "utilization"))]
            problems.append(Problem(where, f"unknown metric {name!r}",
                                    nearest(stat + colon, names)))
    if len(set(out)) != len(out):
        problems.append(Problem("metrics", "a metric is named twice"))
    return tuple(out)


def _stations(design: Design) -> list[str]:
    """The station ids of the design (``"orders-db cpu"``), from its compiled program."""
    from designkit.estimate.api import prepare

    return [station.id for station in prepare(design, None, None, 0.0, 1.0)[1].stations]


def measure(result: Estimate, metrics: tuple[Metric, ...]) -> dict[str, Any]:
    """The metrics of one estimate (or simulation), by column: plain numbers, ``inf`` when
    saturated, ``None`` for an endpoint without traffic; a ``*`` gives a column per name.

    Example:
        >>> import designkit as dk
        >>> e = dk.estimate(dk.template("dashboard-slow"))
        >>> m = measure(e, (("bottleneck", ""), ("utilization", "app-db cpu")))
        >>> m["bottleneck"], round(m["utilization:app-db cpu"], 2)
        ('app-db', 0.86)
    """
    out: dict[str, Any] = {}
    for stat, subject in metrics:
        if stat in PLAIN:
            value = getattr(result, stat)
            out[stat] = value if isinstance(value, str | bool) or value is None else float(value)
        elif stat == "utilization":
            for name in list(result.components) if subject == "*" else [subject]:
                found = result.components.get(name)
                out[f"{stat}:{name}"] = float(found.utilization if found is not None
                                              else result.station(name).utilization)
        else:
            for name in list(result.endpoints) if subject == "*" else [subject]:
                endpoint = result.endpoints.get(name)
                out[f"{stat}:{name}"] = (None if endpoint is None
                                         else float(getattr(endpoint, ENDPOINT_STATS[stat])))
    return out


def metric_columns(design: Design, metrics: tuple[Metric, ...], found: set[str]) -> list[str]:
    """The columns of the metrics: a ``*`` gives those of ``found`` (the columns some
    point measured), in the design's order."""
    out: list[str] = []
    for stat, subject in metrics:
        if subject != "*":
            out.append(f"{stat}:{subject}" if subject else stat)
            continue
        names = (list(design.components) if stat == "utilization"
                 else [str(ref) for ref, _ in design.endpoints()])
        out += [f"{stat}:{n}" for n in names if f"{stat}:{n}" in found]
    return out
