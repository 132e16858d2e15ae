"""The standard a design is reviewed against, and the review's waivers and attestations.

These are data here; the assessment gives them their meaning.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, model_validator

from designkit.model.base import Strict
from designkit.model.bounds import PositiveMillis
from designkit.model.slo import Slo

__all__ = ["Attestation", "Cors", "NotApplicable", "Policy", "Security", "Waiver"]

_IDEMPOTENT: tuple[Literal["POST", "PUT", "PATCH", "DELETE"], ...] = ("POST", "PUT", "PATCH")


class Policy(Strict):
    """The engineering standard's parameters (defaults from the designkit rule catalogue).

    Args:
        envelope: Error/response envelope: data-meta-error | problem-json (RFC 9457).
        versioning: uri | header | media-type.
        pagination: The pagination every collection should use.
        cached_read_p95_ms: p95 target of reads served by a cache.
        seek_p95_ms: p95 target of a simple indexed seek.
        background_ms: Work longer than this goes to a background job.
        idempotent_methods: Methods that need an idempotency key.
        exempt_idempotent_put: A PUT declared idempotent needs no key.
        password_hashing: Accepted password hashing schemes.
        jwt_algorithms: Accepted JWT signature algorithms.
        utilization_max: Utilization above which a station is flagged.
        pool_utilization_max: Pool utilization above which a pool is flagged.
        partition_rows: Rows (in one year) above which a table needs partitioning.
        compression_kb: Responses above this size need compression.
        severity: Per-rule severity overrides, e.g. ``{"DK-PERF-005": "high"}``.
        slo: The service-level objective of every endpoint that states none.

    Example:
        >>> Policy().cached_read_p95_ms
        50.0
    """

    envelope: Literal["data-meta-error", "problem-json"] = "data-meta-error"
    versioning: Literal["uri", "header", "media-type"] = "uri"
    pagination: Literal["cursor", "offset"] = "cursor"
    cached_read_p95_ms: PositiveMillis = 50.0
    seek_p95_ms: PositiveMillis = 10.0
    background_ms: PositiveMillis = 200.0
    idempotent_methods: list[Literal["POST", "PUT", "PATCH", "DELETE"]] = Field(
        default_factory=lambda: list(_IDEMPOTENT))
    exempt_idempotent_put: bool = False
    password_hashing: list[str] = Field(default_factory=lambda: ["bcrypt", "argon2id"])
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    utilization_max: float = Field(default=0.7, gt=0, le=1)
    pool_utilization_max: float = Field(default=0.8, gt=0, le=1)
    partition_rows: Annotated[int, Field(ge=1, le=10**13)] = 100_000_000
    compression_kb: Annotated[float, Field(gt=0, le=10_000_000)] = 64.0
    severity: dict[str, Literal["critical", "high", "medium", "low", "info"]] = Field(
        default_factory=dict)
    slo: Slo | None = None


class Waiver(Strict):
    """A deliberate exception to a rule, with its reason, owner and expiry.

    Args:
        finding: Fingerprint glob ``RULE@subject-path`` (``DK-PERF-002@components.*``).
        reason: Why the finding is accepted.
        owner: Who accepted it.
        expires: Date after which the finding reopens.

    Example:
        >>> Waiver(finding="DK-PERF-005@*", reason="internal admin list, < 50 rows",
        ...        owner="ana", expires="2027-06-30").expires
        datetime.date(2027, 6, 30)
    """

    finding: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: dt.date | None = None


class NotApplicable(Waiver):
    """A check that does not apply to this design, with why and who says so (a service
    with no passwords has nothing to hash). The finding shows as not applicable, with the
    reason, and is reviewed like a waiver: listed in every report, reopened after
    ``expires``, reported when it matches nothing.

    Example:
        >>> NotApplicable(finding="DK-SEC-002@security.password_hashing",
        ...               reason="sign-in is delegated to the identity provider",
        ...               owner="sec").reason
        'sign-in is delegated to the identity provider'
    """


class Attestation(Strict):
    """A person's statement that a rule the model cannot decide is met.

    Args:
        rule: The rule id (``DK-SEC-001``).
        subject: The part it covers (path or glob); empty means the whole design.
        by: Who attests.
        date: When (``on:`` is read too — but a YAML 1.1 reader takes an unquoted ``on``
            for the boolean ``true``, so files are written with ``date:``).
        evidence: Where to check it (link, test name, review id).
        expires: When it must be renewed.

    Example:
        >>> Attestation(rule="DK-SEC-001", by="ana", date="2026-11-01",
        ...             evidence="sqlc generates every query").on.year
        2026
        >>> try:
        ...     Attestation.model_validate({"rule": "DK-SEC-001", "by": "ana",
        ...                                 True: "2026-11-01", "evidence": "x"})
        ... except ValueError as err:
        ...     print(str(err).splitlines()[1].split(": write ")[1].split(" [")[0])
        date: 2026-11-01
    """

    rule: str = Field(pattern=r"^DK-[A-Z]+-\d{3}$")
    subject: str = "*"
    by: str = Field(min_length=1)
    date: dt.date = Field(validation_alias=AliasChoices("date", "on"))
    evidence: str = Field(min_length=1)
    expires: dt.date | None = None

    @model_validator(mode="before")
    @classmethod
    def _on_read_as_true(cls, data: Any) -> Any:
        if isinstance(data, dict) and True in data and not {"date", "on"} & set(data):
            raise ValueError("the key `on` arrived as the boolean true (a YAML 1.1 reader's "
                             f"reading of an unquoted on): write date: {data[True]}")
        return data

    @property
    def on(self) -> dt.date:
        """When (the former name of :attr:`date`)."""
        return self.date


class Cors(Strict):
    """Cross-origin resource sharing of the public API.

    Example:
        >>> Cors(origins=["https://shop.example"], credentials=True).credentials
        True
    """

    origins: list[str] = Field(default_factory=list)
    credentials: bool = False


class Security(Strict):
    """How the system authenticates and protects its users.

    Args:
        password_hashing: Scheme for stored passwords (bcrypt, argon2id, scrypt, sha256…).
        jwt_algorithm: Signature algorithm of the JWTs issued or accepted (RS256, HS256…).
        sessions: How browsers stay signed in: cookie | token.
        csrf: Mutating requests carry an anti-CSRF token (cookie sessions).
        cors: Cross-origin policy of the public API.

    Example:
        >>> Security(password_hashing="argon2id", jwt_algorithm="ES256").jwt_algorithm
        'ES256'
    """

    password_hashing: str | None = None
    jwt_algorithm: str | None = None
    sessions: Literal["cookie", "token"] | None = None
    csrf: bool | None = None
    cors: Cors | None = None
