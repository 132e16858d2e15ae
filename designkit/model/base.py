"""The base of every model class: strict about unknown keys, mutable for the builder."""

from __future__ import annotations

from typing import Any

from pydantic import VERSION, BaseModel, ConfigDict, ValidationError

# A class builds its validator when first used, not when imported (decision 60): a lighter
# `import designkit`, the same validation, errors and JSON schema. Only where pydantic builds
# it under a lock (2.14, pydantic#13438): before, threads using a class first at once (a
# sweep on a thread pool) could race, and before 2.11.5 validate with the parent's validator.
_DEFER_BUILD = tuple(int(part) for part in VERSION.split(".")[:2]) >= (2, 14)


class Strict(BaseModel):
    """A model part that refuses unknown keys (a typo is an error, never ignored), and a
    wrong value where it is set (``endpoint.cpu_ms = 3`` is read as 3 ms; ``replicas = 0``
    is a :class:`~designkit.errors.DesignError` naming the part).

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> api = d.service("api")
        >>> try:
        ...     api.replicas = 0
        ... except dk.DesignError as err:
        ...     print(err.problems[0])
        components.api.replicas: must be ≥ 1, got 0
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_default=False,
        populate_by_name=True,
        use_enum_values=True,
        str_strip_whitespace=True,
        allow_inf_nan=False,
        validate_assignment=True,
        defer_build=_DEFER_BUILD,
    )

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as err:
            from designkit.errors import DesignError
            from designkit.model.problems import placed_at, problems_from

            where = placed_at(self) or (type(self).__name__,)
            raise DesignError(problems_from(err, {name: value}, type(self), where)) from None
