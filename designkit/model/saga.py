"""Sagas: multi-service transactions made of steps and their compensations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from designkit.model.base import Strict
from designkit.model.resilience import Retries

__all__ = ["Saga", "SagaStep"]


class SagaStep(Strict):
    """One local transaction of a saga.

    Args:
        name: Step name, unique in the saga.
        action: The endpoint that performs it, ``"svc METHOD /path"``.
        compensation: The endpoint that undoes it, if any.
        pivot: The point of no return: steps after it must not fail (they are retried).
        retries: How the orchestrator retries the step when its action fails — what a step
            after the pivot relies on to end up done.

    Example:
        >>> SagaStep(name="charge", action="payments-svc POST /charges", pivot=True).pivot
        True
    """

    name: str
    action: str
    compensation: str | None = None
    pivot: bool = False
    retries: Retries | None = None


class Saga(Strict):
    """A saga: steps run in order; on failure, the compensations of completed steps run
    in reverse order.

    Example:
        >>> saga = Saga()
        >>> _ = saga.step("reserve", "stock-svc POST /reservations",
        ...               compensation="stock-svc DELETE /reservations/{id}")
        >>> [s.name for s in saga.steps]
        ['reserve']
    """

    description: str | None = None
    coordination: Literal["orchestration", "choreography"] = "orchestration"
    steps: list[SagaStep] = Field(default_factory=list)

    def step(self, name: str, action: str, *, compensation: str | None = None,
             pivot: bool = False, retries: Retries | dict[str, object] | None = None) -> Saga:
        """Declare step ``name`` (replacing one of that name in place); returns the saga."""
        new = SagaStep.model_validate({"name": name, "action": action,
                                       "compensation": compensation, "pivot": pivot,
                                       **({"retries": retries} if retries is not None else {})})
        for i, old in enumerate(self.steps):
            if old.name == name:
                self.steps[i] = new
                return self
        self.steps.append(new)
        return self
