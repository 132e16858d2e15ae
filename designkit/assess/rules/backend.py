"""Rules of the backend area: DK-BE-001 … DK-BE-008."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
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
    API_TOP10,
    AWS,
    AWS_IDEMPOTENT,
    OWASP_API4,
    RFC9457,
    TOP10,
    ZALANDO,
    ZALANDO_PROBLEM_JSON,
)
from designkit.flow.nodes import Site
from designkit.flow.plan import plan_query
from designkit.flow.times import Spec
from designkit.model.components import Cache, Queue
from designkit.model.database import Database
from designkit.model.design import Design
from designkit.model.engines import setting
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.service import Service
from designkit.model.steps import CacheStep, CallStep, LoopStep, ParallelStep, Step
from designkit.text import number as _n

__all__ = ["RULES", "verdict"]

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


# -- shared helpers (also used by the API rules) --------------------------------------------


def verdict(ctx: Context, subject: str, problems: list[str], missing: list[str],
            ok_message: str, **evidence: Any) -> Finding:
    """Fail when there is a problem, needs-data when a fact is missing, else pass."""
    if problems:
        text = "; ".join(problems)
        if missing:
            text += " (also not stated: " + "; ".join(missing) + ")"
        return ctx.finding(subject, False, text, **evidence)
    if missing:
        return ctx.finding(subject, Status.NEEDS_DATA, "; ".join(missing), **evidence)
    return ctx.finding(subject, True, ok_message, **evidence)


def at_least(ctx: Context, finding: Finding, severity: Severity) -> Finding:
    """Raise one finding's severity (unless the policy overrides the rule's)."""
    if ctx.rule is not None and ctx.rule.id in ctx.policy.severity:
        return finding
    if severity.rank > finding.severity.rank:
        return replace(finding, severity=severity)
    return finding


def _rps(ctx: Context, ref: EndpointRef) -> str:
    rps = ctx.design.rate(str(ref))
    return f" ({_n(rps)} rps in the workload)" if rps else ""


# -- DK-BE-001 ---------------------------------------------------------------------------------


def _has_idempotent_method(ctx: Context) -> bool:
    return any(ref.method in ctx.policy.idempotent_methods for ref, _ in ctx.endpoints)


@rule("DK-BE-001", "Idempotency key on every POST/PUT/PATCH", "high", "auto",
      rationale="Clients, proxies and queues retry requests after timeouts; without an "
                "idempotency key a retried POST creates a second order or a second charge.",
      remediation="Accept an Idempotency-Key header on the endpoint, store the key with the "
                  "response for a stated retention (e.g. 24 h), and answer a repeated key "
                  "with the stored response (409 when the body differs).",
      references=[
          AWS_IDEMPOTENT,
          Reference("Zalando RESTful API Guidelines", "230",
                    "MAY consider to support Idempotency-Key header", ZALANDO + "230"),
          Reference("Zalando RESTful API Guidelines", "229",
                    "SHOULD consider to design POST and PATCH idempotent", ZALANDO + "229"),
          Reference("RFC 9110", "9.2.2", "Idempotent Methods",
                    "https://www.rfc-editor.org/rfc/rfc9110#section-9.2.2"),
      ],
      applies=_has_idempotent_method)
def idempotency_key(ctx: Context) -> Iterator[Finding]:
    methods = ctx.policy.idempotent_methods
    standard = (f"the design's policy requires a key on {', '.join(methods)} "
                "(Zalando rule 230 makes it a MAY)")
    for ref, endpoint in ctx.endpoints:
        if ref.method not in methods:
            continue
        subject = endpoint_path(ref)
        key = endpoint.idempotency_key
        if ref.method == "PUT" and ctx.policy.exempt_idempotent_put and key is None:
            yield ctx.finding(subject, True, f"{ref.key}: PUT is idempotent by RFC 9110 and "
                              "the policy exempts it from idempotency keys")
            continue
        if key is None:
            yield ctx.finding(
                subject, False,
                f"{ref.key}{_rps(ctx, ref)} has no idempotency key: a {ref.method} retried "
                f"after a timeout is executed twice (duplicate writes); {standard}",
                method=ref.method)
        elif key.retention_h is None:
            yield ctx.needs_data(
                subject, f"{ref.key} takes idempotency key {key.header!r} but its retention "
                "is not stated: set idempotency_key.retention_h (hours a key is kept)")
        else:
            yield ctx.finding(subject, True, f"{ref.key} deduplicates retries by "
                              f"{key.header!r}, kept {_n(key.retention_h)} h",
                              header=key.header, retention_h=key.retention_h)


# -- DK-BE-002 ---------------------------------------------------------------------------------


def _has_steps(ctx: Context) -> bool:
    return bool(ctx.steps)


REPEATED = 3
"""Calls of one step per request from which a repeated single-item call is an N+1 whatever
its spelling (a loop, ``count``, parallel branches): a few are a pattern, two may be a
design (a read and a re-read)."""


def _per_item(ctx: Context, ref: EndpointRef, site: Site,
              shape: str | None = None, calls: float | None = None) -> Finding | None:
    """The N+1 finding of one step repeated per item — inside a loop, by its own
    ``count``, or (``shape``) as one of parallel branches — or None when it is not a
    per-item call."""
    step = site.step
    loops = site.iterations
    design = ctx.design
    count = float(getattr(step, "count", 1.0))
    where = (f"{ref.key}: {shape}" if shape is not None
             else f"{ref.key}: loop of {_n(loops)}" if site.looped
             else f"{ref.key}: count {_n(count)}")
    if isinstance(step, CacheStep):
        cache = design.components.get(step.cache)
        op_ms = Spec.of(setting(cache, "service_ms")).mean if isinstance(cache, Cache) else 0.0
        n = calls if calls is not None else site.times
        return ctx.finding(
            site.subject, False,
            f"{where} × {step.cache} read ({_n(op_ms)} ms) = {_n(n * op_ms)} ms and "
            f"{_n(n)} cache round trips per request; one multi-get (MGET) of {_n(n)} keys: "
            f"~{_n(op_ms)} ms, one round trip",
            loop_count=loops, calls=n, per_call_ms=op_ms, total_ms=n * op_ms,
            batched_ms=op_ms)
    if not isinstance(step, CallStep):
        return None
    n = calls if calls is not None else site.rate
    target = design.components.get(step.call)
    callee = EndpointRef.parse(step.call)
    if isinstance(target, Database):
        if step.query is None:
            return ctx.needs_data(
                site.subject, f"{where} calls {step.call} without a query: set query "
                "(table, where, batch) so the rule can tell a per-item lookup from a batch")
        if step.query.batch > 1:
            return None
        plan = plan_query(target, step.query)
        batched = plan_query(target, step.query.model_copy(update={"batch": max(1, round(n))}))
        return ctx.finding(
            site.subject, False,
            f"{where} × {step.query.table} {plan.access} ({_n(plan.ms)} ms) = "
            f"{_n(n * plan.ms)} ms of database time and {_n(n)} queries per request "
            f"(N+1); one batched query (batch {_n(round(n))}, WHERE … IN/ANY): "
            f"~{_n(batched.ms)} ms",
            loop_count=loops, calls=n, per_call_ms=plan.ms, total_ms=n * plan.ms,
            batched_ms=batched.ms, access=plan.access)
    if isinstance(target, Cache):
        op_ms = (Spec.of(step.service_ms).mean if step.service_ms is not None
                 else Spec.of(target.service_ms).mean)
        return ctx.finding(
            site.subject, False,
            f"{where} × {step.call} {step.op or 'call'} ({_n(op_ms)} ms) = {_n(n * op_ms)} ms "
            f"and {_n(n)} cache round trips per request; one pipelined/multi-key call: "
            f"~{_n(op_ms)} ms",
            loop_count=loops, calls=n, per_call_ms=op_ms, total_ms=n * op_ms,
            batched_ms=op_ms)
    if callee is not None:
        per = ctx.estimate.endpoints.get(str(callee)) if ctx.design.loaded else None
        cost = (f" ({_n(per.mean_ms)} ms each = {_n(n * per.mean_ms)} ms per request)"
                if per is not None else "")
        queries = _queries_per_call(ctx, str(callee))
        below = "".join(f"; each makes {_n(q)} queries of {db}: {_n(n * q)} per request"
                        for db, q in sorted(queries.items()))
        return ctx.finding(
            site.subject, False,
            f"{where} × {callee}{cost}: {_n(n)} sequential service calls per request"
            f"{below}; offer a batch endpoint and call it once",
            loop_count=loops, calls=n,
            per_call_ms=per.mean_ms if per is not None else None,
            queries_per_request={db: n * q for db, q in queries.items()})
    return None


def _queries_per_call(ctx: Context, ref: str, seen: frozenset[str] = frozenset()
                      ) -> dict[str, float]:
    """Database statements one call of endpoint ``ref`` makes, by database, through the
    endpoints it calls in turn (the N+1 a loop of service calls hides one level down)."""
    out: dict[str, float] = {}
    for site in ctx.flow.sites_of(ref):
        step = site.step
        if not isinstance(step, CallStep):
            continue
        if isinstance(ctx.design.components.get(step.call), Database):
            out[step.call] = out.get(step.call, 0.0) + site.rate
            continue
        callee = EndpointRef.parse(step.call)
        if callee is not None and str(callee) not in seen | {ref}:
            for db, q in _queries_per_call(ctx, str(callee), seen | {ref}).items():
                out[db] = out.get(db, 0.0) + site.rate * q
    return out


@rule("DK-BE-002", "No N+1 query loops", "high", "auto",
      rationale="A loop that queries once per item multiplies round trips and database work "
                "by the number of items; it is the commonest cause of slow list pages.",
      remediation="Fetch the items' data in one batched statement (WHERE id = ANY($1), "
                  "eager loading / prefetch), one multi-get from the cache, or one batch call "
                  "to the service; set query.batch to the number of keys.",
      applies=_has_steps)
def n_plus_one(ctx: Context) -> Iterator[Finding]:
    """Per endpoint: a per-item database, cache or service call repeated per request — in
    a loop, by ``count`` (``REPEATED`` or more), or as ``REPEATED`` or more parallel
    branches making the same call."""
    for ref, _endpoint in ctx.endpoints:
        sites = ctx.flow.sites_of(ref)
        if not sites:
            continue
        repeated = [site for site in sites if site.looped or (
            isinstance(site.step, CallStep | CacheStep)
            and float(getattr(site.step, "count", 1.0)) >= REPEATED)]
        found = [f for site in repeated for f in [_per_item(ctx, ref, site)] if f is not None]
        found += list(_fan_outs(ctx, ref, sites))
        yield from found
        if not found:
            loops = sum(isinstance(site.step, LoopStep) for site in sites)
            yield ctx.finding(endpoint_path(ref), True,
                              f"{ref.key}: no per-item database, cache or service call "
                              "inside a loop" + (f" ({loops} loop(s) checked)"
                                                 if loops else ""))


def _fan_outs(ctx: Context, ref: EndpointRef, sites: Sequence[Site]) -> Iterator[Finding]:
    """A parallel step whose branches (``REPEATED`` or more) each make the same one call —
    one per item, at once: still N queries or round trips, only not in a row. (Read from
    the sites' paths: ``…parallel[b][0]`` is branch ``b``'s first step.)"""
    for site in sites:
        if not isinstance(site.step, ParallelStep):
            continue
        base, depth = site.path, len(site.path)
        branches: dict[object, list[Site]] = {}
        for inner in sites:
            path = inner.path
            if len(path) == depth + 3 and path[:depth] == base and path[depth] == "parallel":
                branches.setdefault(path[depth + 1], []).append(inner)
        if len(branches) < REPEATED or any(len(b) != 1 for b in branches.values()):
            continue
        firsts = [b[0] for b in branches.values()]
        keys = {(type(f.step).__name__, getattr(f.step, "call", getattr(f.step, "cache", None)),
                 f.step.query.model_dump_json() if isinstance(f.step, CallStep)
                 and f.step.query else None) for f in firsts}
        if len(keys) != 1:
            continue
        found = _per_item(ctx, ref, firsts[0], shape=f"{len(firsts)} parallel branches",
                          calls=len(firsts) * firsts[0].rate)
        if found is not None:
            yield replace(found, subject=site.subject,
                          message=found.message.replace(" per request", " per request, at once",
                                                        1))


# -- DK-BE-003 ---------------------------------------------------------------------------------


def _has_body_methods(ctx: Context) -> bool:
    return any(ref.method in ("POST", "PUT", "PATCH") for ref, _ in ctx.endpoints)


@rule("DK-BE-003", "Input validated at the earliest boundary", "high", "auto",
      rationale="Unvalidated bodies reach business logic and the database: injection, mass "
                "assignment and crashes on malformed input.",
      remediation="Name the request schema (request_schema) and validate against it at the "
                  "gateway or the controller (validated_at), rejecting bad input with 400/422.",
      references=[
          Reference(TOP10, "A03", "Injection"),
          Reference("CWE", "CWE-20", "Improper Input Validation",
                    "https://cwe.mitre.org/data/definitions/20.html"),
          Reference(API_TOP10, "API3",
                    "Broken Object Property Level Authorization"),
      ],
      applies=_has_body_methods)
def input_validation(ctx: Context) -> Iterator[Finding]:
    for ref, endpoint in ctx.endpoints:
        if ref.method not in ("POST", "PUT", "PATCH"):
            continue
        problems: list[str] = []
        missing: list[str] = []
        if endpoint.validated_at == "none":
            problems.append(f"{ref.key} takes a request body that is validated nowhere "
                            "(validated_at: none)")
        elif endpoint.validated_at is None:
            missing.append(f"{ref.key}: where is the body validated? set validated_at "
                           "(gateway | controller | service)")
        if endpoint.request_schema is None:
            missing.append(f"{ref.key}: no request schema named: set request_schema")
        schema = (endpoint.request_schema if isinstance(endpoint.request_schema, str)
                  else "an inline schema")
        yield verdict(ctx, endpoint_path(ref), problems, missing,
                      f"{ref.key} validates {schema} at the {endpoint.validated_at}",
                      validated_at=endpoint.validated_at)


# -- DK-BE-004 ---------------------------------------------------------------------------------


@rule("DK-BE-004", "Proper status codes, standard error envelope", "medium", "auto",
      rationale="Clients branch on status codes and parse one error shape; undeclared error "
                "responses and ad-hoc error bodies break them.",
      remediation="Declare the error responses of every endpoint (4xx for the client's "
                  "mistakes, 5xx for ours) and answer errors in the policy's envelope.",
      references=[
          Reference("RFC 9110", "15", "Status Codes",
                    "https://www.rfc-editor.org/rfc/rfc9110#section-15"),
          RFC9457,
          Reference("Zalando RESTful API Guidelines", "151",
                    "MUST specify success and error responses", ZALANDO + "151"),
          ZALANDO_PROBLEM_JSON,
      ],
      applies=lambda ctx: any(True for _ in ctx.endpoints))
def status_codes(ctx: Context) -> Iterator[Finding]:
    handlers = ctx.flow.handlers
    want = ctx.policy.envelope
    for ref, endpoint in ctx.endpoints:
        problems: list[str] = []
        missing: list[str] = []
        codes = sorted(endpoint.responses)
        if not codes:
            missing.append(f"{ref.key}: no responses declared: set responses "
                           "({status: description})")
        else:
            bad = [c for c in codes if not 100 <= c <= 599]
            if bad:
                problems.append(f"{ref.key} declares {bad} — not HTTP status codes")
            if not any(400 <= c <= 599 for c in codes):
                problems.append(f"{ref.key} declares only {codes}: no 4xx/5xx error response")
        consumer = handlers.get(str(ref))
        if consumer is None:
            if endpoint.envelope is None:
                missing.append(f"{ref.key}: response envelope not stated: set envelope "
                               f"({want})")
            elif endpoint.envelope != want:
                problems.append(f"{ref.key} answers errors in envelope {endpoint.envelope!r}, "
                                f"not {want!r} ({envelope_standard(want)})")
        errors = [c for c in codes if c >= 400]
        where = (f"consumer of {consumer}: no HTTP client reads its envelope" if consumer
                 else f"envelope {want}")
        yield verdict(ctx, endpoint_path(ref), problems, missing,
                      f"{ref.key} declares error responses {errors}; {where}",
                      responses=codes, envelope=endpoint.envelope)


# -- DK-BE-005 ---------------------------------------------------------------------------------


def _saga_endpoints(design: Design) -> dict[str, str]:
    """Saga actions and compensations: ``"svc METHOD /path"`` → saga name."""
    out: dict[str, str] = {}
    for name, saga in design.sagas.items():
        for step in saga.steps:
            for text in (step.action, step.compensation):
                ref = EndpointRef.parse(text) if text else None
                if ref is not None:
                    out[str(ref)] = name
    return out


def _has_writes(ctx: Context) -> bool:
    return any(is_write(site.step) or _remote_write(site.step) is not None
               for site in ctx.steps)


def _remote_write(step: Step) -> EndpointRef | None:
    if isinstance(step, CallStep):
        ref = EndpointRef.parse(step.call)
        if ref is not None and ref.method in MUTATING:
            return ref
    return None


def _remote_outside_tx(ctx: Context, ref: EndpointRef) -> list[str]:
    """Targets of the remote calls (externals, other endpoints) made outside transactions."""
    design = ctx.design
    out: list[str] = []
    for site in ctx.flow.sites_of(ref):
        step = site.step
        if isinstance(step, CallStep) and site.tx is None:
            target = design.components.get(step.call)
            remote = (EndpointRef.parse(step.call) is not None
                      or (target is not None and target.kind == "external"))
            if remote and step.call not in out:
                out.append(step.call)
    return out


@rule("DK-BE-005", "Transactions wrap multi-step mutations", "high", "auto",
      rationale="Two writes outside one transaction leave half-done changes when the second "
                "fails; writes that span services cannot share a transaction and need a saga "
                "with compensations.",
      remediation="Put the writes to one database inside one transaction step; coordinate "
                  "writes across services or databases with a saga (and an outbox).",
      references=[
          Reference("microservices.io", "saga", "Pattern: Saga",
                    "https://microservices.io/patterns/data/saga.html"),
      ],
      applies=_has_writes)
def transactions(ctx: Context) -> Iterator[Finding]:
    sagas = _saga_endpoints(ctx.design)
    for ref, _endpoint in ctx.endpoints:
        local: list[tuple[Site, str, float]] = []
        remote: list[tuple[Site, EndpointRef, float]] = []
        for site in ctx.flow.sites_of(ref):
            step = site.step
            if isinstance(step, CallStep) and is_write(step):
                local.append((site, step.call, site.rate))
            elif isinstance(step, CallStep) and (callee := _remote_write(step)) is not None:
                remote.append((site, callee, site.rate))
        total = sum(n for *_, n in local) + sum(n for *_, n in remote)
        if not local and not remote:
            continue
        subject = endpoint_path(ref)
        databases = sorted({db for _, db, _ in local})
        services = sorted({str(c) for _, c, _ in remote})
        targets = databases + services
        evidence = {"writes": total, "databases": databases, "remote_writes": services}
        if total < 2:
            yield ctx.finding(subject, True, f"{ref.key} makes one write "
                              f"({targets[0]}): atomic on its own", **evidence)
            continue
        if remote or len(databases) > 1:
            saga = sagas.get(str(ref)) or next(
                (sagas[str(c)] for _, c, _ in remote if str(c) in sagas), None)
            if saga is not None:
                yield ctx.finding(subject, True, f"{ref.key}: {_n(total)} writes across "
                                  f"{', '.join(targets)} are coordinated by saga {saga!r}",
                                  saga=saga, **evidence)
            else:
                yield ctx.finding(
                    subject, False,
                    f"{ref.key} makes {_n(total)} writes spanning {', '.join(targets)}: no "
                    "transaction can hold them, and no saga coordinates them (a failure "
                    "after the first leaves the others done)", **evidence)
            continue
        tx_paths = {site.tx[0] if site.tx and site.tx[1] == db else None
                    for site, db, _ in local}
        outside = [s.subject for s, db, _ in local if not (s.tx and s.tx[1] == db)]
        between = _remote_outside_tx(ctx, ref)
        if outside:
            yield ctx.finding(subject, False,
                              f"{ref.key} makes {_n(total)} writes to {databases[0]} not in "
                              f"one transaction: {len(outside)} outside any transaction "
                              f"({', '.join(outside)})", **evidence)
        elif len(tx_paths) > 1 and between:
            yield ctx.finding(subject, True,
                              f"{ref.key}: {_n(total)} writes to {databases[0]} in "
                              f"{len(tx_paths)} transactions split around the remote call to "
                              f"{', '.join(between)}, so no transaction is held across it "
                              "(DK-RES-003); each transaction is atomic", **evidence)
        elif len(tx_paths) > 1:
            yield ctx.finding(subject, False,
                              f"{ref.key} makes {_n(total)} writes to {databases[0]} split "
                              f"across {len(tx_paths)} transactions with no remote call "
                              "between them: merge them into one", **evidence)
        else:
            yield ctx.finding(subject, True,
                              f"{ref.key}: {_n(total)} writes to {databases[0]} inside one "
                              f"transaction ({next(iter(tx_paths))})", **evidence)


# -- DK-BE-006 ---------------------------------------------------------------------------------


def _sensitive_touched(ctx: Context) -> dict[str, set[tuple[str, str]]]:
    """Per service, the sensitive (table, column) pairs its queries read or write."""
    design = ctx.design
    out: dict[str, set[tuple[str, str]]] = {}
    for item in ctx.steps:
        step = item.step
        if not isinstance(step, CallStep) or step.query is None:
            continue
        database = design.components.get(step.call)
        if not isinstance(database, Database):
            continue
        table = database.tables.get(step.query.table)
        if table is None:
            continue
        cols = {(step.query.table, c) for c, spec in table.columns.items() if spec.sensitive}
        if cols:
            out.setdefault(item.ref.service, set()).update(cols)
    return out


@rule("DK-BE-006", "Secrets never logged or traced", "critical", "auto",
      rationale="Passwords, tokens, card data and personal data in logs or traces are a "
                "breach waiting for a log export; log stores are rarely protected like the "
                "database.",
      remediation="List every sensitive field a service handles in its redact list (logs and "
                   "trace attributes), or attest how secrets are kept out of logs.",
      references=[
          Reference("CWE", "CWE-532", "Insertion of Sensitive Information into Log File",
                    "https://cwe.mitre.org/data/definitions/532.html"),
          Reference(TOP10, "A09", "Security Logging and Monitoring Failures"),
      ])
def secrets_redacted(ctx: Context) -> Iterator[Finding]:
    touched = _sensitive_touched(ctx)
    services = ctx.of_kind("service")
    for name in sorted(touched):
        service = services.get(name)
        if not isinstance(service, Service):
            continue
        fields = sorted(touched[name])
        shown = ", ".join(f"{t}.{c}" for t, c in fields)
        subject = format_path(("components", name, "redact"))
        if service.redact is None:
            yield ctx.needs_data(subject, f"{name} handles sensitive {shown} but states no "
                                 f"redaction: set components.{name}.redact")
            continue
        listed = {r.lower() for r in service.redact}
        leaked = [f"{t}.{c}" for t, c in fields
                  if c.lower() not in listed and f"{t}.{c}".lower() not in listed]
        if leaked:
            yield ctx.finding(subject, False,
                              f"{name} handles sensitive {shown} but does not redact "
                              f"{', '.join(leaked)}: they can reach its logs and traces",
                              not_redacted=leaked)
        else:
            yield ctx.finding(subject, True, f"{name} redacts every sensitive field it "
                              f"handles ({shown})")
    if not touched:
        yield ctx.finding("", Status.NEEDS_ATTESTATION,
                          "no query touches a column marked sensitive, so the model cannot "
                          "tell which secrets flow through the services: mark sensitive "
                          "columns (sensitive: true) or attest that no secret is logged or "
                          "traced")


# -- DK-BE-007 ---------------------------------------------------------------------------------


@rule("DK-BE-007", "Rate limiting on exposed endpoints", "high", "auto",
      rationale="An exposed endpoint without a limit lets one client (or one bug) take all "
                "capacity, and makes credential stuffing and scraping cheap.",
      remediation="Set a rate limit per user, client or IP (with a burst) on every public "
                  "endpoint, and answer 429 with Retry-After.",
      references=[
          OWASP_API4,
          Reference("CWE", "CWE-770", "Allocation of Resources Without Limits or Throttling",
                    "https://cwe.mitre.org/data/definitions/770.html"),
          Reference("AWS Well-Architected", "REL05-BP02", "Throttle requests",
                    AWS + "rel05-bp02.html"),
      ],
      applies=lambda ctx: any(ep.public is not False for _, ep in ctx.endpoints))
def rate_limiting(ctx: Context) -> Iterator[Finding]:
    for ref, endpoint in ctx.endpoints:
        subject = endpoint_path(ref)
        if endpoint.public is False:
            continue
        limit = endpoint.rate_limit
        if endpoint.public is None:
            yield ctx.needs_data(subject, f"{ref.key}: is it reachable from outside? set "
                                 "public (true/false)")
        elif limit is None:
            yield ctx.finding(subject, False, f"public {ref.key}{_rps(ctx, ref)} has no rate "
                              "limit: one client can take all its capacity")
        else:
            burst = f", burst {limit.burst}" if limit.burst else ""
            carries = _carries(ctx, ref)
            above = limit.per == "global" and carries is not None and limit.rps > carries
            text = (f"public {ref.key} is limited to {_n(limit.rps)} rps per "
                    f"{limit.per}{burst}")
            if carries is not None:
                text += (f"{' >' if above else ';'} the design carries about {_n(carries)} "
                         "rps of it" + (": the limit lets through more than the design "
                                        "carries — it saturates first" if above else
                                        " (its workload's share when the first station "
                                        "saturates)"))
            yield ctx.finding(subject, not above, text, rps=limit.rps, per=limit.per,
                              carries_rps=carries)


def _carries(ctx: Context, ref: EndpointRef) -> float | None:
    """The endpoint's rate when the first station saturates (the whole workload grown in
    proportion); ``None`` when it has no workload or nothing saturates."""
    found = ctx.estimate.endpoints.get(str(ref))
    scale = ctx.estimate.max_scale
    if found is None or found.rps <= 0 or not math.isfinite(scale):
        return None
    return found.rps * scale


# -- DK-BE-008 ---------------------------------------------------------------------------------


@rule("DK-BE-008", "Graceful shutdown", "medium", "auto",
      rationale="A deploy or scale-in stops instances: requests in flight are cut unless the "
                "service drains them, and a consumer that acknowledged before committing "
                "loses the message.",
      remediation="Drain for at least the longest request timeout on SIGTERM (stop accepting, "
                  "finish in-flight work), and acknowledge messages only after the commit.",
      references=[
          Reference("Kubernetes", "pod-termination", "Termination of Pods",
                    "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/"
                    "#pod-termination"),
      ],
      applies=lambda ctx: any(isinstance(s, Service) and s.endpoints
                              for s in ctx.of_kind("service").values()))
def graceful_shutdown(ctx: Context) -> Iterator[Finding]:
    consumed: dict[str, list[tuple[str, Queue]]] = {}  # by the handler's service, by name
    for qname, queue in sorted(ctx.of_kind("queue").items()):
        if isinstance(queue, Queue) and queue.handler:
            handler = EndpointRef.parse(queue.handler)
            if handler is not None:
                consumed.setdefault(handler.service, []).append((qname, queue))
    for name, service in ctx.of_kind("service").items():
        if not isinstance(service, Service) or not service.endpoints:
            continue
        subject = format_path(("components", name, "drain_timeout_ms"))
        timeouts = {key: ep.timeout_ms for key, ep in service.endpoints.items()}
        known = {k: t for k, t in timeouts.items() if t is not None}
        unknown = sorted(k for k, t in timeouts.items() if t is None)
        drain = service.drain_timeout_ms
        problems: list[str] = []
        missing: list[str] = []
        longest_key = max(known, key=lambda k: known[k]) if known else None
        longest = known[longest_key] if longest_key else None
        if drain is None:
            missing.append(f"{name}: drain timeout not stated: set drain_timeout_ms")
        if unknown:
            missing.append(f"{name}: no timeout_ms on {', '.join(unknown)}")
        if drain is not None and longest is not None and drain < longest:
            problems.append(f"{name} drains for {_n(drain)} ms but {longest_key} may run "
                            f"{_n(longest)} ms: requests in flight at shutdown are cut")
        yield verdict(ctx, subject, problems, missing,
                      f"{name} drains for {_n(drain or 0)} ms ≥ its longest request timeout "
                      f"({_n(longest or 0)} ms, {longest_key})",
                      drain_timeout_ms=drain, longest_timeout_ms=longest)
        for qname, queue in consumed.get(name, ()):
            qsubject = format_path(("components", qname, "ack"))
            if queue.ack is None:
                yield ctx.needs_data(qsubject, f"{name} consumes {qname}: when does it "
                                     "acknowledge? set ack (after-commit | before-processing "
                                     "| auto)")
            elif queue.ack != "after-commit":
                yield ctx.finding(qsubject, False,
                                  f"{name} acknowledges {qname} messages {queue.ack}: a "
                                  "message in flight at shutdown is lost",
                                  ack=queue.ack)
            else:
                yield ctx.finding(qsubject, True, f"{name} acknowledges {qname} messages "
                                  "after commit: a shutdown redelivers, never loses",
                                  ack=queue.ack)


RULES: list[Rule] = [idempotency_key, n_plus_one, input_validation, status_codes,
                     transactions, secrets_redacted, rate_limiting, graceful_shutdown]
