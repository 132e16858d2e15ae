"""An estimate as text and as HTML: the tables ``str(estimate)`` prints, the command line
shows and a notebook displays, and the number formats they share with the report."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from designkit.estimate.lazy_table import _filled

if TYPE_CHECKING:
    from designkit.estimate.result import EndpointEstimate, Estimate, StationEstimate
    from designkit.estimate.slo import SloCheck

__all__ = ["error_share", "estimate_html", "estimate_text", "success_p95"]

HUGE = 1e15
"""Beyond this a number is written with an exponent (``1e+306``), not 306 digits."""


def _num(value: float) -> str:
    """A rate or a count for a table: ``10,000``, ``85.5``, ``0.25``."""
    if math.isinf(value):
        return "∞"
    if value >= HUGE:
        return f"{value:.3g}"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _ms(value: float) -> str:
    if math.isinf(value):
        return "∞"
    if value >= HUGE:
        return f"{value:.3g}"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1 else f"{value:.3f}"


def _saturated(station: StationEstimate) -> str:
    """``SATURATED``, and how fast its queue grows when that is known."""
    growth = station.backlog_per_s
    return f"SATURATED (+{_num(growth)}/s)" if 0 < growth < math.inf else "SATURATED"


def _missed(check: SloCheck) -> str:
    """What an SLO check misses, in its numbers."""
    slo, out = check.slo, []
    if check.p95_met is False:
        out.append(f"p95 {_ms(check.p95_ms)} ms > {_ms(slo.p95_ms or 0.0)} ms")
    if check.p99_met is False:
        out.append(f"p99 {_ms(check.p99_ms)} ms > {_ms(slo.p99_ms or 0.0)} ms")
    if check.availability_met is False:
        used = check.error_budget_used
        budget = "spent" if used is None or math.isinf(used) else f"{used:.3g}× its budget"
        out.append(f"availability {check.availability:.4%} < {slo.availability:.4%} "
                   f"(errors {budget})")
    return "; ".join(out)


def error_share(ratio: float) -> str:
    """An error ratio: ``2.7%``, ``0.015%``, ``100%``; ``-`` for none."""
    if ratio <= 0:
        return "-"
    return f"{ratio * 100:.2g}%" if ratio < 0.1 else f"{ratio:.0%}"


ASSUMED_SHOWN = 6
"""Defaults a text estimate names (the JSON lists them all, with their sources)."""


def success_p95(e: EndpointEstimate) -> str:
    """The p95 of an endpoint's successful requests as a table shows it: ``-`` when none
    fails (it is the p95), ``none`` when none succeeds."""
    if e.error_ratio <= 0:
        return "-"
    return "none" if e.success is None else _ms(e.success.p95_ms)


def _percent(ratio: float) -> str:
    """A utilization: ``86%``; ``∞`` when infinite; with an exponent when absurdly high."""
    if math.isinf(ratio):
        return "∞"
    if ratio * 100 >= HUGE:
        return f"{ratio * 100:.3g}%"
    return f"{ratio:.0%}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    if rows and not any(row[-1] for row in rows):  # no flags: drop the flag column
        header, rows = header[:-1], [row[:-1] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = []
    for r, row in enumerate([header, *rows]):
        cells = [(c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in
                 enumerate(zip(row, widths, strict=False))]
        lines.append("  ".join(cells).rstrip())
        if r == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _endpoint_row(key: str, e: EndpointEstimate) -> list[str]:
    """An endpoint's row of the text and HTML tables (the last cell: its flag)."""
    return [key, _num(e.rps), _ms(e.mean_ms), _ms(e.p50_ms), _ms(e.p95_ms), _ms(e.p99_ms),
            "SATURATED" if e.saturated else ""]


def _rows(est: Estimate) -> tuple[list[list[str]], list[list[str]]]:
    endpoints = [_endpoint_row(k, e) for k, e in _filled(est.endpoints).items()]
    stations = [[s.id, c.kind, f"{s.servers:,}", _num(s.arrival_rps),
                 _ms(s.service_ms), _num(s.busy),
                 _percent(s.utilization),
                 _ms(s.wait_ms), _saturated(s) if s.saturated else ""]
                for c in est.components.values() for s in c.stations.values()
                if s.arrival_rps > 0]
    return endpoints, stations


def _headline(est: Estimate) -> str:
    scale = "∞" if math.isinf(est.max_scale) else f"{est.max_scale:.3g}×"
    where = (f"{est.bottleneck_station} saturates first at {scale} this load"
             if est.bottleneck_station else "no station is loaded")
    days = f", tables after {est.days:g} days" if est.days else ""
    back = est.background
    if back is not None and back.station is not None:
        when = "∞" if math.isinf(back.max_scale) else f"{back.max_scale:.3g}×"
        where += f"; background: {back.station} at {when}"
    return (f"estimate of {est.design!r} at {est.scale:g}× workload "
            f"({est.scenario}{days}): {where}")


def _idle(est: Estimate) -> str | None:
    """What to say instead of two empty tables when no endpoint has traffic."""
    if est.endpoints:
        return None
    source = est._source
    example = next((str(ref) for ref, _ in source.endpoints()), None) if source else None
    example = example or "api GET /items"
    if source is not None and source.loaded:
        what = "its workload sends no requests (every rate is 0)"
    else:
        what = "it has no workload"
    return (f"nothing to estimate in {est.design!r}: {what}. Give requests per second "
            f"to an endpoint — in the file: workload: {{\"{example}\": 100}}, or in "
            f"Python: design.set_load(\"{example}\", 100)")


def estimate_text(est: Estimate) -> str:
    """An estimate as text tables (``str(estimate)``, ``designkit estimate``): the headline,
    the endpoints, the loaded stations, then SLOs, defaults relied on, bands and retry
    storms when there are any."""
    idle = _idle(est)
    if idle is not None:
        return idle
    endpoints, stations = _rows(est)
    header = ["endpoint", "rps", "mean ms", "p50 ms", "p95 ms", "p99 ms", ""]
    if any(ep.error_ratio > 0 for ep in est.endpoints.values()):  # errors beside latency
        header[6:6] = ["errors", "ok p95 ms"]
        for row, ep in zip(endpoints, est.endpoints.values(), strict=True):
            row[6:6] = [error_share(ep.error_ratio), success_p95(ep)]
    parts = [_headline(est), "",
             _table(header, endpoints), "",
             _table(["station", "kind", "servers", "arrivals/s", "service ms", "busy",
                     "util", "wait ms", ""], stations)]
    slos = est.slos
    if slos:
        missed = [c for c in slos.values() if not c.met]
        parts += ["", f"SLOs: {len(slos) - len(missed)} of {len(slos)} met"]
        parts += [f"  {c.endpoint}: {_missed(c)}" for c in missed]
    assumed = est.assumptions
    if assumed:
        shown = ", ".join(f"{a.subject.removeprefix('components.')} {a.value}"
                          for a in assumed[:ASSUMED_SHOWN])
        more = f" and {len(assumed) - ASSUMED_SHOWN:,} more" \
            if len(assumed) > ASSUMED_SHOWN else ""
        parts += ["", f"relies on {len(assumed):,} default(s): {shown}{more} — state them, "
                      "or see their sources in --format json (\"assumptions\")"]
    parts += [f"\n{line}" for line in _extrapolated(est)]
    if est.bands is not None:
        parts += ["", str(est.bands)]
    risky = [r for r in est.retry_storms if r.at_risk]
    if risky:
        parts += ["", "retry storms possible (every attempt used):"]
        parts += [f"  {r.caller} → {r.target}: {r.station} at "
                  f"{_percent(r.utilization_retrying)} (now {_percent(r.utilization_now)}, "
                  f"{r.max_attempts} attempts)" for r in risky]
    return "\n".join(parts)


def _extrapolated(est: Estimate) -> list[str]:
    """What to say of endpoints loaded past their measurements (one line)."""
    beyond = est.beyond_measured
    if not beyond:
        return []
    said = ", ".join(f"{k} at {f:.3g}× the {m:,.4g} rps measured"
                     for k, (f, m) in beyond.items())
    return [f"beyond the measurements: {said} — the calibrated times are extrapolated"]


def estimate_html(est: Estimate) -> str:
    """An estimate as HTML tables (a notebook's display): the first
    :attr:`Estimate.HTML_ROWS <designkit.estimate.result.Estimate.HTML_ROWS>` endpoints and
    busiest stations, utilization coloured above the policy's."""
    esc = html.escape
    keys = list(est.endpoints)
    shown = {k: est.endpoints[k] for k in keys[:est.HTML_ROWS]}
    endpoints = [_endpoint_row(k, e) for k, e in shown.items()]
    loaded = [s for c in est.components.values() for s in c.stations.values()
              if s.arrival_rps > 0]
    busiest = loaded if len(loaded) <= est.HTML_ROWS else sorted(
        loaded, key=lambda s: -s.utilization)[:est.HTML_ROWS]
    more = []
    if len(keys) > len(shown):
        more.append(f"the first {len(shown):,} of {len(keys):,} endpoints")
    if len(loaded) > len(busiest):
        more.append(f"the {len(busiest):,} busiest of {len(loaded):,} stations")
    note = (f"<p>Showing {' and '.join(more)}: <code>.endpoints</code> and "
            "<code>.components</code> hold them all.</p>" if more else "")

    def colour(u: float) -> str:
        if u >= 1 or math.isinf(u):
            return "background:#d62728;color:white"
        if u >= est.utilization_max:
            return "background:#ffbf47"
        return ""

    idle = _idle(est)
    if idle is not None:
        return f"<div class='designkit-estimate'><p>{esc(idle)}</p></div>"
    head = f"<p><strong>{esc(_headline(est))}</strong></p>"
    ep_rows = "".join("<tr>" + "".join(
        f"<td style='text-align:{'left' if i == 0 else 'right'}'>{esc(v)}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in endpoints)
    st_rows = "".join(
        f"<tr><td>{esc(s.id)}</td><td>{s.servers:,}</td>"
        f"<td style='text-align:right'>{_num(s.arrival_rps)}</td>"
        f"<td style='text-align:right'>{esc(_ms(s.service_ms))}</td>"
        f"<td style='text-align:right;{colour(s.utilization)}'>"
        f"{_percent(s.utilization)}</td>"
        f"<td style='text-align:right'>{esc(_ms(s.wait_ms))}</td></tr>"
        for s in busiest)
    return (f"<div class='designkit-estimate'>{head}"
            "<table><tr><th>endpoint</th><th>rps</th><th>mean ms</th><th>p50 ms</th>"
            f"<th>p95 ms</th><th>p99 ms</th><th></th></tr>{ep_rows}</table>"
            "<table><tr><th>station</th><th>servers</th><th>arrivals/s</th>"
            "<th>service ms</th><th>utilization</th><th>wait ms</th></tr>"
            f"{st_rows}</table>{note}"
            + "".join(f"<p><strong>{esc(line)}</strong></p>"
                      for line in _extrapolated(est)) +
            f"<p>utilization coloured above the policy's {est.utilization_max:.0%}; "
            "red = saturated</p></div>")
