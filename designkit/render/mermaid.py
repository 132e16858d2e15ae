"""Mermaid text for every view, so diagrams render on GitHub and in MkDocs without Graphviz.

Four views, each a function returning the diagram's text (no trailing newline):

- :func:`architecture` — ``flowchart LR``: a node per component (shape by kind), a
  ``subgraph`` per zone and boundary, one edge per (caller, target, relation); with an
  estimate, edges carry rates and nodes are coloured by utilization.
- :func:`data` — ``erDiagram``: an entity per table, relationships from foreign keys.
- :func:`saga` — ``flowchart LR``: the steps in order, dashed compensation edges, the pivot.
- :func:`sequence` — ``sequenceDiagram`` of one endpoint: calls, ``par``, ``loop``,
  cache hit/miss ``alt``, ``critical`` transaction and lock scopes, async publishes.

Ids come only from :func:`~designkit.render.names.node_id` (deterministic, derived from
names); every label goes through :func:`~designkit.render.names.mermaid_text`, and the few
characters Mermaid's lexers still trip on inside labels (``;`` ends a sequence message, ``%``
and ``\\`` end an ER name, a line containing ``direction LR`` is taken for a direction
statement) are written as entity codes too.

Example:
    >>> import designkit as dk
    >>> from designkit.render import mermaid
    >>> print(mermaid.architecture(dk.template("dashboard-slow")).splitlines()[0])
    flowchart LR
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from designkit.model.components import KINDS, Cache, Lock, Queue
from designkit.model.database import Column, Database, Table
from designkit.model.refs import EndpointRef
from designkit.model.service import Service
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    Step,
    TransactionStep,
)
from designkit.render.names import mermaid_text, node_id
from designkit.text import number, percent, visible

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.model.components import Component
    from designkit.model.design import Design
    from designkit.model.query import Query

__all__ = ["architecture", "data", "edge_rates", "saga", "sequence"]

_INDENT = "    "

# -- escaping ------------------------------------------------------------------------------

_ALWAYS = "&`"
_DIRECTION = re.compile(r"direction(?=\s)")


def _text(text: str, extra: str = "") -> str:
    """A label for any Mermaid diagram: control characters made visible
    (:func:`~designkit.text.visible`, before the escapes below see their backslash),
    :func:`mermaid_text`, plus entity codes for ``&``,
    backtick, ``%%`` (a comment) and the characters in ``extra``, and ``direction`` defused
    (a flowchart reads any line holding ``direction LR`` as a direction statement, quotes
    or not)."""
    special = _ALWAYS + extra
    text = visible(text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    at = 0
    for i, ch in enumerate(text):
        if ch in special or (ch == "%" and text[i + 1:i + 2] == "%"):
            out.append(mermaid_text(text[at:i]))
            out.append(f"#{ord(ch)};")
            at = i + 1
    out.append(mermaid_text(text[at:]))
    return _DIRECTION.sub("directio#110;", "".join(out))


def _seq(text: str) -> str:
    """A sequence-diagram label: ``;`` ends a statement there, so it is escaped too."""
    return _text(text, ";")


def _er(text: str) -> str:
    """An ER name or comment: ``%`` and backslash end a quoted ER name, so they are escaped."""
    return _text(text, "%\\")


def _lines(*parts: str) -> str:
    """Label lines joined by ``<br/>``, each escaped."""
    return "<br/>".join(_text(p) for p in parts if p)


# -- architecture --------------------------------------------------------------------------

_SHAPES: dict[str, tuple[str, str]] = {
    "service": ("[", "]"),         # rectangle
    "database": ("[(", ")]"),      # cylinder
    "cache": ("{{", "}}"),         # hexagon
    "queue": (">", "]"),           # asymmetric (a flag)
    "external": ("[/", "/]"),      # parallelogram
    "lock": ("{", "}"),            # rhombus
}

_KIND_STYLE = {
    "service": "fill:#dbeafe,stroke:#1d4ed8,color:#0f172a",
    "database": "fill:#dcfce7,stroke:#15803d,color:#0f172a",
    "cache": "fill:#fef3c7,stroke:#b45309,color:#0f172a",
    "queue": "fill:#ede9fe,stroke:#6d28d9,color:#0f172a",
    "external": "fill:#f3f4f6,stroke:#4b5563,color:#0f172a,stroke-dasharray:5 3",
    "lock": "fill:#fee2e2,stroke:#b91c1c,color:#0f172a",
}

# Declared after the kinds, so that their fill wins over the kind's.
_UTIL_STYLE = {
    "ok": "stroke:#2ca02c,stroke-width:2px",
    "warning": "fill:#ffbf47,stroke:#b45309,stroke-width:3px,color:#0f172a",
    "saturated": "fill:#d62728,stroke:#7f0000,stroke-width:4px,color:#ffffff",
}

_UNITS = {"call": "calls/s", "transaction": "tx/s", "lock": "locks/s", "cache": "reads/s",
          "publish": "msg/s", "consume": "msg/s"}
_ASYNC = frozenset({"publish", "consume"})

Edge = tuple[str, str, str]
"""(caller, target, relation): one arrow of the architecture view."""


def architecture(design: Design, estimate: Estimate | None = None) -> str:
    """The components and what calls what, as a Mermaid ``flowchart LR``.

    Nodes are shaped by kind (service ``[ ]``, database ``[( )]``, cache ``{{ }}``, queue
    ``> ]``, external ``[/ /]``, lock ``{ }``) and styled with a ``classDef`` per kind.
    Components are grouped in a ``subgraph`` per zone and, inside it, per boundary. There
    is one edge per (caller, target, relation) of :meth:`Design.graph` — dotted for
    ``publish`` and ``consume`` — labelled with the relation.

    With an ``estimate``, each edge is labelled with its rate instead (see
    :func:`edge_rates` for how rates are attributed), each node shows its utilization, and
    nodes get the class ``ok``, ``warning`` (utilization ≥ ``policy.utilization_max``) or
    ``saturated``; a small legend subgraph explains the colours.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("GET /a").call("db", service_ms=1)
        >>> _ = d.database("db", cores=8)
        >>> print(architecture(d))
        flowchart LR
            api_a033["api<br/>service · 1×1 workers"]
            db_0352[("db<br/>postgres · 8 cores")]
            api_a033 -->|"call"| db_0352
            classDef service fill:#dbeafe,stroke:#1d4ed8,color:#0f172a
            classDef database fill:#dcfce7,stroke:#15803d,color:#0f172a
            class api_a033 service
            class db_0352 database
    """
    out = ["flowchart LR"]
    ids = {name: node_id(name) for name in design.components}
    util = _utilization(design, estimate) if estimate is not None else {}

    def node(name: str, component: Component) -> str:
        left, right = _SHAPES[component.kind]
        parts = [name, _detail(component)]
        if name in util:
            u, state = util[name]
            parts.append("SATURATED" if state == "saturated" else f"utilization {percent(u)}")
        return f'{ids[name]}{left}"{_lines(*parts)}"{right}'

    # Zones hold boundaries; a component without a zone (or boundary) sits one level up.
    zones: dict[str | None, dict[str | None, list[str]]] = {}
    for name, component in design.components.items():
        zones.setdefault(component.zone, {}).setdefault(component.boundary, []).append(name)

    def boundaries(zone: str | None, groups: dict[str | None, list[str]], depth: int) -> None:
        pad = _INDENT * depth
        for boundary, names in groups.items():
            if boundary is None:
                out.extend(pad + node(n, design.components[n]) for n in names)
                continue
            group_id = node_id("boundary", zone or "", boundary)
            out.append(f'{pad}subgraph {group_id}["{_text(boundary)}"]')
            out.extend(pad + _INDENT + node(n, design.components[n]) for n in names)
            out.append(f"{pad}end")

    for zone, groups in zones.items():
        if zone is None:
            boundaries(None, groups, 1)
            continue
        out.append(f'{_INDENT}subgraph {node_id("zone", zone)}["{_text("zone: " + zone)}"]')
        boundaries(zone, groups, 2)
        out.append(f"{_INDENT}end")

    rates = edge_rates(design, estimate) if estimate is not None else {}
    for caller, target, relation in _edges(design):
        arrow = "-.->" if relation in _ASYNC else "-->"
        if estimate is not None:
            label = f"{number(rates.get((caller, target, relation), 0.0))} {_UNITS[relation]}"
        else:
            label = relation
        out.append(f'{_INDENT}{ids[caller]} {arrow}|"{_text(label)}"| {ids[target]}')

    if util:
        legend = node_id("legend", "utilization")
        limit = design.policy.utilization_max
        out.append(f'{_INDENT}subgraph {legend}["{_text("utilization")}"]')
        for state, text in (("ok", f"below {percent(limit)}"), ("warning", f"≥ {percent(limit)}"),
                            ("saturated", "saturated (≥ 100%)")):
            out.append(f'{_INDENT * 2}{node_id("legend", state)}["{_text(text)}"]')
        out.append(f"{_INDENT}end")

    kinds = [k for k in KINDS if any(c.kind == k for c in design.components.values())]
    for kind in kinds:
        out.append(f"{_INDENT}classDef {kind} {_KIND_STYLE[kind]}")
    if util:
        for state, style in _UTIL_STYLE.items():
            out.append(f"{_INDENT}classDef {state} {style}")
    for kind in kinds:
        members = [ids[n] for n, c in design.components.items() if c.kind == kind]
        out.append(f"{_INDENT}class {','.join(members)} {kind}")
    if util:
        for state in _UTIL_STYLE:
            members = [ids[n] for n in design.components if n in util and util[n][1] == state]
            members.append(node_id("legend", state))
            out.append(f"{_INDENT}class {','.join(members)} {state}")
    return "\n".join(out)


def _detail(component: Component) -> str:
    """The second line of a node: what the component is, in a few words."""
    if isinstance(component, Service):
        return f"service · {component.replicas}×{component.workers} workers"
    if isinstance(component, Database):
        return f"{component.engine} · {component.cores} cores"
    if isinstance(component, Cache):
        return f"{component.engine} cache"
    if isinstance(component, Queue):
        return f"{component.engine} · {component.partitions} partitions"
    if isinstance(component, Lock):
        return f"{component.engine} lock"
    return "external API"


def _edges(design: Design) -> list[Edge]:
    """The distinct (caller, target, relation) of the design's graph, in file order."""
    seen: dict[Edge, None] = {}
    for caller, target, attrs in design.graph().edges(data=True):
        seen.setdefault((str(caller), str(target), str(attrs["relation"])), None)
    return list(seen)


def _utilization(design: Design, estimate: Estimate) -> dict[str, tuple[float, str]]:
    limit = design.policy.utilization_max
    out: dict[str, tuple[float, str]] = {}
    for name in design.components:
        c = estimate.components.get(name)
        if c is None:
            continue
        u = c.utilization
        if c.saturated or not math.isfinite(u) or u >= 1:
            state = "saturated"
        elif u >= limit:
            state = "warning"
        else:
            state = "ok"
        out[name] = (u, state)
    return out


def edge_rates(design: Design, estimate: Estimate) -> dict[Edge, float]:
    """Rate of every (caller, target, relation) edge under ``estimate``, per second.

    How rates are attributed: each endpoint's rate is the estimate's (so the workload,
    the scale, and the calls it receives from other endpoints and queues are included);
    each step along its steps adds ``rate × multiplier``, the multiplier being the product
    of the enclosing loops' counts, ``1 − hit ratio`` inside a cache-aside miss branch
    (the step's hit ratio, else the cache's), and the step's own ``count``. Containers
    count once per execution (a transaction per ``tx``, a cache read per lookup, a lock per
    acquisition); parallel branches each count in full. A ``consume`` edge carries every
    message published to its queue. Retries are not added: a dependency's node utilization
    includes them, its edge shows first attempts.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("dashboard-slow")
        >>> rates = edge_rates(d, dk.estimate(d))
        >>> round(rates[("dashboard-api", "app-db", "call")], 1)
        386.6
    """
    rates: dict[Edge, float] = {}
    published: dict[str, float] = {}

    def add(edge: Edge, rate: float) -> None:
        rates[edge] = rates.get(edge, 0.0) + rate

    def walk(caller: str, steps: Sequence[Step], mult: float) -> None:
        for step in steps:
            if isinstance(step, CallStep):
                ref = EndpointRef.parse(step.call)
                target = ref.service if ref is not None else step.call
                add((caller, target, "call"), mult * step.count)
                if ref is None and getattr(design.components.get(target), "kind", "") \
                        == "queue":
                    published[target] = published.get(target, 0.0) + mult * step.count
            elif isinstance(step, PublishStep):
                add((caller, step.publish, "publish"), mult * step.count)
                published[step.publish] = published.get(step.publish, 0.0) + mult * step.count
            elif isinstance(step, TransactionStep):
                add((caller, step.transaction, "transaction"), mult)
                walk(caller, step.steps, mult)
            elif isinstance(step, LockStep):
                add((caller, step.lock, "lock"), mult)
                walk(caller, step.steps, mult)
            elif isinstance(step, LoopStep):
                walk(caller, step.loop.steps, mult * step.loop.count)
            elif isinstance(step, CacheStep):
                add((caller, step.cache, "cache"), mult)
                walk(caller, step.on_miss, mult * (1.0 - _hit_ratio(design, step)))
            elif isinstance(step, ParallelStep):
                for branch in step.parallel:
                    walk(caller, branch, mult)

    for ref, endpoint in design.endpoints():
        e = estimate.endpoints.get(str(ref))
        if e is not None and e.rps > 0:
            walk(ref.service, endpoint.steps, e.rps)
    for name, queue in design.of_kind("queue").items():
        handler = EndpointRef.parse(getattr(queue, "handler", None) or "")
        if handler is not None and handler.service in design.components:
            add((name, handler.service, "consume"), published.get(name, 0.0))
    return rates


def _hit_ratio(design: Design, step: CacheStep) -> float:
    if step.hit_ratio is not None:
        return step.hit_ratio
    return float(getattr(design.components.get(step.cache), "hit_ratio", 0.0))


# -- data ----------------------------------------------------------------------------------

_ER_WORD_BAD = re.compile(r"[^A-Za-z0-9_\-\[\]()]")
_ER_KEYS = frozenset({"pk", "fk", "uk"})


def _er_word(text: str) -> str:
    """An ER attribute type or name: letters, digits, ``_-[]()``, a letter first, never a
    bare key word (``PK``/``FK``/``UK`` would be read as a key)."""
    word = _ER_WORD_BAD.sub("_", text)
    if not word or not word[0].isalpha():
        word = "x" + word
    if word.lower() in _ER_KEYS:
        word += "_"
    return word


def data(design: Design) -> str:
    """The tables of every database as a Mermaid ``erDiagram``.

    One entity per table (named ``table``, or ``database.table`` when the design has
    several databases), its columns as ``type name PK, FK, UK "comment"`` — the comment
    naming the referenced column, the indexes the column leads, and the original spelling
    of a type or name Mermaid cannot take as it is — and a ``}o--||`` relationship from
    each foreign key's table to the table it references, labelled with the column.

    Example:
        >>> import designkit as dk
        >>> print("\\n".join(data(dk.template("dashboard-slow")).splitlines()[:3]))
        erDiagram
            app_db_merchants_ed25["merchants"] {
                uuid id PK
    """
    databases = {n: c for n, c in design.components.items() if isinstance(c, Database)}
    several = len(databases) > 1
    out = ["erDiagram"]
    ids: dict[tuple[str, str], str] = {}
    for db_name, database in databases.items():
        for table_name in database.tables:
            ids[(db_name, table_name)] = node_id(db_name, table_name)
    relations: list[str] = []
    for db_name, database in databases.items():
        for table_name, table in database.tables.items():
            entity = ids[(db_name, table_name)]
            label = f"{db_name}.{table_name}" if several else table_name
            head = f'{_INDENT}{entity}["{_er(label)}"]'
            if not table.columns:
                out.append(head)
                continue
            out.append(head + " {")
            for column_name, column in table.columns.items():
                out.append(_INDENT * 2 + _attribute(table, column_name, column))
                target = _fk_target(db_name, column.references)
                if target is not None and target[:2] in ids:
                    relations.append(f"{_INDENT}{entity} }}o--|| {ids[target[:2]]} : "
                                     f'"{_er(column_name)}"')
            out.append(_INDENT + "}")
    out.extend(relations)
    return "\n".join(out)


def _attribute(table: Table, name: str, column: Column) -> str:
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.references is not None:
        keys.append("FK")
    if column.unique or any(i.unique and i.columns == [name] for i in table.indexes):
        keys.append("UK")
    notes = []
    type_word, name_word = _er_word(column.type), _er_word(name)
    if name_word != name:
        notes.append(f"column {name}")
    if type_word != column.type:
        notes.append(f"type {column.type}")
    if column.references is not None:
        notes.append(f"→ {column.references}")
    for index in table.indexes:
        if index.columns[0] == name:
            kind = "" if index.kind == "btree" else f" {index.kind}"
            unique = "unique " if index.unique else ""
            notes.append(f"{unique}index{kind} ({', '.join(index.columns)})")
    if table.partitioning is not None and name in table.partitioning.key:
        notes.append(f"{table.partitioning.kind} partition key")
    if table.version_column == name:
        notes.append("version")
    if column.sensitive:
        notes.append("sensitive")
    if column.denormalized:
        notes.append("denormalized")
    text = f"{type_word} {name_word}"
    if keys:
        text += " " + ", ".join(keys)
    if notes:
        text += f' "{_er(" · ".join(notes))}"'
    return text


def _fk_target(db_name: str, references: str | None) -> tuple[str, str, str] | None:
    """(database, table, column) of a foreign key, or ``None`` when malformed."""
    if references is None:
        return None
    parts = references.split(".")
    if len(parts) == 2:
        return db_name, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return None


# -- saga ----------------------------------------------------------------------------------


def saga(design: Design, name: str) -> str:
    """The saga ``name`` as a Mermaid ``flowchart LR``.

    Steps run left to right (solid edges). Each step with a compensation has a dashed
    ``undo`` edge to it, and the compensations are chained by dashed edges in reverse
    order — the order they run in when a later step fails. The pivot (the point of no
    return) has the class ``pivot`` and says so; steps after it, which must not fail, have
    the class ``retried``.

    Raises:
        KeyError: The design has no saga ``name`` (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> text = saga(dk.template("payments-saga"), "place-order")
        >>> text.splitlines()[0], "pivot" in text
        ('flowchart LR', True)
    """
    the_saga = design.sagas.get(name)
    if the_saga is None:
        from designkit.model.problems import nearest

        hint = nearest(name, design.sagas)
        raise KeyError(f"no saga {name!r}"
                       + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""))
    out = ["flowchart LR"]
    start, done = node_id(name, "start"), node_id(name, "done")
    out.append(f'{_INDENT}{start}(["{_lines(name, the_saga.coordination)}"])')
    pivot_at = next((i for i, s in enumerate(the_saga.steps) if s.pivot), None)
    step_ids = [node_id(name, "step", s.name) for s in the_saga.steps]
    undo_ids = [node_id(name, "undo", s.name) for s in the_saga.steps]
    for i, step in enumerate(the_saga.steps):
        title = f"{i + 1}. {step.name}"
        if step.pivot:
            label = _lines(title, "pivot: no return", step.action)
            out.append(f'{_INDENT}{step_ids[i]}{{{{"{label}"}}}}')
        else:
            after = pivot_at is not None and i > pivot_at
            label = _lines(title, step.action, "retried until done" if after else "")
            out.append(f'{_INDENT}{step_ids[i]}["{label}"]')
        if step.compensation is not None:
            label = _lines("undo " + step.name, step.compensation)
            out.append(f'{_INDENT}{undo_ids[i]}["{label}"]')
    out.append(f'{_INDENT}{done}(["{_text("done")}"])')
    chain = [start, *step_ids, done]
    out.extend(f"{_INDENT}{a} --> {b}" for a, b in pairwise(chain))
    previous: str | None = None
    for i, step in enumerate(the_saga.steps):
        if step.compensation is None:
            continue
        out.append(f'{_INDENT}{step_ids[i]} -.->|"{_text("undo")}"| {undo_ids[i]}')
        if previous is not None:
            out.append(f"{_INDENT}{undo_ids[i]} -.-> {previous}")
        previous = undo_ids[i]
    out.append(f"{_INDENT}classDef step fill:#dbeafe,stroke:#1d4ed8,color:#0f172a")
    out.append(f"{_INDENT}classDef undo fill:#fee2e2,stroke:#b91c1c,color:#0f172a,"
               "stroke-dasharray:5 3")
    out.append(f"{_INDENT}classDef pivot fill:#fef3c7,stroke:#b45309,stroke-width:3px,"
               "color:#0f172a")
    out.append(f"{_INDENT}classDef retried fill:#dcfce7,stroke:#15803d,color:#0f172a")
    out.append(f"{_INDENT}classDef terminal fill:#f3f4f6,stroke:#4b5563,color:#0f172a")
    _class(out, [start, done], "terminal")
    _class(out, [step_ids[i] for i, s in enumerate(the_saga.steps)
                 if not s.pivot and (pivot_at is None or i < pivot_at)], "step")
    _class(out, [step_ids[i] for i, s in enumerate(the_saga.steps) if s.pivot], "pivot")
    _class(out, [step_ids[i] for i in range(len(the_saga.steps))
                 if pivot_at is not None and i > pivot_at], "retried")
    _class(out, [undo_ids[i] for i, s in enumerate(the_saga.steps)
                 if s.compensation is not None], "undo")
    return "\n".join(out)


def _class(out: list[str], members: Iterable[str], name: str) -> None:
    members = list(members)
    if members:
        out.append(f"{_INDENT}class {','.join(members)} {name}")


# -- sequence ------------------------------------------------------------------------------


def sequence(design: Design, endpoint_ref: str) -> str:
    """One endpoint's steps as a Mermaid ``sequenceDiagram``.

    Participants are the client, the endpoint's service and every component or service it
    reaches, in the order first reached. Calls are solid messages (the op, else the query
    as ``SELECT table WHERE …``, else the called endpoint; ``×n`` when repeated); parallel
    branches are ``par``/``and``, loops ``loop n×``, a cache-aside read an
    ``alt hit (90%)``/``else miss (10%)`` (the miss branch ends with the cache fill),
    transactions and locks ``critical`` scopes opened and closed by ``BEGIN``/``COMMIT``
    or ``acquire``/``release``, and publishes the async arrow ``-)``. Calls to other
    services are not expanded: draw their endpoint's own sequence.

    Raises:
        KeyError: No such endpoint (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> text = sequence(dk.template("dashboard-slow"), "dashboard-api GET /v1/dashboard")
        >>> text.splitlines()[0], "loop 50×" in text
        ('sequenceDiagram', True)
    """
    endpoint = design.endpoint(endpoint_ref)
    ref = EndpointRef.parse(endpoint_ref)
    assert ref is not None  # design.endpoint raised otherwise
    client = node_id("(client)")
    service = node_id(ref.service)
    participants: dict[str, str] = {ref.service: service}
    body: list[str] = []

    def who(name: str) -> str:
        if name not in participants:
            participants[name] = node_id(name)
        return participants[name]

    def message(depth: int, arrow: str, target: str, label: str) -> None:
        body.append(f"{_INDENT * depth}{service}{arrow}{who(target)}: {_seq(label) or '-'}")

    def block(depth: int, opener: str, label: str) -> None:
        body.append(f"{_INDENT * depth}{opener} {_seq(label)}".rstrip())

    def steps(items: Sequence[Step], depth: int) -> None:
        for step in items:
            if isinstance(step, CallStep):
                callee = EndpointRef.parse(step.call)
                target = callee.service if callee is not None else step.call
                label = _call_label(step, callee)
                kind = getattr(design.components.get(target), "kind", None)
                arrow = "-)" if callee is None and kind == "queue" else "->>"
                message(depth, arrow, target, label)
            elif isinstance(step, PublishStep):
                label = "publish" + (" via outbox" if step.outbox else "") + _times(step.count)
                message(depth, "-)", step.publish, label)
            elif isinstance(step, TransactionStep):
                block(depth, "critical", f"transaction on {step.transaction}")
                message(depth + 1, "->>", step.transaction, "BEGIN")
                steps(step.steps, depth + 1)
                message(depth + 1, "->>", step.transaction, "COMMIT")
                body.append(f"{_INDENT * depth}end")
            elif isinstance(step, LockStep):
                block(depth, "critical", f"lock {step.lock}")
                message(depth + 1, "->>", step.lock, "acquire")
                steps(step.steps, depth + 1)
                message(depth + 1, "->>", step.lock, "release")
                body.append(f"{_INDENT * depth}end")
            elif isinstance(step, LoopStep):
                block(depth, "loop", f"{step.loop.count:g}×")
                steps(step.loop.steps, depth + 1)
                body.append(f"{_INDENT * depth}end")
            elif isinstance(step, CacheStep):
                hit = _hit_ratio(design, step)
                message(depth, "->>", step.cache, step.op or "GET")
                block(depth, "alt", f"hit ({_ratio(hit)})")
                body.append(f"{_INDENT * (depth + 1)}Note right of {service}: "
                            f"{_seq('served from ' + step.cache)}")
                block(depth, "else", f"miss ({_ratio(1 - hit)})")
                steps(step.on_miss, depth + 1)
                message(depth + 1, "->>", step.cache, "SET (fill)")
                body.append(f"{_INDENT * depth}end")
            elif isinstance(step, ParallelStep):
                for b, branch in enumerate(step.parallel):
                    block(depth, "par" if b == 0 else "and", f"branch {b + 1}")
                    steps(branch, depth + 1)
                body.append(f"{_INDENT * depth}end")

    steps(endpoint.steps, 1)
    out = ["sequenceDiagram", f"{_INDENT}actor {client} as {_seq('client')}"]
    for name, pid in participants.items():
        out.append(f"{_INDENT}participant {pid} as {_seq(name)}")
    out.append(f"{_INDENT}{client}->>{service}: {_seq(ref.key)}")
    out.extend(body)
    out.append(f"{_INDENT}{service}-->>{client}: {_seq('response')}")
    return "\n".join(out)


def _times(count: float) -> str:
    return "" if count == 1 else f" ×{count:g}"


def _ratio(value: float) -> str:
    pct = value * 100
    return f"{pct:.0f}%" if pct == round(pct) else f"{pct:.3g}%"


def _call_label(step: CallStep, callee: EndpointRef | None) -> str:
    if step.op:
        label = step.op
    elif step.query is not None:
        label = _query_label(step.query)
    elif callee is not None:
        label = callee.key
    else:
        label = "call"
    return label + _times(step.count)


def _query_label(query: Query) -> str:
    words = [query.kind.upper(), query.table]
    if query.where:
        words.append("WHERE " + ", ".join(query.where))
    if query.batch > 1:
        words.append(f"IN ({query.batch} keys)")
    if query.order_by:
        words.append("ORDER BY " + ", ".join(query.order_by))
    if query.limit is not None:
        words.append(f"LIMIT {query.limit}")
    return " ".join(words)
