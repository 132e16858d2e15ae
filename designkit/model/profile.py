"""A load profile: the workload's factor over time (an on-sale's first minutes)."""

from __future__ import annotations

import itertools
import math
from typing import Annotated

from pydantic import Field, field_validator

from designkit.model.base import Strict

__all__ = ["LoadProfile"]

Instant = Annotated[float, Field(ge=0, le=7 * 86_400)]
Factor = Annotated[float, Field(ge=0, le=1e6)]


class LoadProfile(Strict):
    """The factor on the design's workload over time: points ``[seconds, factor]``, the
    factor linear between them and constant after the last; two points at one time are a
    step. The workload as written is factor 1.

    Args:
        name: What the profile is (``the drop``).
        points: ``[seconds, factor]`` pairs, the first at 0 s, times never decreasing.

    Example:
        >>> p = LoadProfile(points=[(0, 1), (0, 3), (60, 3), (120, 1)])
        >>> [p.at(t) for t in (0, 30, 90, 500)]
        [3.0, 3.0, 2.0, 1.0]
        >>> LoadProfile.burst(3, for_s=60, decay_s=60).points == p.points
        True
    """

    name: str | None = None
    points: list[tuple[Instant, Factor]] = Field(min_length=2, max_length=10_000)

    @field_validator("points")
    @classmethod
    def _in_order(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if points[0][0] != 0:
            raise ValueError(f"the first point is at 0 s, got {points[0][0]:g} s: start the "
                             "profile with [0, FACTOR]")
        for i, (before, after) in enumerate(itertools.pairwise(points), start=1):
            if after[0] < before[0]:
                raise ValueError(f"point {i} ({after[0]:g} s) comes before point {i - 1} "
                                 f"({before[0]:g} s): list the points in time order")
        return points

    @classmethod
    def burst(cls, factor: float, for_s: float, decay_s: float = 0.0,
              name: str | None = None) -> LoadProfile:
        """``factor`` × the workload from 0 s for ``for_s`` seconds, then back to 1× over
        ``decay_s`` seconds (a step when 0)."""
        points = [(0.0, float(factor)), (float(for_s), float(factor)),
                  (float(for_s + decay_s), 1.0)]
        return cls(name=name, points=[(0.0, 1.0), *points])

    @property
    def duration_s(self) -> float:
        """When the last point is: the factor is constant from there."""
        return self.points[-1][0]

    @property
    def peak(self) -> float:
        """The highest factor."""
        return max(f for _, f in self.points)

    def at(self, t: float) -> float:
        """The factor at ``t`` seconds (at a step, the value after it)."""
        points = self.points
        if t >= points[-1][0]:
            return float(points[-1][1])
        lo, hi = 0, len(points) - 1
        while hi - lo > 1:  # the last point at or before t
            mid = (lo + hi) // 2
            if points[mid][0] <= t:
                lo = mid
            else:
                hi = mid
        while lo + 1 < len(points) and points[lo + 1][0] <= t:
            lo += 1
        (t0, f0), (t1, f1) = points[lo], points[lo + 1]
        if t1 == t0 or not math.isfinite(t1 - t0):
            return float(f1)
        return float(f0 + (f1 - f0) * (t - t0) / (t1 - t0))
