"""Bands over uncertain numbers (``dk.estimate(design, samples=…)``) against a brute-force
loop: one design per drawn set of values, estimated on its own.

The vectorised bands solve every set as a column of one tape; a column must be the solution
the design holding that set's values gets. The generated designs reach every step kind,
holder and time shape (tests/estimate/designs.py); every hit ratio and request rate in them
is made uncertain around its value.
"""

from __future__ import annotations

import importlib
import math
import random

import numpy as np
import pytest

import designkit as dk
from designkit.flow.build import design_steps
from designkit.model.problems import format_path
from designkit.model.uncertain import Uncertain
from tests.estimate.designs import FAMILIES, loaded

uncertainty = importlib.import_module("designkit.estimate.uncertainty")
Band = uncertainty.Band

SAMPLES = 6
SEED = 11


def made_uncertain(design: dk.Design, spread: float = 0.5) -> dk.Design:
    """``design`` with every hit ratio and workload rate a range around its value (the
    value its middle)."""
    found: dict[str, Uncertain] = {}
    for name, component in design.components.items():
        hit = getattr(component, "hit_ratio", None)
        if isinstance(component, dk.Cache) and hit is not None and 0 < hit < 1:
            half = spread * min(hit, 1 - hit)
            found[format_path(("components", name, "hit_ratio"))] = Uncertain(
                low=hit - half, high=hit + half)
    for _, path, step in design_steps(design):
        hit = getattr(step, "hit_ratio", None)
        if hit is not None and 0 < hit < 1:
            half = spread * min(hit, 1 - hit)
            found[format_path((*path, "hit_ratio"))] = Uncertain(low=hit - half,
                                                                 high=hit + half)
    for ref, rps in design.workload.items():
        if rps > 0:
            found[format_path(("workload", ref))] = Uncertain(low=rps * (1 - spread / 2),
                                                              high=rps * (1 + spread / 2))
    design.uncertain = found
    return design


def looped(design: dk.Design, drawn: dict[str, np.ndarray], scale: float) -> list[dk.Estimate]:
    return [dk.estimate(uncertainty.with_values(design, {p: float(v[k])
                                                         for p, v in drawn.items()}),
                        scale=scale)
            for k in range(SAMPLES)]


CASES = [(family, seed, rho) for family in FAMILIES if family != "calibrated"
         for seed, rho in ((1, 0.5), (2, 0.85))]


@pytest.mark.parametrize(("family", "seed", "rho"), CASES,
                         ids=[f"{f}-{s}@{r}" for f, s, r in CASES])
def test_each_sample_is_the_design_holding_its_values(family: str, seed: int,
                                                      rho: float) -> None:
    design = FAMILIES[family](random.Random(f"{family}-{seed}"))
    scale = loaded(design, rho)
    design = made_uncertain(design)
    assert design.uncertain, "the family has numbers to make uncertain"
    bands = dk.estimate(design, scale=scale, samples=SAMPLES, seed=SEED).bands
    assert bands is not None and bands.samples == SAMPLES
    loop = looped(design, bands.inputs, scale)
    caps = np.array([e.max_scale for e in loop])
    # each capacity search stops within 1e-3 of the edge: two searches within 2e-3
    assert np.allclose(bands.max_scale.values, caps, rtol=2e-3), (bands.max_scale.values,
                                                                  caps)
    for name, ep in bands.endpoints.items():
        means = np.array([e.endpoints[name].mean_ms for e in loop])
        p95 = np.array([e.endpoints[name].p95_ms for e in loop])
        assert np.allclose(ep.mean_ms.values, means, rtol=1e-9), name
        assert np.allclose(ep.p95_ms.values, p95, rtol=1e-6), name
    for name, util in bands.utilization.items():
        values = np.array([e.components[name].utilization for e in loop])
        assert np.allclose(util.values, values, rtol=1e-9, atol=1e-12), name


def test_the_drawn_values_move_the_numbers() -> None:
    """The comparison above is not between two unchanged designs: the bands are wide."""
    design = made_uncertain(FAMILIES["cache"](random.Random("cache-1")))
    bands = dk.estimate(design, scale=loaded(design, 0.8), samples=50, seed=SEED).bands
    assert bands is not None
    spread = [ep.mean_ms.p95 / ep.mean_ms.p5 for ep in bands.endpoints.values()]
    assert max(spread) > 1.05
    assert bands.max_scale.p95 / bands.max_scale.p5 > 1.05


def test_bands_of_an_mm1_rate_are_the_closed_form() -> None:
    """One server of 10 ms under a rate drawn from 40–60 rps: max_scale = 100 / rate, the
    mean time 10 / (1 − rate / 100) ms, utilization rate / 100 — per sample."""
    d = dk.load({"designkit": 1, "name": "mm1", "components": {"api": {
        "kind": "service", "workers": 1, "endpoints": {"GET /x": {"cpu_ms": 10}}}},
        "workload": {"api GET /x": {"low": 40, "high": 60}}})
    e = dk.estimate(d, samples=400, seed=5)
    assert e.endpoints["api GET /x"].rps == 50.0  # the estimate itself: the range's middle
    bands = e.bands
    assert bands is not None
    rate = bands.inputs['workload."api GET /x"']
    assert rate.min() >= 40 and rate.max() <= 60 and len(rate) == 400
    np.testing.assert_allclose(bands.max_scale.values, 100 / rate, rtol=1e-3)
    np.testing.assert_allclose(bands.endpoints["api GET /x"].mean_ms.values,
                               10 / (1 - rate / 100), rtol=1e-12)
    np.testing.assert_allclose(bands.utilization["api"].values, rate / 100, rtol=1e-12)
    # M/M/1 sojourn is exponential: p95 = mean · ln 20 (to the grid's resolution)
    np.testing.assert_allclose(bands.endpoints["api GET /x"].p95_ms.values[:20],
                               10 / (1 - rate[:20] / 100) * math.log(20), rtol=5e-3)
    assert bands.max_scale.p50 == pytest.approx(float(np.median(100 / rate)), rel=1e-3)


def test_hit_ratio_band_is_the_closed_form() -> None:
    """A cache in front of one database server: its load is (1 − hit) × rate × time."""
    d = dk.load({"designkit": 1, "name": "cached", "components": {
        "c": {"kind": "cache", "hit_ratio": {"low": 0.6, "high": 0.9}, "service_ms": 0.5},
        "db": {"kind": "database", "cores": 1, "pool_size": 100},
        "api": {"kind": "service", "workers": 200, "io": "async", "endpoints": {"GET /x": {
            "steps": [{"cache": "c", "on_miss": [{"call": "db", "service_ms": 20}]}]}}}},
        "workload": {"api GET /x": 60}})
    bands = dk.estimate(d, samples=200, seed=2).bands
    assert bands is not None
    hit = bands.inputs["components.c.hit_ratio"]
    np.testing.assert_allclose(bands.utilization["db"].values, (1 - hit) * 60 * 0.020,
                               rtol=1e-9)
    np.testing.assert_allclose(bands.max_scale.values, 1 / ((1 - hit) * 60 * 0.020),
                               rtol=1e-3)


def test_same_seed_same_bands_and_other_seed_other_draws() -> None:
    d = made_uncertain(FAMILIES["cache"](random.Random("cache-2")))
    a = dk.estimate(d, samples=20, seed=4).bands
    b = dk.estimate(d, samples=20, seed=4).bands
    c = dk.estimate(d, samples=20, seed=5).bands
    assert a is not None and b is not None and c is not None
    assert np.array_equal(a.max_scale.values, b.max_scale.values)
    assert not np.array_equal(a.max_scale.values, c.max_scale.values)


def test_uncertain_rows_are_drawn_one_design_at_a_time() -> None:
    """Rows change the plans: the looped path, the same bands as a loop."""
    text = dk.dump(dk.template("dashboard-slow"))
    assert "rows: 2280000" in text
    d = dk.load(text.replace("rows: 2280000", "rows: {p50: 2280000, p95: 4000000}", 1))
    assert d.uncertain
    bands = dk.estimate(d, samples=4, seed=1).bands
    assert bands is not None
    rows = bands.inputs[next(iter(d.uncertain))]
    loop = [dk.estimate(uncertainty.with_values(d, {next(iter(d.uncertain)): float(r)}))
            for r in rows]
    np.testing.assert_allclose(bands.max_scale.values, [e.max_scale for e in loop])
    assert len(set(rows.tolist())) == 4 and all(r == round(r) for r in rows)
    assert bands.max_scale.values.max() > 1.05 * bands.max_scale.values.min()


def test_bad_samples_and_unsupported_places() -> None:
    d = made_uncertain(FAMILIES["cache"](random.Random("cache-1")))
    for bad in (0, -1, 1.5, True, 10**9):
        with pytest.raises(dk.ArgumentError, match="samples must be a whole number"):
            dk.estimate(d, samples=bad)  # type: ignore[arg-type]
    with pytest.raises(dk.DesignError) as err:
        dk.load({"designkit": 1, "name": "x", "components": {"api": {
            "kind": "service", "workers": {"low": 1, "high": 4}}}})
    assert str(err.value.problems[0]) == ("components.api.workers: a range is not accepted "
                                          "here; ranges are accepted on hit_ratio, rows and "
                                          "workload rates")
    with pytest.raises(dk.DesignError, match="low < high"):
        dk.load({"designkit": 1, "name": "x", "workload": {"a GET /x": {"low": 5, "high": 1}}})


def test_ranges_round_trip_through_the_file() -> None:
    text = dk.dump(dk.template("flash-sale")).replace(
        "hit_ratio: 0.999\n", "hit_ratio: {low: 0.98, high: 0.999}\n", 1)
    d = dk.load(text)
    assert list(d.uncertain.values()) == [Uncertain(low=0.98, high=0.999)]
    assert dk.dump(d) == text
    assert dk.load(dk.dump(d, "json")).uncertain == d.uncertain


def test_the_command_line_draws_the_same_bands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from designkit.cli import cli

    text = dk.dump(dk.template("flash-sale")).replace(
        "checkout-api POST /v1/orders: 10000", "checkout-api POST /v1/orders: "
        "{low: 6000, high: 14000}", 1)
    path = tmp_path / "sale.yaml"
    path.write_text(text, encoding="utf-8")
    out = CliRunner().invoke(cli, ["estimate", str(path), "--samples", "30", "--seed", "4",
                                   "--format", "json"])
    assert out.exit_code == 0, out.output
    bands = json.loads(out.output)["bands"]
    here = dk.estimate(dk.load(path), samples=30, seed=4).bands
    assert here is not None
    assert bands["max_scale"] == here.max_scale.to_dict()
    assert bands["inputs"] == {'workload."checkout-api POST /v1/orders"': Band.of(
        here.inputs['workload."checkout-api POST /v1/orders"']).to_dict()}
    assert set(bands["endpoints"]) == set(here.endpoints)
    typo = tmp_path / "typo.yaml"
    typo.write_text(text.replace("high: 14000", "hihg: 14000"), encoding="utf-8")
    out = CliRunner().invoke(cli, ["estimate", str(typo)])
    assert out.exit_code == 2
    assert ('workload."checkout-api POST /v1/orders": a range is {low, high} or {p50, p95}; '
            "got keys low, hihg") in out.output
    plain = tmp_path / "plain.yaml"
    plain.write_text(dk.dump(dk.template("flash-sale")), encoding="utf-8")
    out = CliRunner().invoke(cli, ["estimate", str(plain), "--samples", "5"])
    assert out.exit_code == 2 and "states no range" in out.output
