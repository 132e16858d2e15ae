"""What a sequence diagram says, in the same words in every format: a call's label, a
step's time, the legend of the times, the note under the request and the response.

Graphviz (:mod:`~designkit.render.graphviz_sequence`) and Mermaid
(:func:`designkit.render.mermaid.sequence`) both write their messages, frames and notes
with these, from one :class:`~designkit.render.view.SequenceView`.

Example:
    >>> from designkit.model.steps import CallStep
    >>> call_label(CallStep(call="db", op="GET k", count=2)), milliseconds(0.25)
    ('GET k ×2', '0.25 ms')
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from designkit.model.refs import EndpointRef
from designkit.text import number

if TYPE_CHECKING:
    from designkit.estimate.step_times import EndpointTimes
    from designkit.model.design import Design
    from designkit.model.query import Query
    from designkit.model.steps import CallStep, PublishStep
    from designkit.render.view import SequenceView, StepView

__all__ = ["call_label", "is_message", "milliseconds", "network_note", "publish_label",
           "response_label", "sequence_legend", "times_label", "worker_note"]


def milliseconds(value: float) -> str:
    """A mean time as every sequence diagram spells it: ``0.62 ms``, ``2,034 ms``,
    ``<0.001 ms``; ``∞ ms (saturated)`` when a station on the way is saturated.

    Example:
        >>> [milliseconds(v) for v in (0.6234, 2034.4, 1e-7, 0.0, float("inf"))]
        ['0.623 ms', '2,034 ms', '<0.001 ms', '0 ms', '∞ ms (saturated)']
    """
    if math.isinf(value):
        return "∞ ms (saturated)"
    if 0 < value < 0.001:
        return "<0.001 ms"
    return f"{number(value)} ms"


def sequence_legend(seq: SequenceView) -> tuple[str, ...]:
    """What the times of a sequence diagram mean, in lines; none without an estimate.

    Example:
        >>> import designkit as dk
        >>> from designkit.render.view import sequence_view
        >>> d = dk.template("dashboard-slow")
        >>> print("\\n".join(sequence_legend(sequence_view(d, "dashboard-api GET /v1/orders",
        ...                                                   dk.estimate(d)))))
        times: mean of one run of each step, estimated at 1× workload
        call: waits + service (a database call outside a transaction also waits for a connection)
        call of an endpoint: its mean · frame: all inside it · miss, branch: that branch alone
        BEGIN, acquire: the wait for the connection, the lock
    """
    if seq.times is None:
        return ()
    return (f"times: mean of one run of each step, estimated at {seq.scale:g}× workload",
            "call: waits + service (a database call outside a transaction also waits for a "
            "connection)",
            "call of an endpoint: its mean · frame: all inside it · miss, branch: that branch "
            "alone",
            "BEGIN, acquire: the wait for the connection, the lock")


def worker_note(times: EndpointTimes) -> str:
    """The note after the request: the wait for a worker and the endpoint's own cpu (and,
    for a queue's handler, its message's wait for a consumer first).

    Example:
        >>> from designkit.estimate.step_times import EndpointTimes
        >>> worker_note(EndpointTimes(5.0, 0.25, 2.0, {}))
        'worker wait 0.25 ms · cpu 2 ms'
        >>> worker_note(EndpointTimes(5.0, 0.25, 2.0, {}, lag_ms=1.5))
        'lag 1.5 ms · worker wait 0.25 ms · cpu 2 ms'
    """
    note = f"worker wait {milliseconds(times.worker_wait_ms)} · cpu {milliseconds(times.cpu_ms)}"
    return f"lag {milliseconds(times.lag_ms)} · {note}" if times.lag_ms > 0 else note


def response_label(seq: SequenceView) -> str:
    """The response's label: ``response``, with the endpoint's mean under an estimate
    (``response · mean 5.71 ms``), or that the estimate sends it no traffic.

    Example:
        >>> import designkit as dk
        >>> from designkit.render.view import sequence_view
        >>> d = dk.template("dashboard-slow")
        >>> response_label(sequence_view(d, "dashboard-api GET /v1/orders", dk.estimate(d)))
        'response · mean 29.1 ms'
    """
    if seq.times is None:
        return "response"
    if math.isnan(seq.times.mean_ms):
        return "response (no traffic in the estimate)"
    return f"response · mean {milliseconds(seq.times.mean_ms)}"


def call_label(step: CallStep) -> str:
    """What a call says on its message: its op, else its query (``SELECT orders WHERE id
    IN (20 keys) ORDER BY created_at LIMIT 10``), else the endpoint it calls, else
    ``call``; ``×n`` when it repeats.

    Example:
        >>> from designkit.model.steps import CallStep
        >>> call_label(CallStep(call="db", query={"table": "orders", "kind": "select",
        ...                                       "where": ["id"]}, count=3))
        'SELECT orders WHERE id ×3'
    """
    callee = EndpointRef.parse(step.call)
    if step.op:
        label = step.op
    elif step.query is not None:
        label = _query_label(step.query)
    elif callee is not None:
        label = callee.key
    else:
        label = "call"
    return label + times_label(step.count)


def is_message(design: Design, step: CallStep) -> bool:
    """Whether a call sends a message (it names a queue): an asynchronous arrow.

    Example:
        >>> import designkit as dk
        >>> from designkit.model.steps import CallStep
        >>> d = dk.template("flash-sale")
        >>> is_message(d, CallStep(call="order-events")), is_message(d, CallStep(call="orders-db"))
        (True, False)
    """
    target = design.components.get(step.call)
    return EndpointRef.parse(step.call) is None and getattr(target, "kind", None) == "queue"


def publish_label(step: PublishStep) -> str:
    """What a publish says on its message.

    Example:
        >>> from designkit.model.steps import PublishStep
        >>> publish_label(PublishStep(publish="q", outbox=True, count=2))
        'publish via outbox ×2'
    """
    return "publish" + (" via outbox" if step.outbox else "") + times_label(step.count)


def times_label(count: float) -> str:
    """`` ×n`` after a message that repeats ``n`` times; nothing for once.

    Example:
        >>> times_label(1.0), times_label(2.5)
        ('', ' ×2.5')
    """
    return "" if count == 1 else f" ×{count:g}"


def _query_label(query: Query) -> str:
    words = [query.kind.upper(), query.table]
    if query.where:
        words.append("WHERE " + ", ".join(query.where))
    if query.batch > 1:
        words.append(f"IN ({query.batch} keys)")
    if query.order_by:
        words.append("ORDER BY " + ", ".join(query.order_by))
    if query.limit is not None:
        words.append(f"LIMIT {query.limit}")
    return " ".join(words)


def network_note(view: StepView) -> str:
    """What a step's message adds for its round trip, when the design places its
    components: `` (network 0.7 ms)``; ``""`` otherwise.

    Example:
        >>> from designkit.estimate.step_times import StepTime
        >>> from designkit.render.view import StepView
        >>> network_note(StepView(None, time=StepTime(1.7, 1.7, 0.7)))  # type: ignore[arg-type]
        ' (network 0.7 ms)'
    """
    time = view.time
    if time is None or not time.network_ms > 0:
        return ""
    return f" (network {milliseconds(time.network_ms)})"
