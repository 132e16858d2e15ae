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
    rates = design.rates()
    load = f"{_rps(sum(rates.values()))} rps" if rates else "no workload"
    return f"{design.name!r}: {components}, {endpoints}, {tables}, {load}"


LIMIT = 40
"""Names or rows shown per list; a large design says how many more it has."""


def _some(items: list[str], limit: int = LIMIT) -> tuple[list[str], str]:
    """The first ``limit`` items, and ``"… and N more"`` when there are more."""
    if len(items) <= limit:
        return items, ""
    return items[:limit], f"… and {len(items) - limit:,} more"


def summary_text(design: Design) -> str:
    """A few lines for a terminal: the summary line, then endpoints, tables and workload
    (at most :data:`LIMIT` of each).

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x"); _ = d.cache("c1"); _ = d.cache("c2")
        >>> print(summary_text(d))
        design 'x': 2 components (2 caches), 0 endpoints, 0 tables, no workload
          caches     c1, c2
    """
    lines = [f"design {summary_line(design)}"]
    for kind in KINDS:
        names, more = _some([n for n, c in design.components.items() if c.kind == kind])
        if names:
            lines.append(f"  {kind + 's':<10} {', '.join(names + ([more] if more else []))}")
    endpoints, more = _some([str(ref) for ref, _ in design.endpoints()])
    if endpoints:
        lines.append("  endpoints")
        lines += [f"    {e}" for e in endpoints] + ([f"    {more}"] if more else [])
    table_rows, more = _some([f"{db}.{t}: {rows:,} rows" + (f", +{growth:,.0f}/day" if growth
                                                            else "")
                              for db, t, rows, growth in _tables(design)])
    if table_rows:
        lines.append("  tables")
        lines += [f"    {row}" for row in table_rows] + ([f"    {more}"] if more else [])
    if design.workload:
        loads, more = _some([f"{k}: {_rps(v)} rps" for k, v in design.workload.items()])
        lines.append("  workload")
        lines += [f"    {row}" for row in loads] + ([f"    {more}"] if more else [])
    if design.schedule:
        jobs, more = _some([f"{k}: {job.runs:g} every {job.every_s:g} s"
                            for k, job in design.schedule.items()])
        lines.append("  schedule")
        lines += [f"    {row}" for row in jobs] + ([f"    {more}"] if more else [])
    return "\n".join(lines)


def summary_html(design: Design) -> str:
    """An HTML block for Jupyter: the same facts as :func:`summary_text`, as tables (at
    most :data:`LIMIT` names or rows each)."""
    esc = html.escape
    parts = [f"<div class='designkit-design'><strong>{esc(design.name)}</strong> — "
             f"{esc(summary_line(design).split(': ', 1)[1])}"]
    by_kind = []
    for kind in KINDS:
        names, more = _some([n for n, c in design.components.items() if c.kind == kind])
        if names:
            by_kind.append(f"<tr><td>{esc(kind)}</td>"
                           f"<td>{esc(', '.join(names + ([more] if more else [])))}</td></tr>")
    if by_kind:
        parts.append("<table><tr><th>kind</th><th>components</th></tr>"
                     f"{''.join(by_kind)}</table>")
    refs, more = _some([str(ref) for ref, _ in design.endpoints()])
    endpoints = "".join(
        f"<tr><td><code>{esc(ref)}</code></td>"
        f"<td style='text-align:right'>{esc(_rps(design.workload.get(ref, 0)))}</td></tr>"
        for ref in refs) + (f"<tr><td>{esc(more)}</td><td></td></tr>" if more else "")
    if refs:
        parts.append(f"<table><tr><th>endpoint</th><th>rps</th></tr>{endpoints}</table>")
    all_tables = _tables(design)
    shown, more = _some([f"{db}.{t}" for db, t, _, _ in all_tables])
    tables = "".join(
        f"<tr><td>{esc(db)}.{esc(t)}</td><td style='text-align:right'>{rows:,}</td>"
        f"<td style='text-align:right'>{growth:,.0f}</td></tr>"
        for db, t, rows, growth in all_tables[:len(shown)]) + (
        f"<tr><td>{esc(more)}</td><td></td><td></td></tr>" if more else "")
    if shown:
        parts.append("<table><tr><th>table</th><th>rows</th><th>growth/day</th></tr>"
                     f"{tables}</table>")
    parts.append("</div>")
    return "\n".join(parts)
