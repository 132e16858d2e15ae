"""Solve a compiled design at one or many loads: rates, station queues, holding times.

Rates are linear in the load, so the traffic of the unit workload is computed once (one
pass over the call graph, callers first) and scaled. Stations that wrap other work
(workers of blocking services, pools, locks) have a service time that is the time of what
they wrap, which depends on the queues inside: the tape (:mod:`designkit.estimate.tape`)
orders every time so that those are solved innermost first, and the solver runs it level by
level on arrays (one column per load: :func:`trials` solves several loads in one run). When
holds nest in a cycle the tape is iterated to a fixed point. Times are carried as (mean,
variance); waits use Erlang C with the Allen–Cunneen correction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.external import Attempts
from designkit.estimate.flows import Flows, Retried, flows_of
from designkit.estimate.held_groups import HeldGroups
from designkit.estimate.levels import _per, _scaled
from designkit.estimate.program import Program

if TYPE_CHECKING:
    from designkit.estimate.columns import Columns
from designkit.estimate.tape import tape_of
from designkit.flow.nodes import ExternalCall

__all__ = ["Flows", "Moments", "Solution", "StationState", "Trials", "flows_of", "solve",
           "trials"]

INF = math.inf
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Moments:
    """Mean and variance of a time (ms); infinite when a station on the way saturates."""

    mean: float
    var: float = 0.0

    @property
    def infinite(self) -> bool:
        return math.isinf(self.mean)


@dataclass
class StationState:
    """A station's load and queue at one solution.

    Attributes:
        arrival: Arrivals per ms (all copies together).
        service: Mean service (holding) time, ms.
        scv: Squared coefficient of variation of the service time.
        p_wait: Probability an arrival waits (Erlang C).
        wait: Mean wait in queue, ms (``inf`` when saturated).
        utilization: Busy fraction of the servers.
    """

    arrival: float = 0.0
    service: float = 0.0
    scv: float = 1.0
    p_wait: float = 0.0
    wait: float = 0.0
    utilization: float = 0.0

    @property
    def saturated(self) -> bool:
        return self.utilization >= 1.0 or math.isinf(self.wait)


@dataclass
class Trials:
    """Station states and endpoint moments at several scales (one column per scale)."""

    scales: Floats
    arrival: Floats
    service: Floats
    scv: Floats
    p_wait: Floats
    wait: Floats
    utilization: Floats
    endpoint_mean: Floats
    endpoint_var: Floats
    rounds: int
    held_load: Floats | None = None  # per held station solved with what it bounds: λ/X(C)

    def column(self, k: int) -> Trials:
        """The trials of column ``k`` alone (one load, or one sample)."""
        return self.span(k, k + 1)

    def span(self, start: int, stop: int) -> Trials:
        """The trials of columns ``start`` to ``stop`` (excluded)."""
        pick = slice(start, stop)
        return replace(self, scales=self.scales[pick], arrival=self.arrival[:, pick],
                       service=self.service[:, pick], scv=self.scv[:, pick],
                       p_wait=self.p_wait[:, pick], wait=self.wait[:, pick],
                       utilization=self.utilization[:, pick],
                       endpoint_mean=self.endpoint_mean[:, pick],
                       endpoint_var=self.endpoint_var[:, pick],
                       held_load=None if self.held_load is None
                       else self.held_load[:, pick])

    def only(self, stations: NDArray[np.bool_]) -> Trials:
        """The same trials with only the stations of the mask ``stations``."""
        return replace(self, arrival=self.arrival[stations], service=self.service[stations],
                       scv=self.scv[stations], p_wait=self.p_wait[stations],
                       wait=self.wait[stations], utilization=self.utilization[stations],
                       held_load=None if self.held_load is None
                       else self.held_load[stations])

    @property
    def saturated(self) -> NDArray[np.bool_]:
        """Per scale: some station is saturated."""
        return np.asarray(((self.utilization >= 1.0) | np.isinf(self.wait)).any(axis=0))

    @property
    def peak(self) -> Floats:
        """Per scale: the highest utilization."""
        return np.asarray(self.utilization.max(axis=0, initial=0.0))

    @property
    def loads(self) -> Floats:
        """Per station and scale, the share of its capacity in use (see :attr:`load`;
        NaN where infinite)."""
        both = (self.utilization if self.held_load is None
                else np.maximum(self.utilization, self.held_load))
        return np.where(np.isfinite(both), both, np.nan)

    @property
    def load(self) -> Floats:
        """Per scale: the highest share of a capacity in use — a station's utilization,
        or, for a held station solved with what it bounds, its arrivals over the most
        it can pass (:attr:`~designkit.maths.closed.Held.load`); the finite ones only,
        so that a saturated solution shows how far past its capacity the first station
        to give is. The design saturates near where it reaches 1: the capacity search
        interpolates it."""
        both = (self.utilization if self.held_load is None
                else np.maximum(self.utilization, self.held_load))
        # a station held around a saturated one is infinitely busy: what saturates first
        # has a finite load
        return np.asarray(np.where(np.isfinite(both), both, 0.0).max(axis=0, initial=0.0))


def trials(program: Program, workload: dict[str, float], scales: list[float] | Floats,
           max_rounds: int = 100, columns: Columns | None = None) -> Trials:
    """Solve ``program`` under ``workload`` × each of ``scales`` at once; with
    ``columns``, column ``j`` is the sample ``j`` of the uncertain numbers
    (:mod:`designkit.estimate.columns`) at scale ``scales[j]``."""
    tape = tape_of(program)
    flows = flows_of(program, workload)
    return _Run(tape, flows, np.asarray(scales, dtype=float), columns).run(max_rounds)


class _Run(HeldGroups):
    """One evaluation of the tape for K scales (or K samples, each at its scale), run
    over every level."""

    def run(self, max_rounds: int) -> Trials:
        tape, flows, sc = self.tape, self.flows, self.scales
        plain = np.flatnonzero(~tape.held)
        rate = self.unit_arrival[plain]
        self.queue(plain, _scaled(rate, sc), _per(self.unit_first[plain], rate),
                   _per(self.unit_second[plain], rate))
        rounds = 1
        if tape.cyclic:
            held = np.flatnonzero(tape.held)
            previous = None
            for rounds in range(1, max_rounds + 1):  # noqa: B007
                for level in tape.levels:
                    self.level(level)
                current = self.wait[held].copy()
                if previous is not None and _close(current, previous):
                    break
                previous = current
        else:
            sources = flows.sources.stations
            self.solving = bool(flows.groups) or bool(len(sources))
            if len(sources):  # plain ones first: their bounds need nothing composed
                self.bound_sources(np.flatnonzero(~tape.held[sources]))
            for level in tape.levels:
                self.level(level)
            if self.stale.any():  # compose those loads again with the bounded waits
                kept = self.columns(~self.stale)
                self.solving = False
                rounds = 2
                for level in tape.levels:
                    self.level(level)
                self.restore(kept)
        ends = tape.endpoint_slot
        return Trials(sc, self.arrival, self.service, self.scv, self.p_wait, self.wait,
                      self.utilization, self.mean[ends], self.var[ends], rounds,
                      self.held_load)

def _close(a: Floats, b: Floats, rel: float = 1e-7) -> bool:
    both_inf = np.isinf(a) & np.isinf(b)
    with np.errstate(invalid="ignore"):
        near = np.abs(a - b) <= 1e-9 + rel * np.abs(b)
    return bool(np.all(both_inf | (near & np.isfinite(a) & np.isfinite(b))))


@dataclass
class Solution:
    """A design solved at one load: rates, station states, time moments, retry facts."""

    program: Program
    scale: float
    trial: Trials
    flows: Flows
    composers: dict[int, object] = field(default_factory=dict)  # latency grids, by size
    lower_means: dict[int, float] = field(default_factory=dict)  # by endpoint
    hits: dict[str, Floats] = field(default_factory=dict)
    """Per uncertain hit ratio (tag), its value in each column, when the columns are
    samples (:mod:`~designkit.estimate.uncertainty`): their latencies are composed
    together; the program's cache reads hold the nominal values."""
    rates: Floats | None = None
    """Per endpoint and column, requests per ms at scale 1 when the columns are samples
    (``None``: the flows' rates, every column at its scale)."""

    @functools.cached_property
    def endpoint_rate(self) -> list[float]:
        """Requests per ms of every endpoint."""
        with np.errstate(over="ignore"):  # a rate beyond a double is infinite: saturated
            return (self.flows.endpoint_rate * self.scale).tolist()  # type: ignore[no-any-return]

    @functools.cached_property
    def stations(self) -> list[StationState]:
        """Every station's state."""
        t = self.trial
        columns = [a[:, 0].tolist() for a in (t.arrival, t.service, t.scv, t.p_wait, t.wait,
                                               t.utilization)]
        return [StationState(*row) for row in zip(*columns, strict=True)]

    @functools.cached_property
    def endpoint_moments(self) -> list[Moments]:
        """Mean and variance of every endpoint's time (``inf`` when saturated)."""
        return [Moments(m, v) for m, v in zip(self.trial.endpoint_mean[:, 0].tolist(),
                                              self.trial.endpoint_var[:, 0].tolist(),
                                              strict=True)]

    @functools.cached_property
    def external_rate(self) -> dict[str, float]:
        """Attempts per ms at every third party."""
        return {k: v * self.scale for k, v in self.flows.external_rate.items()}

    @property
    def external_attempts(self) -> dict[ExternalCall, Attempts]:
        """The retry arithmetic of every third-party call, by its node."""
        return tape_of(self.program).traffic.attempts

    @functools.cached_property
    def retried(self) -> list[Retried]:
        """Every retried call: the node, its rate per ms, the held stations around it and
        the calling endpoint."""
        return [r._replace(rate=r.rate * self.scale) for r in self.flows.retried]

    @property
    def iterations(self) -> int:
        """Rounds of the fixed-point iteration (1 unless holds nest in a cycle)."""
        return self.trial.rounds

    def saturated(self) -> bool:
        """Some station is saturated."""
        return bool(self.trial.saturated[0])


def solve(program: Program, workload: dict[str, float], scale: float = 1.0,
          max_rounds: int = 100) -> Solution:
    """Solve ``program`` under ``workload`` (rps per endpoint reference) × ``scale``.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> d = dk.Design(name="mm1")
        >>> _ = d.service("api", workers=1).endpoint("GET /x", cpu_ms=1000)
        >>> s = solve(compile_design(d), {"api GET /x": 0.75})
        >>> s.stations[0].utilization, s.endpoint_moments[0].mean
        (0.75, 4000.0)
    """
    trial = trials(program, workload, [scale], max_rounds)
    return Solution(program, scale, trial, flows_of(program, workload))
