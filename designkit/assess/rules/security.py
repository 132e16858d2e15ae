"""Rules of the security area: DK-SEC-001 … DK-SEC-009.

Decided from ``design.security`` (password hashing, JWT algorithm, sessions, CSRF, CORS),
from each endpoint's ``public`` flag and ``auth`` (scheme, roles, ownership), and from the
service-to-service call edges. Parameterized queries need an attestation; the OWASP
Top 10 roll-up re-runs the rules mapped to each category.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from designkit.assess.context import Context
from designkit.assess.finding import Finding, Status
from designkit.assess.rule import Reference, Rule, Severity, rule
from designkit.assess.rules._facts import endpoint_path
from designkit.assess.rules._refs import API_TOP10, TOP10
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.service import Endpoint
from designkit.model.steps import CallStep

__all__ = ["OWASP_TOP10", "RULES"]

_CWE = "CWE"

A01 = Reference(TOP10, "A01", "Broken Access Control")
A02 = Reference(TOP10, "A02", "Cryptographic Failures")
A03 = Reference(TOP10, "A03", "Injection")
A05 = Reference(TOP10, "A05", "Security Misconfiguration")
A07 = Reference(TOP10, "A07", "Identification and Authentication Failures")

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
_OBJECT_ID = re.compile(r"\{[^}]*id\}", re.IGNORECASE)

#: OWASP Top 10 2021 categories and the catalogue's rules that test them (rules of other
#: areas count when they are in the catalogue).
OWASP_TOP10: dict[str, tuple[str, tuple[str, ...]]] = {
    "A01": ("Broken Access Control", ("DK-SEC-004", "DK-SEC-006", "DK-SEC-007")),
    "A02": ("Cryptographic Failures", ("DK-SEC-002", "DK-SEC-003")),
    "A03": ("Injection", ("DK-SEC-001", "DK-BE-003")),
    "A04": ("Insecure Design", ()),
    "A05": ("Security Misconfiguration", ("DK-SEC-005",)),
    "A06": ("Vulnerable and Outdated Components", ()),
    "A07": ("Identification and Authentication Failures", ("DK-SEC-008",)),
    "A08": ("Software and Data Integrity Failures", ()),
    "A09": ("Security Logging and Monitoring Failures", ("DK-BE-006",)),
    "A10": ("Server-Side Request Forgery", ()),
}


def _listed(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _with_severity(ctx: Context, finding: Finding, severity: Severity) -> Finding:
    """Raise a finding's severity above the rule's, unless the policy overrides it."""
    assert ctx.rule is not None
    if ctx.rule.id in ctx.policy.severity:
        return finding
    return replace(finding, severity=severity)


# -- DK-SEC-001 ------------------------------------------------------------------------

@rule("DK-SEC-001", "Parameterized queries", "critical", "attestation",
      rationale="SQL built by string concatenation lets a request rewrite the statement "
                "(SQL injection); bound parameters keep data out of the SQL text.",
      remediation="Build every statement with bound parameters (prepared statements, an ORM "
                  "or a query generator such as sqlc/jOOQ) and record an attestation: who "
                  "checked, when, and the evidence (lint rule, code review, test).",
      references=[A03, Reference(_CWE, "CWE-89", "SQL Injection")])
def parameterized_queries(ctx: Context) -> Iterator[Finding]:
    statements = Counter(item.step.call for item in ctx.steps if isinstance(item.step, CallStep))
    for name, db in ctx.of_kind("database").items():
        queried = statements[name]
        yield ctx.finding(
            format_path(("components", name)), Status.NEEDS_ATTESTATION,
            f"the model does not say how the {queried} statement(s) sent to {name} "
            f"({getattr(db, 'engine', 'database')}) are built: attest that every one "
            "uses bound parameters",
            statements=queried)


# -- DK-SEC-002 ------------------------------------------------------------------------

@rule("DK-SEC-002", "Passwords hashed with bcrypt/argon2id and unique salts", "critical", "auto",
      rationale="A fast or unsalted hash lets a leaked table be cracked offline at billions of "
                "guesses per second; bcrypt and argon2id are slow, salted and tunable.",
      remediation="Hash passwords with argon2id (or bcrypt) with a per-password salt; set "
                  "security.password_hashing.",
      references=[A02, Reference(_CWE, "CWE-916",
                                 "Use of Password Hash With Insufficient Computational Effort")])
def password_hashing(ctx: Context) -> Iterator[Finding]:
    scheme = ctx.design.security.password_hashing
    accepted = ctx.policy.password_hashing
    subject = "security.password_hashing"
    if scheme is None:
        yield ctx.needs_data(subject, "set security.password_hashing (the policy accepts "
                                      f"{', '.join(accepted)})")
        return
    ok = scheme.lower() in {a.lower() for a in accepted}
    yield ctx.finding(subject, ok,
                      f"passwords are hashed with {scheme}; the policy accepts "
                      f"{', '.join(accepted)}", scheme=scheme, accepted=list(accepted))


# -- DK-SEC-003 ------------------------------------------------------------------------

def _uses_jwt(ctx: Context) -> bool:
    if ctx.design.security.jwt_algorithm is not None:
        return True
    schemes = {ep.auth.scheme for _, ep in ctx.endpoints if ep.auth is not None}
    # No endpoint states its auth: the scheme is unknown, so the rule still asks.
    return not schemes or bool(schemes & {"jwt", "oauth2"})


@rule("DK-SEC-003", "JWT signed asymmetrically (RS256/ES256)", "high", "auto",
      rationale="With HS256 every service that verifies a token holds the key that can "
                "forge one; RS256/ES256 verify with a public key only.",
      remediation="Sign tokens with RS256 or ES256, verify with the public key, and pin the "
                  "accepted algorithm (never accept 'none'); set security.jwt_algorithm.",
      references=[A02, Reference(API_TOP10, "API2", "Broken Authentication"),
                  Reference(_CWE, "CWE-347", "Improper Verification of Cryptographic Signature")],
      applies=_uses_jwt)
def jwt_algorithm(ctx: Context) -> Iterator[Finding]:
    algorithm = ctx.design.security.jwt_algorithm
    accepted = ctx.policy.jwt_algorithms
    subject = "security.jwt_algorithm"
    if algorithm is None:
        users = [str(ref) for ref, ep in ctx.endpoints
                 if ep.auth is not None and ep.auth.scheme in ("jwt", "oauth2")]
        yield ctx.needs_data(subject, "set security.jwt_algorithm (the policy accepts "
                                      f"{', '.join(accepted)})"
                             + (f"; {len(users)} endpoint(s) take JWTs" if users else ""))
        return
    ok = algorithm.upper() in {a.upper() for a in accepted}
    yield ctx.finding(subject, ok, f"JWTs are signed with {algorithm}; the policy accepts "
                                   f"{', '.join(accepted)}",
                      algorithm=algorithm, accepted=list(accepted))


# -- DK-SEC-004 ------------------------------------------------------------------------

def _cookie_endpoints(ctx: Context) -> list[str]:
    """Mutating endpoints a browser's cookie authenticates."""
    session = [str(ref) for ref, ep in ctx.endpoints
               if ref.method in MUTATING and ep.auth is not None and ep.auth.scheme == "session"]
    if session:
        return session
    return [str(ref) for ref, ep in ctx.endpoints
            if ref.method in MUTATING and ep.public is True
            and (ep.auth is None or ep.auth.scheme not in ("none", "mtls", "api-key"))]


@rule("DK-SEC-004", "CSRF tokens for cookie sessions", "high", "auto",
      rationale="A browser sends cookies with cross-site requests: without an anti-CSRF "
                "token any page the user visits can submit a mutating request as them.",
      remediation="Require an anti-CSRF token (synchronizer or double-submit) on every "
                  "mutating request of a cookie session, with SameSite cookies; set "
                  "security.csrf: true.",
      references=[A01, Reference(_CWE, "CWE-352", "Cross-Site Request Forgery")])
def csrf(ctx: Context) -> Iterator[Finding]:
    security = ctx.design.security
    if security.sessions is None:
        yield ctx.needs_data("security.sessions",
                             "set security.sessions (cookie or token) — CSRF protection is "
                             "needed for cookie sessions")
        return
    if security.sessions == "token":
        yield ctx.finding("security.sessions", Status.NOT_APPLICABLE,
                          "sessions are bearer tokens, not cookies: the browser does not "
                          "send them cross-site")
        return
    exposed = _cookie_endpoints(ctx)
    if not exposed:
        yield ctx.finding("security.csrf", True, "cookie sessions, but no mutating endpoint "
                                                 "is authenticated by the cookie")
        return
    if security.csrf is None:
        yield ctx.needs_data("security.csrf",
                             f"set security.csrf: cookie sessions and {len(exposed)} mutating "
                             f"endpoint(s) ({_listed(exposed)})")
        return
    if security.csrf:
        yield ctx.finding("security.csrf", True,
                          f"cookie sessions with anti-CSRF tokens on {len(exposed)} mutating "
                          "endpoint(s)", endpoints=exposed)
    else:
        yield ctx.finding("security.csrf", False,
                          f"cookie sessions without CSRF protection: {len(exposed)} mutating "
                          f"endpoint(s) accept cross-site requests ({_listed(exposed)})",
                          endpoints=exposed)


# -- DK-SEC-005 ------------------------------------------------------------------------

@rule("DK-SEC-005", "Strict CORS", "high", "auto",
      rationale="A wildcard origin lets any site read the API's responses from a user's "
                "browser; with credentials it reads them as the signed-in user.",
      remediation="List the exact origins allowed (no '*', no 'null'); never combine a "
                  "wildcard with credentials.",
      references=[A05, Reference(API_TOP10, "API8", "Security Misconfiguration"),
                  Reference(_CWE, "CWE-942",
                            "Permissive Cross-domain Policy with Untrusted Domains")])
def strict_cors(ctx: Context) -> Iterator[Finding]:
    cors = ctx.design.security.cors
    subject = "security.cors"
    if cors is None:
        yield ctx.needs_data(subject, "set security.cors (origins, credentials) — an empty "
                                      "origins list allows no cross-origin reads")
        return
    loose = [o for o in cors.origins if _loose_origin(o, cors.credentials)]
    if not loose:
        yield ctx.finding(subject, True,
                          f"{len(cors.origins)} exact origin(s) allowed"
                          + (f" ({_listed(cors.origins)})" if cors.origins else "")
                          + f", credentials {'on' if cors.credentials else 'off'}",
                          origins=list(cors.origins), credentials=cors.credentials)
        return
    why = _loose_origin(loose[0], cors.credentials)
    if cors.credentials:
        found = ctx.finding(subject, False,
                            f"origin {loose[0]!r} with credentials: true — {why} can read "
                            "responses as the signed-in user (critical)",
                            origins=list(cors.origins), credentials=True, loose=loose)
        yield _with_severity(ctx, found, Severity.CRITICAL)
    else:
        yield ctx.finding(subject, False,
                          f"origin {loose[0]!r} allowed: {why} can read the API's "
                          "responses from a browser", origins=list(cors.origins),
                          credentials=False, loose=loose)


_LOCAL = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0)(:\d+)?/?$",
                    re.IGNORECASE)


def _loose_origin(origin: str, credentials: bool) -> str:
    """Who else an allowed origin lets in (``""``: nobody — an exact https origin)."""
    text = origin.strip()
    if text in ("*", "null"):
        return "any site"
    if "*" in text:
        return "any site under the pattern (a taken-over subdomain included)"
    if credentials and _LOCAL.match(text):
        return "any program serving on the user's own machine"
    if credentials and text.lower().startswith("http://"):
        return "a network attacker injecting script into that plain-http origin"
    return ""


# -- DK-SEC-006 ------------------------------------------------------------------------

def _anonymous(endpoint: Endpoint) -> bool:
    return endpoint.auth is not None and endpoint.auth.scheme == "none" \
        and endpoint.public is True


@rule("DK-SEC-006", "RBAC checked at the controller", "high", "auto",
      rationale="An authenticated endpoint that requires no role lets every signed-in "
                "caller (or every internal service) run it — broken function-level "
                "authorization.",
      remediation="Name the roles or permissions each endpoint requires (auth.roles) and "
                  "check them in the controller; mark anonymous endpoints public with "
                  "auth.scheme: none.",
      references=[A01, Reference(API_TOP10, "API5", "Broken Function Level Authorization"),
                  Reference(_CWE, "CWE-285", "Improper Authorization")])
def rbac(ctx: Context) -> Iterator[Finding]:
    for ref, ep in ctx.endpoints:
        subject = endpoint_path(ref)
        if _anonymous(ep):
            continue  # a public, anonymous endpoint: nothing to authorize
        if ep.auth is None:
            if ep.public is None:
                yield ctx.needs_data(subject, f"{ref}: set public and auth (scheme, roles)")
            else:
                yield ctx.finding(subject, False,
                                  f"{ref} ({'public' if ep.public else 'internal'}) declares "
                                  "no auth: no role is checked", public=ep.public)
            continue
        if ep.auth.scheme == "none":
            yield ctx.finding(subject, False,
                              f"{ref} is not public (public: {ep.public}) yet takes "
                              "auth.scheme none: any caller that reaches it runs it",
                              public=ep.public)
            continue
        roles = ep.auth.roles
        yield ctx.finding(subject, bool(roles),
                          f"{ref} ({ep.auth.scheme}) requires role(s) {', '.join(roles)}"
                          if roles else
                          f"{ref} ({ep.auth.scheme}) requires no role: every authenticated "
                          "caller may run it", roles=list(roles), scheme=ep.auth.scheme)


# -- DK-SEC-007 ------------------------------------------------------------------------

@rule("DK-SEC-007", "Object-level authorization (BOLA/IDOR)", "critical", "auto",
      rationale="A path that names an object by id lets a caller try other ids: unless "
                "the handler checks ownership, they read or change someone else's object.",
      remediation="Check that the caller owns (or may access) the object named in the path "
                  "in the handler, and set auth.ownership: true.",
      references=[A01, Reference(API_TOP10, "API1", "Broken Object Level Authorization"),
                  Reference(_CWE, "CWE-639",
                            "Authorization Bypass Through User-Controlled Key")])
def object_level_authorization(ctx: Context) -> Iterator[Finding]:
    for ref, ep in ctx.endpoints:
        ids = _OBJECT_ID.findall(ref.path)
        if not ids or _anonymous(ep):
            continue
        subject = endpoint_path(ref)
        ownership = ep.auth.ownership if ep.auth is not None else None
        if ownership is None:
            yield ctx.needs_data(subject, f"{ref} names an object by {', '.join(ids)}: set "
                                          "auth.ownership (does the handler check the "
                                          "caller owns it?)")
            continue
        yield ctx.finding(subject, ownership,
                          f"{ref}: ownership of {', '.join(ids)} is checked" if ownership else
                          f"{ref} names an object by {', '.join(ids)} with auth.ownership: "
                          "false — any caller can reach any object by guessing ids",
                          object_ids=ids)


# -- DK-SEC-008 ------------------------------------------------------------------------

_S2S = ("mtls", "jwt")


@rule("DK-SEC-008", "Service-to-service auth (mTLS or signed tokens)", "high", "auto",
      rationale="An internal endpoint that trusts the network lets anything inside it (a "
                "compromised pod, an SSRF) call it; mTLS or signed tokens prove the caller.",
      remediation="Authenticate internal calls with mTLS (auth.scheme: mtls) or signed "
                  "service tokens (jwt), and restrict the allowed callers with roles.",
      references=[A07, Reference(API_TOP10, "API2", "Broken Authentication"),
                  Reference(_CWE, "CWE-306", "Missing Authentication for Critical Function")])
def service_to_service_auth(ctx: Context) -> Iterator[Finding]:
    known = ctx.endpoint_map
    edges: list[tuple[str, str, EndpointRef]] = []
    for item in ctx.steps:
        step = item.step
        target = EndpointRef.parse(step.call) if isinstance(step, CallStep) else None
        if target is not None:
            edges.append((item.subject, f"{item.ref} → {target}", target))
    for name, queue in ctx.of_kind("queue").items():
        handler = getattr(queue, "handler", None)
        target = EndpointRef.parse(handler) if handler else None
        if target is not None:
            edges.append((format_path(("components", name, "handler")),
                          f"{name} (queue) → {target}", target))
    for subject, edge, target in edges:
        ep = known.get(target)
        if ep is None:
            continue
        if ep.auth is None:
            yield ctx.needs_data(subject, f"{edge}: set auth.scheme of {target} (mtls or jwt)")
            continue
        ok = ep.auth.scheme in _S2S
        yield ctx.finding(subject, ok,
                          f"{edge}: the callee authenticates callers with {ep.auth.scheme}"
                          + ("" if ok else " — not mTLS or a signed token"),
                          scheme=ep.auth.scheme)


# -- DK-SEC-009 ------------------------------------------------------------------------

def _run_mapped(ctx: Context, mapped: Rule) -> list[Finding]:
    """Run another rule's check on this context (its findings, as the engine would make
    them, before waivers); a rule the review has already run is not run again."""
    from designkit.assess.engine import attested

    earlier = ctx.ran(mapped)
    if earlier is not None:
        return attested(earlier, ctx.design, ctx.today)
    current = ctx.rule
    ctx.rule = mapped
    try:
        if not mapped.applies(ctx):
            return []
        found = list(mapped.check(ctx))
    except Exception as err:
        raise RuntimeError(f"mapped rule {mapped.id} failed: {type(err).__name__}: "
                           f"{err}") from err
    finally:
        ctx.rule = current
    return attested(found, ctx.design, ctx.today)


@rule("DK-SEC-009", "OWASP Top 10 roll-up", "high", "auto",
      rationale="The OWASP Top 10 is how security reviews are read: each category should "
                "be covered by checks that pass, or by a person's attestation.",
      remediation="Fix the failing rules of each category; attest the categories no rule "
                  "covers (dependency scanning for A06, signed artifacts for A08, egress "
                  "allow-lists for A10, a threat model for A04).",
      references=[Reference(TOP10, "Top 10", "OWASP Top 10 2021")])
def owasp_top10(ctx: Context) -> Iterator[Finding]:
    from designkit.assess.catalogue import builtin_rules
    from designkit.assess.engine import waived

    catalogue = {r.id: r for r in builtin_rules() if r.id != "DK-SEC-009"}
    cache: dict[str, list[Finding]] = {}
    order = [Status.FAIL, Status.NEEDS_DATA, Status.NEEDS_ATTESTATION, Status.WAIVED,
             Status.PASS]
    for category, (title, rule_ids) in OWASP_TOP10.items():
        subject = f"owasp.{category}"
        present = [catalogue[i] for i in rule_ids if i in catalogue]
        if not present:
            yield ctx.finding(subject, Status.NEEDS_ATTESTATION,
                              f"{category} {title}: no rule of the catalogue covers it — "
                              "attest how it is addressed")
            continue
        counts: dict[str, Counter[str]] = {}
        for mapped in present:
            if mapped.id not in cache:  # waived as the review waives them (not in an audit)
                found = _run_mapped(ctx, mapped)
                cache[mapped.id] = found if ctx.audit else waived(found, ctx.design,
                                                                  ctx.today)
            counts[mapped.id] = Counter(f.status.value for f in cache[mapped.id])
        statuses = {Status(s) for c in counts.values() for s in c}
        status = next((s for s in order if s in statuses), Status.NOT_APPLICABLE)
        failing = sum(c["fail"] for c in counts.values())
        parts = [f"{rid} " + (", ".join(f"{s} ×{n}" for s, n in sorted(c.items()))
                              or "nothing to check")
                 for rid, c in counts.items()]
        yield ctx.finding(subject, status,
                          f"{category} {title}: {failing} failing finding(s) — "
                          + "; ".join(parts),
                          fails=failing, rules={k: dict(v) for k, v in counts.items()})


RULES: list[Rule] = [
    parameterized_queries, password_hashing, jwt_algorithm, csrf, strict_cors, rbac,
    object_level_authorization, service_to_service_auth, owasp_top10,
]
