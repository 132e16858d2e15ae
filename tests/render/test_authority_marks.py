"""The architecture views mark where a value's truth lives (an invariant's authority), so
the picture says what the review checks."""

from __future__ import annotations

import designkit as dk
from designkit.render import graphviz_views, mermaid
from designkit.render.view import architecture_view


def test_the_view_lists_the_invariants_a_component_keeps() -> None:
    view = architecture_view(dk.template("flash-sale"))
    keeps = {node.name: node.keeps for node in view.nodes if node.keeps}
    assert keeps == {"stock-cache": ("no-oversell",), "orders-db": ("one-order-per-request",)}


def test_graphviz_and_mermaid_draw_the_authority() -> None:
    d = dk.template("flash-sale")
    dot = graphviz_views.architecture(d).source
    [line] = [x for x in dot.splitlines() if x.strip().startswith("stock_cache") and "label=" in x]
    assert ('<TR><TD><FONT POINT-SIZE="11" COLOR="#000000"><I>authority: no-oversell</I>'
            '</FONT></TD></TR>') in line
    text = mermaid.architecture(d)
    assert '{{"stock-cache<br/>redis cache<br/>authority: no-oversell"}}' in text


def test_a_design_without_invariants_draws_no_authority() -> None:
    d = dk.template("dashboard-slow")
    assert "authority" not in graphviz_views.architecture(d).source
    assert "authority" not in mermaid.architecture(d)
