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
from designkit.errors import DesignkitError

if TYPE_CHECKING:
    from designkit.estimate.result import Estimate
    from designkit.model.design import Design
    from designkit.model.policy import Policy, Waiver

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
    from designkit.assess.catalogue import catalogue

    design.validate()
    today = today or dt.date.today()
    context = Context(design, policy or design.policy, estimate, today)
    chosen = list(rules) if rules is not None else catalogue()
    chosen += list(extra_rules)
    findings: list[Finding] = []
    for rule in chosen:
        findings += _run(rule, context)
    findings = attested(findings, design, today)
    used: set[int] = set()
    if not audit:
        findings = [_waived(f, design.waivers, today, used) for f in findings]
    unused = [] if audit else [w for i, w in enumerate(design.waivers) if i not in used]
    return Assessment(design.name, tuple(chosen), tuple(findings), tuple(unused), audit)


def _run(rule: Rule, context: Context) -> list[Finding]:
    context.rule = rule
    try:
        if not rule.applies(context):
            return [context.finding("", Status.NOT_APPLICABLE, "does not apply to this design")]
        found = list(rule.check(context))
        return found or [context.finding("", Status.NOT_APPLICABLE,
                                         "nothing in this design to check")]
    except DesignkitError:
        raise
    except Exception as err:  # a broken check must say which rule broke
        raise DesignkitError(f"rule {rule.id} ({rule.title}) failed: "
                             f"{type(err).__name__}: {err}") from err
    finally:
        context.rule = None


def attested(findings: list[Finding], design: Design, today: dt.date) -> list[Finding]:
    """A finding that needs an attestation passes when a current one covers it."""
    out = []
    for finding in findings:
        if finding.status is Status.NEEDS_ATTESTATION:
            for att in design.attestations:
                if (att.rule == finding.rule
                        and fnmatch.fnmatchcase(finding.subject, att.subject)
                        and (att.expires is None or att.expires >= today)):
                    finding = replace(finding, status=Status.PASS,
                                      message=f"attested by {att.by} on {att.on}: "
                                              f"{att.evidence}")
                    break
        out.append(finding)
    return out


def _waived(finding: Finding, waivers: list[Waiver], today: dt.date, used: set[int]) -> Finding:
    if finding.status not in (Status.FAIL, Status.NEEDS_DATA, Status.NEEDS_ATTESTATION):
        return finding
    for i, waiver in enumerate(waivers):
        if fnmatch.fnmatchcase(finding.fingerprint, waiver.finding):
            used.add(i)
            if waiver.expires is not None and waiver.expires < today:
                return replace(finding, message=f"{finding.message} (waiver by "
                                                f"{waiver.owner} expired {waiver.expires})")
            return finding.with_status(Status.WAIVED, f"{waiver.reason} — {waiver.owner}"
                                       + (f", until {waiver.expires}" if waiver.expires else ""))
    return finding
