"""designkit — design backend systems with numbers.

Model a system (services, endpoints, databases, caches, queues, external APIs, locks,
sagas), give it a workload, and get utilization, latency percentiles, the bottleneck and a
checklist review — with diagrams — from one model.

Example:
    >>> import designkit as dk
    >>> design = dk.template("flash-sale")
    >>> design.name
    'flash-sale'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designkit._version import __version__ as __version__
from designkit.lazy import lazy_names as _lazy_names

# Views decorate the model (which knows nothing of rendering): a Design displays its
# architecture diagram in Jupyter. `Design` is imported here, before any other name is used,
# so that every design displays however it was made; nothing heavy is imported until then.
from designkit.model.design import Design as _Design
from designkit.render.display import design_mimebundle as _design_mimebundle

_Design._repr_mimebundle_ = _design_mimebundle  # type: ignore[attr-defined]

# Every public name and the module it is defined in, imported on first use (PEP 562):
# `import designkit` does not pay for numpy, the estimator or the rules (decision 60). A new
# public name is one line here, and the same name under TYPE_CHECKING at the end for type
# checkers and IDEs (tests/test_package.py checks that the two agree).
_HOMES: dict[str, str] = {
    "ArgumentError": "designkit.estimate.arguments",
    "Assessment": "designkit.assess.assessment",
    "Assumption": "designkit.estimate.assumptions",
    "Attestation": "designkit.model.policy",
    "Auth": "designkit.model.service",
    "Band": "designkit.estimate.uncertainty",
    "Bands": "designkit.estimate.uncertainty",
    "Cache": "designkit.model.components",
    "CacheStep": "designkit.model.steps",
    "Calibration": "designkit.model.calibration",
    "CalibrationError": "designkit.calibration.api",
    "CalibrationFit": "designkit.calibration.result",
    "CallStep": "designkit.model.steps",
    "Capacity": "designkit.estimate.result",
    "CircuitBreaker": "designkit.model.resilience",
    "Column": "designkit.model.database",
    "ComponentEstimate": "designkit.estimate.result",
    "Cors": "designkit.model.policy",
    "Database": "designkit.model.database",
    "Design": "designkit.model.design",
    "DesignDiff": "designkit.diff",
    "DesignError": "designkit.errors",
    "DesignkitError": "designkit.errors",
    "Endpoint": "designkit.model.service",
    "EndpointEstimate": "designkit.estimate.result",
    "EndpointRef": "designkit.model.refs",
    "Estimate": "designkit.estimate.result",
    "External": "designkit.model.components",
    "FORMAT_VERSION": "designkit.model.design",
    "FailureWalk": "designkit.estimate.failures",
    "Finding": "designkit.assess.finding",
    "Growth": "designkit.estimate.growth",
    "IdempotencyKey": "designkit.model.service",
    "Index": "designkit.model.database",
    "Invariant": "designkit.model.invariants",
    "LoadProfile": "designkit.model.profile",
    "Lock": "designkit.model.components",
    "LockStep": "designkit.model.steps",
    "Loop": "designkit.model.steps",
    "LoopStep": "designkit.model.steps",
    "MeasurementError": "designkit.measure.errors",
    "Measurements": "designkit.measure.observations",
    "MissingDependencyError": "designkit.errors",
    "NotApplicable": "designkit.model.policy",
    "NotFoundError": "designkit.estimate.lazy_table",
    "Observation": "designkit.measure.observations",
    "ParallelStep": "designkit.model.steps",
    "Partitioning": "designkit.model.database",
    "Policy": "designkit.model.policy",
    "Problem": "designkit.errors",
    "PublishStep": "designkit.model.steps",
    "Query": "designkit.model.query",
    "QueryPlan": "designkit.flow.plans",
    "QueryPlans": "designkit.flow.plans",
    "Queue": "designkit.model.components",
    "RateLimit": "designkit.model.service",
    "Reference": "designkit.assess.rule",
    "Resolver": "designkit.model.service",
    "Retries": "designkit.model.resilience",
    "RetryStorm": "designkit.estimate.capacity",
    "Rule": "designkit.assess.rule",
    "Saga": "designkit.model.saga",
    "SagaStep": "designkit.model.saga",
    "Scenario": "designkit.estimate.scenarios",
    "Security": "designkit.model.policy",
    "Sensitivity": "designkit.estimate.sensitivity",
    "Service": "designkit.model.service",
    "Severity": "designkit.assess.rule",
    "Sizing": "designkit.estimate.sizing",
    "SizingError": "designkit.estimate.sizing",
    "Slo": "designkit.model.slo",
    "StationEstimate": "designkit.estimate.result",
    "Status": "designkit.assess.finding",
    "Successes": "designkit.estimate.result",
    "SweepError": "designkit.sweep",
    "SweepTable": "designkit.sweep_table",
    "Table": "designkit.model.database",
    "TemplateNotFoundError": "designkit.errors",
    "Time": "designkit.model.times",
    "TransactionStep": "designkit.model.steps",
    "Transient": "designkit.estimate.transient",
    "Uncertain": "designkit.model.uncertain",
    "UnsafeYAMLError": "designkit.errors",
    "UnsupportedVersionError": "designkit.errors",
    "Waiver": "designkit.model.policy",
    "WriteError": "designkit.safe_write",
    "assess": "designkit.assess.engine",
    "calibrate": "designkit.calibration.api",
    "diff": "designkit.diff",
    "dump": "designkit.model.io",
    "estimate": "designkit.estimate.api",
    "explore": "designkit.widgets",
    "failure_walk": "designkit.estimate.failures",
    "growth": "designkit.estimate.growth",
    "json_schema": "designkit.schema",
    "load": "designkit.model.io",
    "measurements": "designkit.measure.read",
    "query_plans": "designkit.flow.plans",
    "rule": "designkit.assess.rule",
    "save": "designkit.model.io",
    "sensitivity": "designkit.estimate.sensitivity",
    "simulate": "designkit.estimate.simulate",
    "size": "designkit.estimate.sizing",
    "step_kind": "designkit.model.steps",
    "subset": "designkit.flow.subset",
    "sweep": "designkit.sweep",
    "template": "designkit.templates",
    "template_path": "designkit.templates",
    "template_text": "designkit.templates",
    "templates": "designkit.templates",
    "too_large_to_draw": "designkit.flow.subset",
    "transient": "designkit.estimate.transient",
}

__all__ = sorted(["__version__", *_HOMES])
_lazy, __dir__ = _lazy_names(__name__, _HOMES)

if TYPE_CHECKING:  # the names for type checkers and IDEs
    from designkit.assess.assessment import Assessment as Assessment
    from designkit.assess.engine import assess as assess
    from designkit.assess.finding import Finding as Finding
    from designkit.assess.finding import Status as Status
    from designkit.assess.rule import Reference as Reference
    from designkit.assess.rule import Rule as Rule
    from designkit.assess.rule import Severity as Severity
    from designkit.assess.rule import rule as rule
    from designkit.calibration.api import CalibrationError as CalibrationError
    from designkit.calibration.api import calibrate as calibrate
    from designkit.calibration.result import CalibrationFit as CalibrationFit
    from designkit.diff import DesignDiff as DesignDiff
    from designkit.diff import diff as diff
    from designkit.errors import DesignError as DesignError
    from designkit.errors import DesignkitError as DesignkitError
    from designkit.errors import MissingDependencyError as MissingDependencyError
    from designkit.errors import Problem as Problem
    from designkit.errors import TemplateNotFoundError as TemplateNotFoundError
    from designkit.errors import UnsafeYAMLError as UnsafeYAMLError
    from designkit.errors import UnsupportedVersionError as UnsupportedVersionError
    from designkit.estimate.api import estimate as estimate
    from designkit.estimate.arguments import ArgumentError as ArgumentError
    from designkit.estimate.assumptions import Assumption as Assumption
    from designkit.estimate.capacity import RetryStorm as RetryStorm
    from designkit.estimate.failures import FailureWalk as FailureWalk
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
    from designkit.estimate.sensitivity import Sensitivity as Sensitivity
    from designkit.estimate.sensitivity import sensitivity as sensitivity
    from designkit.estimate.simulate import simulate as simulate
    from designkit.estimate.sizing import Sizing as Sizing
    from designkit.estimate.sizing import SizingError as SizingError
    from designkit.estimate.sizing import size as size
    from designkit.estimate.transient import Transient as Transient
    from designkit.estimate.transient import transient as transient
    from designkit.estimate.uncertainty import Band as Band
    from designkit.estimate.uncertainty import Bands as Bands
    from designkit.flow.plans import QueryPlan as QueryPlan
    from designkit.flow.plans import QueryPlans as QueryPlans
    from designkit.flow.plans import query_plans as query_plans
    from designkit.flow.subset import subset as subset
    from designkit.flow.subset import too_large_to_draw as too_large_to_draw
    from designkit.measure.errors import MeasurementError as MeasurementError
    from designkit.measure.observations import Measurements as Measurements
    from designkit.measure.observations import Observation as Observation
    from designkit.measure.read import measurements as measurements
    from designkit.model.calibration import Calibration as Calibration
    from designkit.model.components import Cache as Cache
    from designkit.model.components import External as External
    from designkit.model.components import Lock as Lock
    from designkit.model.components import Queue as Queue
    from designkit.model.database import Column as Column
    from designkit.model.database import Database as Database
    from designkit.model.database import Index as Index
    from designkit.model.database import Partitioning as Partitioning
    from designkit.model.database import Table as Table
    from designkit.model.design import FORMAT_VERSION as FORMAT_VERSION
    from designkit.model.design import Design as Design
    from designkit.model.invariants import Invariant as Invariant
    from designkit.model.io import dump as dump
    from designkit.model.io import load as load
    from designkit.model.io import save as save
    from designkit.model.policy import Attestation as Attestation
    from designkit.model.policy import Cors as Cors
    from designkit.model.policy import NotApplicable as NotApplicable
    from designkit.model.policy import Policy as Policy
    from designkit.model.policy import Security as Security
    from designkit.model.policy import Waiver as Waiver
    from designkit.model.profile import LoadProfile as LoadProfile
    from designkit.model.query import Query as Query
    from designkit.model.refs import EndpointRef as EndpointRef
    from designkit.model.resilience import CircuitBreaker as CircuitBreaker
    from designkit.model.resilience import Retries as Retries
    from designkit.model.saga import Saga as Saga
    from designkit.model.saga import SagaStep as SagaStep
    from designkit.model.service import Auth as Auth
    from designkit.model.service import Endpoint as Endpoint
    from designkit.model.service import IdempotencyKey as IdempotencyKey
    from designkit.model.service import RateLimit as RateLimit
    from designkit.model.service import Resolver as Resolver
    from designkit.model.service import Service as Service
    from designkit.model.slo import Slo as Slo
    from designkit.model.steps import CacheStep as CacheStep
    from designkit.model.steps import CallStep as CallStep
    from designkit.model.steps import LockStep as LockStep
    from designkit.model.steps import Loop as Loop
    from designkit.model.steps import LoopStep as LoopStep
    from designkit.model.steps import ParallelStep as ParallelStep
    from designkit.model.steps import PublishStep as PublishStep
    from designkit.model.steps import TransactionStep as TransactionStep
    from designkit.model.steps import step_kind as step_kind
    from designkit.model.times import Time as Time
    from designkit.model.uncertain import Uncertain as Uncertain
    from designkit.safe_write import WriteError as WriteError
    from designkit.schema import json_schema as json_schema
    from designkit.sweep import SweepError as SweepError
    from designkit.sweep import sweep as sweep
    from designkit.sweep_table import SweepTable as SweepTable
    from designkit.templates import template as template
    from designkit.templates import template_path as template_path
    from designkit.templates import template_text as template_text
    from designkit.templates import templates as templates
    from designkit.widgets import explore as explore
else:
    __getattr__ = _lazy
