"""The estimator: queueing formulas, latency distributions, capacity and scenarios."""

from __future__ import annotations

from designkit.estimate.api import estimate
from designkit.estimate.arguments import ArgumentError
from designkit.estimate.assumptions import Assumption
from designkit.estimate.capacity import RetryStorm
from designkit.estimate.failures import FailureWalk, SagaWalk, StepOutcome, failure_walk
from designkit.estimate.growth import Growth, growth
from designkit.estimate.result import (
    Capacity,
    ComponentEstimate,
    EndpointEstimate,
    Estimate,
    NotFoundError,
    StationEstimate,
    Successes,
)
from designkit.estimate.scenarios import Scenario
from designkit.estimate.simulate import simulate
from designkit.estimate.sizing import Sizing, SizingError, size
from designkit.estimate.transient import StationSeries, Transient, transient

__all__ = ["ArgumentError", "Assumption", "Capacity", "ComponentEstimate", "EndpointEstimate",
           "Estimate", "FailureWalk", "Growth", "NotFoundError", "RetryStorm", "SagaWalk",
           "Scenario", "Sizing", "SizingError", "StationEstimate", "StationSeries", "StepOutcome",
           "Successes", "Transient", "estimate", "failure_walk", "growth", "simulate", "size",
           "transient"]
