"""The rule catalogue: designkit's rules, one module per area, plus installed plugins."""

from __future__ import annotations

from importlib import metadata

from designkit.assess.rule import Rule

__all__ = ["builtin_rules", "catalogue"]

ENTRY_POINT_GROUP = "designkit.rules"


def builtin_rules() -> list[Rule]:
    """designkit's own rules, in id order."""
    from designkit.assess.rules import RULES

    return sorted(RULES, key=lambda r: (r.area, r.id))


def catalogue() -> list[Rule]:
    """Built-in rules and those installed under the entry-point group ``designkit.rules``
    (an entry point names a :class:`Rule` or a list of them).

    Example:
        >>> ids = [r.id for r in catalogue()]
        >>> len(ids) == len(set(ids))
        True
    """
    rules = builtin_rules()
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()
        rules += list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    return rules
