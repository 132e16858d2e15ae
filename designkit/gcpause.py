"""Pause Python's cyclic garbage collector while a large structure is built.

Building the tens of thousands of small objects of a large design (YAML nodes, models,
estimator tables) triggers repeated full collections that walk everything already built;
pausing the collector for the build and restoring it afterwards makes loading a
10,000-component file about three times faster. Nothing built here holds reference cycles
that need the collector, and reference counting still frees everything else at once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (restored, even on error, when it
    was on).

    Example:
        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
