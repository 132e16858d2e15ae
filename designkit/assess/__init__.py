"""The checklist review: rules, findings, waivers, attestations and reports."""

from __future__ import annotations

from designkit.assess.assessment import Assessment
from designkit.assess.engine import assess
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Mode, Reference, Rule, Severity, rule

__all__ = ["Assessment", "Finding", "Mode", "Reference", "Rule", "Severity", "Status", "assess",
           "rule"]
