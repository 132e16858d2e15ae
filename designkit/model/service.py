"""Services and their endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from designkit.model.base import Strict
from designkit.model.bounds import (
    Bytes,
    Hours,
    PositiveMillis,
    PositiveRate,
    Ratio,
    Replicas,
    Servers,
    Units,
)
from designkit.model.refs import HTTP_METHODS, endpoint_key
from designkit.model.slo import Slo
from designkit.model.steps import Step, StepBuilder
from designkit.model.times import Time

__all__ = ["HTTP_METHODS", "Auth", "Endpoint", "IdempotencyKey", "RateLimit", "Resolver",
           "Service"]



class RateLimit(Strict):
    """A rate limit on an endpoint.

    Args:
        rps: Requests per second allowed.
        per: What the limit is counted per: user | ip | client | global | tenant.
        burst: Requests allowed in a burst above the rate.

    Example:
        >>> RateLimit(rps=5, per="user").per
        'user'
    """

    rps: PositiveRate
    per: Literal["user", "ip", "client", "global", "tenant"] = "global"
    burst: Units | None = None


class IdempotencyKey(Strict):
    """How an endpoint deduplicates retried requests; ``true`` in a file means the defaults.

    Args:
        header: Request header carrying the key.
        retention_h: Hours a key (and its stored response) is kept; ``None`` = not stated.

    Example:
        >>> IdempotencyKey().header
        'Idempotency-Key'
    """

    header: str = "Idempotency-Key"
    retention_h: Hours | None = None


class Auth(Strict):
    """Who may call an endpoint.

    Args:
        scheme: none | jwt | session | api-key | mtls | oauth2.
        roles: Roles or permissions required (any of them).
        ownership: The handler checks that the caller owns the object in the path.

    Example:
        >>> Auth(scheme="jwt", roles=["buyer"]).roles
        ['buyer']
    """

    scheme: Literal["none", "jwt", "session", "api-key", "mtls", "oauth2"] = "jwt"
    roles: list[str] = Field(default_factory=list)
    ownership: bool | None = None


class Resolver(Strict):
    """A GraphQL field resolver.

    Args:
        returns_list: It resolves a list or a relation of each parent object.
        batched: Its loads are batched per request (DataLoader).

    Example:
        >>> Resolver(returns_list=True, batched=False).batched
        False
    """

    returns_list: bool = False
    batched: bool | None = None


class Endpoint(Strict, StepBuilder):
    """One operation of a service, keyed in the file by ``"METHOD /path"``.

    Args:
        cpu_ms: The service's own work per request.
        steps: What the request does, in order.
        idempotency_key: Deduplication of retries (``true`` for the defaults).
        rate_limit: Rate limit on this endpoint.
        auth: Authentication scheme, roles, ownership check.
        public: Reachable from outside the system (``None`` = not stated).
        request_schema: Name of the request body's schema, or the schema inline.
        validated_at: Where the request is validated: gateway | controller | service | none.
        responses: Declared status codes with a short description each.
        envelope: Response envelope: data-meta-error | problem-json | none.
        collection: The endpoint returns a list of resources.
        pagination: none | offset | cursor.
        versioning: uri | header | media-type | none.
        timeout_ms: The server-side timeout of a request.
        response_kb: Typical response body size (KiB).
        slo: Its service-level objective (p95, p99, availability); the policy's default
            when left out.
        compression: Encodings the response is compressed with (gzip, br).
        resolvers: GraphQL field resolvers of this endpoint, by ``Type.field``.
        description: Free text.

    Example:
        >>> ep = Endpoint(cpu_ms=2, idempotency_key=True)
        >>> (ep.cpu_ms, ep.idempotency_key.header)
        (Time(mean=2), 'Idempotency-Key')
    """

    description: str | None = None
    cpu_ms: Time = Field(default_factory=lambda: Time(mean=0.0))
    public: bool | None = None
    auth: Auth | None = None
    idempotency_key: IdempotencyKey | None = None
    rate_limit: RateLimit | None = None
    request_schema: str | dict[str, Any] | None = None
    validated_at: Literal["gateway", "controller", "service", "none"] | None = None
    responses: dict[int, str] = Field(default_factory=dict)
    envelope: Literal["data-meta-error", "problem-json", "none"] | None = None
    collection: bool | None = None
    pagination: Literal["none", "offset", "cursor"] | None = None
    versioning: Literal["uri", "header", "media-type", "none"] | None = None
    timeout_ms: PositiveMillis | None = None
    slo: Slo | None = None
    response_kb: Bytes | None = None
    compression: list[Literal["gzip", "br", "deflate", "zstd"]] | None = None
    resolvers: dict[str, Resolver] | None = None
    steps: list[Step] = Field(default_factory=list)

    @field_validator("idempotency_key", mode="before")
    @classmethod
    def _key_from_bool(cls, value: Any) -> Any:
        if value is True:
            return {}
        if value is False:
            return None
        return value


class Service(Strict):
    """An application service: ``replicas`` × ``workers`` concurrent requests.

    Args:
        kind: Always ``"service"``.
        replicas: Instances running.
        workers: Concurrent requests one replica serves.
        io: blocking (a worker is held during downstream calls) | async (only during cpu).
        boundary: Bounded context / deployable unit the service belongs to (diagram groups).
        zone: Network trust zone (public, dmz, private…), for diagrams and review.
        redact: Fields removed from its logs and traces (``password``, ``card_number``…).
        tracing: It propagates trace context (W3C ``traceparent``) on every call and message.
        drain_timeout_ms: How long it keeps serving in-flight requests when told to stop.
        availability: Share of the calls of its endpoints that succeed as far as the
            service itself goes (0.999: it is down or drops the connection one call in a
            thousand, beyond what its own steps fail); its callers see it.
        endpoints: Endpoints keyed by ``"METHOD /path"``.
        region: The region it runs in (a hop to another region costs
            ``network.cross_region_ms``).
        az: Its availability zone, or the zones its replicas spread over evenly (a hop
            between zones costs ``network.cross_zone_ms``, within one
            ``network.same_zone_ms``).

    Example:
        >>> svc = Service(kind="service", replicas=6, workers=32)
        >>> ep = svc.endpoint("POST /orders", cpu_ms=2)
        >>> list(svc.endpoints)
        ['POST /orders']
    """

    kind: Literal["service"]
    description: str | None = None
    replicas: Replicas = 1
    workers: Servers = 1
    io: Literal["blocking", "async"] = "blocking"
    boundary: str | None = None
    zone: str | None = None
    region: str | None = None
    az: str | list[str] | None = None
    redact: list[str] | None = None
    tracing: bool | None = None
    drain_timeout_ms: PositiveMillis | None = None
    availability: Ratio | None = None
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)

    def endpoint(self, key: str, **fields: Any) -> Endpoint:
        """Declare the endpoint ``key`` (``"METHOD /path"``), replacing an earlier one.

        Re-running the notebook cell that declares an endpoint and its steps gives the same
        endpoint, never duplicated steps.

        Args:
            key: ``"METHOD /path"``, e.g. ``"GET /orders/{id}"``.
            **fields: Any :class:`Endpoint` field.

        Returns:
            The new endpoint, to add steps to.

        Raises:
            DesignError: A field is invalid.
        """
        from designkit.model.problems import place, placed_at, validated

        key = endpoint_key(key)
        where = (*placed_at(self), "endpoints", key)
        endpoint = place(validated(Endpoint, fields, *where), where)
        self.endpoints[key] = endpoint
        return endpoint
