"""The input sweep: every file that once validated "ok" and then crashed, hung or misled
now gets one located error at validation (or reads as the user meant)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import designkit as dk

SERVICE = """\
designkit: 1
name: x
components:
  api:
    kind: service
    workers: {workers}
    endpoints:
      "GET /items":
        cpu_ms: {cpu}
workload:
  "api GET /items": {rps}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(dk.DesignError) as info:
        dk.load(text)
    return [str(p) for p in info.value.problems]


def service(workers: object = 8, cpu: object = 1, rps: object = 10) -> str:
    return SERVICE.format(workers=workers, cpu=cpu, rps=rps)


# -- resource exhaustion -----------------------------------------------------------------

BOMB = "".join(
    f"    {name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True))
BOMB_DESIGN = ("designkit: 1\nname: bomb\ncomponents:\n  api:\n    kind: service\n"
               "    endpoints:\n      \"POST /x\":\n        request_schema:\n"
               + "".join("      " + line for line in BOMB.splitlines(keepends=True)))


def test_an_alias_bomb_in_a_request_schema_is_refused() -> None:
    assert len(BOMB_DESIGN.encode()) < 1024
    assert problems_of(BOMB_DESIGN) == [
        "<text>: aliases expand this document to 490,329,080 nodes from 44 written (an "
        "alias bomb?); designkit expands at most 100,440 here: write the repeated parts out"]


@pytest.mark.parametrize("extra", ["      merged: {<<: *i}\n", "      a: 1\n"],
                         ids=["merge-key", "duplicate-key"])
def test_an_alias_bomb_with_a_merge_or_duplicate_key_is_refused_before_the_careful_path(
        extra: str) -> None:
    [problem] = problems_of(BOMB_DESIGN + extra)
    assert "alias bomb" in problem


def test_a_self_referencing_alias_is_a_located_error() -> None:
    assert problems_of("designkit: 1\nname: x\ndescription: &d [1, *d]\n") == [
        "line 3: an alias refers to a node that holds it (a loop): a design is a tree; write "
        "the part out instead of aliasing it"]


def test_deeply_nested_json_is_a_clear_error() -> None:
    text = '{"designkit": 1, "name": "x", "description": ' + "[" * 5000 + "]" * 5000 + "}"
    [problem] = problems_of(text)
    assert problem.startswith("<text>: not a design: the JSON nests deeper")


def test_nesting_past_the_limit_is_a_located_error() -> None:
    nested: object = 1
    for _ in range(150):
        nested = {"a": nested}
    [problem] = problems_of(json.dumps({"designkit": 1, "name": "x", "description": nested}))
    assert problem.endswith("nests more than 100 levels deep; a design needs a few dozen")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("workers", "1e9", "components.api.workers: must be ≤ 100,000, got 1,000,000,000"),
    ("workers", "1e7", "components.api.workers: must be ≤ 100,000, got 10,000,000"),
    ("cpu", ".inf", 'components.api.endpoints."GET /items".cpu_ms: must be a finite number, '
                    "got inf"),
    ("cpu", "1e999", 'components.api.endpoints."GET /items".cpu_ms: must be a finite number, '
                     "got inf"),
    ("cpu", "{p50: 0.001, p95: 1000000}", 'components.api.endpoints."GET /items".cpu_ms: '
     "p95 (1e+06) is more than 100× p50 (0.001): two percentiles cannot pin a tail that "
     "wide; give {mean, scv} instead"),
    ("cpu", "{mean: 1, scv: 1e9}", 'components.api.endpoints."GET /items".cpu_ms.scv: must be '
                                   "≤ 100, got 1,000,000,000"),
    ("rps", "-3000", 'workload."api GET /items": must be ≥ 0, got -3,000'),
    ("rps", ".nan", 'workload."api GET /items": must be a finite number, got nan'),
    ("rps", "-.inf", 'workload."api GET /items": must be a finite number, got -inf'),
    ("rps", "1e10", 'workload."api GET /items": must be ≤ 1,000,000,000, got 10,000,000,000'),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
def test_numbers_out_of_bounds_are_refused_at_validation(field: str, value: str,
                                                         message: str) -> None:
    assert problems_of(service(**{field: value})) == [message]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_numbers_are_refused(token: str) -> None:
    text = ('{"designkit": 1, "name": "x", "components": {"api": {"kind": "service", '
            '"endpoints": {"GET /a": {}}}}, "workload": {"api GET /a": ' + token + "}}")
    [problem] = problems_of(text)
    assert problem.startswith('workload."api GET /a": must be a finite number, got ')


def test_huge_values_are_refused_not_crashed_on() -> None:
    db = ("designkit: 1\nname: x\ncomponents:\n  db: {kind: database, cores: 1e12, "
          "pool_size: 1e9}\n  api: {kind: service, replicas: 1e11, workers: 1e10}\n")
    assert problems_of(db) == [
        "components.api.replicas: must be ≤ 10,000, got 100,000,000,000",
        "components.api.workers: must be ≤ 100,000, got 10,000,000,000",
        "components.db.cores: must be ≤ 100,000, got 1,000,000,000,000",
        "components.db.pool_size: must be ≤ 100,000, got 1,000,000,000"]


def test_integers_beyond_pythons_digit_limit_are_refused() -> None:
    [problem] = problems_of(service(workers="9" * 5000))
    assert problem == "components.api.workers: must be a finite number, got inf"
    assert problems_of("designkit: " + "1" * 1_000_000 + "\nname: x\n") == [
        "designkit: the format version is a whole number, got inf; write `designkit: 1`"]
    assert problems_of('{"designkit": ' + "1" * 10_000 + ', "name": "x"}') == [
        "designkit: the format version is a whole number, got inf; write `designkit: 1`"]


def test_retries_beyond_their_bound_are_refused() -> None:
    text = ("designkit: 1\nname: x\ncomponents:\n  p: {kind: external, retries: {max: 1000, "
            "backoff: exponential}}\n")
    assert problems_of(text) == ["components.p.retries.max: must be ≤ 100, got 1,000"]


# -- keys and names ----------------------------------------------------------------------

def test_a_name_with_a_trailing_space_is_not_merged_with_another() -> None:
    text = ("designkit: 1\nname: x\ncomponents:\n  store: {kind: database}\n"
            "  \"store \": {kind: cache}\n")
    assert problems_of(text) == [
        'components."store ": the name has spaces at its start or end; remove them']


@pytest.mark.parametrize("name", [" lead", "trail ", "line\\n"])
def test_table_and_column_names_are_kept_or_refused_never_changed(name: str) -> None:
    text = ("designkit: 1\nname: x\ncomponents:\n  db:\n    kind: database\n    tables:\n"
            f'      "{name}": {{columns: {{"{name}": {{type: int}}}}}}\n')
    problems = problems_of(text)
    assert len(problems) == 2
    assert all(p.startswith('components.db.tables."') for p in problems), problems


def test_status_codes_written_twice_are_a_duplicate_not_a_merge() -> None:
    text = ("designkit: 1\nname: x\ncomponents:\n  api:\n    kind: service\n    endpoints:\n"
            "      \"GET /a\":\n        responses: {200: ok, \"200\": fine}\n")
    assert problems_of(text) == [
        'components.api.endpoints."GET /a".responses."200": duplicate key on lines 8 and 8: '
        "YAML would keep only the last; merge them or rename one"]
    data = {"designkit": 1, "name": "x", "components": {"api": {
        "kind": "service", "endpoints": {"GET /a": {"responses": {200: "ok", "200": "fine"}}}}}}
    from designkit.model.io import check_data

    assert [str(p) for p in check_data(data)[1]] == [
        'components.api.endpoints."GET /a".responses."200": duplicate key: written twice '
        "(once quoted?); merge them or rename one"]


def test_a_hex_status_code_is_text_not_a_second_200() -> None:
    text = ("designkit: 1\nname: x\ncomponents:\n  api:\n    kind: service\n    endpoints:\n"
            "      \"GET /a\":\n        responses: {200: ok, 0xC8: fine}\n")
    assert problems_of(text) == [
        'components.api.endpoints."GET /a".responses."0xC8": the key \'0xC8\' is not valid: '
        "input should be a valid integer, unable to parse string as an integer"]


@pytest.mark.parametrize("name", ["a\x01b", "red\x1b[31m"])
def test_control_characters_in_names_are_refused(name: str) -> None:
    data = {"designkit": 1, "name": "x", "components": {name: {"kind": "cache"}}}
    [problem] = problems_of(json.dumps(data))
    assert "holds the control character U+00" in problem
    with pytest.raises(dk.DesignError, match="control character U\\+0001"):
        dk.load(json.dumps({"designkit": 1, "name": "a\x01"}))


def test_free_text_keeps_its_characters() -> None:
    design = dk.load(json.dumps({"designkit": 1, "name": "x", "description": "bell\x07\n"}))
    assert design.description == "bell\x07"  # control characters are text's own


# -- YAML 1.2 ------------------------------------------------------------------------------

def test_yaml_reads_numbers_as_yaml_1_2_and_json_do() -> None:
    design = dk.load(service(workers="017"))
    assert design.components["api"].workers == 17  # type: ignore[union-attr]
    [problem] = problems_of(service(cpu="1:30"))
    assert problem == ('components.api.endpoints."GET /items".cpu_ms: a number of '
                       "milliseconds, got '1:30'")


def test_an_attestation_written_as_in_the_readme_reads_its_date() -> None:
    text = ("designkit: 1\nname: x\nattestations:\n  - rule: DK-SEC-001\n    by: ana\n"
            "    on: 2026-11-01\n    evidence: review #12\n")
    assert dk.load(text).attestations[0].on == dt.date(2026, 11, 1)


# -- units -------------------------------------------------------------------------------

def test_a_time_written_with_its_unit_says_what_to_write() -> None:
    assert problems_of(service(cpu='"200ms"')) == [
        'components.api.endpoints."GET /items".cpu_ms: a number of milliseconds, without a '
        "unit: write 200"]
    text = ("designkit: 1\nname: x\ncomponents:\n  p: {kind: external, timeout_ms: 2s}\n")
    assert problems_of(text) == [
        "components.p.timeout_ms: a number of milliseconds, without a unit: write 2000"]


# -- workload keys -----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["api get /items", "api GET  /items", "api  Get /items"])
def test_a_workload_key_is_read_as_every_reference_is(key: str) -> None:
    design = dk.load(SERVICE.format(workers=8, cpu=1, rps=10).replace(
        '"api GET /items"', json.dumps(key)))
    assert design.workload == {"api GET /items": 10.0}
    estimate = dk.estimate(design)
    assert estimate.endpoints["api GET /items"].rps == 10.0
    assert not [f for f in dk.assess(design).findings if "failed" in f.message]


def test_two_workload_keys_for_one_endpoint_are_an_error() -> None:
    text = service() + '  "api get /items": 5\n'
    assert problems_of(text) == [
        "workload: 'api GET /items' and 'api get /items' are the same endpoint "
        "'api GET /items'; keep one"]


# -- the builder -------------------------------------------------------------------------

def test_builder_errors_name_the_whole_path() -> None:
    design = dk.Design(name="x")
    loop = design.service("api").endpoint("GET /a").transaction("db").loop(3)
    with pytest.raises(dk.DesignError) as info:
        loop.call("db", query={"tabel": "t"})
    assert str(info.value.problems[0]) == (
        'components.api.endpoints."GET /a".steps[0].steps[0].loop.steps[0].query.tabel: '
        "unknown key 'tabel' (did you mean 'table'?)")
    with pytest.raises(dk.DesignError, match=r'components\.db\.tables\.t\.columns\.c\.pk'):
        design.database("db").table("t").column("c", "uuid", pk=True)


# -- file forms --------------------------------------------------------------------------

def test_a_yaml_file_in_flow_style_is_yaml(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "flow.yaml"
    path.write_text("{designkit: 1, name: flow, workload: {}}")
    assert dk.load(path).name == "flow"
    assert dk.load("{designkit: 1, name: text}").name == "text"
    bad = Path(str(tmp_path)) / "flow.json"
    bad.write_text("{designkit: 1, name: flow}")
    with pytest.raises(dk.DesignError, match="not valid JSON: Expecting property name"):
        dk.load(bad)


def test_a_byte_order_mark_is_not_part_of_the_design(tmp_path: object) -> None:
    from pathlib import Path

    for name in ("bom.json", "bom.yaml"):
        path = Path(str(tmp_path)) / name
        path.write_text('\ufeff{"designkit": 1, "name": "bom"}', encoding="utf-8")
        assert dk.load(path).name == "bom"


def test_the_quick_key_scan_finds_what_the_full_search_finds() -> None:
    """The quick pass scans keys for control characters and spaces at their edges in
    cheap steps; it must agree with the one regular expression it stands for on every
    kind of whitespace Python knows, at every place."""
    import random
    import sys

    from designkit.model.inputs import _EDGE_OR_CONTROL, _edge_or_control

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    alphabet = ["a", "é", "\ue000", *spaces, "\x7f", "\x85"]
    draw = random.Random(7)
    texts = ["", " ", "a b", "\ue000", *spaces]
    texts += ["".join(draw.choice(alphabet) for _ in range(draw.randint(1, 6)))
              for _ in range(20_000)]
    assert [_edge_or_control(t) for t in texts] == \
        [bool(_EDGE_OR_CONTROL.search(t)) for t in texts]
