"""Rules of the database area."""

from __future__ import annotations

from designkit.assess.rule import Rule

__all__ = ["RULES"]

RULES: list[Rule] = []
