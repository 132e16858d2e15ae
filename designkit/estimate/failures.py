"""What rolls back when a saga step fails — in numbers, at the design's workload.

For each saga and each of its steps: how often the step fails (its action endpoint's error
ratio, :mod:`designkit.estimate.errors`, under the scenario), what happens then — before
the pivot, the completed steps are compensated in reverse order; after it, the step is
retried forward — and, at the workload, how many sagas start, complete and roll back per
second, how many compensation calls each compensation endpoint takes, and what is left
undone: a completed step with no compensation, or a compensation that itself fails (a
reservation held, money taken and not refunded).

The walk's rules:

* a saga starts at the rate its first step's action endpoint runs (the orchestrator calls
  it once per saga);
* step ``k`` is reached when every step before it succeeded — or, after the pivot, always
  (the saga only moves forward once past it);
* a step at or before the pivot that fails rolls the saga back: each completed step with a
  compensation is compensated once, last first; the failed step's own local transaction
  undoes itself;
* a step after the pivot that fails is retried until it succeeds (the saga completes);
* a compensation fails at its endpoint's error ratio: its step's effect then stays.

Example:
    >>> import designkit as dk
    >>> walk = dk.failure_walk(dk.template("payments-saga"), failing={"payment-provider": 0.3})
    >>> saga = walk["place-order"]
    >>> round(saga.started_per_s), round(saga.rolled_back_per_s, 2)
    (100, 2.73)
    >>> saga.compensation_per_s
    {'stock-svc DELETE /v1/reservations/{id}': 2.731073148001313}
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from designkit.errors import DesignError, Problem
from designkit.estimate.arguments import suggest
from designkit.estimate.errors import errors_of
from designkit.estimate.scenarios import Scenario
from designkit.model.design import Design
from designkit.model.problems import format_path

__all__ = ["FailureWalk", "SagaWalk", "StepOutcome", "failure_walk"]


@dataclass(frozen=True)
class StepOutcome:
    """One saga step: how often it is reached and fails, and what its failure sets off.

    Attributes:
        name: The step's name.
        action: Its action endpoint.
        error_ratio: The chance one run of the action fails.
        errors: That chance by cause (as the endpoint's).
        reached_per_s: Sagas that run this step, per second.
        failed_per_s: Of those, the ones whose run fails.
        on_failure: ``"compensate"`` (the steps in ``compensates``, in that order) or
            ``"retry"`` (after the pivot: retried until it succeeds).
        compensates: The completed steps compensated when this one fails, last first.
        left_undone: Completed steps with no compensation, left done when this one fails.
    """

    name: str
    action: str
    error_ratio: float
    errors: Mapping[str, float]
    reached_per_s: float
    failed_per_s: float
    on_failure: str
    compensates: tuple[str, ...] = ()
    left_undone: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "action": self.action, "error_ratio": self.error_ratio,
                "errors": dict(self.errors), "reached_per_s": self.reached_per_s,
                "failed_per_s": self.failed_per_s, "on_failure": self.on_failure,
                "compensates": list(self.compensates), "left_undone": list(self.left_undone)}


@dataclass(frozen=True)
class SagaWalk:
    """One saga's failure walk at the workload.

    Attributes:
        saga: Its name.
        pivot: The pivot step's name (``None``: every step can be compensated).
        started_per_s: Sagas started per second.
        completed_per_s: Sagas that complete (past the pivot, or every step done).
        rolled_back_per_s: Sagas rolled back by a failing step at or before the pivot.
        steps: Each step's outcome, in order.
        compensation_per_s: Calls per second of each compensation endpoint.
        stuck_per_s: Per effect left behind (``"reserve-stock not undone: …"``), per
            second: completed steps with no compensation, and compensations that fail.
    """

    saga: str
    pivot: str | None
    started_per_s: float
    completed_per_s: float
    rolled_back_per_s: float
    steps: tuple[StepOutcome, ...]
    compensation_per_s: Mapping[str, float] = field(default_factory=dict)
    stuck_per_s: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"saga": self.saga, "pivot": self.pivot, "started_per_s": self.started_per_s,
                "completed_per_s": self.completed_per_s,
                "rolled_back_per_s": self.rolled_back_per_s,
                "steps": [s.to_dict() for s in self.steps],
                "compensation_per_s": dict(self.compensation_per_s),
                "stuck_per_s": dict(self.stuck_per_s)}

    def lines(self) -> Iterator[str]:
        """The walk as text, a line each."""
        pivot = f", pivot {self.pivot}" if self.pivot else ", no pivot"
        yield (f"saga {self.saga}{pivot}: {_rate(self.started_per_s)} started, "
               f"{_rate(self.completed_per_s)} complete, "
               f"{_rate(self.rolled_back_per_s)} rolled back")
        for i, step in enumerate(self.steps, start=1):
            why = ", ".join(f"{c} {_share(r)}" for c, r in step.errors.items())
            head = (f"  {i}. {step.name} ({step.action}): fails {_share(step.error_ratio)}"
                    f"{f' ({why})' if why else ''}, {_rate(step.failed_per_s)}")
            yield head
            if step.on_failure == "retry":
                yield "     if it fails: retried until it succeeds (past the pivot)"
            elif step.compensates or step.left_undone:
                then = ", then ".join(step.compensates) or "nothing"
                yield f"     if it fails: compensate {then}"
                for left in step.left_undone:
                    yield f"     … {left} has no compensation: it stays done"
            else:
                yield "     if it fails: nothing to undo (the first step)"
        for endpoint, rate in self.compensation_per_s.items():
            yield f"  compensation calls: {endpoint} {_rate(rate)}"
        for what, rate in self.stuck_per_s.items():
            yield f"  left behind: {what} {_rate(rate)}"


class FailureWalk(Mapping[str, SagaWalk]):
    """The failure walks of a design's sagas, by saga name.

    Example:
        >>> import designkit as dk
        >>> walk = dk.failure_walk(dk.template("payments-saga"))
        >>> list(walk), walk["place-order"].pivot
        (['place-order'], 'charge')
    """

    def __init__(self, design: str, scenario: str, walks: Mapping[str, SagaWalk]) -> None:
        self.design = design
        self.scenario = scenario
        self._walks = dict(walks)

    def __getitem__(self, name: str) -> SagaWalk:
        return self._walks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._walks)

    def __len__(self) -> int:
        return len(self._walks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"design": self.design, "scenario": self.scenario,
                "sagas": {n: w.to_dict() for n, w in self._walks.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        head = f"failure walk of {self.design!r} ({self.scenario})"
        if not self._walks:
            return f"{head}: the design has no saga"
        return "\n".join([head, "", *(line for w in self._walks.values()
                                      for line in [*w.lines(), ""])]).rstrip()

    def to_markdown(self) -> str:
        """Markdown: a table of the steps per saga, then what is left behind."""
        out = [f"# Failure walk of {self.design} ({self.scenario})", ""]
        for walk in self._walks.values():
            out += [f"## {walk.saga}", "",
                    f"{_rate(walk.started_per_s)} started, {_rate(walk.completed_per_s)} "
                    f"complete, {_rate(walk.rolled_back_per_s)} rolled back.", "",
                    "| step | action | fails | failures | if it fails |",
                    "|---|---|---:|---:|---|"]
            for step in walk.steps:
                then = ("retry until it succeeds" if step.on_failure == "retry"
                        else "compensate " + ", then ".join(step.compensates)
                        if step.compensates else "nothing to undo")
                out.append(f"| {step.name} | `{step.action}` | {_share(step.error_ratio)} | "
                           f"{_rate(step.failed_per_s)} | {then} |")
            out.append("")
            out += [f"* compensation calls: `{e}` {_rate(r)}"
                    for e, r in walk.compensation_per_s.items()]
            out += [f"* left behind: {w} {_rate(r)}" for w, r in walk.stuck_per_s.items()]
            out.append("")
        return "\n".join(out)


def failure_walk(design: Design, saga: str | None = None, scenario: Scenario | None = None,
                 **changes: Any) -> FailureWalk:
    """Walk every saga of ``design`` (or ``saga``) through the failure of each step, at
    the design's workload under ``scenario`` (or a scenario of ``changes``:
    ``failing={...}``, ``down=(...)``, ``slow={...}``, ``scale=…``).

    Raises:
        DesignError: ``saga`` is not a saga of the design.

    Example:
        >>> import designkit as dk
        >>> walk = dk.failure_walk(dk.template("payments-saga"), down=("payment-provider",))
        >>> round(walk["place-order"].completed_per_s, 6)
        0.0
    """
    from designkit.estimate.api import prepare
    from designkit.estimate.solve import flows_of

    if saga is not None and saga not in design.sagas:
        raise DesignError([Problem(format_path(("sagas", saga)), f"unknown saga {saga!r}",
                                   suggest(saga, design.sagas))], source=design.name)
    scenario = scenario if scenario is not None else Scenario(**changes)
    _, program, load, total, scenario = prepare(design, None, scenario, 0.0, 1.0)
    rates = flows_of(program, load).endpoint_rate * total * 1000.0  # per second
    errors = errors_of(program)
    names = [saga] if saga is not None else list(design.sagas)
    walks = {}
    for name in names:
        steps = design.sagas[name].steps
        index = [program.index[s.action] for s in steps]
        ratios = [errors[i].ratio for i in index]
        pivot = next((k for k, s in enumerate(steps) if s.pivot), None)
        last = len(steps) - 1 if pivot is None else pivot  # failures there roll back
        started = float(rates[index[0]]) if steps else 0.0
        outcomes: list[StepOutcome] = []
        compensation: dict[str, float] = {}  # calls/s by compensation endpoint
        stuck: dict[str, float] = {}  # effects left behind, per second
        reach = started
        for k, step in enumerate(steps):
            failed = reach * ratios[k]
            if k <= last:
                done = [steps[j] for j in range(k - 1, -1, -1)]
                undo = tuple(s.name for s in done if s.compensation)
                left = tuple(s.name for s in done if not s.compensation)
                for s in done:
                    if s.compensation:
                        compensation[s.compensation] = compensation.get(s.compensation, 0.0) \
                            + failed
                    elif failed > 0:
                        what = f"{s.name} not undone (no compensation)"
                        stuck[what] = stuck.get(what, 0.0) + failed
                outcomes.append(StepOutcome(step.name, step.action, ratios[k],
                                            errors[index[k]].to_dict(), reach, failed,
                                            "compensate", undo, left))
                reach -= failed
            else:
                outcomes.append(StepOutcome(step.name, step.action, ratios[k],
                                            errors[index[k]].to_dict(), reach, failed,
                                            "retry"))
        for s in steps:  # a compensation that fails leaves its step's effect in place
            calls = compensation.get(s.compensation or "", 0.0)
            if s.compensation and calls > 0:
                fails = errors[program.index[s.compensation]].ratio
                if fails > 0:
                    stuck[f"{s.name} not undone ({s.compensation} fails)"] = calls * fails
        walks[name] = SagaWalk(name, steps[pivot].name if pivot is not None else None,
                               started, reach, started - reach, tuple(outcomes),
                               compensation, stuck)
    return FailureWalk(design.name, scenario.describe(), walks)


def _rate(per_s: float) -> str:
    return f"{per_s:,.3g}/s"


def _share(ratio: float) -> str:
    return f"{ratio * 100:.2g}%" if 0 < ratio < 0.1 else f"{ratio:.0%}"
