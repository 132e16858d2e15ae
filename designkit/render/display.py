"""How a design shows itself in Jupyter: its summary and its architecture diagram.

The model knows nothing of rendering; the package wires this in as ``Design``'s
``_repr_mimebundle_`` (see ``designkit/__init__.py``), so a design displays its architecture
view with one call of ``dot`` and no files written.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["INLINE_COMPONENTS", "design_mimebundle"]

INLINE_COMPONENTS = 200
"""Above this many components a design displays its summary without the diagram: laying
out a large graph would hold the notebook for minutes."""


def design_mimebundle(design: Design, include: Any = None, exclude: Any = None
                      ) -> dict[str, str]:
    """``text/plain`` (the one-line summary) and ``text/html`` (the summary tables and,
    when Graphviz's ``dot`` is installed, the architecture diagram as inline SVG).

    Example:
        >>> import designkit as dk
        >>> bundle = dk.template("flash-sale")._repr_mimebundle_()
        >>> sorted(bundle), bundle["text/plain"].startswith("Design('flash-sale'")
        (['text/html', 'text/plain'], True)
    """
    from designkit.model.summary import summary_html

    html = summary_html(design)
    count = len(design.components)
    if count > INLINE_COMPONENTS:
        html += (f"\n<p><em>{count:,} components are too many to lay out inline (Graphviz "
                 "takes about 10 s for 1,000 and grows faster than that); draw the "
                 "architecture to a file with <code>designkit render FILE --view "
                 "architecture -o architecture.svg</code></em></p>")
    elif shutil.which("dot") and design.components:
        from designkit.render import graphviz_views

        try:
            html += "\n" + graphviz_views.to_svg(graphviz_views.architecture(design))
        except Exception as err:  # a display never raises: show why the diagram is missing
            html += f"\n<p><em>architecture diagram unavailable: {type(err).__name__}</em></p>"
    else:
        html += ("\n<p><em>install Graphviz (dot) to see the architecture diagram: "
                 "apt-get install graphviz | brew install graphviz | conda install -c "
                 "conda-forge graphviz</em></p>")
    return {"text/plain": repr(design), "text/html": html}
