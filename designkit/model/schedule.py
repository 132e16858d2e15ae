"""Scheduled jobs: endpoints run on a timer rather than by a user's request."""

from __future__ import annotations

from designkit.model.base import Strict
from designkit.model.bounds import Count, Seconds

__all__ = ["Schedule"]


class Schedule(Strict):
    """How often a job runs: ``runs`` executions of its endpoint every ``every_s`` seconds.

    A scheduled endpoint is background work: nobody waits for it, so the estimate counts
    its stations apart from the user-facing ones, and sizing holds it to finishing within
    its period. Its runs arrive as a Poisson stream of the same rate (the estimate's
    assumption everywhere).

    Args:
        every_s: Seconds between runs.
        runs: Executions each time (a batch of that many jobs).

    Example:
        >>> Schedule(every_s=60, runs=10).rate
        0.16666666666666666
    """

    every_s: Seconds
    runs: Count = 1.0

    @property
    def rate(self) -> float:
        """Executions per second."""
        return self.runs / self.every_s
