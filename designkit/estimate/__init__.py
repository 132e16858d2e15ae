"""The estimator: queueing formulas, latency distributions, capacity and scenarios.

The names below are imported from their modules on first use (PEP 562): ``estimate`` does
not import the simulator, the sizing search or the transient solver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designkit.lazy import lazy_names as _lazy_names

# Every name this package re-exports and the module it is defined in.
_HOMES: dict[str, str] = {
    "ArgumentError": "designkit.estimate.arguments",
    "Assumption": "designkit.estimate.assumptions",
    "Capacity": "designkit.estimate.result",
    "ComponentEstimate": "designkit.estimate.result",
    "EndpointEstimate": "designkit.estimate.result",
    "Estimate": "designkit.estimate.result",
    "FailureWalk": "designkit.estimate.failures",
    "Growth": "designkit.estimate.growth",
    "NotFoundError": "designkit.estimate.lazy_table",
    "RetryStorm": "designkit.estimate.capacity",
    "SagaWalk": "designkit.estimate.failures",
    "Scenario": "designkit.estimate.scenarios",
    "Sizing": "designkit.estimate.sizing",
    "SizingError": "designkit.estimate.sizing",
    "StationEstimate": "designkit.estimate.result",
    "StationSeries": "designkit.estimate.transient",
    "StepOutcome": "designkit.estimate.failures",
    "Successes": "designkit.estimate.result",
    "Transient": "designkit.estimate.transient",
    "estimate": "designkit.estimate.api",
    "failure_walk": "designkit.estimate.failures",
    "growth": "designkit.estimate.growth",
    "simulate": "designkit.estimate.simulate",
    "size": "designkit.estimate.sizing",
    "transient": "designkit.estimate.transient",
}

__all__ = sorted(_HOMES)
_lazy, __dir__ = _lazy_names(__name__, _HOMES)


if TYPE_CHECKING:  # the names for type checkers and IDEs
    from designkit.estimate.api import estimate as estimate
    from designkit.estimate.arguments import ArgumentError as ArgumentError
    from designkit.estimate.assumptions import Assumption as Assumption
    from designkit.estimate.capacity import RetryStorm as RetryStorm
    from designkit.estimate.failures import FailureWalk as FailureWalk
    from designkit.estimate.failures import SagaWalk as SagaWalk
    from designkit.estimate.failures import StepOutcome as StepOutcome
    from designkit.estimate.failures import failure_walk as failure_walk
    from designkit.estimate.growth import Growth as Growth
    from designkit.estimate.growth import growth as growth
    from designkit.estimate.lazy_table import NotFoundError as NotFoundError
    from designkit.estimate.result import Capacity as Capacity
    from designkit.estimate.result import ComponentEstimate as ComponentEstimate
    from designkit.estimate.result import EndpointEstimate as EndpointEstimate
    from designkit.estimate.result import Estimate as Estimate
    from designkit.estimate.result import StationEstimate as StationEstimate
    from designkit.estimate.result import Successes as Successes
    from designkit.estimate.scenarios import Scenario as Scenario
    from designkit.estimate.simulate import simulate as simulate
    from designkit.estimate.sizing import Sizing as Sizing
    from designkit.estimate.sizing import SizingError as SizingError
    from designkit.estimate.sizing import size as size
    from designkit.estimate.transient import StationSeries as StationSeries
    from designkit.estimate.transient import Transient as Transient
    from designkit.estimate.transient import transient as transient
else:
    __getattr__ = _lazy
