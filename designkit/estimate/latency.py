"""Latency distributions of endpoints, composed on a grid from a solved design.

Each endpoint gets a grid wide enough for its time (from the solved mean and variance),
is composed there once, and is rebinned onto its callers' coarser grids
(:mod:`~designkit.estimate.composer`, :mod:`~designkit.estimate.spectra`). Waits are exact
for M/M/c stations and single servers with Poisson arrivals, Allen–Cunneen otherwise;
sequences convolve, parallel branches take the maximum, cache hits and misses mix. Every
column of a solution is composed — the loads of a curve, the samples of bands — the
columns on one grid together.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from designkit.estimate.composer import (
    PERCENTILES,
    callees,
    composer_of,
    forked_paths,
    released,
)
from designkit.estimate.solve import Solution
from designkit.maths.distributions import Dist

__all__ = ["PERCENTILES", "Latency", "callees", "column_groups", "endpoint_latencies",
           "endpoint_latency", "forked_paths", "released", "success_latency"]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Latency:
    """An endpoint's time in ms: mean and percentiles; all ``inf`` when saturated."""

    mean: float
    p50: float
    p95: float
    p99: float
    dist: Dist | None = None

    @property
    def saturated(self) -> bool:
        return math.isinf(self.mean)


SATURATED = Latency(math.inf, math.inf, math.inf, math.inf)


def endpoint_latency(solution: Solution, index: int, size: int = 2048) -> Latency:
    """The latency distribution of endpoint ``index`` and its mean, p50, p95 and p99.

    The mean is the solution's, exact for the model (a sum of means, whatever lies beyond
    the grid), unless parallel branches are on the way (their mean there is Clark's
    approximation): then it is the grid's, exact for independent branches — but never
    below the mean with each parallel step taken as its slowest branch's mean (the grid
    leaves out what lies beyond its end). Of a solution of several columns, the first's
    (:func:`endpoint_latencies` reads them all).
    """
    composer = composer_of(solution, size)
    dist = composer.own(index)[0]
    if dist is None:
        composer.reported(index)
        return SATURATED
    read = composer.reads[index][0]
    assert read is not None
    out = Latency(composer.mean(index, 0, read), read.p50, read.p95, read.p99, dist)
    composer.reported(index)
    return out


def endpoint_latencies(solution: Solution, index: int, size: int = 2048) -> Floats:
    """Endpoint ``index``'s p50, p95, p99 and mean (rows) in every column of ``solution``
    (columns): each the :func:`endpoint_latency` of a solution of that column alone, the
    columns composed together (``inf`` where saturated).

    Example:
        >>> import designkit as dk
        >>> from designkit.estimate.program import compile_design
        >>> from designkit.estimate.solve import flows_of, solve, trials
        >>> d = dk.template("flash-sale")
        >>> program, load = compile_design(d), d.rates()
        >>> both = Solution(program, 1.0, trials(program, load, [1.0, 2.0]),
        ...                 flows_of(program, load))
        >>> rows = endpoint_latencies(both, 0)
        >>> alone = solve(program, load, 2.0)
        >>> bool(np.isclose(rows[1, 1], endpoint_latency(alone, 0).p95, rtol=1e-9))
        True
    """
    composer = composer_of(solution, size)
    out = np.full((4, composer.n), math.inf)
    composer.own(index)
    for k, read in enumerate(composer.reads[index]):
        if read is not None:
            out[:, k] = read.p50, read.p95, read.p99, composer.mean(index, k, read)
    composer.reported(index)
    return out


COMPOSED_AT_ONCE = 16
"""Columns whose latency distributions are composed together (the samples of bands, the
loads of a capacity curve): their spectra, a row each, stay in the processor's second
cache (decision 69)."""


def column_groups(count: int) -> Iterator[tuple[int, int]]:
    """``count`` columns in groups of :data:`COMPOSED_AT_ONCE`: (start, stop) of each.

    Example:
        >>> list(column_groups(40))
        [(0, 16), (16, 32), (32, 40)]
    """
    for start in range(0, count, COMPOSED_AT_ONCE):
        yield start, min(count, start + COMPOSED_AT_ONCE)


def success_latency(solution: Solution, index: int, size: int = 2048) -> Latency | None:
    """The latency of endpoint ``index``'s requests that succeed; ``None`` when none does.

    Each call of a third party is conditioned on succeeding
    (:func:`~designkit.estimate.external.call_dist` with ``ok``) and a cache's misses are
    weighted by how often their path succeeds; the waits are every request's (failed
    requests load the stations as much). Its mean is the grid's.
    """
    composer = composer_of(solution, size, ok=True)
    if composer.survival[index] <= 0.0:
        return None
    dist = composer.own(index)[0]
    if dist is None:
        return SATURATED
    read = composer.reads[index][0]
    assert read is not None
    return Latency(read.mean, read.p50, read.p95, read.p99, dist)
