"""The ``Design`` aggregate: every component, saga, workload and the review's data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from designkit.errors import DesignError
from designkit.model.base import Strict
from designkit.model.bounds import Rate
from designkit.model.calibration import Calibration
from designkit.model.components import Cache, Component, External, Lock, Queue
from designkit.model.database import Database
from designkit.model.invariants import Invariant
from designkit.model.network import Network
from designkit.model.policy import Attestation, NotApplicable, Policy, Security, Waiver
from designkit.model.profile import LoadProfile
from designkit.model.refs import EndpointRef, is_endpoint_ref
from designkit.model.saga import Saga
from designkit.model.schedule import Schedule
from designkit.model.service import Endpoint, Service
from designkit.model.uncertain import Uncertain, extract, parse_path

if TYPE_CHECKING:
    import networkx as nx

    from designkit.errors import Problem

__all__ = ["FORMAT_VERSION", "Design"]

_C = TypeVar("_C", Service, Database, Cache, Queue, External, Lock)

FORMAT_VERSION = 1

# The key, in a design's ``__dict__``, of the signature of the last dump that passed its
# checks. Not a pydantic private attribute: those take part in ``==``, and a design that
# was checked must still equal one that was not.
_PASSED = "_designkit_passed"
_KEPT = "_designkit_kept"  # work derived from the design, with the digest it was derived at


class Design(Strict):
    """A backend system: components, sagas, workload, and the standard it is held to.

    Build one from a file with :func:`designkit.load`, or in cells with the builder
    methods. A builder call declares a part by name: calling it again updates that part
    (components, tables, sagas) or replaces it (endpoints, with their steps), so re-running
    a notebook cell never duplicates anything.

    Args:
        designkit: The file format version (1).
        name: The design's name.
        description: Free text.
        policy: The standard's parameters.
        security: Password hashing, JWT algorithm, sessions, CSRF, CORS.
        components: Components by name; each has a ``kind``.
        sagas: Sagas by name.
        workload: Requests per second by endpoint, ``{"svc METHOD /path": rps}``.
        profile: The workload's factor over time (an on-sale: 2× for a minute), for
            ``dk.transient``.
        schedule: Jobs run on a timer, by endpoint: ``{"svc METHOD /path": {every_s: 3600}}``;
            their rate adds to the workload, as background work.
        invariants: What the business must keep, by name: a value's authority (stock
            in ``stock-cache``, never below zero) or an effect that happens once (a
            charge by ``psp``); the review checks every change of the value and every
            call of the effect against it.
        previous: The design file of the version running now, relative to this file: the
            schema changes since then must each have a migration script (a database's
            ``migrations``; DK-DB-005 checks it).
        calibration: What measurements taught: each calibrated component's time scale,
            shape and slowdown with load, and the highest load measured per endpoint
            (``designkit calibrate`` writes it; a workload beyond it is named as an
            extrapolation).
        network: Round trips between placed components (``region``, ``az``): stating it,
            or placing any component, gives every hop a network time.
        waivers: Accepted findings.
        not_applicable: Checks that do not apply to this design, with the reason (shown as
            not applicable, reviewed like waivers).
        attestations: Statements for rules the model cannot decide.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="shop")
        >>> api = d.service("api", replicas=2, workers=8)
        >>> _ = api.endpoint("GET /items/{id}", cpu_ms=1).call("db", query={
        ...     "table": "items", "where": ["id"]})
        >>> db = d.database("db", cores=4)
        >>> _ = db.table("items", rows=1000).column("id", "uuid", primary_key=True)
        >>> _ = d.set_load("api GET /items/{id}", 200)
        >>> d.validate() is d
        True
        >>> d
        Design('shop': 2 components (1 service, 1 database), 1 endpoint, 1 table, 200 rps)
    """

    designkit: int = Field(default=FORMAT_VERSION, ge=1, le=FORMAT_VERSION)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    policy: Policy = Field(default_factory=Policy)
    security: Security = Field(default_factory=Security)
    components: dict[str, Component] = Field(default_factory=dict)
    sagas: dict[str, Saga] = Field(default_factory=dict)
    workload: dict[str, Rate] = Field(default_factory=dict)
    profile: LoadProfile | None = None
    schedule: dict[str, Schedule] = Field(default_factory=dict)
    network: Network | None = None
    invariants: dict[str, Invariant] = Field(default_factory=dict)
    previous: str | None = None
    calibration: Calibration | None = None
    _uncertain: dict[str, Uncertain] = PrivateAttr(default_factory=dict)

    @property
    def uncertain(self) -> Mapping[str, Uncertain]:
        """The numbers the design states as ranges or distributions, by their path
        (``'components.cache.hit_ratio'``), read-only; each field holds the range's
        middle (:mod:`designkit.model.uncertain`). Written in place of the numbers in a
        file; set with :meth:`vary` (or by assigning a whole mapping: each is varied)."""
        return MappingProxyType(self._uncertain)

    @uncertain.setter
    def uncertain(self, value: Mapping[str, Uncertain | dict[str, float]]) -> None:
        self._uncertain = {}
        for path, given in value.items():
            form = given.model_dump(exclude_none=True) if isinstance(given, Uncertain) \
                else dict(given)
            self.vary(str(path), **form)
    waivers: list[Waiver] = Field(default_factory=list)
    not_applicable: list[NotApplicable] = Field(default_factory=list)
    attestations: list[Attestation] = Field(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _ranges(cls, data: Any, handler: ModelWrapValidatorHandler[Design]) -> Design:
        """Numbers written as ``{low, high}`` or ``{p50, p95}`` (see
        :mod:`designkit.model.uncertain`): the design holds their nominal values and keeps
        the ranges in :attr:`uncertain`."""
        if not isinstance(data, dict):
            return handler(data)
        plain, found, problems = extract(data)
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, [
                InitErrorDetails(type=PydanticCustomError("value_error", text), loc=path,
                                 input=None)
                for path, text in problems])
        design = handler(plain)
        if found:
            design._uncertain = found
        return design

    @field_validator("workload", "schedule", mode="before")
    @classmethod
    def _normal_keys(cls, value: Any) -> Any:
        """Workload keys as every other reference is read: method in capitals, one space
        between parts (``"api get  /items"`` is ``"api GET /items"``); two keys that name
        the same endpoint are an error, not a silent merge."""
        if not isinstance(value, dict):
            return value
        out: dict[Any, Any] = {}
        written: dict[str, str] = {}
        for key, rps in value.items():
            ref = EndpointRef.parse(key) if isinstance(key, str) and is_endpoint_ref(key) \
                else None
            normal = str(ref) if ref is not None else key
            if normal in out:
                raise ValueError(f"{written[normal]!r} and {key!r} are the same endpoint "
                                 f"{normal!r}; keep one")
            out[normal], written[normal] = rps, key
        return out

    # -- builder -------------------------------------------------------------------------

    def service(self, name: str, **fields: Any) -> Service:
        """Declare service ``name`` or update the fields given; returns it.

        Example:
            >>> import designkit as dk
            >>> dk.Design(name="x").service("api", replicas=3).replicas
            3
        """
        return self._component(name, Service, "service", fields)

    def database(self, name: str, **fields: Any) -> Database:
        """Declare database ``name`` or update the fields given; returns it."""
        return self._component(name, Database, "database", fields)

    def cache(self, name: str, **fields: Any) -> Cache:
        """Declare cache ``name`` or update the fields given; returns it."""
        return self._component(name, Cache, "cache", fields)

    def queue(self, name: str, **fields: Any) -> Queue:
        """Declare queue ``name`` or update the fields given; returns it."""
        return self._component(name, Queue, "queue", fields)

    def external(self, name: str, **fields: Any) -> External:
        """Declare external API ``name`` or update the fields given; returns it."""
        return self._component(name, External, "external", fields)

    def lock(self, name: str, **fields: Any) -> Lock:
        """Declare lock ``name`` or update the fields given; returns it."""
        return self._component(name, Lock, "lock", fields)

    def saga(self, name: str, **fields: Any) -> Saga:
        """Declare saga ``name`` or update the fields given; returns it."""
        from designkit.model.problems import upsert

        return upsert(self.sagas, name, Saga, fields, "sagas")

    def set_load(self, endpoint: str, rps: float) -> Design:
        """Set the workload of ``"svc METHOD /path"`` to ``rps``; returns the design.

        Example:
            >>> import designkit as dk
            >>> dk.Design(name="x").set_load("api get /items", 50).workload
            {'api GET /items': 50.0}
        """
        ref = EndpointRef.parse(endpoint)
        self.workload[str(ref) if ref else endpoint] = float(rps)
        return self

    def vary(self, path: str, *, low: float | None = None, high: float | None = None,
             p50: float | None = None, p95: float | None = None) -> Design:
        """State the number at ``path`` as uncertain: a range ``low``–``high`` (uniform)
        or a lognormal through ``p50`` and ``p95`` — the design then holds its middle
        (its median), and ``estimate(..., samples=…)`` draws from it
        (:mod:`designkit.model.uncertain`). Returns the design.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x").set_load("api GET /x", 100)
            >>> _ = d.vary('workload."api GET /x"', low=60, high=140)
            >>> d.workload, d.uncertain['workload."api GET /x"'].describe()
            ({'api GET /x': 100.0}, '60–140')
        """
        from designkit.errors import Problem
        from designkit.model.problems import format_path
        from designkit.model.uncertain import canonical, checked, kind_of, locate, nominal_of

        parts = canonical(parse_path(path))
        where = format_path(parts) or "path"
        if format_path(parse_path(path)) != path:
            raise DesignError([Problem(path or "path", "not a path as the design's errors "
                                       f"write them; did you mean {where!r}?")])
        kind = kind_of(parts)
        if kind is None:
            raise DesignError([Problem(where, "a range is not accepted here; ranges are "
                                       "accepted on hit_ratio, rows and workload rates")])
        given = {k: v for k, v in {"low": low, "high": high, "p50": p50, "p95": p95}.items()
                 if v is not None}
        uncertain = checked(given, kind)
        if isinstance(uncertain, str):
            raise DesignError([Problem(where, uncertain)])
        try:
            owner, last = locate(self, parts)
            if isinstance(owner, dict):
                if kind == "rate" and last not in owner:
                    raise LookupError(last)  # a rate is varied where the workload has one
                owner[last] = nominal_of(uncertain, kind)
            else:
                if str(last) not in type(owner).model_fields:
                    raise LookupError(last)
                setattr(owner, str(last), nominal_of(uncertain, kind))
        except LookupError:
            known = [f'workload."{k}"' for k in self.workload] if kind == "rate" else []
            raise DesignError([Problem(where, "no such number in the design"
                                       + (": give the endpoint a rate first "
                                          "(set_load)" if kind == "rate" else ""),
                                       tuple(known[:3]))]) from None
        self._uncertain[where] = uncertain
        return self

    def set_schedule(self, endpoint: str, every_s: float, runs: float = 1.0) -> Design:
        """Run ``"svc METHOD /path"`` ``runs`` times every ``every_s`` seconds; returns the
        design.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x").set_schedule("jobs post /nightly", every_s=86_400)
            >>> d.schedule["jobs POST /nightly"].every_s, d.rates()["jobs POST /nightly"]
            (86400.0, 1.1574074074074073e-05)
        """
        ref = EndpointRef.parse(endpoint)
        self.schedule[str(ref) if ref else endpoint] = Schedule(every_s=every_s, runs=runs)
        return self

    def rate(self, endpoint: str) -> float | None:
        """Requests per second of one endpoint (workload plus schedule); ``None`` when
        neither names it."""
        load, job = self.workload.get(endpoint), self.schedule.get(endpoint)
        if job is None:
            return load
        return (load or 0.0) + job.rate

    @property
    def loaded(self) -> bool:
        """Whether the workload or a schedule names any endpoint."""
        return bool(self.workload or self.schedule)

    def background_endpoints(self) -> set[str]:
        """Endpoints nobody waits for: queues' handlers, and those only a schedule runs.

        Example:
            >>> import designkit as dk
            >>> sorted(dk.template("flash-sale").background_endpoints())
            ['order-projector POST /v1/order-events']
        """
        out = {key for key in self.schedule if key not in self.workload}
        for component in self.components.values():
            handler = component.handler if isinstance(component, Queue) else None
            ref = EndpointRef.parse(handler) if handler else None
            if ref is not None:
                out.add(str(ref))
        return out

    def rates(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Requests per second by endpoint: the workload's, plus the scheduled jobs'.

        Args:
            overrides: Rates of some endpoints in place of the workload's, as if written
                there: keys read as the workload's are (``"api get /a"`` is
                ``"api GET /a"``), and a schedule of the endpoint still adds to it.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x"); _ = d.service("api").endpoint("GET /a")
            >>> d.schedule = {"api GET /a": {"every_s": 10}}
            >>> d.rates(), d.rates({"api GET /a": 5})
            ({'api GET /a': 0.1}, {'api GET /a': 5.1})
        """
        out = dict(self.workload)
        for key, job in self.schedule.items():
            out[key] = out.get(key, 0.0) + job.rate
        for key, rps in (overrides or {}).items():
            ref = EndpointRef.parse(key) if is_endpoint_ref(key) else None
            key = str(ref) if ref is not None else key  # (as the workload's keys are read)
            scheduled = self.schedule.get(key)
            out[key] = rps + (scheduled.rate if scheduled is not None else 0.0)
        return out

    def _component(self, name: str, model: type[_C], kind: str, fields: dict[str, Any]) -> _C:
        from designkit.model.problems import upsert

        return upsert(self.components, name, model, {**fields, "kind": kind}, "components")

    # -- lookups -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Component:
        """The component ``name``; a ``KeyError`` names the nearest ones when it is missing."""
        try:
            return self.components[name]
        except KeyError:
            from designkit.model.problems import nearest

            hint = nearest(name, self.components)
            raise KeyError(f"no component {name!r}"
                           + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""))\
                from None

    def endpoints(self) -> Iterator[tuple[EndpointRef, Endpoint]]:
        """Every endpoint of every service, with its reference, in file order.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x")
            >>> _ = d.service("api").endpoint("GET /a")
            >>> [str(ref) for ref, _ in d.endpoints()]
            ['api GET /a']
        """
        for name, component in self.components.items():
            if isinstance(component, Service):
                for key, endpoint in component.endpoints.items():
                    method, _, path = key.partition(" ")
                    yield EndpointRef(name, method.upper(), path), endpoint

    def endpoint(self, ref: str) -> Endpoint:
        """The endpoint ``"svc METHOD /path"``.

        Raises:
            KeyError: No such endpoint (the message names the nearest ones).
        """
        parsed = EndpointRef.parse(ref)
        known = {str(r): ep for r, ep in self.endpoints()}
        if parsed is not None and str(parsed) in known:
            return known[str(parsed)]
        from designkit.model.problems import nearest

        hint = nearest(ref, known)
        raise KeyError(f"no endpoint {ref!r}"
                       + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""))

    def of_kind(self, kind: str) -> dict[str, Component]:
        """The components of one kind, by name.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x"); _ = d.cache("c"); _ = d.lock("l")
            >>> list(d.of_kind("cache"))
            ['c']
        """
        return {n: c for n, c in self.components.items() if c.kind == kind}

    # -- checks and views ----------------------------------------------------------------

    def problems(self) -> list[Problem]:
        """Every problem of the design (structure and references), without raising.

        Example:
            >>> import designkit as dk
            >>> d = dk.Design(name="x")
            >>> _ = d.service("api").endpoint("GET /a").call("nowhere")
            >>> [str(p) for p in d.problems()]
            ['components.api.endpoints."GET /a".steps[0].call: unknown component \\'nowhere\\'']
        """
        from designkit.gcpause import gc_paused

        with gc_paused():
            return self._check()

    def _check(self) -> list[Problem]:
        """``check_data`` of the design's dump, skipped when the dump is, byte for byte,
        one that this design already passed (see decision 24 in ``docs/decisions.md``).

        Any change a user can make to the design (a field of a nested part, a step
        appended, a dict entry added or removed) changes its dump, so the check runs again.
        """
        from designkit.model.digest import content_digest
        from designkit.model.io import _BUILT, check_data

        digest, data = content_digest(self)
        if digest is not None and self.__dict__.get(_PASSED) == digest:
            return []
        if data is None:
            data = self.model_dump(mode="json", round_trip=True)
        problems = check_data(data, source=self)[1]
        built = self.__dict__.pop(_BUILT, None)  # the flow the checks built of this design
        if problems or digest is None:
            self.__dict__.pop(_PASSED, None)
        else:
            self.__dict__[_PASSED] = digest
            if built is not None:
                keep(self, built)  # an estimate starts from it (as after ``dk.load``)
        return problems

    def _passed(self) -> None:
        """Record that the design as it is now passed every check (``dk.load`` has just
        checked it in full): the next ``validate()`` of it unchanged costs one dump."""
        from designkit.model.digest import content_digest

        digest, _ = content_digest(self)
        if digest is not None:
            self.__dict__[_PASSED] = digest

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Design:
        """A deep copy without the work kept from this design (its flow names this
        design's parts; copying it would cost more than building the copy's own when it
        is asked for)."""
        memo = {} if memo is None else memo
        found = self.__dict__.get(_KEPT)
        if found is not None:
            memo[id(found)] = None
        copy = super().__deepcopy__(memo)
        copy.__dict__.pop(_KEPT, None)
        return copy

    def validate(self) -> Design:  # type: ignore[override]
        """Check the whole design; returns it, or raises :class:`DesignError` listing all
        problems with their paths.

        Checking a design again after it passed, unchanged, costs one dump of it rather
        than the full check; any change to it is checked in full."""
        problems = self.problems()
        if problems:
            raise DesignError(problems, source=f"design {self.name!r}")
        return self

    def graph(self) -> nx.MultiDiGraph:
        """The components and their call edges as a networkx ``MultiDiGraph``.

        See :func:`designkit.flow.graph.component_graph`.
        """
        from designkit.flow.graph import component_graph

        return component_graph(self)

    def __repr__(self) -> str:
        from designkit.model.summary import summary_line

        return f"Design({summary_line(self)})"

    def __str__(self) -> str:
        from designkit.model.summary import summary_text

        return summary_text(self)

    def _repr_html_(self) -> str:
        from designkit.model.summary import summary_html

        return summary_html(self)


def keep(design: Design, work: object) -> None:
    """Keep ``work`` derived from ``design`` as it is now (it has just passed): returned
    by :func:`kept` while the design stays unchanged. The checks keep the flow they built
    this way, so that estimating a design just loaded does not build it again.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale").validate()
        >>> keep(d, "work"); kept(d)
        'work'
    """
    digest = passed_digest(design)
    if digest is not None:
        design.__dict__[_KEPT] = (digest, work)


def kept(design: Design) -> object | None:
    """What :func:`keep` kept for ``design``, if the design has not changed since (its
    passed digest is the same); else ``None``."""
    found = design.__dict__.get(_KEPT)
    if isinstance(found, tuple) and found[0] == passed_digest(design):
        work: object = found[1]
        return work
    return None


def passed_digest(design: Design) -> bytes | None:
    """The digest of the content with which ``design`` last passed :meth:`Design.validate`
    (``None``: not recorded). Right after ``validate()`` returns, it is the digest of the
    design as it is: work derived from the design can be kept under it.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale").validate()
        >>> len(passed_digest(d))
        32
    """
    found = design.__dict__.get(_PASSED)
    return found if isinstance(found, bytes) else None
