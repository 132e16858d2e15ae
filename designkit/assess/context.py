"""What a rule's check sees: the design, the policy, estimates computed on demand, and the
facts several rules ask for, each computed once per review."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Rule, Severity
from designkit.flow.build import build
from designkit.model.refs import EndpointRef

if TYPE_CHECKING:
    from designkit.estimate.growth import Growth
    from designkit.estimate.program import Program
    from designkit.estimate.result import Estimate, StationEstimate
    from designkit.estimate.solve import Solution
    from designkit.flow.nodes import Flow, Site
    from designkit.model.components import Component
    from designkit.model.design import Design
    from designkit.model.policy import Policy
    from designkit.model.service import Endpoint

__all__ = ["Context"]

T = TypeVar("T")


class Context:
    """The facts for rules: ``design``, ``policy``, and lazily ``estimate`` (at the design's
    workload), ``cold`` (every cache cold), ``year`` (tables after 365 days) and ``growth``.

    A review does not change its design, so what several rules ask for is computed once and
    kept here, on the context (never in a module): the design's flow (:attr:`flow`: every
    step's site, the queue handlers, the foreign keys), every endpoint (:attr:`endpoints`,
    :attr:`endpoint_map`), every step (:attr:`steps`), components by kind
    (:meth:`of_kind`), stations by id (:meth:`station`), a station under another workload
    (:meth:`what_if`), a rule module's own facts (:meth:`memo`), and the findings of the
    rules already run (:meth:`ran`).

    Checks report through :meth:`finding`, which stamps the current rule's id, severity
    and remediation.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale")
        >>> ctx = Context(d, d.policy)
        >>> ctx.endpoints == list(d.endpoints()), len(ctx.of_kind("lock"))
        (True, 1)
    """

    def __init__(self, design: Design, policy: Policy, estimate: Estimate | None = None,
                 today: dt.date | None = None) -> None:
        self.design = design
        self.policy = policy
        self.today = today or dt.date.today()
        self.audit = False  # waivers ignored (set by the engine for an audit)
        self.rule: Rule | None = None
        self._results: dict[str, tuple[Rule, list[Finding]]] = {}
        self._kinds: dict[str, dict[str, Component]] = {}
        self._memo: dict[Callable[[Context], Any], Any] = {}
        self._what_if: tuple[tuple[tuple[str, float], ...], Solution] | None = None
        if estimate is not None:
            self.__dict__["estimate"] = estimate

    # -- estimates -----------------------------------------------------------------------

    @cached_property
    def estimate(self) -> Estimate:
        """The estimate at the design's workload."""
        from designkit.estimate.api import estimate

        return estimate(self.design)

    @cached_property
    def cold(self) -> Estimate:
        """The estimate with every cache cold (hit ratio 0)."""
        from designkit.estimate.api import estimate
        from designkit.estimate.scenarios import Scenario

        return estimate(self.design, scenario=Scenario(cold_caches=True, name="cache lost"))

    @cached_property
    def year(self) -> Estimate:
        """The estimate with tables grown for a year."""
        from designkit.estimate.api import estimate

        return estimate(self.design, days=365)

    @cached_property
    def growth(self) -> Growth:
        """Tables and query plans now and in a year."""
        from designkit.estimate.growth import growth

        return growth(self.design, 365)

    def what_if(self, workload: dict[str, float], station_id: str) -> StationEstimate | None:
        """Station ``station_id`` of the design under another ``workload`` — what
        ``estimate(design, workload=workload).station(station_id)`` reports — or ``None``
        when there is no such station.

        The design is validated and compiled once per review, and each workload solved
        once, so a rule may ask for a what-if per component: each costs one solution of
        the compiled design, not a validation, a compilation and a capacity search.

        Args:
            workload: Requests per second by ``"svc METHOD /path"`` (the design's
                endpoints: a workload made from the design's own).
            station_id: ``"<component> <role>"``.

        Example:
            >>> import designkit as dk
            >>> d = dk.template("flash-sale")
            >>> ctx = Context(d, d.policy)
            >>> load = {**d.workload, "checkout-api POST /v1/orders": 50.0}
            >>> ctx.what_if(load, "orders-db cpu") == dk.estimate(
            ...     d, workload=load).station("orders-db cpu")
            True
        """
        from designkit.estimate.result import StationEstimate
        from designkit.estimate.solve import solve

        key = tuple(workload.items())
        program, index = self._compiled
        if self._what_if is None or self._what_if[0] != key:
            load = {}
            for name, rps in workload.items():  # as ``estimate`` checks a workload
                ref = EndpointRef.parse(name)
                load[str(ref) if ref else name] = float(rps)
            at = program if program.slowdown is None else program.slowdown.program(load, 1.0)
            self._what_if = (key, solve(at, load, 1.0))
        solution = self._what_if[1]
        i = index.get(station_id)
        if i is None:
            return None
        spec, trial = program.stations[i], solution.trial
        arrival, service = float(trial.arrival[i, 0]), float(trial.service[i, 0])
        utilization, wait = float(trial.utilization[i, 0]), float(trial.wait[i, 0])
        return StationEstimate(  # as ``estimate`` reports a station
            id=spec.id, component=spec.component, role=spec.role,
            servers=spec.servers * spec.copies, arrival_rps=arrival * 1000.0,
            service_ms=service, utilization=utilization,
            busy=arrival * service if arrival > 0 else 0.0, wait_ms=wait,
            saturated=utilization >= 1.0 or math.isinf(wait))

    @cached_property
    def _program(self) -> Program:
        """The design compiled as designed: the program ``estimate`` keeps (by the design's
        content) and solves."""
        from designkit.estimate.api import prepare

        return prepare(self.design, None, None, 0.0, 1.0)[1]

    @cached_property
    def _compiled(self) -> tuple[Program, dict[str, int]]:
        """The design's program (:attr:`_program`) and its stations' indexes by id."""
        program = self._program
        return program, {station.id: i for i, station in enumerate(program.stations)}

    @staticmethod
    def station(estimate: Estimate, station_id: str) -> StationEstimate | None:
        """The station ``"<component> <role>"`` of ``estimate``, or ``None``.

        Unlike :meth:`Estimate.station`, which searches every component (and suggests the
        nearest names on a miss), this reads only the component the id names: a station's
        id always starts with its component's name, and names hold no spaces.
        """
        component = estimate.components.get(station_id.split(" ", 1)[0])
        return component.stations.get(station_id) if component is not None else None

    # -- the design, read once -----------------------------------------------------------

    @cached_property
    def endpoints(self) -> list[tuple[EndpointRef, Endpoint]]:
        """Every endpoint with its reference, in file order (``design.endpoints()``)."""
        return list(self.design.endpoints())

    @cached_property
    def endpoint_map(self) -> dict[EndpointRef, Endpoint]:
        """Every endpoint by its reference."""
        return dict(self.endpoints)

    @cached_property
    def flow(self) -> Flow:
        """The design's flow (:func:`designkit.flow.build.build`), once per review: the
        rules read the design's behaviour from it, never by walking the steps.

        It is the flow of the program the estimator compiles for the design as designed
        (kept by the design's content), so the estimate and the rules read one flow, built
        once. It is built anew when that program was compiled from another design object
        of the same content: its sites name that object's endpoints and steps, which may
        have changed since.

        Example:
            >>> import designkit as dk
            >>> d = dk.template("flash-sale")
            >>> ctx = Context(d, d.policy)
            >>> ctx.flow is ctx.flow, ctx.flow.problems
            (True, ())
        """
        flow = self._program.flow
        for ref, endpoint in self.endpoints:
            sites = flow.sites_of(ref)
            if sites and sites[0].endpoint is not endpoint:
                return build(self.design)
        return flow

    @property
    def steps(self) -> tuple[Site, ...]:
        """Every step of every endpoint, nested ones included, depth first in file order:
        the sites of :attr:`flow` (:class:`~designkit.flow.nodes.Site`: the endpoint, the
        step's path and subject, the loops, cache misses, transaction and holders around it).

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x")
            >>> _ = d.service("api").endpoint("GET /a").call("db", service_ms=1)
            >>> _ = d.database("db")
            >>> [s.subject for s in Context(d, d.policy).steps]
            ['components.api.endpoints."GET /a".steps[0]']
        """
        return self.flow.sites

    def of_kind(self, kind: str) -> dict[str, Component]:
        """The components of one kind, by name (``design.of_kind``, kept)."""
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = self.design.of_kind(kind)
        return found

    def memo(self, fact: Callable[[Context], T]) -> T:
        """``fact(self)``, computed on the first call and kept for the rest of the review.

        Example:
            >>> import designkit as dk
            >>> ctx = Context(dk.template("flash-sale"), dk.template("flash-sale").policy)
            >>> def services(ctx: Context) -> int:
            ...     return len(ctx.of_kind("service"))
            >>> ctx.memo(services), ctx.memo(services) is ctx.memo(services)
            (3, True)
        """
        if fact not in self._memo:
            self._memo[fact] = fact(self)
        found: T = self._memo[fact]
        return found

    # -- findings ------------------------------------------------------------------------

    def record(self, rule: Rule, found: list[Finding]) -> None:
        """Keep what ``rule``'s check gave in this review (``[]``: it did not apply)."""
        self._results[rule.id] = (rule, found)

    def ran(self, rule: Rule) -> list[Finding] | None:
        """What ``rule``'s check gave earlier in this review, before attestations and
        waivers (``[]``: it did not apply), or ``None`` when it has not run."""
        kept = self._results.get(rule.id)
        return kept[1] if kept is not None and kept[0] == rule else None

    def severity(self) -> Severity:
        assert self.rule is not None
        override = self.policy.severity.get(self.rule.id)
        return Severity(override) if override else self.rule.severity

    def finding(self, subject: str, ok: bool | Status, message: str,
                **evidence: Any) -> Finding:
        """A finding of the current rule: ``ok`` True → pass, False → fail, or a status."""
        assert self.rule is not None, "findings are made while a rule runs"
        status = ok if isinstance(ok, Status) else (Status.PASS if ok else Status.FAIL)
        return Finding(self.rule.id, status, self.severity(), subject, message,
                       self.rule.remediation, dict(evidence))

    def needs_data(self, subject: str, message: str) -> Finding:
        """The facts the rule needs are missing from the design: never a pass."""
        return self.finding(subject, Status.NEEDS_DATA, message)
