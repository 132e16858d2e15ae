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

__version__ = "0.1.0"

from designkit.errors import (
    DesignError,
    DesignkitError,
    MissingDependencyError,
    Problem,
    TemplateNotFoundError,
    UnsafeYAMLError,
    UnsupportedVersionError,
)
from designkit.estimate import (
    ComponentEstimate,
    EndpointEstimate,
    Estimate,
    RetryStorm,
    Scenario,
    StationEstimate,
    estimate,
)
from designkit.model import (
    FORMAT_VERSION,
    Attestation,
    Auth,
    Cache,
    CacheStep,
    CallStep,
    CircuitBreaker,
    Column,
    Database,
    Design,
    Endpoint,
    EndpointRef,
    External,
    IdempotencyKey,
    Index,
    Lock,
    LockStep,
    Loop,
    LoopStep,
    ParallelStep,
    Partitioning,
    Policy,
    PublishStep,
    Query,
    Queue,
    RateLimit,
    Retries,
    Saga,
    SagaStep,
    Service,
    Table,
    Time,
    TransactionStep,
    Waiver,
    dump,
    load,
    save,
    step_kind,
)
from designkit.schema import json_schema
from designkit.templates import template, template_path, template_text, templates

__all__ = [
    "FORMAT_VERSION",
    "Attestation",
    "Auth",
    "Cache",
    "CacheStep",
    "CallStep",
    "CircuitBreaker",
    "Column",
    "ComponentEstimate",
    "Database",
    "Design",
    "DesignError",
    "DesignkitError",
    "Endpoint",
    "EndpointEstimate",
    "EndpointRef",
    "Estimate",
    "External",
    "IdempotencyKey",
    "Index",
    "Lock",
    "LockStep",
    "Loop",
    "LoopStep",
    "MissingDependencyError",
    "ParallelStep",
    "Partitioning",
    "Policy",
    "Problem",
    "PublishStep",
    "Query",
    "Queue",
    "RateLimit",
    "Retries",
    "RetryStorm",
    "Saga",
    "SagaStep",
    "Scenario",
    "Service",
    "StationEstimate",
    "Table",
    "TemplateNotFoundError",
    "Time",
    "TransactionStep",
    "UnsafeYAMLError",
    "UnsupportedVersionError",
    "Waiver",
    "__version__",
    "dump",
    "estimate",
    "json_schema",
    "load",
    "save",
    "step_kind",
    "template",
    "template_path",
    "template_text",
    "templates",
]
