"""Endpoint references: ``"svc METHOD /path"`` parsed and printed one way everywhere."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["EndpointRef", "endpoint_key"]


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
