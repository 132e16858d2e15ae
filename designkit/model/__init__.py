"""The design model: pydantic parts, the ``Design`` aggregate, load/save, references.

The names below are imported from their modules on first use (PEP 562): importing one part
(``designkit.model.design``) does not import the others (YAML loading, for one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designkit.lazy import lazy_names as _lazy_names

# Every name this package re-exports and the module it is defined in.
_HOMES: dict[str, str] = {
    "FORMAT_VERSION": "designkit.model.design",
    "KINDS": "designkit.model.components",
    "Attestation": "designkit.model.policy",
    "Auth": "designkit.model.service",
    "Cache": "designkit.model.components",
    "CacheStep": "designkit.model.steps",
    "Calibration": "designkit.model.calibration",
    "CallStep": "designkit.model.steps",
    "CircuitBreaker": "designkit.model.resilience",
    "Column": "designkit.model.database",
    "Component": "designkit.model.components",
    "ComponentCalibration": "designkit.model.calibration",
    "Cors": "designkit.model.policy",
    "Database": "designkit.model.database",
    "Design": "designkit.model.design",
    "Endpoint": "designkit.model.service",
    "EndpointRef": "designkit.model.refs",
    "External": "designkit.model.components",
    "IdempotencyKey": "designkit.model.service",
    "Index": "designkit.model.database",
    "Invariant": "designkit.model.invariants",
    "LoadProfile": "designkit.model.profile",
    "Lock": "designkit.model.components",
    "LockStep": "designkit.model.steps",
    "Loop": "designkit.model.steps",
    "LoopStep": "designkit.model.steps",
    "NotApplicable": "designkit.model.policy",
    "ParallelStep": "designkit.model.steps",
    "Partitioning": "designkit.model.database",
    "Policy": "designkit.model.policy",
    "PublishStep": "designkit.model.steps",
    "Query": "designkit.model.query",
    "Queue": "designkit.model.components",
    "RateLimit": "designkit.model.service",
    "Resolver": "designkit.model.service",
    "Retries": "designkit.model.resilience",
    "Saga": "designkit.model.saga",
    "SagaStep": "designkit.model.saga",
    "Security": "designkit.model.policy",
    "Service": "designkit.model.service",
    "Slo": "designkit.model.slo",
    "Step": "designkit.model.steps",
    "Table": "designkit.model.database",
    "Time": "designkit.model.times",
    "TransactionStep": "designkit.model.steps",
    "Waiver": "designkit.model.policy",
    "check_data": "designkit.model.io",
    "dump": "designkit.model.io",
    "load": "designkit.model.io",
    "save": "designkit.model.io",
    "step_kind": "designkit.model.steps",
}

__all__ = sorted(_HOMES)
_lazy, __dir__ = _lazy_names(__name__, _HOMES)




if TYPE_CHECKING:  # the names for type checkers and IDEs
    from designkit.model.calibration import Calibration as Calibration
    from designkit.model.calibration import ComponentCalibration as ComponentCalibration
    from designkit.model.components import KINDS as KINDS
    from designkit.model.components import Cache as Cache
    from designkit.model.components import Component as Component
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
    from designkit.model.io import check_data as check_data
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
    from designkit.model.steps import Step as Step
    from designkit.model.steps import TransactionStep as TransactionStep
    from designkit.model.steps import step_kind as step_kind
    from designkit.model.times import Time as Time
else:
    __getattr__ = _lazy
