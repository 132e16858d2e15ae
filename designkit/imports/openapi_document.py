"""Reading an OpenAPI document: safe YAML/JSON, every ``$ref`` pointing inside it, validated
with openapi-spec-validator; a fault is one :class:`OpenApiError` at its JSON pointer."""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from designkit.errors import DesignError, DesignkitError, MissingDependencyError, Problem

__all__ = ["METHODS", "OpenApiError", "SpecDocument", "SpecNotFoundError", "parse_spec",
           "read_spec", "validate_spec"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
"""The HTTP methods an OpenAPI path item holds operations under, that designkit imports."""
_VALUE_KEYS = {"example", "default", "enum", "const", "value"}  # data, not references
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions",
                "dependentSchemas"}  # every child is a schema, whatever its name


class OpenApiError(DesignError):
    """An OpenAPI document that cannot be read or is invalid; each problem's path is the
    JSON pointer (``#/paths/~1pets/get/…``) of the fault, or a line and column.

    Example:
        >>> from designkit.imports.openapi import import_openapi
        >>> try:
        ...     import_openapi('{"openapi": "2.0"}')
        ... except OpenApiError as err:
        ...     print(err.problems[0].path)
        #/openapi
    """

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        super().__init__(problems, source=source or "OpenAPI document")


class SpecNotFoundError(DesignkitError, FileNotFoundError):
    """The OpenAPI document named does not exist.

    Example:
        >>> from designkit.imports.openapi import import_openapi
        >>> try:
        ...     import_openapi(Path("no-such-spec.yaml"))
        ... except FileNotFoundError as err:
        ...     print(err)
        no-such-spec.yaml: no such OpenAPI document
    """



# -- reading and validating -----------------------------------------------------------------

def read_spec(source: str | os.PathLike[str]) -> tuple[str, str | None]:
    """The document's text and its file name (``None`` for text given directly)."""
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("{")
                                    or not _names_file(source)):
        return source, None
    path = Path(source)
    if not path.is_file():
        raise SpecNotFoundError(f"{path}: no such OpenAPI document")
    try:
        return path.read_text(encoding="utf-8-sig"), str(path)
    except (OSError, UnicodeDecodeError) as err:
        raise OpenApiError([Problem("", f"cannot be read: {err}")], source=str(path)) from None


def _names_file(text: str) -> bool:
    try:
        return Path(text).suffix.lower() in (".yaml", ".yml", ".json") or Path(text).is_file()
    except (OSError, ValueError):
        return False


def parse_spec(text: str, label: str | None) -> dict[str, Any]:
    """The document as JSON-like data: string keys, dates as ISO text."""
    from designkit.model.parsing import parse_text

    try:
        data = _jsonable(parse_text(text, label))
    except DesignError as err:
        raise OpenApiError(err.problems, source=label) from None
    if not isinstance(data, dict):
        raise OpenApiError([Problem("#", "an OpenAPI document is a mapping with keys openapi, "
                                         "info, paths, …")], source=label)
    version = str(data.get("openapi", data.get("swagger", "")))
    if not re.fullmatch(r"3\.[01]\.\d+(-.+)?", version):
        hint = (" (Swagger 2.0: convert it to OpenAPI 3 first, e.g. with swagger2openapi)"
                if version.startswith("2") else "")
        raise OpenApiError([Problem("#/openapi", f"designkit imports OpenAPI 3.0 and 3.1, "
                                                 f"got {version or 'no version'!r}{hint}")],
                           source=label)
    return data


def _jsonable(value: Any) -> Any:
    """YAML's extras made JSON: keys as text (``200:`` is ``"200"``), dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def validate_spec(spec: dict[str, Any], label: str | None) -> None:
    """Every ``$ref`` local and resolvable, then the OpenAPI validator's most relevant
    error, then every security requirement naming a defined scheme: the first fault."""
    try:
        from openapi_spec_validator.shortcuts import get_validator_cls
        from referencing.exceptions import Unresolvable
    except ImportError:
        raise MissingDependencyError("importing OpenAPI needs openapi-spec-validator: "
                                     "pip install 'designkit[import]'") from None
    problem = next(_reference_problems(spec), None)
    if problem is not None:
        raise OpenApiError([problem], source=label)
    validator = type("_LocalOnly", (get_validator_cls(spec),), {"resolver_handlers": {}})
    try:
        error = _most_relevant(islice(validator(spec).iter_errors(), 20))
    except Unresolvable as err:  # checked above; a $ref beneath an $id, say
        raise OpenApiError([Problem("#", f"$ref {err.ref!r} cannot be resolved")],
                           source=label) from None
    except RecursionError:
        raise OpenApiError([Problem("#", "the document refers to itself too deeply to "
                                         "validate")], source=label) from None
    if error is not None:
        where = _pointer(error.absolute_path)
        raise OpenApiError([Problem(where, error.message)], source=label)
    problem = next(_security_problems(spec), None)
    if problem is not None:
        raise OpenApiError([problem], source=label)


def _security_problems(spec: dict[str, Any]) -> Iterator[Problem]:
    """Each security requirement that names a scheme ``components.securitySchemes`` lacks."""
    defined = spec.get("components", {}).get("securitySchemes", {})
    places: list[tuple[tuple[str, ...], Any]] = [(("security",), spec.get("security") or [])]
    places += [(("paths", path, method, "security"), op.get("security") or [])
               for path, item in spec.get("paths", {}).items() for method, op in item.items()
               if method in METHODS and isinstance(op, dict)]
    for at, requirements in places:
        for i, requirement in enumerate(requirements):
            for name in requirement:
                if name not in defined:
                    yield Problem(_pointer((*at, str(i), name)), f"security scheme {name!r} is "
                                  "not defined in components.securitySchemes"
                                  + (f" (it has {', '.join(defined)})" if defined else ""))


def _most_relevant(errors: Iterable[Any]) -> Any:
    """The deepest of the validator's errors (into the alternatives of a ``oneOf``): the
    one nearest the fault; ``None`` when there is none."""
    def deepest(error: Any) -> Any:
        while error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        return error

    return max((deepest(e) for e in errors), key=lambda e: len(e.absolute_path), default=None)


def _reference_problems(spec: dict[str, Any]) -> Iterator[Problem]:
    """Each ``$ref`` that leaves the document, points nowhere or only to itself, at its
    JSON pointer."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable

    resolver = Registry().with_resource("", Resource.opaque(spec)).resolver(base_uri="")
    for where, ref in _references(spec, (), False):
        pointer = _pointer((*where, "$ref"))
        if not ref.startswith("#"):
            yield Problem(pointer, f"$ref {ref!r} points outside this document; designkit "
                                   "follows only local references (#/…): bundle the spec "
                                   "into one file first (e.g. `redocly bundle`)")
            continue
        try:
            target = resolver.lookup(ref).contents
        except Unresolvable:
            yield Problem(pointer, f"$ref {ref!r} points to nothing: {ref[1:] or '/'} is "
                                   "not in the document")
            continue
        chain = [ref]
        while isinstance(target, dict) and isinstance(target.get("$ref"), str):
            if target["$ref"] in chain:
                yield Problem(pointer, f"$ref {ref!r} never reaches a value: "
                                       f"{' → '.join([*chain, target['$ref']])}")
                break
            chain.append(target["$ref"])
            try:
                target = resolver.lookup(target["$ref"]).contents
            except Unresolvable:
                break  # reported where that $ref is written


def _references(node: Any, at: tuple[str, ...], schemas: bool
                ) -> Iterator[tuple[tuple[str, ...], str]]:
    """``(where, ref)`` for every ``$ref`` string, skipping example and default values."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield at, node["$ref"]
        for key, value in node.items():
            if schemas or key not in _VALUE_KEYS:
                yield from _references(value, (*at, key), key in _SCHEMA_MAPS)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _references(value, (*at, str(i)), False)


def _pointer(parts: Any) -> str:
    """A JSON pointer as a ``$ref`` writes it: ``#/paths/~1pets/get``."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class SpecDocument:
    """The validated document and its ``$ref`` resolver."""

    def __init__(self, spec: dict[str, Any], label: str | None) -> None:
        from referencing import Registry, Resource

        self.spec = spec
        self.label = label
        self._resolver = Registry().with_resource("", Resource.opaque(spec)).resolver(
            base_uri="")

    def deref(self, node: Any) -> Any:
        """``node``, or what its ``$ref`` chain points to."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise OpenApiError([Problem(ref, "a $ref cycle: it points back to itself")],
                                   source=self.label)
            seen.add(ref)
            node = self._resolver.lookup(ref).contents
        return node

    def properties(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """A schema's properties, those of its ``allOf`` parts included (to a depth of 16:
        an ``allOf`` may refer back to its own schema)."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > 16:
            return {}
        found = dict(schema.get("properties") or {})
        for part in schema.get("allOf") or []:
            found |= self.properties(part, depth + 1)
        return found

    def is_array(self, schema: Any) -> bool:
        schema = self.deref(schema)
        kind = schema.get("type") if isinstance(schema, dict) else None
        return kind == "array" or (isinstance(kind, list) and "array" in kind)
