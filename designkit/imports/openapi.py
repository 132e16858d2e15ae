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
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from designkit.errors import Problem
from designkit.imports.openapi_document import (
    METHODS,
    OpenApiError,
    SpecDocument,
    SpecNotFoundError,
    parse_spec,
    read_spec,
    validate_spec,
)

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["SPEC_FIELDS", "OpenApiError", "OpenApiImport", "SpecNotFoundError",
           "import_openapi", "merge_openapi"]

SPEC_FIELDS = ("description", "public", "auth", "idempotency_key", "request_schema",
               "responses", "envelope", "collection", "pagination", "versioning")
"""The endpoint fields an import sets; a merge updates these and keeps every other."""

_IDEMPOTENCY_HEADERS = {"idempotency-key", "x-idempotency-key"}
_CURSOR = {"cursor", "after", "before", "page_token", "pagetoken", "next_token",
           "starting_after", "ending_before", "continuation_token", "page[cursor]",
           "page[after]"}
_OFFSET = {"offset", "page", "skip", "page[offset]", "page[number]"}
_LIMIT = {"limit", "per_page", "page_size", "pagesize", "size", "page[size]", "page[limit]"}
_VERSION_HEADERS = {"api-version", "accept-version", "x-api-version"}
_LIST_PROPERTIES = ("data", "items", "results")
_VERSION_SEGMENT = re.compile(r"/v\d+(?:\.\d+)?(?:/|$)")

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
    text, label = read_spec(source)
    spec = parse_spec(text, label)
    validate_spec(spec, label)
    name = service if service is not None else _slug(str(spec["info"].get("title", "")))
    if not name or any(c.isspace() for c in name):
        raise OpenApiError([Problem("service", f"a service name is one word, got {name!r}")],
                           source=label)
    endpoints, notes = _endpoints(SpecDocument(spec, label))
    info = spec["info"]
    data = {"kind": "service", "description": f"{info.get('title', name)} "
                                              f"{info.get('version', '')}".strip(),
            "endpoints": endpoints}
    return OpenApiImport(name, data, _document_notes(spec) + notes)


def _endpoints(document: SpecDocument) -> tuple[dict[str, Any], list[str]]:
    """Every operation as endpoint data by its key, and the notes."""
    endpoints: dict[str, Any] = {}
    notes: list[str] = []
    bases: set[str] = set()
    for path, item in document.spec.get("paths", {}).items():
        item = document.deref(item)
        if any(c.isspace() for c in path):
            notes.append(f"{path!r}: a path holding a space is not an endpoint key; skipped")
            continue
        for method in METHODS:
            if method in item:
                base = _base_path(document, item, item[method])
                bases.add(base)
                key = f"{method.upper()} {base}{path}"
                endpoints[key], found = _endpoint(document, key, item, item[method])
                notes += found
        notes += [f"{path}: {m.upper()} operations are not imported (designkit keys "
                  f"{', '.join(m.upper() for m in METHODS)})"
                  for m in ("trace", "query") if m in item]
    notes += [f"endpoint keys start with {b}, the path of the server URL (OpenAPI paths "
              "are relative to it)" for b in sorted(bases - {""})]
    return endpoints, notes


# -- one operation ------------------------------------------------------------------------

def _endpoint(doc: SpecDocument, key: str, item: dict[str, Any], op: dict[str, Any]
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


def _parameters(doc: SpecDocument, item: dict[str, Any], op: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """The operation's parameters, resolved; they override the path's by (name, in)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        param = doc.deref(raw)
        merged[(param["name"].lower(), param["in"])] = param
    return list(merged.values())


def _auth(doc: SpecDocument, key: str, op: dict[str, Any]
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


def _collection(doc: SpecDocument, op: dict[str, Any]) -> bool | None:
    """The first 2xx JSON schema: an array, or an object with an array ``data``/``items``/
    ``results``; ``None`` when no 2xx response has a schema."""
    for code in sorted(c for c in op["responses"] if re.fullmatch(r"2\d\d", c)):
        schema = _json_schema(doc, doc.deref(op["responses"][code]))
        if schema is not None:
            props = doc.properties(schema)
            return doc.is_array(schema) or any(doc.is_array(props.get(p, {}))
                                               for p in _LIST_PROPERTIES)
    return None


def _json_schema(doc: SpecDocument, holder: dict[str, Any]) -> Any:
    """The schema of a response's or request body's JSON media type, if any."""
    for media, content in (holder.get("content") or {}).items():
        if _is_json(media) and "schema" in content:
            return content["schema"]
    return None


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base in ("application/json", "*/*") or base.endswith("+json")


def _responses(doc: SpecDocument, key: str, op: dict[str, Any]
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


def _envelope(doc: SpecDocument, op: dict[str, Any]) -> str | None:
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


def _versioning(doc: SpecDocument, key: str, op: dict[str, Any], params: list[dict[str, Any]]
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


def _request_schema(doc: SpecDocument, op: dict[str, Any]) -> str | None:
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


def _unsupported(doc: SpecDocument, key: str, op: dict[str, Any]) -> list[str]:
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


def _base_path(doc: SpecDocument, item: dict[str, Any], op: dict[str, Any]) -> str:
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
