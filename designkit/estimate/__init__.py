"""The estimator: queueing formulas, latency distributions, capacity and scenarios."""

from __future__ import annotations

from designkit.estimate.api import estimate
from designkit.estimate.capacity import RetryStorm
from designkit.estimate.result import ComponentEstimate, EndpointEstimate, Estimate, StationEstimate
from designkit.estimate.scenarios import Scenario

__all__ = ["ComponentEstimate", "EndpointEstimate", "Estimate", "RetryStorm", "Scenario",
           "StationEstimate", "estimate"]
