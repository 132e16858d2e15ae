"""The rules decide the same however they are run: the checks that keep their facts on the
context (steps walked once, stations looked up by id, what-ifs solved on one compiled
program, waivers indexed) against stored expectations, against each rule run on its own,
and the shortcuts against the slow paths they replace.

Timing is not tested here: ``benchmarks/bench_scale.py`` measures it. To store new
expectations after a deliberate change of findings, run ``python tests/assess/test_scale.py``
and paste its output over ``EXPECTED``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import designkit as dk
from designkit.assess.catalogue import builtin_rules
from designkit.assess.context import Context
from designkit.assess.engine import _Patterns
from designkit.assess.finding import Finding
from designkit.flow.build import walk_steps

TODAY = dt.date(2026, 1, 1)
"""Waivers and attestations expire against a fixed day."""

# Per template and rule, a digest of the rule's findings (rule, status, severity, subject,
# message, remediation, evidence, waiver) as the rules gave them before their facts were
# kept on the context.
EXPECTED: dict[str, dict[str, str]] = {
    'dashboard-fixed': {
        'DK-API-001': '2f4f67a26f2fb6a7',
        'DK-API-002': '7a6b661a06f43f31',
        'DK-API-003': 'b22ca8a49840038d',
        'DK-API-004': 'f3d867bfb630ef4e',
        'DK-API-005': 'b0ff9acc10c191cb',
        'DK-API-006': '6ef470015919f3b3',
        'DK-API-007': '6caf4e4b83b89be0',
        'DK-API-008': '47e6411870e05d3a',
        'DK-BE-001': 'ce6404fd6810f2d8',
        'DK-BE-002': 'a32ed61e614c193d',
        'DK-BE-003': '0b669770ab27f647',
        'DK-BE-004': '1078489e7b934b12',
        'DK-BE-005': '93aac30e115683bf',
        'DK-BE-006': '56f00dbe82a50823',
        'DK-BE-007': '011dd5e5ce82d39d',
        'DK-BE-008': '9cf579a13b93c8f7',
        'DK-BE-009': 'd0462ea952cc179c',
        'DK-DB-001': 'acc109b72cce0410',
        'DK-DB-002': '90d759d4e72053b3',
        'DK-DB-003': '94f33eed7029e2f6',
        'DK-DB-004': '71ab41081146c4f1',
        'DK-DB-005': 'd28925692bc96efb',
        'DK-DB-006': '111b465fbedff51f',
        'DK-DB-007': 'b202760bf9622cf6',
        'DK-DB-008': '50826c15d30f7032',
        'DK-PERF-001': '22d12af89ea7b600',
        'DK-PERF-002': '2580f7f0b65f6978',
        'DK-PERF-003': '191240b05e75d811',
        'DK-PERF-004': 'a0cf048e17bfd310',
        'DK-PERF-005': '04969a3a6a705096',
        'DK-PERF-006': '81a61624c893e35a',
        'DK-PERF-007': '827ab4a6e5edeff3',
        'DK-PERF-008': 'bb62eeaddc74ac95',
        'DK-PERF-009': 'b925f2621bb3e5ee',
        'DK-RES-001': '0adfe1a910a5affb',
        'DK-RES-002': '89360b2879c6afc4',
        'DK-RES-003': '04cbe78c0204a786',
        'DK-RES-004': '5f2097447382f9d6',
        'DK-RES-005': '5aab27d2d06d5615',
        'DK-RES-006': '51000abd56b0bec1',
        'DK-RES-007': 'f17a3434b0ce76ad',
        'DK-RES-008': '265880db2e273fe3',
        'DK-RES-009': '65fb23ec1e4df569',
        'DK-SEC-001': 'd46e8e9ff4aba39a',
        'DK-SEC-002': 'fd32efb877a5b95f',
        'DK-SEC-003': 'c809d22283bcb652',
        'DK-SEC-004': '1b5e35ab1ff0e309',
        'DK-SEC-005': 'd1658ed8b98db3b4',
        'DK-SEC-006': '8aebe80b812375da',
        'DK-SEC-007': '2c3a7842a6ecf4bf',
        'DK-SEC-008': '6ab21b59c93e7c8c',
        'DK-SEC-009': '6487a4bf1ce2b7ba',
    },
    'dashboard-slow': {
        'DK-API-001': '2f4f67a26f2fb6a7',
        'DK-API-002': '7a6b661a06f43f31',
        'DK-API-003': 'b22ca8a49840038d',
        'DK-API-004': 'f3d867bfb630ef4e',
        'DK-API-005': 'b0ff9acc10c191cb',
        'DK-API-006': '6ef470015919f3b3',
        'DK-API-007': '6caf4e4b83b89be0',
        'DK-API-008': '47e6411870e05d3a',
        'DK-BE-001': 'ce6404fd6810f2d8',
        'DK-BE-002': '7275dd9b1cd46312',
        'DK-BE-003': '0b669770ab27f647',
        'DK-BE-004': '1078489e7b934b12',
        'DK-BE-005': '93aac30e115683bf',
        'DK-BE-006': '56f00dbe82a50823',
        'DK-BE-007': 'dbafe57f8a8382d0',
        'DK-BE-008': '9a24865c81e73e8d',
        'DK-BE-009': 'd0462ea952cc179c',
        'DK-DB-001': 'acc109b72cce0410',
        'DK-DB-002': '545e1a192fd91e02',
        'DK-DB-003': '2204d2c22ba21313',
        'DK-DB-004': '71ab41081146c4f1',
        'DK-DB-005': 'd28925692bc96efb',
        'DK-DB-006': '111b465fbedff51f',
        'DK-DB-007': 'b202760bf9622cf6',
        'DK-DB-008': '50826c15d30f7032',
        'DK-PERF-001': '2310c2c8055dc439',
        'DK-PERF-002': '5dc691e159803cf8',
        'DK-PERF-003': '7520ba39eb01001d',
        'DK-PERF-004': '4bd2c5e3a1a41c89',
        'DK-PERF-005': '04969a3a6a705096',
        'DK-PERF-006': '0c798c117096816b',
        'DK-PERF-007': '827ab4a6e5edeff3',
        'DK-PERF-008': 'd054f2a42e28c41c',
        'DK-PERF-009': 'ce736f013a7085e2',
        'DK-RES-001': '5ee7cb273454be76',
        'DK-RES-002': '188894c002b163e9',
        'DK-RES-003': '04cbe78c0204a786',
        'DK-RES-004': 'f8dd767f5719f0c0',
        'DK-RES-005': '5aab27d2d06d5615',
        'DK-RES-006': '51000abd56b0bec1',
        'DK-RES-007': 'f17a3434b0ce76ad',
        'DK-RES-008': '265880db2e273fe3',
        'DK-RES-009': '65fb23ec1e4df569',
        'DK-SEC-001': 'd46e8e9ff4aba39a',
        'DK-SEC-002': 'fd32efb877a5b95f',
        'DK-SEC-003': 'c809d22283bcb652',
        'DK-SEC-004': '1b5e35ab1ff0e309',
        'DK-SEC-005': 'd1658ed8b98db3b4',
        'DK-SEC-006': '8aebe80b812375da',
        'DK-SEC-007': '2c3a7842a6ecf4bf',
        'DK-SEC-008': '6ab21b59c93e7c8c',
        'DK-SEC-009': '6487a4bf1ce2b7ba',
    },
    'flash-sale': {
        'DK-API-001': 'eb7a00e03be8b45c',
        'DK-API-002': 'cac3ced2fba49390',
        'DK-API-003': 'b22ca8a49840038d',
        'DK-API-004': 'cd911c4d5e30e364',
        'DK-API-005': '6795e48f56f20976',
        'DK-API-006': '06da220242d072c2',
        'DK-API-007': '6caf4e4b83b89be0',
        'DK-API-008': '47e6411870e05d3a',
        'DK-BE-001': 'aa0cc4820edd6819',
        'DK-BE-002': 'e9c1dbd343ea9044',
        'DK-BE-003': 'ab493133cc329035',
        'DK-BE-004': 'be604692e10628ce',
        'DK-BE-005': '333f4fa8ef5f13a8',
        'DK-BE-006': 'f741a83d61c05f59',
        'DK-BE-007': '6d01ad8959b33105',
        'DK-BE-008': '7acb97642d1bc635',
        'DK-BE-009': 'd0462ea952cc179c',
        'DK-DB-001': '00278f47e8fbaa32',
        'DK-DB-002': '870098d534ba9bfe',
        'DK-DB-003': '95f163d1d448dcac',
        'DK-DB-004': '46f9557eca040d5f',
        'DK-DB-005': '2fd7a7a347924738',
        'DK-DB-006': '72a1125c498693d1',
        'DK-DB-007': 'b202760bf9622cf6',
        'DK-DB-008': 'e961bc2827736355',
        'DK-PERF-001': '2310c2c8055dc439',
        'DK-PERF-002': '0c6dedda60d81f64',
        'DK-PERF-003': 'd9334cf2eaf229a0',
        'DK-PERF-004': '1e463dd634cee63d',
        'DK-PERF-005': '7ffb7a1955928cab',
        'DK-PERF-006': '26243db1fc647645',
        'DK-PERF-007': '640e829885879838',
        'DK-PERF-008': '417e2d124457dfc4',
        'DK-PERF-009': '17e4569ee3e7fe9d',
        'DK-RES-001': '1caa6d995494effc',
        'DK-RES-002': '1b0fb232bfeabd51',
        'DK-RES-003': '6cec00bcb48a522b',
        'DK-RES-004': 'be73f9d32794295a',
        'DK-RES-005': '5aecf7f92bcf8587',
        'DK-RES-006': 'ec625c7aebd891e9',
        'DK-RES-007': '91672c0f0e5a6564',
        'DK-RES-008': '265880db2e273fe3',
        'DK-RES-009': '2afad25b755a0c1e',
        'DK-SEC-001': '6fa736b46dc3b784',
        'DK-SEC-002': 'fd32efb877a5b95f',
        'DK-SEC-003': '1a9d0c665c492e46',
        'DK-SEC-004': '1b5e35ab1ff0e309',
        'DK-SEC-005': 'd1658ed8b98db3b4',
        'DK-SEC-006': 'cda7a8829b7333cf',
        'DK-SEC-007': '5baf4aa95087ec39',
        'DK-SEC-008': '5bf8b0f131149636',
        'DK-SEC-009': 'f147165c20fe7f67',
    },
    'payments-monolith': {
        'DK-API-001': 'bf66adddb720d55e',
        'DK-API-002': 'f26ae31afa1a3f26',
        'DK-API-003': 'b22ca8a49840038d',
        'DK-API-004': '5d8d9e4216bfebdd',
        'DK-API-005': '50bfb509ef3f18ee',
        'DK-API-006': '6ef470015919f3b3',
        'DK-API-007': '199c7786baec1486',
        'DK-API-008': '08cbf023b9ade7da',
        'DK-BE-001': '5d64d197b74d9d33',
        'DK-BE-002': 'c6462febfb6abbdc',
        'DK-BE-003': '7e902139d63b244a',
        'DK-BE-004': '7460651fb620e325',
        'DK-BE-005': '8a882a22f6060228',
        'DK-BE-006': '0e5ec712efa97698',
        'DK-BE-007': 'fee6c72e77567cd6',
        'DK-BE-008': '245d6e121889c27b',
        'DK-BE-009': 'a47fcefa2d3fd400',
        'DK-DB-001': '469b312ffb326e5b',
        'DK-DB-002': '2a6f4e0718702909',
        'DK-DB-003': 'df77756d08db1a7f',
        'DK-DB-004': '429da24502c9238c',
        'DK-DB-005': '2a0ff6ac965e836d',
        'DK-DB-006': 'a90e0a9c0da1a6f8',
        'DK-DB-007': 'b202760bf9622cf6',
        'DK-DB-008': '50826c15d30f7032',
        'DK-PERF-001': '2310c2c8055dc439',
        'DK-PERF-002': '9e8d6730bce2efa4',
        'DK-PERF-003': '6676f91fff8bd68b',
        'DK-PERF-004': '0fb135204fda8004',
        'DK-PERF-005': '3fcbc0bb4d68c8d9',
        'DK-PERF-006': '0c798c117096816b',
        'DK-PERF-007': 'd0b43ef577fd8373',
        'DK-PERF-008': '3347560098fd1e46',
        'DK-PERF-009': '9bddcdb3e55a0d6e',
        'DK-RES-001': 'e86388a87d96427f',
        'DK-RES-002': '188894c002b163e9',
        'DK-RES-003': '2e469d38bad8b1f7',
        'DK-RES-004': '80149d91e24a339c',
        'DK-RES-005': '5aab27d2d06d5615',
        'DK-RES-006': '51000abd56b0bec1',
        'DK-RES-007': '80f4526ff51cd2d7',
        'DK-RES-008': 'a2d93820cc9015a9',
        'DK-RES-009': 'ea0b167424b11ae9',
        'DK-SEC-001': 'ee1954a58ba8ee54',
        'DK-SEC-002': 'fd32efb877a5b95f',
        'DK-SEC-003': '31b4fa7998de2b0e',
        'DK-SEC-004': '1b5e35ab1ff0e309',
        'DK-SEC-005': 'd1658ed8b98db3b4',
        'DK-SEC-006': 'd97a17c9860090d7',
        'DK-SEC-007': '39e7e7af30ea790c',
        'DK-SEC-008': '6ab21b59c93e7c8c',
        'DK-SEC-009': 'd9c5c746f4afb8e0',
    },
    'payments-saga': {
        'DK-API-001': '195a0b1e86906b3e',
        'DK-API-002': '7762c65436c95c59',
        'DK-API-003': 'b22ca8a49840038d',
        'DK-API-004': 'e42340863e8672be',
        'DK-API-005': '86d0ef5c36eb8518',
        'DK-API-006': '06f91ef580c20841',
        'DK-API-007': '0a9922addda9e4c9',
        'DK-API-008': 'f308aac1103982af',
        'DK-BE-001': 'dbef5311d7722e59',
        'DK-BE-002': 'a0041e1a6bf924dd',
        'DK-BE-003': 'faef3c9b187f9c45',
        'DK-BE-004': '13b4ca772b033014',
        'DK-BE-005': '0381bc9433f13642',
        'DK-BE-006': 'ad36be4bfc507032',
        'DK-BE-007': 'e4a010cb4bfc5b0e',
        'DK-BE-008': 'e77728d2780b7495',
        'DK-BE-009': '4571efc800e2f8e5',
        'DK-DB-001': '14756e4279568265',
        'DK-DB-002': 'e06315b5a99a5cb5',
        'DK-DB-003': 'df77756d08db1a7f',
        'DK-DB-004': 'dcd45d8f4ccd2c2a',
        'DK-DB-005': 'c06c78165f167d38',
        'DK-DB-006': '8baea8faaa35e92b',
        'DK-DB-007': 'b202760bf9622cf6',
        'DK-DB-008': '18cdaf7e8cae0038',
        'DK-PERF-001': '2310c2c8055dc439',
        'DK-PERF-002': 'f6cbf94e1202b387',
        'DK-PERF-003': '16f38aead91b0a33',
        'DK-PERF-004': '84f74abb7c9b158a',
        'DK-PERF-005': '149640fd54bfe5c5',
        'DK-PERF-006': '0c798c117096816b',
        'DK-PERF-007': 'e280614cf9ead856',
        'DK-PERF-008': '77d604be68fa5cb9',
        'DK-PERF-009': '45a7debeaeac6d49',
        'DK-RES-001': '45fa678b5defb1fd',
        'DK-RES-002': '188894c002b163e9',
        'DK-RES-003': 'dc4c476c5fac0488',
        'DK-RES-004': '1cadcafbcd328d17',
        'DK-RES-005': '3b71e80f300d817c',
        'DK-RES-006': '51000abd56b0bec1',
        'DK-RES-007': 'c5b2ceed483f6ef0',
        'DK-RES-008': 'e6f7ffc45ba903c0',
        'DK-RES-009': '4f7c73327dac80f5',
        'DK-SEC-001': '754fb764f70b46de',
        'DK-SEC-002': 'fd32efb877a5b95f',
        'DK-SEC-003': '31b4fa7998de2b0e',
        'DK-SEC-004': '1b5e35ab1ff0e309',
        'DK-SEC-005': 'd1658ed8b98db3b4',
        'DK-SEC-006': '5b9b3b46c1d9b0ae',
        'DK-SEC-007': '31bebec24bb3688f',
        'DK-SEC-008': 'a66f75fdf3511aaa',
        'DK-SEC-009': '40a15f58235be7a0',
    },
}


def digest(findings: Iterable[Finding]) -> str:
    """A short digest of findings, every field included, in order."""
    h = hashlib.sha256()
    for f in findings:
        h.update(repr((f.rule, f.status.value, f.severity.value, f.subject, f.message,
                       f.remediation, f.evidence, f.waiver)).encode())
    return h.hexdigest()[:16]


def digests(design: dk.Design) -> dict[str, str]:
    """Per rule, the digest of its findings in a review of ``design``."""
    by_rule: dict[str, list[Finding]] = {}
    for f in dk.assess(design, today=TODAY).findings:
        by_rule.setdefault(f.rule, []).append(f)
    return {rule: digest(found) for rule, found in sorted(by_rule.items())}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_template_gives_the_stored_findings(name: str) -> None:
    got = digests(dk.template(name))
    want = EXPECTED[name]
    changed = sorted(r for r in want.keys() | got.keys() if want.get(r) != got.get(r))
    assert changed == [], (f"{name}: the findings of {', '.join(changed)} changed; if on "
                           "purpose, store new ones: python tests/assess/test_scale.py")


def test_every_template_has_stored_findings() -> None:
    assert set(EXPECTED) == set(dk.templates())


@pytest.mark.parametrize("name", sorted(dk.templates()))
def test_a_rule_run_alone_decides_as_in_a_whole_review(name: str) -> None:
    """Facts a rule keeps on the context (or takes from a rule run before it, as the
    OWASP roll-up does) never change another rule's findings."""
    design = dk.template(name)
    whole: dict[str, list[Finding]] = {}
    for f in dk.assess(design, today=TODAY).findings:
        whole.setdefault(f.rule, []).append(f)
    for rule in builtin_rules():
        alone = list(dk.assess(design, rules=[rule], today=TODAY).findings)
        assert digest(alone) == digest(whole[rule.id]), rule.id


@pytest.mark.parametrize("name", sorted(dk.templates()))
def test_stations_read_by_id_are_the_estimates(name: str) -> None:
    design = dk.template(name)
    estimate = dk.estimate(design)
    for component in estimate.components.values():
        for sid in component.stations:
            assert Context.station(estimate, sid) == estimate.station(sid)
    assert Context.station(estimate, "nowhere cpu") is None


def test_a_what_if_is_the_estimate_under_that_workload() -> None:
    design = dk.template("flash-sale")
    ctx = Context(design, design.policy)
    base = dict(design.workload)
    moved = {k: v for k, v in base.items() if k != "checkout-api POST /v1/orders"}
    moved["checkout-api POST /v1/orders-locked"] = base["checkout-api POST /v1/orders"]
    for workload in (base, moved, {**base, "checkout-api POST /v1/orders": 50.0}):
        estimate = dk.estimate(design, workload=workload)
        for component in estimate.components.values():
            for sid in component.stations:
                assert ctx.what_if(workload, sid) == estimate.station(sid), sid
    assert ctx.what_if(base, "nowhere lock") is None


def test_the_context_walks_every_step_once_in_file_order() -> None:
    design = dk.template("payments-saga")
    ctx = Context(design, design.policy)
    walked = [(ref, path, step) for ref, endpoint in design.endpoints()
              for path, step in walk_steps(endpoint.steps, ("components", ref.service,
                                                           "endpoints", ref.key, "steps"))]
    assert [(s.ref, s.path, s.step) for s in ctx.steps] == walked
    assert ctx.endpoints == list(design.endpoints())
    assert ctx.of_kind("queue") == design.of_kind("queue")


_GLOB = st.text(alphabet="ab.@-*?[]!", max_size=6)


@given(st.lists(_GLOB, max_size=6), st.text(alphabet="ab.@-[]*", max_size=6))
def test_indexed_patterns_find_the_first_that_matches(patterns: list[str], text: str) -> None:
    want = next((i for i, p in enumerate(patterns) if fnmatch.fnmatchcase(text, p)), None)
    assert _Patterns(patterns).first(text) == want


def test_the_first_waiver_in_file_order_wins() -> None:
    design = dk.template("dashboard-slow")
    design.waivers = [
        dk.Waiver(finding="DK-BE-002@*", reason="first", owner="a"),
        dk.Waiver(finding="DK-BE-002@components.dashboard-api.endpoints.*", reason="second",
                  owner="b"),
    ]
    found = [f for f in dk.assess(design, today=TODAY).findings
             if f.rule == "DK-BE-002" and f.status is dk.Status.WAIVED]
    assert found and {f.waiver for f in found} == {"first — a"}
    assessment = dk.assess(design, today=TODAY)
    assert [w.reason for w in assessment.unused_waivers] == ["second"]


if __name__ == "__main__":  # print the expectations of the rules as they are now
    print("EXPECTED: dict[str, dict[str, str]] = {")
    for template in sorted(dk.templates()):
        print(f"    {template!r}: {{")
        for rule_id, value in digests(dk.template(template)).items():
            print(f"        {rule_id!r}: {value!r},")
        print("    },")
    print("}")
