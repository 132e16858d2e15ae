"""The design model: pydantic parts, the ``Design`` aggregate, load/save, references."""

from __future__ import annotations

from designkit.model.calibration import Calibration, ComponentCalibration
from designkit.model.components import KINDS, Cache, Component, External, Lock, Queue
from designkit.model.database import Column, Database, Index, Partitioning, Table
from designkit.model.design import FORMAT_VERSION, Design
from designkit.model.invariants import Invariant
from designkit.model.io import check_data, dump, load, save
from designkit.model.policy import Attestation, Cors, NotApplicable, Policy, Security, Waiver
from designkit.model.profile import LoadProfile
from designkit.model.query import Query
from designkit.model.refs import EndpointRef
from designkit.model.resilience import CircuitBreaker, Retries
from designkit.model.saga import Saga, SagaStep
from designkit.model.service import Auth, Endpoint, IdempotencyKey, RateLimit, Resolver, Service
from designkit.model.slo import Slo
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    Loop,
    LoopStep,
    ParallelStep,
    PublishStep,
    Step,
    TransactionStep,
    step_kind,
)
from designkit.model.times import Time

__all__ = [
    "FORMAT_VERSION", "KINDS", "Attestation", "Auth", "Cache", "CacheStep", "Calibration",
    "CallStep", "CircuitBreaker", "Column", "Component", "ComponentCalibration", "Cors",
    "Database", "Design", "Endpoint",
    "EndpointRef", "External", "IdempotencyKey", "Index", "Invariant", "LoadProfile", "Lock",
    "LockStep",
    "Loop", "LoopStep", "NotApplicable", "ParallelStep", "Partitioning", "Policy",
    "PublishStep", "Query", "Queue", "RateLimit", "Resolver", "Retries", "Saga", "SagaStep",
    "Security", "Service", "Slo", "Step", "Table", "Time", "TransactionStep", "Waiver",
    "check_data", "dump", "load", "save", "step_kind",
]
