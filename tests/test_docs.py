"""The generated parts of the docs are current."""

from __future__ import annotations

import runpy
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_design_format_reference_is_current() -> None:
    generator = runpy.run_path(str(DOCS / "_gen_format.py"))
    text = (DOCS / "design-format.md").read_text(encoding="utf-8")
    assert text == generator["rendered"](text), "run `make docs` and commit the result"


def test_design_format_documents_every_key() -> None:
    from designkit.model.design import Design
    from designkit.schema import _models

    text = (DOCS / "design-format.md").read_text(encoding="utf-8")
    for model in _models(Design):
        assert f"### {model.__name__}" in text
        for key in model.model_fields:
            assert f"| `{key}` |" in text, f"{model.__name__}.{key} is not documented"


def test_rules_reference_is_current() -> None:
    from designkit.assess.docs import rules_markdown

    assert (DOCS / "rules.md").read_text(encoding="utf-8") == rules_markdown(), (
        "run `make docs` and commit the result")


def test_the_flow_guide_example_prints_what_it_says() -> None:
    """docs/flow.md's example: each line's comment is what the expression gives."""
    import re

    text = (DOCS / "flow.md").read_text(encoding="utf-8")
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, object] = {}
    for line in block.splitlines():
        code, _, comment = line.partition("  # ")
        if not comment:
            exec(code, scope)
            continue
        assert repr(eval(code.strip(), scope)) == re.sub(r"\s+$", "", comment.strip()), line


def test_every_engine_default_is_documented_with_its_source() -> None:
    from designkit.model.engines import ENGINE_DEFAULTS

    text = (DOCS / "estimator.md").read_text(encoding="utf-8")
    for (kind, engine), fields in ENGINE_DEFAULTS.items():
        for name, default in fields.items():
            row = f"| {kind} | {engine} | `{name}` | {default.value:g} | {default.source} |"
            assert row in text, row
