"""A design's flow prepared for estimation, with what solving it keeps between workloads.

The flow (:mod:`designkit.flow`) says what every endpoint does; the estimator solves it. A
:class:`Program` is one flow plus the estimator's *keeps*: the tape built from it, which
endpoints fork, its stations grouped by component, and the traffic of the last few
workloads. Each keep is a typed attribute of the program — never a module-level dict —
so two programs never share one, and a program is dropped with everything it kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from designkit.flow.build import program as flow_program
from designkit.flow.nodes import EndpointFlow, Flow, Resource
from designkit.model.design import Design

if TYPE_CHECKING:
    from designkit.estimate.errors import Errors
    from designkit.estimate.slowdown import Slowdown
    from designkit.estimate.solve import Flows
    from designkit.estimate.tape import Tape

__all__ = ["Program", "compile_design"]

KEPT_WORKLOADS = 8  # traffic kept per program: a notebook may try a few workloads
KEPT_CELLS = 1 << 18
"""Cells of the times' spectra a program keeps (4 MB): a small design's every time on
every grid it uses; a large design's first ones (then they are made as they are needed)."""


@dataclass(eq=False)
class Program:
    """One design's flow and what the estimator keeps while solving it.

    Attributes:
        flow: The design's flow (stations, endpoints, the order callers-before-callees).
        tape: The vectorised tape of the flow, once built (:func:`tape_of`).
        forks: Per endpoint, whether it (or an endpoint it calls) runs branches in
            parallel, once asked.
        callees: Per endpoint, the endpoints it calls, once asked.
        by_component: Station indexes by component, once asked.
        traffic: The unit traffic of the last :data:`KEPT_WORKLOADS` workloads.
        limits: How far each of those workloads can grow, and the station that saturates
            first — for the user-facing stations and for the background ones (``None``
            when none is loaded): the capacity search's answer, which the load scale does
            not change (only what it is divided by).
        errors: Per endpoint, how often its requests fail and why, once asked.
        spectra: The design's own times (a step's, a cpu's) as spectra on the grids
            composed so far, by grid and time (read-only arrays, up to :data:`KEPT_CELLS`
            cells in all): another load composes on the same grids with the same times.
        slowdown: The design's calibrated slowdowns, when this program is the design
            stretched for one load (:mod:`designkit.estimate.slowdown`): a capacity search
            solves them again at each load it tries.
    """

    flow: Flow
    tape: Tape | None = None
    forks: list[bool] | None = None
    callees: list[frozenset[int]] | None = None
    by_component: dict[str, list[int]] | None = None
    errors: list[Errors] | None = None
    traffic: OrderedDict[tuple[tuple[str, float], ...], Flows] = field(
        default_factory=OrderedDict)
    slowdown: Slowdown | None = None
    limits: OrderedDict[tuple[tuple[str, float], ...], Limits] = field(
        default_factory=OrderedDict)
    spectra: Spectra = field(default_factory=lambda: Spectra())

    @property
    def stations(self) -> tuple[Resource, ...]:
        """The stations (the flow's resources)."""
        return self.flow.resources

    @property
    def endpoints(self) -> tuple[EndpointFlow, ...]:
        """Each endpoint's flow, in file order."""
        return self.flow.endpoints

    @property
    def index(self) -> Mapping[str, int]:
        """Endpoint position by ``"svc METHOD /path"``."""
        return self.flow.index

    @property
    def order(self) -> tuple[int, ...]:
        """Endpoint positions, callers before callees."""
        return self.flow.order

    @property
    def kinds(self) -> Mapping[str, str]:
        """Each component's kind, by name."""
        return self.flow.kinds

    def keep_traffic(self, key: tuple[tuple[str, float], ...], flows: Flows) -> None:
        """Keep the traffic of one workload, dropping the oldest beyond the limit."""
        self.traffic[key] = flows
        while len(self.traffic) > KEPT_WORKLOADS:
            self.traffic.popitem(last=False)

    def keep_limits(self, key: tuple[tuple[str, float], ...], limits: Limits) -> None:
        """Keep the capacity search's answer for one workload (the oldest dropped beyond
        :data:`KEPT_WORKLOADS`)."""
        self.limits[key] = limits
        while len(self.limits) > KEPT_WORKLOADS:
            self.limits.popitem(last=False)


class Spectra(dict[tuple[object, object], object]):
    """A program's times as spectra, by grid and time, and how many cells they hold (the
    programs of an estimate's samples share their nominal program's)."""

    cells: int = 0


Limit = tuple[float, "int | None"]
"""How far a workload can grow (its scale) and the station that saturates first."""
Limits = tuple[Limit, "Limit | None"]
"""The user-facing stations' limit and the background ones' (``None``: none loaded)."""


def compile_design(design: Design, days: float = 0.0,
                   stretch: Mapping[str, float] | None = None) -> Program:
    """The program of a (valid) design, with tables grown by ``days`` (and components'
    times stretched by ``stretch``: a calibrated slowdown at one load).

    Raises:
        DesignError: The design's references are broken (see ``design.problems()``).

    Example:
        >>> import designkit as dk
        >>> program = compile_design(dk.template("flash-sale"))
        >>> program.stations[0].id
        'checkout-api workers'
    """
    return Program(flow_program(design, days, stretch))
