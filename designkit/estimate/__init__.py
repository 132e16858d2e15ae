"""The estimator: queueing formulas, latency distributions, capacity and scenarios."""

from __future__ import annotations

from designkit.estimate.api import estimate
from designkit.estimate.arguments import ArgumentError
from designkit.estimate.capacity import RetryStorm
from designkit.estimate.failures import FailureWalk, SagaWalk, StepOutcome, failure_walk
from designkit.estimate.growth import Growth, growth
from designkit.estimate.result import (
    ComponentEstimate,
    EndpointEstimate,
    Estimate,
    NotFoundError,
    StationEstimate,
)
from designkit.estimate.scenarios import Scenario
from designkit.estimate.simulate import simulate
from designkit.estimate.sizing import Sizing, SizingError, size

__all__ = ["ArgumentError", "ComponentEstimate", "EndpointEstimate", "Estimate",
           "FailureWalk", "Growth", "NotFoundError", "RetryStorm", "SagaWalk", "Scenario",
           "Sizing", "SizingError", "StationEstimate", "StepOutcome", "estimate",
           "failure_walk", "growth", "simulate", "size"]
