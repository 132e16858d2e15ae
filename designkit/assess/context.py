"""What a rule's check sees: the design, the policy, and estimates computed on demand."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING, Any

from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Rule, Severity

if TYPE_CHECKING:
    from designkit.estimate.growth import Growth
    from designkit.estimate.result import Estimate
    from designkit.model.design import Design
    from designkit.model.policy import Policy

__all__ = ["Context"]


class Context:
    """The facts for rules: ``design``, ``policy``, and lazily ``estimate`` (at the design's
    workload), ``cold`` (every cache cold), ``year`` (tables after 365 days) and ``growth``.

    Checks report through :meth:`finding`, which stamps the current rule's id, severity
    and remediation.
    """

    def __init__(self, design: Design, policy: Policy, estimate: Estimate | None = None,
                 today: dt.date | None = None) -> None:
        self.design = design
        self.policy = policy
        self.today = today or dt.date.today()
        self.rule: Rule | None = None
        if estimate is not None:
            self.__dict__["estimate"] = estimate

    @cached_property
    def estimate(self) -> Estimate:
        """The estimate at the design's workload."""
        from designkit.estimate.api import estimate

        return estimate(self.design)

    @cached_property
    def cold(self) -> Estimate:
        """The estimate with every cache cold (hit ratio 0)."""
        from designkit.estimate.api import estimate
        from designkit.estimate.scenarios import Scenario

        return estimate(self.design, scenario=Scenario(cold_caches=True, name="cache lost"))

    @cached_property
    def year(self) -> Estimate:
        """The estimate with tables grown for a year."""
        from designkit.estimate.api import estimate

        return estimate(self.design, days=365)

    @cached_property
    def growth(self) -> Growth:
        """Tables and query plans now and in a year."""
        from designkit.estimate.growth import growth

        return growth(self.design, 365)

    def severity(self) -> Severity:
        assert self.rule is not None
        override = self.policy.severity.get(self.rule.id)
        return Severity(override) if override else self.rule.severity

    def finding(self, subject: str, ok: bool | Status, message: str,
                **evidence: Any) -> Finding:
        """A finding of the current rule: ``ok`` True → pass, False → fail, or a status."""
        assert self.rule is not None, "findings are made while a rule runs"
        status = ok if isinstance(ok, Status) else (Status.PASS if ok else Status.FAIL)
        return Finding(self.rule.id, status, self.severity(), subject, message,
                       self.rule.remediation, dict(evidence))

    def needs_data(self, subject: str, message: str) -> Finding:
        """The facts the rule needs are missing from the design: never a pass."""
        return self.finding(subject, Status.NEEDS_DATA, message)
