"""The base of every model class: strict about unknown keys, mutable for the builder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A model part that refuses unknown keys (a typo is an error, never ignored)."""

    model_config = ConfigDict(
        extra="forbid",
        validate_default=False,
        populate_by_name=True,
        use_enum_values=True,
        str_strip_whitespace=True,
        allow_inf_nan=False,
    )
