"""Findings: what a rule says about one subject of the design."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from designkit.assess.rule import Severity

__all__ = ["Finding", "Status"]


class Status(StrEnum):
    """fail, pass, needs-data (facts missing), needs-attestation (a person must say),
    waived (accepted with a reason), not-applicable.

    Example:
        >>> Status("needs-data").value
        'needs-data'
    """

    FAIL = "fail"
    PASS = "pass"
    NEEDS_DATA = "needs-data"
    NEEDS_ATTESTATION = "needs-attestation"
    WAIVED = "waived"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one subject.

    Attributes:
        rule: The rule id (``DK-PERF-003``).
        status: See :class:`Status`.
        severity: The rule's severity (after the policy's overrides).
        subject: Path of the part judged (``components.orders-db``), ``""`` for the design.
        message: What is wrong (or right), with the numbers that show it.
        remediation: How to fix it.
        evidence: The numbers, as data.
        waiver: The reason it is accepted, when waived.

    Example:
        >>> f = Finding("DK-BE-001", Status.FAIL, Severity.HIGH, "components.api",
        ...             "no idempotency key", "add one")
        >>> f.fingerprint
        'DK-BE-001@components.api'
    """

    rule: str
    status: Status
    severity: Severity
    subject: str
    message: str
    remediation: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    waiver: str = ""

    @property
    def fingerprint(self) -> str:
        """``RULE@subject``: stable across runs; waivers match it."""
        return f"{self.rule}@{self.subject}"

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def with_status(self, status: Status, waiver: str = "") -> Finding:
        return replace(self, status=status, waiver=waiver)
