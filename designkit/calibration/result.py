"""What a calibration found: the fitted parameters and how well the design fits each run."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designkit.calibration.fit import Parameter

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["CalibrationFit", "Row"]

STAT_NAMES = {"mean_ms": "mean", "p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}


@dataclass(frozen=True)
class Row:
    """One measured statistic beside the calibrated design's prediction.

    Attributes:
        run: The run (load level).
        endpoint: The endpoint (``"svc METHOD /path"``; empty for a span).
        stat: ``"mean_ms"``, ``"p50_ms"``, ``"p95_ms"``, ``"p99_ms"`` or
            ``"span:<component>"`` (a span's mean).
        rps: The endpoint's measured rate in that run.
        measured: The measured value (ms).
        predicted: The calibrated design's value (ms; ``inf`` when saturated).
    """

    run: str
    endpoint: str
    stat: str
    rps: float
    measured: float
    predicted: float

    @property
    def error(self) -> float:
        """Predicted over measured, minus one (0.05: 5 % above)."""
        return self.predicted / self.measured - 1.0 if self.measured > 0 else math.nan

    @property
    def label(self) -> str:
        """The statistic as people say it: ``p95`` or ``orders-db span``."""
        if self.stat.startswith("span:"):
            return f"{self.stat.removeprefix('span:')} span"
        return STAT_NAMES.get(self.stat, self.stat)


@dataclass(frozen=True)
class CalibrationFit:
    """A design fitted to measurements (:func:`designkit.calibrate`).

    Attributes:
        design: The calibrated design: the original with a ``calibration:`` section.
        parameters: Each fitted number with its start and standard error.
        rows: Each measured statistic with its prediction.
        runs: Each run's name and measured workload (rps by endpoint).
        unmatched: Measured names that are no part of the design (not used).
        converged: Whether the fit converged (``False``: it stopped after its most
            evaluations; the values are the best found, and the result says so).

    Example:
        >>> import designkit as dk
        >>> from designkit.measure import Measurements, Observation
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=5)
        >>> f = dk.calibrate(d, Measurements((Observation(
        ...     "api GET /x", "endpoint", "r1", 50.0, 5000, 0, 20.0, None, None, None),)))
        >>> print(f.parameters_table())
        component  fitted  start  value  ± (sd)
        ---------  ------  -----  -----  ------
        api        scale   1      2      ± 1.0%
    """

    design: Design
    parameters: tuple[Parameter, ...]
    rows: tuple[Row, ...]
    runs: tuple[tuple[str, dict[str, float]], ...]
    unmatched: tuple[str, ...] = ()
    converged: bool = True

    @property
    def max_error(self) -> float:
        """The largest relative miss over every measured statistic (0.08: 8 %)."""
        errors = [abs(r.error) if math.isfinite(r.error) else math.inf for r in self.rows]
        return max(errors, default=0.0)

    @property
    def rms_error(self) -> float:
        """The root mean square of the relative misses: the error band of a prediction
        inside the measured loads."""
        errors = [r.error if math.isfinite(r.error) else math.inf for r in self.rows]
        return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else 0.0

    @property
    def measured_up_to(self) -> dict[str, float]:
        """The highest load measured, in rps, by endpoint."""
        calibration = self.design.calibration
        return dict(calibration.measured) if calibration else {}

    def parameters_table(self) -> str:
        """The fitted parameters as a text table."""
        rows = [[p.component, p.what, f"{p.start:.4g}", f"{p.value:.4g}", _sd(p)]
                for p in self.parameters]
        return _table(["component", "fitted", "start", "value", "± (sd)"], rows)

    def errors_table(self) -> str:
        """Every measured statistic beside its prediction, as a text table."""
        rows = [[r.run, r.endpoint or "—", f"{r.rps:,.4g}", r.label, f"{r.measured:.4g}",
                 _ms(r.predicted), _percent(r.error)] for r in self.rows]
        return _table(["run", "endpoint", "rps", "stat", "measured ms", "fitted ms",
                       "error"], rows)

    def to_dict(self) -> dict[str, Any]:
        """The fit as JSON-ready data (``designkit calibrate --json``)."""
        return {
            "design": self.design.name,
            "parameters": [{"component": p.component, "fitted": p.what, "start": p.start,
                            "value": p.value, "sd": _finite(p.sd),
                            "determined": p.determined} for p in self.parameters],
            "rows": [{"run": r.run, "endpoint": r.endpoint, "stat": r.stat,
                      "rps": _finite(r.rps),
                      "measured_ms": r.measured, "predicted_ms": _finite(r.predicted),
                      "error": _finite(r.error)} for r in self.rows],
            "max_error": _finite(self.max_error),
            "rms_error": _finite(self.rms_error),
            "measured_up_to": self.measured_up_to,
            "unmatched": list(self.unmatched),
            "converged": self.converged,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def _notes(self) -> list[str]:
        notes = [] if self.converged else [
            "the fit did not converge (or the calibrated design saturates at a measured "
            "rate): these are the best values found — fit fewer components (--fit) or check "
            "that the measurements and the design describe the same system"]
        loose = [f"{p.component} {p.what}" for p in self.parameters if not p.determined]
        if loose:
            notes.append(f"not determined by these measurements (kept near the design): "
                         f"{', '.join(loose)} — measure more loads or spans to pin them")
        kept = [f"{p.component} {p.what}" for p in self.parameters if p.kept]
        if kept:
            notes.append(f"as designed (the measurements do not tell them from it by two "
                         f"standard errors): {', '.join(kept)}")
        if self.unmatched:
            notes.append(f"not part of the design, not used: {', '.join(self.unmatched)}")
        up_to = ", ".join(f"{k} {v:,.4g} rps" for k, v in self.measured_up_to.items())
        notes.append(f"measured up to: {up_to}; an estimate beyond says it extrapolates")
        return notes

    def __str__(self) -> str:
        head = (f"calibration of {self.design.name!r}: {len(self.rows)} measured "
                f"statistics in {len(self.runs)} run(s), worst miss "
                f"{self.max_error:.1%}, rms {self.rms_error:.1%}")
        return "\n".join([head, "", self.parameters_table(), "", self.errors_table(), "",
                          *self._notes()])

    def __repr__(self) -> str:
        return (f"CalibrationFit({self.design.name!r}, {len(self.parameters)} parameters, "
                f"{len(self.rows)} statistics, worst miss {self.max_error:.1%})")

    def _repr_html_(self) -> str:
        esc = html.escape
        params = "".join(
            f"<tr><td>{esc(p.component)}</td><td>{p.what}</td><td>{p.start:.4g}</td>"
            f"<td>{p.value:.4g}</td><td>{esc(_sd(p))}</td></tr>" for p in self.parameters)
        rows = "".join(
            f"<tr><td>{esc(r.run)}</td><td>{esc(r.endpoint or '—')}</td>"
            f"<td style='text-align:right'>{r.rps:,.4g}</td><td>{esc(r.label)}</td>"
            f"<td style='text-align:right'>{r.measured:.4g}</td>"
            f"<td style='text-align:right'>{esc(_ms(r.predicted))}</td>"
            f"<td style='text-align:right'>{esc(_percent(r.error))}</td></tr>"
            for r in self.rows)
        notes = "".join(f"<p>{esc(n)}</p>" for n in self._notes())
        return (f"<div class='designkit-calibration'><p><strong>calibration of "
                f"{esc(self.design.name)}: worst miss {self.max_error:.1%}, rms "
                f"{self.rms_error:.1%}</strong></p>"
                "<table><tr><th>component</th><th>fitted</th><th>start</th><th>value</th>"
                f"<th>± (sd)</th></tr>{params}</table>"
                "<table><tr><th>run</th><th>endpoint</th><th>rps</th><th>stat</th>"
                "<th>measured ms</th><th>fitted ms</th><th>error</th></tr>"
                f"{rows}</table>{notes}</div>")


def _sd(p: Parameter) -> str:
    if not math.isfinite(p.sd):
        return "not determined"
    if p.what == "scale":
        return f"± {p.sd:.1%}"
    return f"± {p.sd:.2g}"


def _ms(value: float) -> str:
    return "saturated" if math.isinf(value) else f"{value:.4g}"


def _percent(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:+.1%}"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = []
    for i, row in enumerate([header, *rows]):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
