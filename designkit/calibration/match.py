"""Which part of a design a measured name is: an endpoint, or a component a span calls.

Load tools and tracers name what they measured their own way: ``GET /products/42`` (a URL),
``GET /products/{id}`` (a route), a Locust or JMeter label, a span name, a ``peer.service``
attribute. A name is matched, in order, by the user's own mapping; as a design reference
(``"svc METHOD /path"``); by its service (a span's ``service.name``) and route; by method and
path against every endpoint's path template (``/products/42`` is ``/products/{id}``) — one
endpoint, or an error listing the candidates. A span is a component when its name, or its
``peer.service``, ``server.address``, ``db.name`` or ``db.namespace`` attribute, is one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from designkit.model.design import Design
from designkit.model.refs import EndpointRef

__all__ = ["Ambiguous", "component_of", "endpoint_of", "path_matches"]

_SPAN_ATTRIBUTES = ("peer.service", "server.address", "net.peer.name", "db.name",
                    "db.namespace")
_METHOD = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)$", re.IGNORECASE)


class Ambiguous(ValueError):
    """A measured name that fits several endpoints; ``candidates`` holds them."""

    def __init__(self, name: str, candidates: list[str]) -> None:
        super().__init__(f"{name!r} fits {len(candidates)} endpoints: {', '.join(candidates)}")
        self.candidates = candidates


def path_matches(template: str, path: str) -> bool:
    """Whether a request path is an instance of an endpoint's path template.

    Example:
        >>> path_matches("/products/{id}", "/products/42"), path_matches("/a/{x}", "/a")
        (True, False)
        >>> path_matches("/products/{id}", "/products/{productId}")
        True
    """
    want = [p for p in template.strip("/").split("/")]
    got = [p for p in path.strip("/").split("/")]
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g != "")
        for w, g in zip(want, got, strict=True))


def endpoint_of(design: Design, name: str, attributes: Mapping[str, str] | None = None,
                mapping: Mapping[str, str] | None = None) -> str | None:
    """The endpoint (``"svc METHOD /path"``) a measured name is, or ``None``.

    Raises:
        Ambiguous: The name fits several endpoints (map it explicitly).

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale")
        >>> endpoint_of(d, "GET https://shop.example/v1/orders/42?x=1")
        'order-query-api GET /v1/orders/{id}'
        >>> endpoint_of(d, "https://shop.example/v1/orders", {"method": "GET"})
        'order-query-api GET /v1/orders'
    """
    attributes = attributes or {}
    if mapping and name in mapping:
        return mapping[name]
    keys = {str(ref): ref for ref, _ in design.endpoints()}
    ref = EndpointRef.parse(name)
    if ref is not None and str(ref) in keys:
        return str(ref)
    method, path = _method_path(name, attributes)
    if method is None or path is None:
        return None
    service = attributes.get("service.name")
    found = [k for k, r in keys.items() if r.method == method and path_matches(r.path, path)
             and (service is None or r.service == service or service not in design.components)]
    if len(found) > 1:
        raise Ambiguous(name, sorted(found))
    return found[0] if found else None


def component_of(design: Design, name: str, attributes: Mapping[str, str] | None = None,
                 mapping: Mapping[str, str] | None = None) -> str | None:
    """The component a span measured a call of, or ``None``.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale")
        >>> component_of(d, "SELECT orders", {"server.address": "orders-db"})
        'orders-db'
    """
    attributes = attributes or {}
    if mapping and name in mapping:
        return mapping[name]
    if name in design.components:
        return name
    for key in _SPAN_ATTRIBUTES:
        value = attributes.get(key)
        if value is not None and value in design.components:
            return value
    return None


def _method_path(name: str, attributes: Mapping[str, str]) -> tuple[str | None, str | None]:
    """A measured name's HTTP method and path (from the name, or the attributes)."""
    found = _METHOD.match(name.strip())
    method = found.group(1).upper() if found else None
    bare = name.strip()
    path = found.group(2) if found else (bare if bare.startswith("/") or "://" in bare
                                         else None)
    method = method or _upper(attributes.get("http.request.method")
                              or attributes.get("http.method") or attributes.get("method"))
    route = attributes.get("http.route")
    if route and path is None:
        path = route
    if path is not None and "://" in path:
        path = urlsplit(path).path or "/"
    if path is not None:
        path = path.split("?")[0]
    return method, path


def _upper(text: str | None) -> str | None:
    return text.upper() if text else None
