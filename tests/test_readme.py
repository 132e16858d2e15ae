"""The designs shown in the README and the format docs are valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import designkit as dk

ROOT = Path(__file__).resolve().parents[1]


def yaml_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
            if b.startswith("designkit: 1")]


@pytest.mark.parametrize("doc", ["README.md", "docs/design-format.md"])
def test_example_designs_load(doc: str) -> None:
    blocks = yaml_blocks(ROOT / doc)
    assert blocks, f"{doc} shows a design"
    for block in blocks:
        design = dk.load(block)
        assert dk.load(dk.dump(design)) == design


def test_python_builder_example_in_the_docs_runs() -> None:
    text = (ROOT / "docs" / "design-format.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, flags=re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "design-format.md", "exec"), namespace)
    design = namespace["d"]
    assert isinstance(design, dk.Design)
    assert design.workload == {"api POST /orders": 10_000.0}
