"""The range of every number in a design: checked once, at validation.

Past validation, code may assume every number is finite and sane: no formula overflows,
hangs on a huge count, or returns NaN. Each bound is generous for a real system and
stated in the JSON Schema (``minimum``/``maximum``), in ``docs/bounds.md`` and in the
error a value outside it gets (``components.api.workers: must be ≤ 100000, got 1e9``).

Every type here is a plain number with ``ge``/``gt``/``le`` constraints, so pydantic checks
it and the JSON Schema shows it.

Example:
    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(Servers).validate_python(8)
    8
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = [
    "DAY_MS",
    "Bytes",
    "Connections",
    "Count",
    "Hours",
    "Megabytes",
    "Micros",
    "Millis",
    "PositiveMillis",
    "PositiveRate",
    "Rate",
    "Ratio",
    "ReadReplicas",
    "Replicas",
    "Rows",
    "RowsPerDay",
    "Scv",
    "Seconds",
    "Servers",
    "Size",
    "Units",
]

DAY_MS = 86_400_000.0
"""One day in milliseconds: the longest time a design may state."""

Servers = Annotated[int, Field(ge=1, le=100_000)]
"""Servers of one station: workers, cores, cache servers, partitions, consumers,
pool connections per replica, concurrency, shards (1 – 100,000)."""

Replicas = Annotated[int, Field(ge=1, le=10_000)]
"""Replicas of a service (1 – 10,000)."""

ReadReplicas = Annotated[int, Field(ge=0, le=1_000)]
"""Read replicas of a database (0 – 1,000)."""

Connections = Annotated[int, Field(ge=1, le=1_000_000)]
"""A database's connection limit (1 – 1,000,000)."""

Rows = Annotated[int, Field(ge=0, le=10**13)]
"""Rows of a table (0 – 10¹³)."""

RowsPerDay = Annotated[float, Field(ge=0, le=10**12)]
"""Rows a table grows by each day (0 – 10¹²)."""

Millis = Annotated[float, Field(ge=0, le=DAY_MS)]
"""A time that may be zero, in milliseconds (0 – one day)."""

PositiveMillis = Annotated[float, Field(gt=0, le=DAY_MS)]
"""A time, in milliseconds (above 0 – one day)."""

Micros = Annotated[float, Field(gt=0, le=1_000_000)]
"""A time per row, in microseconds (above 0 – one second)."""

Seconds = Annotated[float, Field(gt=0, le=10 * 365 * 86_400)]
"""A duration in seconds (above 0 – ten years)."""

Hours = Annotated[float, Field(gt=0, le=10 * 365 * 24)]
"""A duration in hours (above 0 – ten years)."""

Scv = Annotated[float, Field(ge=0, le=100)]
"""A squared coefficient of variation (0 = constant, 1 = exponential, at most 100)."""

Rate = Annotated[float, Field(ge=0, le=1e9)]
"""Requests per second of a workload (0 – 10⁹)."""

PositiveRate = Annotated[float, Field(gt=0, le=1e9)]
"""Requests per second of a limit (above 0 – 10⁹)."""

Count = Annotated[float, Field(gt=0, le=100_000)]
"""Calls per request of a step, iterations of a loop (above 0 – 100,000)."""

Units = Annotated[int, Field(ge=1, le=1_000_000_000)]
"""A whole number of items: a burst, a limit (1 – 10⁹)."""

Size = Annotated[int, Field(ge=1, le=100_000)]
"""Rows per batch (1 – 100,000)."""

Bytes = Annotated[float, Field(ge=0, le=10_000_000)]
"""A size in KiB (0 – 10 GiB)."""

Megabytes = Annotated[float, Field(gt=0, le=100_000_000)]
"""A memory size in MiB (above 0 – 100 TiB)."""

Ratio = Annotated[float, Field(ge=0, le=1)]
"""A share, 0 – 1."""
