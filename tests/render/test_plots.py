"""Plots: their content as data (titles, lines, bars, colours), stable SVG, lazy import."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgba

import designkit as dk
from designkit.render import plots


@pytest.fixture(scope="module")
def flash() -> dk.Estimate:
    return dk.estimate(dk.template("flash-sale"))


@pytest.fixture(scope="module")
def saturated() -> dk.Estimate:
    """flash-sale at three times its load: every endpoint and several stations saturate
    (the checkout's Redis thread at 120 %)."""
    return dk.estimate(dk.template("flash-sale"), scale=3.0)


@pytest.fixture(scope="module")
def partly() -> dk.Estimate:
    """At 1.8×, only the projector's endpoint is saturated."""
    return dk.estimate(dk.template("flash-sale"), scale=1.8)


def labelled(ax):  # type: ignore[no-untyped-def]
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def by_gid(ax, gid: str):  # type: ignore[no-untyped-def]
    return [a for a in [*ax.get_lines(), *ax.patches] if a.get_gid() == gid]


# -- latency CDF -------------------------------------------------------------------------


def test_latency_cdf_draws_one_line_per_endpoint_with_percentiles(flash: dk.Estimate) -> None:
    fig = plots.latency_cdf(flash)
    ax = fig.axes[0]
    assert [line.get_label() for line in labelled(ax)] == list(flash.endpoints)
    assert "Latency distribution" in ax.get_title() and "flash-sale" in ax.get_title()
    assert "ms" in ax.get_xlabel()
    assert ax.get_xscale() == "linear"  # medians 0.66–2.8 ms: within one decade
    slow = plots.latency_cdf(dk.estimate(dk.template("dashboard-slow"))).axes[0]
    assert slow.get_xscale() == "log"  # medians 21 ms and 7.8 s
    marks = [line for line in ax.get_lines() if line.get_label().startswith("_p95 ")]
    assert len(marks) == len(flash.endpoints)
    for mark in marks:
        name = mark.get_label().removeprefix("_p95 ")
        assert mark.get_xdata()[0] == pytest.approx(flash.endpoints[name].p95_ms, rel=1e-6)
        assert mark.get_ydata()[0] == 0.95
    # the CDF reaches 1 and never decreases
    for line in labelled(ax):
        y = list(line.get_ydata())
        assert y == sorted(y) and y[-1] == pytest.approx(1.0, abs=1e-3)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("p95 7.87 ms" in t for t in legend)  # the checkout


def test_latency_cdf_lists_saturated_endpoints_without_drawing_them(partly: dk.Estimate) -> None:
    fig = plots.latency_cdf(partly)
    ax = fig.axes[0]
    drawn = [line.get_label() for line in labelled(ax)]
    assert "order-projector POST /v1/order-events" not in drawn
    assert len(drawn) == 3
    assert "1 endpoint saturated" in ax.get_title()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "order-projector POST /v1/order-events  (saturated)" in legend


def test_latency_cdf_when_everything_is_saturated(saturated: dk.Estimate) -> None:
    fig = plots.latency_cdf(saturated)
    ax = fig.axes[0]
    assert labelled(ax) == []
    assert "4 endpoints saturated" in ax.get_title()
    assert any("every endpoint is saturated" in t.get_text() for t in ax.texts)


def test_latency_cdf_selects_endpoints_and_names_the_nearest(flash: dk.Estimate) -> None:
    fig = plots.latency_cdf(flash, endpoints=["checkout-api POST /v1/orders"])
    assert [line.get_label() for line in labelled(fig.axes[0])] == [
        "checkout-api POST /v1/orders"]
    with pytest.raises(KeyError, match="did you mean 'checkout-api POST /v1/orders'"):
        plots.latency_cdf(flash, endpoints=["checkout-api POST /v1/order"])


def test_latency_cdf_is_linear_when_latencies_are_close() -> None:
    d = dk.Design(name="one")
    _ = d.service("api", workers=10).endpoint("GET /x", cpu_ms=100)
    _ = d.set_load("api GET /x", 50)
    ax = plots.latency_cdf(dk.estimate(d)).axes[0]
    assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0.0


# -- utilization -------------------------------------------------------------------------


def test_utilization_bars_are_sorted_with_the_policy_threshold(flash: dk.Estimate) -> None:
    fig = plots.utilization(flash)
    ax = fig.axes[0]
    stations = [s for c in flash.components.values() for s in c.stations.values()
                if s.arrival_rps > 0]
    assert len(ax.patches) == len(stations)
    names = [t.get_text() for t in ax.get_yticklabels()]
    util = [flash.station(n).utilization for n in names]
    assert util == sorted(util, reverse=True)
    (threshold,) = by_gid(ax, "threshold")
    assert threshold.get_xdata()[0] == flash.utilization_max
    assert "Utilization" in ax.get_title() and "utilization" in ax.get_xlabel()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["below 70%", "above 70%", "saturated", "policy threshold 70%"]
    ok = [p for p in ax.patches if p.get_facecolor() == to_rgba(plots.OK)]
    assert len(ok) == len(stations)  # nothing above 70 % at the design's load


def test_saturated_bars_are_red_capped_and_labelled() -> None:
    doubled = dk.estimate(dk.template("flash-sale"), scale=2.0)
    ax = plots.utilization(doubled).axes[0]
    bar = by_gid(ax, "bar order-read-db cpu")[0]  # 109 %
    assert bar.get_facecolor() == to_rgba(plots.SATURATED)
    assert bar.get_width() == 1.0
    warning = by_gid(ax, "bar order-events partitions")[0]  # 94 %
    assert warning.get_facecolor() == to_rgba(plots.WARNING)
    fine = by_gid(ax, "bar catalog-cache servers")[0]  # 13 %
    assert fine.get_facecolor() == to_rgba(plots.OK)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("saturated") == sum(
        s.saturated for c in doubled.components.values() for s in c.stations.values())
    assert max(p.get_width() for p in ax.patches) == 1.0


# -- load curve --------------------------------------------------------------------------


def test_load_curve_rises_to_the_max_scale_line() -> None:
    design = dk.template("flash-sale")
    e = dk.estimate(design)
    fig = plots.load_curve(design)
    ax = fig.axes[0]
    (line,) = by_gid(ax, "max_scale")
    assert line.get_xdata()[0] == pytest.approx(e.max_scale)
    assert e.bottleneck_station is not None and e.bottleneck_station in line.get_label()
    assert e.bottleneck_station in ax.get_title()
    # the projector's consumers saturate first (1.73×), background work: a line of its own
    assert e.background is not None and e.background.max_scale < e.max_scale
    (lag,) = by_gid(ax, "background")
    assert lag.get_xdata()[0] == pytest.approx(e.background.max_scale)
    assert "order-events consumers" in lag.get_label()
    curves = [ln for ln in ax.get_lines() if ln.get_gid() is None]
    assert [c.get_label() for c in curves] == list(e.endpoints)
    for c in curves:
        xs, ys = list(c.get_xdata()), list(c.get_ydata())
        assert max(xs) == pytest.approx(0.99 * e.max_scale) and max(xs) < e.max_scale
        assert ys[-1] > ys[0] or not math.isfinite(ys[-1])  # the hockey stick rises
        if c.get_label() == "order-projector POST /v1/order-events":  # ends where it lags
            back = e.background.max_scale  # found to 0.1 %
            assert all(math.isfinite(y) for x, y in zip(xs, ys, strict=True) if x < back)
            assert all(not math.isfinite(y) for x, y in zip(xs, ys, strict=True)
                       if x > 1.001 * back)
            assert sum(0.9 * back < x < back for x in xs) >= 4  # its own knee is drawn
        else:
            assert all(math.isfinite(y) for y in ys)
    assert "p95" in ax.get_ylabel() and "ms" in ax.get_ylabel()
    assert by_gid(ax, "design_load")[0].get_xdata()[0] == 1.0


def test_load_curve_with_given_scales_and_endpoints() -> None:
    design = dk.template("dashboard-slow")
    fig = plots.load_curve(design, scales=[0.5, 1.0],
                           endpoints=["dashboard-api GET /v1/dashboard"])
    (curve,) = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() is None]
    assert list(curve.get_xdata()) == [0.5, 1.0]
    assert fig.axes[0].get_yscale() == "linear"


def test_default_scales() -> None:
    scales = plots.default_scales(2.0)
    assert scales == sorted(scales) and scales[-1] == pytest.approx(1.98) and 1.0 in scales
    assert max(plots.default_scales(math.inf)) < math.inf


# -- growth ------------------------------------------------------------------------------


def test_table_growth_draws_growing_tables_and_the_partition_line() -> None:
    design = dk.template("flash-sale")
    ax = plots.table_growth(design).axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_gid() != "partition_rows"]
    labels = [ln.get_label() for ln in lines]
    # outbox does not grow; products and stock grow alike and share a line
    assert labels == ["orders-db.order_items", "orders-db.orders",
                      "order-read-db.order_views", "orders-db.products = orders-db.stock"]
    assert lines[0].get_ydata()[-1] == 183_625_000
    (limit,) = by_gid(ax, "partition_rows")
    assert limit.get_ydata()[0] == design.policy.partition_rows
    assert ax.get_yscale() == "log" and ax.get_xlim() == (0.0, 365.0)
    assert ax.get_xlabel() == "days from now" and "rows" in ax.get_ylabel()


def test_table_growth_leaves_out_a_partition_line_far_above() -> None:
    ax = plots.table_growth(dk.template("dashboard-slow"), days=100).axes[0]
    assert by_gid(ax, "partition_rows") == []
    assert len(ax.get_lines()) == 4
    assert "100 days" in ax.get_title()


# -- comparison --------------------------------------------------------------------------


def test_compare_before_and_after() -> None:
    before = dk.estimate(dk.template("dashboard-slow"))
    after = dk.estimate(dk.template("dashboard-fixed"))
    fig = plots.compare(before, after)
    p95, util = fig.axes
    assert p95.get_title() == "p95 latency per endpoint"
    assert p95.get_xscale() == "log"  # 9.7 s against 64 ms
    bar = by_gid(p95, "before dashboard-api GET /v1/dashboard")[0]
    assert bar.get_width() == pytest.approx(
        before.endpoints["dashboard-api GET /v1/dashboard"].p95_ms)
    assert len(p95.patches) == 2 * len(before.endpoints)
    assert util.get_yticklabels()[0].get_text() == "app-db cpu"
    assert by_gid(util, "threshold")[0].get_xdata()[0] == after.utilization_max
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "before", "after", "policy threshold 70%"]


def test_compare_caps_saturated_bars(flash: dk.Estimate, saturated: dk.Estimate) -> None:
    fig = plots.compare(saturated, flash, labels=("2×", "1×"))
    p95, util = fig.axes
    capped = by_gid(p95, "2× checkout-api POST /v1/orders")[0]
    assert capped.get_hatch() == "//"
    assert "saturated" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert max(p.get_width() for p in util.patches) == 1.0
    assert len(util.get_yticklabels()) == 8


# -- output ------------------------------------------------------------------------------


def test_svg_is_stable_xml_without_a_date(flash: dk.Estimate) -> None:
    fig = plots.utilization(flash)
    first, second = plots.to_svg(fig), plots.to_svg(fig)
    assert first == second
    root = ET.fromstring(first.encode())
    assert root.tag.endswith("svg")
    assert "<dc:date>" not in first and "Date" not in first
    # a new figure with the same content gives the same bytes too
    assert plots.to_svg(plots.utilization(flash)) == first


def test_every_plot_renders_to_svg_and_png(tmp_path: Path, flash: dk.Estimate,
                                           saturated: dk.Estimate) -> None:
    design = dk.template("flash-sale")
    figures = {
        "cdf": plots.latency_cdf(flash),
        "cdf-saturated": plots.latency_cdf(saturated),
        "utilization": plots.utilization(saturated),
        "load": plots.load_curve(design, scales=[0.5, 1.0, 1.5]),
        "growth": plots.table_growth(design),
        "compare": plots.compare(saturated, flash),
    }
    for name, fig in figures.items():
        ET.fromstring(plots.to_svg(fig).encode())
        out = plots.to_png(fig, tmp_path / f"{name}.png")
        assert out.read_bytes()[:4] == b"\x89PNG"
        for ax in fig.axes:
            texts = [ax.title, ax.xaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels(),
                     *ax.texts]
            assert all(t.get_fontsize() >= 9 for t in texts if t.get_text()), name


def test_plots_are_not_registered_with_pyplot(flash: dk.Estimate) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.utilization(flash)
    assert plt.get_fignums() == before


def test_import_designkit_does_not_import_matplotlib() -> None:
    code = "import sys, designkit, designkit.render; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_a_name_no_font_has_or_too_long_for_the_figure_draws_without_a_warning() -> None:
    """A component named with a private-use character (no installed font draws it) and a
    title of 400 characters: the SVG is written (the glyph a box, the layout left as it
    is) and nothing is printed — found by ``make fuzz`` on ``designkit report``."""
    import warnings

    fig = plots.utilization(dk.estimate(dk.template("dashboard-fixed")))
    fig.axes[0].set_title("name \U0010befc " + "x" * 400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = plots.to_svg(fig)
    assert svg.startswith("<?xml") and "</svg>" in svg


def test_load_curve_labels_endpoints_that_fail_with_their_error_ratio() -> None:
    d = dk.Design(name="pay")
    d.external("psp", latency_ms=50.0, failure_rate=0.3, retries={"max": 2})
    api = d.service("api", io="async", workers=50)
    api.endpoint("POST /pay").call("psp")
    api.endpoint("GET /ping", cpu_ms=1.0)
    d.external("rare", latency_ms=5.0, failure_rate=2e-5)
    api.endpoint("POST /rare").call("rare")
    d.set_load("api POST /pay", 100)
    d.set_load("api GET /ping", 100)
    d.set_load("api POST /rare", 100)
    fig = plots.load_curve(d, scales=[0.5, 1.0])
    labels = [line.get_label() for line in fig.axes[0].get_lines() if line.get_gid() is None]
    # as the tables write an error share: a rare one is not "0.00%"
    assert labels[:3] == ["api POST /pay — 2.7% errors", "api GET /ping",
                          "api POST /rare — 0.002% errors"]


# -- over time ---------------------------------------------------------------------------


def test_over_time_draws_latency_backlog_and_the_profile() -> None:
    d = dk.Design(name="mm1")
    d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
    d.set_load("api GET /x", 50)
    result = dk.transient(d, dk.LoadProfile.burst(3, for_s=10, name="burst"))
    fig = plots.over_time(result)
    top, shade, bottom = fig.axes[0], fig.axes[2], fig.axes[1]
    (line,) = [ln for ln in top.get_lines() if ln.get_gid() is None]
    assert line.get_label() == "api GET /x"
    assert list(line.get_ydata()) == pytest.approx(list(result.endpoints["api GET /x"]))
    assert top.get_yscale() == "log"  # 20 ms to 5 s
    (backlog,) = [ln for ln in bottom.get_lines() if ln.get_gid() is None]
    assert backlog.get_label() == "api workers" and max(backlog.get_ydata()) > 500
    assert [a.get_gid() for a in shade.collections] == ["profile"]
    (drained,) = by_gid(bottom, "drained")
    assert drained.get_xdata()[0] == result.drain_s == 21.0
    assert "mm1 under 'burst' (peak 3×), drained by 21 s" in top.get_title()
    svg = plots.to_svg(fig)
    ET.fromstring(svg)


def test_the_tornado_legend_keeps_clear_of_a_long_title() -> None:
    """The title names the metric and its endpoint, often wider than the axes: the legend
    goes under the plot (beside the axes it covered the title's end)."""
    s = dk.sensitivity(dk.template("flash-sale"), metric="p95",
                       endpoint="checkout-api POST /v1/orders")
    fig = plots.tornado(s)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (ax,) = fig.axes
    title = ax.title.get_window_extent(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    assert title.width > ax.get_window_extent(renderer).width * 0.9  # (a long title)
    assert not title.overlaps(legend)
    assert legend.y1 <= ax.get_window_extent(renderer).y0  # under the axes
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["input low", "input high"]
