"""Round-trip property of design files: ``load(dump(d)) == d`` for every valid design.

For every valid design ``d``:

* ``dk.load(dk.dump(d)) == d`` (YAML) and ``dk.load(dk.dump(d, "json")) == d`` (JSON);
* dumping is stable: ``dk.dump(dk.load(dk.dump(d))) == dk.dump(d)`` (and the same for JSON);
* the YAML holds no anchors or aliases.

Designs are generated two ways: as plain data validated with ``Design.model_validate``
(:func:`designs`), and through the builder API (:func:`built_designs`). Both generators only
produce *valid* designs (``d.problems() == []`` is asserted), so every reference points at a
component of the right kind, every query names an existing table and columns, and
service-to-service calls only go from a service to the services generated before it (no
synchronous call cycle).

Each generator runs with two sets of leaf values:

* ``portable`` — text without C1 control characters, U+FFFE/U+FFFF, U+2028/U+2029, and floats
  whose ``repr`` has no exponent. This isolates the *structure* of designs.
* ``all`` — any text (surrogates aside) and any finite float (``1e-07``, ``1e+16``,
  subnormals). This is the full property.

The values ``portable`` leaves out are exactly those that did not round-trip when this file
was written; ``test_float_values`` and ``test_text_characters`` reproduce each of them in
the smallest design, and the ``*_all_values`` tests fail on them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import designkit as dk

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_DEPTH = 3  # containers nest at most this deep

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
# With ``all`` values a failure shows up within a few examples; shrinking a whole design
# then takes minutes (hypothesis gives it up to 5), and the example tests at the end of
# the file are the minimal reproductions. So: no shrinking there, the failing design is
# printed as YAML (``note``) instead.
SETTINGS_NO_SHRINK = settings(SETTINGS, phases=[Phase.explicit, Phase.reuse, Phase.generate])


# -- the property ------------------------------------------------------------------------

_ANCHOR_TEXT = re.compile(r"[&*]id\d{3}")


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two dumped designs differ: ``path: before -> after``."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in {**a, **b} for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or '<design>'}: {a!r} -> {b!r}"]


def explain(design: dk.Design, back: dk.Design, fmt: str, text: str) -> str:
    changed = differences(design.model_dump(), back.model_dump())
    return f"{fmt} round trip changed {changed}; the {fmt}:\n{text}"


def assert_round_trips(design: dk.Design) -> None:
    """The whole round-trip property for one valid design."""
    assert design.problems() == [], "the generator made an invalid design"

    text = dk.dump(design)
    if currently_in_test_context():
        note(f"the design as YAML:\n{text}")
    back = dk.load(text)
    assert back == design, explain(design, back, "YAML", text)
    assert dk.dump(back) == text, "dumping the reloaded design gave other YAML"

    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        assert not isinstance(event, yaml.AliasEvent), f"YAML alias in:\n{text}"
        assert getattr(event, "anchor", None) is None, f"YAML anchor in:\n{text}"
    assert not _ANCHOR_TEXT.search(text), f"anchor-like text in:\n{text}"

    js = dk.dump(design, "json")
    json.loads(js)  # it is JSON
    back = dk.load(js)
    assert back == design, explain(design, back, "JSON", js)
    assert dk.dump(back, "json") == js, "dumping the reloaded design gave other JSON"


# -- leaf values ---------------------------------------------------------------------------

# Characters that the ``portable`` values leave out: each of them is mangled by a round trip
# (see the example tests at the end of this file).
C1_CONTROLS = "".join(chr(c) for c in range(0x7F, 0xA0))  # includes NEL, U+0085
NON_PORTABLE_CHARS = C1_CONTROLS + "\ufffe\uffff\u2028\u2029"

TRICKY_TEXT = (
    'He said "hi"', "it's", "key: value", "# not a comment", "a #b", "- dash", "[x]", "{y}",
    "&anchor", "*alias", "!tag", "%percent", "@at", "`tick`", "|", ">", "?", ",", "null", "~",
    "true", "No", "on", "1.0", "0x1F", "1_000", "1e3", "2024-01-01", "12:30", "-", ".inf",
    "ünïcödé 中文 🚀", "tab\there", "line1\nline2", "a\n\n  indented\nend", "x:\ny: z",
    "back\\slash", "emoji 👩‍💻 zwj", "bom\ufeffinside", "nul\x00byte", "bell\x07",
    "\u00a0nbsp inside\u00a0x", "trailing space on line \nnext", "--- doc", "... end",
    "word " * 40 + "end",  # a long line: the YAML dumper folds at width 100
    ("long line " * 15 + "\n") * 3 + "last",
)
# Text that ``portable`` leaves out: a design holding any of them does not round-trip.
NON_PORTABLE_TEXT = (
    "next\x85line", "para\x85graph", "delete\x7fchar", "csi\x9bx", "a \u2028 b", "p \u2029 q",
    "not a char \ufffe", "x\n\x85y",
)

SPECIAL_FLOATS = (0.0, 0.1, 0.2, 0.30000000000000004, 1e-3, 0.5, 1.0, 2.0, 250.0, 1e6,
                  123456789.125, 1e15, 2.5e12)
NON_PORTABLE_FLOATS = (1e-7, 5e-5, 1e16, 1.5e17, 5e-324, 2.2250738585072014e-308)


@dataclass(frozen=True)
class Values:
    """Where the leaf values of generated designs come from."""

    name: str
    chars: st.SearchStrategy[str]
    tricky: tuple[str, ...]
    big: st.SearchStrategy[float]  # finite, >= 0: free-form values (request schemas)
    unit: st.SearchStrategy[float]  # in [0, 1]

    @property
    def number(self) -> st.SearchStrategy[float]:
        """Numbers of model fields: within every field's bounds (scv ≤ 100 is the least)."""
        return _in_bounds(self.big)


def _in_bounds(big: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return big.map(lambda x: x if x <= 100 else x % 100)


PORTABLE = Values(
    name="portable",
    chars=st.characters(exclude_categories=("Cs",), exclude_characters=NON_PORTABLE_CHARS),
    tricky=TRICKY_TEXT,
    big=st.one_of(
        st.sampled_from(SPECIAL_FLOATS),
        st.integers(0, 10**6).map(float),
        st.integers(0, 10**12).map(lambda n: n / 1000),
    ),
    unit=st.one_of(st.sampled_from((0.0, 0.1, 0.5, 0.95, 1.0)),
                   st.integers(0, 1000).map(lambda n: n / 1000)),
)

ALL = Values(
    name="all",
    chars=st.characters(exclude_categories=("Cs",)),
    tricky=TRICKY_TEXT + NON_PORTABLE_TEXT,
    big=st.one_of(
        st.sampled_from(SPECIAL_FLOATS + NON_PORTABLE_FLOATS),
        st.integers(0, 10**6).map(float),
        st.floats(0, 1e18, allow_nan=False, allow_infinity=False),
    ),
    unit=st.one_of(st.sampled_from((0.0, 0.1, 0.5, 1e-7, 1.0)), st.floats(0, 1)),
)


@functools.cache
def texts(v: Values, max_size: int = 30) -> st.SearchStrategy[str]:
    """Non-empty text as the model keeps it (the model strips surrounding whitespace)."""
    return st.one_of(st.sampled_from(v.tricky),
                     st.text(v.chars, min_size=1, max_size=max_size)).map(str.strip).filter(bool)


@functools.cache
def name_texts(v: Values, max_size: int = 30) -> st.SearchStrategy[str]:
    """Text a name (any key) may be: no control characters, at most 200 characters."""
    return texts(v, max_size).filter(lambda s: not NAME_CONTROLS.search(s) and len(s) <= 200)


NAME_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


@functools.cache
def idents(v: Values) -> st.SearchStrategy[str]:
    """Table, column, saga names: any name without '.' (a foreign key splits on it)."""
    return name_texts(v, 12).map(lambda s: s.replace(".", "_"))


@functools.cache
def floats(v: Values, lo: float = 0.0, hi: float | None = None,
           lo_open: bool = False) -> st.SearchStrategy[float]:
    base = v.unit if hi == 1 else v.number
    return base.filter(lambda x: (x > lo if lo_open else x >= lo) and (hi is None or x <= hi))


@functools.cache
def positive(v: Values) -> st.SearchStrategy[float]:
    return floats(v, lo_open=True)


COMPONENT_NAMES = st.one_of(
    st.sampled_from(("api", "orders-db", "stock.cache", "1.0", "null", "true", "No", "on",
                     "0x1F", "1_000", "1e3", "2024-01-01", "007", "a_b.c-d", "Y", "x.y.z")),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,11}", fullmatch=True),
)

PATH_CHARS = "abcxyz019{}:#'\"?=&*%~!@$,;+-_.|üß中🚀"
PATHS = st.lists(st.text(st.sampled_from(PATH_CHARS), min_size=1, max_size=8),
                 max_size=3).map(lambda segs: "/" + "/".join(segs))
ENDPOINT_KEYS = st.builds(lambda m, p: f"{m} {p}", st.sampled_from(METHODS), PATHS)
RULE_IDS = st.from_regex(r"DK-[A-Z]{2,5}-[0-9]{3}", fullmatch=True)


def fields(draw: Any, **strategies: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A mapping holding a random subset (about a third) of the given keys."""
    return {k: draw(s) for k, s in strategies.items() if draw(st.integers(0, 2)) == 0}


@functools.cache
def times(v: Values) -> st.SearchStrategy[Any]:
    """A time as written in a file: a number, ``{mean[, scv]}`` or ``{p50, p95}``."""

    @st.composite
    def percentiles(draw: Any) -> dict[str, float]:
        p50 = draw(positive(v))
        p95 = p50 + min(draw(positive(v)), 99 * p50)  # designkit reads p95 ≤ 100 × p50
        if not p50 < p95 <= 100 * p50:
            p95 = p50 * 2
        return {"p50": p50, "p95": p95}

    return st.one_of(
        v.number,
        st.builds(lambda m: {"mean": m}, v.number),
        st.builds(lambda m, s: {"mean": m, "scv": s}, v.number, v.number),
        percentiles(),
    )


@functools.cache
def retries(v: Values) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        return fields(draw, max=st.integers(0, 100),
                      backoff=st.sampled_from(("none", "constant", "exponential")),
                      base_ms=v.number, jitter=st.booleans(), budget=floats(v, 0, 1))

    return build()


@functools.cache
def circuit_breakers(v: Values) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.booleans(),
        st.fixed_dictionaries({"failure_threshold": floats(v, 0, 1, lo_open=True)},
                              optional={"enabled": st.booleans(), "open_ms": positive(v)}),
        st.fixed_dictionaries({"open_ms": positive(v)}, optional={"enabled": st.booleans()}),
    )


def _quiet(endpoint: Any, queues: Sequence[str]) -> bool:
    """Whether an endpoint's data holds no publish, no call to an endpoint and no call of a
    queue (a handler that does none of these cannot close a message loop, which designkit
    refuses)."""
    if isinstance(endpoint, dict):
        call = endpoint.get("call")
        if "publish" in endpoint or (isinstance(call, str)
                                     and (len(call.split()) > 1 or call in queues)):
            return False
        return all(_quiet(v, queues) for k, v in endpoint.items() if k != "request_schema")
    if isinstance(endpoint, list):
        return all(_quiet(v, queues) for v in endpoint)
    return True


@functools.cache
def json_values(v: Values) -> st.SearchStrategy[Any]:
    """Free-form values (``request_schema`` is ``str | dict[str, Any]``)."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), v.big,
                       texts(v))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(name_texts(v, 10), inner, max_size=3)),
        max_leaves=6)


# -- plain-data designs ------------------------------------------------------------------

@dataclass
class Context:
    """What the steps of an endpoint may refer to."""

    databases: dict[str, dict[str, list[str]]]  # db -> table -> columns
    caches: list[str]
    queues: list[str]
    externals: list[str]
    locks: list[str]
    callable_refs: list[str]  # endpoints of services generated earlier


def query(draw: Any, v: Values, tables: dict[str, list[str]]) -> dict[str, Any]:
    table = draw(st.sampled_from(sorted(tables)))
    columns = tables[table]
    q: dict[str, Any] = {"table": table}
    if columns:
        q.update(fields(draw, where=st.lists(st.sampled_from(columns), max_size=3),
                        order_by=st.lists(st.sampled_from(columns), max_size=2)))
    q.update(fields(draw, kind=st.sampled_from(("select", "insert", "update", "delete", "upsert")),
                    limit=st.integers(1, 10**6), batch=st.integers(1, 1000),
                    atomic=st.booleans()))
    return q


def ref_variant(draw: Any, ref: str) -> str:
    """``svc METHOD /path`` as a user may write it: method in any case, extra spaces."""
    svc, method, path = ref.split(" ")
    return draw(st.sampled_from((ref, f"{svc} {method.lower()} {path}",
                                 f"{svc}  {method}   {path}")))


def call_step(draw: Any, v: Values, ctx: Context) -> dict[str, Any]:
    plain = ctx.caches + ctx.queues + ctx.externals + ctx.locks
    options = ["component"] * bool(plain) + ["database"] * bool(ctx.databases) \
        + ["endpoint"] * bool(ctx.callable_refs)
    which = draw(st.sampled_from(options))
    step: dict[str, Any]
    if which == "component":
        step = {"call": draw(st.sampled_from(plain))}
    elif which == "endpoint":
        step = {"call": ref_variant(draw, draw(st.sampled_from(ctx.callable_refs)))}
    else:
        db = draw(st.sampled_from(sorted(ctx.databases)))
        step = {"call": db}
        tables = ctx.databases[db]
        if tables and draw(st.integers(0, 3)):
            step["query"] = query(draw, v, tables)
        else:
            step["service_ms"] = draw(times(v))
    step.update(fields(draw, op=texts(v), count=positive(v), timeout_ms=positive(v),
                       retries=retries(v)))
    if "service_ms" not in step and draw(st.booleans()):
        step["service_ms"] = draw(times(v))
    return step


def step_list(draw: Any, v: Values, ctx: Context, depth: int) -> list[dict[str, Any]]:
    leaves = ["call"] * bool(ctx.caches or ctx.queues or ctx.externals or ctx.locks
                             or ctx.databases or ctx.callable_refs) \
        + ["publish"] * bool(ctx.queues)
    containers: list[str] = []
    if depth < MAX_DEPTH:
        containers = ["transaction"] * bool(ctx.databases) + ["lock"] * bool(ctx.locks) \
            + ["cache"] * bool(ctx.caches) + ["loop", "parallel"]
    kinds = leaves + containers
    if not kinds:
        return []
    out = []
    for _ in range(draw(st.integers(0, 3 if depth == 0 else 2))):
        kind = draw(st.sampled_from(kinds))
        inner = (lambda: step_list(draw, v, ctx, depth + 1))  # noqa: E731
        if kind == "call":
            out.append(call_step(draw, v, ctx))
        elif kind == "publish":
            out.append({"publish": draw(st.sampled_from(ctx.queues)),
                        **fields(draw, count=positive(v), outbox=st.booleans())})
        elif kind == "transaction":
            step = {"transaction": draw(st.sampled_from(sorted(ctx.databases)))}
            if steps := inner():
                step["steps"] = steps
            out.append(step)
        elif kind == "lock":
            step = {"lock": draw(st.sampled_from(ctx.locks))}
            if steps := inner():
                step["steps"] = steps
            out.append(step)
        elif kind == "cache":
            step = {"cache": draw(st.sampled_from(ctx.caches)),
                    **fields(draw, op=texts(v), hit_ratio=floats(v, 0, 1))}
            if steps := inner():
                step["on_miss"] = steps
            out.append(step)
        elif kind == "loop":
            body: dict[str, Any] = {"count": draw(positive(v))}
            if steps := inner():
                body["steps"] = steps
            out.append({"loop": body})
        else:
            out.append({"parallel": [inner() for _ in range(draw(st.integers(1, 3)))]})
    return out


def endpoint(draw: Any, v: Values, ctx: Context) -> dict[str, Any]:
    ep = fields(
        draw,
        description=texts(v),
        cpu_ms=times(v),
        public=st.booleans(),
        auth=st.fixed_dictionaries({}, optional={
            "scheme": st.sampled_from(("none", "jwt", "session", "api-key", "mtls", "oauth2")),
            "roles": st.lists(texts(v, 10), max_size=3),
            "ownership": st.booleans()}),
        idempotency_key=st.one_of(
            st.booleans(), st.just({}),
            st.fixed_dictionaries({}, optional={"header": texts(v, 20),
                                                "retention_h": positive(v)})),
        rate_limit=st.fixed_dictionaries({"rps": positive(v)}, optional={
            "per": st.sampled_from(("user", "ip", "client", "global", "tenant")),
            "burst": st.integers(1, 10**4)}),
        request_schema=st.one_of(texts(v), st.dictionaries(name_texts(v, 10), json_values(v),
                                                           max_size=3)),
        validated_at=st.sampled_from(("gateway", "controller", "service", "none")),
        responses=st.dictionaries(
            st.one_of(st.sampled_from((200, 201, 204, 400, 404, 409, 429, 503)),
                      st.integers(100, 599)), texts(v), max_size=3),
        envelope=st.sampled_from(("data-meta-error", "problem-json", "none")),
        collection=st.booleans(),
        pagination=st.sampled_from(("none", "offset", "cursor")),
        versioning=st.sampled_from(("uri", "header", "media-type", "none")),
        timeout_ms=positive(v),
        response_kb=v.number,
    )
    if steps := step_list(draw, v, ctx, 0):
        ep["steps"] = steps
    return ep


def database_skeletons(draw: Any, v: Values, names: list[str]) -> dict[str, dict[str, list[str]]]:
    out = {}
    for db in names:
        tables = draw(st.lists(idents(v), unique=True, max_size=3))
        out[db] = {t: draw(st.lists(idents(v), unique=True, max_size=5)) for t in tables}
    return out


def database(draw: Any, v: Values, name: str,
             skeletons: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    # foreign key targets: (db, table, column) with columns that exist
    targets = [(db, t, c) for db, tables in skeletons.items() for t, cols in tables.items()
               for c in cols]
    tables: dict[str, Any] = {}
    for table, columns in skeletons[name].items():
        t = fields(draw, rows=st.integers(0, 10**12), growth_per_day=v.number)
        cols: dict[str, Any] = {}
        for column in columns:
            col = fields(draw, type=st.sampled_from(("uuid", "int", "bigint", "text",
                                                     "jsonb", "timestamptz", "numeric(10,2)",
                                                     "varchar(255)")),
                         primary_key=st.booleans(), nullable=st.booleans(),
                         unique=st.booleans(), sensitive=st.booleans(),
                         denormalized=st.booleans())
            same_db = [(t2, c2) for db2, t2, c2 in targets if db2 == name]
            other = [(db2, t2, c2) for db2, t2, c2 in targets if "." not in db2]
            choice = draw(st.sampled_from(["none", "none"] + ["local"] * bool(same_db)
                                          + ["qualified"] * bool(other)))
            if choice == "local":
                t2, c2 = draw(st.sampled_from(same_db))
                col["references"] = f"{t2}.{c2}"
            elif choice == "qualified":
                db2, t2, c2 = draw(st.sampled_from(other))
                col["references"] = f"{db2}.{t2}.{c2}"
            cols[column] = col
        if cols:
            t["columns"] = cols
        if columns:
            t.update(fields(
                draw,
                indexes=st.lists(st.fixed_dictionaries(
                    {"columns": st.lists(st.sampled_from(columns), min_size=1, max_size=3)},
                    optional={"kind": st.sampled_from(("btree", "hash", "gin", "gist", "brin")),
                              "unique": st.booleans(), "name": idents(v)}), max_size=3),
                partitioning=st.fixed_dictionaries(
                    {"key": st.lists(st.sampled_from(columns), min_size=1, max_size=2)},
                    optional={"kind": st.sampled_from(("range", "hash", "list")),
                              "shards": st.integers(1, 1024)})))
        tables[table] = t
    db = {"kind": "database", **fields(
        draw, description=texts(v), engine=st.sampled_from(("postgres", "mysql", "cockroach")),
        cores=st.integers(1, 256), max_connections=st.integers(1, 10**4),
        pool_size=st.integers(1, 500), seek_ms=positive(v), scan_us_per_row=positive(v),
        row_ms=v.number, write_ms=positive(v), read_replicas=st.integers(0, 16), boundary=texts(v),
        zone=texts(v))}
    if tables:
        db["tables"] = tables
    return db


@st.composite
def designs(draw: Any, v: Values) -> dk.Design:
    """A valid design, generated as plain data and validated with ``model_validate``."""
    counts = {k: draw(st.integers(0, 2)) for k in ("database", "cache", "queue", "external", "lock")}
    counts["service"] = draw(st.integers(0, 3))
    names = draw(st.lists(COMPONENT_NAMES, unique=True, min_size=sum(counts.values()),
                          max_size=sum(counts.values())))
    by_kind: dict[str, list[str]] = {}
    at = 0
    for kind, n in counts.items():
        by_kind[kind], at = names[at:at + n], at + n

    components: dict[str, Any] = {}
    skeletons = database_skeletons(draw, v, by_kind["database"])
    for name in by_kind["database"]:
        components[name] = database(draw, v, name, skeletons)
    for name in by_kind["cache"]:
        components[name] = {"kind": "cache", **fields(
            draw, description=texts(v), engine=st.sampled_from(("redis", "memcached")),
            servers=st.integers(1, 64), service_ms=times(v), hit_ratio=floats(v, 0, 1),
            strategy=st.sampled_from(("cache-aside", "read-through", "write-through",
                                      "write-behind")),
            ttl_s=positive(v), invalidation=texts(v), max_memory_mb=positive(v),
            eviction=texts(v), boundary=texts(v), zone=texts(v))}
    for name in by_kind["queue"]:
        components[name] = {"kind": "queue", **fields(
            draw, description=texts(v), engine=st.sampled_from(("kafka", "rabbitmq", "sqs")),
            partitions=st.integers(1, 1024), service_ms=times(v),
            consumers=st.integers(1, 1024), boundary=texts(v), zone=texts(v))}
    for name in by_kind["external"]:
        components[name] = {"kind": "external", **fields(
            draw, description=texts(v), latency_ms=times(v), timeout_ms=positive(v),
            retries=retries(v), circuit_breaker=circuit_breakers(v),
            failure_rate=floats(v, 0, 1), concurrency=st.integers(1, 10**4),
            boundary=texts(v), zone=texts(v))}
    for name in by_kind["lock"]:
        components[name] = {"kind": "lock", **fields(
            draw, description=texts(v), engine=st.sampled_from(("row", "advisory", "redis")),
            acquire_ms=v.number, boundary=texts(v), zone=texts(v))}

    # services in order: each may call only the endpoints of those before it
    refs: list[str] = []
    for name in by_kind["service"]:
        ctx = Context(skeletons, by_kind["cache"], by_kind["queue"], by_kind["external"],
                      by_kind["lock"], list(refs))
        keys = draw(st.lists(ENDPOINT_KEYS, unique=True, max_size=3))
        service = {"kind": "service", **fields(
            draw, description=texts(v), replicas=st.integers(1, 100),
            workers=st.integers(1, 512), io=st.sampled_from(("blocking", "async")),
            boundary=texts(v), zone=texts(v))}
        if keys:
            service["endpoints"] = {key: endpoint(draw, v, ctx) for key in keys}
        components[name] = service
        refs += [f"{name} {key}" for key in keys]

    # a handler neither publishes nor calls an endpoint: no message loops back to it
    quiet = [r for r in refs if _quiet(components[r.split(" ", 1)[0]]["endpoints"][
        r.split(" ", 1)[1]], by_kind["queue"])]
    for name in by_kind["queue"]:
        if quiet and draw(st.booleans()):
            components[name]["handler"] = ref_variant(draw, draw(st.sampled_from(quiet)))

    data: dict[str, Any] = {"name": draw(name_texts(v))}
    if draw(st.booleans()):
        data["designkit"] = 1
    data.update(fields(draw, description=texts(v, 200)))
    if components:
        data["components"] = components

    sagas: dict[str, Any] = {}
    for saga_name in draw(st.lists(idents(v), unique=True, max_size=2)):
        saga = fields(draw, description=texts(v),
                      coordination=st.sampled_from(("orchestration", "choreography")))
        step_names = draw(st.lists(idents(v), unique=True, max_size=4)) if refs else []
        pivot = draw(st.sampled_from([None, *range(len(step_names))]))
        steps = []
        for i, step_name in enumerate(step_names):
            step = {"name": step_name, "action": ref_variant(draw, draw(st.sampled_from(refs)))}
            if draw(st.booleans()):
                step["compensation"] = draw(st.sampled_from(refs))
            if i == pivot:
                step["pivot"] = True
            elif draw(st.booleans()):
                step["pivot"] = False
            steps.append(step)
        if steps:
            saga["steps"] = steps
        sagas[saga_name] = saga
    if sagas:
        data["sagas"] = sagas

    if refs:
        load = draw(st.lists(st.sampled_from(refs), unique=True, max_size=len(refs)))
        if load:
            data["workload"] = {ref_variant(draw, r): draw(v.number) for r in load}

    policy = fields(
        draw,
        envelope=st.sampled_from(("data-meta-error", "problem-json")),
        versioning=st.sampled_from(("uri", "header", "media-type")),
        pagination=st.sampled_from(("cursor", "offset")),
        cached_read_p95_ms=positive(v), seek_p95_ms=positive(v), background_ms=positive(v),
        idempotent_methods=st.lists(st.sampled_from(("POST", "PUT", "PATCH", "DELETE")),
                                    unique=True),
        exempt_idempotent_put=st.booleans(),
        password_hashing=st.lists(texts(v, 10), max_size=3),
        jwt_algorithms=st.lists(st.sampled_from(("RS256", "ES256", "EdDSA", "HS256")),
                                max_size=3),
        utilization_max=floats(v, 0, 1, lo_open=True),
        pool_utilization_max=floats(v, 0, 1, lo_open=True),
        partition_rows=st.integers(1, 10**12),
        compression_kb=positive(v),
        severity=st.dictionaries(RULE_IDS, st.sampled_from(("critical", "high", "medium",
                                                             "low", "info")), max_size=3),
    )
    if policy:
        data["policy"] = policy

    waivers = draw(st.lists(st.fixed_dictionaries(
        {"finding": st.one_of(st.builds(lambda r, p: f"{r}@{p}", RULE_IDS,
                                        st.sampled_from(("components.*", "*", "sagas.x"))),
                              texts(v)),
         "reason": texts(v, 80), "owner": texts(v, 20)},
        optional={"expires": st.dates()}), max_size=2))
    if waivers:
        data["waivers"] = waivers
    attestations = draw(st.lists(st.fixed_dictionaries(
        {"rule": RULE_IDS, "by": texts(v, 20), "on": st.dates(), "evidence": texts(v, 60)},
        optional={"subject": texts(v), "expires": st.dates()}), max_size=2))
    if attestations:
        data["attestations"] = attestations

    design = dk.Design.model_validate(data)
    assert design.problems() == [], (data, design.problems())
    return design


@SETTINGS
@given(design=designs(PORTABLE))
def test_generated_designs_round_trip_portable_values(design: dk.Design) -> None:
    assert_round_trips(design)


@SETTINGS_NO_SHRINK
@given(design=designs(ALL))
def test_generated_designs_round_trip_all_values(design: dk.Design) -> None:
    assert_round_trips(design)


# -- builder designs ---------------------------------------------------------------------

def add_steps(draw: Any, v: Values, container: Any, ctx: Context, depth: int) -> None:
    """Add generated steps to ``container`` through its builder methods."""

    def offers(method: str) -> bool:
        return callable(getattr(container, method, None))

    kinds = ["call"] * bool(ctx.caches or ctx.databases or ctx.callable_refs or ctx.externals)
    kinds += ["publish"] * bool(ctx.queues)
    if depth < MAX_DEPTH:
        kinds += ["transaction"] * (bool(ctx.databases) and offers("transaction"))
        kinds += ["lock"] * (bool(ctx.locks) and offers("lock"))
        kinds += ["cache"] * (bool(ctx.caches) and offers("cache"))
        kinds += ["loop"] * offers("loop") + ["parallel"]
    if not kinds:
        return
    for _ in range(draw(st.integers(0, 3 if depth == 0 else 2))):
        kind = draw(st.sampled_from(kinds))
        if kind == "call":
            step = call_step(draw, v, ctx)
            container.call(step.pop("call"), **step)
        elif kind == "publish":
            container.publish(draw(st.sampled_from(ctx.queues)), count=draw(positive(v)),
                              outbox=draw(st.booleans()))
        elif kind == "transaction":
            add_steps(draw, v, container.transaction(draw(st.sampled_from(sorted(ctx.databases)))),
                      ctx, depth + 1)
        elif kind == "lock":
            add_steps(draw, v, container.lock(draw(st.sampled_from(ctx.locks))), ctx, depth + 1)
        elif kind == "cache":
            step = container.cache(draw(st.sampled_from(ctx.caches)),
                                   op=draw(st.none() | texts(v)),
                                   hit_ratio=draw(st.none() | floats(v, 0, 1)))
            add_steps(draw, v, step, ctx, depth + 1)
        elif kind == "loop":
            add_steps(draw, v, container.loop(draw(positive(v))), ctx, depth + 1)
        else:
            branches = draw(st.integers(1, 3))
            par = container.parallel(branches)
            for i in range(branches):
                add_steps(draw, v, par.branch(i), ctx, depth + 1)


@st.composite
def built_designs(draw: Any, v: Values) -> dk.Design:
    """A smaller valid design, made with the builder methods (as in a notebook)."""
    names = draw(st.lists(COMPONENT_NAMES, unique=True, min_size=7, max_size=7))
    db_name, cache_name, queue_name, ext_name, lock_name, *service_names = names
    d = dk.Design(name=draw(name_texts(v)))
    if draw(st.booleans()):
        d.description = draw(texts(v, 200))

    db = d.database(db_name, cores=draw(st.integers(1, 64)))
    skeleton: dict[str, list[str]] = {}
    for table_name in draw(st.lists(idents(v), unique=True, min_size=1, max_size=3)):
        table = db.table(table_name, rows=draw(st.integers(0, 10**10)),
                         growth_per_day=draw(v.number))
        columns = draw(st.lists(idents(v), unique=True, min_size=1, max_size=4))
        for column in columns:
            table.column(column, draw(st.sampled_from(("uuid", "int", "text"))),
                         primary_key=draw(st.booleans()), sensitive=draw(st.booleans()),
                         denormalized=draw(st.booleans()))
        for _ in range(draw(st.integers(0, 2))):
            cols = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=2))
            table.index(*cols, kind=draw(st.sampled_from(("btree", "hash", "gin", "gist",
                                                          "brin"))),
                        unique=draw(st.booleans()))
        if draw(st.booleans()):  # update through the builder: partitioning on an existing key
            db.table(table_name, partitioning={"key": [draw(st.sampled_from(columns))],
                                               "kind": draw(st.sampled_from(("range", "hash")))})
        skeleton[table_name] = columns
    # foreign keys, declared once the target columns exist (re-declaring the column)
    for table_name, columns in skeleton.items():
        if draw(st.booleans()):
            column = draw(st.sampled_from(columns))
            target_table = draw(st.sampled_from(sorted(skeleton)))
            target = f"{target_table}.{draw(st.sampled_from(skeleton[target_table]))}"
            db.tables[table_name].column(column, "uuid", references=target)
    if draw(st.booleans()):  # updating a field keeps the tables
        d.database(db_name, read_replicas=draw(st.integers(0, 4)))

    d.cache(cache_name, hit_ratio=draw(floats(v, 0, 1)),
            strategy=draw(st.sampled_from(("cache-aside", "read-through"))),
            ttl_s=draw(positive(v)), service_ms=draw(times(v)))
    d.queue(queue_name, partitions=draw(st.integers(1, 64)))
    d.external(ext_name, latency_ms=draw(times(v)), timeout_ms=draw(positive(v)),
               retries=draw(retries(v)), circuit_breaker=draw(circuit_breakers(v)),
               failure_rate=draw(floats(v, 0, 1)))
    d.lock(lock_name, acquire_ms=draw(v.number))

    refs: list[str] = []
    for name in service_names:
        svc = d.service(name, replicas=draw(st.integers(1, 20)), workers=draw(st.integers(1, 64)))
        ctx = Context({db_name: skeleton}, [cache_name], [queue_name], [ext_name], [lock_name],
                      list(refs))
        keys = draw(st.lists(ENDPOINT_KEYS, unique=True, min_size=1, max_size=2))
        for key in keys:
            method, path = key.split(" ")
            ep = svc.endpoint(f"{draw(st.sampled_from((method, method.lower())))} {path}",
                              cpu_ms=draw(times(v)))
            add_steps(draw, v, ep, ctx, 0)
        refs += [f"{name} {key}" for key in keys]

    quiet = [r for r in refs if _quiet(d.endpoint(r).model_dump(mode="json"), [queue_name])]
    if quiet and draw(st.booleans()):
        d.queue(queue_name, handler=draw(st.sampled_from(quiet)))
    saga = d.saga(draw(idents(v)), coordination=draw(st.sampled_from(("orchestration",
                                                                      "choreography"))))
    step_names = draw(st.lists(idents(v), unique=True, max_size=3))
    pivot = draw(st.sampled_from([None, *range(len(step_names))]))
    for i, step_name in enumerate(step_names):
        saga.step(step_name, draw(st.sampled_from(refs)),
                  compensation=draw(st.none() | st.sampled_from(refs)), pivot=i == pivot)
    for ref in draw(st.lists(st.sampled_from(refs), unique=True, max_size=3)):
        d.set_load(ref_variant(draw, ref), draw(v.number))

    return d  # assert_round_trips checks that it is valid


@SETTINGS
@given(design=built_designs(PORTABLE))
def test_builder_designs_round_trip_portable_values(design: dk.Design) -> None:
    assert_round_trips(design)


@SETTINGS_NO_SHRINK
@given(design=built_designs(ALL))
def test_builder_designs_round_trip_all_values(design: dk.Design) -> None:
    assert_round_trips(design)


# -- examples ------------------------------------------------------------------------------

def test_empty_design() -> None:
    design = dk.Design(name="empty")
    assert dk.load(dk.dump(design)).components == {}
    assert_round_trips(design)


def every_step_kind() -> dk.Design:
    d = dk.Design(name="every step")
    d.database("db").table("orders", rows=10).column("id", "uuid", primary_key=True) \
        .column("user_id", "uuid").index("user_id")
    d.cache("cache", hit_ratio=0.8)
    d.queue("events", partitions=3)
    d.external("psp", latency_ms={"p50": 120, "p95": 400}, circuit_breaker=True,
               retries={"max": 2, "backoff": "exponential"})
    d.lock("sku-lock", engine="redis", acquire_ms=0.2)
    d.service("pricing").endpoint("GET /prices/{id}", cpu_ms=1)
    ep = d.service("api", replicas=2, workers=16).endpoint("POST /orders", cpu_ms=2,
                                                           idempotency_key=True)
    ep.call("psp", timeout_ms=1000).call("pricing GET /prices/{id}", count=0.5)
    tx = ep.transaction("db")
    tx.call("db", query={"table": "orders", "kind": "insert"})
    tx.lock("sku-lock").call("db", query={"table": "orders", "kind": "update",
                                          "where": ["id"], "atomic": True})
    ep.loop(3).call("db", query={"table": "orders", "where": ["user_id"], "limit": 20})
    ep.cache("cache", op="GET order", hit_ratio=0.95).call("db", service_ms=2)
    par = ep.parallel(2)
    par.branch(0).call("cache", op="GET")
    par.branch(1).publish("events", outbox=True)
    ep.publish("events", count=2)
    d.queue("events", handler="pricing GET /prices/{id}")
    d.saga("checkout").step("charge", "api POST /orders", pivot=True)
    d.set_load("api post /orders", 120)
    return d


def test_every_step_kind() -> None:
    design = every_step_kind()
    steps = design.endpoint("api POST /orders").steps
    assert {dk.step_kind(s) for s in steps} == {"call", "transaction", "loop", "cache",
                                                 "parallel", "publish"}
    assert dk.step_kind(steps[2].steps[1]) == "lock"
    assert_round_trips(design)
    assert_round_trips(dk.load(dk.dump(design)))


def test_multi_line_description() -> None:
    text = 'First line: "quoted" # not a comment\n\n  indented, ünïcode 🚀\nlast'
    design = dk.Design(name="multi", description=text)
    design.cache("c", description="two\nlines")
    assert dk.load(dk.dump(design)).description == text
    assert "description: |" in dk.dump(design)
    assert_round_trips(design)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("value", [0.1, 1e-7], ids=["0.1", "1e-7"])
def test_float_values(value: float, fmt: str) -> None:
    d = dk.Design(name="floats")
    d.cache("c", hit_ratio=value, service_ms=value, ttl_s=value)
    d.service("api").endpoint("GET /a", cpu_ms=value, request_schema={"x": value})
    d.set_load("api GET /a", value)
    back = dk.load(dk.dump(d, fmt))
    assert back == d
    assert back.components["c"].service_ms.mean == value  # type: ignore[union-attr]
    assert back.endpoint("api GET /a").request_schema == {"x": value}


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("text", ["a\x85b", "a\nb\x85c", "a\x7fb", "a\x9fb", "a\ufffeb",
                                  "a \u2028 b"],
                         ids=["NEL", "NEL-in-block", "DEL", "APC", "U+FFFE", "LS-spaces"])
def test_text_characters(text: str, fmt: str) -> None:
    """Minimal reproductions of the text the ``all`` values generate and YAML mangles."""
    d = dk.Design(name="chars", description=text)
    assert dk.load(dk.dump(d, fmt)).description == text


def test_dates() -> None:
    d = dk.Design(name="dates", waivers=[dk.Waiver(finding="DK-PERF-002@components.*",
                                                   reason="r", owner="o",
                                                   expires=dt.date(1, 1, 1))],
                  attestations=[dk.Attestation(rule="DK-SEC-001", by="ana",
                                               on=dt.date(2026, 11, 1), evidence="e: #1")])
    assert_round_trips(d)
