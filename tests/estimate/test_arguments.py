"""The estimator's calls refuse what they cannot answer — with the argument, its value and
what would be valid — and their results can be pickled."""

from __future__ import annotations

import json
import math
import pickle

import pytest

import designkit as dk
from designkit.estimate.arguments import ArgumentError, suggest
from designkit.estimate.result import NotFoundError


def single_station(rps: float = 90.0) -> dk.Design:
    design = dk.Design(name="station")
    design.service("api", workers=10).endpoint("GET /items", cpu_ms=100)
    design.set_load("api GET /items", rps)
    return design


# -- 4. arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scale": -1}, "scale must be a finite number > 0, got -1"),
    ({"scale": 0}, "scale must be a finite number > 0, got 0"),
    ({"scale": math.nan}, "scale must be a finite number > 0, got nan"),
    ({"scale": math.inf}, "scale must be a finite number > 0, got inf"),
    ({"scale": "2"}, "scale must be a finite number > 0, got '2'"),
    ({"days": -1}, "days must be a finite number ≥ 0, got -1"),
    ({"days": math.nan}, "days must be a finite number ≥ 0, got nan"),
    ({"scenario": dk.Scenario(scale=0)}, "the scenario's scale must be a finite number > 0"),
    ({"scale": 1e300, "scenario": dk.Scenario(scale=1e10)},
     "scale × the scenario's scale must be finite, got 1e+300 × 10000000000.0"),
])
def test_estimate_refuses_arguments_out_of_range(kwargs: dict[str, object],
                                                  message: str) -> None:
    with pytest.raises(ArgumentError, match=message.replace("+", r"\+")) as caught:
        dk.estimate(single_station(), **kwargs)  # type: ignore[arg-type]
    assert isinstance(caught.value, dk.DesignkitError) and isinstance(caught.value, ValueError)


def test_simulate_and_growth_refuse_them_too() -> None:
    from designkit.estimate.simulate import simulate

    with pytest.raises(ArgumentError, match="scale must be a finite number > 0, got -2"):
        simulate(single_station(), duration_s=1, scale=-2)
    with pytest.raises(ArgumentError, match="days must be a finite number ≥ 0, got -5"):
        dk.growth(single_station(), days=-5)


def test_a_scenario_name_not_in_the_design_suggests_the_nearest() -> None:
    design = dk.template("payments-saga")
    with pytest.raises(dk.DesignError) as caught:
        dk.estimate(design, scenario=dk.Scenario(slow={"paymnt": 3}))
    problem = caught.value.problems[0]
    assert problem.path == "scenario.slow.paymnt" and "payment-provider" in problem.suggestions
    assert "did you mean" in str(caught.value)
    with pytest.raises(dk.DesignError) as caught:  # externals and services can fail
        dk.estimate(design, scenario=dk.Scenario(failing={"paymnt": 0.5}))
    assert caught.value.problems[0].suggestions == ("payment-provider", "payments-svc")


@pytest.mark.parametrize(("scenario", "message"), [
    (dk.Scenario(slow={"payment-provider": math.nan}), "factor must be a finite number > 0"),
    (dk.Scenario(slow={"payment-provider": 1e12}), "out of its range"),
    (dk.Scenario(lost_replicas={"orders-svc": -1}), "must be a whole number ≥ 0, got -1"),
    (dk.Scenario(failing={"payment-provider": math.nan}), "failure rate must be in [0, 1]"),
])
def test_a_scenario_value_out_of_range_is_a_located_problem(scenario: dk.Scenario,
                                                             message: str) -> None:
    with pytest.raises(dk.DesignError, match=message.replace("[", r"\[")):
        dk.estimate(dk.template("payments-saga"), scenario=scenario)


def test_suggest_finds_a_misspelt_word_of_a_name() -> None:
    names = ["payment-provider", "orders-db", "stock-cache"]
    assert suggest("paymnt", names) == ("payment-provider",)
    assert suggest("Orders-DB", names) == ("orders-db",)
    assert suggest("zzz", names) == ()


def test_an_unknown_endpoint_or_station_is_a_key_error_naming_the_nearest() -> None:
    e = dk.estimate(dk.template("flash-sale"))
    with pytest.raises(NotFoundError) as caught:
        e.endpoints["checkout-api GET /typo"]
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, dk.DesignkitError)
    assert str(caught.value) == ("no endpoint 'checkout-api GET /typo' has traffic in this "
                                 "estimate; did you mean 'checkout-api POST /v1/orders'?")
    with pytest.raises(KeyError, match="did you mean 'checkout-api workers'"):
        e.station("checkout-api wrkers")
    with pytest.raises(KeyError, match=r"no component 'orders-bd'.*'orders-db'"):
        e.components["orders-bd"]
    assert e.endpoints.get("checkout-api GET /typo") is None
    assert "checkout-api GET /typo" not in e.endpoints


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"p95_ms": -5}, "p95_ms must be a finite number > 0, got -5"),
    ({"p95_ms": 0}, "p95_ms must be a finite number > 0, got 0"),
    ({"p95_ms": math.nan}, "p95_ms must be a finite number > 0, got nan"),
    ({"utilization_max": 0}, r"utilization_max must be a finite number in \(0, 1\], got 0"),
    ({"utilization_max": 1.5}, r"utilization_max must be a finite number in \(0, 1\]"),
    ({"min_replicas": 0}, "min_replicas must be a whole number ≥ 1, got 0"),
])
def test_size_refuses_targets_out_of_range(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        dk.size(single_station(), **kwargs)  # type: ignore[arg-type]


def test_size_stops_at_the_designs_bounds() -> None:
    # A 100 ms cpu cannot meet p95 ≤ 50 ms however many replicas: growth stops at 10,000
    # (the most a design may have) and says so.
    with pytest.raises(dk.SizingError, match="replicas at its bound of 10,000"):
        dk.size(single_station(9.0), p95_ms=50)


@pytest.mark.parametrize("workload", [None, {"api GET /items": 0}])
def test_an_estimate_without_workload_says_how_to_add_one(
        workload: dict[str, float] | None) -> None:
    design = dk.Design(name="idle")
    design.service("api").endpoint("GET /items", cpu_ms=1)
    if workload:
        design.set_load("api GET /items", 0)
    e = dk.estimate(design)
    text = str(e)
    assert text.startswith("nothing to estimate in 'idle': ")
    assert ("it has no workload" in text) == (workload is None)
    assert 'workload: {"api GET /items": 100}' in text
    assert 'design.set_load("api GET /items", 100)' in text
    assert "no station is loaded" not in text and "----" not in text
    assert "set_load" in e._repr_html_()
    assert json.loads(e.to_json())["endpoints"] == {}


# -- 6. pickling ---------------------------------------------------------------------------


@pytest.mark.parametrize("design", [
    pytest.param(dk.template("flash-sale"), id="template"),
    pytest.param(single_station(120.0), id="saturated"),
])
def test_an_estimate_pickles_and_round_trips(design: dk.Design) -> None:
    e = dk.estimate(design)
    again = pickle.loads(pickle.dumps(e))
    assert again.to_json() == e.to_json()
    assert str(again) == str(e)
    key = next(iter(e.endpoints))
    assert again.endpoints[key] == e.endpoints[key]
    with pytest.raises(NotFoundError):
        again.endpoints["nope"]


def test_a_simulated_estimate_pickles() -> None:
    from designkit.estimate.simulate import simulate

    e = simulate(single_station(50.0), duration_s=20, seed=1, progress=False)
    assert pickle.loads(pickle.dumps(e)).to_json() == e.to_json()
