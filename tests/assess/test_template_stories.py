"""The templates tell their story: the 'before' designs fail the rules the story is about,
the 'after' designs pass them, and a deliberate trade-off carries a waiver."""

from __future__ import annotations

import pytest

import designkit as dk

STORIES = {
    # before, after, the rules the story is about
    "dashboard": ("dashboard-slow", "dashboard-fixed", {"DK-BE-002", "DK-PERF-002",
                                                        "DK-DB-002"}),
    "payments": ("payments-monolith", "payments-saga", {"DK-RES-003", "DK-API-007",
                                                         "DK-API-008", "DK-RES-004"}),
}


@pytest.mark.parametrize("story", sorted(STORIES))
def test_before_fails_and_after_passes(story: str) -> None:
    before, after, rules = STORIES[story]
    failed_before = {f.rule for f in dk.assess(dk.template(before)).failed()}
    assert rules <= failed_before
    assessed = dk.assess(dk.template(after))
    assert assessed.failed() == []
    for rule in rules:
        statuses = {f.status for f in assessed.rule(rule)}
        assert dk.Status.PASS in statuses and dk.Status.FAIL not in statuses


@pytest.mark.parametrize("name", ["dashboard-fixed", "payments-saga", "flash-sale"])
def test_trade_offs_carry_a_used_waiver(name: str) -> None:
    assessed = dk.assess(dk.template(name))
    waived = [f for f in assessed.findings if f.status is dk.Status.WAIVED]
    assert waived and all(f.waiver for f in waived)
    assert assessed.unused_waivers == ()
    audit = dk.assess(dk.template(name), audit=True)
    assert {f.fingerprint for f in waived} <= {f.fingerprint for f in audit.failed()}
