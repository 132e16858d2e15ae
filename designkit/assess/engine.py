"""``dk.assess``: run the rules, apply attestations and waivers, collect the findings."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from designkit.assess.assessment import Assessment
from designkit.assess.context import Context
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Rule
from designkit.errors import DesignkitError, RuleFailedError
from designkit.gcpause import gc_paused

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.model.design import Design
    from designkit.model.policy import Attestation, NotApplicable, Policy, Waiver

__all__ = ["assess"]


def assess(design: Design, estimate: Estimate | None = None, policy: Policy | None = None,
           audit: bool = False, rules: Iterable[Rule] | None = None,
           extra_rules: Iterable[Rule] = (), today: dt.date | None = None) -> Assessment:
    """Review ``design`` against the checklist.

    Args:
        design: The design (validated first).
        estimate: An estimate to judge the numbers by; made at the design's workload if
            not given.
        policy: The standard's parameters; the design's own by default.
        audit: Ignore every waiver (an audit sees everything).
        rules: The rules to run; the whole catalogue by default (built-in rules and those
            installed under the entry-point group ``designkit.rules``).
        extra_rules: Rules to run besides (a notebook's own).
        today: The date waivers and attestations expire against (default: today).

    Returns:
        The assessment: every finding, a summary, and reports (Markdown, HTML, JSON, SARIF,
        JUnit).

    Example:
        >>> import designkit as dk
        >>> a = dk.assess(dk.template("dashboard-slow"))
        >>> "DK-BE-002" in {f.rule for f in a.failed()}
        True
    """
    with gc_paused():  # tens of thousands of findings: no repeated full collections
        return _assess(design, estimate, policy, audit, rules, extra_rules, today)


def _assess(design: Design, estimate: Estimate | None, policy: Policy | None, audit: bool,
            rules: Iterable[Rule] | None, extra_rules: Iterable[Rule],
            today: dt.date | None) -> Assessment:
    from designkit.assess.catalogue import catalogue

    design.validate()
    today = today or dt.date.today()
    context = Context(design, policy or design.policy, estimate, today)
    context.audit = audit
    chosen = list(rules) if rules is not None else catalogue()
    chosen += list(extra_rules)
    findings: list[Finding] = []
    for rule in chosen:
        findings += _run(rule, context)
    findings = attested(findings, design, today)
    used: set[int] = set()
    moot: set[int] = set()
    if not audit:
        findings = _apply(findings, design.not_applicable, today, moot, Status.NOT_APPLICABLE)
        findings = _apply(findings, design.waivers, today, used, Status.WAIVED)
    unused = [] if audit else [
        *(w for i, w in enumerate(design.not_applicable) if i not in moot),
        *(w for i, w in enumerate(design.waivers) if i not in used)]
    return Assessment(design.name, tuple(chosen), tuple(findings), tuple(unused), audit)


def _run(rule: Rule, context: Context) -> list[Finding]:
    context.rule = rule
    try:
        if not rule.applies(context):
            context.record(rule, [])
            return [context.finding("", Status.NOT_APPLICABLE, "does not apply to this design")]
        found = list(rule.check(context))
        context.record(rule, found)
        return found or [context.finding("", Status.NOT_APPLICABLE,
                                         "nothing in this design to check")]
    except DesignkitError:
        raise
    except Exception as err:  # a broken check must say which rule broke
        raise RuleFailedError(f"rule {rule.id} ({rule.title}) failed: "
                             f"{type(err).__name__}: {err}") from err
    finally:
        context.rule = None


def attested(findings: list[Finding], design: Design, today: dt.date) -> list[Finding]:
    """A finding that needs an attestation passes when a current one covers it."""
    current: dict[str, list[Attestation]] = {}  # by rule, in file order: the first wins
    for att in design.attestations:
        if att.expires is None or att.expires >= today:
            current.setdefault(att.rule, []).append(att)
    subjects = {rule: _Patterns([a.subject for a in atts]) for rule, atts in current.items()}
    out = []
    for finding in findings:
        if finding.status is Status.NEEDS_ATTESTATION and finding.rule in subjects:
            i = subjects[finding.rule].first(finding.subject)
            if i is not None:
                att = current[finding.rule][i]
                finding = replace(finding, status=Status.PASS,
                                  message=f"attested by {att.by} on {att.on}: {att.evidence}")
        out.append(finding)
    return out


class _Patterns:
    """Glob patterns (``fnmatch``, case-sensitive), indexed to find the first one, in
    order, that matches a text without trying each on every text: a pattern without
    wildcards is looked up; one with wildcards is tried only on texts that start with its
    literal part (the text before its first ``*``, ``?`` or ``[``).

    Example:
        >>> _Patterns(["a@x.*", "a@x.y", "b@*"]).first("a@x.y"), _Patterns(["b@*"]).first("a")
        (0, None)
    """

    def __init__(self, patterns: list[str]) -> None:
        self.exact: dict[str, int] = {}
        self.wild: dict[str, list[tuple[int, str]]] = {}  # by literal prefix, in order
        for i, pattern in enumerate(patterns):
            cut = min((pattern.find(c) for c in "*?[" if c in pattern), default=-1)
            if cut < 0:
                self.exact.setdefault(pattern, i)
            else:
                self.wild.setdefault(pattern[:cut], []).append((i, pattern))
        self.lengths = sorted({len(prefix) for prefix in self.wild})

    def first(self, text: str) -> int | None:
        """The index of the first pattern that matches ``text``, if any."""
        best = self.exact.get(text)
        for n in self.lengths:
            if n > len(text):
                break
            for i, pattern in self.wild.get(text[:n], ()):
                if best is not None and i > best:
                    break
                if fnmatch.fnmatchcase(text, pattern):
                    best = i
                    break
        return best


def waived(findings: list[Finding], design: Design, today: dt.date) -> list[Finding]:
    """``findings`` with the design's not-applicable entries and waivers applied (a
    roll-up's view of the rules it re-runs: a waived failure is waived there too)."""
    findings = _apply(findings, design.not_applicable, today, set(), Status.NOT_APPLICABLE)
    return _apply(findings, design.waivers, today, set(), Status.WAIVED)


def _apply(findings: list[Finding], entries: list[Waiver] | list[NotApplicable],
           today: dt.date, used: set[int], status: Status) -> list[Finding]:
    """``findings`` with ``entries`` (waivers, or not-applicable entries) applied;
    ``used``: the entries that matched."""
    if not entries:
        return findings
    patterns = _Patterns([w.finding for w in entries])
    return [_waived(f, list(entries), patterns, today, used, status) for f in findings]


def _waived(finding: Finding, waivers: list[Waiver], patterns: _Patterns, today: dt.date,
            used: set[int], status: Status = Status.WAIVED) -> Finding:
    if finding.status not in (Status.FAIL, Status.NEEDS_DATA, Status.NEEDS_ATTESTATION):
        return finding
    i = patterns.first(finding.fingerprint)  # the first waiver, in file order, that matches
    if i is None:
        return finding
    waiver = waivers[i]
    used.add(i)
    what = "waiver" if status is Status.WAIVED else "not-applicable entry"
    if waiver.expires is not None and waiver.expires < today:
        return replace(finding, message=f"{finding.message} ({what} by "
                                        f"{waiver.owner} expired {waiver.expires})")
    prefix = "" if status is Status.WAIVED else "not applicable: "
    return finding.with_status(status, f"{prefix}{waiver.reason} — {waiver.owner}"
                               + (f", until {waiver.expires}" if waiver.expires else ""))
