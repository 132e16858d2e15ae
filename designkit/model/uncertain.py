"""Numbers a design states as a range or a distribution instead of one value.

Where a design is unsure of a number it may write, in place of it:

* ``{low: a, high: b}`` — any value between the two, evenly (a uniform distribution);
* ``{p50: m, p95: h}`` — a lognormal with that median and 95th percentile (for positive
  quantities with a long upper tail: table rows, request rates).

Accepted on a cache's or a call's ``hit_ratio`` (a range only), a table's or a query's
``rows``, and a rate of the ``workload``. Anywhere else a range is an error that names the
place (a time's ``{p50, p95}`` is its shape, not an uncertainty: times keep their meaning).

The design itself holds one value — the *nominal*: the middle of a range, the median of a
distribution (rows rounded to whole rows) — so every check, diagram and plain estimate
reads a number; the ranges are kept beside it in :attr:`Design.uncertain`, by path, and
written back in place when the design is saved. ``dk.estimate(design, samples=…)`` draws
from them (:mod:`designkit.estimate.uncertainty`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from designkit.model.base import Strict
from designkit.model.problems import format_path

if TYPE_CHECKING:  # numpy is loaded when values are drawn, not with the model
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["LIMITS", "Uncertain", "canonical", "checked", "extract", "holds", "kind_of", "locate",
           "nominal_of", "parse_path", "restore"]

Z95 = 1.6448536269514722
"""The standard normal's 95th percentile."""

Kind = Literal["ratio", "rows", "rate"]
Path = tuple[str | int, ...]


class Uncertain(Strict):
    """A number known only as a range (``low``–``high``, uniform) or as a lognormal
    (``p50``, ``p95``).

    Example:
        >>> Uncertain(low=0.8, high=0.95).nominal
        0.875
        >>> u = Uncertain(p50=1000, p95=4000)
        >>> u.nominal, round(u.quantile(0.95))
        (1000.0, 4000)
    """

    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)
    p50: float | None = Field(default=None, gt=0)
    p95: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> Uncertain:
        ranged = self.low is not None or self.high is not None
        spread = self.p50 is not None or self.p95 is not None
        if ranged and spread:
            raise ValueError("give {low, high} or {p50, p95}, not both")
        if ranged and (self.low is None or self.high is None or not self.low < self.high):
            raise ValueError(f"a range needs low < high, got low={self.low}, high={self.high}")
        if spread and (self.p50 is None or self.p95 is None or not self.p50 < self.p95):
            raise ValueError(f"a distribution needs p50 < p95, got p50={self.p50}, "
                             f"p95={self.p95}")
        if not (ranged or spread):
            raise ValueError("give {low, high} (a range) or {p50, p95} (a lognormal)")
        return self

    @property
    def ranged(self) -> bool:
        """A uniform range (else a lognormal)."""
        return self.low is not None

    @property
    def nominal(self) -> float:
        """The value the design holds: the range's middle, the distribution's median."""
        if self.low is not None and self.high is not None:
            return (self.low + self.high) / 2.0
        assert self.p50 is not None
        return self.p50

    def quantile(self, q: float) -> float:
        """The value below which a share ``q`` of draws fall (inverse CDF)."""
        if self.low is not None and self.high is not None:
            return self.low + (self.high - self.low) * q
        assert self.p50 is not None and self.p95 is not None
        from statistics import NormalDist

        return self.p50 * math.exp(self.sigma * NormalDist().inv_cdf(q))

    @property
    def sigma(self) -> float:
        """The lognormal's σ (0 for a range)."""
        if self.p50 is None or self.p95 is None:
            return 0.0
        return math.log(self.p95 / self.p50) / Z95

    def draw(self, rng: np.random.Generator, n: int, top: float = math.inf
             ) -> NDArray[np.float64]:
        """``n`` independent draws (a lognormal's cut at ``top``)."""
        import numpy as np

        if self.low is not None and self.high is not None:
            return rng.uniform(self.low, self.high, n)
        assert self.p50 is not None
        return np.minimum(self.p50 * np.exp(self.sigma * rng.standard_normal(n)), top)

    def describe(self) -> str:
        """``0.8–0.95`` or ``p50 1000, p95 4000``."""
        if self.low is not None:
            return f"{self.low:g}–{self.high:g}"
        return f"p50 {self.p50:g}, p95 {self.p95:g}"


_FORMS = ({"low", "high"}, {"p50", "p95"})
_KEYS = {"low", "high", "p50", "p95"}
_WHERE = "ranges are accepted on hit_ratio, rows and workload rates"


def kind_of(path: tuple[str | int, ...]) -> Kind | None:
    """What the number at ``path`` is, when it may be uncertain (else ``None``).

    Example:
        >>> kind_of(("components", "cache", "hit_ratio")), kind_of(("workload", "api GET /x"))
        ('ratio', 'rate')
        >>> kind_of(("components", "api", "workers")) is None
        True
    """
    if not path:
        return None
    if len(path) == 2 and path[0] == "workload":
        return "rate"
    if path[-1] == "hit_ratio":
        return "ratio"
    if path[-1] == "rows" and len(path) > 2 and path[0] == "components":
        return "rows"
    return None


LIMITS: dict[Kind, float] = {"ratio": 1.0, "rows": 1e13, "rate": 1e9}
"""The most each kind of number may be (its field's bound): a range ends there at most, and
a lognormal's draws are cut there."""
_NAMES: dict[Kind, str] = {"ratio": "ratio", "rows": "row count", "rate": "rate"}


def nominal_of(uncertain: Uncertain, kind: Kind | None) -> float:
    """The value the design holds for ``uncertain``: its middle (median), whole rows."""
    return round(uncertain.nominal) if kind == "rows" else uncertain.nominal


def canonical(path: Path) -> Path:
    """``path`` with a workload key written as every reference is read (``"api get /x"``
    is ``"api GET /x"``)."""
    if len(path) == 2 and path[0] == "workload" and isinstance(path[1], str):
        from designkit.model.refs import EndpointRef, is_endpoint_ref

        if is_endpoint_ref(path[1]):
            ref = EndpointRef.parse(path[1])
            if ref is not None:
                return ("workload", str(ref))
    return path


def _is_time(path: Path) -> bool:
    """The number at ``path`` is a time (``cpu_ms``, ``latency_ms``…): its ``{p50, p95}`` is
    its shape, not a range."""
    return bool(path) and isinstance(path[-1], str) and path[-1].endswith("_ms")


def _shaped(value: Any) -> bool:
    return isinstance(value, dict) and set(value) in _FORMS


def _any_shaped(data: Any) -> bool:
    """Whether some mapping in ``data`` has the keys of a range (one pass, no copies) —
    other than a time's own shape (``service_ms: {p50, p95}``: see :func:`_is_time`)."""
    if not isinstance(data, dict | list):
        return False
    workload = data.get("workload") if isinstance(data, dict) else None
    stack: list[tuple[Any, Any]] = [(None, data)]
    pop, push, containers = stack.pop, stack.append, (dict, list)
    while stack:
        key, value = pop()
        if isinstance(value, dict):
            if len(value) <= 3 and not _KEYS.isdisjoint(value) and not (
                    isinstance(key, str) and key.endswith("_ms")
                    and "low" not in value and "high" not in value):
                return True
            rates = value is workload  # its keys are endpoints (``api GET /x_ms``), not times
            for inner_key, inner in value.items():
                if isinstance(inner, containers):
                    push((None if rates else inner_key, inner))
        else:  # a list (only containers are pushed)
            for inner in value:
                if isinstance(inner, containers):
                    push((None, inner))
    return False


def extract(data: dict[str, Any]
            ) -> tuple[dict[str, Any], dict[str, Uncertain], list[tuple[Path, str]]]:
    """Design data with each range replaced by its nominal value, the ranges by path, and
    the problems (place, text) of ranges where none is accepted.

    Example:
        >>> data = {"components": {"c": {"kind": "cache", "hit_ratio": {"low": 0.8,
        ...                                                           "high": 1.0}}}}
        >>> plain, found, problems = extract(data)
        >>> plain["components"]["c"]["hit_ratio"], list(found), problems
        (0.9, ['components.c.hit_ratio'], [])
    """
    if not _any_shaped(data):  # (most designs state no range: nothing is copied)
        return data, {}, []
    found: dict[str, Uncertain] = {}
    problems: list[tuple[Path, str]] = []

    def visit(value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            if _shaped(value) and path:
                kind = kind_of(path)
                if kind is not None and not (kind == "ratio" and "p50" in value):
                    return _taken(value, path, kind)
                if kind == "ratio":
                    problems.append((path, "a ratio's uncertainty is a range {low, high} "
                                           "between 0 and 1"))
                elif "low" in value or not _is_time(path):  # a time's {p50, p95} is its
                    # shape: left as it is
                    problems.append((path, f"a range is not accepted here; {_WHERE}"))
                    return value
            elif path and kind_of(path) is not None and set(value) & _KEYS and \
                    not _shaped(value):
                keys = ", ".join(map(str, value))
                problems.append((path, f"a range is {{low, high}} or {{p50, p95}}; got keys "
                                       f"{keys}"))
                return value
            changed = {k: visit(v, (*path, k)) for k, v in value.items()}
            return changed if any(changed[k] is not value[k] for k in value) else value
        if isinstance(value, list):
            items = [visit(v, (*path, i)) for i, v in enumerate(value)]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) \
                else value
        return value

    def _taken(value: dict[str, Any], path: tuple[str | int, ...], kind: Kind) -> Any:
        uncertain = checked(value, kind)
        if isinstance(uncertain, str):
            problems.append((path, uncertain))
            return value
        found[format_path(canonical(path))] = uncertain
        return nominal_of(uncertain, kind)

    plain = visit(data, ())
    return plain, found, problems


def checked(value: dict[str, Any], kind: Kind) -> Uncertain | str:
    """``value`` (``{low, high}`` or ``{p50, p95}``) as the uncertainty of a number of
    ``kind``, or what is wrong with it.

    Example:
        >>> checked({"low": 0.8, "high": 1.2}, "ratio")
        'high must be ≤ 1 (the most a ratio may be), got 1.2'
        >>> checked({"p50": 0.5, "p95": 0.9}, "ratio")
        "a ratio's uncertainty is a range {low, high} between 0 and 1"
    """
    if kind == "ratio" and "low" not in value:
        return "a ratio's uncertainty is a range {low, high} between 0 and 1"
    try:
        uncertain = Uncertain.model_validate(value)
    except ValueError as err:
        return _first_message(err)
    top = LIMITS[kind]
    end = uncertain.high if uncertain.ranged else uncertain.p95
    if end is not None and end > top:
        what = "high" if uncertain.ranged else "p95"
        return (f"{what} must be ≤ {_shown(top)} (the most a {_NAMES[kind]} may be), got "
                f"{_shown(end)}")
    return uncertain


def _shown(value: float) -> str:
    """``1,000,000,000`` for a whole number below 10¹⁵, else as ``g`` writes it."""
    return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def _first_message(err: ValueError) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", err)).removeprefix("Value error, ")
    return str(err)


def restore(data: dict[str, Any], uncertain: Mapping[str, Uncertain]) -> dict[str, Any]:
    """``data`` (a design as plain data) with each range written back in place of its
    nominal value — only where the number is still the range's middle: a number changed
    since (an edit, a scenario) is kept as it is, and its range dropped."""
    for key, value in uncertain.items():
        parts = parse_path(key)
        try:
            owner, last = locate(data, parts)
            held = owner[last]
        except LookupError:
            continue
        if _holds(held, value, kind_of(parts)):
            owner[last] = {k: int(v) if float(v).is_integer() and abs(v) < 1e15 else v
                           for k, v in value.model_dump(exclude_none=True).items()}
    return data


def _holds(held: Any, uncertain: Uncertain, kind: Kind | None) -> bool:
    """Whether ``held`` is the value a design holds for ``uncertain``."""
    return isinstance(held, int | float) and not isinstance(held, bool) and math.isclose(
        float(held), nominal_of(uncertain, kind), rel_tol=1e-9, abs_tol=1e-12)


def holds(design: Any, path: str, uncertain: Uncertain) -> bool:
    """Whether the design (a model or plain data) still holds the middle of ``uncertain``
    at ``path`` (an edit or a scenario may have changed it since)."""
    parts = parse_path(path)
    try:
        owner, last = locate(design, parts)
        held = (owner[last] if isinstance(owner, dict)
                else owner[int(last)] if isinstance(owner, list) else getattr(owner, str(last)))
    except (LookupError, AttributeError):
        return False
    return _holds(held, uncertain, kind_of(parts))


def locate(root: Any, parts: Path) -> tuple[Any, str | int]:
    """The mapping, list or model part holding the last of ``parts`` under ``root``, and
    that last part (a workload key read as every reference is).

    Raises:
        LookupError: A part is not there.

    Example:
        >>> locate({"workload": {"api GET /x": 5}}, ("workload", "api get /x"))
        ({'api GET /x': 5}, 'api GET /x')
    """
    parts = canonical(parts)
    if not parts or any(p == "" for p in parts):
        raise LookupError("an empty path or part")
    node = root
    for part in parts[:-1]:
        node = _child(node, part)
    return node, parts[-1]


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise LookupError(part)
        return node[part]
    if isinstance(node, list):
        if not isinstance(part, int) or not 0 <= part < len(node):
            raise LookupError(part)
        return node[part]
    if isinstance(part, str) and part in getattr(type(node), "model_fields", {}):
        return getattr(node, part)
    raise LookupError(part)


_PART = re.compile(r'\[(\d+)\]|"((?:[^"\\]|\\.)*)"|([^.\["]+)')


def parse_path(text: str) -> tuple[str | int, ...]:
    """The parts of a path written by :func:`~designkit.model.problems.format_path`.

    Example:
        >>> parse_path('components.api.endpoints."GET /x".steps[1].hit_ratio')
        ('components', 'api', 'endpoints', 'GET /x', 'steps', 1, 'hit_ratio')
    """
    parts: list[str | int] = []
    for index, quoted, plain in _PART.findall(text):
        if index:
            parts.append(int(index))
        elif quoted:
            parts.append(quoted.replace('\\"', '"'))
        elif plain:
            parts.append(plain)
    return tuple(parts)
