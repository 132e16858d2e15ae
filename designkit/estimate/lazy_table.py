"""Results by name, each computed when first read (:class:`LazyTable`), and the error a
missing name raises (:class:`NotFoundError`, naming the nearest)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from designkit.errors import DesignkitError
from designkit.gcpause import gc_paused

__all__ = ["LazyTable", "NotFoundError"]

V = TypeVar("V")


class NotFoundError(DesignkitError, KeyError):
    """An estimate has no endpoint, component or station of this name; the message names
    the nearest.

    Example:
        >>> import designkit as dk
        >>> e = dk.estimate(dk.template("flash-sale"))
        >>> try:
        ...     e.endpoints["checkout-api GET /typo"]
        ... except KeyError as err:
        ...     print(str(err).split("; ")[1])
        did you mean 'checkout-api POST /v1/orders'?
    """

    def __str__(self) -> str:
        return str(self.args[0])


def _not_found(what: str, key: object, known: Iterable[str]) -> NotFoundError:
    from designkit.estimate.arguments import suggest

    hint = suggest(str(key), known) if isinstance(key, str) else ()
    text = f"no {what} {key!r}"
    if what == "endpoint":
        text += " has traffic in this estimate"
    if hint:
        text += f"; did you mean {', '.join(map(repr, hint))}?"
    return NotFoundError(text)


class LazyTable(Mapping[str, V]):
    """Results by name, each computed when first read.

    A large design has thousands of endpoints and components, and composing an endpoint's
    latency distribution costs far more than solving the queues: an estimate answers the
    bottleneck and the capacity at once, and an endpoint's percentiles or a component's
    stations when they are read (a report, the JSON or a table reads them all).

    A missing key raises :class:`NotFoundError` (a ``KeyError``) naming the nearest keys.
    Pickling computes every entry (what makes them is not kept). ``order``: the keys in the
    order to make them when every entry is read (:meth:`fill`) — an endpoint's callees
    before it, say, so that what they share can be freed as soon as every caller has it;
    the table's own order otherwise. ``complete``: what :meth:`fill` does to each entry
    once made (an endpoint's percentiles composed, in that order).

    Example:
        >>> from designkit.estimate.result import EndpointEstimate
        >>> t = LazyTable(["a GET /x"], lambda key: EndpointEstimate(1, 2, 2, 3, 4, False))
        >>> len(t), t["a GET /x"].p95_ms
        (1, 3)
    """

    def __init__(self, keys: Iterable[str], make: Callable[[str], V],
                 what: str = "entry", order: Iterable[str] | None = None,
                 complete: Callable[[V], object] | None = None) -> None:
        self._keys = dict.fromkeys(keys)
        self._make = make
        self._done: dict[str, V] = {}
        self._what = what
        self._order = list(order) if order is not None else None
        self._complete = complete

    def fill(self) -> LazyTable[V]:
        """Make every entry not made yet, in the table's making order; returns the table
        (a JSON, a report or a text table reads them all).

        Example:
            >>> made = []
            >>> t = LazyTable(["a", "b"], lambda k: made.append(k) or k, order=["b", "a"])
            >>> list(t.fill().items()), made
            ([('a', 'a'), ('b', 'b')], ['b', 'a'])
        """
        with gc_paused():  # (the entries are made, and completed, with it paused)
            for key in self._order if self._order is not None else self._keys:
                made = self[key]
                if self._complete is not None:
                    self._complete(made)
        return self

    def __getitem__(self, key: str) -> V:
        found = self._done.get(key)
        if found is None:
            if key not in self._keys:
                raise _not_found(self._what, key, self._keys)
            if not gc.isenabled():  # paused already (the command line): read on
                found = self._done[key] = self._make(key)
                return found
            with gc_paused():
                found = self._done[key] = self._make(key)
        return found

    def get(self, key: str, default: Any = None) -> Any:  # a miss needs no suggestion
        return self[key] if key in self._keys else default

    def __reduce__(self) -> tuple[Any, ...]:
        return _restored, (list(self._keys), {key: self[key] for key in self._keys}, self._what)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _filled(table: Mapping[str, V]) -> Mapping[str, V]:
    """``table`` with every entry made, in its making order when it is a lazy one."""
    return table.fill() if isinstance(table, LazyTable) else table


def _restored(keys: list[str], values: dict[str, V], what: str) -> LazyTable[V]:
    """A table whose every entry is computed (what unpickling a table gives)."""
    table: LazyTable[V] = LazyTable(keys, _missing, what)
    table._done = values
    return table


def _missing(key: str) -> Any:
    raise KeyError(key)  # pragma: no cover - every entry of a restored table is computed
