"""``designkit render``: every view in every format; bad input exits 2 with the fix."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from designkit.cli import cli

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("view", ["architecture", "data", "saga"])
def test_svg_dot_and_mermaid(view: str, tmp_path: Path) -> None:
    design = str(TEMPLATES / "payments-saga.yaml")
    target = tmp_path / f"{view}.svg"
    assert run("render", design, "--view", view, "-o", str(target))[0] == 0
    ET.fromstring(target.read_text())
    code, dot, _ = run("render", design, "--view", view, "--format", "dot")
    assert code == 0 and dot.startswith("digraph")
    code, text, _ = run("render", design, "--view", view, "--format", "mermaid")
    assert code == 0
    assert text.split()[0] in ("flowchart", "erDiagram")


def test_sequence_and_png(tmp_path: Path) -> None:
    design = str(TEMPLATES / "dashboard-slow.yaml")
    code, text, _ = run("render", design, "--view", "sequence", "--endpoint",
                        "dashboard-api GET /v1/dashboard", "--format", "mermaid")
    assert code == 0 and text.startswith("sequenceDiagram")
    png = tmp_path / "arch.png"
    assert run("render", design, "--format", "png", "-o", str(png))[0] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_render_input_exits_2_with_the_fix() -> None:
    design = str(TEMPLATES / "dashboard-slow.yaml")
    code, _, err = run("render", design, "--view", "sequence", "--endpoint",
                       "dashboard-api GET /v1/dashbord")
    assert code == 2 and "did you mean 'dashboard-api GET /v1/dashboard'" in err
    code, _, err = run("render", design, "--view", "sequence")
    assert code == 2 and "--endpoint" in err
    code, _, err = run("render", design, "--view", "saga")
    assert code == 2 and "has no saga" in err
    code, _, err = run("render", design, "--format", "png")
    assert code == 2 and "-o FILE" in err
