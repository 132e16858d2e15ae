"""What each step of one endpoint takes on average under an estimate, for the sequence
diagrams.

The estimate gives every station's mean wait (:attr:`StationEstimate.wait_ms
<designkit.estimate.result.StationEstimate.wait_ms>`) and every endpoint's mean; the flow
gives each step's own service time. One execution of a step takes, on average:

- a queued visit (a database query, a cache read, a publish to a broker): ``count ×
  (wait + service)`` at its station; a database call outside a transaction also waits
  for a pooled connection first;
- a held scope (``transaction``, ``lock``): the wait for the connection or the lock (and
  the lock's ``acquire_ms``), then everything inside it;
- a call of another endpoint: ``count ×`` that endpoint's mean in the estimate;
- a call to a third party: ``count ×`` its mean with timeouts and retries, plus the
  waits for a concurrency slot when it has a limit;
- a cache-aside read: the read, plus the miss ratio × the miss branch;
- a loop: ``count ×`` its body; parallel branches: the slowest branch's mean.

These are the terms the estimator adds up for an endpoint's mean, so without parallel
branches ``lag + worker wait + cpu + Σ top-level steps`` is the endpoint's mean (the lag: a
queue's handler's wait for a consumer) (a parallel step's
mean is at least its slowest branch's). Service times come from the design passed in (with
its tables grown by the estimate's ``days``); pass the design the estimate was made of (a
scenario's, ``scenario.apply(design)``, for a what-if).

Example:
    >>> import designkit as dk
    >>> from designkit.flow.build import build
    >>> d = dk.Design(name="x")
    >>> _ = d.service("api").endpoint("GET /a", cpu_ms=1).call("db", service_ms=2)
    >>> _ = d.database("db", cores=1)
    >>> _ = d.set_load("api GET /a", 100)
    >>> e = dk.estimate(d)
    >>> t = endpoint_times(build(d), "api GET /a", e)
    >>> cpu = e.station("db cpu")
    >>> step = ("components", "api", "endpoints", "GET /a", "steps", 0)
    >>> round(t.steps[step].ms, 6) == round(e.station("db pool api").wait_ms + cpu.wait_ms
    ...                                  + cpu.service_ms, 6)
    True
    >>> round(t.worker_wait_ms + t.cpu_ms + t.steps[step].ms, 6) == round(t.mean_ms, 6)
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from designkit.estimate.errors import Errors, endpoint_errors, node_errors
from designkit.estimate.external import call_moments
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    ExternalCall,
    Fallback,
    Hold,
    Invoke,
    Loop,
    Node,
    Par,
    Publish,
    Seq,
    Visit,
)
from designkit.model.refs import EndpointRef
from designkit.model.steps import LockStep, TransactionStep

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.flow.nodes import Flow, Path, Site

__all__ = ["EndpointTimes", "StepTime", "endpoint_times", "errors_by_endpoint"]


@dataclass(frozen=True)
class StepTime:
    """The mean time of one execution of a step, in ms.

    Attributes:
        ms: The whole step: its count and what is nested in it.
        own_ms: The step's own message: the call or publish (× its count), a cache read's
            read, a transaction's wait for a connection, a lock's wait and acquire; ``nan``
            for a loop or a parallel step, which send none.
        network_ms: The round trips of the step's own message (in both: a design that
            places its components, ``region``/``az``); 0 otherwise.

    ``inf`` when a station on the way is saturated; ``nan`` when the estimate does not
    know a station or an endpoint on the way.
    """

    ms: float
    own_ms: float
    network_ms: float = 0.0


@dataclass(frozen=True)
class EndpointTimes:
    """An endpoint's mean and the terms it is made of, in ms.

    Attributes:
        mean_ms: The endpoint's mean in the estimate (``nan`` when the estimate has no
            traffic for it).
        worker_wait_ms: The wait for one of its service's workers.
        cpu_ms: Its own work.
        steps: Each step's time, by its path (:attr:`Site.path
            <designkit.flow.nodes.Site.path>`); a step that builds to nothing (a broken
            reference) has none.
        lag_ms: A queue's handler: how long its message waits for a consumer first
            (0 for any other endpoint).
    """

    mean_ms: float
    worker_wait_ms: float
    cpu_ms: float
    steps: dict[Path, StepTime]
    lag_ms: float = 0.0


def endpoint_times(flow: Flow, endpoint_ref: str, estimate: Estimate) -> EndpointTimes:
    """The mean time of every step of one endpoint under ``estimate``.

    Args:
        flow: The flow of the design drawn (built with the estimate's ``days``).
        endpoint_ref: The endpoint, ``"svc METHOD /path"`` (its method in any case).
        estimate: The waits and the endpoints' means; it may be the estimate of a larger
            design that holds this one: stations and endpoints are read by name.

    Raises:
        KeyError: The flow has no such endpoint.
    """
    ref = EndpointRef.parse(endpoint_ref)
    key = str(ref) if ref is not None else endpoint_ref
    endpoint = flow.endpoints[flow.index[key]]
    times = _Times(flow, estimate)
    times.mean(endpoint.steps)
    found = estimate.endpoints.get(key)
    return EndpointTimes(found.mean_ms if found is not None else math.nan,
                         times.wait(endpoint.workers), endpoint.cpu.mean, times.steps,
                         0.0 if endpoint.consume is None else times.wait(endpoint.consume))


def _times(count: float, value: float) -> float:
    """``count × value``, 0 when the count is (so that a branch never taken adds nothing,
    even when it would saturate)."""
    return 0.0 if count == 0 else count * value


class _Times:
    """Means of flow nodes, each step's recorded by its site (the outermost node of a site
    wins: a database call's pool hold around its query)."""

    def __init__(self, flow: Flow, estimate: Estimate) -> None:
        self.flow = flow
        self.estimate = estimate
        self.steps: dict[Path, StepTime] = {}
        self.network: dict[Path, float] = {}  # a step's round trip, until it is recorded

    def wait(self, station: int) -> float:
        try:
            return self.estimate.station(self.flow.resources[station].id).wait_ms
        except KeyError:
            return math.nan

    def record(self, site: Site | None, ms: float, own_ms: float) -> None:
        if site is None:
            return
        network = self.network.pop(site.path, None)  # the round trip just before it
        if network is None:  # (already in what it wraps, when it was recorded inside)
            before = self.steps.get(site.path)
            self.steps[site.path] = StepTime(ms, own_ms, before.network_ms if before else 0.0)
        else:
            self.steps[site.path] = StepTime(ms + network, own_ms + network, network)

    def network_of(self, site: Site | None) -> float:
        """The round trip recorded at ``site`` (0: none)."""
        found = self.steps.get(site.path) if site is not None else None
        return found.network_ms if found is not None else 0.0

    def own(self, site: Site | None) -> float:
        """The own time last recorded at ``site``."""
        found = self.steps.get(site.path) if site is not None else None
        return found.own_ms if found is not None else math.nan

    def mean(self, node: Node) -> float:
        match node:
            case Seq():
                return sum((self.mean(item) for item in node.items), 0.0)
            case Delay():  # a step's round trip: counted when the step is recorded
                if node.site is not None:
                    self.network[node.site.path] = node.time.mean
                return node.time.mean
            case Visit():
                ms = _times(node.count, self.wait(node.station) + node.time.mean)
                self.record(node.site, ms, ms)
                return ms
            case Hold():
                enter = self.wait(node.station) + node.extra.mean
                ms = enter + self.mean(node.body)
                scope = node.site is not None and isinstance(node.site.step,
                                                              TransactionStep | LockStep)
                self.record(node.site, ms, enter if scope else ms)
                return ms
            case Invoke():
                callee = self.flow.endpoints[node.endpoint].ref
                found = self.estimate.endpoints.get(str(callee))
                ms = _times(node.count, found.mean_ms if found is not None else math.nan)
                self.record(node.site, ms, ms)
                return ms
            case ExternalCall():
                info, call, _ = call_moments(node)
                wait = self.wait(node.station) if node.station is not None else 0.0
                queued = 0.0 if info.breaker_open else _times(info.expected, wait)
                ms = _times(node.count, call + queued)
                self.record(node.site, ms, ms)
                return ms
            case Publish():  # through an outbox: its row's insert (the relay is later)
                ms = _times(node.count, self.mean(node.waited))
                self.record(node.site, ms, ms)
                return ms
            case CacheRead():
                read = self.mean(node.visit)
                read += self.network_of(node.site)  # its round trip came before it
                ms = read + _times(1.0 - node.hit, self.mean(node.miss))
                self.record(node.site, ms, read)
                return ms
            case Loop():
                ms = _times(node.count, self.mean(node.body))
                self.record(node.site, ms, math.nan)
                return ms
            case Par():
                ms = max((self.mean(branch) for branch in node.branches), default=0.0)
                self.record(node.site, ms, math.nan)
                return ms
            case Choice():  # one step two ways (a lock's hot key, or another): the mix
                first = self.mean(node.first)
                first_own = self.own(node.site)
                second = self.mean(node.second)
                own = node.p * first_own + (1.0 - node.p) * self.own(node.site)
                ms = node.p * first + (1.0 - node.p) * second
                self.record(node.site, ms, own)
                return ms
            case Fallback():  # the call, then its fallback as often as the call fails
                call = self.mean(node.body)
                failing = node_errors(node.body, self.callee_errors).ratio
                ms = call + _times(failing, self.mean(node.fallback))
                self.record(node.site, ms, call)
                return ms
            case _:
                assert_never(node)

    @functools.cached_property
    def callee_errors(self) -> list[Errors | None]:
        """Each endpoint's errors, as the estimate gives them."""
        return errors_by_endpoint(self.flow, self.estimate)


def errors_by_endpoint(flow: Flow, estimate: Estimate | None) -> list[Errors | None]:
    """Each of ``flow``'s endpoints' errors: the estimate's (under its scenario), else the
    design's as written.

    Example:
        >>> import designkit as dk
        >>> from designkit.flow.build import build
        >>> d = dk.template("payments-saga")
        >>> [e for e in errors_by_endpoint(build(d), None) if e and e.causes][0].ratio
        1.569565593493196e-06
    """
    if estimate is None:
        return list(endpoint_errors(flow.endpoints, flow.order))
    found = (estimate.endpoints.get(str(ep.ref)) for ep in flow.endpoints)
    return [None if e is None else Errors(e.errors) for e in found]

