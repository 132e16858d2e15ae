"""The result of an assessment: findings, a summary, and the reports made from them."""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from designkit.assess.finding import Finding, Status
from designkit.assess.rule import AREAS, Rule, Severity
from designkit.errors import DesignkitError

if TYPE_CHECKING:
    from designkit.assess.context import Context
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
        """Findings for display: failures first, then what needs data or a person, then
        waived and passed ones — each worst severity first, then by area and rule (a
        critical failure is the first line, whatever its area)."""
        rank = {Status.FAIL: 0, Status.NEEDS_DATA: 1, Status.NEEDS_ATTESTATION: 2,
                Status.WAIVED: 3, Status.PASS: 4, Status.NOT_APPLICABLE: 5}
        return sorted(self.findings, key=lambda f: (
            rank[f.status], -f.severity.rank,
            list(AREAS).index(f.rule.split("-")[1]) if f.rule.split("-")[1] in AREAS else 99,
            f.rule, f.subject))

    def incomplete(self, at_least: str | Severity = Severity.INFO) -> list[Finding]:
        """Findings at or above a severity that are not decided yet — needing data or an
        attestation — worst first (what ``--require-complete`` gates on)."""
        floor = Severity(at_least).rank
        out = [f for f in self.findings if f.status in (Status.NEEDS_DATA,
                                                         Status.NEEDS_ATTESTATION)
               and f.severity.rank >= floor]
        return sorted(out, key=lambda f: (-f.severity.rank, f.rule, f.subject))

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

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by value: the findings, the waivers, and each rule's metadata.

        A rule's check and ``applies`` travel when pickle can name them; most cannot (the
        :func:`~designkit.assess.rule.rule` decorator binds a check's name to the
        :class:`Rule`, and ``applies`` is often a lambda), so they are replaced by a check
        that says so. A built-in rule is the catalogue's own rule again once unpickled.

        Example:
            >>> import pickle, designkit as dk
            >>> a = dk.assess(dk.template("flash-sale"))
            >>> b = pickle.loads(pickle.dumps(a))
            >>> b.findings == a.findings and b.rules == a.rules and b.to_json() == a.to_json()
            True
        """
        from designkit.assess.catalogue import builtin_rules

        builtin = builtin_rules()
        return (_unpickle, (self.design, tuple(_portable(r, builtin) for r in self.rules),
                            self.findings, self.unused_waivers, self.audit))

    def __copy__(self) -> Assessment:
        return self  # frozen: a copy would be the same

    def __deepcopy__(self, memo: dict[int, Any]) -> Assessment:
        """A deep copy keeps the rules themselves (unlike a pickle, it can)."""
        from copy import deepcopy

        return Assessment(self.design, self.rules, deepcopy(self.findings, memo),
                          deepcopy(self.unused_waivers, memo), self.audit)

    def __str__(self) -> str:
        from designkit.assess.report import to_text

        return to_text(self)

    def __repr__(self) -> str:
        counts = self.summary()["by_status"]
        return (f"Assessment({self.design!r}, rules={len(self.rules)}, "
                f"fail={counts['fail']}, pass={counts['pass']}, "
                f"needs-data={counts['needs-data']}, waived={counts['waived']})")


# -- pickling ------------------------------------------------------------------------------


def _not_pickled(ctx: Context) -> Iterable[Finding]:
    """The check of a rule whose own check could not be pickled with its assessment."""
    raise DesignkitError("this rule came from a pickled assessment without its check (a "
                         "check pickles only when pickle can import it by name): run the "
                         "rule's own object instead")


def _always(ctx: Context) -> bool:
    return True


def _picklable(function: object) -> bool:
    try:
        pickle.dumps(function)
    except Exception:  # PicklingError, or TypeError/AttributeError for local objects
        return False
    return True


def _portable(rule: Rule, builtin: list[Rule]) -> tuple[bool, Rule]:
    """(is it one of the ``builtin`` rules, the rule with only what pickle can carry)."""
    check = rule.check if _picklable(rule.check) else _not_pickled
    applies = rule.applies if _picklable(rule.applies) else _always
    return any(r is rule for r in builtin), replace(rule, check=check, applies=applies)


def _unpickle(design: str, rules: tuple[tuple[bool, Rule], ...], findings: tuple[Finding, ...],
              unused_waivers: tuple[Waiver, ...], audit: bool) -> Assessment:
    from designkit.assess.catalogue import builtin_rules

    own = {r.id: r for r in builtin_rules()}
    restored = tuple(own.get(rule.id, rule) if builtin else rule for builtin, rule in rules)
    return Assessment(design, restored, findings, unused_waivers, audit)
