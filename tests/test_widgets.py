"""The explorer without a browser: build it, set ``.value``, call ``update()``, assert the
derived state (the copy, the scenario, the estimate) and what the output widgets show."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

import designkit as dk
from designkit.errors import MissingDependencyError

pytest.importorskip("ipywidgets", reason="the notebook extra is not installed")

from designkit.widgets import CURVE_TAB, Explorer, explore

CHECKOUT = "checkout-api POST /v1/orders"
DASHBOARD = "dashboard-api GET /v1/dashboard"
CHARGE = "payments-svc POST /v1/charges"


def _p95(ex: Explorer, endpoint: str) -> float:
    return ex.estimate.endpoints[endpoint].p95_ms


def _shown(value: float) -> str:
    """How the summary writes a p95."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _percent(ratio: float) -> str:
    """How the architecture diagram writes a utilization."""
    return f"{ratio * 100:,.0f}%"


@pytest.fixture(scope="module")
def flash() -> dk.Design:
    return dk.template("flash-sale")


@pytest.fixture
def ex(flash: dk.Design) -> Explorer:
    return explore(flash)


# -- building and display ---------------------------------------------------------------


def test_import_does_not_load_ipywidgets() -> None:
    code = "import sys, designkit.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                           flash: dk.Design) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'designkit\[notebook\]'"):
        explore(flash)
    with pytest.raises(ImportError):  # also the builtin it resembles
        explore(flash)


def test_starts_as_designed(ex: Explorer, flash: dk.Design) -> None:
    plain = dk.estimate(flash)
    assert ex.scenario.describe() == "as designed"
    assert ex.estimate.scale == 1.0
    assert {k: e.p95_ms for k, e in ex.estimate.endpoints.items()} == \
        {k: e.p95_ms for k, e in plain.endpoints.items()}
    assert ex.changes() == []
    assert set(ex.replicas) == set(ex.workers) == {"checkout-api", "order-projector",
                                                   "order-query-api"}
    assert set(ex.pool_size) == set(ex.cores) == {"orders-db", "order-read-db"}
    assert set(ex.hit_ratio) == set(ex.cold) == {"stock-cache", "catalog-cache"}
    assert ex.replicas["checkout-api"].value == 20 and ex.workers["checkout-api"].value == 64
    assert ex.pool_size["orders-db"].value == 10 and ex.hit_ratio["catalog-cache"].value == 0.999
    assert ex.failing.disabled  # flash-sale calls no external API
    assert not ex.pending


def test_outputs_hold_the_numbers(ex: Explorer) -> None:
    assert _shown(_p95(ex, CHECKOUT)) in ex.summary.value
    assert ex.table.value == ex.estimate._repr_html_()
    assert "drawn when this tab is shown" in ex.curve.value  # the estimate's tab is shown
    ex.views.selected_index = CURVE_TAB
    assert "p95 vs load" in ex.curve.value and "explorer load (1×)" in ex.curve.value
    for svg in (ex.curve.value, ex.diagram.value):
        ET.fromstring(svg[svg.index("<svg"):svg.rindex("</svg>") + 6])  # parses as XML
    diagram = html.unescape(ex.diagram.value)  # Graphviz writes "-" as "&#45;"
    assert "order-projector" in diagram and "service · 8 × 4 workers" in diagram
    assert "saturates at 1.83× load" in diagram  # order-read-db
    assert "background bottleneck: lags from 1.73× load" in diagram  # order-events
    assert "Background (queues' handlers): order-events consumers lags from 1.73×" in (
        html.unescape(ex.summary.value))


def test_displays_as_the_widget_box_with_a_readable_repr(ex: Explorer) -> None:
    bundle = ex._repr_mimebundle_()
    assert bundle is not None
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert bundle["text/plain"] == repr(ex)
    text = repr(ex)
    assert text.startswith("Explorer('flash-sale' at 1× workload, as designed; p95: ")
    assert f"{CHECKOUT} {_shown(_p95(ex, CHECKOUT))} ms" in text
    assert "0x" not in text
    assert "designkit-explorer" in ex.widget._dom_classes


# -- what the controls do ---------------------------------------------------------------


def test_more_load_raises_p95_and_is_shown(ex: Explorer, flash: dk.Design) -> None:
    before = dict(ex.estimate.endpoints)
    ex.scale.value = 1.5
    assert ex.pending  # debounced: nothing recomputed yet
    assert ex.estimate.scale == 1.0
    result = ex.update()
    assert not ex.pending
    assert result is ex.estimate and result.scale == 1.5
    assert ex.scenario.scale == 1.5 and ex.scenario.describe() == "load ×1.5"
    for name, ep in result.endpoints.items():
        assert ep.rps == pytest.approx(before[name].rps * 1.5)
        assert ep.p95_ms >= before[name].p95_ms
    assert _p95(ex, CHECKOUT) > before[CHECKOUT].p95_ms
    assert _shown(_p95(ex, CHECKOUT)) in ex.summary.value
    assert "<b>1.5×</b> workload" in ex.summary.value
    assert "estimate of &#x27;flash-sale&#x27; at 1.5× workload" in ex.table.value
    assert "drawn when this tab is shown" in ex.curve.value
    ex.views.selected_index = CURVE_TAB  # drawn when shown
    assert "explorer load (1.5×)" in ex.curve.value
    ex.scale.value = 1.25
    ex.update()  # drawn at once while shown
    assert "explorer load (1.25×)" in ex.curve.value
    assert "at 1.25× workload" in ex.diagram.value
    assert dk.estimate(flash).scale == 1.0  # the user's design is untouched
    ex.views.selected_index = 0
    ex.scale.value = 1.0
    ex.update()
    assert _p95(ex, CHECKOUT) == before[CHECKOUT].p95_ms


def test_p95_never_falls_as_load_grows() -> None:
    ex = explore(dk.template("dashboard-slow"))
    seen = []
    for scale in (0.25, 0.5, 0.75, 1.0, 1.1):
        ex.scale.value = scale
        ex.update()
        seen.append(_p95(ex, DASHBOARD))
    assert seen == sorted(seen) and seen[-1] > seen[0]


def test_more_replicas_lower_utilization_on_a_copy(ex: Explorer, flash: dk.Design) -> None:
    original = dk.dump(flash)
    station = "order-projector workers"
    before = ex.estimate.station(station).utilization
    ex.replicas["order-projector"].value = 16
    ex.update()
    after = ex.estimate.station(station).utilization
    assert after == pytest.approx(before / 2, rel=0.05)
    assert ex.design.components["order-projector"].replicas == 16  # type: ignore[union-attr]
    assert flash.components["order-projector"].replicas == 8  # type: ignore[union-attr]
    assert dk.dump(flash) == original
    assert ex.design is not flash
    assert ex.changes() == ["order-projector replicas 8→16"]
    assert "order-projector replicas 8→16" in ex.summary.value
    diagram = html.unescape(ex.diagram.value)
    assert "service · 16 × 4 workers" in diagram
    assert _percent(ex.estimate.components["order-projector"].utilization) in diagram
    assert ex.estimate.bottleneck_station != station  # no longer the first to saturate


def test_more_workers_and_cores_lower_utilization() -> None:
    slow = dk.template("dashboard-slow")
    ex = explore(slow)
    cpu = ex.estimate.station("app-db cpu").utilization
    workers = ex.estimate.station("dashboard-api workers").utilization
    ex.cores["app-db"].value = 128
    ex.workers["dashboard-api"].value = 80
    ex.update()
    assert ex.estimate.station("app-db cpu").utilization == pytest.approx(cpu / 2, rel=0.02)
    assert ex.estimate.station("dashboard-api workers").utilization < workers
    assert ex.estimate.max_scale > 2
    assert slow.components["app-db"].cores == 64  # type: ignore[union-attr]
    assert sorted(ex.changes()) == ["app-db cores 64→128", "dashboard-api workers 40→80"]


def test_smaller_pool_is_busier(ex: Explorer) -> None:
    station = "orders-db pool checkout-api"
    before = ex.estimate.station(station)
    ex.pool_size["orders-db"].value = 2
    ex.update()
    after = ex.estimate.station(station)
    assert after.servers == before.servers // 5
    assert after.utilization > before.utilization
    assert ex.design.components["orders-db"].pool_size == 2  # type: ignore[union-attr]


def test_cold_cache_loads_the_database(ex: Explorer, flash: dk.Design) -> None:
    before = ex.estimate.station("orders-db cpu").arrival_rps
    ex.cold["catalog-cache"].value = True
    ex.update()
    after = ex.estimate.station("orders-db cpu").arrival_rps
    assert after == pytest.approx(before + 10_000 * 0.999, rel=0.01)  # every read misses
    assert ex.scenario.cold_caches == ("catalog-cache",)
    assert "catalog-cache cold" in ex.summary.value
    assert ex.changes() == []  # a scenario, not a sizing change
    assert flash.components["catalog-cache"].hit_ratio == 0.999  # type: ignore[union-attr]


def test_cold_cache_on_the_fixed_dashboard() -> None:
    ex = explore(dk.template("dashboard-fixed"))
    warm = ex.estimate
    ex.cold["dashboard-cache"].value = True
    ex.update()
    cold = ex.estimate
    assert cold.station("app-db cpu").arrival_rps > warm.station("app-db cpu").arrival_rps
    assert cold.station("app-db cpu").utilization > warm.station("app-db cpu").utilization
    assert cold.endpoints[DASHBOARD].p95_ms > warm.endpoints[DASHBOARD].p95_ms


def test_hit_ratio_slider_overrides_the_steps(ex: Explorer, flash: dk.Design) -> None:
    before = ex.estimate.station("orders-db cpu").arrival_rps
    ex.hit_ratio["catalog-cache"].value = 0.5
    ex.update()
    assert ex.estimate.station("orders-db cpu").arrival_rps == pytest.approx(
        before + 10_000 * (0.999 - 0.5), rel=0.01)
    step = ex.design.endpoint(CHECKOUT).steps[2]
    assert step.hit_ratio == 0.5  # type: ignore[union-attr]
    assert flash.endpoint(CHECKOUT).steps[2].hit_ratio == 0.999  # type: ignore[union-attr]
    assert ex.changes() == ["catalog-cache hit_ratio 0.999→0.5"]


def test_slow_dependency_scales_latency() -> None:
    ex = explore(dk.template("dashboard-slow"))
    before = _p95(ex, DASHBOARD)
    ex.slow.value = "app-db"
    ex.slow_factor.value = 1.1
    ex.update()
    assert ex.scenario.describe() == "app-db 1.1× slower"
    assert _p95(ex, DASHBOARD) > before * 1.1
    assert "app-db 1.1× slower" in ex.summary.value
    ex.slow_factor.value = 1.0  # 1× is no scenario at all
    ex.update()
    assert ex.scenario.describe() == "as designed"
    assert _p95(ex, DASHBOARD) == pytest.approx(before)


def test_failing_provider_retries_then_opens_the_breaker() -> None:
    design = dk.template("payments-saga")
    own_rate = design.components["payment-provider"].failure_rate  # type: ignore[union-attr]
    ex = explore(design)
    assert not ex.failing.disabled
    assert ex.failing.options == (("none", ""), ("payment-provider", "payment-provider"))
    healthy = ex.estimate.components["payment-provider"].arrival_rps
    healthy_p95 = _p95(ex, CHARGE)

    ex.failing.value = "payment-provider"
    ex.failure_rate.value = 0.2
    ex.update()
    assert ex.scenario.describe() == "payment-provider failing 20%"
    retried = ex.estimate.components["payment-provider"].arrival_rps
    assert retried > healthy * 1.2  # more attempts per call reach the provider
    assert _p95(ex, CHARGE) > healthy_p95  # and each charge waits for them
    assert "payment-provider: " in ex.summary.value and "attempts/s" in ex.summary.value
    assert "up to 3 attempts a call" in ex.summary.value

    ex.failure_rate.value = 0.6  # past the breaker's threshold: calls fail fast
    ex.update()
    assert ex.estimate.components["payment-provider"].arrival_rps == 0
    assert _p95(ex, CHARGE) < healthy_p95
    assert "circuit breaker open" in ex.summary.value
    assert design.components["payment-provider"].failure_rate == own_rate  # type: ignore[union-attr]


# -- debouncing, errors, graceful degradation -------------------------------------------


def test_changes_are_debounced(flash: dk.Design) -> None:
    ex = explore(flash, delay=0.2)
    ex.scale.value = 1.2
    ex.scale.value = 1.4  # the first change is superseded
    assert ex.pending and ex.estimate.scale == 1.0
    assert "updating…" in ex.summary.value
    deadline = time.monotonic() + 30
    while ex.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    while "updating…" in ex.summary.value and time.monotonic() < deadline:
        time.sleep(0.05)  # the update itself takes a moment once it has started
    assert ex.estimate.scale == 1.4
    assert "up to date" in ex.summary.value


def test_update_now_drops_the_pending_one(ex: Explorer) -> None:
    ex.scale.value = 1.3
    assert ex.pending
    ex.update()
    assert not ex.pending and ex.estimate.scale == 1.3
    ex.close()


def test_zero_delay_updates_on_every_change(flash: dk.Design) -> None:
    ex = explore(flash, delay=0)
    ex.workers["checkout-api"].value = 32
    assert not ex.pending
    assert ex.design.components["checkout-api"].workers == 32  # type: ignore[union-attr]


def test_an_invalid_scenario_keeps_the_last_numbers(flash: dk.Design) -> None:
    ex = explore(flash)
    good = ex.estimate
    ex.slow.value = "orders-db"
    ex.slow_factor.min = 0.0
    ex.slow_factor.value = 0.0
    with pytest.raises(dk.DesignError, match="factor must be a finite number > 0"):
        ex.update()
    assert ex.estimate is good
    assert "factor must be a finite number &gt; 0" in ex.summary.value
    assert "data-status='error'" in ex.summary.value
    ex.slow_factor.value = 2.0
    ex.update()
    assert ex.error is None and "orders-db 2× slower" in ex.estimate.scenario


def test_diagram_is_skipped_without_dot(monkeypatch: pytest.MonkeyPatch,
                                        flash: dk.Design) -> None:
    from designkit.render import graphviz_views

    def no_dot(_graph: object) -> str:
        raise MissingDependencyError("Graphviz's `dot` program is not installed: apt install graphviz")

    monkeypatch.setattr(graphviz_views, "to_svg", no_dot)
    ex = explore(flash)
    assert "architecture diagram skipped" in ex.diagram.value
    assert "apt install graphviz" in ex.diagram.value
    assert _shown(_p95(ex, CHECKOUT)) in ex.summary.value  # the rest still works


def test_the_summary_shows_each_endpoints_error_ratio_beside_its_p95() -> None:
    from designkit.widgets import Explorer

    ex = Explorer(dk.template("payments-saga"))
    ex.scenario = dk.Scenario(failing={"payment-provider": 0.3})
    html_text = ex._summary_html()
    assert "<th>errors</th>" in html_text
    charges = ex.estimate.endpoints["payments-svc POST /v1/charges"].error_ratio
    assert f"<span class='dk-errors'>{charges:.2%}</span>" in html_text


def test_the_summary_shows_each_endpoint_slo(flash: dk.Design) -> None:
    d = flash.model_copy(deep=True)
    d.policy.slo = dk.Slo(p95_ms=5.0)  # the checkout's p95 is 7.4 ms
    ex = explore(d)
    summary = html.unescape(ex.summary.value)
    cells = re.findall(r"<td>([^<]+)</td>.*?<span class='dk-slo'>([^<]*)</span>", summary)
    slo = dict(cells)
    assert slo["checkout-api POST /v1/orders"] == "missed: p95"
    assert slo["order-query-api GET /v1/orders/{id}"] == "met"
    assert slo["order-projector POST /v1/order-events"] == ""  # a handler: no latency SLO



def test_a_move_writes_its_numbers_into_the_drawn_diagram(monkeypatch: pytest.MonkeyPatch,
                                                          flash: dk.Design) -> None:
    """A load or sizing move changes the diagram's numbers and fills, not its layout:
    Graphviz is not run again, and what the diagram shows is what a new drawing shows."""
    from designkit.render import graphviz_views

    ex = explore(flash, delay=0)
    layout = re.findall(r'(?<![\w-])points="([^"]*)"', ex.diagram.value)

    def no_layout(_graph: object) -> str:
        raise AssertionError("laid out again")

    monkeypatch.setattr(graphviz_views, "to_svg", no_layout)
    ex.scale.value = 1.25
    ex.replicas["order-projector"].value = 9
    monkeypatch.undo()
    assert re.findall(r'(?<![\w-])points="([^"]*)"', ex.diagram.value) == layout
    effective = ex.scenario.apply(ex.design)
    fresh = graphviz_views.to_svg(graphviz_views.architecture(effective, ex.estimate))
    shown = ET.fromstring(ex.diagram.value[ex.diagram.value.index("<svg"):
                                           ex.diagram.value.rindex("</svg>") + 6])
    words = "".join(e.text or "" for e in shown.iter() if e.tag.endswith(("text", "tspan")))
    drawn = "".join(e.text or "" for e in ET.fromstring(fresh).iter()
                    if e.tag.endswith(("text", "tspan")))
    assert re.sub(r"\s+", " ", words) == re.sub(r"\s+", " ", drawn)
    assert "at 1.25× workload" in words and "service · 9 × 4 workers" in words


def test_a_load_move_keeps_the_resized_copy(flash: dk.Design) -> None:
    ex = explore(flash, delay=0)
    ex.replicas["checkout-api"].value = 10
    resized = ex.design
    ex.scale.value = 1.4
    assert ex.design is resized and ex.estimate.scale == 1.4
    ex.replicas["checkout-api"].value = 12
    assert ex.design is not resized
    assert ex.design.components["checkout-api"].replicas == 12  # type: ignore[union-attr]
    assert flash.components["checkout-api"].replicas == 20  # type: ignore[union-attr]


def test_sizing_moves_resize_a_copy_taken_when_built(flash: dk.Design) -> None:
    """The explorer resizes a copy of the design as it was when built (later edits of
    the design need a new explorer); each resized copy is recorded as checked, and a full
    check of it finds nothing indeed."""
    from designkit.model.design import passed_digest
    from designkit.model.digest import content_digest
    from designkit.model.io import check_data

    design = flash.model_copy(deep=True)
    ex = explore(design, delay=0)
    design.components["checkout-api"].workers = 1  # type: ignore[union-attr]
    ex.replicas["checkout-api"].value = 12
    resized = ex.design.components["checkout-api"]
    assert resized.replicas == 12 and resized.workers == 64  # type: ignore[union-attr]
    assert ex.changes() == ["checkout-api replicas 20→12"]
    assert passed_digest(ex.design) == content_digest(ex.design)[0]
    assert check_data(ex.design.model_dump(mode="json", round_trip=True))[1] == []


def test_a_failed_update_leaves_no_stale_copy_behind(flash: dk.Design) -> None:
    """A sizing move estimated together with a bad scenario fails; fixing the scenario
    alone must estimate the sizes the sliders show, not the last copy that worked."""
    ex = explore(flash, delay=60)
    ex.workers["checkout-api"].value = 2
    ex.slow.value = "orders-db"
    ex.slow_factor.min = 0.0
    ex.slow_factor.value = 0.0
    with pytest.raises(dk.DesignError):
        ex.update()
    ex.slow_factor.value = 2.0
    ex.update()
    assert ex.design.components["checkout-api"].workers == 2  # type: ignore[union-attr]
    ex.design.components["checkout-api"].replicas = 1  # type: ignore[union-attr]
    ex.scale.value = 1.1  # an edit of the explorer's copy is not kept: made again
    ex.update()
    assert ex.design.components["checkout-api"].replicas == 20  # type: ignore[union-attr]
    ex.close()


def test_in_a_running_loop_the_curve_follows_the_numbers(flash: dk.Design) -> None:
    """In a kernel (a running event loop), a move sets the numbers and the diagram at
    once and draws the shown curve when the loop is next free — so they reach the browser
    first."""
    import asyncio

    ex = explore(flash, delay=0)
    ex.views.selected_index = CURVE_TAB
    assert "explorer load (1×)" in ex.curve.value

    async def move() -> None:
        ex.scale.value = 1.2
        assert "at 1.2× workload" in ex.diagram.value
        assert "explorer load (1.2×)" not in ex.curve.value  # not yet
        await asyncio.sleep(0)
        assert "explorer load (1.2×)" in ex.curve.value

    asyncio.run(move())
    ex.close()
