"""Business invariants: where a value's truth lives, and effects that must happen once.

An invariant is either about a *value* (stock never goes below zero, a balance never
double-spends, a seat is sold once): its ``authority`` is the store that holds the truth,
``copies`` the other stores that hold it too. The review then checks that every change of
the value is safe against concurrent requests (no read-then-write without a lock, an atomic
operation, a conditional update or a version check — in one store or across stores) and
that the authority cannot lose it (evicted, expired, not persisted).

Or it is about an *effect* that must happen once (a card is charged once per order): the
component ``charged_by`` that performs it must be called with an idempotency key, so that
no retry, timeout or redelivery repeats it.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import Field, model_validator

from designkit.model.base import Strict

__all__ = ["Invariant", "Store", "parse_store"]


class Store(NamedTuple):
    """A place a value lives: a component, and in a database a table (and column).

    Example:
        >>> parse_store("orders-db.stock.available")
        Store(component='orders-db', table='stock', column='available')
    """

    component: str
    table: str | None = None
    column: str | None = None


def parse_store(text: str) -> Store:
    """``component``, ``component.table`` or ``component.table.column`` as a :class:`Store`.

    Example:
        >>> parse_store("stock-cache")
        Store(component='stock-cache', table=None, column=None)
    """
    parts = text.split(".")
    return Store(parts[0], parts[1] if len(parts) > 1 else None,
                 ".".join(parts[2:]) or None if len(parts) > 2 else None)


class Invariant(Strict):
    """A property the design must keep: a value's authority, or a once-only effect.

    Args:
        says: The invariant in the business's words ("stock never goes below zero").
        authority: The store that holds the value's truth: a cache, a database, or a
            table or column of one (``orders-db.stock``, ``orders-db.stock.available``).
        key: For a cache: the key pattern of the value (``stock:{sku}``); a cache call
            touches the value when the key its ``op`` names starts like it (up to the
            first ``{``). Without it, every call of the cache touches it.
        copies: Other stores that hold the value (a database table the cache is
            reconciled into): a value read from one and written back to another is a
            read-modify-write across stores.
        charged_by: For an effect that must happen once: the component (an external
            payment provider) or endpoint (``payments-svc POST /v1/charges``) that
            performs it; every call of it must forward an idempotency key.

    Give ``authority`` or ``charged_by``, not both.

    Example:
        >>> inv = Invariant(says="stock never goes below zero", authority="stock-cache",
        ...                 key="stock:{sku}", copies=["orders-db.stock"])
        >>> inv.stores()[1]
        Store(component='orders-db', table='stock', column=None)
        >>> Invariant(says="a card is charged once", charged_by="psp").charged_by
        'psp'
    """

    says: str | None = None
    authority: str | None = None
    key: str | None = None
    copies: list[str] = Field(default_factory=list)
    charged_by: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Invariant:
        if (self.authority is None) == (self.charged_by is None):
            raise ValueError("an invariant names its value's authority (authority: "
                             "stock-cache) or the component that must act once "
                             "(charged_by: psp) — one of the two")
        if self.charged_by is not None and (self.key is not None or self.copies):
            raise ValueError("key and copies belong to a value's authority; an invariant "
                             "with charged_by has neither")
        return self

    def stores(self) -> list[Store]:
        """The authority, then the copies (none for a once-only effect)."""
        return [parse_store(s) for s in
                ([self.authority] if self.authority is not None else []) + self.copies]

    @property
    def key_prefix(self) -> str | None:
        """The literal start of ``key`` (``stock:`` of ``stock:{sku}``), lower-cased."""
        if self.key is None:
            return None
        return self.key.split("{", 1)[0].lower()
