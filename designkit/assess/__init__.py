"""The checklist review: rules, findings, waivers, attestations and reports.

The names below are imported from their modules on first use (PEP 562): writing a rule
(``rule``, ``Severity``) does not import the engine, the flow walker or the estimator.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Every name this package re-exports and the module it is defined in.
_HOMES: dict[str, str] = {
    "Assessment": "designkit.assess.assessment",
    "Finding": "designkit.assess.finding",
    "Mode": "designkit.assess.rule",
    "Reference": "designkit.assess.rule",
    "Rule": "designkit.assess.rule",
    "Severity": "designkit.assess.rule",
    "Status": "designkit.assess.finding",
    "assess": "designkit.assess.engine",
    "rule": "designkit.assess.rule",
}

__all__ = sorted(_HOMES)


def _lazy(name: str) -> Any:
    """A re-exported name, imported from its module on first use and kept."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The names loaded so far and those still to load, for ``dir()`` and completion."""
    return sorted({*globals(), *_HOMES})


class _Package(types.ModuleType):
    """This package's module: importing ``designkit.assess.rule`` (the module) does not hide
    ``rule`` (the decorator), whichever comes first."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:  # the names for type checkers and IDEs
    from designkit.assess.assessment import Assessment as Assessment
    from designkit.assess.engine import assess as assess
    from designkit.assess.finding import Finding as Finding
    from designkit.assess.finding import Status as Status
    from designkit.assess.rule import Mode as Mode
    from designkit.assess.rule import Reference as Reference
    from designkit.assess.rule import Rule as Rule
    from designkit.assess.rule import Severity as Severity
    from designkit.assess.rule import rule as rule
else:
    __getattr__ = _lazy
