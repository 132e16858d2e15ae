"""Hints for a number written with its unit (``"200ms"``, ``"2s"``) where a design wants a
plain number in the unit its key names."""

from __future__ import annotations

import re

__all__ = ["unit_hint"]

_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
                        r"(us|µs|ms|s|sec|m|min|h|kb|kib|mb|mib|gb|gib|rps|/s)?\s*$", re.I)
_TO: dict[str, dict[str, float]] = {  # factor from the unit written to the unit of the key
    "ms": {"us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3, "sec": 1e3, "m": 60e3, "min": 60e3,
           "h": 3.6e6},
    "s": {"ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600},
    "h": {"s": 1 / 3600, "m": 1 / 60, "min": 1 / 60, "h": 1},
    "kb": {"kb": 1, "kib": 1, "mb": 1024, "mib": 1024, "gb": 1024**2, "gib": 1024**2},
}
_NAMES = {"ms": "milliseconds", "s": "seconds", "h": "hours", "kb": "KiB", "us": "microseconds",
          "mb": "MiB"}


def unit_hint(text: str, unit: str) -> str:
    """What to write instead of ``text`` where a number in ``unit`` is wanted.

    Example:
        >>> unit_hint("200ms", "ms")
        'a number of milliseconds, without a unit: write 200'
        >>> unit_hint("2s", "ms")
        'a number of milliseconds, without a unit: write 2000'
        >>> unit_hint("fast", "ms")
        "a number of milliseconds, got 'fast'"
    """
    name = _NAMES.get(unit, unit)
    found = _WITH_UNIT.match(text)
    if not found:
        return f"a number of {name}, got {text[:40]!r}"
    number, written = float(found.group(1)), (found.group(2) or unit).lower()
    factor = _TO.get(unit, {unit: 1}).get(written)
    if factor is None:
        return f"a number of {name}, without a unit; {written!r} is not a unit of time here"
    return f"a number of {name}, without a unit: write {number * factor:g}"
