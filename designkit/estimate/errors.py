"""How often a request fails, and why: third parties that fail, time out or are cut off.

A call to a third party fails when all its attempts fail: each attempt times out (the share
of its latency beyond ``timeout_ms``) or, within time, fails at the stated ``failure_rate``
(:func:`~designkit.estimate.external.attempts`); with the circuit breaker open in steady
state every call fails at once, none sent. A request fails when any call on its synchronous
path fails (a message's handler runs on its own: its failures are its own endpoint's):

* steps in a row, a loop's rounds, a call's repeats: the request survives only if each
  does — survivals multiply — and a failure is put down to the first step that fails;
* parallel branches: all must succeed (the branches counted in their order);
* a cache read: the miss path runs on misses only;
* a call of another endpoint: that endpoint's failures, cause by cause, after the call's
  own stated ``failure_rate`` (``"failure: SERVICE"``);
* a call with a fallback: only when the fallback fails too (the call's failures are
  taken over).

Causes are named ``"timeout: NAME"``, ``"failure: NAME"`` (the third party's own errors)
and ``"breaker: NAME"``; their shares add up to the endpoint's error ratio. A failed
request still runs the rest of its steps in the estimate's latency (and in
``dk.simulate``): its time is composed as before; only whether it failed is counted.

Example:
    >>> import designkit as dk
    >>> d = dk.Design(name="pay")
    >>> _ = d.external("psp", latency_ms=100, failure_rate=0.3, retries={"max": 2})
    >>> _ = d.service("api", io="async").endpoint("POST /pay").call("psp")
    >>> _ = d.set_load("api POST /pay", 10)
    >>> e = dk.estimate(d).endpoints["api POST /pay"]
    >>> round(e.error_ratio, 6), {c: round(r, 6) for c, r in e.errors.items()}
    (0.027, {'failure: psp': 0.027})
    >>> dk.estimate(d).components["psp"].arrival_rps   # 1.39 attempts per call
    13.9
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never

from designkit.estimate.external import attempts
from designkit.flow.nodes import (
    CacheRead,
    Choice,
    Delay,
    EndpointFlow,
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

if TYPE_CHECKING:
    from designkit.estimate.program import Program

__all__ = ["Errors", "call_errors", "endpoint_errors", "errors_of", "failing_share",
           "node_errors"]


@dataclass(frozen=True)
class Errors:
    """The chance a request (or a step) fails, by cause.

    Attributes:
        causes: Per cause (``"timeout: NAME"``, ``"failure: NAME"``, ``"breaker: NAME"``),
            the share of requests that fail there first.

    Example:
        >>> a = Errors({"failure: psp": 0.1})
        >>> b = Errors({"timeout: bank": 0.5})
        >>> (a + b).ratio, (a + b).causes["timeout: bank"]   # 0.9 get past psp
        (0.55, 0.45)
    """

    causes: Mapping[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """The chance of failing at all (0 … 1)."""
        return min(1.0, sum(self.causes.values()))

    @property
    def survival(self) -> float:
        """The chance of not failing."""
        return max(0.0, 1.0 - self.ratio)

    def __add__(self, later: Errors) -> Errors:
        """This, then ``later``: what gets past this fails at ``later`` as it would."""
        if not later.causes:
            return self
        keep = self.survival
        out = dict(self.causes)
        for cause, share in later.causes.items():
            out[cause] = out.get(cause, 0.0) + keep * share
        return Errors(out)

    def scaled(self, chance: float) -> Errors:
        """This, run with probability ``chance`` (a cache's miss path)."""
        return Errors({c: chance * s for c, s in self.causes.items()}) if chance > 0 \
            else NONE

    def repeated(self, count: float) -> Errors:
        """This ``count`` times in a row (fractional: a mix of ⌊n⌋ and ⌈n⌉ times), each
        failure put down to the round it happens in."""
        if count <= 0 or not self.causes:
            return NONE
        whole = math.floor(count)
        part = count - whole
        survive = self.survival
        ratio = self.ratio

        def rounds(n: int) -> float:  # 1 + s + … + s^(n − 1): failures' weight
            if n <= 0:
                return 0.0
            return float(n) if survive >= 1.0 else (1.0 - survive ** n) / (1.0 - survive)

        weight = (1.0 - part) * rounds(whole) + part * rounds(whole + 1)
        if ratio <= 0:
            return NONE
        return Errors({c: s * weight for c, s in self.causes.items()})

    def to_dict(self) -> dict[str, float]:
        """JSON-ready: the causes, largest first."""
        return dict(sorted(self.causes.items(), key=lambda item: (-item[1], item[0])))


NONE = Errors()


def call_errors(call: ExternalCall) -> Errors:
    """One logical call of a third party (all its attempts): the chance all attempts fail,
    put down to the last attempt's cause — a timeout with the chance an attempt times out,
    the third party's error with the chance one within time fails.

    Example:
        >>> from designkit.flow.nodes import ExternalCall
        >>> from designkit.flow.times import Spec
        >>> from designkit.model.resilience import Retries
        >>> p90 = 100.0 * math.log(10.0)   # the p90 of an exponential of mean 100 ms
        >>> one = ExternalCall("bank", Spec(100.0), p90, None, 0.0, None, None)
        >>> round(call_errors(one).causes["timeout: bank"], 12)
        0.1
    """
    info = attempts(call)
    name = call.component
    if info.breaker_open:
        return Errors({f"breaker: {name}": 1.0})
    if info.failure <= 0:
        return NONE
    all_fail = info.failure ** info.max_attempts
    timeout = info.p_timeout / info.failure
    causes = {}
    if timeout > 0:
        causes[f"timeout: {name}"] = all_fail * timeout
    if timeout < 1:
        causes[f"failure: {name}"] = all_fail * (1.0 - timeout)
    return Errors(causes)


def errors_of(program: Program) -> list[Errors]:
    """Each endpoint's errors, computed once per program (they depend on the flow only:
    failure rates, timeouts, latencies and breakers, not on the load)."""
    if program.errors is None:
        program.errors = endpoint_errors(program.endpoints, program.order)
    return program.errors


def failing_share(program: Program, node: Node) -> float:
    """The chance a part of ``program``'s flow fails (a call with a fallback: how often the
    fallback runs)."""
    return node_errors(node, errors_of(program)).ratio


def endpoint_errors(endpoints: Sequence[EndpointFlow], order: Sequence[int]) -> list[Errors]:
    """Each endpoint's errors (callees before callers: ``order`` lists callers first)."""
    found: list[Errors | None] = [None] * len(endpoints)
    for index in reversed(order):
        found[index] = node_errors(endpoints[index].steps, found)
    return [e if e is not None else NONE for e in found]


def node_errors(node: Node, endpoints: Sequence[Errors | None]) -> Errors:
    """The errors of one part of a flow, its callees' (``endpoints``) known."""
    match node:
        case Seq():
            out = NONE
            for item in node.items:
                out = out + node_errors(item, endpoints)
            return out
        case Par():
            out = NONE
            for branch in node.branches:
                out = out + node_errors(branch, endpoints)
            return out
        case Delay() | Visit() | Publish():
            return NONE
        case Hold():
            return node_errors(node.body, endpoints)
        case Loop():
            return node_errors(node.body, endpoints).repeated(node.count)
        case CacheRead():
            return node_errors(node.miss, endpoints).scaled(1.0 - node.hit)
        case Invoke():
            callee = endpoints[node.endpoint]
            own = NONE
            if node.failure_rate > 0:  # the call's own failures, then the callee's
                target = node.site.target if node.site is not None else None
                own = Errors({f"failure: {target or 'call'}": node.failure_rate})
            return (own + (callee if callee is not None else NONE)).repeated(node.count)
        case Choice():
            first = node_errors(node.first, endpoints).scaled(node.p)
            second = node_errors(node.second, endpoints).scaled(1.0 - node.p)
            return Errors({c: first.causes.get(c, 0.0) + second.causes.get(c, 0.0)
                           for c in {**first.causes, **second.causes}})
        case Fallback():  # a failed call is taken over by its fallback
            failing = node_errors(node.body, endpoints).ratio
            return node_errors(node.fallback, endpoints).scaled(failing)
        case ExternalCall():
            return call_errors(node).repeated(node.count)
        case _:
            assert_never(node)
