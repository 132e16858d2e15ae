"""Calibration recovers known times: from the exact model (to 0.1 %), from the simulator
(within 3 %), and from samples of a closed form through the command line."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.calibration import CalibrationError
from designkit.cli import cli
from designkit.measure import Measurements, Observation

KEY = "client GET /q"


def _pool(query_ms: float, cpu_ms: float = 0.0, calibration: dict | None = None
          ) -> dk.Design:
    """A client whose requests each hold one of 4 connections for a query: M/M/4."""
    d = dk.Design(name="pool")
    d.service("client", workers=1000).endpoint("GET /q", cpu_ms=cpu_ms).transaction(
        "db").call("db", service_ms=query_ms)
    d.database("db", cores=4, pool_size=4)
    if calibration is not None:
        d.calibration = calibration
    return d


def _observed(e: dk.EndpointEstimate, run: str, rps: float, name: str = KEY) -> Observation:
    return Observation(name, "endpoint", run, rps, 10_000, 0, e.mean_ms, e.p50_ms, e.p95_ms,
                       e.p99_ms)


def _exact(design: dk.Design, loads: list[float]) -> Measurements:
    return Measurements(tuple(
        _observed(dk.estimate(design, workload={KEY: rps}).endpoints[KEY], f"r{rps:g}", rps)
        for rps in loads))


def _parameter(fit: dk.CalibrationFit, component: str, what: str) -> float:
    return next(p.value for p in fit.parameters
                if p.component == component and p.what == what)


def test_the_exact_model_is_recovered_and_predicts_the_next_load() -> None:
    truth = _pool(10.0, calibration={"components": {"db": {"slowdown": 0.3}}})
    fit = dk.calibrate(_pool(7.0), _exact(truth, [80, 200]))
    assert _parameter(fit, "db", "scale") * 7.0 == pytest.approx(10.0, rel=1e-3)
    assert _parameter(fit, "db", "slowdown") == pytest.approx(0.3, rel=1e-2)
    assert _parameter(fit, "db", "scv") == pytest.approx(1.0, abs=0.01)
    assert fit.max_error < 0.002
    # the fitted design predicts a load it was not fitted on, and says it extrapolates
    at = dk.estimate(fit.design, workload={KEY: 300})
    true = dk.estimate(truth, workload={KEY: 300}).endpoints[KEY]
    assert at.endpoints[KEY].p95_ms == pytest.approx(true.p95_ms, rel=0.01)
    assert at.beyond_measured == {KEY: (1.5, 200.0)}
    assert fit.measured_up_to == {KEY: 200.0}


def test_simulated_measurements_recover_the_true_time_within_three_percent() -> None:
    truth = _pool(10.0, cpu_ms=1.0)
    observed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rps in (100, 280):
            s = dk.simulate(truth, workload={KEY: rps}, duration_s=400, seed=int(rps))
            observed.append(_observed(s.endpoints[KEY], f"r{rps}", rps))
    fit = dk.calibrate(_pool(6.0, cpu_ms=1.0), Measurements(tuple(observed)), fit=["db"])
    assert _parameter(fit, "db", "scale") * 6.0 == pytest.approx(10.0, rel=0.03)
    assert _parameter(fit, "db", "slowdown") < 0.05  # the truth has none
    assert fit.max_error < 0.05


def test_spans_tell_components_apart_that_the_endpoint_alone_cannot() -> None:
    def design(cache_ms: float, db_ms: float) -> dk.Design:
        d = dk.Design(name="two")
        ep = d.service("client", workers=1000).endpoint("GET /q")
        ep.call("cache", service_ms=cache_ms)
        ep.call("db", service_ms=db_ms)
        d.cache("cache", servers=1)
        d.database("db", cores=2)
        return d

    truth = design(2.0, 8.0)
    loads = [50.0, 150.0]
    spans = []
    for rps in loads:
        e = dk.estimate(truth, workload={KEY: rps})
        pool = e.station("db pool client").wait_ms
        for name, station, before in (("GET", "cache servers", 0.0),
                                      ("SELECT", "db cpu", pool)):
            st = e.station(station)
            spans.append(Observation(name, "span", f"r{rps:g}", rps, 1000, 0,
                                     before + st.wait_ms + st.service_ms, None, None, None,
                                     attributes={"server.address": station.split()[0]}))
    endpoints = _exact(truth, loads).observations
    both = dk.calibrate(design(1.0, 4.0), Measurements(endpoints + tuple(spans)),
                        shape=False, slowdown=False)
    assert _parameter(both, "cache", "scale") == pytest.approx(2.0, rel=1e-3)
    assert _parameter(both, "db", "scale") == pytest.approx(2.0, rel=1e-3)
    assert all(p.determined for p in both.parameters)
    # one mean alone cannot say which component is slower: both stay near the design
    mean = Measurements((Observation(KEY, "endpoint", "r", 50.0, 1000, 0,
                                     endpoints[0].mean_ms, None, None, None),))
    alone = dk.calibrate(design(1.0, 4.0), mean, slowdown=False)
    assert alone.max_error < 0.01
    assert not any(p.determined for p in alone.parameters)
    assert "not determined by these measurements (kept near the design): cache scale, " \
           "db scale" in str(alone)


def test_a_constant_hold_is_found_constant() -> None:
    def locked(hold: dict | float) -> dk.Design:
        d = dk.Design(name="hot-row")
        d.service("client", workers=1000).endpoint("POST /buy").lock("row").call(
            "db", service_ms=hold)
        d.lock("row")
        d.database("db", cores=64, pool_size=64)
        return d

    truth = locked({"mean": 6.0, "scv": 0.0})
    seen = Measurements(tuple(
        _observed(dk.estimate(truth, workload={"client POST /buy": r}).endpoints[
            "client POST /buy"], f"r{r}", r, "client POST /buy") for r in (40, 90)))
    fit = dk.calibrate(locked(5.0), seen, slowdown=False)
    assert _parameter(fit, "db", "scv") == pytest.approx(0.0, abs=0.02)
    assert _parameter(fit, "db", "scale") * 5.0 == pytest.approx(6.0, rel=0.01)


def test_what_cannot_calibrate_is_one_clear_error() -> None:
    seen = Measurements((Observation("GET /nothing", "endpoint", "r", 10.0, 100, 0, 5.0,
                                     None, None, None),))
    with pytest.raises(CalibrationError, match=r"no measured endpoint is part of design "
                                               r"'pool': measured GET /nothing"):
        dk.calibrate(_pool(5.0), seen)
    good = Measurements((Observation("GET /q", "endpoint", "r", 10.0, 100, 0, 5.0, None,
                                     None, None),))
    with pytest.raises(CalibrationError, match=r"no component 'clinet' to fit \(did you mean "
                                               r"'client'\?\)"):
        dk.calibrate(_pool(5.0), good, fit=["clinet"])
    two = _pool(5.0)
    two.service("other", workers=4).endpoint("GET /q", cpu_ms=1)
    with pytest.raises(CalibrationError, match=r"'GET /q' fits 2 endpoints: client GET /q, "
                                               r"other GET /q; say which with a mapping"):
        dk.calibrate(two, good)
    fit = dk.calibrate(two, good, mapping={"GET /q": "other GET /q"}, fit=["other"])
    assert fit.runs[0][1] == {"other GET /q": 10.0}


def _mm1_csv(path: Path, rates: list[float], service_ms: float, n: int, seed: int) -> None:
    """Open-loop runs of an M/M/1 queue, written as a load tool writes them: each
    request's start and latency, drawn from the exact sojourn time — exponential with
    rate μ − λ."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "endpoint", "latency_ms", "status", "run"])
        for rate in rates:
            starts = np.cumsum(rng.exponential(1.0 / rate, n)) + 1.7e9
            sojourn = rng.exponential(1.0 / (1.0 / service_ms - rate / 1000.0), n)
            for t, ms in zip(starts, sojourn, strict=True):
                out.writerow([f"{t:.6f}", "GET /x", f"{ms:.4f}", 200, f"at-{rate:g}"])


DESIGN = """\
designkit: 1
name: mm1   # one worker: an M/M/1 queue
components:
  api:
    kind: service
    workers: 1
    endpoints:
      "GET /x": {cpu_ms: 5}   # a guess: the load test says
"""


def test_the_command_line_fits_a_file_and_keeps_its_comments(tmp_path: Path) -> None:
    design, runs = tmp_path / "mm1.yaml", tmp_path / "runs.csv"
    design.write_text(DESIGN)
    _mm1_csv(runs, [30.0, 60.0], 10.0, 20_000, 7)
    out = tmp_path / "calibrated.yaml"
    result = CliRunner().invoke(cli, ["calibrate", str(design), str(runs), "-o", str(out),
                                      "--no-slowdown", "--no-shape"])
    assert result.exit_code == 0, result.output
    assert "api        scale" in result.output and "at-60" in result.output
    text = out.read_text()
    assert text.startswith(DESIGN) and "\ncalibration:\n  components:\n    api:" in text
    fitted = dk.load(out).calibration
    assert fitted is not None
    assert fitted.components["api"].scale * 5.0 == pytest.approx(10.0, rel=0.03)
    assert fitted.measured["api GET /x"] == pytest.approx(60.0, rel=0.03)
    assert fitted.sources == [str(runs)]
    # calibrating the calibrated file replaces its section
    again = CliRunner().invoke(cli, ["calibrate", str(out), str(runs), "-o", str(out), "-f",
                                     "--no-slowdown", "--no-shape", "--json"])
    assert again.exit_code == 0, again.output
    assert out.read_text().count("calibration:") == 1
    # a fit worse than asked fails the run
    worse = CliRunner().invoke(cli, ["calibrate", str(design), str(runs), "--no-slowdown",
                                     "--no-shape", "--fail-above", "0.0001"])
    assert worse.exit_code == 1
    assert "more than 0.0%" in worse.output


def test_the_command_line_refuses_a_typo_with_the_nearest_name(tmp_path: Path) -> None:
    design, runs = tmp_path / "mm1.yaml", tmp_path / "runs.csv"
    design.write_text(DESIGN)
    _mm1_csv(runs, [30.0], 10.0, 200, 1)
    result = CliRunner().invoke(cli, ["calibrate", str(design), str(runs), "--fit", "apu"])
    assert result.exit_code == 2
    assert "error: no component 'apu' to fit (did you mean 'api'?)" in result.output
    bad = CliRunner().invoke(cli, ["calibrate", str(design), str(runs), "--map", "x"])
    assert bad.exit_code == 2 and "give MEASURED=REFERENCE" in bad.output


def test_a_fit_shows_itself_in_a_notebook() -> None:
    fit = dk.calibrate(_pool(7.0), _exact(_pool(10.0), [80, 200]), slowdown=False)
    html = fit._repr_html_()
    assert "calibration of pool" in html and "<td>db</td><td>scale</td>" in html
    data = fit.to_dict()
    assert data["measured_up_to"] == {KEY: 200.0}
    assert {r["stat"] for r in data["rows"]} == {"mean_ms", "p50_ms", "p95_ms", "p99_ms"}
    from designkit.render import plots

    figure = plots.calibration(fit, unfitted=[(300.0, 15.0, 45.0)])
    ax = figure.axes[0]
    assert ax.get_xlabel() == "load (requests/s)"
    assert [line.get_label() for line in ax.get_lines()] == ["p50 calibrated",
                                                             "p95 calibrated"]
    p95 = ax.get_lines()[1]
    at = dk.estimate(fit.design, workload={KEY: float(p95.get_xdata()[-1])}).endpoints[KEY]
    assert p95.get_ydata()[-1] == pytest.approx(at.p95_ms)
    assert p95.get_xdata()[-1] == pytest.approx(1.05 * 300)  # past the unfitted point
    assert not math.isnan(fit.rms_error)


def test_a_section_is_replaced_where_the_parser_finds_it(tmp_path: Path) -> None:
    from designkit.cli_calibrate import with_calibration

    path = tmp_path / "quoted.yaml"
    path.write_text('designkit: 1\nname: x\n"calibration":\n  components:\n'
                    '    api: {scale: 3}\n# about the components\ncomponents:\n  api:\n'
                    '    kind: service\n    endpoints:\n      "GET /x": {cpu_ms: 1}\n')
    design = dk.load(path)
    design.calibration = {"components": {"api": {"scale": 1.5}}}
    text = with_calibration(path, design)
    assert text.count("calibration") == 1 and "# about the components\n" in text
    assert dk.load(text).calibration.components["api"].scale == 1.5
    # a file that ends its document (`...`) gets the section inside it
    ended = tmp_path / "ended.yaml"
    ended.write_text('---\ndesignkit: 1\nname: x\ncomponents:\n  api:\n    kind: service\n'
                     '    endpoints:\n      "GET /x": {cpu_ms: 1}\n...\n# the end\n')
    text = with_calibration(ended, design)
    assert text.endswith("...\n# the end\n")
    assert dk.load(text).calibration.components["api"].scale == 1.5
    # a file whose last value is an alias (its node has the anchor's marks, lines above)
    aliased = tmp_path / "aliased.yaml"
    aliased.write_text('designkit: 1\nname: x\ncomponents:\n  api:\n    kind: service\n'
                       '    endpoints:\n      "GET /x": &one {cpu_ms: 1}\n'
                       '      "GET /y": *one\n')
    text = with_calibration(aliased, design)
    assert text.index('"GET /y": *one') < text.index("calibration:")
    assert dk.load(text).calibration.components["api"].scale == 1.5


def _written(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("timestamp,endpoint,latency_ms,status\n" + "\n".join(rows) + "\n")
    return path


def test_hostile_measurements_are_one_located_error(tmp_path: Path) -> None:
    design = tmp_path / "mm1.yaml"
    design.write_text(DESIGN)
    one = _written(tmp_path, "one.csv", ["0,GET /x,12,200"])
    failed = _written(tmp_path, "failed.csv", ["0,GET /x,12,500", "1,GET /x,14,503"])
    fine = _written(tmp_path, "fine.csv", ["0,GET /x,12,200", "1,GET /x,14,200"])
    for argv, message in (
            ([str(one)], "'GET /x' in run 'one' has no rate (nan): a run needs two or more "
                         "requests at different times"),
            ([str(failed)], "nothing to fit: no latency of a successful request was measured "
                            "(api GET /x in run failed: every request failed"),
            ([str(fine), "--map", "GET /x=api"], "--map GET /x=api: 'GET /x' is an "
                                                  "endpoint's measurement; map it to an "
                                                  "endpoint ('api METHOD /path')"),
            ([str(fine), "--map", "GET /x=apx"], "--map GET /x=apx: 'apx' is neither an "
                                                  "endpoint"),
            ([str(fine), "--map", "GET /x=api GET /y"], "(did you mean 'api GET /x'?)")):
        result = CliRunner().invoke(cli, ["calibrate", str(design), *argv])
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
    # a mapping written with odd spacing is read as the endpoint it names
    ok = CliRunner().invoke(cli, ["calibrate", str(design), str(fine), "--map",
                                  "GET /x=api  get /x", "--json"])
    assert ok.exit_code == 0, ok.output


def test_a_design_saturated_at_the_measured_rate_is_fitted_from_below() -> None:
    # the guess (30 ms at 40 rps: ρ 1.2) saturates; the truth is 13 ms (ρ 0.52)
    truth = dk.Design(name="mm1")
    truth.service("api", workers=1).endpoint("GET /x", cpu_ms=13)
    e = dk.estimate(truth, workload={"api GET /x": 40}).endpoints["api GET /x"]
    seen = Measurements((Observation("api GET /x", "endpoint", "r", 40.0, 10_000, 0,
                                     e.mean_ms, e.p50_ms, e.p95_ms, e.p99_ms),))
    guess = dk.Design(name="mm1")
    guess.service("api", workers=1).endpoint("GET /x", cpu_ms=30)
    fit = dk.calibrate(guess, seen, shape=False)
    assert _parameter(fit, "api", "scale") * 30 == pytest.approx(13.0, rel=1e-3)
    assert fit.converged and fit.max_error < 1e-3


def test_a_span_is_one_call_of_a_repeated_step() -> None:
    # three calls of the cache per request: a span measures one of them (wait + 2 ms)
    import importlib

    api = importlib.import_module("designkit.calibration.api")
    d = dk.Design(name="repeat")
    d.service("client", workers=100).endpoint("GET /q").call("cache", count=3,
                                                              service_ms=2)
    d.cache("cache", servers=1)
    e = dk.estimate(d, workload={KEY: 50})
    station = e.station("cache servers")
    assert api._span_mean(e, "cache", KEY) == pytest.approx(station.wait_ms + 2.0)


def test_a_design_far_from_its_measurements_starts_the_fit_near_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Times written 100× too long (a unit slip): every fitted scale first moves by one
    common factor that undoes the mean miss, so the trust region starts near the answer —
    a case the fuzzing soak found took 50 s, a hundred steps away. The scales recovered,
    and written as the four digits they are (not 0.010000000000000002: no round trip
    through a log)."""
    from designkit.calibration import api

    truth = _pool(1.0, cpu_ms=0.5)
    measured = _exact(truth, [40, 120])
    calls = []
    real = api._predict
    monkeypatch.setattr(api, "_predict", lambda d, run: calls.append(1) or real(d, run))
    fit = dk.calibrate(_pool(100.0, cpu_ms=50.0), measured, shape=False, slowdown=False)
    assert _parameter(fit, "db", "scale") == pytest.approx(0.01, rel=1e-2)
    assert _parameter(fit, "client", "scale") == pytest.approx(0.01, rel=1e-2)
    assert fit.max_error < 0.01
    assert len(calls) < 80, f"{len(calls)} estimates"  # (46; 116 from the design as written)
    scales = {n: c.scale for n, c in fit.design.calibration.components.items()}
    assert all(len(repr(v)) <= 8 for v in scales.values()), scales


def test_the_command_line_fits_with_the_collector_on(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line pauses the cyclic collector for its short runs; a fit is hundreds
    of estimates whose structures hold cycles, so it runs with the collector on — paused,
    a fuzzed design's calibration grew to 24 GB before the kernel killed it."""
    import gc

    from designkit.calibration import api
    from designkit.cli import main

    design, runs = tmp_path / "mm1.yaml", tmp_path / "runs.csv"
    design.write_text(DESIGN)
    _mm1_csv(runs, [30.0, 60.0], 10.0, 2_000, 7)
    seen: list[bool] = []
    real = api._predict
    monkeypatch.setattr(api, "_predict",
                        lambda d, run: seen.append(gc.isenabled()) or real(d, run))
    assert main(["calibrate", str(design), str(runs), "--no-slowdown", "--no-shape"]) == 0
    assert seen and all(seen)
    assert gc.isenabled()  # (and the command left it as it found it)
