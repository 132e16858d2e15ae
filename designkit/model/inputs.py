"""Checks on the plain data of a design before the model reads it: text and numbers that no
field may hold, whatever its type.

Every key and string of a design file ends up in a diagram, a report, a terminal or a
file name, and every number in a formula. So, anywhere in the data:

* no control characters in a name — a key, or the design's ``name`` (a ``\\x01`` breaks
  Graphviz and XML, an escape sequence rewrites a terminal, a line break splits a path).
  Free text (descriptions, reasons, schemas) keeps every character it is given: a round
  trip never changes it, and every output escapes it;
* a key (a name) has no leading or trailing spaces — they would be stripped silently, and
  ``"store "`` would become ``store`` — and at most :data:`MAX_NAME` characters;
* two keys of one mapping are not the same once read (``200`` and ``"200"``);
* every number is finite (``.inf``, ``.nan``, JSON ``NaN``/``Infinity``, ``1e999``);
* nesting is at most :data:`MAX_DEPTH` levels deep.

Each field's own range is checked by the model (see ``designkit/model/bounds.py``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from designkit.errors import Problem
from designkit.model.problems import format_path

__all__ = ["MAX_DEPTH", "MAX_NAME", "input_problems"]

MAX_NAME = 200
"""Characters a name (any key of a design) may hold."""

MAX_DEPTH = 100
"""Levels of nesting a design may use (a real one uses a few dozen)."""

_CONTROL_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f]")
_MAX_PROBLEMS = 50


def input_problems(data: Any) -> list[Problem]:
    """Problems of the plain data ``data`` that no field may have (see the module).

    Stops after 50 problems: past those, the file is not what its author meant.

    Example:
        >>> for problem in input_problems({"components": {"api ": {"replicas": 1e999}}}):
        ...     print(problem)
        components."api ": the name has spaces at its start or end; remove them
        components."api ".replicas: must be a finite number, got inf
    """
    if not _suspect(data):
        return []
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack and len(problems) < _MAX_PROBLEMS:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            problems.append(Problem(format_path(path[:MAX_DEPTH]), f"nests more than "
                                    f"{MAX_DEPTH} levels deep; a design needs a few dozen"))
            continue
        if isinstance(value, dict):
            _keys(value, path, problems)
            stack.extend((item, (*path, _part(key))) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, str):
            if path == ("name",) and _CONTROL_IN_NAME.search(value):
                problems.append(Problem("name", _control_message(value)))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(format_path(path), f"must be a finite number, got {value}"))
    return sorted(problems)


_EDGE_OR_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]|(?:^|\ue000)\\s|\\s(?:\ue000|$)")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_OTHER_SPACE = re.compile("[\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
"""Whitespace other than a space that the control characters do not already hold
(no-break spaces, ideographic spaces…): rare, so the full search runs only with one."""


def _edge_or_control(text: str) -> bool:
    """``_EDGE_OR_CONTROL.search(text)``, in scans the C library does fast: a control
    character, or a space at an edge of a key — the full search only when a text holds a
    rarer whitespace (its alternation at every position costs a key list's tenfold)."""
    if _CONTROL.search(text):
        return True
    if text[:1] == " " or text[-1:] == " " or "\ue000 " in text or " \ue000" in text:
        return True
    return bool(_OTHER_SPACE.search(text)) and bool(_EDGE_OR_CONTROL.search(text))


def _suspect(data: Any) -> bool:
    """Whether ``data`` may have a problem: one quick pass that builds no paths (the
    located pass runs only then). Every key is checked at once, joined into one text."""
    keys: list[Any] = []
    stack: list[tuple[Any, int]] = [(data, 0)]
    isfinite, dict_, list_, float_ = math.isfinite, dict, list, float
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        items = value.values() if type(value) is dict_ else value
        if type(value) is dict_:
            keys.extend(value)
        for item in items:
            kind = type(item)
            if kind is dict_ or kind is list_:
                stack.append((item, depth + 1))
            elif kind is float_ and not isfinite(item):
                return True
    other = [key for key in keys if type(key) is not str]
    texts = [key if type(key) is str else str(key) for key in keys] if other else keys
    if other and _colliding(data):
        return True  # two keys of one mapping are one once read (200 and "200")
    name = data.get("name") if isinstance(data, dict) else None
    text = "\ue000".join([*texts, name if isinstance(name, str) else ""])
    return _edge_or_control(text) or max(map(len, texts), default=0) > MAX_NAME


def _colliding(data: Any) -> bool:
    """Whether a mapping in ``data`` with a key that is not text has two keys that read
    the same (only such a mapping can: text keys are unique)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if not all(type(key) is str for key in value) and len(
                    {str(key) for key in value}) < len(value):
                return True
            stack.extend(v for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, dict | list))
    return False


def _part(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def _keys(mapping: dict[Any, Any], path: tuple[str | int, ...],
          problems: list[Problem]) -> None:
    texts = []
    for key in mapping:
        text = _part(key)
        texts.append(text)
        here = format_path((*path, text))
        if _CONTROL_IN_NAME.search(text):
            problems.append(Problem(here, _control_message(text)))
        elif text != text.strip():
            problems.append(Problem(here, "the name has spaces at its start or end; remove "
                                    "them"))
        if len(text) > MAX_NAME:
            problems.append(Problem(format_path((*path, text[:40] + "…")),
                                    f"a name holds at most {MAX_NAME} characters, this one "
                                    f"{len(text):,}"))
    if len(set(texts)) < len(texts):
        seen: set[str] = set()
        for text in texts:
            if text in seen:
                problems.append(Problem(format_path((*path, text)), "duplicate key: written "
                                        "twice (once quoted?); merge them or rename one"))
            seen.add(text)


def _control_message(text: str) -> str:
    found = _CONTROL_IN_NAME.search(text)
    assert found is not None
    return (f"holds the control character U+{ord(found.group()):04X}, which a name may not "
            "hold (it would break diagrams, reports and terminals); remove it")
