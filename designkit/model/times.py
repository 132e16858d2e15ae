"""Time values in a design: a mean, a mean with a shape, or two percentiles.

A time in a design file is one of:

* a number — a mean in milliseconds, exponentially distributed (scv = 1);
* ``{mean, scv}`` — a mean and a squared coefficient of variation (0 = constant);
* ``{p50, p95}`` — two percentiles; the estimator fits a lognormal to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import GetJsonSchemaHandler, model_serializer, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from designkit.model.base import Strict
from designkit.model.bounds import DAY_MS, Millis, PositiveMillis, Scv
from designkit.model.units import unit_hint

__all__ = ["MAX_SPREAD", "Time"]

MAX_SPREAD = 100
"""How many times p50 a p95 may be (a lognormal that wide has an scv of about 2,500)."""


class Time(Strict):
    """A duration in milliseconds with its shape.

    Args:
        mean: Mean time (ms). Given alone it means an exponential distribution.
        scv: Squared coefficient of variation of the time (1 = exponential, 0 = constant).
        p50: Median (ms); with ``p95`` the time is a lognormal fitted to both.
        p95: 95th percentile (ms); must exceed ``p50``.

    Example:
        >>> Time.model_validate(2.5)
        Time(mean=2.5)
        >>> Time.model_validate({"p50": 120, "p95": 400}).model_dump()
        {'p50': 120.0, 'p95': 400.0}
    """

    mean: Millis | None = None
    scv: Scv | None = None
    p50: PositiveMillis | None = None
    p95: PositiveMillis | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a time is a number of milliseconds, {mean, scv} or {p50, p95}")
        if isinstance(value, int | float):
            return {"mean": value}
        if isinstance(value, str):
            raise ValueError(unit_hint(value, "ms"))
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Time:
        by_mean = self.mean is not None
        by_percentiles = self.p50 is not None or self.p95 is not None
        if by_mean and by_percentiles:
            raise ValueError("give either mean (with optional scv) or p50 and p95, not both")
        if not by_mean and not by_percentiles:
            raise ValueError("a time needs mean, or p50 and p95")
        if by_percentiles:
            if self.p50 is None or self.p95 is None:
                raise ValueError("give both p50 and p95")
            if self.p95 <= self.p50:
                raise ValueError(f"p95 ({self.p95:g}) must be greater than p50 ({self.p50:g})")
            if self.p95 > MAX_SPREAD * self.p50:
                raise ValueError(f"p95 ({self.p95:g}) is more than {MAX_SPREAD}× p50 "
                                 f"({self.p50:g}): two percentiles cannot pin a tail that wide; "
                                 "give {mean, scv} instead")
        if self.scv is not None and not by_mean:
            raise ValueError("scv goes with mean")
        return self

    @model_serializer(mode="plain")
    def _compact(self) -> float | dict[str, float]:
        if self.mean is not None and self.scv is None:
            return self.mean
        return {k: v for k, v in (("mean", self.mean), ("scv", self.scv),
                                  ("p50", self.p50), ("p95", self.p95)) if v is not None}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        number = {"type": "number", "minimum": 0, "maximum": DAY_MS,
                  "description": "mean in ms (exponential)"}
        mean = {
            "type": "object",
            "properties": {"mean": {"type": "number", "minimum": 0, "maximum": DAY_MS},
                           "scv": {"type": "number", "minimum": 0, "maximum": 100}},
            "required": ["mean"],
            "additionalProperties": False,
        }
        percentiles = {
            "type": "object",
            "properties": {"p50": {"type": "number", "exclusiveMinimum": 0, "maximum": DAY_MS},
                           "p95": {"type": "number", "exclusiveMinimum": 0, "maximum": DAY_MS}},
            "required": ["p50", "p95"],
            "additionalProperties": False,
        }
        return {"title": "Time", "description": "milliseconds: a mean, {mean, scv} or {p50, p95}",
                "anyOf": [number, mean, percentiles]}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v:g}" for k, v in (("mean", self.mean), ("scv", self.scv),
                           ("p50", self.p50), ("p95", self.p95)) if v is not None)
        return f"Time({fields})"

    def __str__(self) -> str:
        if self.mean is not None:
            return f"{self.mean:g} ms" + (f" (scv {self.scv:g})" if self.scv is not None else "")
        return f"p50 {self.p50:g} ms / p95 {self.p95:g} ms"
