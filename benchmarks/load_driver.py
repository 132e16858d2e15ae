"""An open-loop Poisson load driver for a connection pool (asyncio).

Arrivals are drawn in advance (exponential gaps, seeded) and each is launched at its
scheduled time as its own task, whether or not the earlier ones have finished: the load
does not slow down when the system does (an *open* loop). A request's latency runs from
its **scheduled** arrival to its completion, so a late launch or a wait for a pool
connection counts against the system, never silently for it (no coordinated omission).
Arrivals in the warm-up are run but not recorded.

A client that launches late measures itself, not the system: every request records how
late it started (its *launch delay*), and :class:`Lag` says whether too many were more
than 1 ms late. Two things keep the driver on time: the event loop waits with
``select()``, whose timeout has microsecond resolution (``epoll`` and ``poll`` round a
wait up to the next millisecond, which made a quarter of the idle launches over 1 ms
late), and the garbage collector is paused during a run (a full collection over tens of
thousands of finished requests stops the loop for 10–40 ms).

Reusable with any pool whose ``acquire()`` is an async context manager yielding a
connection (asyncpg's ``create_pool(min_size=N, max_size=N)``)::

    arrivals = poisson_arrivals(rate_rps=200, seconds=65, draw=lambda rng: 0.01, seed=1)
    samples = await drive(pool, "client GET /pool", work, arrivals, warmup_s=5)
    write_csv(path, samples)
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import ctypes
import gc
import random
import selectors
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

LATE_MS = 1.0  # a launch later than this is a lagging client
CSV_COLUMNS = ("timestamp", "endpoint", "latency_ms", "status")


class Pool(Protocol):
    """What the driver needs of a pool: ``acquire()`` as an async context manager."""

    def acquire(self) -> AbstractAsyncContextManager[Any]: ...


Work = Callable[[Any, float], Awaitable[object]]
"""A request's work on a connection, given its drawn argument (e.g. seconds to sleep)."""


@dataclass(frozen=True)
class Arrival:
    """One request: when it arrives (seconds after the run's start) and its argument."""

    at_s: float
    arg: float


@dataclass(frozen=True)
class Sample:
    """One request as measured: the CSV's columns, plus the driver's own timings."""

    timestamp: float  # epoch seconds of the scheduled arrival
    endpoint: str
    latency_ms: float  # scheduled arrival -> completion
    status: str  # "ok" | "error"
    launch_delay_ms: float  # scheduled arrival -> the request's task started
    hold_ms: float  # connection acquired -> released (0 for an error)
    error: str = ""  # the exception, for a request that failed
    arg: float = 0.0  # the arrival's argument


@dataclass(frozen=True)
class Summary:
    """Latency statistics of one run's recorded requests."""

    count: int
    rate_rps: float
    errors: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Lag:
    """How late the driver launched its requests (a measurement defect if too many were)."""

    late_share: float  # share of launches more than LATE_MS late
    p99_ms: float
    max_ms: float

    def lagged(self, max_share: float = 0.01) -> bool:
        """Whether more than ``max_share`` of the launches were over ``LATE_MS`` late."""
        return self.late_share > max_share

    def describe(self, max_share: float = 0.01) -> str:
        """One line: the late share, p99 and max launch delay, and a verdict."""
        verdict = "DRIVER LAGGED" if self.lagged(max_share) else "ok"
        return (f"{100 * self.late_share:.2f}% > {LATE_MS:g} ms late, p99 {self.p99_ms:.2f} ms, "
                f"max {self.max_ms:.1f} ms: {verdict}")


def poisson_arrivals(rate_rps: float, seconds: float, draw: Callable[[random.Random], float],
                     seed: int) -> list[Arrival]:
    """Poisson arrivals over ``seconds`` at ``rate_rps``, each with an argument from ``draw``.

    Args:
        rate_rps: Mean arrivals per second.
        seconds: Length of the run, warm-up included.
        draw: Draws a request's argument from the run's random generator.
        seed: Seeds the gaps and the arguments, so a run can be repeated exactly.

    Returns:
        The arrivals in time order.
    """
    rng = random.Random(seed)
    arrivals, at = [], rng.expovariate(rate_rps)
    while at < seconds:
        arrivals.append(Arrival(at, draw(rng)))
        at += rng.expovariate(rate_rps)
    return arrivals


async def drive(pool: Pool, endpoint: str, work: Work, arrivals: Sequence[Arrival],
                warmup_s: float, lead_s: float = 0.05, pause_gc: bool = True) -> list[Sample]:
    """Launch every arrival at its time and wait for all of them.

    Args:
        pool: Where each request takes its connection (it waits for one when none is free).
        endpoint: The name written in the ``endpoint`` column.
        work: What a request does with its connection.
        arrivals: From :func:`poisson_arrivals`.
        warmup_s: Arrivals before this are run but not returned.
        lead_s: How long after this call the schedule's time 0 falls.
        pause_gc: Pause the garbage collector for the run (restored afterwards).

    Returns:
        The samples of the arrivals at or after ``warmup_s``, in arrival order.
    """
    loop = asyncio.get_running_loop()
    with _gc_paused() if pause_gc else contextlib.nullcontext():
        start = loop.time() + lead_s
        epoch = time.time() + lead_s
        tasks = []
        for arrival in arrivals:
            delay = start + arrival.at_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(_request(pool, work, arrival, start)))
        timings = await asyncio.gather(*tasks)
    return [Sample(epoch + a.at_s, endpoint, *timing, arg=a.arg)
            for a, timing in zip(arrivals, timings, strict=True) if a.at_s >= warmup_s]


async def _request(pool: Pool, work: Work, arrival: Arrival,
                   start: float) -> tuple[float, str, float, float, str]:
    """Run one request: its latency, status, launch delay, connection hold (ms), error."""
    loop = asyncio.get_running_loop()
    scheduled = start + arrival.at_s
    launched = got = loop.time()
    error = ""
    try:
        async with pool.acquire() as conn:
            got = loop.time()
            await work(conn, arrival.arg)
    except Exception as exc:  # a failed request is a sample with status "error", not a crash
        error = f"{type(exc).__name__}: {exc}"
    done = loop.time()
    hold = 0.0 if error else done - got
    return (1000 * (done - scheduled), "error" if error else "ok", 1000 * (launched - scheduled),
            1000 * hold, error)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection inside: what exists is frozen, new cycles wait until after."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def summarize(samples: Sequence[Sample], seconds: float) -> Summary:
    """Count, arrival rate, errors, and mean/p50/p95/p99 of the successful requests."""
    ok = np.array([s.latency_ms for s in samples if s.status == "ok"])
    if ok.size == 0:
        nan = float("nan")
        return Summary(len(samples), len(samples) / seconds, len(samples), nan, nan, nan, nan)
    p50, p95, p99 = np.percentile(ok, [50, 95, 99])
    return Summary(len(samples), len(samples) / seconds, len(samples) - ok.size,
                   float(ok.mean()), float(p50), float(p95), float(p99))


def lag(samples: Sequence[Sample]) -> Lag:
    """The launch delays of ``samples``: share over ``LATE_MS``, p99 and max."""
    delays = np.array([s.launch_delay_ms for s in samples]) if samples else np.zeros(1)
    return Lag(float((delays > LATE_MS).mean()), float(np.percentile(delays, 99)),
               float(delays.max()))


def write_csv(path: Path, samples: Sequence[Sample]) -> None:
    """Write the samples as plain CSV: ``timestamp,endpoint,latency_ms,status``."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        for s in samples:
            out.writerow([f"{s.timestamp:.6f}", s.endpoint, f"{s.latency_ms:.3f}", s.status])


def precise_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers have microsecond resolution (``select()``, not ``epoll``).

    ``select()`` handles file descriptors below 1024 only: enough for a driver with a
    few dozen connections. On Linux the thread's timer slack is also cut from 50 µs to
    1 µs, so a timed wait ends when asked (best effort; elsewhere nothing changes).
    """
    _tight_timer_slack()
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def _tight_timer_slack() -> None:
    """Linux: ``prctl(PR_SET_TIMERSLACK, 1 ns)`` for the calling thread; else nothing."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # 29: PR_SET_TIMERSLACK
