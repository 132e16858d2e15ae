"""A design's content as a short hash: equal for equal designs, different after any change.

Work derived from a design (its validation, its compiled estimator program) can be kept by
fingerprint and reused while the design is unchanged — however it is changed: a field set
on a nested model, a step appended to a list, a key removed from a dict all change the
serialized content. Serializing is done by pydantic's Rust core (about 0.1 s for a design
of 10,000 components), hashing by BLAKE2b.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["fingerprint"]


def fingerprint(design: Design) -> str:
    """A 128-bit hex digest of everything ``design`` holds.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale")
        >>> before = fingerprint(d)
        >>> before == fingerprint(dk.template("flash-sale"))
        True
        >>> d.components["checkout-api"].replicas += 1
        >>> fingerprint(d) == before
        False
    """
    content = design.model_dump_json(round_trip=True).encode()
    return hashlib.blake2b(content, digest_size=16).hexdigest()
