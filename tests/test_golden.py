"""Golden outputs of every template: the estimate, the assessment and the text of every
diagram, compared with the files stored in ``tests/golden/<template>.json``.

They pin what the code does now, so that a refactor meant to change nothing (how the
design's steps are walked by the estimator, the rules and the renderers) can prove it.
When a change is *meant* to alter the output, regenerate the files and review their diff::

    .venv/bin/python tests/test_golden.py --update

What each file holds:

* ``estimate``: ``dk.estimate(design).to_dict()`` — the JSON contract of ``designkit
  estimate --format json`` (per endpoint rps, mean/p50/p95/p99 ms, saturated; per
  component and station arrivals, service, utilization, busy, wait, headroom; the
  bottleneck, ``max_scale`` and the retry storms). Floats are rounded to 9 significant
  digits when stored and compared with a relative tolerance of 1e-7.
* ``assessment``: ``dk.assess(design, today=TODAY)`` — every finding in the engine's order
  (rule, subject, status, severity, message, waiver, evidence; not the remediation, the
  rule's fixed text), the unused waivers and the summary. ``today`` is fixed so that
  waivers and attestations do not expire with the calendar.
* ``diagrams``: the DOT source (``graph.source``, no layout: the ``dot`` program's version
  does not matter) of every Graphviz view and the text of every Mermaid view: the
  architecture coloured by the estimate (what ``designkit render`` draws by default), the
  architecture without it (``--no-estimate``), the Graphviz architecture also badged by the
  assessment (what ``designkit report`` draws), the data model, every saga, and the
  sequence of every endpoint. Each text is stored as a list of lines so a difference is
  reported (and diffed in review) by line.

A difference fails the test of its template and part with the JSON path of the first
difference (for diagrams, of each diagram that differs).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest

import designkit as dk
from designkit.render import graphviz_views, mermaid
from designkit.text import json_data

GOLDEN = Path(__file__).resolve().parent / "golden"
TEMPLATES = list(dk.templates())
PARTS = ("estimate", "assessment", "diagrams")

TODAY = dt.date(2026, 12, 1)
"""The date waivers and attestations expire against: before every expiry in the templates
(2027-03-31 and 2027-06-30), so the stored findings are those of the waivers in force."""

DIGITS = 9
"""Significant digits a float is stored with."""
REL_TOL = 1e-7
ABS_TOL = 1e-12
"""Floats are equal within REL_TOL relative, or ABS_TOL absolute (for values near 0, where
a different order of summation may leave 1e-17 instead of 0)."""

UPDATE_HINT = "(if the change is intended: .venv/bin/python tests/test_golden.py --update)"


# -- capture ------------------------------------------------------------------------------


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to DIGITS significant digits (ints, bools,
    strings and None unchanged; tuples become lists)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {str(k): rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in a golden file: {value!r}")


def capture_estimate(name: str) -> dict[str, Any]:
    """The estimate at the design's workload, as ``designkit estimate --format json``."""
    return rounded(dk.estimate(dk.template(name)).to_dict())


def capture_assessment(name: str) -> dict[str, Any]:
    """Every finding in the engine's order, the summary and the unused waivers."""
    assessment = dk.assess(dk.template(name), today=TODAY)
    findings = []
    for f in assessment.findings:  # as in `designkit assess --format json`
        evidence, nonfinite = json_data(f.evidence)
        findings.append({"rule": f.rule, "subject": f.subject, "status": f.status.value,
                         "severity": f.severity.value, "message": f.message,
                         "waiver": f.waiver or None, "evidence": evidence,
                         "nonfinite_evidence": nonfinite})
    return rounded({  # findings first: the first difference reported is a finding's
        "findings": findings,
        "unused_waivers": [json_data(w.model_dump(mode="json"))[0]
                           for w in assessment.unused_waivers],
        "summary": assessment.summary(),
    })


def capture_diagrams(name: str) -> dict[str, list[str]]:
    """Every view's text by name, as a list of lines."""
    design = dk.template(name)
    estimate = dk.estimate(design) if design.workload else None  # as `designkit render`
    assessment = dk.assess(design, estimate=estimate, today=TODAY)
    gv, mm = graphviz_views, mermaid
    views: dict[str, Callable[[], str]] = {
        "graphviz architecture": lambda: gv.architecture(design, estimate).source,
        "graphviz architecture --no-estimate": lambda: gv.architecture(design).source,
        "graphviz architecture with assessment": lambda: gv.architecture(
            design, estimate, assessment).source,
        "graphviz data": lambda: gv.data(design).source,
        "mermaid architecture": lambda: mm.architecture(design, estimate),
        "mermaid architecture --no-estimate": lambda: mm.architecture(design),
        "mermaid data": lambda: mm.data(design),
    }
    for saga in design.sagas:
        views[f"graphviz saga {saga}"] = lambda saga=saga: gv.saga(design, saga).source
        views[f"mermaid saga {saga}"] = lambda saga=saga: mm.saga(design, saga)
    for ref, _ in design.endpoints():
        key = str(ref)
        views[f"graphviz sequence {key}"] = lambda key=key: gv.sequence(design, key).source
        views[f"mermaid sequence {key}"] = lambda key=key: mm.sequence(design, key)
    return {view: make().split("\n") for view, make in sorted(views.items())}


CAPTURE: dict[str, Callable[[str], Any]] = {
    "estimate": capture_estimate,
    "assessment": capture_assessment,
    "diagrams": capture_diagrams,
}


def capture(name: str) -> dict[str, Any]:
    """The golden file's content for template ``name``."""
    return {"template": name, "today": TODAY.isoformat(),
            **{part: CAPTURE[part](name) for part in PARTS}}


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.json"


def write(name: str) -> Path:
    path = golden_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(capture(name), indent=1, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# -- comparison ---------------------------------------------------------------------------


def _show(value: Any, most: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) else repr(value)
    return text if len(text) <= most else text[:most] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def differences(expected: Any, actual: Any, path: str = "") -> Iterator[str]:
    """Where ``actual`` differs from ``expected``: one line per difference, naming its JSON
    path (``estimate['endpoints']['api GET /x']['p95_ms']``), first difference first. Strings,
    bools, None and key order must be equal; numbers equal within REL_TOL (or ABS_TOL)."""
    here = path or "(top)"
    if _is_number(expected) and _is_number(actual):
        if not math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            rel = abs(actual - expected) / max(abs(expected), abs(actual))
            yield (f"{here}: expected {expected!r}, got {actual!r} "
                   f"(relative difference {rel:.3g} > {REL_TOL:g})")
        return
    if type(expected) is not type(actual) and not (_is_number(expected)
                                                   and _is_number(actual)):
        yield (f"{here}: expected {type(expected).__name__} {_show(expected)}, "
               f"got {type(actual).__name__} {_show(actual)}")
        return
    if isinstance(expected, dict):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing:
            yield f"{here}: missing keys {missing}"
        if extra:
            yield f"{here}: unexpected keys {extra}"
        for key in expected:
            if key in actual:
                yield from differences(expected[key], actual[key], f"{path}[{key!r}]")
        common_expected = [k for k in expected if k in actual]
        common_actual = [k for k in actual if k in expected]
        if common_expected != common_actual:
            first = next(i for i, (a, b) in enumerate(zip(common_expected, common_actual,
                                                          strict=True)) if a != b)
            yield (f"{here}: same keys in another order: from position {first} expected "
                   f"{common_expected[first:first + 4]}, got {common_actual[first:first + 4]}")
        return
    if isinstance(expected, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from differences(e, a, f"{path}[{i}]")
        if len(expected) != len(actual):
            n = min(len(expected), len(actual))
            tail = (f"extra {_show(actual[n])}" if len(actual) > n
                    else f"missing {_show(expected[n])}")
            yield (f"{here}: expected {len(expected)} items, got {len(actual)} "
                   f"(first {tail} at [{n}])")
        return
    if isinstance(expected, str) and expected != actual:
        yield f"{here}: {_string_difference(expected, actual)}"
    elif expected != actual:  # bool, None
        yield f"{here}: expected {_show(expected)}, got {_show(actual)}"


def _string_difference(expected: str, actual: str, around: int = 60) -> str:
    """Where two strings part: the character, and the text about it in each."""
    if len(expected) + len(actual) <= 2 * around:
        return f"expected {_show(expected)}, got {_show(actual)}"
    at = next((i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
              min(len(expected), len(actual)))
    start = max(0, at - around // 2)

    def excerpt(text: str) -> str:
        part = json.dumps(text[start:at + around], ensure_ascii=False)
        return ("…" if start else "") + part + ("…" if at + around < len(text) else "")

    return (f"strings differ from character {at} (lengths {len(expected)} and "
            f"{len(actual)}): expected {excerpt(expected)}, got {excerpt(actual)}")


def first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    return next(differences(expected, actual, path), None)


# -- tests --------------------------------------------------------------------------------


@cache
def stored(name: str) -> dict[str, Any]:
    path = golden_path(name)
    if not path.exists():
        pytest.fail(f"template {name!r}: no golden file {path} {UPDATE_HINT}", pytrace=False)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_every_template_has_a_golden_file() -> None:
    files = sorted(p.stem for p in GOLDEN.glob("*.json"))
    assert files == sorted(TEMPLATES), (
        f"golden files {files} do not match the templates {sorted(TEMPLATES)} {UPDATE_HINT}")


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("name", TEMPLATES)
def test_golden(name: str, part: str) -> None:
    golden = stored(name)
    assert golden.get("today") == TODAY.isoformat(), (
        f"template {name!r}: golden file made with today={golden.get('today')!r}, the test "
        f"uses {TODAY.isoformat()!r} {UPDATE_HINT}")
    expected = golden[part]
    actual = rounded(CAPTURE[part](name))
    if part == "diagrams":  # every diagram that differs, each by its first difference
        problems = []
        for diagram in [*expected, *(d for d in actual if d not in expected)]:
            if diagram not in actual:
                problems.append(f"diagram {diagram!r}: no longer drawn")
            elif diagram not in expected:
                problems.append(f"diagram {diagram!r}: new (not in the golden file)")
            else:
                found = first_difference(expected[diagram], actual[diagram], "line")
                if found:
                    problems.append(f"diagram {diagram!r}: {found}")
        if problems:
            pytest.fail(f"template {name!r}, diagrams differ from the golden file:\n  "
                        + "\n  ".join(problems) + f"\n{UPDATE_HINT}", pytrace=False)
    else:
        found = first_difference(expected, actual, part)
        if found:
            pytest.fail(f"template {name!r}, {part} differs from the golden file at "
                        f"{found}\n{UPDATE_HINT}", pytrace=False)


def test_comparator_reports_the_path() -> None:
    """The comparator itself: tolerance, strings, lengths, key order."""
    def diff(expected: Any, actual: Any, path: str = "") -> str:
        return first_difference(expected, actual, path) or ""

    base = {"e": {"a GET /x": {"p95_ms": 436.09, "saturated": False}}, "s": ["x", "y"]}
    assert diff(base, json.loads(json.dumps(base))) == ""
    near = {"e": {"a GET /x": {"p95_ms": 436.09 * (1 + 5e-8), "saturated": False}},
            "s": ["x", "y"]}
    assert diff(base, near) == ""
    far = {"e": {"a GET /x": {"p95_ms": 436.2, "saturated": False}}, "s": ["x", "y"]}
    assert diff(base, far, "estimate").startswith(
        "estimate['e']['a GET /x']['p95_ms']: expected 436.09, got 436.2")
    assert diff(base, {**base, "s": ["x", "z"]}).startswith("['s'][1]: expected")
    line = "node [label=<" + "x" * 100 + ">]"
    assert "from character 13" in diff(line, line.replace("x", "y", 1))
    assert "expected 2 items, got 3" in diff(base, {**base, "s": ["x", "y", "w"]})
    assert "another order" in diff(base, {"s": base["s"], "e": base["e"]})
    assert "expected bool" in diff(True, 1)
    assert diff(1, 1.0) == ""


# -- regeneration -------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print("usage: python tests/test_golden.py --update   (rewrite tests/golden/*.json "
              "from the current code; check with pytest tests/test_golden.py)",
              file=sys.stderr)
        return 2
    for stale in sorted(set(p.stem for p in GOLDEN.glob("*.json")) - set(TEMPLATES)):
        golden_path(stale).unlink()
        print(f"removed {golden_path(stale)} (no such template)")
    for name in TEMPLATES:
        print(f"wrote {write(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
