"""Names a package re-exports, each imported from its home module on first use (PEP 562).

A package lists its public names and the module each is defined in; ``import designkit``
then loads none of those modules (numpy, the estimator, the rules) until a name is used
(decision 60). Where a public name is also the name of a submodule (``designkit.estimate``
is a function and a package), importing that submodule would set the package's attribute
to the module: the package's module class ignores that, so the function wins whichever is
imported first.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, homes: Mapping[str, str]
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of package ``package`` whose public names are
    ``homes`` (name → home module); its module keeps a submodule from hiding a public name
    of the same name.

    Example:
        >>> import sys
        >>> import designkit.estimate
        >>> package = sys.modules["designkit.estimate"]
        >>> callable(package.estimate), "growth" in dir(package), type(package).__name__
        (True, True, '_Package')
    """
    module = sys.modules[package]

    def load(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        module.__dict__[name] = value
        return value

    def names() -> list[str]:
        """The names loaded so far and those still to load, for ``dir()`` and completion."""
        return sorted({*module.__dict__, *homes})

    class _Package(types.ModuleType):
        """The package's module: a submodule named as a public name does not hide it."""

        def __setattr__(self, name: str, value: Any) -> None:
            if name in homes and isinstance(value, types.ModuleType):
                return
            super().__setattr__(name, value)

    module.__class__ = _Package
    return load, names
