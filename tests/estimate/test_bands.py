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
from typing import Any

import numpy as np
import pytest

import designkit as dk
from designkit.flow.build import design_steps
from designkit.model.problems import format_path
from designkit.model.uncertain import Uncertain
from tests.estimate.designs import FAMILIES, loaded

uncertainty = importlib.import_module("designkit.estimate.uncertainty")
latency = importlib.import_module("designkit.estimate.latency")
Band = uncertainty.Band

SAMPLES = 6
SEED = 11


def made_uncertain(design: dk.Design, spread: float = 0.5, rates_only: bool = False
                   ) -> dk.Design:
    """``design`` with every hit ratio and workload rate a range around its value (the
    value its middle); with ``rates_only``, the rates alone (a held group's counts are
    then the same in every sample: moved for all samples at once)."""
    found: dict[str, Uncertain] = {}
    read = {step.cache for _, _, step in design_steps(design)  # caches whose ratio a step
            if isinstance(step, dk.CacheStep) and step.hit_ratio is None}  # reads
    for name, component in design.components.items():
        hit = getattr(component, "hit_ratio", None)
        if isinstance(component, dk.Cache) and name in read and hit is not None \
                and 0 < hit < 1:
            half = spread * min(hit, 1 - hit)
            found[format_path(("components", name, "hit_ratio"))] = Uncertain(
                low=hit - half, high=hit + half)
    for _, path, step in design_steps(design):
        hit = getattr(step, "hit_ratio", None)
        if hit is not None and 0 < hit < 1:
            half = spread * min(hit, 1 - hit)
            found[format_path((*path, "hit_ratio"))] = Uncertain(low=hit - half,
                                                                 high=hit + half)
    if rates_only:
        found.clear()
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


@pytest.mark.parametrize("family", ["lock", "transaction", "calls", "loop", "parallel", "publish",
                                    "mixed", "failing"])
def test_each_sample_holding_its_rates_is_the_design_holding_them(family: str) -> None:
    """Rates alone uncertain: held groups' holds moved for every sample in one product."""
    design = FAMILIES[family](random.Random(f"{family}-2"))
    scale = loaded(design, 0.85)
    design = made_uncertain(design, rates_only=True)
    bands = dk.estimate(design, scale=scale, samples=SAMPLES, seed=SEED).bands
    assert bands is not None
    loop = looped(design, bands.inputs, scale)
    for name, ep in bands.endpoints.items():
        means = np.array([e.endpoints[name].mean_ms for e in loop])
        assert np.allclose(ep.mean_ms.values, means, rtol=1e-9), name
    assert np.allclose(bands.max_scale.values, [e.max_scale for e in loop], rtol=2e-3)


def test_many_samples_exactness_is_each_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a group's holds read all its stations' visits, judged for many samples at
    once, is what each sample's own patch says (every group moved that way, checked)."""
    held_groups = importlib.import_module("designkit.estimate.held_groups")
    real = held_groups.HeldGroups.move_holds_columns
    judged: list[bool] = []

    def checked(run: Any, h: int, cols: np.ndarray, before: np.ndarray,
                after: np.ndarray) -> None:
        base = run.flows.patches[h]
        if not base.valued:
            each = [run.patch(h, int(c)).exact for c in cols]
            assert run.exact_columns(base, cols).tolist() == each
            judged.extend(each)
        real(run, h, cols, before, after)

    monkeypatch.setattr(held_groups.HeldGroups, "move_holds_columns", checked)
    for family in ("lock", "transaction", "publish", "mixed"):
        design = made_uncertain(FAMILIES[family](random.Random(f"{family}-2")),
                                rates_only=True)
        dk.estimate(design, scale=loaded(design, 0.85), samples=SAMPLES, seed=SEED)
    assert judged


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


def _cached() -> dk.Design:
    """A cache (hit ratio 0.6–0.9) in front of one database server, 60 requests/s."""
    return dk.load({"designkit": 1, "name": "cached", "components": {
        "c": {"kind": "cache", "hit_ratio": {"low": 0.6, "high": 0.9}, "service_ms": 0.5},
        "db": {"kind": "database", "cores": 1, "pool_size": 100},
        "api": {"kind": "service", "workers": 200, "io": "async", "endpoints": {"GET /x": {
            "steps": [{"cache": "c", "on_miss": [{"call": "db", "service_ms": 20}]}]}}}},
        "workload": {"api GET /x": 60}})


def test_hit_ratio_band_is_the_closed_form() -> None:
    """A cache in front of one database server: its load is (1 − hit) × rate × time."""
    d = _cached()
    bands = dk.estimate(d, samples=200, seed=2).bands
    assert bands is not None
    hit = bands.inputs["components.c.hit_ratio"]
    np.testing.assert_allclose(bands.utilization["db"].values, (1 - hit) * 60 * 0.020,
                               rtol=1e-9)
    np.testing.assert_allclose(bands.max_scale.values, 1 / ((1 - hit) * 60 * 0.020),
                               rtol=1e-3)


def test_a_design_edited_and_checked_again_keeps_its_ranges() -> None:
    """An edit checks the design again in place; the flow the estimate starts from must
    still hold its ranges."""
    d = _cached()
    d.components["db"].cores = 2  # type: ignore[union-attr]
    bands = dk.estimate(d, samples=50, seed=2).bands
    assert bands is not None
    hit = bands.inputs["components.c.hit_ratio"]
    np.testing.assert_allclose(bands.utilization["db"].values, (1 - hit) * 60 * 0.020 / 2,
                               rtol=1e-9)


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


def _cached_design(hit: dict[str, float] | float = 0.7) -> dict:  # type: ignore[type-arg]
    return {"designkit": 1, "name": "cached", "components": {
        "c": {"kind": "cache", "hit_ratio": hit, "service_ms": 0.5},
        "db": {"kind": "database", "cores": 1, "pool_size": 100},
        "api": {"kind": "service", "workers": 200, "io": "async", "endpoints": {"GET /x": {
            "steps": [{"cache": "c", "on_miss": [{"call": "db", "service_ms": 20}]}]}}}},
        "workload": {"api GET /x": 60}}


def test_a_range_whose_number_was_changed_is_refused_and_not_written_back() -> None:
    """Editing a number that holds a range's middle: the edit wins on save (the range is
    dropped), and drawing from the range is refused with the place named."""
    d = dk.load(_cached_design({"low": 0.5, "high": 0.9}))
    d.components["c"].hit_ratio = 0.2
    assert dk.load(dk.dump(d)).components["c"].hit_ratio == 0.2
    assert dk.load(dk.dump(d)).uncertain == {}
    with pytest.raises(dk.DesignError) as err:
        dk.estimate(d, samples=5, seed=1)
    assert err.value.problems[0].path == "components.c.hit_ratio"
    assert "no longer holds the middle of its range (0.5–0.9)" in err.value.problems[0].message


def test_what_a_scenario_sets_is_not_drawn() -> None:
    """A cold cache keeps its hit ratio of 0 in every sample (the columns and the looped
    path alike)."""
    d = dk.load(_cached_design({"low": 0.5, "high": 0.9}))
    with pytest.raises(dk.ArgumentError, match="the scenario"):
        dk.estimate(d, scenario=dk.Scenario(cold_caches=True), samples=5, seed=1)
    d.vary('workload."api GET /x"', low=30, high=40)
    cold = dk.estimate(d, scenario=dk.Scenario(cold_caches=True), samples=20, seed=1).bands
    assert cold is not None and list(cold.inputs) == ['workload."api GET /x"']
    rate = cold.inputs['workload."api GET /x"']
    np.testing.assert_allclose(cold.utilization["db"].values, rate * 0.020, rtol=1e-9)


def test_workload_keys_are_read_as_references() -> None:
    data = _cached_design()
    data["workload"] = {"api get  /x": {"low": 40, "high": 60}}
    d = dk.load(data)
    assert list(d.uncertain) == ['workload."api GET /x"'] and d.workload == {"api GET /x": 50}
    again = dk.load(dk.dump(d))
    assert again.uncertain == d.uncertain and again.workload == d.workload
    assert "api GET /x: {low: 40, high: 60}" in dk.dump(d)  # whole numbers as written
    bands = dk.estimate(d, samples=30, seed=2).bands
    assert bands is not None and bands.max_scale.p95 > 1.2 * bands.max_scale.p5


def test_ranges_stay_within_what_the_number_may_be() -> None:
    for key, value, text in (
            ("workload", {"low": 1, "high": 1.9e9}, "high must be ≤ 1,000,000,000"),
            ("workload", {"p50": 1, "p95": 1e300}, "p95 must be ≤ 1,000,000,000"),
            ("hit", {"low": 0.5, "high": 1.2}, "high must be ≤ 1"),
            ("hit", {"p50": 0.5, "p95": 0.9}, "a ratio's uncertainty is a range"),
            ("workers", {"p50": 1, "p95": 4}, "a range is not accepted here")):
        data = _cached_design()
        if key == "workload":
            data["workload"] = {"api GET /x": value}
        elif key == "hit":
            data["components"]["c"]["hit_ratio"] = value
        else:
            data["components"]["api"]["workers"] = value
        with pytest.raises(dk.DesignError, match=text):
            dk.load(data)
    # a lognormal's draws are cut where a rate ends
    data = _cached_design()
    data["workload"] = {"api GET /x": {"p50": 1e8, "p95": 9e8}}
    bands = dk.estimate(dk.load(data), samples=200, seed=1).bands
    assert bands is not None and bands.inputs['workload."api GET /x"'].max() <= 1e9


def test_seeds_and_samples_are_whole_numbers() -> None:
    d = dk.load(_cached_design({"low": 0.5, "high": 0.9}))
    for bad in (-1, 1.5, "a", True, float("nan")):
        with pytest.raises(dk.ArgumentError, match="seed must be a whole number"):
            dk.estimate(d, samples=3, seed=bad)  # type: ignore[arg-type]
    e = dk.estimate(d, samples=np.int64(3), seed=np.int64(4))  # type: ignore[arg-type]
    assert e.bands is not None and e.bands.seed == 4
    assert '"seed": 4' in e.to_json()


def test_an_estimate_with_bands_pickles() -> None:
    import pickle

    d = dk.load(_cached_design({"low": 0.5, "high": 0.9}))
    e = dk.estimate(d, samples=5, seed=1)
    back = pickle.loads(pickle.dumps(e))
    assert back.bands is not None and e.bands is not None
    assert back.bands.endpoints["api GET /x"].p95_ms == e.bands.endpoints["api GET /x"].p95_ms
    assert back.max_scale == e.max_scale


def test_a_range_nothing_reads_is_named() -> None:
    data = _cached_design({"low": 0.5, "high": 0.9})
    data["components"]["api"]["endpoints"]["GET /x"]["steps"][0]["hit_ratio"] = 0.8
    with pytest.raises(dk.DesignError, match="no step reads this number"):
        dk.estimate(dk.load(data), samples=3, seed=1)


def test_vary_names_the_place_and_the_fix() -> None:
    d = dk.load(_cached_design())
    for path, fix in (('workload."api GET /nope"', "give the endpoint a rate first"),
                      ("components.nope.hit_ratio", "no such number"),
                      ("components..c.hit_ratio", "not a path as the design's errors"),
                      ("components.c.hit_ratio ", "not a path as the design's errors"),
                      ("components.api.workers", "not accepted here")):
        with pytest.raises(dk.DesignError, match=fix):
            d.vary(path, low=0.1, high=0.2)
    with pytest.raises(dk.DesignError, match="low < high"):
        d.vary("components.c.hit_ratio", low=0.5, high=0.5)
    assert d.uncertain == {}
    with pytest.raises(TypeError):
        d.uncertain["components.c.hit_ratio"] = Uncertain(low=0.1, high=0.2)  # type: ignore[index]


def test_every_endpoints_percentiles_are_composed_together_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the first band read composes every endpoint of every sample (callees once for all
    # their callers), the samples as columns, a few at a time; the other bands read them,
    # composing nothing more
    monkeypatch.setattr(latency, "COMPOSED_AT_ONCE", 4)
    design = made_uncertain(FAMILIES["calls"](random.Random("calls-1")))
    bands = dk.estimate(design, samples=SAMPLES, seed=SEED).bands
    assert bands is not None and len(bands.endpoints) >= 2
    composed: list[tuple[int, int]] = []
    real = latency.endpoint_latencies

    def counted(solution: Any, index: int, size: int = 2048) -> Any:
        out = real(solution, index, size)
        composed.append((index, out.shape[1]))
        return out

    monkeypatch.setattr(latency, "endpoint_latencies", counted)
    first, *others = bands.endpoints.values()
    first.p95_ms  # noqa: B018 - reading composes
    assert sorted(composed) == sorted((i, n) for i in range(len(bands.endpoints))
                                      for n in (4, SAMPLES - 4))
    for other in others:
        other.p99_ms  # noqa: B018
    assert len(composed) == 2 * len(bands.endpoints)


def _every_percentile(bands: Any) -> np.ndarray:
    """Every endpoint's p50, p95, p99 and mean of every sample, in one array."""
    return np.array([[ep.p50_ms.values, ep.p95_ms.values, ep.p99_ms.values,
                      ep.mean_ms.values] for ep in bands.endpoints.values()])


COMPOSED = [(family, seed) for family in FAMILIES if family != "calibrated"
            for seed in (1, 2, 3)]


@pytest.mark.parametrize(("family", "seed"), COMPOSED, ids=[f"{f}-{s}" for f, s in COMPOSED])
def test_samples_composed_together_are_each_sample_composed_alone(
        family: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Samples composed as the columns of one solution — each on the grids it chooses,
    the columns that chose the same grid composed together — are each sample composed on
    its own, on the program holding its values (hit ratios in its cache reads): p50, p95,
    p99 and the mean of every endpoint, to rounding."""
    design = FAMILIES[family](random.Random(f"{family}-{seed}"))
    scale = loaded(design, 0.85)
    design = made_uncertain(design)
    together = _every_percentile(dk.estimate(design, scale=scale, samples=SAMPLES,
                                             seed=SEED).bands)
    monkeypatch.setattr(latency, "COMPOSED_AT_ONCE", 4)  # (4 and 2: other groups)
    fours = _every_percentile(dk.estimate(design, scale=scale, samples=SAMPLES,
                                          seed=SEED).bands)
    monkeypatch.setattr(uncertainty._Percentiles, "columnwise", False)
    alone = _every_percentile(dk.estimate(design, scale=scale, samples=SAMPLES,
                                          seed=SEED).bands)
    assert np.isfinite(alone).any()
    assert np.allclose(together, alone, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.allclose(fours, alone, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_a_sampled_hit_ratio_that_moves_failures_is_composed_sample_by_sample() -> None:
    """A cache read whose miss path can fail makes how often a request fails depend on
    the sampled hit ratio: such samples are composed one by one, each on the program
    holding its values (and a read whose miss path cannot fail does not)."""
    plain = FAMILIES["cache"](random.Random("cache-1"))
    failing = plain.model_copy(deep=True)
    failing.components["ext"].failure_rate = 0.2  # (the first read's miss calls it)
    seen = {}
    for name, design in (("failing", failing), ("plain", plain)):
        scale = loaded(design, 0.85)
        design = made_uncertain(design)
        bands = dk.estimate(design, scale=scale, samples=SAMPLES, seed=SEED).bands
        assert bands is not None
        compute = next(iter(bands.endpoints.values()))._percentiles
        percentiles = next(c.cell_contents for c in compute.__closure__ or ()
                           if isinstance(c.cell_contents, uncertainty._Percentiles))
        seen[name] = percentiles.columnwise
        loop = looped(design, bands.inputs, scale)
        for ep_name, ep in bands.endpoints.items():
            p95 = np.array([e.endpoints[ep_name].p95_ms for e in loop])
            assert np.allclose(ep.p95_ms.values, p95, rtol=1e-6), (name, ep_name)
    assert seen == {"failing": False, "plain": True}


@pytest.mark.parametrize(("family", "seed"), [("lock", 7), ("transaction", 3), ("mixed", 2)])
def test_the_holds_spread_of_many_columns_is_each_columns(
        family: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # the squared variation of a held station's holding times, read for every sample at
    # once, is what each sample's own reading gives
    held_groups = importlib.import_module("designkit.estimate.held_groups")

    design = made_uncertain(FAMILIES[family](random.Random(f"{family}-{seed}")))
    checked: list[int] = []
    real = held_groups.HeldGroups.between_columns

    def compared(run: Any, station: int, cols: np.ndarray) -> np.ndarray:
        got = real(run, station, cols)
        each = [run.between(station, int(c)) for c in cols.tolist()]
        assert np.allclose(got, each, rtol=1e-12, atol=1e-15)
        checked.append(len(cols))
        return got

    monkeypatch.setattr(held_groups.HeldGroups, "between_columns", compared)
    dk.estimate(design, scale=loaded(design, 0.9), samples=64, seed=SEED)
    assert checked and max(checked) >= 4, "no held group was solved for many columns"


def _mm1_rate_design() -> dk.Design:
    return dk.load({"designkit": 1, "name": "mm1", "components": {"api": {
        "kind": "service", "workers": 1, "endpoints": {"GET /x": {"cpu_ms": 10}}}},
        "workload": {"api GET /x": {"low": 40, "high": 60}}})


def test_an_exact_edge_found_on_a_few_columns_is_tried_on_every_one() -> None:
    # one worker holding 10 ms of cpu: its holding time does not grow with the load, so
    # the first bound (100 / rate) is exact for every sample, not only for those probed
    from designkit.estimate.capacity import EDGE_PROBES

    bands = dk.estimate(_mm1_rate_design(), samples=4 * EDGE_PROBES, seed=5).bands
    assert bands is not None
    rate = bands.inputs['workload."api GET /x"']
    np.testing.assert_allclose(bands.max_scale.values, 100 / rate * (1 - 1e-9), rtol=1e-12)


def test_an_edge_exact_on_no_probe_is_not_tried_on_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a pool held across queries: its holding time grows with the load, the first bound
    # is never exact — tried on EDGE_PROBES columns only, the rest bisected (as the loop)
    from designkit.estimate import capacity

    design = made_uncertain(FAMILIES["transaction"](random.Random("transaction-3")))
    sizes: list[int] = []
    real = capacity.trials

    def spied(*args: Any, **kwargs: Any) -> Any:
        sizes.append(len(args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(capacity, "trials", spied)
    bands = dk.estimate(design, samples=SAMPLES * 4, seed=SEED).bands
    assert bands is not None
    assert sizes[1] == capacity.EDGE_PROBES and sizes[2] == SAMPLES * 4  # then bisection
    loop = [dk.estimate(uncertainty.with_values(design, {p: float(v[k])
                                                         for p, v in bands.inputs.items()}))
            .max_scale for k in range(6)]
    np.testing.assert_allclose(bands.max_scale.values[:6], loop, rtol=2e-3)


@pytest.mark.parametrize(("family", "seed"), [("cache", 1), ("cache", 2), ("mixed", 2),
                                              ("mixed", 4)])
def test_holds_moved_for_many_samples_are_each_samples(
        family: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # counts that read a sample's hit ratios, read for every sample at once and moved as
    # one product per column: what moving each sample's own holds gives (means, spreads,
    # and whether a column must be composed again)
    held_groups = importlib.import_module("designkit.estimate.held_groups")

    design = made_uncertain(FAMILIES[family](random.Random(f"{family}-{seed}")))
    checked: list[int] = []
    real = held_groups.HeldGroups.move_holds_columns

    def compared(run: Any, h: int, cols: np.ndarray, before: np.ndarray,
                 after: np.ndarray) -> None:
        if not run.flows.patches[h].valued:
            real(run, h, cols, before, after)
            return
        kept = run.mean.copy(), run.var.copy(), run.stale.copy()
        for j, col in enumerate(cols.tolist()):
            run.move_holds(h, col, before[:, j], after[:, j])
        each = run.mean.copy(), run.var.copy(), run.stale.copy()
        run.mean[...], run.var[...], run.stale[...] = kept
        real(run, h, cols, before, after)
        np.testing.assert_allclose(run.mean, each[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(run.var, each[1], rtol=1e-12, atol=1e-15)
        assert run.stale.tolist() == each[2].tolist()
        # (here every sample's counts read every visit of the group's stations: with its
        # miss ratio 1 − hit, no column needs composing again)
        assert not run.stale[cols].any()
        checked.append(len(cols))

    monkeypatch.setattr(held_groups.HeldGroups, "move_holds_columns", compared)
    dk.estimate(design, scale=loaded(design, 0.9), samples=64, seed=SEED)
    assert checked and max(checked) >= 4, "no group's counts read a sample's hit ratio"


def test_bands_read_after_the_estimate_are_the_bands_read_first() -> None:
    # one worker serving a 1 ms and a 30 ms endpoint (an M/G/1: its exact wait is composed
    # from what its service is made of, in each sample's own shares): composing the
    # nominal estimate first must leave the samples' shares their own
    def design() -> dk.Design:
        return dk.load({"designkit": 1, "name": "mix", "components": {"api": {
            "kind": "service", "workers": 1,
            "endpoints": {"GET /a": {"cpu_ms": 1}, "GET /b": {"cpu_ms": 30}}}},
            "workload": {"api GET /a": {"low": 5, "high": 200},
                         "api GET /b": {"low": 1, "high": 20}}})

    first = dk.estimate(design(), samples=12, seed=3)
    assert first.bands is not None
    alone = first.bands.endpoints["api GET /a"].p95_ms.values
    after = dk.estimate(design(), samples=12, seed=3)
    after.to_dict()  # every endpoint of the nominal estimate composed
    assert after.bands is not None
    np.testing.assert_array_equal(after.bands.endpoints["api GET /a"].p95_ms.values, alone)
    loop = looped(design(), first.bands.inputs, 1.0)
    np.testing.assert_allclose(alone[:SAMPLES], [e.endpoints["api GET /a"].p95_ms
                                                 for e in loop], rtol=1e-9)
