"""The JSON Schema of the design file format, for editors and other tools."""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic import BaseModel

from designkit.model.components import KINDS
from designkit.model.design import Design
from designkit.model.refs import ENDPOINT_KEY, ENDPOINT_REF

__all__ = ["SCHEMA_ID", "field_docs", "format_reference", "json_schema", "summary_doc"]

SCHEMA_ID = "https://designkit.dev/schema/design-1.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a design file.

    Point your editor's YAML support at it (see docs/design-format.md) for completion,
    hover help and checks while you type. The schema checks structure; ``designkit
    validate`` (or :func:`designkit.load`) also checks every reference.

    Example:
        >>> import designkit as dk
        >>> schema = dk.json_schema()
        >>> schema["title"], "components" in schema["properties"]
        ('designkit design', True)
    """
    schema = Design.model_json_schema(mode="validation")
    defs = schema.setdefault("$defs", {})
    for model in _models(Design):
        target = schema if model is Design else defs.get(model.__name__)
        if target is None:
            continue
        target["description"] = summary_doc(model)
        docs = field_docs(model)
        for name, prop in target.get("properties", {}).items():
            if name in docs:
                prop["description"] = docs[name]
            prop.pop("title", None)
    # `true` is shorthand for the defaults of these two settings.
    breaker = defs["CircuitBreaker"]
    defs["CircuitBreaker"] = {"description": breaker.pop("description", ""),
                              "anyOf": [{"type": "boolean"}, breaker]}
    key = defs["Endpoint"]["properties"]["idempotency_key"]
    key["anyOf"] = [{"type": "boolean"}, *key["anyOf"]]
    # Names the loader insists on.
    defs["Service"]["properties"]["endpoints"]["propertyNames"] = {"pattern": ENDPOINT_KEY}
    schema["properties"]["components"]["propertyNames"] = {
        "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
    schema["properties"]["workload"]["propertyNames"] = {"pattern": ENDPOINT_REF}
    _uncertain_numbers(schema)
    schema["properties"]["designkit"] = {"const": 1, "description": "The format version."}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "designkit design"
    schema["required"] = sorted({*schema.get("required", []), "designkit"})
    assert set(KINDS) <= set(
        schema["properties"]["components"]["additionalProperties"]["discriminator"]["mapping"])
    return schema


def _uncertain_numbers(schema: dict[str, Any]) -> None:
    """Where a number may be a range ``{low, high}`` or a lognormal ``{p50, p95}``
    (:mod:`designkit.model.uncertain`): hit ratios (a range), rows and workload rates."""
    defs = schema["$defs"]
    number = {"type": "number", "minimum": 0}
    defs["Range"] = {"type": "object", "description": "Any value between low and high, "
                     "evenly (the design holds the middle).",
                     "properties": {"low": number, "high": number},
                     "required": ["low", "high"], "additionalProperties": False}
    defs["Spread"] = {"type": "object", "description": "A lognormal with this median and "
                      "95th percentile (the design holds the median).",
                      "properties": {"p50": number, "p95": number},
                      "required": ["p50", "p95"], "additionalProperties": False}
    forms = {"hit_ratio": ["Range"], "rows": ["Range", "Spread"]}

    def widen(prop: dict[str, Any], names: list[str]) -> dict[str, Any]:
        description = prop.pop("description", None)
        out: dict[str, Any] = {"anyOf": [prop, *({"$ref": f"#/$defs/{n}"} for n in names)]}
        if description is not None:
            out["description"] = description
        if "default" in prop:
            out["default"] = prop.pop("default")
        return out

    for model in defs.values():
        properties = model.get("properties", {})
        for name, names in forms.items():
            if name in properties:
                properties[name] = widen(properties[name], names)
    workload = schema["properties"]["workload"]
    workload["additionalProperties"] = widen(workload["additionalProperties"],
                                             ["Range", "Spread"])


def summary_doc(model: type[BaseModel]) -> str:
    """The first paragraph of a model's docstring, on one line.

    Example:
        >>> from designkit.model.database import Index
        >>> summary_doc(Index)
        'An index on one or more columns, leading column first.'
    """
    doc = inspect.getdoc(model) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Field descriptions from the ``Args:`` section of a model's docstring.

    Example:
        >>> from designkit.model.database import Database
        >>> field_docs(Database)["cores"]
        'CPU cores (servers of the CPU station).'
    """
    doc = inspect.getdoc(model) or ""
    match = re.search(r"^Args:\n((?:    .*\n?|\n)+)", doc, flags=re.M)
    if not match:
        return {}
    out: dict[str, str] = {}
    current = None
    for line in match.group(1).splitlines():
        item = re.match(r"^    (\*{0,2}\w+): (.*)$", line)
        if item:
            current = item.group(1)
            out[current] = item.group(2).strip()
        elif current and line.startswith("        "):
            out[current] += " " + line.strip()
    return {k: v.replace("``", "`") for k, v in out.items() if not k.startswith("*")}


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model class reachable from ``root``'s fields, ``root`` first."""
    import typing

    seen: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(root)
    return seen


def format_reference() -> str:
    """The design-file key reference as Markdown: every key, its type, default and meaning.

    ``docs/design-format.md`` holds this text between two markers; a test keeps it current.

    Example:
        >>> from designkit.schema import format_reference
        >>> "| `cores` | integer ≥ 1, ≤ 100000 | `4` |" in format_reference()
        True
    """
    from pydantic_core import to_jsonable_python

    schema = json_schema()
    defs = schema["$defs"]
    lines: list[str] = []
    for model in _models(Design):
        name = model.__name__
        node = schema if model is Design else defs[name]
        lines += [f"### {name}", "", summary_doc(model), ""]
        props: dict[str, Any] = dict(node.get("properties", {}))
        if not props:
            forms = [_describe(o) for o in node.get("anyOf", [])]
            lines += ["Written as one of: " + "; ".join(forms) + ".", ""]
            for option in node.get("anyOf", []):
                props = {**option.get("properties", {}), **props}
        docs = field_docs(model)
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key in model.model_fields:
            prop = {"description": docs.get(key, ""), **props.get(key, {})}
            field = model.model_fields[key]
            if field.is_required():
                default = "required"
            else:
                value = to_jsonable_python(field.get_default(call_default_factory=True))
                default = "—" if value is None else f"`{_show_default(value)}`"
            meaning = prop.get("description") or ("Free text." if key == "description" else "")
            lines.append(f"| `{key}` | {_describe(prop)} | {default} | "
                         f"{meaning.replace('|', chr(92) + '|')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _object_of(node: dict[str, Any]) -> dict[str, Any]:
    if "properties" in node:
        return node
    for option in node.get("anyOf", []):
        if "properties" in option:
            return dict(option)
    return node


def _show_default(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def _describe(prop: dict[str, Any]) -> str:
    """A short human type: ``integer ≥ 1``, ``service \\| async``, ``[Step]``…"""
    if "$ref" in prop:
        target = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{target}](#{target.lower()})"
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    options = prop.get("anyOf") or prop.get("oneOf")
    if options:
        parts = [_describe(o) for o in options if o.get("type") != "null"]
        text = " or ".join(dict.fromkeys(parts))
        return text + (" or null" if any(o.get("type") == "null" for o in options) else "")
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_describe(prop.get('items', {}))}"
    if kind == "object":
        values = prop.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of {_describe(values)}"
        if "properties" in prop:
            return "{" + ", ".join(prop["properties"]) + "}"
        return "object"
    bounds = [f"{sign} {prop[key]:g}" for key, sign in (
        ("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))
        if key in prop]
    text = {"number": "number", "integer": "integer", "string": "text",
            "boolean": "true/false"}.get(str(kind), str(kind or "any"))
    if "format" in prop:
        text += f" ({prop['format']})"
    if "pattern" in prop:
        text += f" matching `{prop['pattern']}`"
    if "minLength" in prop:
        text += " (not empty)"
    return " ".join([text, ", ".join(bounds)]).strip()
