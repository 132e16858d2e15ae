"""Fuzzing of the ``designkit`` command: generated design files through every command and
every output format (see :mod:`tests.fuzz.harness` for what is checked, and
:mod:`tests.fuzz.strategies` for what is generated).

The examples are derandomized (the same inputs on every run) and budgeted so that this
module runs in about a minute; ``python tests/fuzz/soak.py --minutes 10`` runs the same
properties on random inputs for longer. Knobs, from the environment:

* ``DESIGNKIT_FUZZ_SCALE=4`` — four times as many examples;
* ``DESIGNKIT_FUZZ_SHRINK=1`` — let hypothesis shrink a failing input (slow: minutes);
  without it the failing input is printed as generated and saved under
  ``.cache/fuzz/failures/``, and ``python tests/fuzz/soak.py --replay FILE`` minimizes it.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as gen
from tests.fuzz.harness import (
    NOTE,
    Failure,
    Outcome,
    describe,
    exercise,
    mermaid_failures,
    run_cli,
    save_failure,
)

SCALE = float(os.environ.get("DESIGNKIT_FUZZ_SCALE", "1"))
PHASES = [Phase.explicit, Phase.generate] + (
    [Phase.shrink] if os.environ.get("DESIGNKIT_FUZZ_SHRINK") else [])


def budget(examples: int) -> settings:
    return settings(
        derandomize=True,
        database=None,
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much, HealthCheck.large_base_example],
    )


@functools.cache
def _failure_type(signature: str) -> type[AssertionError]:
    """One exception class per kind of failure: hypothesis tells bugs apart by type, so a
    shrinking run reports each bug it meets, not only the first."""
    return type("FuzzFailure", (AssertionError,), {"signature": signature})


def assert_no_failures(case: gen.Case, outcome: Outcome,
                       extra: list[Failure] | None = None) -> None:
    failures = [f for f in outcome.failures + (extra or []) if not f.signature.startswith(NOTE)]
    if not failures:
        return
    saved = save_failure(case, failures)
    raise _failure_type(failures[0].signature)(
        f"{len(failures)} failure(s); input saved to {saved}\n{describe(case, failures)}")


MERMAID_TEXTS: dict[str, str] = {}
"""Mermaid texts rendered by the tests above the Mermaid one, parsed at the end in one go."""


def _keep_mermaid(case: gen.Case, outcome: Outcome) -> None:
    for view, text in outcome.mermaid.items():
        if len(MERMAID_TEXTS) < 400:
            MERMAID_TEXTS[f"{case.origin} {len(MERMAID_TEXTS)} {view}"] = text


def _run(case: gen.Case, **options: Any) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="designkit-fuzz-") as tmp:
        return exercise(case, Path(tmp), **options)


FAIL_ON = st.sampled_from(("critical", "high", "medium", "low"))


@budget(100)
@given(case=gen.cases(), fail_on=FAIL_ON)
def test_every_command_and_text_format(case: gen.Case, fail_on: str) -> None:
    """validate, estimate (table, JSON), assess (every format, --fail-on), render (every
    view as DOT and Mermaid) on valid, extreme, invalid and hostile design files."""
    outcome = _run(case, fail_on=fail_on, calibrate=False)  # calibrate: test_svg_and_report
    _keep_mermaid(case, outcome)
    assert_no_failures(case, outcome)


@budget(130)
@given(data=gen.small_designs())
def test_estimate_and_assess_small_designs(data: dict[str, Any]) -> None:
    """One endpoint over every kind of dependency, numbers across their whole range: the
    estimate's JSON is strict and consistent, nothing saturates at a vanishing load, and
    the review runs."""
    case = gen.Case(gen.to_yaml(data).encode(), ".yaml", "small/yaml")
    assert_no_failures(case, _run(case, only={"estimate", "assess --format json"}))


@budget(8)
@given(case=gen.cases(weights=(4, 1, 0, 0, 1)))
def test_svg_and_report(case: gen.Case) -> None:
    """The same, plus every view as SVG (Graphviz), a report into a directory, and a
    calibration on generated runs."""
    outcome = _run(case, svg=True, report=True)
    assert_no_failures(case, outcome)


@budget(40)
@given(case=st.one_of(gen.hostile_yaml(), gen.invalid_designs().flatmap(
    lambda data: gen.files_of(data, "invalid"))))
def test_hostile_and_invalid_files(case: gen.Case) -> None:
    """Duplicate keys, deep nesting, tags, alias bombs, odd bytes, mistakes: each refused
    with a message (exit 2) or read — never a crash, a hang or a traceback."""
    assert_no_failures(case, _run(case))


STYLES = {
    "yaml": lambda data: gen.to_yaml(data).encode(),
    "json": lambda data: gen.to_json(data).encode(),
    "yaml-flow": lambda data: gen.to_yaml(data, flow=True).encode(),
    "yaml-bom": lambda data: ("\ufeff" + gen.to_yaml(data)).encode(),
    "json-bom": lambda data: ("\ufeff" + gen.to_json(data)).encode(),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_valid_designs_pass_validation(style: str) -> None:
    """A design the generator means to be valid passes ``designkit validate``, whichever
    way it is written (flow YAML is YAML; a byte-order mark is allowed in both formats)."""

    @budget(12)
    @given(data=gen.valid_designs())
    def check(data: dict[str, Any]) -> None:
        suffix = ".json" if style.startswith("json") else ".yaml"
        case = gen.Case(STYLES[style](data), suffix, f"valid/{style}")
        with tempfile.TemporaryDirectory(prefix="designkit-fuzz-") as tmp:
            path = Path(tmp) / f"design{suffix}"
            path.write_bytes(case.content)
            run = run_cli(["validate", "-q", str(path)])
        if run.code != 0 or run.crash is not None:
            failure = Failure(f"validate: a valid design written as {style} is refused",
                              "validate", run.trace or run.err)
            save_failure(case, [failure])
            raise _failure_type(failure.signature)(describe(case, [failure]))

    check()


def test_mermaid_parser_accepts_every_text() -> None:
    """Every Mermaid text rendered above (and more) is accepted by Mermaid's own parser
    (Node.js with the npm packages mermaid and jsdom; skipped without them)."""
    texts = dict(MERMAID_TEXTS)

    @budget(15)
    @given(case=gen.valid_designs().flatmap(lambda d: gen.files_of(d, "valid")))
    def collect(case: gen.Case) -> None:
        outcome = _run(case, only={"render"})
        for view, text in outcome.mermaid.items():
            texts[f"{case.origin} {len(texts)} {view}"] = text

    collect()
    found = mermaid_failures(texts)
    if isinstance(found, str):
        pytest.skip(f"Mermaid's parser is not available: {found}")
    if found:
        by_signature: dict[str, Failure] = {}
        for failure in found:
            by_signature.setdefault(failure.signature, failure)
        raise AssertionError(f"{len(found)} of {len(texts)} Mermaid texts refused:\n" +
                             "\n".join(str(f) for f in by_signature.values()))
