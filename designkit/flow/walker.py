"""What the flow builder keeps while it walks a design: the resources, endpoints and sites
found so far, the problems, and the lookups every part of the walk shares (a component by
name, an endpoint reference, a time as its calibration scales it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from designkit.errors import Problem
from designkit.flow.nodes import (
    EndpointFlow,
    ForeignKey,
    Node,
    Path,
    Resource,
    Seq,
    Site,
)
from designkit.flow.plan import Planner
from designkit.flow.times import Spec, shape_of
from designkit.model.components import Component, Queue
from designkit.model.database import Table
from designkit.model.design import Design
from designkit.model.network import Network, placement_of
from designkit.model.problems import format_path, nearest
from designkit.model.refs import EndpointRef
from designkit.model.resilience import Retries
from designkit.model.service import Endpoint, Service
from designkit.model.steps import Step

__all__ = ["Around", "Walker", "copied", "then"]


@dataclass(frozen=True)
class Around:
    """What encloses the steps being walked."""

    ref: EndpointRef
    endpoint: Endpoint
    normal: str  # the endpoint's key with the method upper-cased (problem paths name it)
    iterations: float = 1.0
    times: float = 1.0
    tx: tuple[str, str] | None = None
    holders: tuple[str, ...] = ()
    open_tx: frozenset[str] = frozenset()


class Walker:
    """The state of one walk of a design (see :mod:`designkit.flow.build`) and the
    lookups its parts share."""

    def __init__(self, design: Design, days: float, known: set[str],
                 stretch: Mapping[str, float]) -> None:
        self.design = design
        self.stretch = stretch
        self.components = design.components
        self.days = days
        self.known = known
        self.problems: list[Problem] = []
        self.resources: list[Resource] = []
        self.resource_ids: dict[str, int] = {}
        self.endpoints: list[EndpointFlow] = []
        self.sites: list[Site] = []
        self.foreign_keys: list[ForeignKey] = []
        self.index: dict[str, int] = {}
        for i, (ref, _) in enumerate(design.endpoints()):
            self.index[str(ref)] = i
        self.refs: dict[str, tuple[EndpointRef | None, str, bool]] = {}  # see parse()
        self.planners: dict[str, Planner] = {}  # see plan()
        # Calls between existing endpoints, in file order: (caller, callee) -> the first
        # call's path and the caller's normalised key (the path of a cycle names it).
        self.first_call: dict[tuple[str, str], tuple[Path, str]] = {}
        # Messages to queues (a publish, or a call of a queue), in file order: (publisher,
        # queue) -> the first one's path, the publisher's normalised key and the field.
        self.first_publish: dict[tuple[str, str], tuple[Path, str, str]] = {}
        self.handlers: dict[str, str] = {}  # queue name -> its handler's reference
        placed = any(placement_of(c) != (None, ()) for c in self.components.values())
        self.network = design.network or (Network() if placed else None)
        for name, component in self.components.items():
            if isinstance(component, Queue) and component.handler is not None:
                handler = EndpointRef.parse(component.handler)
                if handler is not None:
                    self.handlers[name] = str(handler)

    def report(self, path: Path, message: str, suggestions: Iterable[str] = ()) -> None:
        self.problems.append(Problem(format_path(path), message, tuple(suggestions)))

    def resource(self, rid: str, component: str, role: str, servers: int, copies: int = 1,
                 held: bool = False, replicas_of: str | None = None) -> int:
        if rid not in self.resource_ids:
            self.resource_ids[rid] = len(self.resources)
            self.resources.append(Resource(rid, component, role, servers, copies, held,
                                           replicas_of))
        return self.resource_ids[rid]

    def site(self, step: Step, path: Path, around: Around, target: str | None,
             fills: float = 0.0) -> Site:
        ref = around.ref
        site_path = path if path[3] == ref.key else (*path[:3], ref.key, *path[4:])
        site = Site(ref, around.endpoint, site_path, step, around.iterations, around.times,
                    around.tx, around.holders, target, fills)
        self.sites.append(site)
        return site

    def uncertain(self, path: Path) -> str | None:
        """The design's name of the number at ``path`` when it is uncertain (a range or
        a distribution: :mod:`designkit.model.uncertain`), else ``None``."""
        if not self.design.uncertain:
            return None
        key = format_path(path)
        return key if key in self.design.uncertain else None

    def timed(self, component: str, time: Spec) -> Spec:
        """A time ``component`` spends, as its calibration (and the stretch of its
        slowdown at the load being solved) says: scaled, and of the calibrated shape."""
        calibrated = (self.design.calibration.components.get(component)
                      if self.design.calibration is not None else None)
        factor = self.stretch.get(component, 1.0) * (calibrated.scale if calibrated else 1.0)
        if factor != 1.0:
            time = time.scaled(factor)
        if calibrated is not None and calibrated.scv is not None and time.mean > 0:
            time = shape_of(time.mean, calibrated.scv)
        return time

    def parse(self, text: str) -> tuple[EndpointRef | None, str, bool]:
        """``EndpointRef.parse(text)``, its ``str``, and whether ``text`` is one word; each
        distinct text is parsed once."""
        ref = EndpointRef.parse(text)
        parsed = self.refs[text] = (ref, "" if ref is None else str(ref), len(text.split()) == 1)
        return parsed

    def component(self, path: Path, field: str, name: str) -> Component | None:
        """The component ``name`` that the step at ``path`` names in ``field``, if any."""
        component = self.components.get(name)
        if component is None and name not in self.known:
            self.report((*path, field), f"unknown component {name!r}",
                        nearest(name, [*self.components, *self.known]))
        return component

    def target(self, path: Path, field: str, name: str, kind: str, what: str) -> bool:
        """Whether ``name`` is a component of ``kind`` (else a problem, unless known)."""
        component = self.component(path, field, name)
        if component is None:
            return False
        if component.kind != kind:
            options = self.design.of_kind(kind)
            self.report((*path, field), f"{what} needs a {kind}; {name!r} is a "
                        f"{component.kind}", nearest(name, options) or tuple(sorted(options))[:3])
            return False
        return True

    def endpoint_ref(self, path: Path, text: str) -> None:
        ref, name, _ = self.refs.get(text) or self.parse(text)
        if ref is None:
            self.report(path, f"{text!r} is not an endpoint reference 'svc METHOD /path'",
                        nearest(text, self.index))
            return
        if name in self.index or (self.known and {ref.service, name} & self.known):
            return
        component = self.components.get(ref.service)
        if component is None:
            self.report(path, f"unknown service {ref.service!r}",
                        nearest(ref.service, self.design.of_kind("service")))
        elif not isinstance(component, Service):
            self.report(path, f"{ref.service!r} is a {component.kind}, not a service")
        else:
            self.report(path, f"service {ref.service!r} has no endpoint {ref.key!r}",
                        nearest(name, set(self.index) | self.known))

    def column(self, path: Path, db: str, name: str, table: Table, column: str) -> None:
        if table.columns and column not in table.columns:
            self.report(path, f"table {db}.{name} has no column {column!r}",
                        nearest(column, table.columns))


def copied(retries: Retries | None) -> Retries | None:
    """The flow keeps its own copy: it may outlive changes to the design."""
    return None if retries is None else retries.model_copy()


def then(node: Node, after: Node) -> Seq:
    """``node``, then ``after``, as one sequence (a sequence's items run on, unnested)."""
    items = node.items if isinstance(node, Seq) else (node,)
    return Seq((*items, after))
