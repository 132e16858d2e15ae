"""designkit's rule catalogue, one module per area (see docs/rules.md)."""

from __future__ import annotations

from designkit.assess.rule import Rule
from designkit.assess.rules import (
    api,
    backend,
    database,
    invariants,
    performance,
    resilience,
    security,
)

__all__ = ["RULES"]

RULES: list[Rule] = [
    *backend.RULES, *performance.RULES, *api.RULES, *database.RULES, *security.RULES,
    *resilience.RULES, *invariants.RULES,
]
