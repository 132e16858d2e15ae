"""Checking a design again: cheap when it is unchanged, never a stale "valid" after a change.

A design remembers a signature of the dump that last passed ``problems()``; any change a
user can make in place must change that signature, so the full check runs again.
"""

from __future__ import annotations

import copy
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import designkit as dk
from designkit.model.io import load_once
from designkit.model.service import Service
from designkit.model.steps import CallStep

ROOT = Path(__file__).resolve().parents[2]


def flash_sale() -> dk.Design:
    return dk.load(ROOT / "templates" / "flash-sale.yaml")


def first_call(design: dk.Design) -> CallStep:
    for _, endpoint in design.endpoints():
        for step in endpoint.steps:
            if isinstance(step, CallStep):
                return step
    raise AssertionError("no call step")


def a_service(design: dk.Design) -> Service:
    return next(c for c in design.components.values() if isinstance(c, Service))


def set_replicas_zero(d: dk.Design) -> None:
    a_service(d).replicas = 0


def append_unknown_call(d: dk.Design) -> None:
    next(e for _, e in d.endpoints()).steps.append(CallStep(call="nowhere"))


def add_workload_entry(d: dk.Design) -> None:
    d.workload["nosuch GET /x"] = 1.0


def remove_a_database(d: dk.Design) -> None:
    del d.components[next(n for n, c in d.components.items() if c.kind == "database")]


def call_target_renamed(d: dk.Design) -> None:
    first_call(d).call = "nowhere"


def timeout_none_then_nan(d: dk.Design) -> None:
    first_call(d).timeout_ms = float("nan")  # its JSON would be `null`, as for None


def nested_dict_entry(d: dk.Design) -> None:
    database = next(c for c in d.components.values() if isinstance(c, dk.Database))
    table = next(iter(database.tables.values()))
    table.indexes.append(dk.Index(columns=["no_such_column"]))


CHANGES: dict[str, Callable[[dk.Design], None]] = {
    "step appended": append_unknown_call,
    "dict entry added": add_workload_entry,
    "dict entry removed": remove_a_database,
    "string field": call_target_renamed,
    "list in a nested dict": nested_dict_entry,
}
# (a wrong value in a field is refused where it is set: test_a_wrong_value_is_refused_where_
# it_is_set; what changes in place without an assignment is checked again by validate)


@pytest.mark.parametrize("change", [set_replicas_zero, timeout_none_then_nan],
                         ids=["out of range", "NaN"])
def test_a_wrong_value_is_refused_where_it_is_set(change: Callable[[dk.Design], None]) -> None:
    design = flash_sale()
    with pytest.raises(dk.DesignError) as info:
        change(design)
    assert len(info.value.problems) == 1
    assert design.validate() is design  # the design kept its valid value


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_after_a_pass_is_checked_again(change: Callable[[dk.Design], None]) -> None:
    design = flash_sale()
    first_call(design).timeout_ms = None
    assert design.validate() is design
    assert design.validate() is design  # the second time from the signature
    change(design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns when dumping a float as an int
        fresh = dk.model.check_data(design.model_dump(mode="json", round_trip=True))[1]
        assert fresh, "the change should make the design invalid"
        assert design.problems() == fresh
        with pytest.raises(dk.DesignError) as info:
            design.validate()
    assert info.value.problems == dk.DesignError(fresh).problems


def test_a_fixed_design_passes_again() -> None:
    design = flash_sale()
    call = first_call(design)
    target = call.call
    call.call = "nowhere"
    assert design.problems()
    call.call = target
    assert design.problems() == []
    assert design.problems() == []


def test_remembering_a_pass_changes_nothing_a_user_sees() -> None:
    checked, unchecked = flash_sale(), flash_sale()
    checked.validate()
    assert checked == unchecked and unchecked == checked
    assert dk.dump(checked) == dk.dump(unchecked)
    assert dict(checked) == dict(unchecked)
    assert repr(checked) == repr(unchecked)
    assert copy.deepcopy(checked) == unchecked
    assert pickle.loads(pickle.dumps(checked)) == unchecked


def test_a_copy_with_a_change_is_checked() -> None:
    design = flash_sale()
    design.validate()
    service_name = next(n for n, c in design.components.items() if isinstance(c, Service))
    broken = design.model_copy(deep=True)
    broken.components[service_name].endpoints.clear()  # type: ignore[union-attr]
    assert broken.problems()  # the workload names endpoints that are gone
    assert design.problems() == []


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per full check (``check_data``) that ``validate()`` runs from here on."""
    from designkit.model import io

    calls: list[int] = []
    real = io.check_data

    def counted(data: object, source: object = None) -> object:
        calls.append(1)
        return real(data, source)  # type: ignore[arg-type]

    monkeypatch.setattr(io, "check_data", counted)
    return calls


def test_a_loaded_design_is_not_checked_again_until_it_changes(
        full_checks: list[int]) -> None:
    design = flash_sale()  # dk.load checked it in full and remembers that it passed
    unremembered = load_once(ROOT / "templates" / "flash-sale.yaml")
    full_checks.clear()
    design.validate()
    assert full_checks == []
    unremembered.validate()
    assert full_checks == [1]
    a_service(design).replicas += 1
    design.validate()
    assert full_checks == [1, 1]


def test_a_design_with_dates_is_digested_too(full_checks: list[int]) -> None:
    import datetime as dt

    design = dk.load(ROOT / "templates" / "payments-saga.yaml")
    assert design.waivers and design.waivers[0].expires is not None
    full_checks.clear()
    design.validate()
    assert full_checks == []  # the dates are digested from the JSON-mode dump
    design.waivers[0].expires = dt.date(2031, 1, 31)
    design.validate()
    assert full_checks == [1]


def test_dates_are_digested_without_a_whole_json_dump() -> None:
    import datetime as dt

    from designkit.model.digest import content_digest

    design = dk.load(ROOT / "templates" / "payments-saga.yaml")
    digest, data = content_digest(design)
    assert digest is not None and data is None  # only the dated parts in JSON mode
    design.waivers[0].expires = dt.date(2031, 1, 31)
    moved, _ = content_digest(design)
    assert moved not in (None, digest)
    design.waivers[0].expires = dk.load(
        ROOT / "templates" / "payments-saga.yaml").waivers[0].expires
    assert content_digest(design)[0] == digest  # the same content, the same digest
    design.attestations.append(dk.Attestation(rule="DK-SEC-001", by="ana",
                                              date=dt.date(2026, 11, 1), evidence="sqlc"))
    attested, data = content_digest(design)
    assert data is None and attested not in (None, digest)
    design.attestations[-1].date = dt.date(2026, 11, 2)
    assert content_digest(design)[0] not in (None, digest, attested)
