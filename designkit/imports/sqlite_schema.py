"""A SQLite file's schema, read-only: tables, columns, keys, indexes, foreign keys, rows."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from pathlib import Path

from designkit.imports._schema_drafts import (
    SQLITE_HEADER,
    Draft,
    SchemaImport,
    SchemaImportError,
    finish,
    note_partial,
)

__all__ = ["is_sqlite_file", "schema_from_sqlite"]

# -- SQLite ---------------------------------------------------------------------------------

def is_sqlite_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file that starts with the SQLite header.

    Example:
        >>> import tempfile, sqlite3, pathlib
        >>> db = pathlib.Path(tempfile.mkdtemp()) / "x.db"
        >>> sqlite3.connect(db).execute("CREATE TABLE t (a)").connection.commit()
        >>> is_sqlite_file(db)
        True
    """
    try:
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def schema_from_sqlite(path: str | os.PathLike[str], database: str | None = None,
                       ) -> SchemaImport:
    """Read the schema of the SQLite database file ``path`` (opened read-only).

    Tables (not ``sqlite_*``), their columns (declared type as written, ``NOT NULL``,
    primary key in key order, single-column ``UNIQUE``), indexes (columns in order,
    unique; a partial one is kept and noted), single-column foreign keys, and each table's
    rows, counted with ``SELECT count(*)``. Views and triggers are listed in the notes.

    Args:
        path: The database file.
        database: The component's name (default: the file name without its suffix).

    Returns:
        The database component (``engine: sqlite``) and the notes.

    Raises:
        SchemaImportError: The file is missing or is not a SQLite database.

    Example:
        >>> import tempfile, sqlite3, pathlib
        >>> db = pathlib.Path(tempfile.mkdtemp()) / "shop.db"
        >>> with sqlite3.connect(db) as c:
        ...     _ = c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        >>> r = schema_from_sqlite(db)
        >>> r.database, r.data["tables"]["items"]["rows"]
        ('shop', 0)
    """
    source = Path(path)
    if not source.is_file():
        raise SchemaImportError("no such file" if not source.exists() else "not a file",
                                source=str(source))
    if not is_sqlite_file(source):
        raise SchemaImportError("not a SQLite database (it does not start with "
                                "'SQLite format 3'); a DDL file must end in .sql or .ddl",
                                source=str(source))
    notes: list[str] = []
    try:
        uri = source.resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            drafts = _sqlite_drafts(conn, notes)
    except sqlite3.Error as err:
        raise SchemaImportError(f"cannot read it as a SQLite database: {err}",
                                source=str(source)) from None
    if drafts:
        notes.append("rows: counted with SELECT count(*) on each table")
    return finish(database or source.stem, "sqlite", drafts, notes)


def _sqlite_drafts(conn: sqlite3.Connection, notes: list[str]) -> dict[str, Draft]:
    drafts: dict[str, Draft] = {}
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY rowid").fetchall()
    sql_of: dict[str, str] = {name: sql or "" for _, name, sql in rows}  # in created order
    for kind, name, sql in rows:
        if name.startswith("sqlite_"):
            continue
        if kind in ("view", "trigger"):
            notes.append(f"not imported: {kind} {name}")
        elif kind == "table" and (sql or "").lstrip().upper().startswith("CREATE VIRTUAL"):
            notes.append(f"not imported: virtual table {name}")
        elif kind == "table":
            drafts[name] = _sqlite_table(conn, name, sql_of, notes)
    return drafts


def _sqlite_table(conn: sqlite3.Connection, name: str, sql_of: dict[str, str],
                  notes: list[str]) -> Draft:
    draft = Draft()
    keys: list[tuple[int, str]] = []
    for _, col, type_, notnull, _, pk in conn.execute(
            "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)",
            (name,)):
        draft.columns[col] = {"type": type_ or "blob", "nullable": not notnull}
        if pk:
            keys.append((pk, col))
    draft.primary_key = [col for _, col in sorted(keys)]
    order = list(sql_of)
    found = conn.execute("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)",
                         (name,)).fetchall()
    for index, unique, origin, partial in sorted(
            found, key=lambda row: order.index(row[0]) if row[0] in order else len(order)):
        cols = [c for _, c in conn.execute(
            "SELECT seqno, name FROM pragma_index_info(?) ORDER BY seqno", (index,))]
        if origin == "pk":
            continue
        if None in cols:
            notes.append(f"{name}: index {index} is on an expression: not imported (the "
                         "model indexes columns)")
        elif origin == "u" and len(cols) == 1:
            draft.columns[cols[0]]["unique"] = True
        else:
            own = None if index.startswith("sqlite_autoindex") else index
            draft.indexes.append({"columns": cols, "unique": bool(unique), "name": own})
            if partial:
                where = re.split(r"\bWHERE\b", sql_of.get(index, ""), maxsplit=1,
                                 flags=re.IGNORECASE)
                note_partial(notes, name, index, cols, where[1] if len(where) > 1 else "…")
    fks: dict[int, tuple[list[str], str, list[str]]] = {}
    for fk_id, _, target, col, target_col in conn.execute(
            "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) "
            "ORDER BY id, seq", (name,)):
        cols, _, target_cols = fks.setdefault(fk_id, ([], target, []))
        cols.append(col)
        if target_col is not None:
            target_cols.append(target_col)
    draft.foreign_keys = list(fks.values())
    quoted = '"' + name.replace('"', '""') + '"'
    draft.rows = int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
    return draft


