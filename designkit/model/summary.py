"""A compact summary of a design, as one line, as text, and as HTML for Jupyter."""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING

from designkit.model.components import KINDS
from designkit.model.database import Database

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["summary_html", "summary_line", "summary_text"]


def _plural(n: int | float, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _kinds(design: Design) -> str:
    counts: Counter[str] = Counter(c.kind for c in design.components.values())
    return ", ".join(_plural(counts[k], k) for k in KINDS if counts[k])


def _tables(design: Design) -> list[tuple[str, str, int, float]]:
    return [(db_name, table_name, table.rows or 0, table.growth_per_day or 0.0)
            for db_name, db in design.components.items() if isinstance(db, Database)
            for table_name, table in db.tables.items()]


def _rps(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2f}"


def summary_line(design: Design) -> str:
    """One line: name, components by kind, endpoints, tables, total workload.

    Example:
        >>> import designkit as dk
        >>> summary_line(dk.Design(name="empty"))
        "'empty': 0 components, 0 endpoints, 0 tables, no workload"
    """
    components = _plural(len(design.components), "component")
    if design.components:
        components += f" ({_kinds(design)})"
    endpoints = _plural(sum(1 for _ in design.endpoints()), "endpoint")
    tables = _plural(len(_tables(design)), "table")
    total = sum(design.workload.values())
    load = f"{_rps(total)} rps" if design.workload else "no workload"
    return f"{design.name!r}: {components}, {endpoints}, {tables}, {load}"


def summary_text(design: Design) -> str:
    """A few lines for a terminal: the summary line, then endpoints, tables and workload."""
    lines = [f"design {summary_line(design)}"]
    for kind in KINDS:
        names = [n for n, c in design.components.items() if c.kind == kind]
        if names:
            lines.append(f"  {kind + 's':<10} {', '.join(names)}")
    endpoints = [str(ref) for ref, _ in design.endpoints()]
    if endpoints:
        lines.append("  endpoints")
        lines += [f"    {e}" for e in endpoints]
    tables = _tables(design)
    if tables:
        lines.append("  tables")
        lines += [f"    {db}.{t}: {rows:,} rows" + (f", +{growth:,.0f}/day" if growth else "")
                  for db, t, rows, growth in tables]
    if design.workload:
        lines.append("  workload")
        lines += [f"    {k}: {_rps(v)} rps" for k, v in design.workload.items()]
    return "\n".join(lines)


def summary_html(design: Design) -> str:
    """An HTML block for Jupyter: the same facts as :func:`summary_text`, as tables."""
    esc = html.escape
    parts = [f"<div class='designkit-design'><strong>{esc(design.name)}</strong> — "
             f"{esc(summary_line(design).split(': ', 1)[1])}"]
    rows = "".join(
        f"<tr><td>{esc(kind)}</td><td>{esc(', '.join(n for n, c in design.components.items() if c.kind == kind))}</td></tr>"  # noqa: E501
        for kind in KINDS if any(c.kind == kind for c in design.components.values()))
    if rows:
        parts.append(f"<table><tr><th>kind</th><th>components</th></tr>{rows}</table>")
    endpoints = "".join(
        f"<tr><td><code>{esc(str(ref))}</code></td>"
        f"<td style='text-align:right'>{esc(_rps(design.workload.get(str(ref), 0)))}</td></tr>"
        for ref, _ in design.endpoints())
    if endpoints:
        parts.append(f"<table><tr><th>endpoint</th><th>rps</th></tr>{endpoints}</table>")
    tables = "".join(
        f"<tr><td>{esc(db)}.{esc(t)}</td><td style='text-align:right'>{rows:,}</td>"
        f"<td style='text-align:right'>{growth:,.0f}</td></tr>"
        for db, t, rows, growth in _tables(design))
    if tables:
        parts.append("<table><tr><th>table</th><th>rows</th><th>growth/day</th></tr>"
                     f"{tables}</table>")
    parts.append("</div>")
    return "\n".join(parts)
