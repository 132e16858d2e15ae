"""A drawn architecture given new numbers and colours without a new layout
(:mod:`designkit.render.relabel`): what it shows must be what Graphviz would draw, and it
must decline whenever reusing the layout could draw something wrong."""

from __future__ import annotations

import html
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import designkit as dk
from designkit.render.graphviz_views import architecture, dot, to_svg
from designkit.render.relabel import ROOM, relabelled, roomy

pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="Graphviz's dot is not installed: apt-get install -y "
                                       "graphviz")

SCALES = (1.0, 1.05, 0.9, 1.3, 0.5, 0.55, 1.1)
SVG = "{http://www.w3.org/2000/svg}"


def _words(svg: str) -> str:
    """Everything the drawing shows as text, in order, spaces collapsed (as a browser
    shows it)."""
    texts = "".join(element.text or "" for element in ET.fromstring(svg).iter()
                    if element.tag in (f"{SVG}text", f"{SVG}tspan"))
    return re.sub(r"\s+", " ", texts)


def _colours(svg: str) -> list[str]:
    return re.findall(r'(?:fill|stroke)="(#[0-9a-fA-F]{6})"', svg)


def _shapes(svg: str) -> list[str]:
    """Every coordinate of every shape and edge: the layout."""
    return re.findall(r'(?<![\w-])(?:points|d)="([^"]*)"', svg)


def _sources(design: dk.Design) -> list[str]:
    return [architecture(design, dk.estimate(design, scale=s)).source for s in SCALES]


@pytest.mark.parametrize("name", ["flash-sale", "payments-saga", "dashboard-slow"])
def test_relabelled_drawings_show_what_a_new_layout_shows(name: str) -> None:
    """Move after move, each drawing filled with the next estimate's numbers shows the
    same words and colours as Graphviz's own drawing of it, on the first layout."""
    sources = _sources(dk.template(name))
    drawn_source, drawn = sources[0], to_svg(dot(sources[0]))
    layout = _shapes(drawn)
    filled = 0
    for source in sources[1:]:
        fresh = to_svg(dot(source))
        found = relabelled(drawn_source, drawn, source)
        if found is None:  # declined: laid out again
            drawn_source, drawn, layout = source, fresh, _shapes(fresh)
            continue
        filled += 1
        assert _words(found) == _words(fresh)
        assert _colours(found) == _colours(fresh)
        assert _shapes(found) == layout  # nothing moved
        drawn_source, drawn = source, found
    assert filled >= len(SCALES) // 2  # a saturated station changes rows: laid out again


def test_a_layout_with_room_holds_longer_numbers() -> None:
    """Laid out with room after each number, then filled: the same words as a plain
    drawing, no figure space left; a number two digits longer then fits in a row that had
    no room to spare."""
    design = dk.template("flash-sale")
    source = architecture(design, dk.estimate(design)).source
    filled = relabelled(roomy(source), to_svg(dot(roomy(source))), source)
    assert filled is not None and ROOM not in filled
    assert _words(filled) == _words(to_svg(dot(source)))
    before, after = _node("1%"), _node("1,000%")  # the widest row of its node
    spaced = relabelled(roomy(before), to_svg(dot(roomy(before))), before)
    assert spaced is not None and relabelled(before, spaced, after) is not None
    assert relabelled(before, to_svg(dot(before)), after) is None  # no room: laid out again


def _node(label: str, fill: str = "#b7e1a8", name: str = "api") -> str:
    return (f'digraph {{\n\tnode [fontname=Helvetica fontsize=12 margin="0.12,0.06"]\n'
            f'\t{name} [label=<<TABLE BORDER="0"><TR><TD><B>{name}</B></TD></TR><TR><TD>'
            f'<FONT POINT-SIZE="11">util <B>{label}</B> · 12/s</FONT></TD></TR></TABLE>> '
            f'fillcolor="{fill}" shape=box width=0.1 height=0.1 style=filled]\n}}\n')


def test_a_number_and_a_fill_change_in_place_centred_on_the_node() -> None:
    before, after = _node("18%"), _node("75%", "#ffd27a")
    drawn = to_svg(dot(before))
    found = relabelled(before, drawn, after)
    assert found is not None
    assert "75%" in found and "18%" not in found and 'fill="#ffd27a"' in found
    box = _shapes(drawn)[1]  # the node's (the first is the page's)
    xs = [float(x) for x in re.findall(r"(-?[\d.]+),-?[\d.]+", box)]
    row = re.search(r'<text text-anchor="middle" x="([\d.-]+)"[^>]*><tspan', found)
    assert row is not None and float(row.group(1)) == pytest.approx((min(xs) + max(xs)) / 2)


def test_a_name_holding_a_number_keeps_it() -> None:
    """Numbers are matched by their place, not their value: ``queue-3``'s 3 stays when the
    rate 3/s becomes 4/s."""
    before = _node("3%", name="queue_3").replace("<B>queue_3</B>", "<B>queue-3</B>")
    after = before.replace("util <B>3%</B> · 12/s", "util <B>3%</B> · 4/s")
    found = relabelled(before, to_svg(dot(before)), after)
    assert found is not None
    assert "queue&#45;3" in found and "4/s" in found and "12/s" not in found


def test_declines_what_a_layout_must_redo() -> None:
    before = _node("1%")
    drawn = to_svg(dot(before))
    assert relabelled(before, drawn, _node("1,000,000,000%")) is None  # past the margin
    assert relabelled(before, drawn, _node("1% hot")) is None  # new words
    assert relabelled(before, drawn, before.replace("margin=", "penwidth=2 margin=")) is None
    assert relabelled(before, drawn, before.replace("}\n", "\tb\n}\n")) is None  # a node more
    assert relabelled(before, drawn, before) == drawn  # nothing changed


def test_two_alike_edges_are_not_guessed() -> None:
    base = ('digraph {\n\ta -> b [label="1/s"]\n\ta -> b [label="1/s"]\n}\n')
    one_changed = base.replace('[label="1/s"]\n}', '[label="2/s"]\n}')
    assert relabelled(base, to_svg(dot(base)), one_changed) is None
    told_apart = base.replace('1/s"]\n\ta', 'call 1/s"]\n\ta')
    found = relabelled(told_apart, to_svg(dot(told_apart)),
                       told_apart.replace('[label="1/s"]', '[label="2/s"]'))
    assert found is not None and "call 1/s" in html.unescape(found) and "2/s" in found


def test_one_colour_that_must_become_two_is_declined() -> None:
    before = ('digraph {\n\ta [color="#111111" fillcolor="#111111" style=filled]\n}\n')
    after = before.replace('fillcolor="#111111"', 'fillcolor="#222222"')
    assert relabelled(before, to_svg(dot(before)), after) is None


def test_a_drawing_of_other_numbers_is_not_trusted() -> None:
    """The drawing must show the numbers of the DOT it is said to be of: else (a stale
    drawing) nothing is written into it."""
    stale = to_svg(dot(_node("20%")))
    assert relabelled(_node("18%"), stale, _node("75%")) is None
