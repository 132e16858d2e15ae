"""Plots of an estimate (matplotlib): latency CDFs, utilization, the load curve, growth.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so that
nothing is registered globally: a notebook shows the returned figure once, and the caller
owns it (nothing here closes or shows a figure). matplotlib is imported inside each function,
so ``import designkit`` stays light; when no backend is configured, ``Agg`` is selected.

:func:`to_svg` gives the same bytes for the same figure (``svg.hashsalt``, no date).
Names are drawn as written: a ``$`` is never read as TeX math (a name like ``$\\frac$``
would not even parse) and a control character is drawn as its escape (``\\x01``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designkit.text import number, percent, visible

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from designkit.calibration.result import CalibrationFit
    from designkit.estimate.result import Estimate, StationEstimate
    from designkit.estimate.sensitivity import Sensitivity
    from designkit.estimate.transient import Transient
    from designkit.estimate.uncertainty import Band
    from designkit.model.design import Design

__all__ = ["calibration", "compare", "latency_cdf", "load_curve", "over_time", "table_growth",
           "to_png", "to_svg", "utilization"]

OK, WARNING, SATURATED = "#4c9f70", "#f0a830", "#d62728"
"""Bar colours: below the policy's threshold, above it, saturated."""
BEFORE, AFTER = "#9aa5b1", "#1f77b4"
FONT = 10
SVG_SALT = "designkit"
_PERCENTILES = ((0.50, "p50", "o"), (0.95, "p95", "s"), (0.99, "p99", "^"))


# -- shared helpers ----------------------------------------------------------------------


def _figure(width: float, height: float, rows: int = 1) -> tuple[Figure, list[Axes]]:
    """A new figure (constrained layout) and its axes, one per row."""
    import matplotlib

    try:
        backend = matplotlib.get_backend(auto_select=False)  # type: ignore[call-arg,unused-ignore]
    except TypeError:  # matplotlib < 3.10
        backend = matplotlib.rcParams._get_backend_or_none()  # type: ignore[attr-defined,unused-ignore]
    if backend is None:
        matplotlib.use("Agg")
    elif isinstance(backend, str) and backend.startswith("module://"):
        # Importing the backend (as pyplot would) lets e.g. Jupyter's inline backend
        # register how figures are displayed.
        importlib.import_module(backend.removeprefix("module://"))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    axes = [fig.add_subplot(rows, 1, i + 1) for i in range(rows)]
    for ax in axes:
        ax.tick_params(labelsize=FONT)
    return fig, axes


def _spans_decades(values: Iterable[float], ratio: float = 20.0) -> bool:
    finite = [v for v in values if math.isfinite(v) and v > 0]
    return bool(finite) and max(finite) / min(finite) > ratio


def _ms(value: float) -> str:
    return f"{number(value)} ms"


def _shown(text: str) -> str:
    """Text as matplotlib should draw it, as written: control characters made visible, and
    every ``$`` escaped (two of them would start TeX math, which may not even parse)."""
    return visible(text).replace("$", r"\$")


def _gid(text: str) -> str:
    """An SVG id from names: control characters made visible (XML holds none of them)."""
    return visible(text)


def _plain(value: float, _pos: object = None) -> str:
    """A number on a log axis: ``0.1``, ``10``, ``1,000`` (not ``10³``)."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _count(value: float, _pos: object = None) -> str:
    """Rows on an axis: ``200k``, ``1.5M``, ``2B``."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"


def _pick(names: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    if wanted is None:
        return list(names)
    from designkit.model.problems import nearest

    for name in wanted:
        if name not in names:
            hint = nearest(name, names)
            raise KeyError(f"no endpoint {name!r} with traffic"
                           + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""))
    return list(wanted)


def _legend(ax: Axes, handles: list[Any] | None = None, title: str | None = None,
            below: bool = False) -> None:
    """A legend right of the axes (``below``: under them, in one row — where a title wider
    than the axes would meet it), laid out by the figure (so a second render is the same)."""
    fig = ax.get_figure()
    assert fig is not None
    if handles is None:
        handles = ax.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center" if below else "outside right upper",
               ncols=len(handles) if below else 1, fontsize=FONT - 1, frameon=False,
               title=title, title_fontsize=FONT - 1)


def _status(station: StationEstimate, threshold: float) -> str:
    if station.saturated or station.utilization >= 1.0:
        return "saturated"
    return "warning" if station.utilization >= threshold else "ok"


_COLOUR = {"ok": OK, "warning": WARNING, "saturated": SATURATED}


def _stations(estimate: Estimate) -> list[StationEstimate]:
    return [s for c in estimate.components.values() for s in c.stations.values()
            if s.arrival_rps > 0]


def _percent_axis(ax: Axes, threshold: float) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.set_xlim(0.0, 1.22)
    ax.set_xticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.axvline(threshold, color="#333333", linestyle="--", linewidth=1.2,
               label=f"policy threshold {percent(threshold)}", gid="threshold")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


# -- latency -----------------------------------------------------------------------------


def latency_cdf(estimate: Estimate, endpoints: Sequence[str] | None = None) -> Figure:
    """The latency distribution (CDF) of each endpoint, with p50, p95 and p99 marked.

    Saturated endpoints have no finite latency: they are listed in the legend and the title
    as saturated, not drawn.

    Args:
        estimate: An estimate (``dk.estimate(design)``).
        endpoints: Endpoints to draw (``"svc METHOD /path"``); default: all with traffic.

    Returns:
        A figure with one axes; one line per drawn endpoint, labelled with its name.

    Raises:
        KeyError: An endpoint has no traffic in the estimate (the nearest are named).

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> fig = plots.latency_cdf(dk.estimate(dk.template("dashboard-fixed")))
        >>> [line.get_label() for line in fig.axes[0].get_lines()
        ...  if not line.get_label().startswith("_")]
        ['dashboard-api GET /v1/dashboard', 'dashboard-api GET /v1/orders']
    """
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    names = _pick(list(estimate.endpoints), endpoints)
    drawn = [n for n in names
             if not estimate.endpoints[n].saturated and estimate.endpoints[n].dist is not None]
    saturated = [n for n in names if n not in drawn]
    fig, (ax,) = _figure(11.0, 5.5)
    colours = _palette(len(drawn))
    lows, highs = [], []
    for name in drawn:
        dist = estimate.endpoints[name].dist
        assert dist is not None
        lows.append(max(dist.quantile(0.002), dist.grid.step))
        highs.append(dist.quantile(0.999))
    # log when the medians and tails of the endpoints lie decades apart
    log = _spans_decades([estimate.endpoints[n].p50_ms for n in drawn]
                         + [estimate.endpoints[n].p99_ms for n in drawn])
    for name, colour, low, high in zip(drawn, colours, lows, highs, strict=True):
        e = estimate.endpoints[name]
        dist = e.dist
        assert dist is not None
        t = (np.arange(dist.grid.size) + 0.5) * dist.grid.step
        cdf = np.cumsum(dist.pmf)
        keep = (t >= low * 0.5) & (t <= high * 1.2) if log else t <= high * 1.2
        ax.plot(t[keep], cdf[keep], color=colour, linewidth=1.8,
                label=_shown(name), gid=_gid(f"cdf {name}"))
        for q, tag, marker in _PERCENTILES:
            ax.plot([dist.quantile(q)], [q], marker=marker, color=colour, markersize=6,
                    markeredgecolor="white", linestyle="none", label=f"_{tag} {_shown(name)}")
    if drawn:
        for q, _, _ in _PERCENTILES:
            ax.axhline(q, color="#999999", linewidth=0.7, linestyle=":", zorder=0)
        right = ax.secondary_yaxis("right")
        right.set_yticks([q for q, _, _ in _PERCENTILES], [t for _, t, _ in _PERCENTILES],
                         fontsize=FONT - 1, color="#555555")
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_plain))
    elif drawn:
        ax.set_xlim(left=0.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("latency (ms" + (", log scale)" if log else ")"), fontsize=FONT + 1)
    ax.set_ylabel("share of requests ≤ latency", fontsize=FONT + 1)
    ax.grid(alpha=0.3)
    title = f"Latency distribution — {estimate.design}"
    if estimate.scale != 1:
        title += f" at {estimate.scale:g}× load"
    if saturated:
        title += f"\n{len(saturated)} endpoint{'s' * (len(saturated) > 1)} saturated (not drawn)"
    ax.set_title(_shown(title), fontsize=FONT + 2)
    handles: list[Any] = [Line2D([], [], color=c, linewidth=1.8,
                                 label=_shown(f"{n}  (p95 {_ms(estimate.endpoints[n].p95_ms)})"))
                          for n, c in zip(drawn, colours, strict=True)]
    if drawn:
        handles += [Line2D([], [], color="#444444", marker=m, linestyle="none", label=tag)
                    for _, tag, m in _PERCENTILES]
    handles += [Line2D([], [], color=SATURATED, marker="x", linestyle="none",
                       label=_shown(f"{n}  (saturated)")) for n in saturated]
    if not drawn:
        ax.text(0.5, 0.5, "every endpoint is saturated:\nlatency grows without bound",
                transform=ax.transAxes, ha="center", va="center", fontsize=FONT + 2,
                color=SATURATED)
        ax.set_xticks([])
    _legend(ax, handles, title="endpoint")
    return fig


def _palette(n: int) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [to_hex(cmap(i % cmap.N)) for i in range(n)]


# -- utilization -------------------------------------------------------------------------


def _utilization_bars(ax: Axes, stations: list[StationEstimate], threshold: float) -> None:
    labels = [_shown(s.id) for s in stations]
    status = [_status(s, threshold) for s in stations]
    widths = [1.0 if st == "saturated" else s.utilization for s, st in zip(stations, status,
                                                                            strict=True)]
    y = list(range(len(stations)))
    bars = ax.barh(y, widths, color=[_COLOUR[s] for s in status], height=0.65)
    for bar, station, st in zip(bars, stations, status, strict=True):
        bar.set_gid(_gid(f"bar {station.id}"))
        text = "saturated" if st == "saturated" else percent(station.utilization)
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, text,
                va="center", fontsize=FONT - 1,
                color=SATURATED if st == "saturated" else "#333333",
                fontweight="bold" if st == "saturated" else "normal")
    ax.set_yticks(y, labels, fontsize=FONT)
    ax.invert_yaxis()
    _percent_axis(ax, threshold)


def utilization(estimate: Estimate) -> Figure:
    """Utilization of every station with traffic, busiest first, against the policy.

    Bars are green below ``estimate.utilization_max``, amber above it and red when
    saturated (capped at 100 % and labelled "saturated"); the threshold is a dashed line.

    Args:
        estimate: An estimate.

    Returns:
        A figure with one axes of horizontal bars (one per station, gid ``"bar <id>"``).

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> fig = plots.utilization(dk.estimate(dk.template("dashboard-slow")))
        >>> fig.axes[0].get_yticklabels()[0].get_text()
        'app-db cpu'
    """
    from matplotlib.patches import Patch

    threshold = estimate.utilization_max
    stations = sorted(_stations(estimate), key=lambda s: (-s.utilization, s.id))
    fig, (ax,) = _figure(10.0, max(3.0, 1.4 + 0.38 * len(stations)))
    _utilization_bars(ax, stations, threshold)
    ax.set_xlabel("utilization (busy share of servers)", fontsize=FONT + 1)
    title = f"Utilization — {estimate.design}"
    if estimate.scale != 1:
        title += f" at {estimate.scale:g}× load"
    ax.set_title(_shown(title), fontsize=FONT + 2)
    handles: list[Any] = [
        Patch(color=OK, label=f"below {percent(threshold)}"),
        Patch(color=WARNING, label=f"above {percent(threshold)}"),
        Patch(color=SATURATED, label="saturated"),
        *[h for h in ax.get_lines() if h.get_gid() == "threshold"],
    ]
    _legend(ax, handles)
    if not stations:
        ax.text(0.5, 0.5, "no station has traffic", transform=ax.transAxes, ha="center")
    return fig


# -- load --------------------------------------------------------------------------------


def default_scales(max_scale: float, points: int = 32) -> list[float]:
    """Load scales for the p95-vs-load curve: a grid up to 0.9 × ``max_scale``, then closer
    steps up to 0.99 × (the knee), and 1× (the design's load) when below saturation.

    Example:
        >>> [round(s, 3) for s in default_scales(2.0, points=4)]
        [0.04, 0.627, 1.0, 1.213, 1.8, 1.86, 1.9, 1.94, 1.96, 1.98]
    """
    top = max_scale if math.isfinite(max_scale) and max_scale > 0 else 5.0
    first = top * 0.02
    grid = [first + (0.9 * top - first) * i / (points - 1) for i in range(points)]
    knee = [top * f for f in (0.93, 0.95, 0.97, 0.98, 0.99)] if math.isfinite(max_scale) else []
    here = [1.0] if 0.99 * top > 1.0 else []
    return sorted(set(grid + knee + here))


def load_curve(design: Design, scales: Sequence[float] | None = None,
               endpoints: Sequence[str] | None = None, points: int = 32) -> Figure:
    """p95 of each endpoint as the workload is scaled up to saturation (the hockey stick).

    Args:
        design: The design; its workload is scale 1.
        scales: Factors on the workload; default: :func:`default_scales` of its max_scale
            (``points`` of them below the knee).
        endpoints: Endpoints to draw; default: all with traffic.
        points: See ``scales``.

    Returns:
        A figure: one line per endpoint (labelled with its name, and its error ratio when
        requests fail — errors do not change with the load), a dashed vertical line at
        ``max_scale`` (gid ``"max_scale"``) labelled with the bottleneck, a dash-dotted one
        where the background work (queues' handlers) saturates when that comes first
        (gid ``"background"``: the handlers' lines end there) and a dotted one at the
        design's load.

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> fig = plots.load_curve(dk.template("dashboard-slow"))
        >>> [round(l.get_xdata()[0], 2) for l in fig.axes[0].get_lines()
        ...  if l.get_gid() == "max_scale"]
        [1.16]
    """
    import numpy as np

    from designkit.estimate.api import estimate as run
    from designkit.estimate.result_text import error_share

    base = run(design)
    names = _pick(list(base.endpoints), endpoints)
    back = base.background
    lags = back is not None and math.isfinite(back.max_scale) and (
        not math.isfinite(base.max_scale) or back.max_scale < base.max_scale)
    xs = list(scales) if scales is not None else default_scales(base.max_scale, points)
    if scales is None and back is not None and lags:  # the handlers' knee too
        xs = sorted(set(xs) | {back.max_scale * f for f in (0.93, 0.95, 0.97, 0.98, 0.99)})
    curve = base.curve(xs, names)
    fig, (ax,) = _figure(11.0, 5.5)
    colours = _palette(len(names))
    values = [v for n in names for v in curve[n]]
    for name, colour in zip(names, colours, strict=True):
        ys = np.array([v if math.isfinite(v) else np.nan for v in curve[name]])
        failing = base.endpoints[name].error_ratio  # the same at every load
        label = f"{name} — {error_share(failing)} errors" if failing > 0 else name
        ax.plot(xs, ys, color=colour, linewidth=1.8, marker="o", markersize=3,
                label=_shown(label))
    log = _spans_decades(values)
    if log:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    top = base.max_scale
    if math.isfinite(top):
        where = base.bottleneck_station or base.bottleneck or "a station"
        ax.axvline(top, color=SATURATED, linestyle="--", linewidth=1.4, gid="max_scale",
                   label=_shown(f"saturation at {top:.3g}× ({where})"))
    if back is not None and lags:
        ax.axvline(back.max_scale, color=SATURATED, linestyle="-.", linewidth=1.0,
                   gid="background", label=_shown(
                       f"background lags from {back.max_scale:.3g}× ({back.station})"))
    if min(xs, default=0.0) <= 1.0 <= max(xs, default=0.0):
        ax.axvline(1.0, color="#555555", linestyle=":", linewidth=1.2, gid="design_load",
                   label="design workload (1×)")
    ax.set_xlim(0.0, (top * 1.04) if math.isfinite(top) else max(xs, default=1.0) * 1.04)
    ax.set_xlabel("load (× the design's workload)", fontsize=FONT + 1)
    ax.set_ylabel("p95 latency (ms" + (", log scale)" if log else ")"), fontsize=FONT + 1)
    saturates = (f"saturates at {top:.3g}× in {base.bottleneck_station}"
                 if math.isfinite(top) else "never saturates")
    ax.set_title(_shown(f"p95 vs load — {base.design} {saturates}"), fontsize=FONT + 2)
    ax.grid(alpha=0.3)
    _legend(ax)
    return fig


# -- over time ---------------------------------------------------------------------------


def over_time(result: Transient, endpoints: Sequence[str] | None = None,
              stations: Sequence[str] | None = None) -> Figure:
    """A load profile's minutes: each endpoint's mean latency (top) and the backlog of the
    stations that back up (bottom), over time, with the profile's factor shaded behind.

    Args:
        result: What :func:`dk.transient <designkit.estimate.transient.transient>` found.
        endpoints: Endpoints to draw; default: all.
        stations: Stations to draw; default: the five whose backlog grows most.

    Returns:
        A figure of two axes sharing the time axis; the profile's factor is a grey area
        (gid ``"profile"``) on a right-hand axis of the top one.

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
        >>> _ = d.set_load("api GET /x", 50)
        >>> fig = plots.over_time(dk.transient(d, dk.LoadProfile.burst(3, for_s=10)))
        >>> [line.get_label() for line in fig.axes[1].get_lines() if line.get_gid() is None]
        ['api workers']
    """
    import numpy as np

    names = _pick(list(result.endpoints), endpoints)
    chosen = list(stations) if stations is not None else result.worst()
    fig, (top, bottom) = _figure(11.0, 7.0, rows=2)
    times = result.times_s
    shade = top.twinx()
    shade.fill_between(times, 0.0, result.scale, color="#d9d9d9", alpha=0.6, step=None,
                       gid="profile", label="load (× the workload)")
    shade.set_ylabel("load (× the workload)", fontsize=FONT, color="#777777")
    shade.set_ylim(0.0, max(float(result.scale.max()) * 1.15, 1.0))
    top.set_zorder(shade.get_zorder() + 1)
    top.patch.set_visible(False)
    colours = _palette(len(names) + len(chosen))
    values = []
    for name, colour in zip(names, colours, strict=False):
        ys = np.asarray(result.endpoints[name], dtype=float)
        values.extend(ys.tolist())
        top.plot(times, ys, color=colour, linewidth=1.8, label=_shown(name))
    if _spans_decades(values):
        top.set_yscale("log")
    top.set_ylabel("mean latency (ms)", fontsize=FONT + 1)
    top.grid(alpha=0.3)
    backlogs = []
    for sid, colour in zip(chosen, colours[len(names):], strict=True):
        backlogs.extend(result.stations[sid].backlog.tolist())
        bottom.plot(times, result.stations[sid].backlog, color=colour, linewidth=1.6,
                    linestyle="--", label=_shown(sid))
    if _spans_decades([v for v in backlogs if v >= 1.0]):
        bottom.set_yscale("symlog", linthresh=1.0)
    if not chosen:
        bottom.text(0.5, 0.5, "no station backs up", transform=bottom.transAxes,
                    ha="center", va="center", fontsize=FONT + 1, color="#555555")
    drain = result.drain_s
    if drain is not None and math.isfinite(drain):
        for ax in (top, bottom):
            ax.axvline(drain, color="#555555", linestyle=":", linewidth=1.2, gid="drained")
    bottom.set_ylabel("backlog (requests waiting)", fontsize=FONT + 1)
    bottom.set_xlabel("time (s)", fontsize=FONT + 1)
    bottom.grid(alpha=0.3)
    bottom.set_xlim(top.get_xlim())
    name = f" '{result.profile.name}'" if result.profile.name else ""
    when = (f", drained by {drain:g} s" if drain is not None and math.isfinite(drain)
            else ", not drained in the time shown" if drain is not None else "")
    top.set_title(_shown(f"{result.design} under{name} (peak {result.profile.peak:g}×){when}"),
                  fontsize=FONT + 2)
    handles = [*top.get_legend_handles_labels()[0], *bottom.get_legend_handles_labels()[0]]
    _legend(top, handles)
    return fig


# -- growth ------------------------------------------------------------------------------


def table_growth(design: Design, days: float = 365.0) -> Figure:
    """Rows of every growing table over ``days``, with the policy's ``partition_rows``.

    Args:
        design: The design (tables with ``growth_per_day``).
        days: Days to draw.

    Returns:
        A figure: one line per growing table (labelled ``db.table``; tables that grow
        alike share a line, ``db.a = db.b``), and a dashed line at
        ``design.policy.partition_rows`` (gid ``"partition_rows"``) when the rows reach
        its decade.

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> fig = plots.table_growth(dk.template("dashboard-slow"))
        >>> sorted(l.get_label() for l in fig.axes[0].get_lines())[:2]
        ['app-db.customers', 'app-db.merchants']
    """
    from matplotlib.ticker import FuncFormatter

    from designkit.estimate.growth import growth

    grown = [t for t in growth(design, days).tables if t.rows_then > t.rows_now]
    # tables that grow alike would hide one another: one line, both names
    same: dict[tuple[float, float, bool], list[str]] = {}
    for t in grown:
        same.setdefault((t.rows_now, t.rows_then, t.partitioned), []).append(
            f"{t.database}.{t.table}")
    lines = sorted(same.items(), key=lambda item: -item[0][1])
    fig, (ax,) = _figure(11.0, 5.5)
    colours = _palette(len(lines))
    for ((now, then, partitioned), names), colour in zip(lines, colours, strict=True):
        label = " = ".join(names)
        ax.plot([0.0, days], [now, then], color=colour, linewidth=1.8, label=_shown(label),
                gid=_gid(f"table {label}"), linestyle=(0, (6, 2)) if partitioned else "-")
    rows = [v for (now, then, _), _ in lines for v in (now, then)]
    log = _spans_decades(rows, ratio=30.0)
    if log:
        from matplotlib.ticker import LogLocator

        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    limit = float(design.policy.partition_rows)
    if rows and limit <= max(rows) * (3.0 if log else 1.25):
        ax.axhline(limit, color=SATURATED, linestyle="--", linewidth=1.3, gid="partition_rows",
                   label=f"partition above {_count(limit)} rows (policy)")
    ax.yaxis.set_major_formatter(FuncFormatter(_count))
    ax.set_xlim(0.0, days)
    ax.set_xlabel("days from now", fontsize=FONT + 1)
    ax.set_ylabel("rows" + (" (log scale)" if log else ""), fontsize=FONT + 1)
    ax.set_title(_shown(f"Table growth over {days:g} days — {design.name}"),
                 fontsize=FONT + 2)
    ax.grid(alpha=0.3, which="both" if not log else "major")
    if lines:
        _legend(ax, title="dashed: partitioned"
                if any(partitioned for (_, _, partitioned), _ in lines) else None)
    else:
        ax.text(0.5, 0.5, "no table grows (no growth_per_day)", transform=ax.transAxes,
                ha="center", va="center", fontsize=FONT + 1)
    return fig


# -- comparison --------------------------------------------------------------------------


def compare(before: Estimate, after: Estimate,
            labels: tuple[str, str] = ("before", "after"), stations: int = 8) -> Figure:
    """Two estimates side by side: p95 per endpoint, and the busiest stations' utilization.

    Args:
        before: The first estimate.
        after: The second (e.g. the fixed design).
        labels: Names of the two in the legend.
        stations: How many of the busiest stations to show.

    Returns:
        A figure with two axes: grouped p95 bars (log scale when they span decades; a
        saturated endpoint's bar is capped and labelled "saturated"), and grouped
        utilization bars with the policy threshold.

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> fig = plots.compare(dk.estimate(dk.template("dashboard-slow")),
        ...                     dk.estimate(dk.template("dashboard-fixed")))
        >>> [ax.get_title() for ax in fig.axes]
        ['p95 latency per endpoint', 'Utilization of the busiest stations']
    """
    endpoints = list(before.endpoints) + [n for n in after.endpoints if n not in before.endpoints]
    util_before = {s.id: s for s in _stations(before)}
    util_after = {s.id: s for s in _stations(after)}
    busiest = sorted(set(util_before) | set(util_after), key=lambda i: (-max(
        util_before[i].utilization if i in util_before else 0.0,
        util_after[i].utilization if i in util_after else 0.0), i))[:stations]
    n = len(endpoints) + len(busiest)
    fig, (top, bottom) = _figure(11.0, max(5.0, 2.4 + 0.62 * n), rows=2)
    _compare_p95(top, endpoints, (before, after), labels)
    _compare_util(bottom, busiest, (util_before, util_after), labels,
                  after.utilization_max)
    fig.suptitle(_shown(f"{labels[0]}: {before.design}   vs   {labels[1]}: {after.design}"),
                 fontsize=FONT + 3)
    return fig


def _compare_p95(ax: Axes, endpoints: list[str], pair: tuple[Estimate, Estimate],
                 labels: tuple[str, str]) -> None:
    from matplotlib.ticker import FuncFormatter

    finite = [e.endpoints[n].p95_ms for e in pair for n in endpoints if n in e.endpoints]
    log = _spans_decades(finite)
    known = [v for v in finite if math.isfinite(v) and v > 0]
    cap = max(known, default=1.0) * (2.0 if log else 1.15)
    height = 0.38
    for k, (est, label, colour) in enumerate(zip(pair, labels, (BEFORE, AFTER), strict=True)):
        ys = [i + (k - 0.5) * height for i in range(len(endpoints))]
        widths = []
        for name in endpoints:
            e = est.endpoints.get(name)
            widths.append(0.0 if e is None else (cap if not math.isfinite(e.p95_ms)
                                                 else e.p95_ms))
        bars = ax.barh(ys, widths, height=height, color=colour, label=_shown(label))
        for bar, name in zip(bars, endpoints, strict=True):
            e = est.endpoints.get(name)
            bar.set_gid(_gid(f"{label} {name}"))
            if e is None:
                text, x = "no traffic", (min(known, default=1.0) if log else 0.0)
            elif not math.isfinite(e.p95_ms):
                bar.set_hatch("//")
                bar.set_edgecolor(SATURATED)
                text, x = "saturated", cap
            else:
                text, x = _ms(e.p95_ms), e.p95_ms
            ax.text(x * (1.08 if log else 1.0) + (0 if log else cap * 0.01),
                    bar.get_y() + bar.get_height() / 2, text, va="center",
                    fontsize=FONT - 1, color=SATURATED if text == "saturated" else "#333333")
    ax.set_yticks(range(len(endpoints)), [_shown(n) for n in endpoints], fontsize=FONT)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min(known, default=1.0) / 2, cap * 2.5)
        ax.xaxis.set_major_formatter(FuncFormatter(_plain))
    else:
        ax.set_xlim(0.0, cap * 1.15)
    ax.set_xlabel("p95 latency (ms" + (", log scale)" if log else ")"), fontsize=FONT + 1)
    ax.set_title("p95 latency per endpoint", fontsize=FONT + 2)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _pair_handles(labels: tuple[str, str], hatched: bool) -> list[Any]:
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=BEFORE, label=_shown(labels[0])),
                          Patch(color=AFTER, label=_shown(labels[1]))]
    if hatched:
        handles.append(Patch(facecolor="white", edgecolor=SATURATED, hatch="//",
                             label="saturated"))
    return handles


def _compare_util(ax: Axes, ids: list[str],
                  pair: tuple[dict[str, StationEstimate], dict[str, StationEstimate]],
                  labels: tuple[str, str], threshold: float) -> None:
    height = 0.38
    for k, (stations, label, colour) in enumerate(zip(pair, labels, (BEFORE, AFTER),
                                                      strict=True)):
        ys = [i + (k - 0.5) * height for i in range(len(ids))]
        widths = []
        for i in ids:
            s = stations.get(i)
            widths.append(0.0 if s is None else min(s.utilization, 1.0))
        bars = ax.barh(ys, widths, height=height, color=colour, label=_shown(label))
        for bar, i in zip(bars, ids, strict=True):
            s = stations.get(i)
            bar.set_gid(_gid(f"{label} {i}"))
            if s is None:
                text = "no traffic"
            elif _status(s, threshold) == "saturated":
                bar.set_hatch("//")
                bar.set_edgecolor(SATURATED)
                text = "saturated"
            else:
                text = percent(s.utilization)
            ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, text,
                    va="center", fontsize=FONT - 1,
                    color=SATURATED if text == "saturated" else "#333333")
    ax.set_yticks(range(len(ids)), [_shown(i) for i in ids], fontsize=FONT)
    ax.invert_yaxis()
    _percent_axis(ax, threshold)
    ax.set_xlabel("utilization (busy share of servers)", fontsize=FONT + 1)
    ax.set_title("Utilization of the busiest stations", fontsize=FONT + 2)
    hatched = any(p.get_hatch() for a in ax.figure.axes for p in a.patches)
    _legend(ax, [*_pair_handles(labels, hatched),
                 *[h for h in ax.get_lines() if h.get_gid() == "threshold"]])


# -- output ------------------------------------------------------------------------------


def to_svg(fig: Figure) -> str:
    """The figure as SVG text that is the same, byte for byte, each time it is rendered.

    Element ids come from ``svg.hashsalt`` (set only while saving) and no date is written.

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> fig = plots.utilization(dk.estimate(dk.template("dashboard-fixed")))
        >>> to_svg(fig) == to_svg(fig), "<dc:date>" in to_svg(fig)
        (True, False)
    """
    import matplotlib

    # Element ids hash the axes' clip boxes, which the constrained layout only settles to
    # within rounding noise: settle it, round it, and save with the layout held still.
    with _quiet_drawing():
        fig.draw_without_rendering()
    engine = fig.get_layout_engine()
    for ax in fig.axes:
        x, y, w, h = (round(float(v), 6) for v in ax.get_position().bounds)
        ax.set_position((x, y, w, h))
    fig.set_layout_engine("none")
    buffer = io.StringIO()
    try:
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}), _quiet_drawing():
            fig.savefig(buffer, format="svg", metadata={"Date": None})
    finally:
        fig.set_layout_engine(engine)
    return buffer.getvalue()


@contextlib.contextmanager
def _quiet_drawing() -> Iterator[None]:
    """Drawing without matplotlib's notes on what a user's names make of a figure: a
    character no installed font has is drawn as a box (the name stays whole in the
    report's text and tables), and labels too long for the figure leave the layout as
    it is — neither is something the user can act on in a plot."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message="constrained_layout not applied",
                                category=UserWarning)
        yield


def to_png(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write the figure as a PNG file (``dpi`` dots per inch) and return its path.

    Example:
        >>> import designkit as dk, tempfile, pathlib
        >>> from designkit.render import plots
        >>> fig = plots.utilization(dk.estimate(dk.template("dashboard-fixed")))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = to_png(fig, pathlib.Path(d) / "u.png")
        ...     out.read_bytes()[:4]
        b'\\x89PNG'
    """
    out = Path(path)
    with _quiet_drawing():
        fig.savefig(out, format="png", dpi=dpi, metadata={"Software": None})
    return out


def calibration(fit: CalibrationFit, endpoint: str | None = None, beyond: float = 1.3,
                stats: Sequence[str] = ("p50_ms", "p95_ms"),
                unfitted: Iterable[tuple[float, float, float]] = ()) -> Figure:
    """A calibration against load, for one endpoint: the measured points, the calibrated
    design's curves with the fit's rms miss as a band, and the loads beyond the
    measurements shaded up to ``beyond`` × the highest one.

    Args:
        fit: The calibration (:func:`designkit.calibrate`).
        endpoint: The endpoint (``"svc METHOD /path"``); default: the first measured.
        beyond: How far past the highest measured load to draw.
        stats: Which statistics: ``"mean_ms"``, ``"p50_ms"``, ``"p95_ms"``, ``"p99_ms"``.
        unfitted: Points measured but not fitted, ``(rps, p50, p95)`` — a heavier run the
            calibration is asked to predict (drawn as crosses; the curves reach past
            them).

    Example:
        >>> import designkit as dk
        >>> from designkit.measure import Measurements, Observation
        >>> from designkit.render import plots
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=5)
        >>> f = dk.calibrate(d, Measurements((Observation(
        ...     "api GET /x", "endpoint", "r1", 50.0, 5000, 0, 20.0, 18.0, 60.0, None),)))
        >>> fig = plots.calibration(f)
        >>> fig.axes[0].get_xlabel(), [l.get_label() for l in fig.axes[0].get_lines()]
        ('load (requests/s)', ['p50 calibrated', 'p95 calibrated'])
    """
    import numpy as np

    from designkit.calibration.result import STAT_NAMES
    from designkit.estimate.api import estimate_with

    measured = [r for r in fit.rows if r.endpoint]
    key = endpoint or (measured[0].endpoint if measured else "")
    top = fit.measured_up_to.get(key, 0.0)
    fig, (ax,) = _figure(8.0, 4.5)
    if top <= 0:
        ax.set_title(_shown(f"nothing measured for {key}"))
        return fig
    others = {k: v for _, w in fit.runs[-1:] for k, v in w.items() if k != key}
    unfitted = list(unfitted)
    right = max([top * beyond, *(rps * 1.05 for rps, _, _ in unfitted)])
    loads = np.linspace(top * 0.05, right, 48)
    band = fit.rms_error
    colours = {"mean_ms": "#555555", "p50_ms": "#1f77b4", "p95_ms": "#d62728",
               "p99_ms": "#9467bd"}
    curves: dict[str, list[float]] = {s: [] for s in stats}
    for load in loads:
        e = estimate_with(fit.design, workload={**others, key: float(load)},
                          capacity=False).endpoints.get(key)
        for s in stats:
            curves[s].append(getattr(e, s) if e is not None else math.nan)
    for s in stats:
        y = np.array(curves[s], dtype=float)
        colour = colours.get(s, "black")
        ax.plot(loads, y, color=colour, label=f"{STAT_NAMES[s]} calibrated")
        ax.fill_between(loads, y * (1 - band), y * (1 + band), color=colour, alpha=0.15)
        points = [(r.rps, r.measured) for r in measured if r.endpoint == key and r.stat == s]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.scatter(xs, ys, color=colour, zorder=3, label=f"{STAT_NAMES[s]} measured")
    for rps, p50, p95 in unfitted:
        ax.scatter([rps, rps], [p50, p95], marker="x", s=70, color=["#1f77b4", "#d62728"],
                   zorder=4, label="measured, not fitted")
    ax.axvspan(top, float(loads[-1]), color=WARNING, alpha=0.15,
               label="beyond the measurements")
    ax.set_xlabel("load (requests/s)", fontsize=FONT)
    ax.set_ylabel("latency (ms)", fontsize=FONT)
    ax.set_title(_shown(f"{key}: measured and calibrated (band: rms miss {band:.1%})"),
                 fontsize=FONT)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def tornado(result: Sensitivity, top: int = 12) -> Figure:
    """A tornado plot: per input (widest first, the ``top`` widest), a bar from the metric
    with the input at its low value to the metric at its high value, across the line of
    the metric as designed. Bars that leave the plot (a saturating end) are drawn to its
    edge and marked ∞.

    Example:
        >>> import designkit as dk
        >>> from designkit.render import plots
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=2).endpoint("GET /x", cpu_ms=10)
        >>> _ = d.set_load("api GET /x", 100)
        >>> fig = plots.tornado(dk.sensitivity(d, metric="mean"))
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
        ['api GET /x rate', 'api times']
    """
    rows = [r for r in result.rows if r.swing > 0 or math.isnan(r.swing)][:top][::-1]
    fig, (ax,) = _figure(8.0, max(2.0, 0.45 * len(rows) + 1.2))
    nominal = result.nominal
    finite = [v for r in rows for v in (r.at_low, r.at_high) if math.isfinite(v)]
    edge = max([*finite, nominal]) * 1.15 if finite else nominal * 2 or 1.0
    for i, r in enumerate(rows):
        for value, colour, label in ((r.at_low, "#1f77b4", "input low"),
                                     (r.at_high, "#d62728", "input high")):
            end = value if math.isfinite(value) else edge
            ax.barh(i, end - nominal, left=nominal, color=colour, alpha=0.8,
                    label=label if i == 0 else None)
            if not math.isfinite(value):
                ax.text(edge, i, " ∞", va="center", fontsize=8)
    ax.axvline(nominal, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_shown(f"{r.input.name}") for r in rows], fontsize=8)
    ax.set_xlabel(_shown(result.metric), fontsize=FONT)
    ax.set_title(_shown(f"what moves {result.metric} (as designed: {number(nominal)})"),
                 fontsize=FONT)
    if rows:
        _legend(ax, below=True)  # (the title, which names the metric, is often wider)
    return fig


def band(values: Band, title: str, unit: str = "") -> Figure:
    """A histogram of one number's samples — one band of ``estimate(..., samples=…).bands``
    (``bands.max_scale``, ``bands.utilization["db"]``, an endpoint's ``p95_ms``) — with
    its p5, p50 and p95 marked.

    Example:
        >>> import numpy as np
        >>> from designkit.estimate.uncertainty import Band
        >>> from designkit.render import plots
        >>> fig = plots.band(Band.of(np.linspace(1, 2, 101)), "max_scale")
        >>> [round(line.get_xdata()[0], 2) for line in fig.axes[0].get_lines()]
        [1.05, 1.5, 1.95]
        >>> plots.band(Band.of(np.linspace(1, 2, 101)), "p95", "ms").axes[0].get_title()
        'p95: p50 1.5, p5–p95 1.05–1.95 ms'
    """
    import numpy as np

    fig, (ax,) = _figure(7.0, 3.2)
    data = np.asarray(values.values, dtype=float)
    finite = data[np.isfinite(data)]
    if len(finite):
        ax.hist(finite, bins=min(40, max(5, len(finite) // 10)), color="#9ecae1")
    for q, style in ((values.p5, ":"), (values.p50, "-"), (values.p95, ":")):
        if math.isfinite(q):
            ax.axvline(q, color="black", linestyle=style, linewidth=1)
    saturated = len(data) - len(finite)
    note = f" ({saturated} of {len(data)} saturated)" if saturated else ""
    unit = f" {unit.strip()}" if unit.strip() else ""
    ax.set_title(_shown(f"{title}: p50 {number(values.p50)}, p5–p95 {number(values.p5)}–"
                        f"{number(values.p95)}{unit}{note}"), fontsize=FONT)
    ax.set_ylabel("samples", fontsize=FONT)
    if unit:
        ax.set_xlabel(unit.strip(), fontsize=FONT)
    return fig
