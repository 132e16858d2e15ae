"""The arguments of the estimator's calls, checked at the call: a number out of its range is
refused with its name, its value and the range — never estimated into NaN or a hang."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from typing import Any

from designkit.errors import DesignkitError

__all__ = ["ArgumentError", "at_least_zero", "positive", "ratio", "suggest"]


class ArgumentError(DesignkitError, ValueError):
    """An argument of an estimator call is out of its range.

    Example:
        >>> import designkit as dk
        >>> try:
        ...     dk.estimate(dk.template("flash-sale"), scale=-1)
        ... except ArgumentError as err:
        ...     print(err)
        scale must be a finite number > 0, got -1
    """


def _number(name: str, value: Any, rule: str, ok: Callable[[float], bool]) -> float:
    """``value`` as a float when it is a finite number for which ``ok`` holds; else an
    :class:`ArgumentError` that states ``rule``."""
    number = (math.nan if isinstance(value, bool) or not isinstance(value, int | float)
              else float(value))
    if not (math.isfinite(number) and ok(number)):
        raise ArgumentError(f"{name} must be a finite number {rule}, got {value!r}")
    return number


def positive(name: str, value: Any) -> float:
    """``value`` as a float when it is a finite number above 0.

    Raises:
        ArgumentError: It is not.

    Example:
        >>> positive("scale", 2)
        2.0
    """
    return _number(name, value, "> 0", lambda x: x > 0)


def at_least_zero(name: str, value: Any) -> float:
    """``value`` as a float when it is a finite number ≥ 0.

    Raises:
        ArgumentError: It is not.

    Example:
        >>> at_least_zero("days", 0)
        0.0
    """
    return _number(name, value, "≥ 0", lambda x: x >= 0)


def ratio(name: str, value: Any) -> float:
    """``value`` as a float when it lies in (0, 1].

    Raises:
        ArgumentError: It does not.

    Example:
        >>> ratio("utilization_max", 0.7)
        0.7
    """
    return _number(name, value, "in (0, 1]", lambda x: 0 < x <= 1)


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> tuple[str, ...]:
    """The valid names nearest to ``name``, best first: those whose start or one of whose
    ``-``-separated words is close to it (``paymnt`` → ``payment-provider``), then those
    :func:`designkit.model.problems.nearest` finds.

    Example:
        >>> suggest("paymnt", ["payment-provider", "orders-db", "stock-cache"])
        ('payment-provider',)
    """
    from designkit.model.problems import nearest

    pool = sorted(set(candidates))
    wanted = name.lower()
    scored = []
    for candidate in pool:
        lower = candidate.lower()
        if lower == wanted:
            return (candidate,)
        pieces = [lower[:len(wanted) + 1], *lower.replace("_", "-").split("-")]
        score = max(difflib.SequenceMatcher(None, wanted, piece).ratio() for piece in pieces)
        if score >= 0.75:
            scored.append((-score, candidate))
    found = [candidate for _, candidate in sorted(scored)[:n]]
    found += [c for c in nearest(name, pool, n) if c not in found]
    return tuple(found[:n])
