"""The JSON Schema of the design file format, for editors and other tools."""

from __future__ import annotations

from typing import Any

from designkit.model.design import Design

__all__ = ["SCHEMA_ID", "json_schema"]

SCHEMA_ID = "https://designkit.dev/schema/design-1.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a design file.

    Point your editor's YAML support at it (see docs/design-format.md) for completion and
    checks while you type. The schema checks structure; :func:`designkit.load` also checks
    every reference.

    Example:
        >>> import designkit as dk
        >>> schema = dk.json_schema()
        >>> schema["title"], "components" in schema["properties"]
        ('designkit design', True)
    """
    schema = Design.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "designkit design"
    schema["required"] = sorted({*schema.get("required", []), "designkit"})
    return schema
