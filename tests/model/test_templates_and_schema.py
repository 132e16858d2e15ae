"""Every template validates, against the model and against the published JSON Schema."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import designkit as dk

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(p.stem for p in (ROOT / "templates").glob("*.yaml"))


def test_the_five_templates_ship() -> None:
    assert NAMES == ["dashboard-fixed", "dashboard-slow", "flash-sale", "payments-monolith",
                     "payments-saga"]
    assert list(dk.templates()) == NAMES
    assert all(description for description in dk.templates().values())


@pytest.mark.parametrize("name", NAMES)
def test_template_validates_and_round_trips(name: str) -> None:
    design = dk.template(name)
    assert design.name == name
    assert design.workload, "a template drives some load"
    assert dk.load(dk.dump(design)) == design


@pytest.mark.parametrize("name", NAMES)
def test_template_matches_the_json_schema(name: str) -> None:
    schema = dk.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(dk.template_text(name))
    jsonschema.validate(json.loads(json.dumps(data, default=str)), schema)


def test_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(dk.json_schema())
    bad = {"designkit": 1, "name": "x", "components": {"api": {"kind": "service",
                                                              "replicaz": 2}}}
    assert [e.message for e in validator.iter_errors(bad)] != []
    good = {"designkit": 1, "name": "x", "components": {"api": {"kind": "service",
                                                               "replicas": 2}}}
    assert list(validator.iter_errors(good)) == []


def test_schema_carries_field_help_for_editors() -> None:
    schema = dk.json_schema()
    cores = schema["$defs"]["Database"]["properties"]["cores"]
    assert cores["description"] == "CPU cores (servers of the CPU station)."
    assert cores["minimum"] == 1


def test_unknown_template_suggests_names() -> None:
    with pytest.raises(dk.TemplateNotFoundError) as info:
        dk.template("flash-sail")
    assert str(info.value).startswith("no template named 'flash-sail'; did you mean "
                                      "'flash-sale'?")


def test_templates_ship_inside_the_wheel(tmp_path: Path) -> None:
    """Built from this checkout, the wheel holds the templates where the package looks."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(tmp_path), str(ROOT)], check=True)
    wheel = next(tmp_path.glob("designkit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n for n in names if n.startswith("designkit/_templates/")) == [
        f"designkit/_templates/{name}.yaml" for name in NAMES]


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(dk.json_schema())


_METHOD_SPELLINGS = st.sampled_from(["GET", "get", "Get", "pOsT", "DELETE", "GTE", "FETCH", ""])
_GAPS = st.sampled_from([" ", "  ", "\t", "\u00a0", ""])
_PATHS = st.sampled_from(["/items", "/items/{id}", "/", "items", "/a b", "/a\u00a0b"])


@settings(max_examples=300, deadline=None)
@given(method=_METHOD_SPELLINGS, gap=_GAPS, path=_PATHS, ref_method=_METHOD_SPELLINGS,
       ref_gap=_GAPS, lead=_GAPS)
def test_the_schema_and_the_loader_accept_the_same_keys(method: str, gap: str, path: str,
                                                        ref_method: str, ref_gap: str,
                                                        lead: str) -> None:
    """An endpoint key and a workload key spelt every which way: the JSON Schema accepts
    the file exactly when ``dk.load`` does (in both directions). The workload key names the
    endpoint by the same method and path (a reference to another endpoint is a loader-only
    check), so only the spelling varies."""
    key = f"{method}{gap}{path}"
    ref = f"api{lead}{ref_method}{ref_gap}{path}"
    data = {"designkit": 1, "name": "keys", "components": {
        "api": {"kind": "service", "endpoints": {key: {"cpu_ms": 1}}}},
        "workload": {ref: 1}}
    schema_ok = not list(_validator().iter_errors(data))
    same_endpoint = ref_method.upper() == method.upper()
    try:
        dk.load(data)
        loader_ok = True
    except dk.DesignError:
        loader_ok = False
    if schema_ok and not same_endpoint:
        assert not loader_ok  # a reference to a missing endpoint: the loader alone knows
        return
    assert schema_ok == loader_ok, (key, ref)


def test_schema_accepts_ranges_where_the_loader_does() -> None:
    """Ranges in place of numbers: the schema and the loader agree on where."""
    import jsonschema
    import yaml

    schema = dk.json_schema()
    text = dk.dump(dk.template("dashboard-slow")).replace(
        "rows: 2280000", "rows: {p50: 2280000, p95: 4000000}", 1)
    text = text.replace("workload:\n", "workload:\n  # a range\n", 1)
    data = yaml.safe_load(text)
    ref = next(iter(data["workload"]))
    data["workload"][ref] = {"low": 5, "high": 9}
    jsonschema.validate(data, schema)
    design = dk.load(data)
    assert set(design.uncertain) == {"components.app-db.tables.payments.rows",
                                     f'workload."{ref}"'}
    assert design.workload[ref] == 7.0
    for bad in ({"low": 5, "high": 9, "p50": 6}, {"low": 5}, {"mean": 3}):
        data["workload"][ref] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)
        with pytest.raises(dk.DesignError):
            dk.load(data)
