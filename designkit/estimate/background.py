"""Which stations only background work loads: queues' handlers and scheduled jobs.

A user waits for the endpoints the workload calls and for what they call synchronously;
nobody waits on a request for a queue's handler or a scheduled job — a lag grows instead.
A station that only those (and what they call) load is *background*: when it saturates
first, the backlog grows but no user request slows down, so the estimate reports its
capacity apart from the user-facing one (see docs/decisions.md, 41).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.program import Program
from designkit.estimate.tape import tape_of

__all__ = ["background_stations"]


def background_stations(program: Program, workload: Mapping[str, float]
                        ) -> NDArray[np.bool_]:
    """Per station: only the handlers of messages (and what they call) load it.

    The user-facing endpoints are the workload's (a handler named in the workload is a
    message too; an endpoint only a schedule runs is a job) and every endpoint they call
    synchronously; the stations they visit or
    hold (their workers, the brokers they publish to) are user-facing, every other
    station background.

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("POST /a").publish("q")
        >>> _ = d.service("worker").endpoint("POST /h").call("db", service_ms=5)
        >>> _ = d.database("db"); _ = d.queue("q", handler="worker POST /h")
        >>> program = compile_design(d)
        >>> mask = background_stations(program, {"api POST /a": 10})
        >>> sorted(s.id for s, bg in zip(program.stations, mask) if bg)
        ['db cpu', 'db pool worker', 'q consumers', 'worker workers']
    """
    traffic = tape_of(program).traffic
    handlers = {i for i, ep in enumerate(program.endpoints) if ep.consume is not None}
    scheduled = {program.index[key] for key in program.flow.scheduled if key in program.index}
    users = {program.index[key] for key, rate in workload.items()
             if rate > 0 and key in program.index} - handlers - scheduled
    synchronous: dict[int, list[int]] = {}
    for caller, callee, held in zip(traffic.call_from, traffic.call_to, traffic.call_held,
                                    strict=True):
        if held is not None:
            synchronous.setdefault(caller, []).append(callee)
    stack = list(users)
    while stack:
        for callee in synchronous.get(stack.pop(), ()):
            if callee not in users:
                users.add(callee)
                stack.append(callee)
    background = np.ones(len(program.stations), dtype=bool)
    chosen = np.fromiter((i in users for i in range(len(program.endpoints))), dtype=bool,
                         count=len(program.endpoints))
    if chosen.any():
        background[traffic.visit_station[chosen[traffic.visit_endpoint]]] = False
        background[traffic.holder_station[chosen[traffic.holder_endpoint]]] = False
    return background
