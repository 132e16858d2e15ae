"""How text and numbers are spelled in every output: one place for each.

- :func:`number` and :func:`percent`: numbers that may be infinite (a saturated station's
  latency, utilization or pool demand) — ``∞``, never ``inf``.
- :func:`visible`: control characters (``\\x01``, an ESC sequence ``\\x1b[31m``) as visible
  escapes, so no output carries them raw: they break XML (Graphviz labels, SVG, JUnit) and
  steer terminals.
- :func:`one_line`, :func:`markdown`, :func:`markdown_code` and :func:`html_text`: the one
  escaping path for a terminal line, for Markdown and for HTML.
- :func:`json_data`: data for strict JSON (``allow_nan=False``): non-finite numbers become
  ``null``, with their readable spelling beside; :func:`json_text`: indented JSON text as
  ``json.dumps`` writes it, faster.

Nothing here imports the rest of the package: the model, the rules and the renderers all
spell things the same way through it.

Example:
    >>> from designkit.text import number, percent
    >>> number(float("inf")), percent(float("inf")), percent(0.864), number(1234.5)
    ('∞', '∞%', '86%', '1,234')
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from collections.abc import Callable, Mapping
from enum import Enum
from numbers import Integral, Real
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "html_text",
    "json_data",
    "json_text",
    "markdown",
    "markdown_code",
    "number",
    "one_line",
    "percent",
    "safe_url",
    "visible",
]


# -- numbers -----------------------------------------------------------------------------


def number(value: float) -> str:
    """A number for a reader: ``1,500``, ``387``, ``33.9``, ``0.25``, ``0``; ``∞`` (``-∞``)
    when unbounded and ``n/a`` when undefined (NaN). Units (ms, /s, rows) follow it.

    Example:
        >>> [number(v) for v in (12345.6, 387.2, 33.94, 0.25, 0.0, float("inf"))]
        ['12,346', '387', '33.9', '0.25', '0', '∞']
    """
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= 99.95:  # 3 significant digits would print 999.7 as 1e+03
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    return f"{value:.3g}"


def percent(ratio: float) -> str:
    """A ratio as a whole percentage: ``86%``, ``4,300%``, ``<1%`` (above 0 but rounding to
    0), ``0%``; ``∞%`` when unbounded (a saturated station), ``n/a`` when undefined.

    Example:
        >>> [percent(r) for r in (0.864, 43.0, 0.001, 0.0, float("inf"))]
        ['86%', '4,300%', '<1%', '0%', '∞%']
    """
    if not math.isfinite(ratio):
        shown = number(ratio)
        return shown if math.isnan(ratio) else f"{shown}%"
    whole = f"{ratio * 100:,.0f}"
    if whole in ("0", "-0"):
        return "<1%" if ratio > 0 else "0%"
    return f"{whole}%"


# -- control characters ------------------------------------------------------------------

_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f"  # controls but tab and newline
                     "\u202a-\u202e\u2066-\u2069"  # bidirectional overrides reorder text
                     "\ud800-\udfff\ufffe\uffff]")  # lone surrogates, noncharacters
"""What no output may carry raw: XML 1.0 holds none of it, a terminal obeys it, and a
bidirectional override makes text read other than it is."""


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character written as a visible escape (``\\x01``,
    ``\\x1b``, ``\\x9b``), and lone surrogates, ``U+FFFE``/``U+FFFF`` and bidirectional
    overrides as ``\\uXXXX``. A ``\\r\\n`` line end becomes ``\\n``; newlines and tabs stay.

    Example:
        >>> print(visible("red \\x1b[31mtext\\x01\\r\\nnext"))
        red \\x1b[31mtext\\x01
        next
    """
    return _HIDDEN.sub(_escape, text.replace("\r\n", "\n"))


_SPACE = re.compile(r"\s+")


def one_line(text: str) -> str:
    """``text`` for one line of a terminal report: :func:`visible`, whitespace runs (line
    breaks, tabs) as one space.

    Example:
        >>> one_line("two\\n lines\\x07")
        'two lines\\\\x07'
    """
    return _SPACE.sub(" ", visible(text)).strip()


# -- Markdown and HTML -------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|&~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
"""Characters Markdown would take for markup (``_`` only where it could: between two
letters or digits it never starts or ends an emphasis)."""


def markdown(text: str) -> str:
    """Inline Markdown for ``text``, drawn as written: :func:`visible`, whitespace runs as
    one space (a table cell and a heading are one line), and every character Markdown
    (or HTML inside it) would take for markup backslash-escaped — so ``<script>`` is text.

    Example:
        >>> print(markdown("a | b <script>*x*</script> snake_case _y_"))
        a \\| b \\<script\\>\\*x\\*\\</script\\> snake_case \\_y\\_
    """
    return _MD_SPECIAL.sub(r"\\\1", _SPACE.sub(" ", visible(text)))


def markdown_code(text: str, in_table: bool = False) -> str:
    """``text`` as a Markdown code span: fenced by more backticks than it holds, ``|``
    escaped inside a table cell; ``""`` for empty text.

    Example:
        >>> markdown_code("a`b"), markdown_code("x|y", in_table=True)
        ('`` a`b ``', '`x\\\\|y`')
    """
    text = _SPACE.sub(" ", visible(text))
    if not text:
        return ""
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0) + 1
    fence = "`" * ticks
    body = f" {text} " if ticks > 1 or text.startswith("`") else text
    if in_table:
        body = body.replace("|", "\\|")
    return f"{fence}{body}{fence}"


def html_text(text: str) -> str:
    """``text`` for HTML (a page, an HTML-like Graphviz label, an attribute value):
    :func:`visible`, then ``<``, ``>``, ``&`` and quotes as entities.

    Example:
        >>> html_text('a < b & "c"\\x01')
        'a &lt; b &amp; &quot;c&quot;\\\\x01'
    """
    return html.escape(visible(text), quote=True)


# -- JSON --------------------------------------------------------------------------------


def _pointer(parent: str, key: object) -> str:
    """A JSON Pointer (RFC 6901) one step below ``parent``."""
    return f"{parent}/" + str(key).replace("~", "~0").replace("/", "~1")


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, Enum):
        return str(key.value)
    return str(key)


def _walk(value: Any, at: str, texts: dict[str, str]) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return _walk(value.value, at, texts)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number_ = float(value)
        if math.isfinite(number_):
            return number_
        texts[at] = number(number_)
        return None
    if isinstance(value, Mapping):
        return {_key(k): _walk(v, _pointer(at, _key(k)), texts) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        value = sorted(value, key=repr)
    if isinstance(value, list | tuple):
        return [_walk(v, _pointer(at, i), texts) for i, v in enumerate(value)]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def json_data(value: Any) -> tuple[Any, dict[str, str]]:
    """``value`` as data strict JSON can hold, and the readable spelling of what it cannot.

    Every non-finite number (``inf``, ``-inf``, ``nan``) becomes ``null``; the second result
    maps its JSON Pointer (RFC 6901) to how a reader would write it (``∞``, ``-∞``,
    ``n/a``). Mappings keep their order (keys as strings), tuples and sets become lists
    (sets sorted), dates ISO strings, enums their values, anything else its ``str``.

    Example:
        >>> json_data({"ratio": float("inf"), "pools": {"api": [1, float("nan")]}})
        ({'ratio': None, 'pools': {'api': [1, None]}}, {'/ratio': '∞', '/pools/api/1': 'n/a'})
    """
    texts: dict[str, str] = {}
    return _walk(value, "", texts), texts


_ESCAPED = json.encoder.encode_basestring_ascii  # (C) a string as JSON spells it, ASCII only


def _json_float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return float.__repr__(value)


_JSON_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _ESCAPED, float: _json_float, int: int.__repr__, bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null"}
"""The spelling of each scalar type (exactly these types: a subclass is looked at again)."""
_SCALAR_TYPES = frozenset(_JSON_SCALARS)


class _Flat:
    """The standard library's C encoder for an array or object of scalars at one depth:
    its items separated by a comma, a newline and that depth's indentation — what the
    indented encoder writes, but for the line breaks after the opening bracket and
    before the closing one."""

    def __init__(self) -> None:
        self.encoders: dict[str, Callable[[Any, int], list[str]]] = {}

    def __call__(self, value: Any, inner: str) -> str | None:
        """``value``'s items, each on its own line after ``inner``; ``None`` when the C
        encoder refuses (a non-finite float: the caller raises the standard message)."""
        encode = self.encoders.get(inner)
        if encode is None:
            encode = self.encoders[inner] = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
                None, None, _ESCAPED, None, ": ", "," + inner, False, False, False)
        try:
            text = "".join(encode(value, 0))
        except ValueError:
            return None
        return text[1:-1]


def _json_key(key: object) -> str:
    """A key as ``json.dumps`` writes it: a string, or a number, bool or None as text."""
    if isinstance(key, str):
        return _ESCAPED(key)
    if isinstance(key, float):
        return _ESCAPED(_json_float(key))
    if key is True or key is False or key is None:
        return _ESCAPED(_JSON_SCALARS[type(key)](key))
    if isinstance(key, int):
        return _ESCAPED(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _json_value(value: Any, pad: str, step: str, flat: _Flat) -> str:
    """``value`` as JSON text, its nested lines starting with ``pad`` (a newline and the
    indentation of ``value``'s own line)."""
    spell = _JSON_SCALARS.get(type(value))
    if spell is not None:
        return spell(value)
    scalars = _JSON_SCALARS
    inner = pad + step
    if isinstance(value, dict):
        if not value:
            return "{}"
        if _SCALAR_TYPES.issuperset(map(type, value.values())):
            text = flat(value, inner)
            if text is not None:
                return f"{{{inner}{text}{pad}}}"
        items = [(_ESCAPED(k) if type(k) is str else _json_key(k)) + ": "
                 + (spell(v) if (spell := scalars.get(type(v))) is not None
                    else _json_value(v, inner, step, flat))
                 for k, v in value.items()]
        return f"{{{inner}{(',' + inner).join(items)}{pad}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if _SCALAR_TYPES.issuperset(map(type, value)):
            text = flat(value, inner)
            if text is not None:
                return f"[{inner}{text}{pad}]"
        items = [spell(v) if (spell := scalars.get(type(v))) is not None
                 else _json_value(v, inner, step, flat) for v in value]
        return f"[{inner}{(',' + inner).join(items)}{pad}]"
    # subclasses of the scalars, in the order json.dumps tries them
    if isinstance(value, str):
        return _ESCAPED(value)
    if isinstance(value, int):  # (True and False are exactly bool: spelled above)
        return int.__repr__(value)
    if isinstance(value, float):
        return _json_float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_text(value: Any, indent: int = 2) -> str:
    """``json.dumps(value, indent=indent, allow_nan=False)``, character for character, in
    about a third of its time: what the command line writes for a large estimate (the
    standard library's indented encoder is pure Python, one generator step per token).

    Mappings are ``dict``; lists and tuples are arrays; a non-finite float raises
    ``ValueError`` and anything else ``TypeError``, as ``json.dumps`` does (a structure that
    holds itself, which ``json.dumps`` refuses, is not looked for).

    Example:
        >>> data = {"a": [1, 2.5, None], "b": {}, "c": {"x": True, 3: "é"}}
        >>> json_text(data) == json.dumps(data, indent=2, allow_nan=False)
        True
        >>> print(json_text({"p95_ms": 436.1, "errors": {}}))
        {
          "p95_ms": 436.1,
          "errors": {}
        }
    """
    return _json_value(value, "\n", " " * indent, _Flat())


def safe_url(url: str) -> str:
    """A database URL without its user and password: ``postgresql://host:port/db``.

    Example:
        >>> safe_url("postgresql://ana:s3cret@db.internal:5433/shop")
        'postgresql://db.internal:5433/shop'
        >>> safe_url("mysql://ana:s3cret@[::1:3306/x")  # not a URL urllib can split
        'a mysql:// URL'
    """
    try:
        parts = urlsplit(url)
        host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return f"a {url.split('://', 1)[0]}:// URL"
    return f"{parts.scheme}://{host}{parts.path}"
