"""The one error a measurement file can raise.

Every problem is located: ``file:line`` for CSV, XML and JSON-lines files, ``file: /json/
pointer`` for a JSON document (RFC 6901, ``/`` in a key written ``~1``). A reader collects
the problems of a whole file and raises once, listing them in file order.
"""

from __future__ import annotations

from collections.abc import Sequence

from designkit.errors import DesignkitError, Problem

__all__ = ["MeasurementError"]

_SHOWN = 20  # problems spelled out in the message; the rest are counted


class MeasurementError(DesignkitError, ValueError):
    """A load-test result or trace cannot be read; the message names the place and the fix.

    ``problems`` lists what is wrong, each with its place (``Problem.path``): the file and
    line, or the file and JSON pointer. One problem reads ``place: message``; several read
    ``source: N problems`` then one per line.

    Example:
        >>> from designkit.errors import Problem
        >>> bad = Problem("runs/low.csv:14", "latency_ms 'abc' is not a number")
        >>> print(MeasurementError([bad]))
        runs/low.csv:14: latency_ms 'abc' is not a number
        >>> try:
        ...     raise MeasurementError([Problem("a.csv:2", "x"), Problem("a.csv:9", "y")], "a.csv")
        ... except ValueError as err:
        ...     print(err)
        a.csv: 2 problems
          a.csv:2: x
          a.csv:9: y
    """

    def __init__(self, problems: Sequence[Problem], source: str | None = None,
                 more: int = 0) -> None:
        self.problems = list(problems)
        self.source = source
        self.more = more
        super().__init__(self._text())

    def _text(self) -> str:
        total = len(self.problems) + self.more
        if total == 1:
            return str(self.problems[0])
        head = f"{self.source or 'measurements'}: {total} problems"
        lines = [head, *(f"  {p}" for p in self.problems[:_SHOWN])]
        if total > _SHOWN:
            lines.append(f"  … and {total - _SHOWN} more")
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.problems, self.source, self.more))

