"""A design displays its summary and its architecture diagram; nothing heavy at import."""

from __future__ import annotations

import shutil
from xml.etree import ElementTree as ET

import pytest

import designkit as dk


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_design_displays_its_architecture() -> None:
    bundle = dk.template("payments-saga")._repr_mimebundle_()
    assert bundle["text/plain"] == repr(dk.template("payments-saga"))
    html = bundle["text/html"]
    assert "<strong>payments-saga</strong>" in html
    svg = html[html.index("<svg"):html.rindex("</svg>") + 6]
    ET.fromstring(svg)
    assert "orders-svc" in svg.replace("&#45;", "-")


def test_without_dot_the_display_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    html = dk.template("flash-sale")._repr_mimebundle_()["text/html"]
    assert "<svg" not in html and "apt-get install graphviz" in html


def test_a_large_design_displays_its_summary_without_laying_out_the_diagram() -> None:
    from designkit.render.display import INLINE_COMPONENTS

    design = dk.Design(name="large")
    for i in range(INLINE_COMPONENTS + 1):
        design.cache(f"c{i}")
    html = design._repr_mimebundle_()["text/html"]
    assert "<svg" not in html and "<strong>large</strong>" in html
    assert (f"{INLINE_COMPONENTS + 1:,} components are too many to lay out inline" in html
            and "designkit render FILE --view architecture" in html)
