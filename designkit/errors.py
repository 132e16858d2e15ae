"""The errors designkit raises.

Every error derives from :class:`DesignkitError`; each specific error also subclasses the
builtin it resembles, so callers can catch either (``except ValueError`` works for an
invalid design).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "DesignError",
    "DesignkitError",
    "MissingDependencyError",
    "Problem",
    "RuleFailedError",
    "TemplateNotFoundError",
    "UnsafeYAMLError",
    "UnsupportedVersionError",
]


class DesignkitError(Exception):
    """Base class of every error designkit raises.

    Example:
        >>> import designkit as dk
        >>> try:
        ...     dk.load("designkit: 1\\nname: x\\ncomponents: {api: {kind: servce}}")
        ... except dk.DesignkitError as err:
        ...     print(type(err).__name__)
        DesignError
    """


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a design: where it is, what is wrong, and a likely fix.

    Attributes:
        path: Where in the design file, e.g. ``components.api.endpoints."GET /x".steps[0].call``.
        message: What is wrong, naming the bad value.
        suggestions: The nearest valid names, best first (may be empty).

    Example:
        >>> str(Problem("components.api.replicas", "must be >= 1, got 0"))
        'components.api.replicas: must be >= 1, got 0'
    """

    path: str
    message: str
    suggestions: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = self.path or "<design>"
        text = f"{where}: {self.message}"
        if self.suggestions:
            text += f" (did you mean {_or_list(self.suggestions)}?)"
        return text


def _or_list(names: tuple[str, ...]) -> str:
    quoted = [repr(n) for n in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


class DesignError(DesignkitError, ValueError):
    """A design is invalid; ``problems`` lists every problem found, each with its path.

    The message lists each problem on its own line as ``path: message (did you mean …?)``.

    Example:
        >>> err = DesignError([Problem("name", "must not be empty")], source="shop.yaml")
        >>> print(err)
        shop.yaml: 1 problem
          name: must not be empty
    """

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.path, p.message))
        self.source = source
        super().__init__(self._text())

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its problems (its args are its text), so that a process or a cluster
        running a task can send it back (``dk.sweep``)."""
        return (type(self), (self.problems, self.source))

    def _text(self) -> str:
        count = len(self.problems)
        head = f"{self.source or 'design'}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class UnsupportedVersionError(DesignError):
    """The design file declares a format version this designkit cannot read.

    Example:
        >>> import designkit as dk
        >>> try:
        ...     dk.load("designkit: 9\\nname: x")
        ... except dk.UnsupportedVersionError as err:
        ...     print(err.problems[0].path)
        designkit
    """


class UnsafeYAMLError(DesignError):
    """The YAML holds a tag that would construct a Python object; nothing was run.

    Example:
        >>> import designkit as dk
        >>> try:
        ...     dk.load("designkit: 1\\nname: !!python/object/apply:os.system [ls]")
        ... except dk.UnsafeYAMLError as err:
        ...     print("refused")
        refused
    """


class TemplateNotFoundError(DesignkitError, KeyError):
    """No starter template has the requested name.

    Example:
        >>> import designkit as dk
        >>> try:
        ...     dk.template_text("flash-sail")
        ... except dk.TemplateNotFoundError as err:
        ...     print(err.args[0].split(";")[0])
        no template named 'flash-sail'
    """

    def __str__(self) -> str:
        return str(self.args[0])


class MissingDependencyError(DesignkitError, ImportError):
    """An optional program or package is missing; the message says how to install it.

    Example:
        >>> str(MissingDependencyError("install it: pip install 'designkit[notebook]'"))
        "install it: pip install 'designkit[notebook]'"
    """


class RuleFailedError(DesignkitError, RuntimeError):
    """A rule's check raised: a bug in the rule, not a problem of the design. The command
    line reports it as an internal error (exit 3), never as bad input or findings.

    Example:
        >>> str(RuleFailedError("rule DK-X-001 (x) failed: ZeroDivisionError: division by zero"))
        'rule DK-X-001 (x) failed: ZeroDivisionError: division by zero'
    """
