"""Turn validation errors into located, helpful :class:`~designkit.errors.Problem` s.

pydantic reports an error at a *location* that mixes keys of the input with the tags of
unions; this module maps it back to the path a user sees in their file
(``components.api.endpoints."POST /orders".steps[1].call``), rewrites the message in the
design file's words, and suggests the nearest valid names.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from designkit.errors import DesignError, Problem
from designkit.model.steps import STEP_KEYS, step_kind
from designkit.model.units import unit_hint

__all__ = ["format_path", "nearest", "place", "placed_at", "problems_from", "upsert",
           "validated"]

_WHERE = "_designkit_where"  # in a part's __dict__: not a field, so not in == or dumps

M = TypeVar("M", bound=BaseModel)
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(parts: Iterable[str | int]) -> str:
    """Write a path the way a user finds it in their file.

    Example:
        >>> format_path(["components", "api", "endpoints", "POST /orders", "steps", 1, "call"])
        'components.api.endpoints."POST /orders".steps[1].call'
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _PLAIN.fullmatch(part) else '"' + _quoted_part(part) + '"'
            out += ("." if out else "") + text
    return out


def _quoted_part(part: str) -> str:
    """A key as it is written between double quotes: quotes escaped, and control
    characters as visible escapes (``\\x01``, ``\\n``) — names never hold them, but an
    error about one must not print it raw."""
    from designkit.text import visible

    escaped = part.replace('"', '\\"')
    return visible(escaped).replace("\n", "\\n").replace("\t", "\\t")


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> tuple[str, ...]:
    """The valid names closest to ``name``, best first.

    Example:
        >>> nearest("orders-bd", ["orders-db", "stock-cache", "users-db"])
        ('orders-db',)
        >>> nearest("Orders-DB", ["orders-db"])
        ('orders-db',)
    """
    pool = sorted(set(candidates))
    by_case = {c.lower(): c for c in pool}
    if name.lower() in by_case and by_case[name.lower()] != name:
        return (by_case[name.lower()],)
    return tuple(difflib.get_close_matches(name, pool, n=n, cutoff=0.6))


def problems_from(error: ValidationError, data: Any, root: type[BaseModel] | None = None,
                  prefix: Sequence[str | int] = ()) -> list[Problem]:
    """Problems, one per located message, from a pydantic ``ValidationError``.

    Args:
        error: What pydantic raised.
        data: The input that was validated (used to map locations to file paths).
        root: The model validated, to suggest valid keys for an unknown one.
        prefix: Path of ``data`` inside the whole design.
    """
    grouped: dict[str, Problem] = {}
    for item in error.errors(include_url=False):
        loc = item["loc"]
        if loc and loc[-1] == "[key]":  # a key of the wrong type: the key is the place
            loc = loc[:-1]
            item = {**item, "msg": f"the key {item.get('input')!r} is not valid: "
                    + str(item["msg"]).lower(), "type": "key_error"}
        parts = _user_path(data, loc)
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts = [*parts, "kind"]
        path = format_path([*prefix, *parts])
        message, suggestions = _message(item, data, parts, root)
        if path in grouped and message not in grouped[path].message:
            old = grouped[path]
            message = f"{old.message}; {message}"
            suggestions = old.suggestions + suggestions
        grouped[path] = Problem(path, message, tuple(dict.fromkeys(suggestions)))
    return list(grouped.values())


def validated(model: type[M], data: Any, *where: str | int) -> M:
    """Validate ``data`` as ``model``; raise a located :class:`DesignError` when invalid.

    Example:
        >>> from designkit.model.database import Column
        >>> validated(Column, {"type": "uuid"}, "columns", "id").type
        'uuid'
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise DesignError(problems_from(err, data, model, where)) from None


def upsert(mapping: dict[str, Any], name: str, model: type[M], fields: dict[str, Any],
           *where: str | int) -> M:
    """Create ``mapping[name]``, or update the fields given of the one there (in place).

    The part keeps its identity, so variables a notebook holds stay valid, and remembers
    where it is (``where + (name,)``) so that errors of the parts built into it name it.
    """
    old = mapping.get(name)
    if old is None or not isinstance(old, model):
        mapping[name] = place(validated(model, fields, *where, name), (*where, name))
        return typing.cast(M, mapping[name])
    merged = {**old.model_dump(exclude_unset=True, round_trip=True), **fields}
    new = validated(model, merged, *where, name)
    for key in fields:
        setattr(old, key, getattr(new, key))
    return old


def place(part: M, path: Sequence[str | int]) -> M:
    """Remember where the builder put ``part`` in its design; returns ``part``.

    Example:
        >>> from designkit.model.times import Time
        >>> placed_at(place(Time(mean=1), ("components", "api")))
        ('components', 'api')
    """
    part.__dict__[_WHERE] = tuple(path)
    return part


def placed_at(part: Any) -> tuple[str | int, ...]:
    """Where the builder put ``part`` (``()``: not built into a design by the builder)."""
    found = getattr(part, "__dict__", {}).get(_WHERE, ())
    return typing.cast(tuple[str | int, ...], found)


# -- locations ---------------------------------------------------------------------------

def _user_path(data: Any, loc: Sequence[str | int]) -> list[str | int]:
    """The keys of ``loc`` that exist in the input (union tags dropped)."""
    parts: list[str | int] = []
    current = data
    for i, element in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and element in current:
            value = current[element]
            if not last and not isinstance(value, dict | list):
                continue  # a tag that is also a key holding a scalar (``call: x``)
            parts.append(element)
            current = value
        elif isinstance(current, dict) and isinstance(element, int) and str(element) in current:
            parts.append(str(element))
            current = current[str(element)]
        elif isinstance(current, list) and isinstance(element, int) and element < len(current):
            parts.append(element)
            current = current[element]
        elif last and isinstance(current, dict) and isinstance(element, str):
            parts.append(element)  # a missing or unknown key
    return parts


def _lookup(data: Any, parts: Sequence[str | int]) -> Any:
    for part in parts:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


# -- messages ----------------------------------------------------------------------------

def _message(item: Any, data: Any, parts: list[str | int],
             root: type[BaseModel] | None) -> tuple[str, tuple[str, ...]]:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    value = item.get("input")
    got = _show(value)
    if kind == "extra_forbidden":
        key = str(parts[-1]) if parts else "?"
        allowed = _allowed_keys(root, data, parts[:-1]) if root else set()
        hint = nearest(key, allowed)
        return f"unknown key {key!r}", hint
    if kind == "missing":
        return "is required", ()
    if kind == "key_error":
        return str(item["msg"]), ()
    if kind == "union_tag_invalid":
        expected = _quoted(ctx.get("expected_tags", ""))
        tag = str(ctx.get("tag", ""))
        return (f"unknown kind {tag!r}; expected one of {', '.join(expected)}",
                nearest(tag, expected))
    if kind == "union_tag_not_found":
        return "needs a 'kind': one of service, database, cache, queue, external, lock", ()
    if kind == "step_kind":
        keys = [str(k) for k in value] if isinstance(value, dict) else []
        present = [k for k in keys if k in STEP_KEYS]
        if len(present) > 1:
            return f"a step has exactly one of {', '.join(STEP_KEYS)}; found {present}", ()
        hints = tuple(h for k in keys for h in nearest(k, STEP_KEYS))
        shown = f"keys {keys}" if keys else got
        return f"a step needs one of {', '.join(STEP_KEYS)}; found {shown}", hints
    if kind == "literal_error":
        expected = _quoted(ctx.get("expected", ""))
        return f"{got} is not one of {', '.join(expected)}", nearest(str(value), expected)
    bounds = {"greater_than_equal": ("≥", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("≤", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        sign, key = bounds[kind]
        return f"must be {sign} {_number(ctx.get(key))}, got {_number(value)}", ()
    if kind in _NUMBER_ERRORS and isinstance(value, str) and parts:
        key = str(parts[-1])
        unit = next((u for suffix, u in _UNIT_SUFFIXES if key.endswith(suffix)), None)
        if unit is not None:
            return unit_hint(value, unit), ()
    if kind in ("value_error", "assertion_error"):
        text = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return text, ()
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty", ()
    text = str(item["msg"])
    return f"{text[:1].lower()}{text[1:]}, got {got}", ()


def _number(value: Any) -> str:
    """``100,000`` for a whole number, ``1e+09`` for a large float, else as written."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _show(value)
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:g}"


_NUMBER_ERRORS = ("float_parsing", "int_parsing", "float_type", "int_type")
_UNIT_SUFFIXES = (("_ms", "ms"), ("_us_per_row", "us"), ("_s", "s"), ("_h", "h"),
                  ("_kb", "kb"), ("_mb", "mb"))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", str(text))


def _allowed_keys(root: type[BaseModel], data: Any, parts: Sequence[str | int]) -> set[str]:
    """Keys the model accepts at ``parts`` in the input (resolving unions by the input)."""
    annotation: Any = root
    current = data
    for part in parts:
        model = _resolve(annotation, current)
        if model is not None:
            field = model.model_fields.get(str(part))
            if field is None:
                return set()
            annotation = field.annotation
        else:
            origin = typing.get_origin(_strip(annotation))
            args = typing.get_args(_strip(annotation))
            if origin is dict and len(args) == 2:
                annotation = args[1]
            elif origin is list and args:
                annotation = args[0]
            else:
                return set()
        current = _lookup(current, [part])
    model = _resolve(annotation, current)
    return set(model.model_fields) if model is not None else set()


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _resolve(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The model class the input ``value`` is validated as, if any."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := _resolve(a, value))]
        if not models:
            return None
        tag = value.get("kind") if isinstance(value, dict) else None
        step = step_kind(value) if isinstance(value, dict) else None
        for model in models:
            field = model.model_fields.get("kind")
            if tag is not None and field is not None and tag in typing.get_args(field.annotation):
                return model
            if step is not None and step in model.model_fields:
                return model
        return models[0] if len(models) == 1 else None
    return None
