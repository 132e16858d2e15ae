"""The Graphviz sequence diagram: lifelines in order of first contact, one arrow per message
in step order (the same messages as Mermaid's), frames around what they hold, and under an
estimate each step's mean time — the numbers of Mermaid's sequence, read from one view."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

import designkit as dk
from designkit.render import mermaid
from designkit.render.graphviz_views import sequence, to_svg
from designkit.render.names import node_id
from designkit.render.sequence_text import milliseconds
from tests.render.test_graphviz_views import Layout, layout, svg_ok, svg_text
from tests.render.test_mermaid import parse_sequence, unescape

TEMPLATES = dk.templates()
ENDPOINTS = [(name, str(ref)) for name in TEMPLATES
             for ref, _ in dk.template(name).endpoints()]
_MS = re.compile(r"· ((?:<)?[\d,.]+ ms|∞ ms \(saturated\))")
"""A step's time as the diagrams write it (``· 0.62 ms``); ``· cpu``, ``· mean`` excluded."""


def shop() -> dk.Design:
    """An endpoint that reaches a cache, a database (in a transaction), a third party and a
    queue, in that order; the database has one core and one query, so its queue is real."""
    d = dk.Design(name="shop")
    d.cache("c", hit_ratio=0.9, service_ms=0.2)
    d.database("db", cores=1)
    d.external("pay", latency_ms=50)
    d.queue("q")
    ep = d.service("api", workers=64).endpoint("POST /buy", cpu_ms=1)
    ep.call("c", op="GET k")
    ep.transaction("db").call("db", service_ms=2)
    ep.call("pay")
    ep.publish("q")
    d.set_load("api POST /buy", 300)
    return d


def position(drawn: Layout, node: str) -> tuple[float, float]:
    x, y = drawn.nodes[node]["pos"].split(",")
    return float(x), float(y)


def heads(drawn: Layout, key: str) -> list[str]:
    """The lifelines' heads, left to right: their first lines."""
    found = []
    while (n := node_id(key, f"head {len(found)}")) in drawn.nodes:
        found.append(n)
    xs = [position(drawn, n)[0] for n in found]
    assert xs == sorted(xs) and len(set(xs)) == len(xs), "heads left to right"
    return [drawn.texts[n][0] for n in found]


def messages(drawn: Layout, key: str) -> list[dict[str, Any]]:
    """The message arrows (not the lifelines, the frames' separators or a self-call's first
    two segments): edges with an arrowhead."""
    return [e for _, _, _, e in drawn.edges if e.get("arrowhead") != "none"]


def all_text(drawn: Layout) -> list[str]:
    return [drawn.title, *(" ".join(t) for t in drawn.texts.values())]


def times(texts: list[str]) -> Counter[str]:
    return Counter(m for t in texts for m in _MS.findall(t))


# -- lifelines, messages, frames ------------------------------------------------------------


def test_lifelines_in_order_of_first_contact_and_level_messages() -> None:
    d = shop()
    key = "api POST /buy"
    drawn = layout(sequence(d, key))
    assert heads(drawn, key) == ["client", "api", "c", "db", "pay", "q"]
    # every lifeline is a dashed line straight down from its head
    for i in range(6):
        head = node_id(key, f"head {i}")
        (foot,) = [h for t, h, _, _ in drawn.edges if t == head]
        assert drawn.nodes[foot]["pos"].split(",")[0] == drawn.nodes[head]["pos"].split(",")[0]
    # the request, GET k, BEGIN, the query, COMMIT, the call, the publish, the response
    arrows = messages(drawn, key)
    assert len(arrows) == 8
    for arrow in arrows:  # level: both ends on one row
        tail = next(t for t, _, _, e in drawn.edges if e is arrow)
        head = next(h for _, h, _, e in drawn.edges if e is arrow)
        assert position(drawn, tail)[1] == position(drawn, head)[1]
    assert [e.get("style") for e in arrows].count("dashed") == 1  # the response
    assert [e.get("arrowhead") for e in arrows].count("vee") == 2  # publish, response
    svg_ok(to_svg(sequence(d, key)))


def test_step_time_is_the_stations_wait_plus_service() -> None:
    d = shop()
    est = dk.estimate(d)
    cpu = est.station("db cpu")
    assert cpu.wait_ms > 0.5  # 300 queries/s of 2 ms on one core: a real queue
    query = milliseconds(cpu.wait_ms + cpu.service_ms)  # inside the transaction: no pool wait
    cache = est.station("c servers")
    read = milliseconds(cache.wait_ms + cache.service_ms)
    begin = milliseconds(est.station("db pool api").wait_ms)
    assert query == "5 ms"  # M/M/1 at 60 %: a wait of 1.5 × 2 ms, then 2 ms of service
    key = "api POST /buy"
    drawn = layout(sequence(d, key, est))
    texts = all_text(drawn)
    assert f"call · {query}" in texts and f"GET k · {read}" in texts
    assert f"BEGIN · {begin}" in texts
    transaction = est.station("db pool api").wait_ms + cpu.wait_ms + cpu.service_ms
    assert f"transaction on db · {milliseconds(transaction)}" in texts
    mean = est.endpoints[key].mean_ms
    assert f"response · mean {milliseconds(mean)}" in texts
    # the legend says what the numbers are
    assert "times: mean of one run of each step, estimated at 1× workload" in drawn.title
    # Mermaid shows the same numbers
    text = mermaid.sequence(d, key, est)
    assert f": call · {query}" in text and f": GET k · {read}" in text
    assert f"critical transaction on db · {milliseconds(transaction)}" in text


@pytest.mark.parametrize(("name", "ref"), ENDPOINTS)
def test_same_messages_and_numbers_as_mermaid(name: str, ref: str) -> None:
    d = dk.template(name)
    est = dk.estimate(d)
    for estimate in (None, est):
        drawn = layout(sequence(d, ref, estimate))
        parsed = parse_sequence(mermaid.sequence(d, ref, estimate))
        key = str(dk.model.EndpointRef.parse(ref))
        assert heads(drawn, key) == [unescape(v) for v in parsed.participants.values()]
        assert len(messages(drawn, key)) == len(parsed.messages)
        labels = [unescape(label) for *_, label in parsed.messages]
        blocks = [unescape(label) for _, label in parsed.blocks]
        mermaid_times = times(labels + blocks)
        assert times(all_text(drawn)) == mermaid_times
        if estimate is None:
            assert not mermaid_times
        else:
            assert labels[-1] == next(t for t in all_text(drawn) if t.startswith("response"))


def test_dashboard_loop_frame_holds_fifty_times_its_query() -> None:
    d = dk.template("dashboard-slow")
    est = dk.estimate(d)
    key = "dashboard-api GET /v1/dashboard"
    drawn = layout(sequence(d, key, est))
    texts = all_text(drawn)
    (loop,) = [t for t in texts if t.startswith("loop 50× · ")]
    (query,) = [t for t in texts if t.startswith("SELECT payments WHERE order_id · ")]
    per_query = float(query.split("· ")[1].split()[0].replace(",", ""))
    whole = float(loop.split("· ")[1].split()[0].replace(",", ""))
    assert whole == pytest.approx(50 * per_query, rel=0.01)
    assert whole / est.endpoints[key].mean_ms > 0.9  # the N+1 loop is where the time goes


def test_flash_sale_frames_nest_around_their_messages() -> None:
    d = dk.template("flash-sale")
    key = "checkout-api POST /v1/orders-locked"
    drawn = layout(sequence(d, key, dk.estimate(d)))
    boxes = {}
    for name, node in drawn.nodes.items():
        if node.get("shape") == "box" and node.get("fixedsize") == "true" and "rounded" in \
                node.get("style", ""):
            x, y = position(drawn, name)
            w, h = float(node["width"]) * 72, float(node["height"]) * 72
            boxes[node["color"]] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    transaction, lock, alt = boxes["#8a5a2b"], boxes["#b03a7a"], boxes["#6a3d9a"]
    assert transaction[0] < lock[0] and lock[2] <= transaction[2]  # the lock inside
    assert transaction[1] < lock[1] and lock[3] < transaction[3]
    assert alt[1] > transaction[3]  # the cache read comes first (y grows upwards)
    texts = all_text(drawn)
    for label in ("[hit (99.9%)]", "[miss (0.1%)] · 0.3 ms", "served from catalog-cache",
                  "acquire · ", "release", "COMMIT", "publish via outbox · "):
        assert any(t.startswith(label) for t in texts), label
    # the messages under the lock are drawn inside its frame
    for text in ("SELECT stock WHERE sku_id", "INSERT orders", "release"):
        name = next(n for n, t in drawn.texts.items() if " ".join(t).startswith(text))
        x, y = position(drawn, name)
        assert lock[1] < y < lock[3] and lock[0] < x < lock[2], text
    svg = to_svg(sequence(d, key, dk.estimate(d)))
    svg_ok(svg)
    assert "transaction on orders-db" in svg_text(svg)


def test_parallel_branches_self_calls_and_empty_frames() -> None:
    d = dk.Design(name="par")
    d.cache("c", hit_ratio=0.8)
    d.database("db")
    svc = d.service("api", workers=16)
    ep = svc.endpoint("GET /x", cpu_ms=1)
    par = ep.parallel(3)
    par.branch(0).call("db", service_ms=2, count=2)
    par.branch(1).cache("c")  # a cache read with nothing on a miss
    ep.loop(3)  # an empty loop
    ep.call("api GET /y")  # the service calls itself
    svc.endpoint("GET /y", cpu_ms=3)
    d.set_load("api GET /x", 10)
    est = dk.estimate(d)
    drawn = layout(sequence(d, "api GET /x", est))
    texts = all_text(drawn)
    for label in ("par", "[branch 1] · ", "[branch 2] · ", "[branch 3] · 0 ms", "alt",
                  "[hit (80%)]", "[miss (20%)] · 0 ms", "loop 3× · 0 ms", "GET /y · "):
        assert any(t.startswith(label) for t in texts), label
    callee = milliseconds(est.endpoints["api GET /y"].mean_ms)
    assert f"GET /y · {callee}" in texts  # a call of an endpoint: its mean
    svg_ok(to_svg(sequence(d, "api GET /x", est)))


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_timed_sequence_draws(name: str) -> None:
    d = dk.template(name)
    est = dk.estimate(d)
    for ref, _ in d.endpoints():
        graph = sequence(d, str(ref), est)
        assert "layout=neato" in graph.source
        root = svg_ok(to_svg(graph))
        sizes = {float(e.attrib["font-size"]) for e in root.iter() if "font-size" in e.attrib}
        assert min(sizes) >= 11


def test_unknown_endpoint_names_the_nearest() -> None:
    with pytest.raises(KeyError, match="GET /v1/dashboard"):
        sequence(dk.template("dashboard-slow"), "dashboard-api GET /v1/dashbord")
