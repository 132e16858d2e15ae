"""Rules of the API area: DK-API-001 … DK-API-008."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from designkit.assess.context import Context
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Reference, Rule, Severity, rule
from designkit.assess.rules._facts import (
    endpoint_path,
    envelope_standard,
    is_write,
)
from designkit.assess.rules._refs import (
    AWS,
    AWS_IDEMPOTENT,
    OWASP_API4,
    RFC9457,
    ZALANDO,
    ZALANDO_PROBLEM_JSON,
)
from designkit.assess.rules.backend import (
    MUTATING,
    at_least,
    verdict,
)
from designkit.estimate.capacity import RetryStorm
from designkit.flow.times import Spec
from designkit.model.components import External, Queue
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.resilience import Retries
from designkit.model.service import Service
from designkit.model.steps import CallStep, PublishStep, Step
from designkit.text import number as _n
from designkit.text import percent as _pct

__all__ = ["RULES"]

_VERSION = re.compile(r"^v\d+$")
_PARAM = re.compile(r"^\{[^}]*\}$|^:")
_VERBS = frozenset([
    "get", "fetch", "read", "list", "find", "create", "add", "insert", "new", "make", "update",
    "edit", "modify", "change", "set", "save", "delete", "remove", "destroy", "do", "execute",
    "run", "process", "perform", "send", "submit", "cancel", "confirm", "approve", "reject",
    "pay", "charge", "refund", "activate", "deactivate", "enable", "disable", "validate",
    "calculate", "compute", "generate", "sync", "upload", "download", "reset", "start", "stop",
])
_PLURAL_NOUNS = frozenset([
    "data", "media", "people", "children", "news", "series", "staff", "feedback", "info",
    "metadata", "equipment",
])


def _has_endpoints(ctx: Context) -> bool:
    return any(True for _ in ctx.endpoints)


# -- DK-API-001 --------------------------------------------------------------------------------


def _words(segment: str) -> list[str]:
    """``createOrder`` / ``create-order`` / ``create_order`` → ``["create", "order"]``."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", segment)] or [
        segment.lower()]


def _plural(segment: str) -> bool:
    word = _words(segment)[-1]
    return word.endswith("s") or word in _PLURAL_NOUNS


@rule("DK-API-001", "RESTful resource routing", "medium", "auto",
      rationale="Resource-oriented URLs with standard method semantics make an API "
                "predictable; verbs in paths, singular collections and deep nesting make "
                "every endpoint a special case, and a GET with side effects is replayed by "
                "caches, crawlers and retries.",
      remediation="Name collections with plural nouns, express actions as resources "
                  "(POST /orders/{id}/payments, not /orders/{id}/pay), keep at most three "
                  "sub-resource levels, and keep GET free of writes.",
      references=[
          Reference("Zalando RESTful API Guidelines", "141", "MUST keep URLs verb-free",
                    ZALANDO + "141"),
          Reference("Zalando RESTful API Guidelines", "138",
                    "MUST avoid actions — think about resources", ZALANDO + "138"),
          Reference("Zalando RESTful API Guidelines", "134", "MUST pluralize resource names",
                    ZALANDO + "134"),
          Reference("Zalando RESTful API Guidelines", "147",
                    "SHOULD limit number of sub-resource levels", ZALANDO + "147"),
          Reference("RFC 9110", "9.2.1", "Safe Methods",
                    "https://www.rfc-editor.org/rfc/rfc9110#section-9.2.1"),
      ],
      applies=_has_endpoints)
def resource_routing(ctx: Context) -> Iterator[Finding]:
    for ref, endpoint in ctx.endpoints:
        segments = [s for s in ref.path.split("/") if s]
        problems: list[str] = []
        resources: list[str] = []
        for i, segment in enumerate(segments):
            if _VERSION.match(segment) or _PARAM.match(segment):
                continue
            resources.append(segment)
            if _words(segment)[0] in _VERBS:
                problems.append(f"path segment {segment!r} is a verb (an action, not a "
                                "resource)")
                continue
            followed_by_id = i + 1 < len(segments) and bool(_PARAM.match(segments[i + 1]))
            last_of_collection = i == len(segments) - 1 and endpoint.collection is True
            if (followed_by_id or last_of_collection) and not _plural(segment):
                problems.append(f"collection {segment!r} is singular")
        if len(resources) - 1 > 3:
            problems.append(f"{len(resources) - 1} sub-resource levels "
                            f"({'/'.join(resources)}), more than 3")
        if ref.method in ("GET", "HEAD"):
            effects = [e for site in ctx.flow.sites_of(ref)
                       for e in [_effect(site.step)] if e]
            if effects:
                problems.append(f"{ref.method} has side effects ({', '.join(effects)}); "
                                "RFC 9110 makes GET safe")
        yield verdict(ctx, endpoint_path(ref), [f"{ref.key}: {p}" for p in problems], [],
                      f"{ref.key}: plural nouns, {max(len(resources) - 1, 0)} sub-resource "
                      "level(s), method semantics kept", resources=resources)


def _effect(step: Step) -> str:
    if isinstance(step, CallStep) and is_write(step) and step.query is not None:
        return f"{step.query.kind} on {step.call}.{step.query.table}"
    if isinstance(step, PublishStep):
        return f"publishes to {step.publish}"
    if isinstance(step, CallStep):
        callee = EndpointRef.parse(step.call)
        if callee is not None and callee.method in MUTATING:
            return f"calls {callee}"
    return ""


# -- DK-API-002 --------------------------------------------------------------------------------


@rule("DK-API-002", "Consistent JSON envelope", "medium", "auto",
      rationale="One response shape across an API lets clients share their parsing and "
                "error handling; mixed envelopes push special cases into every client.",
      remediation="Answer every HTTP endpoint in the policy's envelope ({data, meta, error}, "
                  "or problem+json for errors when the policy says so).",
      references=[
          RFC9457,
          ZALANDO_PROBLEM_JSON,
      ],
      applies=_has_endpoints)
def consistent_envelope(ctx: Context) -> Iterator[Finding]:
    handlers = ctx.flow.handlers
    want = ctx.policy.envelope
    for name, service in ctx.of_kind("service").items():
        if not isinstance(service, Service):
            continue
        http = {key: ep for key, ep in service.endpoints.items()
                if f"{name} {key}" not in handlers}
        if not http:
            continue
        used = Counter(ep.envelope or "not stated" for ep in http.values())
        shown = ", ".join(f"{env} ×{n}" for env, n in sorted(used.items()))
        off = sorted(f"{key} ({ep.envelope})" for key, ep in http.items()
                     if ep.envelope is not None and ep.envelope != want)
        unstated = sorted(key for key, ep in http.items() if ep.envelope is None)
        problems = []
        if off:
            problems.append(f"{name}'s endpoints use {shown}: {', '.join(off)} differ from "
                            f"{want!r} ({envelope_standard(want)})")
        missing = ([f"{name}: envelope not stated on {', '.join(unstated)}: set envelope"]
                   if unstated else [])
        yield verdict(ctx, format_path(("components", name, "endpoints")), problems, missing,
                      f"all {len(http)} HTTP endpoint(s) of {name} answer in {want!r}",
                      envelopes=dict(used))


# -- DK-API-003 --------------------------------------------------------------------------------


def _has_resolvers(ctx: Context) -> bool:
    return any(ep.resolvers for _, ep in ctx.endpoints)


@rule("DK-API-003", "GraphQL N+1 prevention", "high", "auto",
      rationale="A list or relation resolver that loads per parent runs one query per item of "
                "the parent list — N+1 hidden behind one GraphQL request.",
      remediation="Batch list and relation resolvers per request (DataLoader) and limit query "
                  "depth and cost.",
      references=[
          OWASP_API4,
          Reference("GraphQL", "dataloader", "DataLoader",
                    "https://github.com/graphql/dataloader"),
      ],
      applies=_has_resolvers)
def graphql_batching(ctx: Context) -> Iterator[Finding]:
    for ref, endpoint in ctx.endpoints:
        for field, resolver in (endpoint.resolvers or {}).items():
            subject = format_path(("components", ref.service, "endpoints", ref.key,
                                   "resolvers", field))
            if not resolver.returns_list:
                yield ctx.finding(subject, True, f"{field} resolves one object per parent "
                                  "(no list to batch)")
            elif resolver.batched is None:
                yield ctx.needs_data(subject, f"{field} resolves a list/relation per parent; "
                                     "is it batched? set resolvers.batched")
            elif not resolver.batched:
                yield ctx.finding(subject, False, f"{field} resolves a list/relation once per "
                                  "parent object without batching: N parents → N queries "
                                  "(N+1)")
            else:
                yield ctx.finding(subject, True, f"{field} batches its loads per request "
                                  "(DataLoader)")


# -- DK-API-004 --------------------------------------------------------------------------------


@rule("DK-API-004", "HATEOAS where beneficial", "info", "attestation",
      rationale="Links let clients follow pages and related resources without building URLs; "
                "they pay off for pagination and workflows, less elsewhere.",
      remediation="Return next/prev links (or cursors) with paginated collections; attest "
                  "where further links (self, related, actions) help clients.",
      references=[
          Reference("Zalando RESTful API Guidelines", "163",
                    "MAY use REST maturity level 3 - HATEOAS", ZALANDO + "163"),
          Reference("Zalando RESTful API Guidelines", "165",
                    "SHOULD use simple hypertext controls for pagination and self-references",
                    ZALANDO + "165"),
      ],
      applies=_has_endpoints)
def hypermedia(ctx: Context) -> Iterator[Finding]:
    for ref, endpoint in ctx.endpoints:
        if not endpoint.collection:
            continue
        subject = endpoint_path(ref)
        if endpoint.pagination is None:
            yield ctx.needs_data(subject, f"{ref.key} returns a collection: how is it "
                                 "paginated? set pagination (cursor | offset | none)")
        elif endpoint.pagination != "none":
            yield ctx.finding(subject, True, f"{ref.key} is paginated by "
                              f"{endpoint.pagination}: each page carries the link/cursor to "
                              "the next one", pagination=endpoint.pagination)
    yield ctx.finding("", Status.NEEDS_ATTESTATION,
                      "links beyond pagination (self, related resources, next actions) "
                      "cannot be modelled: attest where they are provided or not needed")


# -- DK-API-005 --------------------------------------------------------------------------------


def _versioning_standard(policy: str) -> str:
    if policy == "uri":
        return ("the design's policy: URI versioning (Zalando rule 115 forbids it and rule "
                "114 prefers media-type versioning)")
    return f"the design's policy: {policy} versioning"


@rule("DK-API-005", "API versioning strategy", "medium", "auto",
      rationale="Clients need to know how a breaking change will reach them; one strategy "
                "across the API, applied the same way everywhere.",
      remediation="Version every endpoint with the policy's strategy (URI /v1, a header, or "
                  "the media type) and only that one.",
      references=[
          Reference("Zalando RESTful API Guidelines", "115", "MUST not use URI versioning",
                    ZALANDO + "115"),
          Reference("Zalando RESTful API Guidelines", "114", "MUST use media type versioning",
                    ZALANDO + "114"),
      ],
      applies=_has_endpoints)
def versioning(ctx: Context) -> Iterator[Finding]:
    want = ctx.policy.versioning
    standard = _versioning_standard(want)
    for ref, endpoint in ctx.endpoints:
        in_path = next((s for s in ref.path.split("/") if _VERSION.match(s)), None)
        declared = endpoint.versioning
        how = declared
        if declared is None and in_path is not None:
            how = "uri"
        problems: list[str] = []
        missing: list[str] = []
        if how is None:
            missing.append(f"{ref.key}: versioning not stated: set versioning "
                           "(uri | header | media-type | none)")
        elif how == "none":
            problems.append(f"{ref.key} has no versioning strategy ({standard})")
        else:
            if how != want:
                problems.append(f"{ref.key} is versioned by {how}, not {want} — mixed "
                                f"strategies ({standard})")
            if how == "uri" and in_path is None:
                problems.append(f"{ref.key} declares URI versioning but its path has no "
                                "/vN segment")
            if how != "uri" and in_path is not None:
                problems.append(f"{ref.key} carries /{in_path} in its path and is versioned "
                                f"by {how} as well")
        inferred = " (inferred from the path)" if declared is None else ""
        yield verdict(ctx, endpoint_path(ref), problems, missing,
                      f"{ref.key} is versioned by {how}{inferred}"
                      + (f" (/{in_path})" if in_path else "") + f", as {standard}",
                      versioning=how)


# -- DK-API-006 --------------------------------------------------------------------------------


def _edges(ctx: Context) -> dict[str, list[str]]:
    """Per service, its call and message edges to and from other services (kept for the
    review: the rule's ``applies`` and its check both ask)."""
    return ctx.memo(_find_edges)


def _find_edges(ctx: Context) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = {}
    handlers = {name: EndpointRef.parse(q.handler) for name, q in
                ctx.of_kind("queue").items() if isinstance(q, Queue) and q.handler}
    for item in ctx.steps:
        ref, step = item.ref, item.step
        if isinstance(step, CallStep):
            callee = EndpointRef.parse(step.call)
            if callee is not None:
                edges.setdefault(ref.service, []).append(f"calls {callee}")
                edges.setdefault(callee.service, []).append(f"is called by {ref}")
        elif isinstance(step, PublishStep):
            edges.setdefault(ref.service, []).append(f"publishes to {step.publish}")
            consumer = handlers.get(step.publish)
            if consumer is not None:
                edges.setdefault(consumer.service, []).append(
                    f"consumes {step.publish} from {ref.service}")
    return {k: sorted(set(v)) for k, v in edges.items()}


@rule("DK-API-006", "Correlation/trace IDs propagated", "medium", "auto",
      rationale="Without a trace id on every call and message a slow or failed request cannot "
                "be followed across services; one service that drops the context breaks the "
                "trace for everything behind it.",
      remediation="Propagate W3C traceparent (or X-Flow-ID) on every outgoing call and message "
                  "and continue it on every incoming one; set tracing: true on the service.",
      references=[
          Reference("W3C", "trace-context", "Trace Context",
                    "https://www.w3.org/TR/trace-context/"),
          Reference("Zalando RESTful API Guidelines", "233", "MUST support X-Flow-ID",
                    ZALANDO + "233"),
      ],
      applies=lambda ctx: bool(_edges(ctx)))
def trace_propagation(ctx: Context) -> Iterator[Finding]:
    services = ctx.of_kind("service")
    for name, edges in sorted(_edges(ctx).items()):
        service = services.get(name)
        if not isinstance(service, Service):
            continue
        subject = format_path(("components", name, "tracing"))
        shown = "; ".join(edges)
        if service.tracing is None:
            yield ctx.needs_data(subject, f"{name} has {len(edges)} call/message edge(s) "
                                 f"({shown}): does it propagate trace context? set tracing")
        elif not service.tracing:
            yield ctx.finding(subject, False, f"{name} does not propagate trace context on "
                              f"its {len(edges)} call/message edge(s): {shown}",
                              edges=edges)
        else:
            yield ctx.finding(subject, True, f"{name} propagates trace context on its "
                              f"{len(edges)} edge(s)", edges=edges)


# -- DK-API-007 --------------------------------------------------------------------------------


def _external_calls(ctx: Context) -> Iterator[tuple[EndpointRef, str, CallStep, External]]:
    for item in ctx.steps:
        step = item.step
        if isinstance(step, CallStep):
            target = ctx.design.components.get(step.call)
            if isinstance(target, External):
                yield item.ref, item.subject, step, target


@rule("DK-API-007", "Circuit breaker on external calls", "high", "auto",
      rationale="A third party that hangs or fails makes every caller wait for its timeout "
                "(times its retries); a breaker answers at once while it is down, so threads, "
                "connections and users are not held hostage.",
      remediation="Put a circuit breaker in front of every external dependency (open on a "
                  "failure ratio, half-open after a pause) and degrade gracefully while open.",
      references=[
          Reference("AWS Well-Architected", "REL05-BP01",
                    "Implement graceful degradation to transform applicable hard dependencies "
                    "into soft dependencies", AWS + "rel05-bp01.html"),
          Reference("microservices.io", "circuit-breaker", "Pattern: Circuit Breaker",
                    "https://microservices.io/patterns/reliability/circuit-breaker.html"),
      ],
      applies=lambda ctx: any(True for _ in _external_calls(ctx)))
def circuit_breaker(ctx: Context) -> Iterator[Finding]:
    for ref, path, step, target in _external_calls(ctx):
        breaker = target.circuit_breaker
        retries = step.retries or target.retries
        attempts = 1 + (retries.max if retries else 0)
        timeout = step.timeout_ms or target.timeout_ms
        if breaker is not None and breaker.enabled:
            meanwhile = ("falls back while it is open" if step.fallback is not None
                         else "fails its requests while it is open (no fallback)")
            yield ctx.finding(path, True, f"{ref}: call to {step.call} is behind a breaker "
                              f"(opens at {_pct(breaker.failure_threshold)} failures for "
                              f"{_n(breaker.open_ms / 1000)} s) and {meanwhile}")
            continue
        if timeout is not None:
            held = (f"each request waits up to {_n(timeout)} ms × {attempts} attempt(s) = "
                    f"{_n(timeout * attempts)} ms")
        else:
            held = "each request waits for a call with no timeout"
        yield ctx.finding(path, False, f"{ref}: call to external {step.call} "
                          f"(mean {_n(Spec.of(target.latency_ms).mean)} ms) has no circuit "
                          f"breaker: while it is down {held}",
                          attempts=attempts, timeout_ms=timeout)


# -- DK-API-008 --------------------------------------------------------------------------------


def _retried(ctx: Context) -> Iterator[tuple[EndpointRef, str, CallStep, Retries]]:
    for item in ctx.steps:
        step = item.step
        if not isinstance(step, CallStep):
            continue
        target = ctx.design.components.get(step.call)
        retries = step.retries or (target.retries if isinstance(target, External) else None)
        if retries is not None and retries.max > 0:
            yield item.ref, item.subject, step, retries


def _storms_by_call(ctx: Context) -> dict[tuple[str, str], list[RetryStorm]]:
    """The estimate's retry storms by (caller, target), in the estimate's order (none
    without a workload)."""
    out: dict[tuple[str, str], list[RetryStorm]] = {}
    for storm in ctx.estimate.retry_storms if ctx.design.loaded else ():
        out.setdefault((storm.caller, storm.target), []).append(storm)
    return out


def _method(op: str | None) -> str | None:
    word = (op or "").split(" ", 1)[0].upper()
    return word if word in ("GET", "HEAD", "OPTIONS", *MUTATING) else None


@rule("DK-API-008", "Retries with exponential backoff and jitter", "medium", "auto",
      rationale="Immediate, synchronised retries hit a struggling dependency exactly when it "
                "is weakest and can keep it overloaded after the trigger is gone; retrying a "
                "non-idempotent call repeats its side effect.",
      remediation="Retry only idempotent calls (forward an idempotency key), with exponential "
                  "backoff, full jitter, a small maximum of attempts and a retry budget.",
      references=[
          Reference("AWS Well-Architected", "REL05-BP03", "Control and limit retry calls",
                    AWS + "rel05-bp03.html"),
          AWS_IDEMPOTENT,
      ],
      applies=lambda ctx: any(True for _ in _retried(ctx)))
def retry_backoff(ctx: Context) -> Iterator[Finding]:
    storms = ctx.memo(_storms_by_call)
    for ref, path, step, retries in _retried(ctx):
        problems: list[str] = []
        attempts = 1 + retries.max
        where = f"{ref}: call to {step.call} retried {retries.max}×"
        if retries.backoff != "exponential":
            problems.append(f"backoff {retries.backoff!r}, not exponential")
        if not retries.jitter:
            problems.append("no jitter: the retries of many callers synchronise")
        unsafe = _non_idempotent(ctx, ref, step)
        if unsafe:
            problems.append(unsafe)
        mine = storms.get((str(ref), str(EndpointRef.parse(step.call) or step.call)), [])
        worst = max(mine, key=lambda s: s.utilization_retrying, default=None)
        evidence: dict[str, Any] = {"max_attempts": attempts, "backoff": retries.backoff,
                    "jitter": retries.jitter, "budget": retries.budget}
        amplified = ""
        if worst is not None:
            evidence |= {"station": worst.station, "utilization_now": worst.utilization_now,
                         "utilization_retrying": worst.utilization_retrying}
            amplified = (f"if every call used all {attempts} attempts, {worst.station} would "
                         f"run at {_pct(worst.utilization_retrying)} (now "
                         f"{_pct(worst.utilization_now)})")
            if worst.at_risk:
                problems.append(f"retry amplification: {amplified} — a metastable overload")
                amplified = ""
        if problems:
            text = f"{where}: " + "; ".join(problems) + (f"; {amplified}" if amplified else "")
            finding = ctx.finding(path, False, text, **evidence)
            yield at_least(ctx, finding, Severity.HIGH) if unsafe else finding
        elif _external_write(ctx, step) and not step.idempotency_key:
            yield ctx.finding(path, Status.NEEDS_ATTESTATION,
                              f"{where} ({step.op}) to a third party: {ref} has an "
                              "idempotency key, but the model cannot tell whether it is "
                              "forwarded to (and honoured by) the provider: say so on the "
                              "call (idempotency_key: true) or attest it",
                              **evidence)
        elif not ctx.design.loaded:
            yield ctx.needs_data(path, f"{where} with exponential backoff and jitter; the "
                                 "retry amplification needs a workload: set workload")
        else:
            budget = (f", budget {_pct(retries.budget)}" if retries.budget is not None else "")
            yield ctx.finding(path, True, f"{where} with exponential backoff from "
                              f"{_n(retries.base_ms)} ms and jitter{budget}"
                              + (f"; {amplified}" if amplified else ""), **evidence)


def _external_write(ctx: Context, step: CallStep) -> bool:
    target = ctx.design.components.get(step.call)
    return isinstance(target, External) and _method(step.op) in ("POST", "PATCH")


def _non_idempotent(ctx: Context, ref: EndpointRef, step: CallStep) -> str:
    """Why retrying ``step`` can repeat a side effect, or ``""``."""
    callee = EndpointRef.parse(step.call)
    if callee is not None:
        if callee.method not in ("POST", "PATCH"):
            return ""
        services = ctx.of_kind("service")
        service = services.get(callee.service)
        endpoint = service.endpoints.get(callee.key) if isinstance(service, Service) else None
        if endpoint is not None and endpoint.idempotency_key is None:
            return (f"{callee} is a {callee.method} without an idempotency key: a retry after "
                    "a timeout repeats the write (non-idempotent retry)")
        return ""
    if _external_write(ctx, step):
        caller = ctx.endpoint_map[ref]
        if step.idempotency_key is False:
            return (f"{step.op} on {step.call} is retried and forwards no idempotency key "
                    "(idempotency_key: false): a retry after a timeout can repeat it")
        if caller.idempotency_key is None and not step.idempotency_key:
            return (f"{step.op} on {step.call} is retried but {ref} has no idempotency key "
                    "to forward: a retry after a timeout can repeat it (non-idempotent retry)")
    return ""


RULES: list[Rule] = [resource_routing, consistent_envelope, graphql_batching, hypermedia,
                     versioning, trace_propagation, circuit_breaker, retry_backoff]
