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

from designkit.assess import (
    Assessment,
    Finding,
    Reference,
    Rule,
    Severity,
    Status,
    assess,
    rule,
)
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
    ArgumentError,
    ComponentEstimate,
    EndpointEstimate,
    Estimate,
    Growth,
    NotFoundError,
    RetryStorm,
    Scenario,
    Sizing,
    SizingError,
    StationEstimate,
    estimate,
    growth,
    simulate,
    size,
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
    Cors,
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
    Resolver,
    Retries,
    Saga,
    SagaStep,
    Security,
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
from designkit.model.subset import subset, too_large_to_draw

# Views decorate the model (which knows nothing of rendering): a Design displays its
# architecture diagram in Jupyter. Nothing heavy is imported until it is displayed.
from designkit.render.display import design_mimebundle as _design_mimebundle
from designkit.safe_write import WriteError
from designkit.schema import json_schema
from designkit.templates import template, template_path, template_text, templates
from designkit.widgets import explore

Design._repr_mimebundle_ = _design_mimebundle  # type: ignore[attr-defined]

__all__ = [
    "FORMAT_VERSION",
    "ArgumentError",
    "Assessment",
    "Attestation",
    "Auth",
    "Cache",
    "CacheStep",
    "CallStep",
    "CircuitBreaker",
    "Column",
    "ComponentEstimate",
    "Cors",
    "Database",
    "Design",
    "DesignError",
    "DesignkitError",
    "Endpoint",
    "EndpointEstimate",
    "EndpointRef",
    "Estimate",
    "External",
    "Finding",
    "Growth",
    "IdempotencyKey",
    "Index",
    "Lock",
    "LockStep",
    "Loop",
    "LoopStep",
    "MissingDependencyError",
    "NotFoundError",
    "ParallelStep",
    "Partitioning",
    "Policy",
    "Problem",
    "PublishStep",
    "Query",
    "Queue",
    "RateLimit",
    "Reference",
    "Resolver",
    "Retries",
    "RetryStorm",
    "Rule",
    "Saga",
    "SagaStep",
    "Scenario",
    "Security",
    "Service",
    "Severity",
    "Sizing",
    "SizingError",
    "StationEstimate",
    "Status",
    "Table",
    "TemplateNotFoundError",
    "Time",
    "TransactionStep",
    "UnsafeYAMLError",
    "UnsupportedVersionError",
    "Waiver",
    "WriteError",
    "__version__",
    "assess",
    "dump",
    "estimate",
    "explore",
    "growth",
    "json_schema",
    "load",
    "rule",
    "save",
    "simulate",
    "size",
    "step_kind",
    "subset",
    "template",
    "template_path",
    "template_text",
    "templates",
    "too_large_to_draw",
]
