"""The result of an assessment: findings, a summary, and the reports made from them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designkit.assess.finding import Finding, Status
from designkit.assess.rule import AREAS, Rule, Severity

if TYPE_CHECKING:
    from designkit.model.policy import Waiver

__all__ = ["Assessment"]


@dataclass(frozen=True)
class Assessment:
    """Every finding of a review, failures first when displayed.

    Attributes:
        design: The design's name.
        rules: The rules that ran.
        findings: One or more per rule.
        unused_waivers: Waivers that matched no finding (stale: remove them).
        audit: Waivers were ignored.

    Example:
        >>> import designkit as dk
        >>> a = dk.assess(dk.template("dashboard-fixed"))
        >>> a.summary()["by_status"]["fail"] >= 0
        True
    """

    design: str
    rules: tuple[Rule, ...]
    findings: tuple[Finding, ...]
    unused_waivers: tuple[Waiver, ...] = ()
    audit: bool = False

    def failed(self, at_least: str | Severity = Severity.INFO) -> list[Finding]:
        """Failing findings at or above a severity, worst first."""
        floor = Severity(at_least).rank
        out = [f for f in self.findings if f.failed and f.severity.rank >= floor]
        return sorted(out, key=lambda f: (-f.severity.rank, f.rule, f.subject))

    def rule(self, rule_id: str) -> list[Finding]:
        """The findings of one rule."""
        return [f for f in self.findings if f.rule == rule_id]

    def summary(self) -> dict[str, Any]:
        """Counts by status, by severity of failures, and by area."""
        by_area: dict[str, Counter[str]] = {}
        for f in self.findings:
            by_area.setdefault(f.rule.split("-")[1], Counter())[f.status.value] += 1
        return {
            "by_status": {s.value: sum(1 for f in self.findings if f.status is s)
                          for s in Status},
            "failed_by_severity": {s.value: sum(1 for f in self.failed() if f.severity is s)
                                   for s in Severity},
            "by_area": {AREAS.get(a, a): dict(c) for a, c in sorted(by_area.items())},
            "rules": len(self.rules),
            "unused_waivers": len(self.unused_waivers),
        }

    def ordered(self) -> list[Finding]:
        """Findings for display: by area, failures first, worst first."""
        rank = {Status.FAIL: 0, Status.NEEDS_DATA: 1, Status.NEEDS_ATTESTATION: 2,
                Status.WAIVED: 3, Status.PASS: 4, Status.NOT_APPLICABLE: 5}
        return sorted(self.findings, key=lambda f: (
            list(AREAS).index(f.rule.split("-")[1]) if f.rule.split("-")[1] in AREAS else 99,
            rank[f.status], -f.severity.rank, f.rule, f.subject))

    # -- reports -------------------------------------------------------------------------

    def to_json(self) -> str:
        """The JSON contract of ``designkit assess --format json``."""
        from designkit.assess.report import to_json

        return to_json(self)

    def to_markdown(self) -> str:
        """A Markdown report: summary, then findings by severity with their rule ids."""
        from designkit.assess.report import to_markdown

        return to_markdown(self)

    def to_html(self) -> str:
        """An HTML report (also the Jupyter display)."""
        from designkit.assess.report import to_html

        return to_html(self)

    def to_sarif(self) -> str:
        """SARIF 2.1.0 for code-scanning tools; waived findings are suppressions."""
        from designkit.assess.report import to_sarif

        return to_sarif(self)

    def to_junit(self) -> str:
        """JUnit XML: a test case per rule × subject (fail → failure, waived → skipped)."""
        from designkit.assess.report import to_junit

        return to_junit(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        from designkit.assess.report import to_text

        return to_text(self)

    def __repr__(self) -> str:
        counts = self.summary()["by_status"]
        return (f"Assessment({self.design!r}, rules={len(self.rules)}, "
                f"fail={counts['fail']}, pass={counts['pass']}, "
                f"needs-data={counts['needs-data']}, waived={counts['waived']})")
