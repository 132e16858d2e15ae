"""The checklist review: rules, findings, waivers, attestations and reports.

The names below are imported from their modules on first use (PEP 562): writing a rule
(``rule``, ``Severity``) does not import the engine, the flow walker or the estimator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designkit.lazy import lazy_names as _lazy_names

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
_lazy, __dir__ = _lazy_names(__name__, _HOMES)


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
