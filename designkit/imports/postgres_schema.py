"""A live PostgreSQL's schema, from its catalogs: the tables of the current schema, their
columns (type as ``format_type`` writes it, nullability), primary and unique keys, indexes
(access method, columns, unique; partial and expression indexes noted), single-column
foreign keys, partitioning, and ``reltuples`` as the rows (when the table was analysed).
Read-only: a ``SELECT`` of the catalogs in a read-only transaction.
"""

from __future__ import annotations

from typing import Any

from designkit.imports._schema_drafts import (
    Draft,
    SchemaImport,
    SchemaImportError,
    finish,
    index_kind,
    note_partial,
)
from designkit.text import safe_url

__all__ = ["connect", "schema_from_postgres"]

_STRATEGY = {"r": "range", "h": "hash", "l": "list"}


def connect(url: str, autocommit: bool = False) -> Any:
    """A psycopg connection to ``url``; a :class:`ConnectionError` naming the database
    without its password (``postgresql://host:port/db: cannot connect: …``) when it cannot
    be reached, or psycopg is not installed.

    Example:
        >>> try:
        ...     connect("postgresql://ana:s3cret@127.0.0.1:1/shop")
        ... except ConnectionError as err:
        ...     print(str(err).split(": cannot")[0])
        postgresql://127.0.0.1:1/shop
    """
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the import extra installs it
        raise ConnectionError("PostgreSQL needs psycopg: pip install 'designkit[import]'"
                              ) from None
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=5)
    except psycopg.Error as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConnectionError(f"{safe_url(url)}: cannot connect: "
                              f"{first.replace(url, safe_url(url))}") from None


def schema_from_postgres(url: str, database: str | None = None) -> SchemaImport:
    """Read the schema of the PostgreSQL database at ``url`` (its current schema).

    Raises:
        SchemaImportError: The database cannot be reached (named without the password).
    """
    try:
        conn = connect(url)
    except ConnectionError as err:
        raise SchemaImportError(str(err)) from None
    notes: list[str] = []
    try:
        conn.read_only = True
        drafts = {name: _table(conn, oid, name, kind, rows, notes)
                  for oid, name, kind, rows in conn.execute(
                      "SELECT c.oid, c.relname, c.relkind, c.reltuples FROM pg_class c "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
                      "AND NOT c.relispartition ORDER BY c.oid")}
        dbname = conn.info.dbname
    finally:
        conn.close()
    notes.append("rows: the planner's estimate (reltuples) where the table was analysed")
    return finish(database or dbname, "postgres", drafts, notes)


def _table(conn: Any, oid: int, name: str, kind: str, rows: float, notes: list[str]) -> Draft:
    draft = Draft()
    number: dict[int, str] = {}
    for attnum, col, type_, notnull in conn.execute(
            "SELECT attnum, attname, format_type(atttypid, atttypmod), attnotnull "
            "FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum", (oid,)):
        number[attnum] = col
        draft.columns[col] = {"type": _type(type_), "nullable": not notnull}
    for contype, keys, target, target_keys in conn.execute(
            "SELECT c.contype, c.conkey, t.relname, c.confkey FROM pg_constraint c "
            "LEFT JOIN pg_class t ON t.oid = c.confrelid WHERE c.conrelid = %s "
            "ORDER BY c.oid", (oid,)):
        cols = [number[k] for k in keys or []]
        if contype == "p":
            draft.primary_key = cols
        elif contype == "f":
            target_cols = [c for (c,) in conn.execute(
                "SELECT attname FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid "
                "WHERE t.relname = %s AND a.attnum = ANY(%s) ORDER BY array_position(%s, "
                "a.attnum)", (target, list(target_keys), list(target_keys)))]
            draft.foreign_keys.append((cols, target, target_cols))
    for index, method, unique, primary, keys, predicate, on_expression in conn.execute(
            "SELECT ic.relname, am.amname, i.indisunique, i.indisprimary, i.indkey::int2[], "
            "pg_get_expr(i.indpred, i.indrelid), i.indexprs IS NOT NULL FROM pg_index i "
            "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
            "WHERE i.indrelid = %s ORDER BY ic.oid", (oid,)):
        if primary:
            continue
        if on_expression or 0 in keys:
            notes.append(f"{name}: index {index} is on an expression: not imported (the "
                         "model indexes columns)")
            continue
        cols = [number[k] for k in keys]
        if unique and len(cols) == 1 and predicate is None:
            draft.columns[cols[0]]["unique"] = True
            continue
        draft.indexes.append({"columns": cols, "unique": bool(unique), "name": index,
                              "kind": index_kind(method, name, index, notes)})
        if predicate is not None:
            note_partial(notes, name, index, cols, predicate)
    if kind == "p":
        found = conn.execute("SELECT partstrat, partattrs::int2[] FROM pg_partitioned_table "
                             "WHERE partrelid = %s", (oid,)).fetchone()
        if found is not None:
            draft.partitioning = {"key": [number[k] for k in found[1]],
                                  "kind": _STRATEGY.get(found[0], "range")}
    draft.rows = int(rows) if rows >= 0 and kind == "r" else None
    return draft


def _type(text: str) -> str:
    """PostgreSQL's long type names in the short words designs use."""
    short = {"timestamp with time zone": "timestamptz", "timestamp without time zone":
             "timestamp", "character varying": "varchar", "integer": "int",
             "boolean": "bool", "double precision": "double precision",
             "character": "char"}
    for long, word in short.items():
        if text.startswith(long):
            return word + text[len(long):]
    return text
