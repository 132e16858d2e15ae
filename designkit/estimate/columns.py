"""Samples of a design's uncertain numbers as columns of one solution.

The solver runs every load of a trial as a column of the same arrays. A sample of the
uncertain numbers (:mod:`designkit.model.uncertain`) — a hit ratio, a request rate — is one
more kind of column: the tape is the same, only some numbers differ. Those are:

* the rates: each endpoint's own requests (an uncertain workload rate), and what its calls
  pass on (a call on a cache's miss path passes on ``1 − hit`` of them);
* the traffic of every visit, hold, call and third-party attempt on a miss path, in
  proportion to ``1 − hit`` (the tape records which: :data:`~designkit.estimate.tape.Factors`);
* the probability of each cache read's miss mixture.

This module turns sampled values into those per-column arrays; the solver
(:class:`~designkit.estimate.levels.Levels`) reads them where it reads the flows' single
column. A column is the same solution a design holding that sample's values would get.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.flows import Flows, Retried, flows_of
from designkit.estimate.held import Patch
from designkit.estimate.program import Program
from designkit.estimate.tape import Factors, RetryRecord, Traffic, tape_of

__all__ = ["Columns", "columns_of"]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Columns:
    """The per-column numbers of K samples (one column each).

    Attributes:
        values: Per uncertain number of the tape (:attr:`Tape.tags`) and column, its value.
        rate: Per endpoint and column, requests per ms at scale 1 (its calls' included).
        arrival: Per station and column, visits per ms at scale 1.
        first: Per station and column, the visits' time per ms (rate × mean).
        second: The same with each visit's second moment.
        holder_rate: Per holder record and column, holds per ms at scale 1.
        external_rate: Per third party, attempts per ms per column.
    """

    values: Floats
    rate: Floats
    arrival: Floats
    first: Floats
    second: Floats
    holder_rate: Floats
    external_rate: dict[str, Floats]
    retried_rate: Floats  # per retried call of the tape (Traffic.retried), per column
    source_share: Floats  # per source station (Flows.sources), held station and column
    _retried: list[RetryRecord] = field(default_factory=list)
    patches: dict[tuple[int, bytes], Patch] = field(default_factory=dict, repr=False)
    """How held groups read their waits, by group and values (shared by :meth:`take`)."""

    @property
    def count(self) -> int:
        """Columns."""
        return int(self.rate.shape[1])

    def take(self, which: NDArray[np.int64]) -> Columns:
        """Only the columns ``which``, in that order."""
        if len(which) == self.count and (which == np.arange(self.count)).all():
            return self
        return Columns(self.values[:, which], self.rate[:, which], self.arrival[:, which],
                       self.first[:, which], self.second[:, which],
                       self.holder_rate[:, which],
                       {c: v[which] for c, v in self.external_rate.items()},
                       self.retried_rate[:, which], self.source_share[:, :, which],
                       self._retried, self.patches)

    def miss(self, tags: NDArray[np.int64]) -> Floats:
        """``1 − value`` of the uncertain numbers ``tags``, per column."""
        return np.asarray(1.0 - self.values[tags], dtype=float)

    def flows(self, nominal: Flows, column: int) -> Flows:
        """The flows of one column: the nominal ones with that column's numbers."""
        k = column
        rate = self.rate[:, k]
        return replace(
            nominal, endpoint_rate=rate, arrival=self.arrival[:, k], first=self.first[:, k],
            second=self.second[:, k], holder_rate=self.holder_rate[:, k],
            external_rate={c: float(v[k]) for c, v in self.external_rate.items()
                           if v[k] > 0},
            retried=[Retried(r.node, float(self.retried_rate[i, k]), r.held, r.endpoint)
                     for i, r in enumerate(self.retried) if self.retried_rate[i, k] > 0],
            patches=None, single_servers=None)  # (what the nominal rates made: not kept)

    @property
    def retried(self) -> list[RetryRecord]:
        """The tape's retried calls (the rows of :attr:`retried_rate`)."""
        return self._retried


def columns_of(program: Program, workload: dict[str, float], direct: Floats,
               values: Floats) -> Columns:
    """The per-column numbers of samples: ``direct`` the requests per second of each
    endpoint's own load (per endpoint of the program, per column) and ``values`` the
    sampled uncertain numbers (per tag of the tape, per column); ``workload`` the design's
    (its structure — which endpoints carry load — is the columns' too)."""
    tape = tape_of(program)
    traffic = tape.traffic
    flows = flows_of(program, workload)  # the nominal traffic: the structure they share
    k = direct.shape[1]
    nominal = tape.nominal if tape.nominal is not None else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (1.0 - values) / (1.0 - nominal[:, None]) if len(nominal) else values

    def scaled(mult: Floats, fac: list[Factors]) -> Floats:
        out = np.repeat(np.asarray(mult, dtype=float)[:, None], k, axis=1)
        for i, tags in enumerate(fac):
            for t in tags:
                out[i] *= ratio[t]
        return out

    rate = np.asarray(direct, dtype=float) / 1000.0  # per ms
    call_mult = scaled(np.asarray(traffic.call_mult, dtype=float), traffic.call_fac)
    for i, (source, target) in enumerate(zip(traffic.call_from, traffic.call_to,
                                             strict=True)):
        rate[target] += rate[source] * call_mult[i]
    n = len(program.stations)
    visit = rate[traffic.visit_endpoint] * scaled(traffic.visit_mult, traffic.visit_fac)
    holder = rate[traffic.holder_endpoint] * scaled(traffic.holder_mult, traffic.holder_fac)
    calls = rate[traffic.external_endpoint] * scaled(traffic.external_mult,
                                                     traffic.external_fac)
    retried = traffic.retried
    retried_rate = (rate[[r.endpoint for r in retried]]
                    * scaled(np.array([r.mult for r in retried]), [r.fac for r in retried])
                    if retried else np.zeros((0, k)))
    external: dict[str, Floats] = {}
    for i, component in enumerate(traffic.external_component):
        external[component] = external.get(component, np.zeros(k)) + calls[i]
    return Columns(
        values=values, rate=rate, source_share=_source_share(flows, traffic, visit, holder),
        arrival=_per_station(traffic.visit_station, visit, n),
        first=_per_station(traffic.visit_station, visit * traffic.visit_mean[:, None], n),
        second=_per_station(traffic.visit_station, visit * traffic.visit_second[:, None], n),
        holder_rate=holder, external_rate=external, retried_rate=retried_rate,
        _retried=list(retried))


def _source_share(flows: Flows, traffic: Traffic, visit: Floats, holder: Floats) -> Floats:
    """Per source station (a station several held stations bound), the share of its
    visits each of them bounds, per column (the flows' shares, with each column's rates)."""
    sources = flows.sources
    out = np.zeros((*sources.holders.shape, visit.shape[1]))
    if not len(sources.stations):
        return out
    assert flows.visit_by is not None and flows.holder_by is not None
    for row, p in enumerate(sources.stations.tolist()):
        at_visit = traffic.visit_station == p
        at_hold = traffic.holder_station == p
        for i, h in enumerate(sources.holders[row].tolist()):
            if h >= 0:
                out[row, i] = (visit[at_visit & (flows.visit_by == h)].sum(axis=0)
                               + holder[at_hold & (flows.holder_by == h)].sum(axis=0))
        total = out[row].sum(axis=0)
        out[row] = np.divide(out[row], total, out=np.zeros_like(out[row]), where=total > 0)
    return out


def _per_station(stations: NDArray[np.int64], values: Floats, n: int) -> Floats:
    """Per station, the sum of ``values`` of its entries (per column), in the order
    the single-column flows add them."""
    k = values.shape[1]
    bins = (stations[:, None] * k + np.arange(k)).ravel()  # one bincount for every column
    return np.bincount(bins, values.ravel(), minlength=n * k).astype(float).reshape(n, k)
