"""An imported database put into an existing design, keeping what the user wrote."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    from designkit.model.design import Design

from designkit.imports._schema_drafts import SchemaImport, SchemaImportError

__all__ = ["merge_schema"]

# -- merging into a design ----------------------------------------------------------------------

def merge_schema(design: Design, result: SchemaImport) -> tuple[Design, list[str]]:
    """Put an imported database into ``design``; returns the new design and what changed.

    A database the design does not have is added. One it has keeps what the user wrote —
    its engine, cores, costs, pools, placement, each table's ``growth_per_day``, its rows
    unless the import counted them, each column's ``sensitive``/``denormalized`` — and
    takes the import's columns, indexes and partitioning. Its tables the import does not
    have are kept (and reported). ``design`` itself is not changed.

    Args:
        design: The design to merge into.
        result: What :func:`schema_from_sqlite` or :func:`schema_from_ddl` returned.

    Returns:
        The merged design (validated) and the changes, one line each ("added table
        payments", "payments: index (order_id) added", "orders.status: type text →
        varchar(20)").

    Raises:
        SchemaImportError: The design has a component of that name that is not a database.
        DesignError: The merged design is invalid (a query names a column the real
            schema does not have).

    Example:
        >>> import designkit as dk
        >>> from designkit.imports.ddl_schema import schema_from_ddl
        >>> r = schema_from_ddl("CREATE TABLE t (id int PRIMARY KEY);", database="db")
        >>> merged, changes = merge_schema(dk.Design(name="x"), r)
        >>> changes
        ['added database db (1 table)']
    """
    from designkit.model.io import load, to_data

    data = to_data(design)
    components = data.setdefault("components", {})
    name = result.database
    old = components.get(name)
    if old is None:
        components[name] = copy.deepcopy(result.data)
        count = len(result.data.get("tables", {}))
        changes = [f"added database {name} ({count} table{'s' if count != 1 else ''})"]
    elif old.get("kind") != "database":
        raise SchemaImportError(f"the design's component {name!r} is a {old.get('kind')}, not "
                                "a database; name the database another way (--database NAME)")
    else:
        components[name], changes = _merge_database(old, result.data)
    return load(data), changes


def _merge_database(old: dict[str, Any], new: dict[str, Any],
                    ) -> tuple[dict[str, Any], list[str]]:
    merged = copy.deepcopy(old)
    changes: list[str] = []
    if "engine" not in old:
        merged["engine"] = new["engine"]
        if new["engine"] != "postgres":
            changes.append(f"engine: postgres (the default) → {new['engine']}")
    elif str(old["engine"]).lower() != new["engine"]:
        changes.append(f"engine: kept {old['engine']} (the import reads {new['engine']})")
    tables: dict[str, Any] = dict(old.get("tables") or {})
    for table, spec in new.get("tables", {}).items():
        if table in tables:
            tables[table] = _merge_table(table, tables[table], spec, changes)
        else:
            tables[table] = copy.deepcopy(spec)
            changes.append(f"added table {table}")
    changes += [f"kept table {t}: not in the imported schema" for t in old.get("tables") or {}
                if t not in new.get("tables", {})]
    merged["tables"] = tables
    return merged, changes


def _merge_table(name: str, old: dict[str, Any], new: dict[str, Any],
                 changes: list[str]) -> dict[str, Any]:
    from designkit.model.database import Table

    before, after = Table.model_validate(old), Table.model_validate(new)
    merged: dict[str, Any] = {}
    if after.rows is not None and after.rows != before.rows:
        changes.append(f"{name}: rows {_shown(before.rows)} → {after.rows}")
    rows = after.rows if after.rows is not None else before.rows
    if rows is not None:
        merged["rows"] = rows
    if before.growth_per_day is not None:
        merged["growth_per_day"] = old["growth_per_day"]
    columns: dict[str, Any] = {}
    for col, spec in new.get("columns", {}).items():
        columns[col] = dict(spec)
        if col not in before.columns:
            changes.append(f"{name}.{col}: column added ({spec['type']})")
            continue
        was, now = before.columns[col], after.columns[col]
        if " ".join(was.type.lower().split()) == " ".join(now.type.lower().split()):
            columns[col]["type"] = was.type  # the user's spelling
        else:
            changes.append(f"{name}.{col}: type {was.type} → {now.type}")
        for attr in ("primary_key", "nullable", "unique", "references"):
            a, b = getattr(was, attr), getattr(now, attr)
            if a != b:
                changes.append(f"{name}.{col}: {attr} {_shown(a)} → {_shown(b)}")
        columns[col].update({k: True for k in ("sensitive", "denormalized")
                             if getattr(was, k)})
    changes += [f"{name}.{c}: column removed" for c in before.columns if c not in columns]
    merged["columns"] = columns
    _index_changes(name, before, after, changes)
    if new.get("indexes"):
        merged["indexes"] = copy.deepcopy(new["indexes"])
    if before.partitioning != after.partitioning:
        changes.append(f"{name}: partitioning {_part(before)} → {_part(after)}")
    if new.get("partitioning"):
        merged["partitioning"] = dict(new["partitioning"])
    if before.version_column is not None:
        if before.version_column in columns:
            merged["version_column"] = before.version_column
        else:
            changes.append(f"{name}: version_column {before.version_column} dropped (no such "
                           "column)")
    return merged


def _index_changes(table: str, before: Any, after: Any, changes: list[str]) -> None:
    old = {tuple(i.columns): i for i in before.indexes}
    new = {tuple(i.columns): i for i in after.indexes}
    for cols, index in new.items():
        shown = f"{table}: index ({', '.join(cols)})"
        if cols not in old:
            changes.append(f"{shown} added")
        elif (old[cols].kind, old[cols].unique) != (index.kind, index.unique):
            changes.append(f"{shown}: {_index_kind(old[cols])} → {_index_kind(index)}")
    changes += [f"{table}: index ({', '.join(cols)}) removed" for cols in old if cols not in new]


def _index_kind(index: Any) -> str:
    return f"{'unique ' if index.unique else ''}{index.kind}"


def _part(table: Any) -> str:
    p = table.partitioning
    return "none" if p is None else f"{p.kind} ({', '.join(p.key)})"


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
