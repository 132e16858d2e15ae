"""Import an OpenAPI 3.0/3.1 document as one designkit service, and merge it into a design.

The document is read safely (no Python objects, no duplicate keys), every ``$ref`` is
checked to point inside the document and resolved with ``referencing``, and the whole is
validated with ``openapi-spec-validator``; a document that fails is one
:class:`OpenApiError` naming the file and the JSON pointer of the fault. Each operation
becomes an endpoint keyed ``"METHOD /path"`` holding what the spec states and the review
rules read (auth, idempotency key, pagination, responses, error envelope, versioning,
request schema); whatever is not carried over is listed in :attr:`OpenApiImport.notes`.
"""

from __future__ import annotations

import copy
import datetime
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from designkit.errors import DesignError, DesignkitError, MissingDependencyError, Problem

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["SPEC_FIELDS", "OpenApiError", "OpenApiImport", "SpecNotFoundError",
           "import_openapi", "merge_openapi"]

SPEC_FIELDS = ("description", "public", "auth", "idempotency_key", "request_schema",
               "responses", "envelope", "collection", "pagination", "versioning")
"""The endpoint fields an import sets; a merge updates these and keeps every other."""

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_IDEMPOTENCY_HEADERS = {"idempotency-key", "x-idempotency-key"}
_CURSOR = {"cursor", "after", "before", "page_token", "pagetoken", "next_token",
           "starting_after", "ending_before", "continuation_token", "page[cursor]",
           "page[after]"}
_OFFSET = {"offset", "page", "skip", "page[offset]", "page[number]"}
_LIMIT = {"limit", "per_page", "page_size", "pagesize", "size", "page[size]", "page[limit]"}
_VERSION_HEADERS = {"api-version", "accept-version", "x-api-version"}
_LIST_PROPERTIES = ("data", "items", "results")
_VERSION_SEGMENT = re.compile(r"/v\d+(?:\.\d+)?(?:/|$)")
_VALUE_KEYS = {"example", "default", "enum", "const", "value"}  # data, not references
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions",
                "dependentSchemas"}  # every child is a schema, whatever its name


class OpenApiError(DesignError):
    """An OpenAPI document that cannot be read or is invalid; each problem's path is the
    JSON pointer (``#/paths/~1pets/get/…``) of the fault, or a line and column.

    Example:
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
        >>> try:
        ...     import_openapi(Path("no-such-spec.yaml"))
        ... except FileNotFoundError as err:
        ...     print(err)
        no-such-spec.yaml: no such OpenAPI document
    """


@dataclass(frozen=True)
class OpenApiImport:
    """What an OpenAPI document says, as one designkit service.

    Attributes:
        service: The service's name (``--service``, else the spec's title slugified).
        data: The service component's data (``kind: service`` and its endpoints).
        notes: What was not carried over (callbacks, webhooks, ignored parameters, …).

    Example:
        >>> result = import_openapi('''
        ... openapi: 3.1.0
        ... info: {title: Tiny Shop, version: "1"}
        ... paths:
        ...   /items:
        ...     get:
        ...       responses: {"200": {description: the items}}
        ... ''')
        >>> result.service, list(result.data["endpoints"])
        ('tiny-shop', ['GET /items'])
        >>> result.design().components["tiny-shop"].endpoints["GET /items"].auth.scheme
        'none'
    """

    service: str
    data: dict[str, Any]
    notes: list[str]

    def design(self, name: str | None = None) -> Design:
        """A new design (named ``name``, else after the service) holding only the service.

        Raises:
            DesignError: The data is not a valid design (a bug of the importer).
        """
        from designkit.model.io import load

        return load({"designkit": 1, "name": name or self.service,
                     "components": {self.service: copy.deepcopy(self.data)}})


def import_openapi(source: str | os.PathLike[str], service: str | None = None
                   ) -> OpenApiImport:
    """Read an OpenAPI 3.0/3.1 document (YAML or JSON) as one service, an endpoint per
    operation.

    Args:
        source: A path (``Path``, or a ``str`` naming a ``.yaml``/``.yml``/``.json`` or an
            existing file), or the document's text.
        service: The service's name; by default the spec's title, slugified.

    Returns:
        The service's data and the notes of what was not imported.

    Raises:
        OpenApiError: The document cannot be parsed, is not OpenAPI 3.0/3.1, has a
            ``$ref`` that points nowhere or outside it, or fails validation.
        SpecNotFoundError: ``source`` names a file that does not exist.
        MissingDependencyError: ``openapi-spec-validator`` is not installed.

    Example:
        >>> r = import_openapi('''
        ... openapi: 3.0.3
        ... info: {title: Orders, version: "1"}
        ... servers: [{url: "https://api.example.com/v1"}]
        ... paths:
        ...   /orders:
        ...     post:
        ...       parameters: [{name: Idempotency-Key, in: header, schema: {type: string}}]
        ...       responses: {"201": {description: created}}
        ... ''')
        >>> r.data["endpoints"]["POST /v1/orders"]["idempotency_key"]
        {'header': 'Idempotency-Key'}
        >>> print(*r.notes)
        endpoint keys start with /v1, the path of the server URL (OpenAPI paths are relative to it)
    """
    text, label = _read(source)
    spec = _parse(text, label)
    _validate(spec, label)
    name = service if service is not None else _slug(str(spec["info"].get("title", "")))
    if not name or any(c.isspace() for c in name):
        raise OpenApiError([Problem("service", f"a service name is one word, got {name!r}")],
                           source=label)
    endpoints, notes = _endpoints(_Document(spec, label))
    info = spec["info"]
    data = {"kind": "service", "description": f"{info.get('title', name)} "
                                              f"{info.get('version', '')}".strip(),
            "endpoints": endpoints}
    return OpenApiImport(name, data, _document_notes(spec) + notes)


def _endpoints(document: _Document) -> tuple[dict[str, Any], list[str]]:
    """Every operation as endpoint data by its key, and the notes."""
    endpoints: dict[str, Any] = {}
    notes: list[str] = []
    bases: set[str] = set()
    for path, item in document.spec.get("paths", {}).items():
        item = document.deref(item)
        if any(c.isspace() for c in path):
            notes.append(f"{path!r}: a path holding a space is not an endpoint key; skipped")
            continue
        for method in _METHODS:
            if method in item:
                base = _base_path(document, item, item[method])
                bases.add(base)
                key = f"{method.upper()} {base}{path}"
                endpoints[key], found = _endpoint(document, key, item, item[method])
                notes += found
        notes += [f"{path}: {m.upper()} operations are not imported (designkit keys "
                  f"{', '.join(m.upper() for m in _METHODS)})"
                  for m in ("trace", "query") if m in item]
    notes += [f"endpoint keys start with {b}, the path of the server URL (OpenAPI paths "
              "are relative to it)" for b in sorted(bases - {""})]
    return endpoints, notes


# -- reading and validating -----------------------------------------------------------------

def _read(source: str | os.PathLike[str]) -> tuple[str, str | None]:
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


def _parse(text: str, label: str | None) -> dict[str, Any]:
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


def _validate(spec: dict[str, Any], label: str | None) -> None:
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
               if method in _METHODS and isinstance(op, dict)]
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


class _Document:
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


# -- one operation ------------------------------------------------------------------------

def _endpoint(doc: _Document, key: str, item: dict[str, Any], op: dict[str, Any]
              ) -> tuple[dict[str, Any], list[str]]:
    """One operation as endpoint data, and its notes."""
    params = _parameters(doc, item, op)
    collection = _collection(doc, op) if key.startswith("GET ") else None
    public, auth, notes = _auth(doc, key, op)
    pagination, paging_notes = _pagination(key, params, collection)
    responses, response_notes = _responses(doc, key, op)
    endpoint: dict[str, Any] = {
        "description": _summary(op), "public": public, "auth": auth,
        "idempotency_key": _idempotency_key(params), "request_schema": _request_schema(doc, op),
        "responses": responses, "envelope": _envelope(doc, op), "collection": collection,
        "pagination": pagination, "versioning": _versioning(doc, key, op, params)}
    used = _IDEMPOTENCY_HEADERS | _CURSOR | _OFFSET | _LIMIT | _VERSION_HEADERS
    ignored = [f"{p['in']} {p['name']}" for p in params
               if p["in"] != "path" and p["name"].lower() not in used]
    notes += paging_notes + response_notes + _unsupported(doc, key, op)
    if ignored:
        notes.append(f"{key}: parameters not imported: {', '.join(ignored)}")
    return {k: v for k, v in endpoint.items() if v not in (None, {})}, notes


def _summary(op: dict[str, Any]) -> str | None:
    text = str(op.get("summary") or op.get("description") or op.get("operationId") or "")
    return text.strip().splitlines()[0].strip() if text.strip() else None


def _parameters(doc: _Document, item: dict[str, Any], op: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """The operation's parameters, resolved; they override the path's by (name, in)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        param = doc.deref(raw)
        merged[(param["name"].lower(), param["in"])] = param
    return list(merged.values())


def _auth(doc: _Document, key: str, op: dict[str, Any]
          ) -> tuple[bool, dict[str, Any], list[str]]:
    """``public`` (unless ``x-internal``), ``auth`` from the first security requirement."""
    public = op.get("x-internal") is not True
    requirements = op.get("security", doc.spec.get("security")) or []
    notes: list[str] = []
    if not requirements or {} in requirements:
        if requirements:
            notes.append(f"{key}: security is optional (an empty requirement): auth none")
        return public, {"scheme": "none"}, notes
    defined = doc.spec.get("components", {}).get("securitySchemes", {})
    first = requirements[0]
    name = next(iter(first))
    scheme, note = _scheme(name, doc.deref(defined.get(name, {})))
    if note:
        notes.append(f"{key}: {note}")
    if len(first) > 1 or len(requirements) > 1:
        others = sorted({n for r in requirements for n in r} - {name})
        notes.append(f"{key}: auth read from {name!r}; also declared: {', '.join(others)}")
    roles = sorted({s for n in first for s in first[n]})
    return public, {"scheme": scheme, **({"roles": roles} if roles else {})}, notes


def _scheme(name: str, scheme: dict[str, Any]) -> tuple[str, str | None]:
    """A security scheme as designkit's ``auth.scheme``, and a note when it is approximate."""
    kind = scheme.get("type")
    http = str(scheme.get("scheme", "")).lower()
    if kind == "http" and http == "bearer":
        if str(scheme.get("bearerFormat", "")).upper() == "JWT":
            return "jwt", None
        return "oauth2", f"bearer token {name!r} without bearerFormat JWT read as oauth2"
    if kind == "http":
        return "api-key", f"HTTP {http or '?'} auth {name!r} read as api-key (a static secret)"
    if kind == "apiKey":
        return ("session", None) if scheme.get("in") == "cookie" else ("api-key", None)
    if kind in ("oauth2", "openIdConnect"):
        return "oauth2", None
    if kind == "mutualTLS":
        return "mtls", None
    return "none", f"security scheme {name!r} of type {kind!r} not understood: auth none"


def _idempotency_key(params: list[dict[str, Any]]) -> dict[str, Any] | None:
    for p in params:
        if p["in"] == "header" and p["name"].lower() in _IDEMPOTENCY_HEADERS:
            return {"header": p["name"]}
    return None


def _pagination(key: str, params: list[dict[str, Any]], collection: bool | None
                ) -> tuple[str | None, list[str]]:
    """cursor, offset, or none for a collection that offers no way to a next page."""
    names = {p["name"].lower() for p in params if p["in"] == "query"}
    if names & _CURSOR:
        return "cursor", []
    if names & _OFFSET:
        return "offset", []
    if not collection:
        return None, []
    limit = sorted(names & _LIMIT)
    notes = [f"{key}: {limit[0]!r} without an offset or cursor: one page only, pagination "
             "none"] if limit else []
    return "none", notes


def _collection(doc: _Document, op: dict[str, Any]) -> bool | None:
    """The first 2xx JSON schema: an array, or an object with an array ``data``/``items``/
    ``results``; ``None`` when no 2xx response has a schema."""
    for code in sorted(c for c in op["responses"] if re.fullmatch(r"2\d\d", c)):
        schema = _json_schema(doc, doc.deref(op["responses"][code]))
        if schema is not None:
            props = doc.properties(schema)
            return doc.is_array(schema) or any(doc.is_array(props.get(p, {}))
                                               for p in _LIST_PROPERTIES)
    return None


def _json_schema(doc: _Document, holder: dict[str, Any]) -> Any:
    """The schema of a response's or request body's JSON media type, if any."""
    for media, content in (holder.get("content") or {}).items():
        if _is_json(media) and "schema" in content:
            return content["schema"]
    return None


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base in ("application/json", "*/*") or base.endswith("+json")


def _responses(doc: _Document, key: str, op: dict[str, Any]
               ) -> tuple[dict[int, str], list[str]]:
    found: dict[int, str] = {}
    skipped = []
    for code, raw in op["responses"].items():
        description = " ".join(str(doc.deref(raw).get("description", "")).split())
        if code.isdigit():
            found[int(code)] = description
        else:
            skipped.append(code)
    notes = [f"{key}: responses {', '.join(skipped)} not imported (designkit declares "
             "numeric status codes)"] if skipped else []
    return found, notes


def _envelope(doc: _Document, op: dict[str, Any]) -> str | None:
    """problem-json when an error response is application/problem+json; data-meta-error when
    the bodies wrap in data/meta/error; else not stated."""
    errors, successes = [], []
    for code, raw in op["responses"].items():
        response = doc.deref(raw)
        if code[0] in "45" or code == "default":
            if any(m.split(";")[0].strip().lower() == "application/problem+json"
                   for m in response.get("content") or {}):
                return "problem-json"
            errors.append(set(doc.properties(_json_schema(doc, response))))
        elif code[0] == "2":
            successes.append(set(doc.properties(_json_schema(doc, response))))
    if any({"data", "meta", "error"} <= p for p in errors + successes) or (
            any("data" in p for p in successes) and any("error" in p for p in errors)):
        return "data-meta-error"
    return None


def _versioning(doc: _Document, key: str, op: dict[str, Any], params: list[dict[str, Any]]
                ) -> str | None:
    """uri (a ``/v1`` segment in the path, the server's base path included), header (a
    required version header), media-type (a vendor media type naming a version), else
    not stated."""
    if _VERSION_SEGMENT.search(key.partition(" ")[2]):
        return "uri"
    if any(p["in"] == "header" and p.get("required") and p["name"].lower() in
           _VERSION_HEADERS for p in params):
        return "header"
    body = doc.deref(op.get("requestBody", {}))
    media = [*(body.get("content") or {}), *(m for r in op["responses"].values()
                                            for m in doc.deref(r).get("content") or {})]
    if any(re.search(r"vnd\..*[.+-]v\d|;\s*version=", m) for m in media):
        return "media-type"
    return None


def _request_schema(doc: _Document, op: dict[str, Any]) -> str | None:
    """The request body's schema by name (its ``$ref``), ``inline``, or ``None`` (no body)."""
    if "requestBody" not in op:
        return None
    body = doc.deref(op["requestBody"])
    content = body.get("content") or {}
    schema = _json_schema(doc, body) or next(
        (c["schema"] for c in content.values() if "schema" in c), None)
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    return "inline"


def _unsupported(doc: _Document, key: str, op: dict[str, Any]) -> list[str]:
    """Notes on the operation's parts designkit does not model."""
    notes = []
    if op.get("callbacks"):
        notes.append(f"{key}: callbacks not imported: {', '.join(op['callbacks'])}")
    links = sorted({name for r in op["responses"].values()
                    for name in doc.deref(r).get("links") or {}})
    if links:
        notes.append(f"{key}: response links not imported: {', '.join(links)}")
    body = doc.deref(op.get("requestBody", {}))
    media = sorted({m for m in body.get("content") or {} if not _is_json(m)} |
                   {m for r in op["responses"].values() for m in doc.deref(r).get("content")
                    or {} if not _is_json(m)})
    if media:
        notes.append(f"{key}: non-JSON media types not read: {', '.join(media)}")
    if op.get("deprecated"):
        notes.append(f"{key}: deprecated in the spec (imported all the same)")
    extensions = sorted(k for k in op if k.startswith("x-") and k != "x-internal")
    if extensions:
        notes.append(f"{key}: extensions not imported: {', '.join(extensions)}")
    return notes


def _base_path(doc: _Document, item: dict[str, Any], op: dict[str, Any]) -> str:
    """The path of the operation's first server URL (``/api/v1``), its variables at their
    defaults; ``""`` when there is none."""
    servers = op.get("servers") or item.get("servers") or doc.spec.get("servers") or []
    if not servers:
        return ""
    url = str(servers[0].get("url", ""))
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    return urlparse(url).path.rstrip("/")


def _document_notes(spec: dict[str, Any]) -> list[str]:
    """Notes on the document's parts outside its operations."""
    notes = []
    if spec.get("webhooks"):
        notes.append(f"webhooks not imported: {', '.join(spec['webhooks'])}")
    if len(spec.get("servers") or []) > 1:
        notes.append(f"{len(spec['servers'])} servers: endpoint keys use the first one's path")
    return notes


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "api"


# -- merging ------------------------------------------------------------------------------

def merge_openapi(design: Design | dict[str, Any], result: OpenApiImport
                  ) -> tuple[Design, list[str]]:
    """Merge an import into a design, keeping everything the user wrote.

    The service is added when the design has none of that name. Otherwise each endpoint of
    the spec updates the :data:`SPEC_FIELDS` the spec states (objects key by key: a user's
    ``auth.ownership`` or ``idempotency_key.retention_h`` stays) and keeps its steps,
    ``cpu_ms`` and every other field; endpoints only in the spec are added, endpoints
    only in the design are kept. A spec path whose parameters are named differently
    (``/pets/{petId}`` for ``/pets/{id}``) matches, and the design's key is kept.

    Args:
        design: The design (or its data) to merge into; it is not changed.
        result: What :func:`import_openapi` returned.

    Returns:
        The merged design, and one line per change (``"added POST /pets"``,
        ``"GET /pets: pagination offset → cursor"``, ``"GET /old: not in the spec (kept)"``).

    Raises:
        OpenApiError: The design has a component of that name that is not a service.
        DesignError: The merged design is invalid.

    Example:
        >>> import designkit as dk
        >>> mine = dk.load({"designkit": 1, "name": "shop", "components": {"tiny": {
        ...     "kind": "service", "endpoints": {"GET /items": {"cpu_ms": 3}}}}})
        >>> new = import_openapi('{"openapi": "3.1.0", "info": {"title": "t", "version": '
        ...     '"1"}, "paths": {"/items": {"get": {"responses": {"204": {"description": '
        ...     '"no content"}}}}}}', service="tiny")
        >>> merged, changes = merge_openapi(mine, new)
        >>> merged.components["tiny"].endpoints["GET /items"].cpu_ms.mean
        3.0
        >>> for change in changes: print(change)
        service description unset → t 1
        GET /items: public unset → true
        GET /items: auth.scheme unset → none
        GET /items: responses.204 unset → no content
    """
    from designkit.model.io import load, to_data

    data = copy.deepcopy(design) if isinstance(design, dict) else to_data(design)
    components = data.setdefault("components", {})
    current = components.get(result.service)
    imported = _plain(result.data)
    if current is None:
        components[result.service] = imported
        changes = [f"added service {result.service}"]
        changes += [f"added {key}" for key in imported["endpoints"]]
    elif not isinstance(current, dict) or current.get("kind") != "service":
        kind = current.get("kind") if isinstance(current, dict) else type(current).__name__
        raise OpenApiError([Problem(f"components.{result.service}", f"is a {kind}, not a "
                                    "service: import the spec under another name "
                                    "(--service NAME)")])
    else:
        changes = _merge_service(current, imported)
    return load(data), changes


def _merge_service(current: dict[str, Any], imported: dict[str, Any]) -> list[str]:
    """Merge ``imported`` into the service data ``current`` in place; the changes."""
    changes: list[str] = []
    if "description" not in current and "description" in imported:
        current["description"] = imported["description"]
        changes.append(f"service description unset → {imported['description']}")
    endpoints = current.setdefault("endpoints", {})
    by_shape = {_shape(k): k for k in endpoints}
    matched = set()
    for key, new in imported["endpoints"].items():
        mine = key if key in endpoints else by_shape.get(_shape(key))
        if mine is None:
            endpoints[key] = new
            changes.append(f"added {key}")
            continue
        matched.add(mine)
        if mine != key:
            changes.append(f"{mine}: matches {key} of the spec (key kept)")
        changes += _merge_endpoint(mine, endpoints[mine], new)
    changes += [f"{key}: not in the spec (kept)" for key in endpoints
                if key not in matched and key not in imported["endpoints"]]
    return changes


def _merge_endpoint(key: str, mine: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The spec's fields into the endpoint data ``mine`` (in place); the changes."""
    from designkit.model.service import Endpoint

    before = _flat(Endpoint.model_validate(mine).model_dump(mode="json",
                                                            include=set(SPEC_FIELDS)))
    for name, value in new.items():
        if name == "description" and mine.get("description"):
            continue  # the user's own words
        mine[name] = _deep_merged(mine.get(name), value)
    after = _flat(Endpoint.model_validate(mine).model_dump(mode="json",
                                                           include=set(SPEC_FIELDS)))
    shown = [(field, _shown(before.get(field)), _shown(value)) for field, value in after.items()]
    return [f"{key}: {field} {old} → {new}" for field, old, new in shown if old != new]


def _deep_merged(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _deep_merged(old.get(k), v) for k, v in new.items()}}
    return new


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested data as ``{"auth.scheme": "jwt", …}``; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return {prefix: value}


def _shown(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "unset"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shape(key: str) -> str:
    """An endpoint key with its path parameters unnamed: ``GET /pets/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", key)


def _plain(value: Any) -> Any:
    """Data with text keys (``responses: {200: …}`` as a design file writes it)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
