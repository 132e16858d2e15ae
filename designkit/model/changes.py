"""What changed between two designs, part by part: components, endpoints, steps, tables,
columns, indexes, workload — each change at the path a user finds it in their file.

Both designs are compared as the plain data they are written as (non-default values only,
:func:`~designkit.model.io.to_data`): mappings key by key, indexes by their columns, other
lists item by item. A part added or removed is one change (not one per field inside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from designkit.model.problems import format_path

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["Change", "design_changes"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Change:
    """One part added, removed or changed.

    Attributes:
        kind: ``added``, ``removed`` or ``changed``.
        path: Where, as a finding's subject spells it (``components.api.replicas``).
        before: The old value (``None`` when added).
        after: The new value (``None`` when removed).

    Example:
        >>> str(Change("changed", "components.api.replicas", 2, 4))
        'changed components.api.replicas: 2 → 4'
    """

    kind: Literal["added", "removed", "changed"]
    path: str
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        if self.kind == "changed":
            return f"changed {self.path}: {_short(self.before)} → {_short(self.after)}"
        part = self.after if self.kind == "added" else self.before
        return f"{self.kind} {self.path} ({_what(part)})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": self.kind, "path": self.path, "before": self.before,
                "after": self.after}


def _short(value: Any) -> str:
    """A value in a line: scalars as written, a part by what it is."""
    if isinstance(value, dict | list):
        return _what(value)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _what(value: Any) -> str:
    """A part in a few words: a component's kind, a step's key, a list's length."""
    if isinstance(value, dict):
        if isinstance(value.get("loop"), dict):
            return f"loop of {value['loop'].get('count')}"
        for key in ("kind", "call", "transaction", "lock", "loop", "cache", "publish",
                    "parallel", "type", "columns"):
            if key in value:
                shown = value[key]
                return f"{key} {shown if not isinstance(shown, list | dict) else _short(shown)}"
        return f"{len(value)} field(s)"
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "columns" in v for v in value):
            return "; ".join(f"index ({', '.join(map(str, v['columns']))})" for v in value)
        if all(isinstance(v, str | int | float) for v in value):
            text = ", ".join(str(v) for v in value)
            return f"[{text}]" if len(text) <= 60 else f"{len(value)} item(s)"
        return f"{len(value)} item(s)"
    return _short(value)


def design_changes(old: Design, new: Design) -> list[Change]:
    """Every part added, removed or changed from ``old`` to ``new``, in file order.

    Example:
        >>> import designkit as dk
        >>> old = dk.template("dashboard-slow")
        >>> changes = design_changes(old, dk.template("dashboard-fixed"))
        >>> [str(c) for c in changes if c.path.endswith('"GET /v1/dashboard".steps[2]')]
        ... # doctest: +NORMALIZE_WHITESPACE
        ['changed components.dashboard-api.endpoints."GET /v1/dashboard".steps[2]:
          loop of 50 → call app-db']
    """
    from designkit.model.io import to_data

    out: list[Change] = []
    _compare(to_data(old), to_data(new), (), out)
    return out


def _compare(before: Any, after: Any, path: Path, out: list[Change]) -> None:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        if _step_kind(before) != _step_kind(after):  # a step replaced by another kind
            out.append(Change("changed", format_path(path), before, after))
            return
        for key in [*before, *(k for k in after if k not in before)]:
            here = (*path, key)
            if key not in after:
                out.append(Change("removed", format_path(here), before[key], None))
            elif key not in before:
                out.append(Change("added", format_path(here), None, after[key]))
            else:
                _compare(before[key], after[key], here, out)
        return
    if isinstance(before, list) and isinstance(after, list) and _keyed(before + after):
        _compare_keyed(before, after, path, out)
        return
    if isinstance(before, list) and isinstance(after, list) and \
            any(isinstance(v, dict) for v in before + after):
        for i in range(max(len(before), len(after))):
            here = (*path, i)
            if i >= len(after):
                out.append(Change("removed", format_path(here), before[i], None))
            elif i >= len(before):
                out.append(Change("added", format_path(here), None, after[i]))
            else:
                _compare(before[i], after[i], here, out)
        return
    out.append(Change("changed", format_path(path), before, after))


def _step_kind(value: dict[str, Any]) -> str | None:
    from designkit.model.steps import step_kind

    return step_kind(value)


def _keyed(items: list[Any]) -> bool:
    """A list of indexes (mappings with ``columns``): compared by their columns."""
    return bool(items) and all(isinstance(i, dict) and "columns" in i for i in items)


def _compare_keyed(before: list[Any], after: list[Any], path: Path,
                   out: list[Change]) -> None:
    old = {tuple(i["columns"]): i for i in before}
    new = {tuple(i["columns"]): i for i in after}
    for key in [*old, *(k for k in new if k not in old)]:
        label = f"({', '.join(map(str, key))})"
        here = format_path((*path,)) + f"[{label}]"
        if key not in new:
            out.append(Change("removed", here, old[key], None))
        elif key not in old:
            out.append(Change("added", here, None, new[key]))
        elif old[key] != new[key]:
            for field in [*old[key], *(f for f in new[key] if f not in old[key])]:
                if old[key].get(field) != new[key].get(field):
                    out.append(Change("changed", f"{here}.{field}", old[key].get(field),
                                      new[key].get(field)))
