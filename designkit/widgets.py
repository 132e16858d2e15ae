"""``dk.explore``: what-if sliders on a design, live in a notebook (ipywidgets).

The explorer never edits the design it is given: every change re-estimates a *copy*
(:attr:`Explorer.design`) under a :class:`~designkit.estimate.scenarios.Scenario`
(:attr:`Explorer.scenario`), and redraws the estimate table and the architecture coloured
by utilization — the last drawing with new numbers and colours when only those changed,
laid out again otherwise (:mod:`designkit.render.relabel`) — and the p95-vs-load curve
when its tab is shown (it costs most of an update: docs/decisions.md, decision 66). Slider
moves are debounced (``delay`` seconds after the last one); :meth:`Explorer.update` applies
them at once, which is what tests call.

ipywidgets and IPython are imported only when an explorer is built, so ``import designkit``
stays light; without them :class:`~designkit.errors.MissingDependencyError` says how to get
them.
"""

from __future__ import annotations

import contextlib
import html
import math
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from designkit.errors import DesignkitError, MissingDependencyError

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.estimate.scenarios import Scenario
    from designkit.estimate.slo import SloCheck
    from designkit.model.design import Design

__all__ = ["Explorer", "explore"]

_INSTALL = ("the explorer needs ipywidgets (the notebook extra): "
            "pip install 'designkit[notebook]'")
_WIDE = {"description_width": "70px"}
_CSS = ("<style>.designkit-explorer svg{max-width:100%;height:auto}"
        ".designkit-explorer-summary td{padding:0 .6em}</style>")


CURVE_TAB = 1
"""The p95-vs-load curve's tab: drawn when it is shown (a curve composes the slowest
endpoints at a dozen loads — most of what an update costs), the numbers and the diagram on
every update."""
_CURVE_LATER = ("<p class='designkit-note'>The p95-vs-load curve is drawn when this tab is "
                "shown.</p>")


def _widgets() -> Any:
    try:
        import IPython  # noqa: F401  # the widgets display through it
        import ipywidgets
    except ImportError as err:
        raise MissingDependencyError(_INSTALL) from err
    return ipywidgets


def _ms(value: float) -> str:
    if not math.isfinite(value):
        return "∞"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _slo_cell(check: SloCheck | None) -> str:
    """An endpoint's SLO in the summary: ``met``, what it misses, or nothing (none)."""
    if check is None:
        return ""
    if check.met:
        return "met"
    missed = [part for part, ok in (("p95", check.p95_met), ("p99", check.p99_met),
                                    ("availability", check.availability_met)) if ok is False]
    budget = check.error_budget_used
    spent = (f", {budget:.0%} of the error budget" if budget is not None
             and math.isfinite(budget) and budget > 1 else "")
    return f"missed: {', '.join(missed)}{spent}"


def _inline(svg: str) -> str:
    """SVG text without the XML declaration and DOCTYPE, to sit inside HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def explore(design: Design, delay: float = 0.3) -> Explorer:
    """Sliders and scenario toggles on a copy of ``design``, with live numbers and views.

    Args:
        design: The design to explore (never modified; the explorer works on a copy made
            now, so later changes to ``design`` need a new explorer).
        delay: Seconds to wait after the last change before re-estimating (debounce);
            ``0`` re-estimates on every change.

    Returns:
        The :class:`Explorer`; as the last expression of a cell it displays itself.

    Raises:
        MissingDependencyError: ipywidgets is not installed.
        DesignError: The design is invalid.

    Example:
        >>> import designkit as dk
        >>> from designkit.widgets import explore
        >>> ex = explore(dk.template("dashboard-slow"), delay=0)
        >>> ex.scale.value = 0.5
        >>> ex.estimate.scale, ex.estimate.bottleneck_station
        (0.5, 'app-db cpu')
    """
    return Explorer(design, delay=delay)


class Explorer:
    """The what-if explorer of one design (build it with :func:`explore`).

    Controls (set their ``.value``): :attr:`scale` (load factor); per service
    :attr:`replicas` and :attr:`workers`; per database :attr:`pool_size` and :attr:`cores`;
    per cache :attr:`hit_ratio` and :attr:`cold` (the cold-cache scenario); :attr:`slow`
    (a component, or ``""``) with :attr:`slow_factor`; :attr:`failing` (an external API, or
    ``""``) with :attr:`failure_rate`.

    A hit-ratio slider moved away from the cache's own ratio sets it on the cache *and* on
    every step reading that cache (steps may state their own ratio).

    Derived state, refreshed by :meth:`update`: :attr:`design` (the modified copy: an
    edit of it is not kept — the next update makes it again from the controls),
    :attr:`scenario`, :attr:`estimate`; outputs (ipywidgets ``HTML``): :attr:`summary`
    (p95 per endpoint, bottleneck, what changed), :attr:`table` (the estimate),
    :attr:`curve` (p95 vs load, SVG, drawn when its tab of :attr:`views` is selected) and
    :attr:`diagram` (the architecture, SVG — or a note when Graphviz's ``dot`` is missing).
    :attr:`widget` is the whole box.

    Example:
        >>> import designkit as dk
        >>> from designkit.widgets import explore
        >>> d = dk.template("flash-sale")
        >>> ex = explore(d)
        >>> ex.replicas["order-projector"].value = 16
        >>> ex.update().bottleneck_station != "order-projector workers"
        True
        >>> [x.components["order-projector"].replicas for x in (d, ex.design)]
        [8, 16]
    """

    def __init__(self, design: Design, delay: float = 0.3) -> None:
        w = _widgets()
        design.validate()
        self.original = design
        self._pristine = design.model_copy(deep=True)  # what the sliders resize
        self.delay = delay
        self.design: Design = design
        self.scenario: Scenario
        self.estimate: Estimate
        self.error: str | None = None
        self._lock = threading.RLock()
        self._pending: Any = None
        # the copy last estimated, its sizing and content digest (reused while both hold),
        # and the one being made (it becomes the last once its estimate succeeds)
        self._made: tuple[Design, tuple[tuple[str, str, float], ...], bytes | None] | None = None
        self._making: tuple[Design, tuple[tuple[str, str, float], ...], bytes | None] | None = None

        from designkit.estimate.api import estimate

        base = estimate(design)
        top = base.max_scale if math.isfinite(base.max_scale) else 2.0
        self.scale = w.FloatSlider(value=1.0, min=0.05, max=round(max(3.0, 1.5 * top), 1),
                                   step=0.05, description="load ×", readout_format=".2f",
                                   continuous_update=True, style=_WIDE,
                                   layout=w.Layout(width="420px"))
        self.scale.add_class("designkit-load-scale")
        self.replicas: dict[str, Any] = {}
        self.workers: dict[str, Any] = {}
        self.pool_size: dict[str, Any] = {}
        self.cores: dict[str, Any] = {}
        self.hit_ratio: dict[str, Any] = {}
        self.cold: dict[str, Any] = {}
        rows: dict[str, list[Any]] = {"service": [], "database": [], "cache": []}
        for name, c in design.components.items():
            if c.kind == "service":
                self.replicas[name] = self._int(w, "replicas", c.replicas)
                self.workers[name] = self._int(w, "workers", c.workers)
                rows["service"].append(self._row(w, name, self.replicas[name],
                                                 self.workers[name]))
            elif c.kind == "database":
                from designkit.model.database import DEFAULT_POOL_SIZE

                self.pool_size[name] = self._int(w, "pool", c.pool_size or DEFAULT_POOL_SIZE)
                self.cores[name] = self._int(w, "cores", c.cores)
                rows["database"].append(self._row(w, name, self.pool_size[name],
                                                  self.cores[name]))
            elif c.kind == "cache":
                self.hit_ratio[name] = w.FloatSlider(
                    value=c.hit_ratio, min=0.0, max=1.0, step=0.001, description="hit ratio",
                    readout_format=".3f", style=_WIDE, layout=w.Layout(width="340px"))
                self.cold[name] = w.Checkbox(value=False, description="cold (flushed)",
                                             indent=False, layout=w.Layout(width="140px"))
                rows["cache"].append(self._row(w, name, self.hit_ratio[name], self.cold[name]))
        others = [n for n, c in design.components.items() if c.kind != "service"]
        externals = [n for n, c in design.components.items() if c.kind == "external"]
        self._externals = externals
        self.slow = w.Dropdown(options=[("none", ""), *((n, n) for n in others)], value="",
                               description="slow", style=_WIDE, layout=w.Layout(width="340px"))
        self.slow_factor = w.FloatSlider(value=3.0, min=1.0, max=10.0, step=0.5,
                                         description="× slower", style=_WIDE,
                                         layout=w.Layout(width="340px"))
        self.failing = w.Dropdown(options=[("none", ""), *((n, n) for n in externals)],
                                  value="", description="failing", style=_WIDE,
                                  disabled=not externals, layout=w.Layout(width="340px"))
        self.failure_rate = w.FloatSlider(value=0.2, min=0.0, max=1.0, step=0.01,
                                          description="failure", readout_format=".0%",
                                          style=_WIDE, layout=w.Layout(width="340px"))

        self.summary = w.HTML()
        self.summary.add_class("designkit-explorer-summary")
        self.table, self.curve, self.diagram = w.HTML(), w.HTML(), w.HTML()
        self.views = w.Tab(children=[self.table, self.curve, self.diagram],
                           titles=("Estimate", "p95 vs load", "Architecture"))
        self._drawn: tuple[str, str] | None = None  # the diagram's DOT and its drawing
        self._curve: tuple[Design, float, Estimate] | None = None  # to draw when shown
        self.widget = self._layout(w, rows)
        for control in self._controls():
            control.observe(self._changed, names="value")
        self.views.observe(self._shown, names="selected_index")
        self.update()

    # -- building ------------------------------------------------------------------------

    @staticmethod
    def _int(w: Any, label: str, value: int) -> Any:
        return w.IntSlider(value=value, min=1, max=max(4 * value, 16), description=label,
                           style=_WIDE, layout=w.Layout(width="340px"))

    @staticmethod
    def _row(w: Any, name: str, *controls: Any) -> Any:
        label = w.HTML(f"<b>{html.escape(name)}</b>", layout=w.Layout(width="180px"))
        return w.HBox([label, *controls])

    def _layout(self, w: Any, rows: dict[str, list[Any]]) -> Any:
        scenario = w.VBox([self.scale, w.HBox([self.slow, self.slow_factor]),
                           w.HBox([self.failing, self.failure_rate])])
        sections = [("Load and scenario", scenario)]
        for kind, title in (("service", "Services: replicas × workers"),
                            ("database", "Databases: pool per client replica, cores"),
                            ("cache", "Caches: hit ratio, cold")):
            if rows[kind]:
                sections.append((title, w.VBox(rows[kind])))
        controls = w.Accordion(children=[s for _, s in sections],
                               titles=tuple(t for t, _ in sections), selected_index=0)
        box = w.VBox([w.HTML(_CSS), controls, self.summary, self.views])
        box.add_class("designkit-explorer")
        return box

    def _controls(self) -> list[Any]:
        return [self.scale, *self.replicas.values(), *self.workers.values(),
                *self.pool_size.values(), *self.cores.values(), *self.hit_ratio.values(),
                *self.cold.values(), self.slow, self.slow_factor, self.failing,
                self.failure_rate]

    # -- state ---------------------------------------------------------------------------

    def changes(self) -> list[str]:
        """What differs from the design, e.g. ``['checkout-api replicas 20→10']``."""
        out = []
        for name, c in self._pristine.components.items():
            for attr, sliders in (("replicas", self.replicas), ("workers", self.workers),
                                  ("pool_size", self.pool_size), ("cores", self.cores),
                                  ("hit_ratio", self.hit_ratio)):
                if name in sliders:
                    was = getattr(c, attr)
                    now = sliders[name].value
                    if attr == "pool_size" and was is None:
                        from designkit.model.database import DEFAULT_POOL_SIZE

                        was = DEFAULT_POOL_SIZE
                    if not math.isclose(now, was):
                        out.append(f"{name} {attr} {was:g}→{now:g}")
        return out

    def _build(self) -> tuple[Design, Scenario]:
        """The design under the controls (a copy: the last one estimated, while only the
        scenario's controls moved and nobody edited it) and the scenario."""
        from designkit.estimate.scenarios import Scenario
        from designkit.model.design import passed_digest
        from designkit.model.digest import content_digest

        sizing = self._sizing()
        made = self._made
        if made is not None and made[0] is self.design and made[1] == sizing and \
                content_digest(made[0])[0] == made[2]:
            copy = self.design  # only the scenario moved, and the copy is as made: the
        else:  # same copy (validated, compiled and kept: docs/decisions.md, decision 66)
            copy = self._resized()
            self._making = (copy, sizing, passed_digest(copy))
        scenario = Scenario(
            scale=float(self.scale.value),
            cold_caches=tuple(n for n, box in self.cold.items() if box.value),
            slow=({self.slow.value: float(self.slow_factor.value)}
                  if self.slow.value and self.slow_factor.value != 1 else {}),
            failing=({self.failing.value: float(self.failure_rate.value)}
                     if self.failing.value else {}))
        return copy, scenario

    def _sizing(self) -> tuple[tuple[str, str, float], ...]:
        """The sizing controls' values (what :meth:`_resized` writes into the copy)."""
        return tuple((name, attr, float(slider.value))
                     for attr, sliders in (("replicas", self.replicas),
                                           ("workers", self.workers),
                                           ("pool_size", self.pool_size),
                                           ("cores", self.cores),
                                           ("hit_ratio", self.hit_ratio))
                     for name, slider in sliders.items())

    def _resized(self) -> Design:
        """A copy of the design (as it was when the explorer was built, and checked then)
        with the sizing controls' values.

        The copy is recorded as checked: every value is set through pydantic's checked
        assignment (a count ≥ 1, a ratio in [0, 1]) and no check of a whole design reads
        these numbers (references, loops and names do not change), so checking the copy
        in full again could find nothing; compiling it still builds and checks its flow.
        """
        import pickle

        from designkit.flow.build import design_steps
        from designkit.model.components import Cache
        from designkit.model.steps import CacheStep

        copy: Design = pickle.loads(pickle.dumps(self._pristine, protocol=5))  # a deep
        for name, component in copy.components.items():  # copy, at half deepcopy's cost
            for attr, sliders in (("replicas", self.replicas), ("workers", self.workers),
                                  ("pool_size", self.pool_size), ("cores", self.cores)):
                if name in sliders and sliders[name].value != getattr(component, attr):
                    setattr(component, attr, int(sliders[name].value))
            if (isinstance(component, Cache) and name in self.hit_ratio
                    and not math.isclose(self.hit_ratio[name].value, component.hit_ratio)):
                ratio = float(self.hit_ratio[name].value)
                component.hit_ratio = ratio
                for _, _, step in design_steps(copy):
                    if isinstance(step, CacheStep) and step.cache == name:
                        step.hit_ratio = ratio
        copy._passed()
        return copy

    def update(self) -> Estimate:
        """Re-estimate now (a pending debounced update is dropped) and redraw the outputs.

        Returns:
            The new :attr:`estimate`.

        Raises:
            DesignError: The controls make the design invalid (also shown in the summary;
                the previous numbers stay).
        """
        self._cancel()
        from designkit.estimate.api import estimate
        from designkit.gcpause import gc_paused

        with self._lock, gc_paused():  # a copy of the design: many objects, none cyclic garbage
            try:
                design, scenario = self._build()
                result = estimate(design, scenario=scenario)
            except DesignkitError as err:
                self.error = str(err)
                self.summary.value = self._summary_html()
                raise
            self.design, self.scenario, self.estimate, self.error = (design, scenario,
                                                                      result, None)
            if self._making is not None and self._making[0] is design:
                self._made, self._making = self._making, None
            self.summary.value = self._summary_html()
            self.table.value = result._repr_html_()
            effective = replace(scenario, scale=1.0).apply(design)
            self.diagram.value = self._diagram_html(effective, result)
            self._curve = (effective, float(scenario.scale), result)
            if self.views.selected_index != CURVE_TAB:
                self.curve.value = _CURVE_LATER
            elif not self._later(self._draw_curve):
                self._draw_curve()
            return result

    @staticmethod
    def _later(task: Any) -> bool:
        """Run ``task`` once the kernel's event loop is free (the numbers and the diagram
        just set reach the browser first); ``False`` outside a running loop (plain Python,
        tests: the caller runs it now)."""
        import asyncio

        try:
            asyncio.get_running_loop().call_soon(task)
        except RuntimeError:
            return False
        return True

    def _shown(self, _change: Any = None) -> None:
        """A tab was selected: the curve is drawn if it is the curve's and it is not yet."""
        if self.views.selected_index == CURVE_TAB:
            self._draw_curve()

    def _draw_curve(self) -> None:
        with self._lock:
            if self._curve is not None:
                self.curve.value = self._curve_html(*self._curve)
                self._curve = None

    # -- debouncing ----------------------------------------------------------------------

    def _changed(self, _change: Any = None) -> None:
        if self.delay <= 0:
            self._safe_update()
            return
        import asyncio  # here, not at import: loading asyncio costs every designkit import

        with self._lock:
            self._cancel()
            try:  # inside a kernel: its event loop runs the update, on its own thread
                self._pending = asyncio.get_running_loop().call_later(self.delay,
                                                                      self._safe_update)
            except RuntimeError:  # plain Python: a timer thread
                timer = threading.Timer(self.delay, self._safe_update)
                timer.daemon = True
                self._pending = timer
                timer.start()
            self.summary.value = self._summary_html(updating=True)

    def _safe_update(self) -> None:
        with contextlib.suppress(DesignkitError):  # shown in the summary
            self.update()

    def _cancel(self) -> None:
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None

    @property
    def pending(self) -> bool:
        """A debounced update is waiting to run."""
        return self._pending is not None

    def close(self) -> None:
        """Drop any pending update and close the widgets."""
        self._cancel()
        stack = [self.widget]
        while stack:
            widget = stack.pop()
            stack.extend(getattr(widget, "children", ()))
            widget.close()

    # -- outputs -------------------------------------------------------------------------

    def _summary_html(self, updating: bool = False) -> str:
        esc = html.escape
        e = self.estimate
        status = ("updating…" if updating else
                  f"<span style='color:#b00020'>{esc(self.error)}</span>" if self.error
                  else "up to date")
        slos = e.slos
        rows = "".join(
            f"<tr><td>{esc(name)}</td><td style='text-align:right'><span class='dk-p95' "
            f"data-endpoint='{esc(name, quote=True)}'>{_ms(ep.p95_ms)}</span> ms</td>"
            f"<td style='text-align:right'><span class='dk-errors'>"
            f"{f'{ep.error_ratio:.2%}' if ep.error_ratio > 0 else '–'}</span></td>"
            f"<td><span class='dk-slo'>{_slo_cell(slos.get(name))}</span></td>"
            f"<td>{'SATURATED' if ep.saturated else ''}</td></tr>"
            for name, ep in e.endpoints.items())
        cap = "∞" if math.isinf(e.max_scale) else f"{e.max_scale:.3g}×"
        changes = ", ".join(self.changes()) or "none"
        return (f"<div class='designkit-explorer-summary'><p><b>{esc(e.design)}</b> at "
                f"<b>{e.scale:g}×</b> workload ({esc(e.scenario)}); sizing changes: "
                f"{esc(changes)}. Bottleneck: {esc(str(e.bottleneck_station))}, saturates at "
                f"{cap} this load.{self._background_html()}{self._externals_html()}</p>"
                f"<table><tr><th>endpoint</th><th>p95</th><th>errors</th><th>SLO</th>"
                f"<th></th></tr>"
                f"{rows}</table>"
                f"<p class='dk-status' data-status="
                f"'{'updating' if updating else 'error' if self.error else 'ready'}'>"
                f"{status}</p></div>")

    def _background_html(self) -> str:
        back = self.estimate.background
        if back is None or back.station is None:
            return ""
        cap = "∞" if math.isinf(back.max_scale) else f"{back.max_scale:.3g}×"
        return f" Background (queues' handlers): {html.escape(back.station)} lags from {cap}."

    def _externals_html(self) -> str:
        parts = []
        for name in self._externals:  # only theirs made (a component's estimate is lazy)
            component = self.estimate.components.get(name)
            if component is None:
                continue
            storms = [r for r in self.estimate.retry_storms if r.target == name]
            note = f"{name}: {component.arrival_rps:,.1f} attempts/s"
            if component.arrival_rps == 0 and name == self.failing.value:
                note += " (circuit breaker open: calls fail fast)"
            elif storms:
                note += f", up to {max(r.max_attempts for r in storms)} attempts a call"
            parts.append(note)
        return (" " + html.escape("; ".join(parts)) + ".") if parts else ""

    CURVE_ENDPOINTS = 8
    """Endpoints the p95-vs-load curve draws: the slowest at the explorer's load (a line per
    endpoint of a large design is unreadable, and each costs a composition per load)."""
    CURVE_POINTS = 12
    """Loads of the curve below its knee (the knee's five closer ones are added)."""

    @classmethod
    def _curve_html(cls, design: Design, scale: float, result: Estimate | None = None) -> str:
        from designkit.render import plots

        shown = None
        if result is not None and len(result.endpoints) > cls.CURVE_ENDPOINTS:
            p95 = {k: e.p95_ms for k, e in result.endpoints.items()}
            shown = sorted(p95, key=lambda k: -p95[k])[:cls.CURVE_ENDPOINTS]
        fig = plots.load_curve(design, endpoints=shown, points=cls.CURVE_POINTS)
        ax = fig.axes[0]
        ax.axvline(scale, color="#1f77b4", linewidth=1.6, gid="explorer_scale",
                   label=f"explorer load ({scale:g}×)")
        left, right = ax.get_xlim()
        ax.set_xlim(left, max(right, scale * 1.04))
        for legend in list(fig.legends):
            legend.remove()
        fig.legend(handles=ax.get_legend_handles_labels()[0], loc="outside right upper",
                   fontsize=plots.FONT - 1, frameon=False)
        return f"<div class='designkit-curve'>{_inline(plots.to_svg(fig))}</div>"

    def _diagram_html(self, design: Design, result: Estimate) -> str:
        """The architecture under ``result``: the last drawing with new numbers and
        colours when only those changed (:func:`~designkit.render.relabel.relabelled`),
        laid out by Graphviz again otherwise."""
        from designkit.render import graphviz_views
        from designkit.render.relabel import relabelled, roomy

        graph = graphviz_views.architecture(design, result, flow=result._flow)
        source = graph.source
        svg = relabelled(*self._drawn, source) if self._drawn is not None else None
        if svg is None:  # laid out with room after each number, then filled
            try:
                spaced = roomy(source)
                svg = relabelled(spaced, graphviz_views.to_svg(graphviz_views.dot(spaced)),
                                 source)
                if svg is None:
                    svg = graphviz_views.to_svg(graph)
            except MissingDependencyError as err:
                return (f"<p class='designkit-note'>architecture diagram skipped: "
                        f"{html.escape(str(err))}</p>")
        self._drawn = (source, svg)
        return f"<div class='designkit-diagram'>{_inline(svg)}</div>"

    # -- display -------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        e = self.estimate
        p95 = ", ".join(f"{n} {_ms(ep.p95_ms)} ms" for n, ep in e.endpoints.items())
        changes = "; ".join(self.changes())
        return (f"Explorer({e.design!r} at {e.scale:g}× workload, {e.scenario}"
                f"{'; ' + changes if changes else ''}; p95: {p95}; "
                f"bottleneck {e.bottleneck_station!r})")
