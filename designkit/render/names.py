"""Deterministic ids and escaping shared by every renderer."""

from __future__ import annotations

import hashlib
import re

from designkit import text as _text

__all__ = ["dot_label", "html_text", "mermaid_text", "node_id"]

_SAFE = re.compile(r"[^A-Za-z0-9_]")


def node_id(*parts: str) -> str:
    """A stable identifier for a diagram node, derived from its names (never random).

    Readable where possible, with a short hash so that distinct names never collide.

    Example:
        >>> node_id("orders-db")
        'orders_db_9e69'
        >>> node_id("orders-db") == node_id("orders-db")
        True
    """
    text = "/".join(parts)
    readable = _SAFE.sub("_", text)[:40].strip("_") or "n"
    if readable[0].isdigit():
        readable = "n_" + readable
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:4]
    return f"{readable}_{digest}"


def dot_label(text: str) -> str:
    """Text for a quoted DOT label: control characters made visible
    (:func:`designkit.text.visible`), backslashes, quotes and newlines escaped.

    Example:
        >>> dot_label('say "hi"\\nnow')
        'say \\\\"hi\\\\"\\\\nnow'
    """
    text = _text.visible(text)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def html_text(text: str) -> str:
    """Text for an HTML-like DOT label or an HTML page: :func:`designkit.text.html_text`
    (control characters made visible; ``<``, ``&``, quotes escaped).

    Example:
        >>> html_text("a < b & c\\x01")
        'a &lt; b &amp; c\\\\x01'
    """
    return _text.html_text(text)


def mermaid_text(text: str) -> str:
    """Text for a quoted Mermaid label: control characters made visible, quotes and markup
    as HTML entities.

    Example:
        >>> mermaid_text('GET /x "y" <z>')
        'GET /x #quot;y#quot; #lt;z#gt;'
    """
    text = _text.visible(text)
    return (text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("\n", "<br/>"))
