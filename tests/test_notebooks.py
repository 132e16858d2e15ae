"""The committed workbooks are executed, and nbval really compares them.

`make test` runs the notebooks themselves with nbval (a separate pytest invocation with
``--nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval-sanitize.cfg``); these
checks keep that run meaningful: outputs are stored, only picture cells skip the comparison,
and every notebook prints numbers that nbval does compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
IGNORE = "nbval-ignore-output"
# Outputs nbval cannot compare byte for byte: pictures, and live widgets (their state is a
# kernel-side model id).
PICTURES = {"image/svg+xml", "image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}


def _cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def test_the_workbooks_are_there() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"00-quickstart", "01-flash-sale"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_in_order_with_outputs(path: Path) -> None:
    cells = _cells(path)
    counts = [c["execution_count"] for c in cells]
    assert all(n is not None for n in counts), f"{path.name}: a cell was not executed"
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not run top to bottom"
    for cell in cells:
        assert not any(o["output_type"] == "error" for o in cell["outputs"]), path.name
        assert "execution" not in cell.get("metadata", {}), (
            f"{path.name}: timing metadata stored; execute with "
            "--ExecutePreprocessor.record_timing=False")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_picture_cells_skip_the_comparison(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert not {IGNORE, "nbval-skip"} & set(nb["metadata"].get("tags", [])), (
        f"{path.name}: the whole notebook is ignored")
    compared_text = 0
    for cell in _cells(path):
        kinds = {k for o in cell["outputs"] for k in o.get("data", {})}
        if IGNORE in _tags(cell) or "nbval-skip" in _tags(cell):
            assert kinds & PICTURES, f"{path.name}: a cell without a picture ignores its output"
        else:
            assert not kinds & PICTURES, f"{path.name}: a picture cell is compared byte for byte"
            compared_text += sum(1 for o in cell["outputs"] if o["output_type"] == "stream")
    assert compared_text >= 5, f"{path.name}: too few printed results for nbval to compare"
