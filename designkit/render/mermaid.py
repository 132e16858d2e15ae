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
from typing import TYPE_CHECKING, assert_never

from designkit.model.components import KINDS, Cache, Lock, Queue
from designkit.model.database import Column, Database, Table
from designkit.model.service import Service
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    TransactionStep,
)
from designkit.render.names import mermaid_text, node_id
from designkit.render.sequence_text import (
    call_label,
    is_message,
    milliseconds,
    network_note,
    publish_label,
    response_label,
    sequence_legend,
    worker_note,
)
from designkit.render.view import (
    ArchitectureView,
    Cardinality,
    EdgeKey,
    Load,
    StepView,
    architecture_view,
    data_view,
    fallback_label,
    list_ms,
    ratio,
    sequence_view,
)
from designkit.text import number, percent, visible

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.model.components import Component
    from designkit.model.design import Design

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

_EXTRA_STYLE = {"idle": "fill:#ffffff,stroke-dasharray:3 3,color:#4b5563"}
"""Classes declared only when a component has them (a design without keeps its text)."""
_STATE_STYLE = {**_UTIL_STYLE, **_EXTRA_STYLE}

_UNITS = {"call": "calls/s", "transaction": "tx/s", "lock": "locks/s", "cache": "reads/s",
          "publish": "msg/s", "consume": "msg/s"}
_ASYNC = frozenset({"publish", "consume"})

Edge = EdgeKey
"""(caller, target, relation): one arrow of the architecture view."""


def architecture(design: Design, estimate: Estimate | None = None) -> str:
    """The components and what calls what, as a Mermaid ``flowchart LR``.

    Nodes are shaped by kind (service ``[ ]``, database ``[( )]``, cache ``{{ }}``, queue
    ``> ]``, external ``[/ /]``, lock ``{ }``) and styled with a ``classDef`` per kind.
    Components are grouped in a ``subgraph`` per zone and, inside it, per boundary. There
    is one edge per (caller, target, relation) of the
    :func:`~designkit.render.view.architecture_view` — dotted for ``publish`` and
    ``consume`` — labelled with the relation.

    With an ``estimate``, each edge is labelled with its rate instead (see
    :func:`edge_rates` for how rates are attributed), each node shows its utilization, and
    nodes get the class ``ok``, ``warning`` (utilization ≥ ``policy.utilization_max``) or
    ``saturated`` — and ``idle`` ("no traffic"), declared only when a component has no
    traffic; a small legend subgraph explains the colours. An external API without a
    ``concurrency`` limit has no station, so no utilization: it shows its calls/s and its
    latency instead, in its kind's colours.

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
    view = architecture_view(design, estimate)
    loads = {node.name: node.load for node in view.nodes if node.load is not None}
    keeps = {node.name: node.keeps for node in view.nodes if node.keeps}
    util = _utilization(view)
    states = [state for state in (*_UTIL_STYLE, *_EXTRA_STYLE)
              if state in _UTIL_STYLE or any(s == state for _, s in util.values())]

    def node(name: str, component: Component) -> str:
        left, right = _SHAPES[component.kind]
        parts = [name, _detail(component)]
        if name in keeps:
            parts.append("authority: " + ", ".join(keeps[name]))
        if name in loads:
            parts.append(_load_text(loads[name], component))
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

    for edge in view.edges:
        arrow = "-.->" if edge.relation in _ASYNC else "-->"
        label = (f"{number(edge.rate)} {_UNITS[edge.relation]}" if view.estimated
                 else edge.relation)
        out.append(f'{_INDENT}{ids[edge.caller]} {arrow}|"{_text(label)}"| {ids[edge.target]}')

    if util:
        legend = node_id("legend", "utilization")
        limit = view.utilization_max
        out.append(f'{_INDENT}subgraph {legend}["{_text("utilization")}"]')
        legend_text = {"ok": f"below {percent(limit)}", "warning": f"≥ {percent(limit)}",
                       "saturated": "saturated (≥ 100%)", "idle": "no traffic"}
        for state in states:
            out.append(f'{_INDENT * 2}{node_id("legend", state)}["{_text(legend_text[state])}"]')
        out.append(f"{_INDENT}end")

    kinds = [k for k in KINDS if any(c.kind == k for c in design.components.values())]
    for kind in kinds:
        out.append(f"{_INDENT}classDef {kind} {_KIND_STYLE[kind]}")
    if util:
        for state in states:
            out.append(f"{_INDENT}classDef {state} {_STATE_STYLE[state]}")
    for kind in kinds:
        members = [ids[n] for n, c in design.components.items() if c.kind == kind]
        out.append(f"{_INDENT}class {','.join(members)} {kind}")
    if util:
        for state in states:
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


def _utilization(view: ArchitectureView) -> dict[str, tuple[float, str]]:
    """Each component's utilization and class under the estimate: the view's state
    (``ok``, ``warning``, ``saturated`` or ``idle``); a component without a station (an
    external API without a concurrency limit) has none and keeps its kind's look."""
    return {node.name: (node.load.utilization, node.load.state)
            for node in view.nodes
            if node.load is not None and node.load.state != "unbounded"}


def _load_text(load: Load, component: Component) -> str:
    """A node's last line under the estimate: its utilization, ``SATURATED``, ``no
    traffic``, or — for an external API without a concurrency limit, which has no
    utilization — its calls/s and latency."""
    match load.state:
        case "saturated":
            return "SATURATED"
        case "idle":
            return "no traffic"
        case "unbounded":
            latency = getattr(component, "latency_ms", None)
            return (f"{number(load.arrival_rps)} calls/s"
                    + (f" · latency {latency}" if latency is not None else ""))
        case "ok" | "warning":
            return f"utilization {percent(load.utilization)}"
        case _:
            assert_never(load.state)


def edge_rates(design: Design, estimate: Estimate) -> dict[Edge, float]:
    """Rate of every (caller, target, relation) edge under ``estimate``, per second: the
    rates of :func:`~designkit.render.view.architecture_view`, which Graphviz draws too
    (:mod:`designkit.render.view` says how they are attributed).

    Example:
        >>> import designkit as dk
        >>> d = dk.template("dashboard-slow")
        >>> rates = edge_rates(d, dk.estimate(d))
        >>> round(rates[("dashboard-api", "app-db", "call")], 1)
        386.6
    """
    return architecture_view(design, estimate).rates


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
    of a type or name Mermaid cannot take as it is — and a relationship from each foreign
    key's table to the table it references, labelled with the column, with the ends of
    :func:`~designkit.render.view.data_view`: ``}o`` (zero or many) or ``|o`` (zero or
    one, a ``unique`` column) on the referencing side, ``||`` (exactly one) or ``o|``
    (zero or one, a nullable column) on the referenced side.

    Example:
        >>> import designkit as dk
        >>> print("\\n".join(data(dk.template("dashboard-slow")).splitlines()[:3]))
        erDiagram
            app_db_merchants_ed25["merchants"] {
                uuid id PK
    """
    view = data_view(design)
    several = len(view.databases) > 1
    out = ["erDiagram"]
    for node in view.tables:
        entity = node_id(node.database, node.name)
        label = f"{node.database}.{node.name}" if several else node.name
        head = f'{_INDENT}{entity}["{_er(label)}"]'
        if not node.table.columns:
            out.append(head)
            continue
        out.append(head + " {")
        for column_name, column in node.table.columns.items():
            out.append(_INDENT * 2 + _attribute(node.table, column_name, column))
        out.append(_INDENT + "}")
    for relationship in view.relationships:
        key = relationship.key
        ends = (_LEFT_END[relationship.referencing] + "--"
                + _RIGHT_END[relationship.referenced])
        out.append(f"{_INDENT}{node_id(key.database, key.table)} {ends} "
                   f'{node_id(key.to_database, key.to_table)} : "{_er(key.column)}"')
    return "\n".join(out)


_LEFT_END: dict[Cardinality, str] = {"exactly-one": "||", "zero-or-one": "|o",
                                     "zero-or-many": "}o"}
_RIGHT_END: dict[Cardinality, str] = {"exactly-one": "||", "zero-or-one": "o|",
                                      "zero-or-many": "o{"}
"""Mermaid's crow's-foot marks for each cardinality, on the left and on the right of
``--``."""


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


def sequence(design: Design, endpoint_ref: str, estimate: Estimate | None = None) -> str:
    """One endpoint's steps as a Mermaid ``sequenceDiagram``.

    Participants are the client, the endpoint's service and every component or service it
    reaches, in the order first reached. Calls are solid messages (the op, else the query
    as ``SELECT table WHERE …``, else the called endpoint; ``×n`` when repeated); parallel
    branches are ``par``/``and``, loops ``loop n×``, a cache-aside read an
    ``alt hit (90%)``/``else miss (10%)`` (the miss branch ends with the cache fill),
    transactions and locks ``critical`` scopes opened and closed by ``BEGIN``/``COMMIT``
    or ``acquire``/``release``, and publishes the async arrow ``-)``. Calls to other
    services are not expanded: draw their endpoint's own sequence.

    With an ``estimate``, every message, frame and branch ends with its mean time
    (``· 0.62 ms``, see :func:`~designkit.render.view.sequence_view`), a note after the
    request gives the worker wait and the cpu, the response the endpoint's mean, and a
    note at the top says what the numbers are: the numbers of the Graphviz sequence.

    Raises:
        KeyError: No such endpoint (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> d = dk.template("dashboard-slow")
        >>> text = sequence(d, "dashboard-api GET /v1/dashboard")
        >>> text.splitlines()[0], "loop 50×" in text
        ('sequenceDiagram', True)
        >>> timed = sequence(d, "dashboard-api GET /v1/orders", dk.estimate(d))
        >>> print(timed.splitlines()[-1].strip())
        dashboard_api_e401-->>client_0f46: response · mean 29.1 ms
    """
    seq = sequence_view(design, endpoint_ref, estimate)  # a KeyError naming the nearest
    client = node_id("(client)")
    service = node_id(seq.ref.service)
    participants = {name: node_id(name) for name in seq.participants}
    body: list[str] = []

    def message(depth: int, arrow: str, target: str, label: str,
                ms: float | None = None) -> None:
        body.append(f"{_INDENT * depth}{service}{arrow}{participants[target]}: "
                    f"{_seq(label + _ms(ms)) or '-'}")

    def block(depth: int, opener: str, label: str, ms: float | None = None) -> None:
        body.append(f"{_INDENT * depth}{opener} {_seq(label + _ms(ms))}".rstrip())

    def steps(items: Sequence[StepView], depth: int) -> None:
        for view in items:
            step, time = view.site.step, view.time
            whole = time.ms if time is not None else None
            own = time.own_ms if time is not None else None
            match step:
                case CallStep():
                    target = view.site.target or step.call
                    message(depth, "-)" if is_message(design, step) else "->>", target,
                            call_label(step) + network_note(view), own)
                    if step.fallback is not None:
                        block(depth, "alt", fallback_label(view),
                              list_ms(view.body) if time is not None else None)
                        if not view.body:
                            body.append(f"{_INDENT * (depth + 1)}Note right of {service}: "
                                        f"{_seq('degrade: answer without it')}")
                        steps(view.body, depth + 1)
                        body.append(f"{_INDENT * depth}end")
                case PublishStep():
                    message(depth, "-)", step.publish,
                            publish_label(step) + network_note(view), own)
                case TransactionStep():
                    block(depth, "critical", f"transaction on {step.transaction}", whole)
                    message(depth + 1, "->>", step.transaction, "BEGIN", own)
                    steps(view.body, depth + 1)
                    message(depth + 1, "->>", step.transaction, "COMMIT")
                    body.append(f"{_INDENT * depth}end")
                case LockStep():
                    block(depth, "critical", f"lock {step.lock}", whole)
                    message(depth + 1, "->>", step.lock, "acquire", own)
                    steps(view.body, depth + 1)
                    message(depth + 1, "->>", step.lock, "release")
                    body.append(f"{_INDENT * depth}end")
                case LoopStep():
                    block(depth, "loop", f"{step.loop.count:g}×", whole)
                    steps(view.body, depth + 1)
                    body.append(f"{_INDENT * depth}end")
                case CacheStep():
                    hit = view.hit
                    message(depth, "->>", step.cache, (step.op or "GET") + network_note(view), own)
                    block(depth, "alt", "hit" if hit is None else f"hit ({ratio(hit)})")
                    body.append(f"{_INDENT * (depth + 1)}Note right of {service}: "
                                f"{_seq('served from ' + step.cache)}")
                    block(depth, "else", "miss" if hit is None else f"miss ({ratio(1 - hit)})",
                          list_ms(view.body) if time is not None else None)
                    steps(view.body, depth + 1)
                    message(depth + 1, "->>", step.cache, "SET (fill)")
                    body.append(f"{_INDENT * depth}end")
                case ParallelStep():
                    for b, branch in enumerate(view.lists):
                        block(depth, "par" if b == 0 else "and", f"branch {b + 1}",
                              list_ms(branch) if time is not None else None)
                        steps(branch, depth + 1)
                    body.append(f"{_INDENT * depth}end")
                case _:
                    assert_never(step)

    steps(seq.steps, 1)
    out = ["sequenceDiagram", f"{_INDENT}actor {client} as {_seq('client')}"]
    for name, pid in participants.items():
        out.append(f"{_INDENT}participant {pid} as {_seq(name)}")
    legend = sequence_legend(seq)
    if legend:
        out.append(f"{_INDENT}Note over {client},{service}: "
                   + "<br/>".join(_seq(line) for line in legend))
    out.append(f"{_INDENT}{client}->>{service}: {_seq(seq.ref.key)}")
    if seq.times is not None:
        out.append(f"{_INDENT}Note right of {service}: {_seq(worker_note(seq.times))}")
    out.extend(body)
    out.append(f"{_INDENT}{service}-->>{client}: {_seq(response_label(seq))}")
    return "\n".join(out)


def _ms(ms: float | None) -> str:
    """`` · 0.62 ms`` after a label, when the time is known."""
    return "" if ms is None or math.isnan(ms) else f" · {milliseconds(ms)}"
