"""Hypothesis strategies for fuzzing designkit: design *data* and design *texts*.

Data — plain dicts, as a YAML or JSON file holds them:

* :func:`valid_designs`: designs meant to pass ``designkit validate``. Every kind of
  component (services with endpoints, databases with tables, columns, indexes and queries,
  caches, queues with handlers, externals with retries, timeouts and breakers, locks),
  every kind of step (call, transaction, lock, parallel, loop, cache, publish), sagas, a
  workload, sometimes a policy, waivers and attestations. References point at components
  of the right kind; a service only calls services drawn before it (no synchronous cycle).
  Free text and the names the format allows any text for (tables, columns, paths, sagas…)
  come partly from :data:`HOSTILE_TEXT`: markup, quotes, ``$x$``, pipes, Unicode.
* :func:`extreme_designs`: a valid design with some numbers replaced by one of
  :data:`EXTREME_NUMBERS` (zero, negative, 1e9, 1e308, NaN, ±inf, 10**400…).
* :func:`invalid_designs`: a valid design with one to three mistakes (a typo in a key, a
  wrong type, a dangling or wrong-kind reference, a cycle, a control character or padded
  name, a bad endpoint key, a missing required key…).

Texts — :func:`cases` gives a :class:`Case`, the bytes of a file and its suffix: any of the
designs above written as JSON (``NaN``/``Infinity`` tokens), block or flow YAML (``.inf``,
``.nan``), with anchors, aliases and merge keys; or hostile YAML/JSON: duplicate keys, deep
nesting, unsafe or odd tags, alias bombs, byte-order marks, CRLF, bad UTF-8, not a mapping.

Every generated document is small (a few KB; the deep-nesting and alias cases stay under
~60 KB of text).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

from designkit.model.effects import EFFECTS

__all__ = [
    "EXTREME_NUMBERS",
    "HOSTILE_TEXT",
    "MARKERS",
    "Case",
    "cases",
    "extreme_designs",
    "files_of",
    "hostile_texts",
    "invalid_designs",
    "small_designs",
    "valid_designs",
]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

MARKERS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
"""Hostile markup: outputs in HTML, Markdown, SVG must never hold these raw."""

HOSTILE_TEXT = (
    *MARKERS,
    "$x$", "$$\\frac{1}{2}$$", '"quoted"', "it's", "a|b", "| pipe | table |", "`tick`",
    "```fence", "[x]", "{y}", "(z)", "<b>bold</b>", "a & b", "&amp;", "&#60;", "%%comment",
    "#hash", "a;b", "a:b", "a -> b", "-->", "--", "end", "graph", "subgraph", "classDef",
    "click x call alert()", "style", "<br/>", "]]>", "<!-- c -->", "*bold*", "_em_", "\\",
    "back\\slash", "\\n", "ünïcödé 中文 🚀", "emoji 👩‍💻", "עברית RTL \u202e txt", "zero\u200bwidth",
    "line\nbreak", "tab\there", "{{x}}", "${x}", "%s %d", "null", "~", "yes", "No", "1e3",
    "0x1F", ".inf", ".nan", "NaN", "Infinity", "-0", "x" * 150, "word " * 30,
)
"""Text that a design may hold (no control characters: those are refused), and that every
output must escape."""

CONTROL_TEXT = (
    "\x01", "bell\x07", "a\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "nul\x00x", "cr\rx",
    "del\x7f", "nel\x85x", "csi\x9b1m", "u\u2028v", "p\u2029q", "\ufeffbom", "\ufffe",
    "form\x0cfeed", "vt\x0bx",
)
"""Text with control characters: a design holding any must be refused with a message."""

COMPONENT_KEYWORDS = (
    "api", "orders-db", "stock.cache", "end", "graph", "subgraph", "node", "edge", "digraph",
    "strict", "class", "style", "click", "default", "classDef", "linkStyle", "flowchart",
    "participant", "loop", "alt", "opt", "note", "erDiagram", "NaN", "inf", "null", "true",
    "1", "0", "007", "1e3", "x" * 120, "A.B-C_d", "a.b", "a-b", "a_b", "script", "html",
    "sequenceDiagram", "rect", "par", "and", "self", "actor", "box", "Node", "END",
)

EXTREME_NUMBERS: tuple[Any, ...] = (
    0, 0.0, -0.0, -1, -0.5, -1e-9, 1e-9, 5e-324, 1e-300, 0.999999999, 1.0000001, 2, 1e6,
    1e9, 1e9 + 1, 1e12, 1e13, 1e15, 1e18, 1e308, -1e308, 1.7976931348623157e308,
    math.inf, -math.inf, math.nan, 10**20, 10**400, -(10**400), 2**53 + 1, 2**63, -(2**63),
    100_000, 100_001, 86_400_000, 86_400_001,
)
"""Numbers at and beyond every edge."""

MAX_DEPTH = 3  # step containers nest at most this deep in generated designs


# -- leaves ------------------------------------------------------------------------------


def nums(lo: float, hi: float) -> st.SearchStrategy[float]:
    """A number in [lo, hi]: an int or a float, never NaN or inf."""
    parts: list[st.SearchStrategy[Any]] = [
        st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)]
    if math.ceil(lo) <= math.floor(hi):
        parts.append(st.integers(math.ceil(lo), math.floor(hi)))
    return st.one_of(parts)


def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


PLAIN_WORDS = st.from_regex(r"[a-z][a-z0-9_-]{0,9}", fullmatch=True)


def hostile_texts() -> st.SearchStrategy[str]:
    """Text without control characters: plain words, :data:`HOSTILE_TEXT`, any text."""
    anything = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1,
                       max_size=20)
    return st.one_of(PLAIN_WORDS, st.sampled_from(HOSTILE_TEXT), anything)


def _name_ok(text: str) -> bool:
    return bool(text) and text == text.strip() and "\n" not in text and "\t" not in text \
        and len(text) <= 200 and not any(c.isspace() and c != " " for c in text)


def names() -> st.SearchStrategy[str]:
    """A key the format allows any text for (table, column, saga…): no padding, no control
    or line-break characters, no '.' (a foreign key splits on it)."""
    return hostile_texts().map(lambda s: s.replace(".", "_")).filter(_name_ok)


PATH_LIKE = ("../../escape", "../x", "a/b", "/abs/path", "..", ".", "CON", "NUL.txt", "x" * 200,
             "name.md", "-o", "--help", "a\\b", "C:\\x", "~", "~/x", "*", "?", "a:b", "%2e%2e",
             "design", "design.yaml", ".hidden", "con.html", "a b", "é/ü")


def any_names() -> st.SearchStrategy[str]:
    """A name the format allows any text for, path-like ones included (a design's or a
    saga's name, which may end up in a file name)."""
    return st.one_of(names(), st.sampled_from(PATH_LIKE),
                     hostile_texts().filter(_name_ok))


def free_text() -> st.SearchStrategy[str]:
    return hostile_texts().filter(lambda s: bool(s.strip()))


COMPONENT_NAMES = st.one_of(
    st.sampled_from(COMPONENT_KEYWORDS),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,11}", fullmatch=True),
)

PATH_SEGMENTS = st.one_of(
    st.sampled_from(("orders", "{id}", "v1", "items", "{order_id}", "<script>", "$x$", "a|b",
                     '"q"', "%20", "..", "*", "#frag", "?q=1", "ü", "中文", "🚀", "a&b",
                     "[x]", "-->", "x" * 60, "'", "`", "\\", "{", "}", ";", "end")),
    names().map(lambda s: s.replace(" ", "-").replace("/", "_")).filter(
        lambda s: not any(c.isspace() for c in s)),
)


@st.composite
def endpoint_keys(draw: st.DrawFn) -> str:
    method = draw(st.sampled_from(METHODS))
    segments = draw(st.lists(PATH_SEGMENTS, max_size=3))
    return f"{method} /" + "/".join(segments)


SCV = st.one_of(nums(0, 2), nums(0, 100),
                st.sampled_from((0, 0.01, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1, 1.5, 2, 4, 10,
                                 50, 100)))
"""A squared coefficient of variation: often near the shapes' edges (0, 0.5, 1)."""


def times(lo: float = 0.0, hi: float = 50.0) -> st.SearchStrategy[Any]:
    """A time: a mean, ``{mean, scv}`` or ``{p50, p95}``."""
    mean = nums(lo, hi)
    return st.one_of(
        mean,
        st.fixed_dictionaries({"mean": mean}, optional={"scv": SCV}),
        st.tuples(nums(max(lo, 0.01), hi), nums(1.05, 10)).map(
            lambda t: {"p50": t[0], "p95": t[0] * t[1]}),
    )


def _optional(draw: st.DrawFn, out: dict[str, Any], key: str,
              strategy: st.SearchStrategy[Any], p: float = 0.5) -> None:
    """Set ``out[key]`` from ``strategy`` with probability about ``p``."""
    if draw(st.integers(0, 99)) < p * 100:
        out[key] = draw(strategy)


# -- components ----------------------------------------------------------------------------


@dataclass
class _Context:
    """What steps may refer to while a design is drawn."""

    databases: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # db → table → cols
    caches: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    externals: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    callable_endpoints: list[str] = field(default_factory=list)  # "svc METHOD /path"


COLUMN_TYPES = ("uuid", "int", "bigint", "text", "jsonb", "timestamptz", "char(3)",
                "numeric(12,2)", "varchar(255)", "bytea", "boolean", "<script>", "a|b")


@st.composite
def databases(draw: st.DrawFn, name: str, earlier: dict[str, dict[str, list[str]]]
              ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    data: dict[str, Any] = {"kind": "database"}
    _optional(draw, data, "engine", st.sampled_from(("postgres", "mysql", "<b>db</b>")), 0.3)
    _optional(draw, data, "description", free_text(), 0.3)
    _optional(draw, data, "cores", ints(1, 16))
    _optional(draw, data, "max_connections", ints(1, 500))
    _optional(draw, data, "pool_size", ints(1, 50))
    _optional(draw, data, "az", PLACEMENT["az"], 0.2)
    _optional(draw, data, "seek_ms", nums(0.01, 5), 0.3)
    _optional(draw, data, "scan_us_per_row", nums(0.001, 1), 0.3)
    _optional(draw, data, "row_ms", nums(0, 1), 0.2)
    _optional(draw, data, "write_ms", nums(0.01, 5), 0.3)
    _optional(draw, data, "read_replicas", ints(0, 3), 0.2)
    _optional(draw, data, "boundary", free_text(), 0.2)
    _optional(draw, data, "zone", st.sampled_from(("private", "public", "dmz", "<z>")), 0.2)
    _optional(draw, data, "migrations", st.one_of(
        st.sampled_from(("migrations/", "no/such/folder")),
        st.lists(st.sampled_from(("0001.sql", "../x.sql")), max_size=2)), 0.1)
    schema: dict[str, list[str]] = {}
    tables: dict[str, Any] = {}
    for table in draw(st.lists(names(), max_size=3, unique=True)):
        columns = draw(st.lists(names(), max_size=4, unique=True))
        t: dict[str, Any] = {}
        _optional(draw, t, "rows", st.one_of(ints(0, 10_000_000), st.none()), 0.8)
        _optional(draw, t, "growth_per_day", st.one_of(nums(0, 100_000), st.none()), 0.4)
        if columns:
            cols: dict[str, Any] = {}
            for c in columns:
                spec: dict[str, Any] = {}
                _optional(draw, spec, "type", st.sampled_from(COLUMN_TYPES), 0.8)
                _optional(draw, spec, "primary_key", st.booleans(), 0.3)
                _optional(draw, spec, "nullable", st.booleans(), 0.2)
                _optional(draw, spec, "unique", st.booleans(), 0.2)
                _optional(draw, spec, "sensitive", st.booleans(), 0.1)
                _optional(draw, spec, "denormalized", st.booleans(), 0.1)
                targets = [f"{tn}.{cn}" for tn, cs in schema.items() for cn in cs] + \
                    [f"{dn}.{tn}.{cn}" for dn, ts in earlier.items() if "." not in dn
                     for tn, cs in ts.items() for cn in cs]
                if targets and draw(st.integers(0, 3)) == 0:
                    spec["references"] = draw(st.sampled_from(targets))
                cols[c] = spec
            t["columns"] = cols
        pool = columns or draw(st.lists(names(), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            t["indexes"] = [
                {"columns": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3,
                                          unique=True)),
                 **draw(st.fixed_dictionaries({}, optional={
                     "kind": st.sampled_from(("btree", "hash", "gin", "gist", "brin", "fulltext")),
                     "unique": st.booleans(), "name": names()}))}
                for _ in range(draw(st.integers(1, 2)))]
        if columns and draw(st.integers(0, 4)) == 0:
            t["partitioning"] = {"key": [draw(st.sampled_from(columns))],
                                 **draw(st.fixed_dictionaries({}, optional={
                                     "kind": st.sampled_from(("range", "hash", "list")),
                                     "shards": ints(1, 64)}))}
        if columns and draw(st.integers(0, 5)) == 0:
            t["version_column"] = draw(st.sampled_from(columns))
        tables[table] = t
        schema[table] = [c for c in columns if "." not in c]
    if tables or draw(st.booleans()):
        data["tables"] = tables
    return data, schema


PLACEMENT: dict[str, st.SearchStrategy[Any]] = {
    "region": st.sampled_from(("eu-west-1", "us-east-1", "<r>")),
    "az": st.one_of(st.sampled_from(("a", "b")),
                    st.lists(st.sampled_from(("a", "b", "c")), min_size=1, max_size=3))}
"""Where a component runs (network time per hop)."""


def caches() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"kind": st.just("cache")}, optional={
        "engine": st.sampled_from(("redis", "memcached", "<i>c</i>")),
        "servers": ints(1, 4), "service_ms": times(0, 2), "hit_ratio": nums(0, 1),
        "strategy": st.sampled_from(("cache-aside", "read-through", "write-through",
                                     "write-behind")),
        "ttl_s": nums(0.1, 86_400), "invalidation": free_text(),
        "max_memory_mb": nums(1, 10_000),
        "eviction": st.sampled_from(("allkeys-lru", "noeviction", "x|y")),
        "persistence": st.sampled_from(("none", "snapshot", "aof", "aof-always")),
        "description": free_text(), "boundary": free_text(), **PLACEMENT})


def queues() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"kind": st.just("queue")}, optional={
        "engine": st.sampled_from(("kafka", "rabbitmq", "sqs", "`q`")),
        "partitions": ints(1, 24), "service_ms": times(0, 5), "consumers": ints(1, 24),
        "ack": st.sampled_from(("after-commit", "before-processing", "auto")),
        "description": free_text(), "zone": free_text(), **PLACEMENT})


def retries() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={
        "max": ints(0, 5), "backoff": st.sampled_from(("none", "constant", "exponential")),
        "base_ms": nums(0, 500), "jitter": st.booleans(), "budget": nums(0, 1)})


def externals() -> st.SearchStrategy[dict[str, Any]]:
    breaker = st.one_of(st.booleans(), st.fixed_dictionaries({}, optional={
        "enabled": st.booleans(), "failure_threshold": nums(0.01, 1),
        "open_ms": nums(1, 60_000)}))
    return st.fixed_dictionaries({"kind": st.just("external")}, optional={
        "latency_ms": times(0, 2000), "timeout_ms": nums(1, 10_000), "retries": retries(),
        "circuit_breaker": breaker, "failure_rate": nums(0, 1), "concurrency": ints(1, 500),
        "description": free_text(), "zone": st.sampled_from(("internet", "<script>"))})


@st.composite
def locks(draw: st.DrawFn) -> dict[str, Any]:
    lock = draw(st.fixed_dictionaries({"kind": st.just("lock")}, optional={
        "engine": st.sampled_from(("row", "advisory", "redis", "zookeeper")),
        "acquire_ms": nums(0, 10), "description": free_text(), **PLACEMENT}))
    if draw(st.integers(0, 3)) == 0:  # keys, and a hot one (at least an even share)
        keys = lock["keys"] = draw(ints(2, 1000))
        _optional(draw, lock, "hot_key_share", nums(1.0 / keys, 1), 0.5)
    return lock


# -- steps -----------------------------------------------------------------------------------


@st.composite
def query(draw: st.DrawFn, tables: dict[str, list[str]]) -> dict[str, Any]:
    table = draw(st.sampled_from(sorted(tables)))
    columns = tables[table]
    pick = st.sampled_from(columns) if columns else names()
    q: dict[str, Any] = {"table": table}
    _optional(draw, q, "kind", st.sampled_from(("select", "insert", "update", "delete",
                                                "upsert")), 0.7)
    _optional(draw, q, "where", st.lists(pick, max_size=2, unique=True), 0.6)
    _optional(draw, q, "order_by", st.lists(pick, max_size=2, unique=True), 0.2)
    _optional(draw, q, "limit", ints(1, 1000), 0.2)
    _optional(draw, q, "batch", ints(1, 100), 0.2)
    _optional(draw, q, "atomic", st.booleans(), 0.2)
    _optional(draw, q, "for_update", st.booleans(), 0.1)
    rest = [c for c in columns if c not in q.get("where", [])]
    if rest:
        _optional(draw, q, "range", st.sampled_from(rest), 0.15)
    _optional(draw, q, "contains", st.lists(pick, max_size=1, unique=True), 0.05)
    _optional(draw, q, "aggregate", st.booleans(), 0.1)
    if draw(st.integers(0, 4)) == 0:  # rows matched: a count, or a share of the table
        q.update(draw(st.one_of(st.fixed_dictionaries({"rows": ints(0, 5_000_000)}),
                                st.fixed_dictionaries({"selectivity": nums(0, 1)}))))
    return q


CACHE_OPS = st.sampled_from(("GET stock:{sku}", "SET stock:{sku} 1", "SET k NX", "DECR stock:1",
                             "WATCH stock:{sku}", "EVAL s 1 k", "cas stock:{sku} 0", "GET"))
"""Cache commands whose effect and key the review reads (and a key-less one)."""


@st.composite
def call_step(draw: st.DrawFn, ctx: _Context) -> dict[str, Any] | None:
    targets = [("db", n) for n in ctx.databases] + [("cache", n) for n in ctx.caches] + \
        [("external", n) for n in ctx.externals] + \
        [("endpoint", r) for r in ctx.callable_endpoints]
    if not targets:
        return None
    kind, target = draw(st.sampled_from(targets))
    step: dict[str, Any] = {"call": target}
    if kind == "db":
        tables = ctx.databases[target]
        if tables and draw(st.integers(0, 4)) > 0:
            step["query"] = draw(query(tables))
            _optional(draw, step, "service_ms", times(0, 20), 0.1)
        else:
            step["service_ms"] = draw(times(0, 20))
    else:
        _optional(draw, step, "service_ms", times(0, 20), 0.15)
    _optional(draw, step, "op", st.one_of(free_text(), CACHE_OPS), 0.3)
    _optional(draw, step, "does", st.sampled_from(EFFECTS), 0.1)
    _optional(draw, step, "idempotency_key", st.booleans(), 0.1)
    _optional(draw, step, "count", nums(0.01, 5), 0.3)
    _optional(draw, step, "timeout_ms", nums(1, 5000), 0.2)
    _optional(draw, step, "retries", retries(), 0.15)
    if kind == "endpoint":
        _optional(draw, step, "failure_rate", nums(0, 1), 0.15)
    if draw(st.integers(0, 9)) == 0:  # a fallback: nothing (degrade), or a call of a cache
        step["fallback"] = [{"call": c} for c in draw(
            st.lists(st.sampled_from(ctx.caches), max_size=1))] if ctx.caches else []
    return step


@st.composite
def steps(draw: st.DrawFn, ctx: _Context, depth: int = 0) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 3 if depth == 0 else 2))):
        s = draw(one_step(ctx, depth))
        if s is not None:
            out.append(s)
    return out


@st.composite
def one_step(draw: st.DrawFn, ctx: _Context, depth: int) -> dict[str, Any] | None:
    kinds = ["call", "call"]
    if ctx.queues:
        kinds.append("publish")
    if depth < MAX_DEPTH:
        kinds += ["loop", "parallel"]
        if ctx.databases:
            kinds.append("transaction")
        if ctx.locks:
            kinds.append("lock")
        if ctx.caches:
            kinds.append("cache")
    kind = draw(st.sampled_from(kinds))
    inner = steps(ctx, depth + 1)
    if kind == "call":
        return draw(call_step(ctx))
    if kind == "publish":
        s: dict[str, Any] = {"publish": draw(st.sampled_from(ctx.queues))}
        _optional(draw, s, "count", nums(0.1, 3), 0.3)
        _optional(draw, s, "outbox", st.booleans(), 0.3)
        return s
    if kind == "loop":
        return {"loop": {"count": draw(nums(0.5, 60)), "steps": draw(inner)}}
    if kind == "parallel":
        return {"parallel": draw(st.lists(inner, min_size=1, max_size=3))}
    if kind == "transaction":
        return {"transaction": draw(st.sampled_from(sorted(ctx.databases))),
                "steps": draw(inner)}
    if kind == "lock":
        return {"lock": draw(st.sampled_from(ctx.locks)), "steps": draw(inner)}
    s = {"cache": draw(st.sampled_from(ctx.caches))}
    _optional(draw, s, "op", free_text(), 0.3)
    _optional(draw, s, "hit_ratio", nums(0, 1), 0.3)
    s["on_miss"] = draw(inner)
    return s


@st.composite
def endpoint(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    ep: dict[str, Any] = {}
    _optional(draw, ep, "description", free_text(), 0.3)
    _optional(draw, ep, "cpu_ms", times(0, 20), 0.7)
    _optional(draw, ep, "public", st.booleans(), 0.3)
    _optional(draw, ep, "auth", st.fixed_dictionaries({}, optional={
        "scheme": st.sampled_from(("none", "jwt", "session", "api-key", "mtls", "oauth2")),
        "roles": st.lists(free_text(), max_size=2), "ownership": st.booleans()}), 0.3)
    _optional(draw, ep, "idempotency_key", st.one_of(st.booleans(), st.fixed_dictionaries(
        {}, optional={"header": free_text(), "retention_h": nums(1, 1000)})), 0.3)
    _optional(draw, ep, "rate_limit", st.fixed_dictionaries({"rps": nums(0.1, 1000)}, optional={
        "per": st.sampled_from(("user", "ip", "client", "global", "tenant")),
        "burst": ints(1, 100)}), 0.2)
    _optional(draw, ep, "request_schema", st.one_of(free_text(), st.dictionaries(
        names(), free_text(), max_size=2)), 0.15)
    _optional(draw, ep, "validated_at", st.sampled_from(("gateway", "controller", "service",
                                                         "none")), 0.15)
    _optional(draw, ep, "responses", st.dictionaries(
        st.sampled_from((200, 201, 204, 400, 404, 409, 422, 500, 503)), free_text(),
        max_size=3), 0.3)
    _optional(draw, ep, "envelope", st.sampled_from(("data-meta-error", "problem-json",
                                                     "none")), 0.15)
    _optional(draw, ep, "collection", st.booleans(), 0.15)
    _optional(draw, ep, "pagination", st.sampled_from(("none", "offset", "cursor")), 0.15)
    _optional(draw, ep, "versioning", st.sampled_from(("uri", "header", "media-type",
                                                       "none")), 0.15)
    _optional(draw, ep, "timeout_ms", nums(1, 10_000), 0.2)
    _optional(draw, ep, "response_kb", nums(0, 1000), 0.15)
    _optional(draw, ep, "compression", st.lists(st.sampled_from(("gzip", "br", "deflate",
                                                                 "zstd")), max_size=2), 0.1)
    _optional(draw, ep, "resolvers", st.dictionaries(names(), st.fixed_dictionaries(
        {}, optional={"returns_list": st.booleans(), "batched": st.booleans()}),
        max_size=2), 0.1)
    body = draw(steps(ctx))
    if body or draw(st.booleans()):
        ep["steps"] = body
    return ep


# -- designs -----------------------------------------------------------------------------------


def endpoint_refs(data: dict[str, Any]) -> list[str]:
    """``"svc METHOD /path"`` of every endpoint of a design's data."""
    out = []
    for name, comp in (data.get("components") or {}).items():
        if isinstance(comp, dict) and comp.get("kind") == "service" and \
                isinstance(comp.get("endpoints"), dict):
            for key in comp["endpoints"]:
                out.append(f"{name} {key}")
    return out


def _quiet_endpoints(services: dict[str, Any], queues: list[str]) -> list[str]:
    """Endpoints that publish no message (a publish, or a call of a queue), themselves or
    through the endpoints they call."""
    publishes: dict[str, bool] = {}
    for name, svc in services.items():  # a service calls only services before it
        for key, ep in svc["endpoints"].items():
            found = False
            for _, node in nodes(ep.get("steps", [])):
                if isinstance(node, dict) and ("publish" in node or node.get("call") in queues
                                               or publishes.get(str(node.get("call")), False)):
                    found = True
            publishes[f"{name} {key}"] = found
    return [ref for ref, loud in publishes.items() if not loud]


@st.composite
def valid_designs(draw: st.DrawFn) -> dict[str, Any]:
    """A design meant to be valid (see the module)."""
    counts = {k: draw(st.integers(lo, hi)) for k, lo, hi in (
        ("service", 1, 3), ("database", 0, 2), ("cache", 0, 2), ("queue", 0, 2),
        ("external", 0, 2), ("lock", 0, 2))}
    all_names = draw(st.lists(COMPONENT_NAMES, min_size=sum(counts.values()),
                              max_size=sum(counts.values()), unique=True))
    taken = iter(all_names)
    by_kind = {k: [next(taken) for _ in range(n)] for k, n in counts.items()}
    ctx = _Context()
    components: dict[str, Any] = {}
    for name in by_kind["database"]:
        components[name], ctx.databases[name] = draw(databases(name, dict(ctx.databases)))
    for kind, strategy, names_of in (("cache", caches(), ctx.caches),
                                     ("queue", queues(), ctx.queues),
                                     ("external", externals(), ctx.externals),
                                     ("lock", locks(), ctx.locks)):
        for name in by_kind[kind]:
            components[name] = draw(strategy)
            names_of.append(name)
    services: dict[str, Any] = {}
    for name in by_kind["service"]:
        svc: dict[str, Any] = {"kind": "service"}
        _optional(draw, svc, "replicas", ints(1, 8), 0.7)
        _optional(draw, svc, "workers", ints(1, 64), 0.7)
        _optional(draw, svc, "io", st.sampled_from(("blocking", "async")), 0.4)
        _optional(draw, svc, "boundary", free_text(), 0.3)
        _optional(draw, svc, "zone", st.sampled_from(("public", "private", "<dmz>")), 0.2)
        _optional(draw, svc, "region", PLACEMENT["region"], 0.15)
        _optional(draw, svc, "az", PLACEMENT["az"], 0.2)
        _optional(draw, svc, "redact", st.lists(free_text(), max_size=2), 0.1)
        _optional(draw, svc, "tracing", st.booleans(), 0.1)
        _optional(draw, svc, "drain_timeout_ms", nums(1, 60_000), 0.1)
        _optional(draw, svc, "description", free_text(), 0.2)
        keys = draw(st.lists(endpoint_keys(), min_size=1, max_size=3,
                             unique_by=lambda k: k.upper()))
        eps = {}
        for key in keys:
            eps[key] = draw(endpoint(ctx))
        svc["endpoints"] = eps
        services[name] = svc
        ctx.callable_endpoints += [f"{name} {k}" for k in keys]
    # services first in the file, as in the templates; the order must not matter
    order = draw(st.sampled_from(("services-first", "services-last")))
    components = {**services, **components} if order == "services-first" else \
        {**components, **services}
    refs = list(ctx.callable_endpoints)
    quiet = _quiet_endpoints(services, ctx.queues)  # handlers that publish nothing: no message loop
    for name in ctx.queues:
        if quiet and draw(st.booleans()):
            components[name]["handler"] = draw(st.sampled_from(quiet))
    data: dict[str, Any] = {"designkit": 1, "name": draw(any_names())}
    _optional(draw, data, "description", free_text(), 0.3)
    if draw(st.integers(0, 4)) == 0:
        data["policy"] = draw(st.fixed_dictionaries({}, optional={
            "envelope": st.sampled_from(("data-meta-error", "problem-json")),
            "versioning": st.sampled_from(("uri", "header", "media-type")),
            "pagination": st.sampled_from(("cursor", "offset")),
            "cached_read_p95_ms": nums(0.1, 100), "seek_p95_ms": nums(0.1, 100),
            "background_ms": nums(1, 1000), "utilization_max": nums(0.01, 1),
            "pool_utilization_max": nums(0.01, 1), "partition_rows": ints(1, 10**9),
            "compression_kb": nums(0.1, 1000),
            "severity": st.dictionaries(st.sampled_from(("DK-PERF-005", "DK-API-001",
                                                         "DK-SEC-001")),
                                        st.sampled_from(("critical", "high", "medium", "low",
                                                         "info")), max_size=2)}))
    if draw(st.integers(0, 5)) == 0:
        data["security"] = draw(st.fixed_dictionaries({}, optional={
            "password_hashing": st.sampled_from(("bcrypt", "sha256", "<md5>")),
            "jwt_algorithm": st.sampled_from(("RS256", "HS256", "none")),
            "sessions": st.sampled_from(("cookie", "token")), "csrf": st.booleans(),
            "cors": st.fixed_dictionaries({}, optional={
                "origins": st.lists(st.sampled_from(("*", "https://a.example", "<o>")),
                                    max_size=2),
                "credentials": st.booleans()})}))
    data["components"] = components
    _optional(draw, data, "previous", st.sampled_from(("v1.yaml", "no-such.yaml", "")), 0.05)
    if draw(st.integers(0, 6)) == 0:
        data["network"] = draw(st.fixed_dictionaries({}, optional={
            "same_zone_ms": nums(0, 2), "cross_zone_ms": nums(0, 10),
            "cross_region_ms": nums(0, 300)}))
    stores = [*ctx.caches, *ctx.databases,
              *(f"{db}.{t}" for db, tables in ctx.databases.items() for t in tables)]
    if stores and draw(st.integers(0, 3)) == 0:  # invariants: a value, or a once-only effect
        invariants: dict[str, Any] = {}
        for inv_name in draw(st.lists(names(), min_size=1, max_size=2, unique=True)):
            if ctx.externals and draw(st.booleans()):
                invariants[inv_name] = {"charged_by": draw(st.sampled_from(ctx.externals))}
                continue
            inv: dict[str, Any] = {"authority": draw(st.sampled_from(stores))}
            _optional(draw, inv, "key", st.sampled_from(("stock:{sku}", "k", "{x}")), 0.5)
            _optional(draw, inv, "copies", st.lists(st.sampled_from(stores), max_size=2), 0.3)
            _optional(draw, inv, "says", free_text(), 0.3)
            invariants[inv_name] = inv
        data["invariants"] = invariants
    if draw(st.integers(0, 5)) == 0:  # calibration: scale, shape, slowdown; measured loads
        calibrated = list(components)
        data["calibration"] = {
            "components": draw(st.dictionaries(st.sampled_from(calibrated),
                                               st.fixed_dictionaries({}, optional={
                                                   "scale": nums(0.01, 20),
                                                   "scv": nums(0, 10),
                                                   "slowdown": nums(0, 5)}), max_size=3)),
            "measured": draw(st.dictionaries(st.sampled_from(refs), nums(0, 10_000),
                                             max_size=2)),
        }
    if draw(st.integers(0, 2)) == 0:
        sagas = {}
        for saga_name in draw(st.lists(any_names(), min_size=1, max_size=2, unique=True)):
            step_names = draw(st.lists(names(), min_size=1, max_size=3, unique=True))
            pivot = draw(st.sampled_from([None, *step_names]))
            saga_steps = []
            for sn in step_names:
                s: dict[str, Any] = {"name": sn, "action": draw(st.sampled_from(refs))}
                _optional(draw, s, "compensation", st.sampled_from(refs), 0.5)
                if sn == pivot:
                    s["pivot"] = True
                saga_steps.append(s)
            saga: dict[str, Any] = {"steps": saga_steps}
            _optional(draw, saga, "description", free_text(), 0.2)
            _optional(draw, saga, "coordination", st.sampled_from(("orchestration",
                                                                  "choreography")), 0.2)
            sagas[saga_name] = saga
        data["sagas"] = sagas
    loaded = draw(st.lists(st.sampled_from(refs), unique=True, max_size=len(refs)))
    if loaded:
        workload = {}
        for ref in loaded:
            svc_name, method, path = ref.split(" ", 2)
            style = draw(st.integers(0, 9))
            key = (f"{svc_name} {method.lower()} {path}" if style == 0 else
                   f"{svc_name}  {method}  {path}" if style == 1 else ref)
            workload[key] = draw(st.one_of(nums(0, 300), st.sampled_from((0, 0.001, 1))))
        if len({k.split()[0] + " " + k.split()[1].upper() + " " + k.split()[2]
                for k in workload}) == len(workload):
            data["workload"] = workload
        else:
            data["workload"] = {r: 10 for r in loaded}
    if draw(st.integers(0, 3)) == 0:  # some numbers written as ranges in place
        _ranges(draw, data)
    if draw(st.integers(0, 5)) == 0:
        data["waivers"] = [draw(st.fixed_dictionaries({
            "finding": st.sampled_from(("DK-*@*", "DK-PERF-005@components.*", "<script>@*",
                                        "DK-API-001@components.*.endpoints.*")),
            "reason": free_text(), "owner": free_text()},
            optional={"expires": st.sampled_from(("2020-01-01", "2099-12-31"))}))]
    if draw(st.integers(0, 6)) == 0:
        data["attestations"] = [draw(st.fixed_dictionaries({
            "rule": st.sampled_from(("DK-SEC-001", "DK-SEC-002", "DK-API-001")),
            "by": free_text(), "on": st.just("2026-01-01"), "evidence": free_text()},
            optional={"subject": st.sampled_from(("*", "components.*", "<x>")),
                      "expires": st.sampled_from(("2020-01-01", "2099-12-31"))}))]
    return data


@st.composite
def small_designs(draw: st.DrawFn) -> dict[str, Any]:
    """One service with one endpoint over a database, a cache, an external and a lock, with
    every number drawn across its whole valid range and every time shape: the estimator's
    arithmetic, rather than the structure, is what this exercises."""
    time = st.one_of(nums(0, 500), st.fixed_dictionaries({"mean": nums(0, 500), "scv": SCV}),
                     st.tuples(nums(0.001, 500), nums(1.0001, 100)).map(
                         lambda t: {"p50": t[0], "p95": t[0] * t[1]}))
    body: list[dict[str, Any]] = []
    for kind in draw(st.lists(st.sampled_from(("db", "cache", "external", "lock", "loop",
                                                "transaction", "parallel")), max_size=4)):
        db_call = {"call": "db", "service_ms": draw(time), "count": draw(nums(0.001, 10))}
        if kind == "db":
            body.append(db_call)
        elif kind == "cache":
            body.append({"cache": "cache", "hit_ratio": draw(nums(0, 1)),
                         "on_miss": [db_call]})
        elif kind == "external":
            step: dict[str, Any] = {"call": "ext"}
            _optional(draw, step, "timeout_ms", nums(0.001, 10_000))
            _optional(draw, step, "retries", retries())
            body.append(step)
        elif kind == "lock":
            body.append({"lock": "lock", "steps": [db_call]})
        elif kind == "loop":
            body.append({"loop": {"count": draw(nums(0.001, 100)), "steps": [db_call]}})
        elif kind == "transaction":
            body.append({"transaction": "db", "steps": [db_call]})
        else:
            body.append({"parallel": [[db_call], [{"call": "ext"}]]})
    external: dict[str, Any] = {"kind": "external", "latency_ms": draw(time)}
    _optional(draw, external, "timeout_ms", nums(0.001, 10_000))
    _optional(draw, external, "retries", retries())
    _optional(draw, external, "circuit_breaker", st.booleans())
    _optional(draw, external, "failure_rate", nums(0, 1))
    _optional(draw, external, "concurrency", ints(1, 1000))
    return {
        "designkit": 1, "name": "small",
        "components": {
            "api": {"kind": "service", "replicas": draw(ints(1, 10)),
                    "workers": draw(ints(1, 200)),
                    "io": draw(st.sampled_from(("blocking", "async"))),
                    "endpoints": {"GET /x": {"cpu_ms": draw(time), "steps": body}}},
            "db": {"kind": "database", "cores": draw(ints(1, 64)),
                   "pool_size": draw(ints(1, 100))},
            "cache": {"kind": "cache", "hit_ratio": draw(nums(0, 1)),
                      "service_ms": draw(time)},
            "ext": external,
            "lock": {"kind": "lock", "acquire_ms": draw(nums(0, 100))},
        },
        "workload": {"api GET /x": draw(st.one_of(nums(0, 1000), st.sampled_from(
            (0, 1e-9, 1e-3, 1, 1e6, 1e9))))},
    }


# -- mutations -------------------------------------------------------------------------------


Path = tuple[Any, ...]


def nodes(data: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node of plain data with its path (depth first)."""
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from nodes(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from nodes(v, (*path, i))


def _get(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@st.composite
def extreme_designs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid design with some of its numbers replaced by :data:`EXTREME_NUMBERS`."""
    data = draw(valid_designs())
    numbers = [p for p, v in nodes(data) if _is_number(v) and p != ("designkit",)]
    extras = [("components", n, f) for n, c in data["components"].items()
              for f in {"service": ("replicas", "workers"), "database": ("cores", "pool_size"),
                        "cache": ("hit_ratio", "servers"), "queue": ("partitions",),
                        "external": ("failure_rate", "timeout_ms"),
                        "lock": ("acquire_ms",)}[c["kind"]]]
    candidates = sorted(set(numbers) | set(extras), key=repr)
    everything = draw(st.integers(0, 5)) == 0
    chosen = candidates if everything else draw(st.lists(
        st.sampled_from(candidates), min_size=1, max_size=3, unique=True))
    for path in chosen:
        data = _set(data, path, draw(st.sampled_from(EXTREME_NUMBERS)))
    return data


def _typo(key: str, i: int) -> str:
    if not key:
        return "x"
    i %= len(key)
    return key[:i] + key[i + 1:] if len(key) > 3 else key + "s"


WRONG_VALUES: tuple[Any, ...] = ([], {}, "abc", "", True, None, 3, -1, [1, 2], {"x": 1}, "1e999", "true",
                "<script>alert(1)</script>", [[]], {"kind": "service"})


def _ranges(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """Turn some hit ratios, rows and workload rates into ranges ``{low, high}`` or
    lognormals ``{p50, p95}`` (docs/uncertainty.md), in place."""
    for path, value in list(nodes(data)):
        if not path or not _is_number(value) or draw(st.integers(0, 2)) > 0:
            continue
        key = path[-1]
        if key == "hit_ratio" and 0 < value < 1:
            half = draw(nums(0.0, 1.0)) * min(value, 1 - value)
            if half > 0:
                _set(data, path, {"low": value - half, "high": value + half})
        elif (key == "rows" or path[0] == "workload") and value > 0:
            if draw(st.booleans()):
                _set(data, path, {"low": value * 0.5, "high": value * 1.5})
            elif key != "rows" or value >= 2:
                _set(data, path, {"p50": value, "p95": value * draw(nums(1.01, 20))})


@st.composite
def _mutate(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from((
        "typo-key", "wrong-type", "drop-component", "dangling-ref", "wrong-kind-ref",
        "unknown-key", "drop-required", "bad-version", "bad-kind", "cycle", "bad-endpoint-key",
        "bad-component-name", "control-text", "padded-key", "saga", "not-a-mapping",
        "long-name", "bad-workload", "bad-range")))
    comps = data.get("components") or {}
    all_nodes = list(nodes(data))
    if kind == "typo-key":
        dicts = [(p, v) for p, v in all_nodes if isinstance(v, dict) and v]
        path, d = draw(st.sampled_from(dicts))
        key = draw(st.sampled_from(list(d)))
        new = _typo(str(key), draw(st.integers(0, 50)))
        if new not in d:
            _set(data, path, {(new if k == key else k): v for k, v in d.items()})
    elif kind == "wrong-type":
        path, _ = draw(st.sampled_from([(p, v) for p, v in all_nodes if p]))
        _set(data, path, copy.deepcopy(draw(st.sampled_from(WRONG_VALUES))))
    elif kind == "drop-component" and comps:
        del comps[draw(st.sampled_from(sorted(comps)))]
    elif kind in ("dangling-ref", "wrong-kind-ref"):
        refs = [(p, v) for p, v in all_nodes if isinstance(v, str) and p and p[-1] in (
            "call", "publish", "transaction", "lock", "cache", "handler", "action",
            "compensation", "references", "table")]
        if refs:
            path, old = draw(st.sampled_from(refs))
            if kind == "dangling-ref":
                new = draw(st.sampled_from((old + "x", old.upper(), old[:-1] or "x",
                                            "nowhere", "svc GET /nowhere", "a b",
                                            "api FETCH /x", "t.c.d.e", "")))
            else:
                new = draw(st.sampled_from(sorted(comps) or ["x"]))
            _set(data, path, new)
    elif kind == "unknown-key":
        dicts = [(p, v) for p, v in all_nodes if isinstance(v, dict)]
        path, d = draw(st.sampled_from(dicts))
        d[draw(st.sampled_from(("colour", "replica", "kind2", "<script>", "steps_",
                                "hit-ratio")))] = 1
    elif kind == "drop-required":
        if draw(st.booleans()) and comps:
            c = comps[draw(st.sampled_from(sorted(comps)))]
            if isinstance(c, dict):
                c.pop("kind", None)
        else:
            data.pop(draw(st.sampled_from(("name", "designkit", "components"))), None)
    elif kind == "bad-version":
        data["designkit"] = draw(st.sampled_from((2, 0, -1, "1", 1.5, 10**400, None, "one",
                                                  math.nan)))
    elif kind == "bad-kind" and comps:
        c = comps[draw(st.sampled_from(sorted(comps)))]
        if isinstance(c, dict):
            c["kind"] = draw(st.sampled_from(("servce", "Service", "db", "", "<script>", 1)))
    elif kind == "cycle":
        callable_refs = endpoint_refs(data)
        if callable_refs:
            a, b = draw(st.sampled_from(callable_refs)), draw(st.sampled_from(callable_refs))
            svc, key = a.split(" ", 1)
            ep = comps[svc]["endpoints"][key]
            ep.setdefault("steps", []).append({"call": b})
            svc_b, key_b = b.split(" ", 1)
            comps[svc_b]["endpoints"][key_b].setdefault("steps", []).append({"call": a})
    elif kind == "bad-endpoint-key":
        services = [c for c in comps.values() if isinstance(c, dict) and c.get("endpoints")]
        if services:
            eps = draw(st.sampled_from(services))["endpoints"]
            eps[draw(st.sampled_from(("FETCH /x", "GET x", "GET /a b", "GET", "/x", "",
                                      "get /X", " GET /pad", "GET\t/tab")))] = {}
    elif kind == "bad-component-name" and comps:
        old = draw(st.sampled_from(sorted(comps)))
        new = draw(st.sampled_from(("<script>", "a b", "", "-x", ".x", "$x$", "ü",
                                    "a\x1b[31m", "x/y", "a:b", '"q"')))
        text = json.dumps(data)
        data = json.loads(text.replace(json.dumps(old)[:-1] + " ", json.dumps(new)[:-1] + " ")
                          .replace(json.dumps(old), json.dumps(new)))
    elif kind == "control-text":
        strings = [(p, v) for p, v in all_nodes if isinstance(v, str) and p]
        if strings:
            path, old = draw(st.sampled_from(strings))
            _set(data, path, old + draw(st.sampled_from(CONTROL_TEXT)))
        if draw(st.booleans()):
            data["name"] = draw(st.sampled_from(CONTROL_TEXT))
    elif kind == "padded-key":
        dicts = [(p, v) for p, v in all_nodes if isinstance(v, dict) and v and p]
        if dicts:
            path, d = draw(st.sampled_from(dicts))
            key = draw(st.sampled_from(list(d)))
            pad = draw(st.sampled_from((" ", "  ", "\t", "\u00a0", "\u3000")))
            _set(data, path, {(f"{pad}{k}{pad}" if k == key else k): v for k, v in d.items()})
    elif kind == "saga":
        sagas = data.get("sagas")
        if isinstance(sagas, dict) and sagas:
            saga = sagas[draw(st.sampled_from(sorted(sagas)))]
            if saga.get("steps"):
                for s in saga["steps"]:
                    s["pivot"] = True
                saga["steps"].append(dict(saga["steps"][0]))
    elif kind == "not-a-mapping":
        data = draw(st.sampled_from(([], [data], "design", 42, None, True, [1, 2])))
    elif kind == "long-name":
        if comps and draw(st.booleans()):
            old = draw(st.sampled_from(sorted(comps)))
            comps["n" * draw(st.sampled_from((201, 1000, 5000)))] = comps.pop(old)
        else:
            data["name"] = "N" * draw(st.sampled_from((201, 1000, 20_000)))
    elif kind == "bad-workload":
        data["workload"] = draw(st.sampled_from((
            {"nowhere GET /x": 1}, {"a": 1}, [1], {"x GET /y": "fast"}, {"": 0},
            {"api GET /": -5})))
    elif kind == "bad-range":  # a range where none is accepted, or one that is no range
        numbers = [(p, v) for p, v in all_nodes if p and _is_number(v)]
        if numbers:
            path, _ = draw(st.sampled_from(numbers))
            _set(data, path, draw(st.sampled_from((
                {"low": 5, "high": 1}, {"low": 1}, {"low": 0.2, "hihg": 0.9},
                {"p50": 3, "p95": 2}, {"low": 0.5, "high": 1.5}, {"low": -1, "high": 1},
                {"p50": 0.5, "p95": 0.9}, {"low": 1, "high": 2, "p50": 1}))))
    return data


@st.composite
def invalid_designs(draw: st.DrawFn) -> Any:
    """A valid design with one to three mistakes (see the module); may be any JSON value."""
    data: Any = draw(valid_designs())
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(data, dict):
            break
        before = copy.deepcopy(data)
        try:
            data = draw(_mutate(data))
        except (TypeError, KeyError, AttributeError, IndexError, ValueError):
            data = before  # an earlier mistake changed the shape this one needs
    return data


# -- texts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One generated design file: its bytes, its suffix, and how it was made."""

    content: bytes
    suffix: str
    origin: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def __repr__(self) -> str:  # shown by hypothesis on a failure
        return f"Case(origin={self.origin!r}, suffix={self.suffix!r}, content={self.content!r})"


class _Dumper(yaml.SafeDumper):
    """Safe YAML with aliases kept (shared objects) and ``<<`` written as a merge key;
    strings that YAML 1.2 reads as numbers (``1e3``, ``0o17``) quoted, as PyYAML (YAML 1.1)
    would not."""


_YAML12_NUMBER = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"
                            r"|^0o[0-7]+$|^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if _YAML12_NUMBER.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


def to_json(data: Any, *, indent: int | None = 2, ascii_only: bool = False) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=ascii_only, allow_nan=True)


def to_yaml(data: Any, *, flow: bool | None = False, unicode: bool = True) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=unicode,
                     default_flow_style=flow, width=100)
    return text.replace("'<<':", "<<:")


def _with_aliases(data: dict[str, Any], which: int) -> dict[str, Any]:
    """Share one part in two places: the YAML gets an anchor and an alias."""
    comps = data.get("components") or {}
    if not isinstance(comps, dict) or not comps or not all(
            isinstance(c, dict) for c in comps.values()):
        return data
    names_ = list(comps)
    name = names_[which % len(names_)]
    if which % 3 == 0:
        comps[f"{name}-copy"[:200]] = comps[name]  # same object: &id001 … *id001
    elif which % 3 == 1:
        services = [c for c in comps.values() if c.get("kind") == "service"]
        if services:
            eps = services[0]["endpoints"]
            first = next(iter(eps.values()))
            eps["GET /alias"] = first
    else:
        # merge key: a copy of the component that overrides one field
        comps[f"{name}-merged"[:200]] = {"<<": comps[name], "description": "merged"}
    return data


def _duplicate_key(text: str, fmt: str, which: int) -> str:
    if fmt == "json":
        i = text.find("{")
        dup = ('"name": "dup",', '"components": {},', '"designkit": 1,')[which % 3]
        return text[:i + 1] + dup + text[i + 1:]
    dup = ("name: dup\n", "components: {}\n", "designkit: 1\n")[which % 3]
    if which % 2:
        # inside the first component
        return re.sub(r"(?m)^(components:\n  [^\n]+:\n)(    )", r"\1\2kind: lock\n\2", text,
                      count=1)
    return text + dup


def _deep(kind: str, depth: int) -> str:
    if kind == "steps":  # valid steps nested deep: loop in loop in loop…
        inner = '{"call": "db", "service_ms": 1}'
        for _ in range(depth):
            inner = '{"loop": {"count": 1, "steps": [' + inner + ']}}'
        return ('{"designkit": 1, "name": "deep", "components": {"db": {"kind": "database"}, '
                '"api": {"kind": "service", "endpoints": {"GET /x": {"steps": [' + inner +
                ']}}}}, "workload": {"api GET /x": 1}}')
    if kind == "list":
        return "designkit: 1\nname: deep\ndescription: " + "[" * depth + "]" * depth + "\n"
    if kind == "map":
        return "designkit: 1\nname: deep\ncomponents: " + "{a: " * depth + "1" + "}" * depth \
            + "\n"
    if kind == "json-list":
        return '{"designkit": 1, "name": "deep", "workload": ' + "[" * depth + "]" * depth \
            + "}"
    # block YAML, indented
    lines = ["designkit: 1", "name: deep", "components:"]
    lines += [" " * (2 * (i + 1)) + f"k{i}:" for i in range(depth)]
    return "\n".join(lines) + " 1\n"


def _alias_bomb(levels: int, width: int, where: str) -> str:
    """A few lines that expand to width**levels items when aliases are followed."""
    lines = ["designkit: 1", "name: bomb", "x-laughs:" if where == "top" else "description:"]
    if where == "schema":
        lines = ["designkit: 1", "name: bomb", "components:", "  api:", "    kind: service",
                 "    endpoints:", "      GET /x:", "        request_schema:"]
    indent = " " * (len(lines[-1]) - len(lines[-1].lstrip()) + 2)
    lines.append(f"{indent}l0: &l0 [" + ", ".join(['"lol"'] * width) + "]")
    for i in range(1, levels):
        lines.append(f"{indent}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


TAGS = ("!!python/object/apply:time.sleep [0]", "!!python/name:os.system",
        "!!python/object:collections.OrderedDict {}", "!!python/tuple [1, 2]",
        "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [{a: 1}]", "!!timestamp 2001-12-14",
        "!!float '1e400'", "!!int '0x1F'", "!custom x", "!!str 1", "!!null ''",
        "!<tag:yaml.org,2002:python/none> ''", "!!map {a: 1}", "!!seq [1]", "&a x",
        "*undefined", "!!bool yes", "2001-12-14", "12:30:00", "0o17", "1_000", "0b101",
        "!!float .nan", "- list", "? complex", "|\n  literal", ">-\n  folded")


@st.composite
def files_of(draw: st.DrawFn, data: Any, origin: str) -> Case:
    """``data`` written as a file one way or another (JSON, YAML block/flow/aliases, a
    byte-order mark, CRLF, another suffix); ``origin`` starts the case's origin."""
    style = draw(st.sampled_from(("yaml", "yaml", "json", "json-compact", "yaml-flow",
                                  "yaml-ascii", "yaml-aliases", "yaml-crlf", "yaml-bom",
                                  "json-bom", "yml")))
    suffix = ".json" if style.startswith("json") else ".yml" if style == "yml" else ".yaml"
    if style == "yaml-aliases" and isinstance(data, dict):
        data = _with_aliases(data, draw(st.integers(0, 30)))
    if style.startswith("json"):
        text = to_json(data, indent=None if style == "json-compact" else 2,
                       ascii_only=draw(st.booleans()))
    else:
        text = to_yaml(data, flow=style == "yaml-flow",
                       unicode=style != "yaml-ascii")
    if style == "yaml-crlf":
        text = text.replace("\n", "\r\n")
    if style.endswith("-bom"):
        text = "\ufeff" + text
    if draw(st.integers(0, 29)) == 7:
        suffix = draw(st.sampled_from(("", ".txt", ".YAML", ".JSON", ".json", ".yaml")))
        style += "+suffix"
    return Case(text.encode("utf-8"), suffix, f"{origin}/{style}")


@st.composite
def hostile_yaml(draw: st.DrawFn) -> Case:
    """YAML or JSON that a parser must refuse or survive: see the module."""
    kind = draw(st.sampled_from(("duplicate", "deep", "tag", "bomb", "bytes", "documents",
                                 "merge-list", "anchors-everywhere")))
    if kind == "duplicate":
        data = draw(valid_designs())
        fmt = draw(st.sampled_from(("json", "yaml")))
        which = draw(st.integers(0, 5))
        text = _duplicate_key(to_json(data) if fmt == "json" else to_yaml(data), fmt, which)
        return Case(text.encode(), f".{fmt}", f"hostile/duplicate-{fmt}")
    if kind == "deep":
        shape = draw(st.sampled_from(("steps", "list", "map", "json-list", "block")))
        depth = draw(st.sampled_from((20, 99, 100, 101, 150, 300, 1000, 3000)))
        if shape == "block":
            depth = min(depth, 300)
        if shape == "steps":
            depth = min(depth, 1000)
        suffix = ".json" if shape in ("steps", "json-list") else ".yaml"
        return Case(_deep(shape, depth).encode(), suffix, f"hostile/deep-{shape}-{depth}")
    if kind == "tag":
        data = draw(valid_designs())
        tag = draw(st.sampled_from(TAGS))
        text = to_yaml(data)
        text = re.sub(r"(?m)^name: .*$", lambda _: "name: " + tag, text, count=1)
        return Case(text.encode(), ".yaml", "hostile/tag")
    if kind == "bomb":
        levels = draw(st.integers(2, 5))
        where = draw(st.sampled_from(("top", "description", "schema")))
        return Case(_alias_bomb(levels, 9, where).encode(), ".yaml",
                    f"hostile/alias-bomb-9^{levels}-{where}")
    if kind == "bytes":
        data = draw(valid_designs())
        raw: bytes = to_yaml(data).encode()
        how = draw(st.sampled_from(("bad-utf8", "utf16", "nul", "empty", "comments",
                                    "latin1", "truncated", "tabs", "only-bom")))
        if how == "bad-utf8":
            raw = raw.replace(b"name: ", b"name: \xff\xfe", 1)
        elif how == "utf16":
            raw = to_yaml(data).encode("utf-16")
        elif how == "nul":
            raw = raw + b"\x00"
        elif how == "empty":
            raw = b""
        elif how == "comments":
            raw = b"# only a comment\n"
        elif how == "latin1":
            raw = "designkit: 1\nname: caf\u00e9\n".encode("latin-1")
        elif how == "truncated":
            raw = raw[: len(raw) // 2]
        elif how == "tabs":
            raw = raw.replace(b"  ", b"\t")
        else:
            raw = "\ufeff".encode()
        return Case(raw, ".yaml", f"hostile/bytes-{how}")
    if kind == "documents":
        data = draw(valid_designs())
        text = to_yaml(data)
        how = draw(st.sampled_from(("two", "end", "directive", "scalar", "list")))
        text = {"two": text + "---\n" + text, "end": "---\n" + text + "...\n",
                "directive": "%YAML 1.1\n---\n" + text, "scalar": "42\n",
                "list": "- " + text.replace("\n", "\n  ")}[how]
        return Case(text.encode(), ".yaml", f"hostile/documents-{how}")
    if kind == "merge-list":
        text = ("designkit: 1\nname: merged\n"
                "x: &a {kind: service, replicas: 2}\n" if draw(st.booleans()) else
                "designkit: 1\nname: merged\n")
        text += ("components:\n  base: &base {kind: service, replicas: 2, workers: 4}\n"
                 "  lockA: &lk {kind: lock}\n"
                 "  other: {<<: [*base, *lk], replicas: 3}\n"
                 "  third:\n    <<: *base\n    <<: *lk\n")
        return Case(text.encode(), ".yaml", "hostile/merge-list")
    # anchors on every node of a valid design, aliases to them in free-form places
    data = draw(valid_designs())
    text = to_yaml(data)
    text = text.replace("components:\n", "components: &all\n", 1)
    text += "description: *all\n" if "description:" not in text else ""
    return Case(text.encode(), ".yaml", "hostile/anchors-everywhere")


def cases(weights: tuple[int, int, int, int, int] = (5, 2, 2, 1, 2)
          ) -> st.SearchStrategy[Case]:
    """Any generated design file: valid, extreme, invalid, hostile or small (see
    :func:`small_designs`), in the proportions of ``weights``."""
    parts: list[st.SearchStrategy[Case]] = []
    for strategy, origin, weight in ((valid_designs(), "valid", weights[0]),
                                     (extreme_designs(), "extreme", weights[1]),
                                     (invalid_designs(), "invalid", weights[2]),
                                     (small_designs(), "small", weights[4])):
        parts += [strategy.flatmap(_bind(origin))] * weight
    parts += [hostile_yaml()] * weights[3]
    return st.one_of(parts)


def _bind(origin: str) -> Callable[[Any], st.SearchStrategy[Case]]:
    return lambda data: files_of(data, origin)
