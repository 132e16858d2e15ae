"""Rules and their metadata: id, area, severity, how they are decided, references."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from designkit.assess.context import Context
    from designkit.assess.finding import Finding

__all__ = ["AREAS", "Mode", "Reference", "Rule", "Severity", "rule"]

AREAS = {"BE": "backend", "PERF": "performance", "API": "API", "DB": "database",
         "SEC": "security", "RES": "resilience"}


class Severity(StrEnum):
    """How bad a failing finding is (SARIF: critical/high → error, medium → warning,
    low/info → note).

    Example:
        >>> Severity("high").rank > Severity("medium").rank
        True
    """

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """4 for critical … 0 for info."""
        return ["info", "low", "medium", "high", "critical"].index(self.value)


class Mode(StrEnum):
    """How a rule is decided: from model facts, from the estimate, or by a person."""

    AUTO = "auto"
    ESTIMATE = "estimate"
    ATTESTATION = "attestation"


@dataclass(frozen=True)
class Reference:
    """A typed reference to a standard.

    Example:
        >>> str(Reference("OWASP API Security 2023", "API1", "Broken Object Level Authorization"))
        'OWASP API Security 2023 API1 (Broken Object Level Authorization)'
    """

    source: str
    id: str
    title: str = ""
    url: str = ""

    def __str__(self) -> str:
        return f"{self.source} {self.id}" + (f" ({self.title})" if self.title else "")


Check = Callable[["Context"], Iterable["Finding"]]
Applies = Callable[["Context"], bool]


@dataclass(frozen=True)
class Rule:
    """One checklist item: metadata, when it applies, and its check.

    ``check`` yields findings (pass or fail, with the subject's path and the numbers);
    ``applies`` is asked first — a rule that does not apply gives one ``not-applicable``
    finding. Make one with the :func:`rule` decorator.

    Example:
        >>> import designkit as dk
        >>> r = dk.Rule("DK-BE-901", "Named", dk.Severity.INFO, Mode.AUTO, "why", "how",
        ...             check=lambda ctx: [])
        >>> r.area
        'BE'
    """

    id: str
    title: str
    severity: Severity
    mode: Mode
    rationale: str
    remediation: str
    check: Check
    applies: Applies = field(default=lambda ctx: True)
    references: tuple[Reference, ...] = ()

    @property
    def area(self) -> str:
        """BE, PERF, API, DB, SEC or RES."""
        return self.id.split("-")[1]

    @property
    def help_uri(self) -> str:
        """Where the rule is documented."""
        return f"https://designkit.dev/rules/#{self.id.lower()}"


def rule(id: str, title: str, severity: str, mode: str, rationale: str, remediation: str,
         references: Iterable[Reference] = (), applies: Applies | None = None
         ) -> Callable[[Check], Rule]:
    """Make a rule of a check function (works in a notebook cell, too).

    Example:
        >>> import designkit as dk
        >>> from designkit.model.problems import format_path
        >>> @dk.rule("DK-BE-900", "Services have two replicas", "medium", "auto",
        ...          rationale="One replica is a single point of failure.",
        ...          remediation="Run at least two replicas.")
        ... def two_replicas(ctx):
        ...     for name, svc in ctx.design.of_kind("service").items():
        ...         ok = svc.replicas >= 2  # a subject names a part as format_path spells it
        ...         yield ctx.finding(format_path(("components", name, "replicas")), ok,
        ...                           f"{name} runs {svc.replicas} replica(s)")
        >>> two_replicas.id, two_replicas.severity.value
        ('DK-BE-900', 'medium')
    """
    def wrap(check: Check) -> Rule:
        return Rule(id=id, title=title, severity=Severity(severity), mode=Mode(mode),
                    rationale=rationale, remediation=remediation, check=check,
                    applies=applies or (lambda ctx: True), references=tuple(references))
    return wrap
