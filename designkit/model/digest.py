"""A design's content as a short digest: equal for equal designs, different after any change.

Work derived from a design (its validation, its compiled estimator program) can be kept by
digest and reused while the design is unchanged — however it is changed: a field set on a
nested model, a step appended to a list, a key removed from a dict all change its dump.
:meth:`Design.validate` records the digest of what passed
(:func:`designkit.model.design.passed_digest`).

The dump (pydantic's ``model_dump``, about 0.04 s for 10,000 components in Python mode) is
written with ``marshal``, which keeps the exact type and value of every part — what ``==``
loses (``1``, ``1.0`` and ``True`` are equal) and what JSON text loses (NaN and ``None``
both become ``null``) — and hashed with BLAKE2b. Format 2 has no back-references, so the
same data always gives the same bytes. ``marshal`` cannot write dates: the parts holding
some (waivers, attestations) are dumped in JSON mode (dates as ISO text) beside the rest.
"""

from __future__ import annotations

import hashlib
import marshal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["content_digest", "signature"]

DATED = ("waivers", "not_applicable", "attestations")
"""The design's fields whose parts may hold dates (``expires``, an attestation's ``date``)."""


def signature(data: Any) -> bytes | None:
    """A digest of dumped design data: the same digest means the same data, types and key
    order included; ``None`` when ``marshal`` cannot write a part of it (then nothing can
    be reused).

    Example:
        >>> signature({"a": 1}) == signature({"a": 1.0})
        False
    """
    try:
        return hashlib.blake2b(marshal.dumps(data, 2), digest_size=32).digest()
    except ValueError:
        return None


def content_digest(design: Design) -> tuple[bytes | None, Any]:
    """The digest of everything ``design`` holds, and its JSON-mode dump when computing the
    digest needed it (``None`` otherwise).

    The Python-mode dump is two to three times faster to make than the JSON-mode one and is
    used when ``marshal`` can write it; the parts of a design that hold dates (waivers,
    attestations) are taken in their JSON mode (dates as ISO text), and anything else
    ``marshal`` cannot write makes the whole dump JSON-mode. Either way the same design
    always gives the same digest.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("flash-sale")
        >>> content_digest(d)[0] == content_digest(dk.template("flash-sale"))[0]
        True
    """
    # the ranges of uncertain numbers are held beside the dump (they are not fields of the
    # parts they qualify), and are part of what the design holds
    ranges = {k: v.model_dump() for k, v in design.uncertain.items()}
    dated = {key for key in DATED if getattr(design, key, None)}
    # the parts that hold dates in their JSON form (ISO text: one per date), the rest in
    # the Python form (two to three times faster to make)
    dump = design.model_dump(mode="python", round_trip=True, exclude=dated or None)
    if dated:
        dump.update(design.model_dump(mode="json", round_trip=True, include=dated))
    digest = signature({**dump, "uncertain": ranges} if ranges else dump)
    if digest is not None:
        return digest, None
    data = design.model_dump(mode="json", round_trip=True)
    return signature({**data, "uncertain": ranges} if ranges else data), data
