"""Rules that keep the business's invariants: DK-RES-007, DK-RES-009 and DK-BE-009.

A value's changes must be safe against concurrent requests (RES-007: no read-then-write of
one key, one table, or one declared value across stores, without a lock, an atomic
operation, a conditional update or a version check); the store declared its authority must
not lose it (RES-009: evicted, a cache-aside copy, not persisted); an effect that must
happen once gets an idempotency key on every call (BE-009). Each quotes the estimate: the
requests that race and the updates lost a second, the changes a crash loses, the charges a
retry repeats.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from designkit.assess.context import Context
from designkit.assess.finding import Finding
from designkit.assess.rule import Reference, Rule, rule
from designkit.assess.rules._facts import endpoint_path, inside
from designkit.assess.rules._refs import AWS_IDEMPOTENT
from designkit.estimate.external import attempts
from designkit.estimate.step_times import endpoint_times
from designkit.flow.nodes import ExternalCall, Site, walk
from designkit.model.components import Cache
from designkit.model.database import Database
from designkit.model.effects import Access, Effect, cache_access, query_effect
from designkit.model.invariants import Invariant, Store, parse_store
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.steps import CallStep, LockStep
from designkit.text import number as _n
from designkit.text import percent as _pct

__all__ = ["RULES", "Touch", "touches"]

_READ_EFFECTS = ("read", "locking-read", "watch")
_CHANGES = ("write", "atomic", "claim", "versioned-write")
_SAFE = {"atomic": "atomic in place", "claim": "set only when absent",
         "versioned-write": "conditional on the version read"}
AOF_LOSS_S = 1.0
"""Seconds of writes an append-only file fsynced every second can lose in a crash."""


@dataclass(frozen=True)
class Touch:
    """A call of an endpoint and what it does to which data.

    Attributes:
        site: The call's step.
        store: The component called.
        key: The cache key its op names, or the table of its query (lower-cased key).
        effect: Its effect (``None``: not known).
        command: The command or query kind, as the finding quotes it.
        values: The invariants whose value it touches.
    """

    site: Site
    store: str
    key: str | None
    effect: Effect | None
    command: str
    values: frozenset[str]

    def same_data(self, other: Touch) -> bool:
        """Both touch one key of one store, or one declared value (in any store)."""
        if self.values & other.values:
            return True
        return self.store == other.store and self.key is not None and self.key == other.key

    @property
    def what(self) -> str:
        """``GET stock:{sku} on stock-cache``, ``select of orders-db.stock``."""
        step = self.site.step
        assert isinstance(step, CallStep)
        if step.query is not None:
            return f"{step.query.kind} of {self.store}.{step.query.table}"
        return f"{step.op or self.command} on {self.store}"


def _matches(invariant: Invariant, store: Store, touch_store: str, table: str | None,
             key: str | None, is_cache: bool) -> bool:
    if store.component != touch_store:
        return False
    if is_cache:
        prefix = invariant.key_prefix
        return prefix is None or key is None or key.startswith(prefix)
    return store.table is None or store.table == table


def touches(ctx: Context) -> list[Touch]:
    """Every call of a cache or a database (with a query), with its effect, in the flow's
    order (endpoint by endpoint, depth first)."""
    design = ctx.design
    out: list[Touch] = []
    for site in ctx.steps:
        step = site.step
        if not isinstance(step, CallStep):
            continue
        target = design.components.get(step.call)
        access: Access
        if isinstance(target, Cache):
            access = cache_access(step.op, step.does)
            table = None
        elif isinstance(target, Database) and step.query is not None:
            effect = step.does or query_effect(step.query, target)
            access = Access(effect, step.query.table.lower(), step.query.kind)
            table = step.query.table
        else:
            continue
        values = frozenset(
            name for name, invariant in design.invariants.items()
            if any(_matches(invariant, store, step.call, table, access.key,
                            isinstance(target, Cache)) for store in invariant.stores()))
        out.append(Touch(site, step.call, access.key, access.effect,
                         access.command or "?", values))
    return out


# -- DK-RES-007 ------------------------------------------------------------------------


def _guard(ctx: Context, sites: Sequence[Site], read: Touch, write: Touch) -> str | None:
    """What keeps ``write`` from losing an update made since ``read``, or ``None``."""
    for lock in sites:
        if isinstance(lock.step, LockStep) and inside(read.site.path, lock.path) \
                and inside(write.site.path, lock.path):
            return f"both under lock {lock.step.lock}"
    if read.effect == "locking-read" and read.site.tx is not None \
            and write.site.tx == read.site.tx:
        return "the read locks the row (FOR UPDATE) until the transaction commits"
    if read.effect == "watch":
        return f"WATCH {read.key} makes the write fail if the key changed"
    return None


def _race_numbers(ctx: Context, sites: Sequence[Site], read: Touch,
                  write: Touch) -> tuple[str, dict[str, float]]:
    """The requests that race between the read and the write, from the estimate: an
    update is lost when a second request on the same key arrives in the window from one's
    read to its write, P = 1 − e^(−λw) with arrivals at λ a second (Poisson)."""
    ref = str(write.site.ref)
    if not ctx.design.loaded or ref not in ctx.estimate.endpoints:
        return "", {}
    rate = ctx.estimate.endpoints[ref].rps * write.site.times
    if rate <= 0:
        return "", {}
    times = endpoint_times(ctx.flow, ref, ctx.estimate)
    first = sites.index(read.site)
    last = sites.index(write.site)
    window = 0.0
    for site in sites[first:last + 1]:
        own = times.steps.get(site.path)
        if own is not None and math.isfinite(own.own_ms) and isinstance(site.step, CallStep):
            window += own.own_ms
    if not math.isfinite(window) or window <= 0:
        return "", {}
    racing = 1.0 - math.exp(-rate * window / 1000.0)
    text = (f": at {_n(rate)} requests/s on one key and {_n(window)} ms from read to write, "
            f"{_pct(racing)} of requests race another — up to {_n(rate * racing)} updates/s "
            "lost (oversold)")
    return text, {"rate": rate, "window_ms": window, "racing": racing,
                  "lost_per_s": rate * racing}


def _value_names(touch: Touch) -> str:
    names = sorted(touch.values)
    return f" (the value of {', '.join(names)})" if names else ""


@rule("DK-RES-007", "Oversell / lost-update race", "critical", "auto",
      rationale="Two requests that read a value and write back what they computed from it "
                "both succeed on the same stale read: one update is lost (stock oversold, a "
                "balance spent twice). A transaction at read committed does not prevent it, "
                "and neither does reading from one store and writing to another.",
      remediation="Change the value in place with one atomic operation (Redis DECR, a Lua "
                  "script; UPDATE … SET n = n - 1 WHERE n >= 1 with query.atomic: true), or "
                  "read it with SELECT … FOR UPDATE (query.for_update) in the transaction that "
                  "writes it, hold a lock around the read and the write, or write "
                  "conditionally on a version column (where: [id, version]).",
      references=[Reference("CWE", "CWE-362", "Race Condition")])
def lost_update(ctx: Context) -> Iterator[Finding]:
    all_touches = ctx.memo(touches)
    by_endpoint: dict[str, list[Touch]] = {}
    for touch in all_touches:
        by_endpoint.setdefault(str(touch.site.ref), []).append(touch)
    for ref, mine in by_endpoint.items():
        sites = ctx.flow.sites_of(ref)
        for i, write in enumerate(mine):
            step = write.site.step
            assert isinstance(step, CallStep)
            is_update = step.query is not None and step.query.kind in ("update", "upsert")
            if write.effect not in _CHANGES and not is_update:
                continue
            where = f"{ref}: {write.what}{_value_names(write)}"
            reads = [r for r in mine[:i] if r.effect in _READ_EFFECTS and r.same_data(write)]
            if write.effect in _SAFE:
                if reads or write.values or is_update:
                    how = (f"query.{'atomic' if write.effect == 'atomic' else 'where'}"
                           if step.query is not None else write.command)
                    yield ctx.finding(write.site.subject, True,
                                      f"{where}: {_SAFE[write.effect]} ({how})")
                continue
            if write.effect != "write":  # an update whose effect is not known: no verdict
                continue
            if not reads:
                if is_update or write.values:
                    yield ctx.finding(write.site.subject, True,
                                      f"{where} does not read the value first (no "
                                      "read-modify-write)")
                continue
            guards = [_guard(ctx, sites, r, write) for r in reads]
            if all(guards):
                yield ctx.finding(write.site.subject, True,
                                  f"{where} after {reads[-1].what}: {guards[-1]}")
                continue
            read = next(r for r, g in zip(reads, guards, strict=True) if g is None)
            numbers, evidence = _race_numbers(ctx, sites, read, write)
            across = "" if read.store == write.store else " across stores"
            unstated = (step.query is not None and step.query.atomic is None)
            hint = ("; if the statement changes the value in place (SET n = n - 1 WHERE "
                    "n >= 1), say query.atomic: true" if unstated else "")
            yield ctx.finding(
                write.site.subject, False,
                f"{where} writes back a value read by {read.what}{across} with no lock, "
                f"atomic operation, conditional update or version check"
                f"{numbers or ' — concurrent requests lose updates (oversell)'}{hint}",
                read=format_path(read.site.path), **evidence)


# -- DK-RES-009 ------------------------------------------------------------------------


def _change_rate(ctx: Context, name: str) -> float:
    """Changes of invariant ``name``'s value a second, at the workload."""
    if not ctx.design.loaded:
        return 0.0
    total = 0.0
    for touch in ctx.memo(touches):
        if name in touch.values and touch.effect in _CHANGES:
            found = ctx.estimate.endpoints.get(str(touch.site.ref))
            step = touch.site.step
            assert isinstance(step, CallStep)
            if found is not None and math.isfinite(found.rps):
                total += found.rps * touch.site.times * step.count
    return total


def _cache_losses(cache: Cache) -> list[str]:
    """Why a cache cannot keep a value for good."""
    lost: list[str] = []
    if cache.engine.lower() == "memcached":
        lost.append("Memcached keeps nothing on disk and evicts under memory pressure")
    if cache.strategy in ("cache-aside", "read-through"):
        lost.append(f"a {cache.strategy} cache holds copies that it drops and refills from "
                    "elsewhere, so it cannot be where the truth lives")
    if cache.eviction is not None and cache.eviction.lower() != "noeviction":
        lost.append(f"eviction {cache.eviction} drops keys under memory pressure: a dropped "
                    "value reads as missing and is re-seeded or taken as zero")
    if cache.persistence == "none":
        lost.append("persistence none: a restart loses every value")
    elif cache.persistence == "snapshot":
        lost.append("persistence snapshot: a restart returns to the last snapshot, losing "
                    "every change since")
    return lost


@rule("DK-RES-009", "The authority keeps its value", "critical", "auto",
      rationale="The store declared the authority for a value (stock, a balance, a seat) is "
                "where its truth lives: if it evicts the key, refills it from a copy, or "
                "loses it in a restart, the value jumps back and what was sold is sold again.",
      remediation="Make the authority a database, or a cache run as a store of record: "
                  "eviction noeviction, persistence aof (or aof-always), not cache-aside; and "
                  "reconcile its copies from it.",
      applies=lambda ctx: any(i.authority is not None for i in ctx.design.invariants.values()))
def authority_keeps(ctx: Context) -> Iterator[Finding]:
    for name, invariant in ctx.design.invariants.items():
        if invariant.authority is None:
            continue
        subject = format_path(("invariants", name, "authority"))
        store = parse_store(invariant.authority)
        component = ctx.design.components.get(store.component)
        what = f"{name}: {invariant.authority}"
        rate = _change_rate(ctx, name)
        evidence = {"changes_per_s": rate}
        if isinstance(component, Database):
            yield ctx.finding(subject, True, f"{what} is a database: a change is durable once "
                                             "committed", **evidence)
            continue
        if not isinstance(component, Cache):
            continue
        lost = _cache_losses(component)
        if lost:
            yield ctx.finding(subject, False, f"{what}: " + "; ".join(lost), **evidence)
        elif component.persistence is None:
            yield ctx.needs_data(subject, f"{what}: say what survives a restart — "
                                          "persistence: none | snapshot | aof | aof-always")
        elif component.persistence == "aof":
            at = (f" (at {_n(rate)} changes/s, up to {_n(rate * AOF_LOSS_S)})" if rate > 0
                  else "")
            yield ctx.finding(subject, True,
                              f"{what}: noeviction, persisted to an append-only file fsynced "
                              f"every second: a crash loses at most {AOF_LOSS_S:g} s of "
                              f"changes{at}, to reconcile", lost_changes=rate * AOF_LOSS_S,
                              **evidence)
        else:
            yield ctx.finding(subject, True, f"{what}: noeviction, every change fsynced "
                                             "(aof-always)", **evidence)


# -- DK-BE-009 -------------------------------------------------------------------------


def _external_calls(ctx: Context) -> dict[tuple[str | int, ...], ExternalCall]:
    """The third-party calls of the flow by their step's path."""
    out: dict[tuple[str | int, ...], ExternalCall] = {}
    for endpoint in ctx.flow.endpoints:
        for node in walk(endpoint.steps):
            if isinstance(node, ExternalCall) and node.site is not None:
                out[node.site.path] = node
    return out


def _charges_of(ctx: Context, invariant: Invariant) -> list[Site]:
    target = invariant.charged_by
    assert target is not None
    ref = EndpointRef.parse(target)
    wanted = str(ref) if ref is not None else target
    out = []
    for site in ctx.steps:
        step = site.step
        if isinstance(step, CallStep):
            called = EndpointRef.parse(step.call)
            if (str(called) if called is not None else step.call) == wanted:
                out.append(site)
    return out


def _repeats(ctx: Context, site: Site) -> tuple[str, dict[str, float]]:
    """How often a call without a key is sent again, from the estimate: every retry
    follows an attempt that failed or timed out, after which the provider may have acted."""
    node = ctx.memo(_external_calls).get(site.path)
    step = site.step
    assert isinstance(step, CallStep)
    if node is None or not ctx.design.loaded:
        return "", {}
    found = ctx.estimate.endpoints.get(str(site.ref))
    if found is None or not math.isfinite(found.rps) or found.rps <= 0:
        return "", {}
    rate = found.rps * site.times * step.count
    info = attempts(node)
    retried = rate * sum(w * k for k, w in enumerate(info.weights()))  # attempts − 1
    if info.max_attempts > 1:
        return (f": with {info.max_attempts - 1} retries, {_n(retried)} of {_n(rate)} "
                "calls/s are sent again after an attempt that failed or timed out — "
                "each may act twice", {"rate": rate, "repeated_per_s": retried})
    unknown = rate * info.failure
    return (f": {_n(unknown)} of {_n(rate)} calls/s fail or time out with the outcome "
            "unknown, and whoever retries (the client, a saga) acts again",
            {"rate": rate, "unknown_per_s": unknown})


@rule("DK-BE-009", "Effects that must happen once carry an idempotency key", "critical",
      "auto",
      rationale="A charge that timed out may have been taken: the retry (ours, the client's, "
                "a saga's) charges again unless the provider can recognise it — by an "
                "idempotency key that every attempt of one logical charge carries.",
      remediation="Forward an idempotency key derived from the request's own (or the saga's "
                  "id and step) to the provider on every call (idempotency_key: true), and "
                  "give the endpoint that performs the effect an idempotency key.",
      references=[AWS_IDEMPOTENT],
      applies=lambda ctx: any(i.charged_by is not None for i in ctx.design.invariants.values()))
def charged_once(ctx: Context) -> Iterator[Finding]:
    for name, invariant in ctx.design.invariants.items():
        if invariant.charged_by is None:
            continue
        says = f' ("{invariant.says}")' if invariant.says else ""
        callee = EndpointRef.parse(invariant.charged_by)
        if callee is not None:
            endpoint = ctx.endpoint_map.get(callee)
            if endpoint is not None and endpoint.idempotency_key is None:
                yield ctx.finding(endpoint_path(callee), False,
                                  f"{name}{says}: {callee} performs it with no idempotency "
                                  "key: a repeated request acts twice")
        sites = _charges_of(ctx, invariant)
        if not sites:
            yield ctx.needs_data(format_path(("invariants", name, "charged_by")),
                                 f"{name}{says}: nothing calls {invariant.charged_by}")
            continue
        for site in sites:
            step = site.step
            assert isinstance(step, CallStep)
            where = f"{name}{says}: {site.ref} → {step.call}"
            if step.idempotency_key:
                own = site.endpoint.idempotency_key
                source = (f"{site.ref}'s {own.header}" if own is not None else
                          "a key the caller derives")
                yield ctx.finding(site.subject, True,
                                  f"{where} forwards an idempotency key ({source})")
                continue
            numbers, evidence = _repeats(ctx, site)
            client = ("" if site.endpoint.idempotency_key is not None else
                      f"; {site.ref} has no idempotency key either: a client's retry acts "
                      "again")
            yield ctx.finding(site.subject, False,
                              f"{where} carries no idempotency key (idempotency_key unset)"
                              f"{numbers}{client}", **evidence)


RULES: list[Rule] = [lost_update, authority_keeps, charged_once]
