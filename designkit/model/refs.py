"""Endpoint references: ``"svc METHOD /path"`` parsed and printed one way everywhere."""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["ENDPOINT_KEY", "ENDPOINT_REF", "HTTP_METHODS", "EndpointRef", "endpoint_key",
           "is_endpoint_key", "is_endpoint_ref"]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _any_case(word: str) -> str:
    """A regular expression for ``word`` in any case, without flags (JSON Schema patterns
    are ECMA-262 and take none)."""
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


_METHOD = "(?:" + "|".join(_any_case(m) for m in HTTP_METHODS) + ")"
ENDPOINT_KEY = rf"^{_METHOD} /\S*$"
"""An endpoint's key as the loader and the JSON Schema accept it: a method in any case,
one space, a path starting with ``/`` and holding no whitespace."""
ENDPOINT_REF = rf"^\S+ +{_METHOD} +/\S*$"
"""A reference to an endpoint (a workload key, a call, a handler) as the loader and the
JSON Schema accept it: ``svc METHOD /path``, the method in any case, parts apart by
spaces."""
_KEY = re.compile(ENDPOINT_KEY)
_REF = re.compile(ENDPOINT_REF)


def is_endpoint_key(text: str) -> bool:
    """Whether ``text`` is an endpoint key (:data:`ENDPOINT_KEY`).

    Example:
        >>> is_endpoint_key("get /items"), is_endpoint_key("GET  /items")
        (True, False)
    """
    return _KEY.match(text) is not None


def is_endpoint_ref(text: str) -> bool:
    """Whether ``text`` is an endpoint reference (:data:`ENDPOINT_REF`).

    Example:
        >>> is_endpoint_ref("api get  /items"), is_endpoint_ref("api\\tGET /items")
        (True, False)
    """
    return _REF.match(text) is not None


class EndpointRef(NamedTuple):
    """A reference to a service endpoint.

    Example:
        >>> ref = EndpointRef.parse("checkout-api post /orders")
        >>> (ref.service, ref.key, str(ref))
        ('checkout-api', 'POST /orders', 'checkout-api POST /orders')
        >>> EndpointRef.parse("orders-db") is None
        True
    """

    service: str
    method: str
    path: str

    @property
    def key(self) -> str:
        """The endpoint's key inside its service: ``"METHOD /path"``."""
        return f"{self.method} {self.path}"

    def __str__(self) -> str:
        return f"{self.service} {self.key}"

    @classmethod
    def parse(cls, text: str) -> EndpointRef | None:
        """Parse ``"svc METHOD /path"``; ``None`` when the text is a plain name."""
        parts = text.split()
        if len(parts) != 3:
            return None
        return cls(parts[0], parts[1].upper(), parts[2])


def endpoint_key(key: str) -> str:
    """Normalise an endpoint key: upper-case method, one space, the path as written.

    Example:
        >>> endpoint_key("get   /orders/{id}")
        'GET /orders/{id}'
    """
    method, _, path = key.strip().partition(" ")
    return f"{method.upper()} {path.strip()}"
