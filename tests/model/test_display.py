"""A design shows itself as a compact summary: one line, text, and HTML."""

from __future__ import annotations

import designkit as dk
from tests.model.test_builder import FILE


def test_repr_is_one_line_without_addresses() -> None:
    assert repr(dk.load(FILE)) == (
        "Design('shop': 4 components (1 service, 1 database, 1 cache, 1 queue), 1 endpoint, "
        "1 table, 10,000 rps)")


def test_text_summary() -> None:
    assert str(dk.load(FILE)) == "\n".join([
        "design 'shop': 4 components (1 service, 1 database, 1 cache, 1 queue), 1 endpoint, "
        "1 table, 10,000 rps",
        "  services   api",
        "  databases  orders-db",
        "  caches     stock-cache",
        "  queues     order-events",
        "  endpoints",
        "    api POST /orders",
        "  tables",
        "    orders-db.orders: 5,000,000 rows",
        "  workload",
        "    api POST /orders: 10,000 rps",
    ])


def test_html_summary_escapes_names() -> None:
    design = dk.Design(name="<b>&co</b>")
    design.service("api").endpoint("GET /a<b>")
    html = design._repr_html_()
    assert "<strong>&lt;b&gt;&amp;co&lt;/b&gt;</strong>" in html
    assert "<code>api GET /a&lt;b&gt;</code>" in html
    assert "<b>&co" not in html


def test_part_reprs_have_no_memory_addresses() -> None:
    design = dk.load(FILE)
    for text in (repr(design), repr(design.components["api"]), repr(design.policy)):
        assert " at 0x" not in text


def test_a_large_design_lists_the_first_names_and_says_how_many_more() -> None:
    from designkit.model.summary import LIMIT

    design = dk.Design(name="wide")
    api = design.service("api")
    for i in range(LIMIT + 5):
        design.cache(f"c{i}")
        api.endpoint(f"GET /e{i}")
    text = str(design)
    assert f"c{LIMIT - 1}, … and 5 more" in text and f"c{LIMIT}," not in text
    assert f"    api GET /e{LIMIT - 1}\n    … and 5 more" in text
    page = design._repr_html_()
    assert f"c{LIMIT - 1}, … and 5 more" in page and "<td>… and 5 more</td>" in page
