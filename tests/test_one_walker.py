"""Only ``designkit/flow/`` walks a design's steps: everything else reads the flow IR.

A module walks steps when it reads the nested step lists of a step container (a cache
step's ``on_miss``, a parallel step's branches, a loop's ``loop.steps``) or uses the step
walkers of ``designkit.flow.build``. The model's own step builders (``model/steps.py``)
append to those lists and are allowed; the what-if modules (scenarios, the explorer, sweeps,
sensitivity) find or change hit ratios through ``design_steps`` (on a copy of the design,
never read for behaviour).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "designkit"
NESTED = {"on_miss", "parallel"}
WALKERS = {"walk_steps", "design_steps"}
ALLOWED = {"model/steps.py"}
CHANGES_STEPS = {"estimate/scenarios.py", "widgets.py", "sweep.py",
                 "estimate/sensitivity.py"}  # what-ifs on copies: may use design_steps only


def _walks(source: str) -> list[str]:
    """What in ``source`` walks steps: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if node.attr in NESTED:
                found.append(f"{node.lineno}: .{node.attr}")
            elif (node.attr == "steps" and isinstance(node.value, ast.Attribute)
                  and node.value.attr == "loop"):
                found.append(f"{node.lineno}: .loop.steps")
        elif isinstance(node, ast.Name | ast.alias):
            name = node.id if isinstance(node, ast.Name) else node.name
            if name in WALKERS:
                found.append(f"{node.lineno}: {name}")
    return found


def test_only_the_flow_package_walks_steps() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("flow/") or relative in ALLOWED:
            continue
        found = _walks(path.read_text())
        if relative in CHANGES_STEPS:
            found = [f for f in found if not f.endswith("design_steps")]
        if found:
            offenders[relative] = found
    assert offenders == {}, f"these modules walk model steps; read designkit.flow: {offenders}"


def test_the_check_sees_a_walk() -> None:
    """The check finds each way of walking (so an empty result above means something)."""
    source = ("from designkit.flow.build import walk_steps\n"
              "def f(step):\n"
              "    return step.on_miss, step.parallel, step.loop.steps, step.loop.count\n")
    assert _walks(source) == ["1: walk_steps", "3: .on_miss", "3: .parallel", "3: .loop.steps"]
