"""The simulator's stations: a plain FCFS station (its copies' servers as free-at times),
a held one (SimPy resources a request keeps while its body runs), and what each measured
in the window (:class:`StationStats`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappush, heapreplace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simpy import Environment, Event

__all__ = ["SATURATED_UTILIZATION", "HeldStation", "PlainStation", "StationStats"]

SATURATED_UTILIZATION = 0.99
"""A station this busy in the window (or whose queue grew through it) is saturated."""


class StationStats:
    """What a station measured in the window ``[warm, end]``."""

    __slots__ = ("area", "arrivals", "capacity", "end", "per_quarter", "quarter_n",
                 "quarter_w", "served", "service_sum", "span", "wait_n", "wait_sum", "warm")

    def __init__(self, capacity: int, warm: float, end: float) -> None:
        self.capacity = capacity
        self.warm, self.end = warm, end
        self.span = end - warm
        self.per_quarter = 4.0 / self.span
        self.arrivals = 0
        self.wait_sum = 0.0
        self.wait_n = 0
        self.service_sum = 0.0
        self.served = 0
        self.area = 0.0  # busy server-ms in the window
        self.quarter_w = [0.0] * 4  # waits of arrivals by quarter of the window
        self.quarter_n = [0] * 4

    def waited(self, arrived: float, wait: float) -> None:
        """A request that arrived at ``arrived`` (≥ warm) got a server after ``wait``."""
        self.wait_sum += wait
        self.wait_n += 1
        q = int((arrived - self.warm) * self.per_quarter)
        q = q if q < 3 else 3
        self.quarter_w[q] += wait
        self.quarter_n[q] += 1

    @property
    def utilization(self) -> float:
        return self.area / (self.capacity * self.span)

    @property
    def growing(self) -> bool:
        """The queue still grows: waits in the last quarter far above the first's."""
        if self.quarter_n[0] == 0 or self.quarter_n[3] == 0:
            return False
        first = self.quarter_w[0] / self.quarter_n[0]
        last = self.quarter_w[3] / self.quarter_n[3]
        return last > 2.0 * first + 0.01 * 0.75 * self.span

    @property
    def saturated(self) -> bool:
        return self.utilization >= SATURATED_UTILIZATION or self.growing


class PlainStation:
    """FCFS copies of ``servers`` servers whose service time is known on arrival: the
    vector of next free times per copy gives each arrival its start exactly.

    A copy's heap holds only the servers used so far (an unused one is free now), so its
    size is the most servers ever busy at once, not ``servers``: a station of 10⁵ workers
    costs what its load does."""

    __slots__ = ("copies", "end", "free", "heaps", "servers", "stats", "uniform", "warm")

    def __init__(self, servers: int, copies: int, stats: StationStats,
                 uniform: Callable[[], float]) -> None:
        self.copies = copies
        self.servers = servers
        self.free = [0.0] * copies if servers == 1 else None
        self.heaps: list[list[float]] = [[] for _ in range(copies)] if servers > 1 else []
        self.stats = stats
        self.warm, self.end = stats.warm, stats.end
        self.uniform = uniform

    def visit(self, now: float, service: float, k: int = -1) -> float:
        """Queue an arrival at ``now`` needing ``service`` ms at copy ``k`` (``-1``: one
        picked at random); the time until it is done."""
        if k < 0:
            k = int(self.uniform() * self.copies) if self.copies > 1 else 0
        free = self.free
        if free is not None:
            f = free[k]
            start = f if f > now else now
            free[k] = done = start + service
        else:
            heap = self.heaps[k]
            if heap and (heap[0] <= now or len(heap) >= self.servers):
                f = heap[0]
                start = f if f > now else now
                done = start + service
                heapreplace(heap, done)
            else:  # a server never used yet: free now
                start = now
                done = now + service
                heappush(heap, done)
        warm = self.warm
        if done > warm:
            stats = self.stats
            end = self.end
            if now >= warm:
                stats.arrivals += 1
                stats.waited(now, start - now)
                stats.service_sum += service
                stats.served += 1
                stats.area += (done if done < end else end) - start if start < end else 0.0
            else:
                stats.area += (done if done < end else end) - (start if start > warm else warm)
        return done - now


class HeldStation:
    """FCFS copies of ``servers`` servers held for a time known only on release."""

    __slots__ = ("busy", "copies", "env", "free", "last", "queues", "stats", "uniform",
                 "warm")

    def __init__(self, env: Environment, servers: int, copies: int, stats: StationStats,
                 uniform: Callable[[], float]) -> None:
        self.env = env
        self.copies = copies
        self.free = [servers] * copies
        self.queues: list[deque[tuple[Event, float]]] = [deque() for _ in range(copies)]
        self.stats = stats
        self.warm = stats.warm
        self.uniform = uniform
        self.busy = 0
        self.last = 0.0

    def pick(self) -> int:
        return int(self.uniform() * self.copies) if self.copies > 1 else 0

    def _integrate(self, now: float) -> None:
        warm = self.warm
        if now > warm:
            last = self.last
            self.stats.area += self.busy * (now - (last if last > warm else warm))
        self.last = now

    def request(self, k: int, now: float) -> Event | None:
        """Ask for a server of copy ``k``: ``None`` when one is free (taken at once), else
        the event that fires when one is handed over."""
        if self.free[k] > 0:
            self.free[k] -= 1
            self._integrate(now)
            self.busy += 1
            if now >= self.warm:
                self.stats.arrivals += 1
                self.stats.waited(now, 0.0)
            return None
        if now >= self.warm:
            self.stats.arrivals += 1
        event = self.env.event()
        self.queues[k].append((event, now))
        return event

    def release(self, k: int, now: float, held: float) -> None:
        """Give back a server of copy ``k`` that was held for ``held`` ms."""
        warm = self.warm
        if now - held >= warm:
            self.stats.service_sum += held
            self.stats.served += 1
        queue = self.queues[k]
        if queue:
            event, asked = queue.popleft()
            if asked >= warm:
                self.stats.waited(asked, now - asked)
            event.succeed()
            return
        self.free[k] += 1
        self._integrate(now)
        self.busy -= 1

    def finish(self, end: float) -> None:
        """Close the busy-time integral; requests still queued count in the growth check
        with the wait they have had so far."""
        self._integrate(end)
        stats = self.stats
        for queue in self.queues:
            for _, asked in queue:
                if asked >= self.warm:
                    q = min(3, int((asked - self.warm) * stats.per_quarter))
                    stats.quarter_w[q] += end - asked
                    stats.quarter_n[q] += 1
