"""Views of a large design: the part of it that one diagram can show.

Graphviz lays out a few hundred components in seconds but not thousands in a minute, so a
large design is drawn one part at a time. :func:`subset` cuts a design down to one view;
:func:`too_large_to_draw` says when a whole design is too large, and which views of it to
draw instead.

The command line uses them (``designkit/cli.py``)::

    designkit render shop.yaml --only orders-db               # a component, its neighbours
    designkit render shop.yaml --only endpoint:'api POST /orders'   # what it reaches
    designkit render shop.yaml --only zone:private            # a zone (or boundary:NAME)

``render`` and ``report`` of a whole design with more than :data:`DRAW_LIMIT` components
print the message of :func:`too_large_to_draw` and exit with status 2 instead of starting
a layout that does not finish (Mermaid text, which needs no layout, is always written);
``--only`` draws the view's design, ``subset(design, only)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from designkit.errors import DesignError, Problem
from designkit.flow.build import parse_foreign_key, walk_steps
from designkit.model.database import Database
from designkit.model.design import Design
from designkit.model.problems import nearest
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

__all__ = ["DRAW_LIMIT", "subset", "too_large_to_draw"]

DRAW_LIMIT = 1_000
"""Components above which a design is not drawn whole. ``dot -Tsvg`` (Graphviz 2.43) of
the architecture view of ``benchmarks/generate.py``'s designs took 0.7 s of CPU at 250
components, 2.6 s at 500, 11 s at 1,000 and 63 s at 2,000 (faster than the square of the
size), so a minute is reached near 2,000; 1,000 leaves room for a slower machine and for
the other views of a report."""

_GROUPS = ("zone", "boundary")


def subset(design: Design, only: str) -> Design:
    """The part of ``design`` that one view shows, as a design of its own.

    ``only`` names the view:

    * ``"NAME"``: the component and its direct neighbours — its callers and callees
      (the services whose steps reach it, what its own steps reach, the handler of a
      queue), and one hop further along messages: the handlers of the queues it publishes
      to, and the publishers of the queues it handles;
    * ``"endpoint:svc METHOD /path"``: every component the endpoint reaches, transitively,
      through its steps, the endpoints it calls and the handlers of the queues it publishes
      to; of each service only those endpoints are kept;
    * ``"zone:NAME"`` / ``"boundary:NAME"``: the components whose ``zone`` / ``boundary``
      is ``NAME``, and every component they reach directly (their steps' targets, a
      queue's handler).

    The kept components are copied as they are, except that nothing kept may name a part
    that was left out, so the result is a valid design: steps that reach a left-out
    component or endpoint are removed (a transaction, lock or cache step whose component
    was left out gives way to the steps it wrapped; a loop or parallel step left empty
    goes), a queue whose handler was left out has none, a foreign key into a left-out
    database is unset, and the workload entries and sagas that name a left-out endpoint
    are dropped. Policy, security, waivers and attestations are kept. The view is for
    drawing: its estimate is not the whole design's.

    Args:
        design: The design (validated first).
        only: The view, as above.

    Returns:
        A new, validated design named ``"<name> (<only>)"``; ``design`` is not changed.

    Raises:
        DesignError: The design is invalid, or ``only`` names no component, endpoint,
            zone or boundary of it (the problem lists the nearest names).

    Example:
        >>> import designkit as dk
        >>> d = dk.template("payments-saga")
        >>> sorted(subset(d, "payment-events").components)
        ['orders-svc', 'payment-events', 'payments-svc']
        >>> view = subset(d, "endpoint:payments-svc GET /v1/charges/{id}")
        >>> sorted(view.components), list(view.components["payments-svc"].endpoints)
        (['payments-db', 'payments-svc'], ['GET /v1/charges/{id}'])
        >>> sorted(subset(d, "boundary:orders").components)
        ['order-events', 'orders-db', 'orders-svc', 'payments-svc', 'stock-svc']
        >>> subset(d, "zone:privat")
        Traceback (most recent call last):
        ...
        designkit.errors.DesignError: --only: 1 problem
          only: no zone 'privat' in design 'payments-saga' (did you mean 'private'?)
    """
    design.validate()
    links = _Links.of(design)
    keep, endpoints = _selection(design, links, only)
    return _project(design, keep, endpoints, f"{design.name} ({only})")


def too_large_to_draw(design: Design, limit: int = DRAW_LIMIT) -> str | None:
    """Why ``design`` is not drawn whole, and which views to draw instead; ``None`` when
    it has at most ``limit`` components.

    The paragraph (one line: a terminal wraps it) names real parts of the design: the
    component with the most neighbours, an endpoint of the workload, and the largest zone
    (else boundary) whose view fits, each with the number of components its view holds.

    Args:
        design: The design.
        limit: Components that Graphviz lays out in about a minute (see
            :data:`DRAW_LIMIT`).

    Example:
        >>> import designkit as dk
        >>> print(too_large_to_draw(dk.template("flash-sale")))
        None
        >>> print(too_large_to_draw(dk.template("flash-sale"), limit=4))
        'flash-sale' has 9 components, more than the 4 that Graphviz lays out in about a minute.
        Draw one part of it with --only, for example --only checkout-api (the component and its
        neighbours: 7 components), --only endpoint:'checkout-api POST /v1/orders' (what the
        endpoint reaches: 7 components) or --only boundary:orders-read (the boundary and what it
        calls: 3 components); any component NAME, endpoint:'svc METHOD /path', zone:NAME or
        boundary:NAME is a view.
    """
    count = len(design.components)
    if count <= limit:
        return None
    links = _Links.of(design)
    views = [_component_example(design, links)]
    endpoint = _endpoint_example(design, links)
    if endpoint is not None:
        views.append(endpoint)
    views.append(_group_example(design, links, limit))
    text = (f"{design.name!r} has {count:,} components, more than the {limit:,} that "
            "Graphviz lays out in about a minute. Draw one part of it with --only, for "
            "example " + ", ".join(views[:-1]) + f" or {views[-1]}; any component NAME, "
            "endpoint:'svc METHOD /path', zone:NAME or boundary:NAME is a view.")
    return text


# -- what reaches what ------------------------------------------------------------------


@dataclass
class _Links:
    """One walk over the design: which components reach which (steps and queue handlers),
    and, per endpoint, its steps' targets, the endpoints it calls and the queues it
    publishes to."""

    out: dict[str, set[str]] = field(default_factory=dict)
    into: dict[str, set[str]] = field(default_factory=dict)
    reach: dict[str, tuple[list[str], list[str], list[str]]] = field(default_factory=dict)
    handlers: dict[str, str] = field(default_factory=dict)  # queue -> "svc METHOD /path"

    @classmethod
    def of(cls, design: Design) -> _Links:
        links = cls()
        for ref, endpoint in design.endpoints():
            targets: list[str] = []
            calls: list[str] = []
            published: list[str] = []
            for _, step in walk_steps(endpoint.steps, ()):
                target = _target(step)
                if target is None:
                    continue
                targets.append(target)
                links.link(ref.service, target)
                if isinstance(step, CallStep) and (called := EndpointRef.parse(step.call)):
                    calls.append(str(called))
                elif isinstance(step, PublishStep):
                    published.append(step.publish)
            links.reach[str(ref)] = (targets, calls, published)
        for name, queue in design.of_kind("queue").items():
            handler = EndpointRef.parse(getattr(queue, "handler", None) or "")
            if handler is not None:
                links.handlers[name] = str(handler)
                links.link(name, handler.service)
        return links

    def link(self, source: str, target: str) -> None:
        self.out.setdefault(source, set()).add(target)
        self.into.setdefault(target, set()).add(source)

    def neighbours(self, design: Design, name: str) -> set[str]:
        """``name``, its callers and callees, and one hop further along messages."""
        keep = {name} | self.out.get(name, set()) | self.into.get(name, set())
        for queue in self.out.get(name, set()):  # the handlers of what it publishes
            if design.components[queue].kind == "queue" and name != queue:
                keep |= self.out.get(queue, set())
        for queue in self.into.get(name, set()):  # the publishers of what it handles
            if design.components[queue].kind == "queue":
                keep |= self.into.get(queue, set())
        return keep

    def reached(self, start: str) -> tuple[set[str], set[str]]:
        """The components and endpoints that endpoint ``start`` reaches, itself included."""
        keep: set[str] = set()
        endpoints: set[str] = set()
        todo = [start]
        while todo:
            ref = todo.pop()
            if ref in endpoints:
                continue
            endpoints.add(ref)
            keep.add(ref.split(" ", 1)[0])
            targets, calls, published = self.reach[ref]
            keep.update(targets)
            todo += calls
            todo += [self.handlers[q] for q in published if q in self.handlers]
        return keep, endpoints

    def group(self, design: Design, attr: str, value: str) -> set[str]:
        """The components whose ``attr`` is ``value``, and what they reach directly."""
        members = {n for n, c in design.components.items() if getattr(c, attr, None) == value}
        keep = set(members)
        for name in members:
            keep |= self.out.get(name, set())
        return keep


def _target(step: Step) -> str | None:
    """The component a step reaches (a called endpoint's service), if any."""
    if isinstance(step, CallStep):
        ref = EndpointRef.parse(step.call)
        return ref.service if ref is not None else step.call
    if isinstance(step, PublishStep):
        return step.publish
    if isinstance(step, TransactionStep):
        return step.transaction
    if isinstance(step, LockStep):
        return step.lock
    if isinstance(step, CacheStep):
        return step.cache
    return None


def _selection(design: Design, links: _Links, only: str
               ) -> tuple[set[str], set[str] | None]:
    """The components a view keeps, and the endpoints when it keeps only some."""
    kind, _, name = only.partition(":")
    if kind == "endpoint" and name:
        ref = EndpointRef.parse(name)
        if ref is None or str(ref) not in links.reach:
            _unknown(design, "endpoint", name.strip(), links.reach)
        keep, endpoints = links.reached(str(ref))
        return keep, endpoints
    if kind in _GROUPS and name:
        values = {v for c in design.components.values()
                  if isinstance(v := getattr(c, kind, None), str)}
        if name not in values:
            _unknown(design, kind, name, values)
        return links.group(design, kind, name), None
    if only not in design.components:
        _unknown(design, "component", only, design.components)
    return links.neighbours(design, only), None


def _unknown(design: Design, what: str, name: str, known: Iterable[str]) -> NoReturn:
    hint = nearest(name, known)
    message = f"no {what} {name!r} in design {design.name!r}"
    if what == "component" and not hint:
        message += "; a view is NAME, endpoint:'svc METHOD /path', zone:NAME or boundary:NAME"
    raise DesignError([Problem("only", message, hint)], source="--only")


# -- the view's design -------------------------------------------------------------------


def _project(design: Design, keep: set[str], endpoints: set[str] | None, name: str) -> Design:
    """Copies of the kept components (and, of services, of the kept endpoints), cut so that
    nothing names a left-out part; see :func:`subset`."""
    components = {}
    for cname, component in design.components.items():  # in file order
        if cname not in keep:
            continue
        copy = component.model_copy(deep=True)
        if isinstance(copy, Service) and endpoints is not None:
            copy.endpoints = {key: ep for key, ep in copy.endpoints.items()
                              if _ref(cname, key) in endpoints}
        components[cname] = copy
    refs = {_ref(cname, key) for cname, c in components.items() if isinstance(c, Service)
            for key in c.endpoints}

    def resolves(text: str) -> bool:
        ref = EndpointRef.parse(text)
        return str(ref) in refs if ref is not None else text in components

    for cname, component in components.items():
        if isinstance(component, Service):
            for endpoint in component.endpoints.values():
                endpoint.steps = _trim(endpoint.steps, resolves)
        elif isinstance(component, Database):
            for table in component.tables.values():
                for column in table.columns.values():
                    target = parse_foreign_key(cname, column.references or "")
                    if target is not None and target[0] not in components:
                        column.references = None
        elif component.kind == "queue" and component.handler is not None \
                and not resolves(component.handler):
            component.handler = None
    sagas = {n: s.model_copy(deep=True) for n, s in design.sagas.items()
             if all(resolves(t) for step in s.steps
                    for t in (step.action, step.compensation) if t is not None)}
    return Design(
        designkit=design.designkit, name=name, description=design.description,
        policy=design.policy.model_copy(deep=True),
        security=design.security.model_copy(deep=True), components=components, sagas=sagas,
        workload={k: v for k, v in design.workload.items() if resolves(k)},
        schedule={k: v for k, v in design.schedule.items() if resolves(k)},
        profile=design.profile,
        waivers=[w.model_copy(deep=True) for w in design.waivers],
        attestations=[a.model_copy(deep=True) for a in design.attestations],
    ).validate()


def _ref(service: str, key: str) -> str:
    """``"svc METHOD /path"`` of endpoint ``key`` of ``service``, as ``design.endpoints()``
    spells it."""
    method, _, path = key.partition(" ")
    return str(EndpointRef(service, method.upper(), path))


def _trim(steps: Sequence[Step], resolves: Callable[[str], bool]) -> list[Step]:
    """``steps`` without those that name a left-out part (see :func:`subset`)."""
    out: list[Step] = []
    for step in steps:
        if isinstance(step, CallStep):
            if resolves(step.call):
                out.append(step if step.fallback is None else step.model_copy(
                    update={"fallback": _trim(step.fallback, resolves)}))
        elif isinstance(step, PublishStep):
            if resolves(step.publish):
                out.append(step)
        elif isinstance(step, TransactionStep | LockStep):
            inner = _trim(step.steps, resolves)
            held = step.transaction if isinstance(step, TransactionStep) else step.lock
            if resolves(held):
                out.append(step.model_copy(update={"steps": inner}))
            else:
                out += inner
        elif isinstance(step, CacheStep):
            inner = _trim(step.on_miss, resolves)
            if resolves(step.cache):
                out.append(step.model_copy(update={"on_miss": inner}))
            else:
                out += inner
        elif isinstance(step, LoopStep):
            inner = _trim(step.loop.steps, resolves)
            if inner:
                out.append(step.model_copy(update={
                    "loop": step.loop.model_copy(update={"steps": inner})}))
        elif isinstance(step, ParallelStep):
            branches = [b for b in (_trim(branch, resolves) for branch in step.parallel) if b]
            if branches:
                out.append(step.model_copy(update={"parallel": branches}))
    return out


# -- the message -------------------------------------------------------------------------


def _component_example(design: Design, links: _Links) -> str:
    """The service (else component) with the most neighbours, and its view's size."""
    services = [n for n, c in design.components.items() if c.kind == "service"]
    pool = services or list(design.components)
    best = max(pool, key=lambda n: len(links.out.get(n, ())) + len(links.into.get(n, ())))
    size = len(links.neighbours(design, best))
    return f"--only {best} (the component and its neighbours: {_count(size)})"


def _endpoint_example(design: Design, links: _Links) -> str | None:
    """An endpoint of the workload (else the first one), and what it reaches."""
    loaded = [k for k, rps in design.rates().items() if rps > 0]
    refs = [str(r) for k in loaded if (r := EndpointRef.parse(k)) and str(r) in links.reach]
    ref = refs[0] if refs else next(iter(links.reach), None)
    if ref is None:
        return None
    size = len(links.reached(ref)[0])
    return f"--only endpoint:'{ref}' (what the endpoint reaches: {_count(size)})"


def _group_example(design: Design, links: _Links, limit: int) -> str:
    """The zone with the most members whose view fits ``limit`` (else such a boundary,
    else the group with the smallest view), and its view's size."""
    sizes = []
    for attr in _GROUPS:
        counts = Counter(v for c in design.components.values()
                         if isinstance(v := getattr(c, attr, None), str))
        for value, members in counts.items():
            sizes.append((len(links.group(design, attr, value)), _GROUPS.index(attr),
                          -members, attr, value))
    if not sizes:
        return ("--only zone:NAME (no component of this design states a zone or boundary: "
                "set them to draw the design group by group)")
    fitting = [s for s in sizes if s[0] <= limit]
    size, _, _, attr, value = (min(fitting, key=lambda s: s[1:]) if fitting else min(sizes))
    return f"--only {attr}:{value} (the {attr} and what it calls: {_count(size)})"


def _count(n: int) -> str:
    return f"{n:,} component{'s' if n != 1 else ''}"
