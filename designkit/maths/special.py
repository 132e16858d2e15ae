"""Erlang B for any number of servers, in constant time: special functions in log space.

The Erlang B recursion costs one step per server: fine for a pool of 20, not for a
station of 10⁵ servers solved a dozen times by a capacity search (or 10⁹ through the pure
functions). Erlang B is a ratio of Poisson terms, ``B(c, a) = P(N = c) / P(N ≤ c)`` for
``N ~ Poisson(a)``, and ``P(N ≤ c) = Q(c + 1, a)``, the regularized upper incomplete
gamma function. For ``s = c + 1`` servers-plus-one above :data:`RECURSION_MAX`, Temme's
uniform asymptotic expansion of ``Q`` [T], written so that the Poisson term cancels out,
gives

``1 / B = a · Γ*(s) · (√(π / 2s) · erfcx(η √(s/2)) + Σₖ cₖ(η) / s^(k+1))``

with ``λ = a / s``, ``η = sign(λ − 1) √(2(λ − 1 − ln λ))``, ``Γ*(s) = Γ(s) / (√(2π/s)
sˢ e⁻ˢ)`` and ``erfcx(x) = e^(x²) erfc(x)``. Nothing in it overflows: for ``a < c`` (ρ < 1)
the ``erfcx`` term is ``≈ 2e^(x²)`` and is taken in log space, so ``B`` underflows to 0
gracefully where the wait becomes impossible to see. Five terms of the series (c₀ … c₄)
give a relative error below 10⁻¹² for ``s > 100`` (checked against 60-digit mpmath values
in ``tests/estimate/test_extremes.py``); below that the recursion is exact and cheap. Far
above saturation (``a ≥ 2s``, where the two terms cancel) ``1/B = Σⱼ c(c−1)…(c−j+1)/aʲ``
converges geometrically instead: 60 terms.

Sources:
    [T]  Temme, "The asymptotic expansion of the incomplete gamma functions", SIAM J.
         Math. Anal. 10 (1979); DLMF §8.12 (the expansion and the recursion of cₖ).
    [DM] DiDonato & Morris, "Computation of the incomplete gamma function ratios", ACM
         TOMS 12 (1986): the Taylor coefficients of cₖ(η) near η = 0 (reproduced here).
    [J]  Jagerman, Bell Syst. Tech. J. 53 (1974): the recursion for small ``c``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["RECURSION_MAX", "STEPPED_MAX", "erfcx", "erlang_b_array", "log_factorials",
           "log_gamma_star"]

Floats = NDArray[np.float64]

RECURSION_MAX = 100
"""Server counts up to this are computed exactly (the recursion, or the sum of its terms);
above, the closed form (constant time)."""

_TAYLOR = (  # cₖ(η) = Σⱼ dₖⱼ ηʲ near η = 0 [DM], exact rationals rounded to doubles
    (-0.3333333333333333, 0.08333333333333333, -0.014814814814814815, 0.0011574074074074073,
     0.0003527336860670194, -0.0001787551440329218, 3.919263178522438e-05,
     -2.185448510679992e-06, -1.85406221071516e-06, 8.296711340953087e-07,
     -1.7665952736826078e-07, 6.707853543401498e-09, 1.0261809784240309e-08,
     -4.382036018453353e-09, 9.14769958223679e-10, -2.5514193994946248e-11,
     -5.830772132550426e-11),
    (-0.001851851851851852, -0.003472222222222222, 0.0026455026455026454,
     -0.0009902263374485596, 0.00020576131687242798, -4.018775720164609e-07,
     -1.8098550334489977e-05, 7.64916091608111e-06, -1.6120900894563446e-06,
     4.647127802807434e-09, 1.378633446915721e-07, -5.752545603517705e-08,
     1.1951628599778148e-08, -1.7543241719747647e-11, -1.0091543710600413e-09),
    (0.004133597883597883, -0.0026813271604938273, 0.0007716049382716049,
     2.0093878600823047e-06, -0.0001073665322636516, 5.2923448829120125e-05,
     -1.2760635188618728e-05, 3.423578734096138e-08, 1.3721957309062934e-06,
     -6.298992138380055e-07, 1.4280614206064242e-07, -2.0477098421990866e-10),
    (0.0006494341563786008, 0.00022947209362139917, -0.0004691894943952557,
     0.00026772063206283885, -7.561801671883977e-05, -2.396505113867297e-07,
     1.1082654115347302e-05, -5.6749528269915965e-06, 1.4230900732435883e-06,
     -2.7861080291528143e-11),
    (-0.0008618882909167117, 0.0007840392217200666, -0.0002990724803031902,
     -1.4638452578843418e-06, 6.641498215465122e-05, -3.968365047179435e-05,
     1.1375726970678419e-05, 2.507497226237533e-10, -1.6954149536558305e-06),
)
_CLOSED = (  # cₖ(η) = eₖ / η^(2k+1) + Σⱼ vₖⱼ / (λ − 1)ʲ away from η = 0 (DLMF 8.12.11)
    (-1.0, (0.0, 1.0)),
    (1.0, (0.0, -1 / 12, -1.0, -1.0)),
    (-3.0, (0.0, 1 / 288, 1 / 12, 25 / 12, 5.0, 3.0)),
    (15.0, (0.0, 139 / 51840, -1 / 288, -49 / 288, -77 / 12, -105 / 4, -35.0, -15.0)),
    (-105.0, (0.0, -571 / 2488320, -139 / 51840, 221 / 51840, 149 / 288, 2513 / 96,
              1883 / 12, 1365 / 4, 315.0, 105.0)),
)
_NEAR = 0.5
"""|η| below which the Taylor series are used (the closed forms cancel near η = 0; the
series converge for |η| < 2√π)."""


def erfcx(x: ArrayLike) -> Floats:
    """The scaled complementary error function ``e^(x²) erfc(x)`` for ``x ≥ 0``, vectorized.

    ``e^(x²)·erfc(x)`` while both stay in range (x ≤ 26), then the asymptotic series
    ``1/(x√π) · Σ (−1)ⁿ (2n − 1)!! / (2x²)ⁿ`` (relative error < 2·10⁻¹⁵ there).

    Example:
        >>> [round(float(v), 12) for v in erfcx([0.0, 1.0, 30.0])]
        [1.0, 0.427583576156, 0.018795888861]
    """
    xs = np.asarray(x, dtype=float)
    return np.asarray(_ERFCX(xs), dtype=float)


def _erfcx_scalar(x: float) -> float:
    if x <= 26.0:
        return math.exp(x * x) * math.erfc(x)
    inv = 1.0 / (2.0 * x * x)
    term, total = 1.0, 1.0
    for n in range(1, 7):
        term *= -(2 * n - 1) * inv
        total += term
    return total / (x * math.sqrt(math.pi))


_ERFCX = np.frompyfunc(_erfcx_scalar, 1, 1)


def log_gamma_star(s: ArrayLike) -> Floats:
    """``ln Γ*(s) = ln Γ(s) − (s − ½) ln s + s − ½ ln 2π`` for ``s ≥ 10`` (Stirling's
    series: error below 10⁻¹⁶).

    Example:
        >>> round(float(log_gamma_star(100.0)), 13)   # 1/1200 − 1/(360·10⁶) + …
        0.0008333305556
    """
    s_ = np.asarray(s, dtype=float)
    inv = 1.0 / s_
    inv2 = inv * inv
    return np.asarray(inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680))),
                      dtype=float)


def _half_eta_squared(u: Floats, log_lam: Floats) -> Floats:
    """``λ − 1 − ln λ`` for ``u = λ − 1`` (and ``ln λ``, exact even where ``λ`` is too small
    for ``u`` to show it), without cancellation near ``u = 0``."""
    small = np.abs(u) < 0.1
    direct = u - log_lam
    series = np.zeros_like(u)
    power = np.where(small, u, 0.0) ** 2
    for j in range(2, 20):
        series += power / j if j % 2 == 0 else -power / j
        power = power * np.where(small, u, 0.0)
    return np.where(small, series, direct)


def _temme_sum(eta: Floats, u: Floats, s: Floats) -> Floats:
    """``Σₖ cₖ(η) s⁻ᵏ`` for k = 0 … 4."""
    near = np.abs(eta) < _NEAR
    e = np.where(near, 1.0, eta)
    small = np.where(near, eta, 0.0)
    v = np.where(near, 0.0, 1.0 / np.where(near | (u == 0), 1.0, u))
    total = np.zeros_like(eta)
    scale = np.ones_like(eta)
    for k in range(5):
        taylor = np.polynomial.polynomial.polyval(small, _TAYLOR[k])
        lead, poly = _CLOSED[k]
        with np.errstate(under="ignore", over="ignore"):
            closed = lead / e ** (2 * k + 1) + np.polynomial.polynomial.polyval(v, poly)
        total += np.where(near, taylor, closed) * scale
        scale = scale / s
    return total


def erlang_b_array(c: ArrayLike, a: ArrayLike) -> Floats:
    """Erlang B element-wise over arrays of server counts ``c`` and offered loads ``a``.

    Counts up to :data:`STEPPED_MAX` use the recursion (one step per server); up to
    :data:`RECURSION_MAX` the sum of its terms, as a matrix (a dozen array operations in
    all); larger ones the closed form of the module's docstring, in constant time. Exact
    to ~10⁻¹³ relative (where ``B`` does not underflow). Which way an element goes
    depends on its own count only, so an element's value never depends on what else is
    in the arrays (a load solved alone or beside others gives the same bits).

    Example:
        >>> [round(float(b), 6) for b in erlang_b_array([10, 64, 1000], [9.0, 50.0, 950.0])]
        [0.167963, 0.008439, 0.003649]
    """
    servers = np.asarray(c, dtype=float)
    load = np.asarray(a, dtype=float)
    if servers.shape != load.shape:
        servers, load = np.broadcast_arrays(servers, load)
    out = np.empty(servers.shape, dtype=float)
    small = servers <= STEPPED_MAX
    if small.all():
        return _recursion(servers.ravel(), load.ravel()).reshape(servers.shape)
    if small.any():
        out[small] = _recursion(servers[small], load[small])
    middle = (servers > STEPPED_MAX) & (servers <= RECURSION_MAX)
    if middle.any():
        light = middle & _poisson_tail_negligible(servers, load)
        if light.any():
            out[light] = _light(servers[light], load[light])
        middle &= ~light
        if middle.any():
            out[middle] = _by_sum(servers[middle], load[middle])
    large = servers > RECURSION_MAX
    if large.any():
        out[large] = _closed_form(servers[large], load[large])
    return out


STEPPED_MAX = 16
"""Server counts up to which Erlang B takes the recursion, a step per server."""


def _recursion(servers: Floats, load: Floats) -> Floats:
    """``B(k) = a·B(k − 1) / (k + a·B(k − 1))`` from ``B(0) = 1``: in plain floats for a
    few counts, else one array step per server over the counts that reach it (the same
    operations in the same order: the same bits either way)."""
    if servers.size <= 16:  # a few stations: plain floats beat a numpy step per server
        values = []
        for count, x in zip(servers.tolist(), load.tolist(), strict=True):
            value = 1.0
            for k in range(1, int(count) + 1):
                value = x * value / (k + x * value)
            values.append(value)
        return np.array(values, dtype=float).reshape(servers.shape)
    # largest counts first: step k runs only over the counts that reach it (the work is
    # the sum of the counts, not the largest count times their number)
    order = np.argsort(-servers, kind="stable")
    counts, a = servers[order], load[order]
    b = np.ones_like(a)
    reach = np.searchsorted(-counts, -np.arange(1, int(counts[0]) + 1 if counts.size else 1),
                            side="right")  # how many counts are ≥ k, for each k
    for k, n in enumerate(reach.tolist(), start=1):
        step = a[:n] * b[:n]
        b[:n] = step / (k + step)
    out = np.empty_like(b)
    out[order] = b
    return out


LOG_NEGLIGIBLE = -40.0
"""A Poisson tail below ``e⁻⁴⁰`` (4·10⁻¹⁸) is below a double's rounding of 1."""


def _poisson_tail_negligible(servers: Floats, load: Floats) -> NDArray[np.bool_]:
    """Whether ``P(N > c)`` for ``N ~ Poisson(a)`` is negligible next to 1, by
    Chernoff's bound ``e⁻ᵃ (e·a / c)ᶜ`` (for ``a < c``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -load + servers * (1.0 + np.log(load / np.where(servers > 0, servers, 1.0)))
    return (load > 0) & (load < servers) & (bound < LOG_NEGLIGIBLE)


def _light(servers: Floats, load: Floats) -> Floats:
    """Erlang B where Poisson(a) hardly ever exceeds c: ``B = (aᶜ / c!) / Σᵢ₌₀ᶜ aⁱ / i!``
    with the sum ``eᵃ`` to a double's precision — one exponential."""
    factorials = log_factorials(int(RECURSION_MAX) + 1)
    with np.errstate(under="ignore"):
        return np.exp(servers * np.log(load) - factorials[servers.astype(np.int64)] - load)


@functools.lru_cache(maxsize=64)
def log_factorials(size: int) -> Floats:
    """``ln k!`` for k = 0 … size − 1, each from ``math.lgamma`` (to a few ulps); kept per
    size, read-only.

    Example:
        >>> [round(float(v), 6) for v in log_factorials(4)]
        [0.0, 0.0, 0.693147, 1.791759]
    """
    out = np.array([math.lgamma(k + 1.0) for k in range(size)])
    out.flags.writeable = False
    return out


def _by_sum(servers: Floats, load: Floats) -> Floats:
    """Erlang B from ``1 / B = Σⱼ c(c − 1)…(c − j + 1) / aʲ`` (j = 0 … c): the terms'
    logarithms as cumulative sums along one row per count, summed in log space — no step
    per server, no overflow. Each row is summed in order up to its own count (whatever
    the widest row), so its value is its own."""
    top = int(servers.max(initial=0.0))
    positive = load > 0
    with np.errstate(divide="ignore"):
        log_load = np.log(np.where(positive, load, 1.0))
        factor = np.log(np.maximum(servers[:, None] - np.arange(top), 0.0))
    logs = np.cumsum(factor - log_load[:, None], axis=1)  # -inf from the term past c on
    terms = np.concatenate([np.zeros((servers.size, 1)), logs], axis=1)
    peak = terms.max(axis=1)
    with np.errstate(under="ignore"):
        sums = np.cumsum(np.exp(terms - peak[:, None]), axis=1)
        total = sums[np.arange(servers.size), servers.astype(np.int64)]
        b = np.exp(-(peak + np.log(total)))
    return np.where(positive | (servers == 0), b, 0.0)


def _closed_form(servers: Floats, load: Floats) -> Floats:
    s = servers + 1.0
    positive = load > 0
    a = np.where(positive, load, 1.0)
    u = (a - s) / s  # λ − 1
    lam = a / s
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lam = np.where(lam >= 0.5, np.log1p(np.maximum(u, -0.5)),
                           np.where(lam > 1e-300, np.log(np.maximum(lam, 1e-300)),
                                    np.log(a) - np.log(s)))
    eta = np.sign(u) * np.sqrt(2.0 * np.maximum(_half_eta_squared(u, log_lam), 0.0))
    with np.errstate(over="ignore"):
        x = eta * np.sqrt(s / 2.0)
    series = _temme_sum(eta, u, s) / s
    root = np.sqrt(math.pi / (2.0 * s))
    base = np.log(a) + log_gamma_star(s)
    above = x >= 0
    # ρ ≥ 1: every term is moderate
    scaled = erfcx(np.where(above, x, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        log_above = base + np.log(root * scaled + series)
    # ρ < 1: erfcx(x) = 2e^(x²) − erfcx(−x), the e^(x²) taken out in log space
    mirrored = erfcx(np.where(above, 0.0, -x))
    with np.errstate(under="ignore", over="ignore", divide="ignore", invalid="ignore"):
        rest = 2.0 * root - np.exp(-x * x) * (root * mirrored - series)
        log_below = base + x * x + np.log(rest)
    log_inverse = np.where(above, log_above, log_below)
    with np.errstate(under="ignore", over="ignore"):
        b = np.exp(-log_inverse)
    # far above saturation the two terms of the expansion cancel: the series of 1 / B
    heavy = lam >= 2.0
    if heavy.any():
        b = np.where(heavy, _overloaded(servers, np.where(heavy, a, 2.0 * s)), b)
    return np.where(positive, np.minimum(b, 1.0), 0.0)


def _overloaded(servers: Floats, load: Floats) -> Floats:
    """Erlang B for ``a ≥ 2(c + 1)``: ``1 / B = Σⱼ c(c − 1)…(c − j + 1) / aʲ``, whose terms
    shrink at least by half each (60 of them reach 10⁻¹⁸)."""
    term = np.ones_like(load)
    total = np.ones_like(load)
    for j in range(60):
        term = term * np.maximum(servers - j, 0.0) / load
        total += term
    return np.asarray(1.0 / total, dtype=float)
