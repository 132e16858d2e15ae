"""Read an existing database schema — a SQLite file or a DDL file — into design data.

Each reader fills the same drafts (one :class:`_Draft` per table: columns, primary key,
indexes, foreign keys, partitioning, rows) and lists what it could not carry over in
notes; :func:`_finish` turns the drafts into one ``database`` component's data and
validates it as a design would. A PostgreSQL catalog reader is one more function that
fills drafts. :func:`merge_schema` puts the result into an existing design.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designkit.errors import DesignkitError

if TYPE_CHECKING:
    from sqlglot import exp

    from designkit.model.design import Design

__all__ = ["SQLITE_HEADER", "SchemaImport", "SchemaImportError", "is_sqlite_file",
           "merge_schema", "schema_from_ddl", "schema_from_sqlite"]

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_KINDS = {"btree": "btree", "hash": "hash", "gin": "gin", "gist": "gist", "brin": "brin",
          "fulltext": "fulltext", "spgist": "gist", "spatial": "gist", "rtree": "gist"}
_ENGINES = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql",
            "sqlite": "sqlite"}


class SchemaImportError(DesignkitError, ValueError):
    """A schema source could not be read; the message names the source and, for DDL
    sqlglot cannot parse, the line and column.

    Example:
        >>> str(SchemaImportError("cannot parse the DDL", source="s.sql", line=3, column=7))
        's.sql:3:7: cannot parse the DDL'
    """

    def __init__(self, message: str, source: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.source, self.line, self.column = source, line, column
        where = ":".join(str(p) for p in (source, line, column) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class SchemaImport:
    """An imported schema: the database component's name, its data, and what was not
    carried over (or was counted, or approximated), one note a line.

    Example:
        >>> r = schema_from_ddl("CREATE TABLE t (id int PRIMARY KEY);", database="db")
        >>> r.data["tables"]["t"]["columns"]["id"]
        {'type': 'int', 'primary_key': True, 'nullable': False}
    """

    database: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Draft:
    """One table as a reader found it, before keys are resolved and it is validated."""

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    partitioning: dict[str, Any] | None = None
    rows: int | None = None


# -- the common end: drafts to validated data ----------------------------------------------

def _finish(database: str, engine: str, drafts: dict[str, _Draft],
            notes: list[str]) -> SchemaImport:
    """The database component's data from the drafts, checked as part of a design."""
    tables: dict[str, Any] = {}
    for name, draft in drafts.items():
        columns = draft.columns
        if _known_columns(name, "primary key", draft.primary_key, columns, notes):
            for col in draft.primary_key:
                columns[col].update(primary_key=True, nullable=False)
        for cols, target, target_cols in draft.foreign_keys:
            _foreign_key(name, columns, cols, target, target_cols, drafts, notes)
        table: dict[str, Any] = {}
        if draft.rows is not None:
            table["rows"] = draft.rows
        table["columns"] = {c: _column_data(spec) for c, spec in columns.items()}
        indexes = [i for i in draft.indexes if _known_columns(name, "index", i["columns"],
                                                              columns, notes)]
        if indexes:
            table["indexes"] = [_index_data(i) for i in indexes]
        part = draft.partitioning
        if part is not None and _known_columns(name, "partition key", part["key"], columns,
                                               notes):
            table["partitioning"] = part
        tables[name] = table
    data: dict[str, Any] = {"kind": "database", "engine": engine, "tables": tables}
    _check(database, data)
    return SchemaImport(database, data, notes)


def _foreign_key(table: str, columns: dict[str, dict[str, Any]], cols: list[str], target: str,
                 target_cols: list[str], drafts: dict[str, _Draft], notes: list[str]) -> None:
    if not target_cols and target in drafts:  # REFERENCES t: its primary key
        target_cols = drafts[target].primary_key
    shown = f"({', '.join(cols)}) → {target}({', '.join(target_cols)})"
    if len(cols) != 1 or len(target_cols) != 1:
        notes.append(f"{table}: composite foreign key {shown} not imported: `references` "
                     "names one column")
    elif target not in drafts or target_cols[0] not in drafts[target].columns:
        notes.append(f"{table}: foreign key {shown} not imported: {target}"
                     f"{'' if target not in drafts else '.' + target_cols[0]} is not in the "
                     "schema")
    elif cols[0] in columns:
        columns[cols[0]]["references"] = f"{target}.{target_cols[0]}"


def _known_columns(table: str, what: str, cols: list[str], columns: dict[str, Any],
                   notes: list[str]) -> bool:
    missing = [c for c in cols if c not in columns]
    if missing:
        notes.append(f"{table}: {what} ({', '.join(cols)}) not imported: no column "
                     f"{', '.join(missing)}")
    return not missing


def _column_data(spec: dict[str, Any]) -> dict[str, Any]:
    """Only what differs from a :class:`~designkit.Column`'s defaults, in its key order."""
    out: dict[str, Any] = {"type": spec["type"]}
    if spec.get("primary_key"):
        out["primary_key"] = True
    if spec.get("references"):
        out["references"] = spec["references"]
    if not spec.get("nullable", True):
        out["nullable"] = False
    if spec.get("unique") and not spec.get("primary_key"):
        out["unique"] = True
    return out


def _index_data(index: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"columns": list(index["columns"])}
    if index.get("kind", "btree") != "btree":
        out["kind"] = index["kind"]
    if index.get("unique"):
        out["unique"] = True
    if index.get("name"):
        out["name"] = index["name"]
    return out


def _check(database: str, data: dict[str, Any]) -> None:
    """Validate the component inside a one-component design (every reference checked)."""
    from designkit.model.io import check_data

    _, problems = check_data({"designkit": 1, "name": database,
                              "components": {database: data}})
    if problems:
        raise SchemaImportError("the imported schema is not a valid database: "
                                + "; ".join(str(p) for p in problems), source=database)


def _kind(using: str, table: str, name: str | None, notes: list[str], line: int | None = None,
          ) -> str:
    kind = _KINDS.get(using.strip().lower())
    if kind is None:
        notes.append(f"{_at(line)}{table}: index {name or ''} USING {using} read as btree "
                     f"(designkit knows {', '.join(sorted(set(_KINDS.values())))})"
                     .replace("  ", " "))
        return "btree"
    if kind != using.strip().lower():
        notes.append(f"{_at(line)}{table}: index {name or ''} USING {using} read as {kind}"
                     .replace("  ", " "))
    return kind


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
    return _finish(database or source.stem, "sqlite", drafts, notes)


def _sqlite_drafts(conn: sqlite3.Connection, notes: list[str]) -> dict[str, _Draft]:
    drafts: dict[str, _Draft] = {}
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
                  notes: list[str]) -> _Draft:
    draft = _Draft()
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
                _partial(notes, name, index, cols, where[1] if len(where) > 1 else "…")
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


def _partial(notes: list[str], table: str, index: str | None, cols: list[str],
             where: str, line: int | None = None) -> None:
    named = f" {index}" if index else ""
    notes.append(f"{_at(line)}{table}: index{named} ({', '.join(cols)}) is partial (WHERE "
                 f"{' '.join(where.split())}): imported as a full index (the model has no "
                 "predicate)")


# -- DDL --------------------------------------------------------------------------------------

def schema_from_ddl(source: str | os.PathLike[str], dialect: str = "postgres",
                    database: str | None = None) -> SchemaImport:
    """Read the tables a DDL script creates, parsed with sqlglot in ``dialect``.

    ``CREATE TABLE`` (column and table constraints, ``PARTITION BY RANGE|HASH|LIST``),
    ``CREATE [UNIQUE] INDEX [CONCURRENTLY] … ON t [USING kind] (cols) [WHERE …]`` (a
    partial index is kept and noted) and ``ALTER TABLE … ADD [CONSTRAINT] PRIMARY KEY /
    UNIQUE / FOREIGN KEY``, ``ADD COLUMN``, ``ALTER COLUMN … SET NOT NULL``. Every other
    statement is listed in the notes. Types are sqlglot's spelling in the dialect, lower
    case (``integer`` → ``int``, ``timestamp with time zone`` → ``timestamptz``). Rows are
    not known: they are left out (the estimate lists them as assumptions).

    Args:
        source: A path (``Path``, or a ``str`` ending in .sql/.ddl or naming a file), or
            the DDL text itself.
        dialect: A dialect sqlglot reads: postgres, mysql, sqlite, …; the ``engine``.
        database: The component's name (default: the file name without its suffix, or
            ``db`` for text).

    Returns:
        The database component and the notes.

    Raises:
        SchemaImportError: The file is missing, the dialect unknown, or sqlglot cannot
            parse the text (the message gives the line and column).

    Example:
        >>> r = schema_from_ddl("CREATE TABLE t (id int, x text); CREATE INDEX i ON t (x);")
        >>> r.data["tables"]["t"]["indexes"]
        [{'columns': ['x'], 'name': 'i'}]
    """
    text, label, stem = _ddl_text(source)
    statements, lines = _parse(text, dialect, label)
    schema = _Schema(dialect)
    for statement, line in zip(statements, lines, strict=True):
        if statement is not None:
            _statement(schema, statement, line)
    if schema.prefixes:
        schema.notes.append(f"tables are named without their schema "
                            f"({', '.join(sorted(schema.prefixes))})")
    engine = _ENGINES.get(dialect.lower(), dialect.lower())
    return _finish(database or stem or "db", engine, schema.drafts, schema.notes)


@dataclass
class _Schema:
    dialect: str
    drafts: dict[str, _Draft] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    prefixes: set[str] = field(default_factory=set)  # schemas the tables were named in


def _ddl_text(source: str | os.PathLike[str]) -> tuple[str, str | None, str | None]:
    """(text, label for errors, file stem) of a path or of DDL text."""
    if isinstance(source, str) and ("\n" in source or ";" in source or "(" in source
                                    or not _names_file(source)):
        return source, None, None
    path = Path(source)
    if not path.is_file():
        raise SchemaImportError("no such file" if not path.exists() else "not a file",
                                source=str(path))
    try:
        return path.read_text(encoding="utf-8-sig"), str(path), path.stem
    except UnicodeDecodeError as err:
        raise SchemaImportError(f"not UTF-8 text ({err.reason} at byte {err.start})",
                                source=str(path)) from None


def _names_file(text: str) -> bool:
    try:
        return Path(text).suffix.lower() in (".sql", ".ddl") or Path(text).is_file()
    except (OSError, ValueError):
        return False


def _parse(text: str, dialect: str, label: str | None,
           ) -> tuple[list[exp.Expr | None], list[int | None]]:
    """sqlglot's statements, and the line each starts on (``None`` when unknown)."""
    import sqlglot
    from sqlglot import TokenType
    from sqlglot.errors import ParseError, TokenError

    try:
        reader = sqlglot.Dialect.get_or_raise(dialect)
    except ValueError as err:
        raise SchemaImportError(f"{err} (try postgres, mysql or sqlite)", source=label) from None
    tokenizer = reader.tokenizer()
    try:
        tokens = tokenizer.tokenize(text)
    except TokenError:
        line, column = _after(text, tokenizer.tokens[-1].end + 1 if tokenizer.tokens else 0)
        raise SchemaImportError(f"sqlglot cannot read it as {dialect} SQL: an unterminated "
                                "string, identifier or comment, or a character it does not "
                                "know", source=label or "DDL", line=line, column=column) from None
    try:
        with _quiet_sqlglot():
            statements = reader.parser().parse(tokens, text)
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        what = str(first.get("description") or err).split(". Line")[0]
        raise SchemaImportError(f"sqlglot cannot parse it as {dialect} SQL: {what}",
                                source=label or "DDL", line=first.get("line"),
                                column=first.get("col")) from None
    lines: list[int | None] = [None]
    for i, token in enumerate(tokens):  # chunks as sqlglot splits them, at semicolons
        if token.token_type == TokenType.SEMICOLON:
            if token.comments:
                lines.append(token.line)
            if i < len(tokens) - 1:
                lines.append(None)
        elif lines[-1] is None:
            lines[-1] = token.line
    if len(lines) != len(statements):
        lines = [None] * len(statements)
    return list(statements), lines


def _after(text: str, start: int) -> tuple[int, int]:
    """Line and column (from 1) of the first character at or after ``start`` that is not
    blank."""
    found = re.compile(r"\S").search(text, start)
    pos = found.start() if found else len(text)
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


@contextlib.contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning when it falls back to an opaque command; such a statement
    is listed in the notes instead."""
    logger = logging.getLogger("sqlglot")

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _statement(schema: _Schema, stmt: exp.Expr, line: int | None) -> None:
    from sqlglot import exp

    kind = str(stmt.args.get("kind") or "").upper()
    if isinstance(stmt, exp.Create) and kind == "TABLE" and isinstance(stmt.this, exp.Schema):
        _create_table(schema, stmt, line)
    elif isinstance(stmt, exp.Create) and kind == "INDEX" and isinstance(stmt.this, exp.Index):
        _create_index(schema, stmt, line)
    elif isinstance(stmt, exp.Alter) and kind == "TABLE":
        _alter_table(schema, stmt, line)
    elif isinstance(stmt, exp.Create) and kind == "TABLE" and \
            stmt.find(exp.PartitionedOfProperty):
        parent = stmt.find(exp.PartitionedOfProperty)
        assert parent is not None
        schema.notes.append(f"{_at(line)}not imported: {stmt.this.name}, a partition of "
                            f"{parent.this.name} (the parent's partitioning is imported)")
    elif isinstance(stmt, exp.Command) and str(stmt.this).upper() == "CREATE" and \
            re.match(r"\s*(UNIQUE\s+)?(TABLE|INDEX)\b", str(stmt.expression), re.IGNORECASE):
        schema.notes.append(f"{_at(line)}not imported: {_summary(stmt, schema.dialect)} — "
                            f"sqlglot does not understand this {schema.dialect} statement")
    else:
        schema.notes.append(f"{_at(line)}not imported: {_summary(stmt, schema.dialect)}")


def _at(line: int | None) -> str:
    return f"line {line}: " if line is not None else ""


def _summary(stmt: exp.Expr, dialect: str) -> str:
    """The statement in a few words: ``CREATE FUNCTION f``, ``GRANT …``."""
    from sqlglot import exp

    if isinstance(stmt, exp.Create):
        target = stmt.this if isinstance(stmt.this, exp.Table) else stmt.this.find(exp.Table)
        name = target.sql(dialect) if target is not None else ""
        text = f"CREATE {stmt.args.get('kind') or ''} {name}"
    elif isinstance(stmt, exp.Command):  # opaque to sqlglot: its first words
        words = f"{stmt.this} {stmt.expression}".split()[:6]
        text = " ".join(words).split("(")[0]
    else:
        text = stmt.sql(dialect)
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:69] + "…"


def _create_table(schema: _Schema, stmt: exp.Create, line: int | None) -> None:
    from sqlglot import exp

    name = stmt.this.this.name
    if stmt.this.this.db:
        schema.prefixes.add(stmt.this.this.db)
    if name in schema.drafts:
        schema.notes.append(f"{_at(line)}table {name} created again: the first kept")
        return
    draft = schema.drafts[name] = _Draft()
    for element in stmt.this.expressions:
        _table_element(schema, name, draft, element, None, line)
    for prop in stmt.find_all(exp.PartitionedByProperty, exp.PartitionByRangeProperty,
                              exp.PartitionByListProperty):
        _partitioning(schema, name, draft, prop, line)


def _table_element(schema: _Schema, table: str, draft: _Draft, element: exp.Expression,
                   constraint: str | None, line: int | None) -> None:
    """A column, or a table constraint (``PRIMARY KEY (…)``, ``UNIQUE``, ``FOREIGN KEY``,
    MySQL's ``KEY``/``FULLTEXT KEY``), of CREATE TABLE or ALTER TABLE … ADD."""
    from sqlglot import exp

    if isinstance(element, exp.ColumnDef):
        _column(schema, table, draft, element)
    elif isinstance(element, exp.Constraint):
        for part in element.expressions:
            _table_element(schema, table, draft, part, element.name, line)
    elif isinstance(element, exp.PrimaryKey):
        draft.primary_key = _names(element.expressions)
    elif isinstance(element, exp.ForeignKey):
        ref = element.args.get("reference")
        target = ref.this if ref is not None else None
        if isinstance(target, exp.Schema):
            draft.foreign_keys.append((_names(element.expressions), target.this.name,
                                       _names(target.expressions)))
        elif isinstance(target, exp.Table):
            draft.foreign_keys.append((_names(element.expressions), target.name, []))
    elif isinstance(element, exp.UniqueColumnConstraint) and \
            isinstance(element.this, exp.Schema):
        cols = _names(element.this.expressions)
        if len(cols) == 1 and cols[0] in draft.columns:
            draft.columns[cols[0]]["unique"] = True
        else:
            draft.indexes.append({"columns": cols, "unique": True,
                                  "name": constraint or element.this.name or None})
    elif isinstance(element, exp.IndexColumnConstraint):
        kind = str(element.args.get("kind") or "")
        using = element.args.get("index_type")
        draft.indexes.append({
            "columns": _names(element.expressions), "name": element.name or None,
            "unique": kind.upper() == "UNIQUE",
            "kind": _kind(kind if kind.upper() in ("FULLTEXT", "SPATIAL") else
                          str(using.name if isinstance(using, exp.Expression) else "btree"),
                          table, element.name, schema.notes, line)})
    elif not isinstance(element, exp.CheckColumnConstraint | exp.Check):
        schema.notes.append(f"{_at(line)}{table}: not imported: "
                            f"{_summary(element, schema.dialect)}")


def _column(schema: _Schema, table: str, draft: _Draft, column: exp.ColumnDef) -> None:
    from sqlglot import exp

    name = column.name
    spec: dict[str, Any] = {"type": _type_text(column.args.get("kind"), schema.dialect),
                            "nullable": True}
    draft.columns[name] = spec
    for constraint in column.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.PrimaryKeyColumnConstraint):
            draft.primary_key = [*draft.primary_key, name]
        elif isinstance(kind, exp.NotNullColumnConstraint):
            spec["nullable"] = bool(kind.args.get("allow_null"))
        elif isinstance(kind, exp.UniqueColumnConstraint):
            spec["unique"] = True
        elif isinstance(kind, exp.Reference):
            target = kind.this
            if isinstance(target, exp.Schema):
                draft.foreign_keys.append(([name], target.this.name, _names(target.expressions)))
            elif isinstance(target, exp.Table):
                draft.foreign_keys.append(([name], target.name, []))


def _type_text(kind: exp.Expression | None, dialect: str) -> str:
    """The type as sqlglot writes it in the dialect, lower case (a quoted user-defined
    type's name as written)."""
    from sqlglot import exp

    if kind is None:
        return "blob"  # SQLite: a column without a type
    text = kind.sql(dialect=dialect)
    user = isinstance(kind, exp.DataType) and kind.is_type(exp.DataType.Type.USERDEFINED)
    return text if user and '"' in text else text.lower()


def _names(expressions: list[exp.Expression]) -> list[str]:
    """Column names of a key list (identifiers, columns, ordered columns)."""
    from sqlglot import exp

    out = []
    for e in expressions:
        inner = e.this if isinstance(e, exp.Ordered) else e
        out.append(inner.name if isinstance(inner, exp.Identifier | exp.Column)
                   else inner.sql())
    return out


def _partitioning(schema: _Schema, table: str, draft: _Draft, prop: exp.Expression,
                  line: int | None) -> None:
    from sqlglot import exp

    if isinstance(prop, exp.PartitionedByProperty):
        spec = prop.this
        kind = "list" if isinstance(spec, exp.List) else spec.name.lower() \
            if isinstance(spec, exp.Anonymous) else ""
        parts = list(spec.expressions) if isinstance(spec, exp.Anonymous | exp.List) else []
    else:
        kind = "range" if isinstance(prop, exp.PartitionByRangeProperty) else "list"
        parts = list(prop.args.get("partition_expressions") or [])
    if kind not in ("range", "hash", "list") or not parts:
        schema.notes.append(f"{_at(line)}{table}: partitioning {prop.sql(schema.dialect)} "
                            "not imported")
        return
    key = [p.name for p in parts if isinstance(p, exp.Column)]
    if len(key) != len(parts):
        found = [c.name for p in parts for c in p.find_all(exp.Column)]
        key = list(dict.fromkeys(found))
        schema.notes.append(f"{_at(line)}{table}: partition key "
                            f"({', '.join(p.sql(schema.dialect) for p in parts)}) has an "
                            f"expression: imported as its columns ({', '.join(key)})")
    if key:
        draft.partitioning = {"key": key, "kind": kind}


def _create_index(schema: _Schema, stmt: exp.Create, line: int | None) -> None:
    from sqlglot import exp

    index = stmt.this
    table_expr = index.args.get("table")
    table = table_expr.name if table_expr is not None else ""
    params = index.args.get("params")
    name = index.name or None
    draft = schema.drafts.get(table)
    if draft is None or params is None:
        schema.notes.append(f"{_at(line)}not imported: index {name or ''} on {table}, a table "
                            "the script does not create".replace("  ", " "))
        return
    ordered = [o.this if isinstance(o, exp.Ordered) else o
               for o in params.args.get("columns") or []]
    if not ordered or not all(isinstance(c, exp.Column) for c in ordered):
        shown = ", ".join(c.sql(schema.dialect) for c in ordered)
        schema.notes.append(f"{_at(line)}{table}: index {name or ''} on ({shown}) is on an "
                            "expression: not imported (the model indexes columns)")
        return
    cols = [c.name for c in ordered]
    using = params.args.get("using")
    kind = _kind(using.name, table, name, schema.notes, line) if using is not None else "btree"
    draft.indexes.append({"columns": cols, "kind": kind, "unique": bool(stmt.args.get("unique")),
                          "name": name})
    where = params.args.get("where")
    if where is not None:
        _partial(schema.notes, table, name, cols, where.this.sql(schema.dialect), line)


def _alter_table(schema: _Schema, stmt: exp.Alter, line: int | None) -> None:
    from sqlglot import exp

    table = stmt.this.name
    draft = schema.drafts.get(table)
    if draft is None:
        schema.notes.append(f"{_at(line)}not imported: {_summary(stmt, schema.dialect)} (the "
                            "script does not create the table)")
        return
    for action in stmt.args.get("actions") or []:
        if isinstance(action, exp.AddConstraint):
            for element in action.expressions:
                _table_element(schema, table, draft, element, None, line)
        elif isinstance(action, exp.ColumnDef):
            _column(schema, table, draft, action)
        elif isinstance(action, exp.AlterColumn) and action.args.get("allow_null") is not None \
                and action.name in draft.columns:
            draft.columns[action.name]["nullable"] = bool(action.args["allow_null"])
        else:
            schema.notes.append(f"{_at(line)}{table}: not imported: ALTER TABLE … "
                                f"{_summary(action, schema.dialect)}")


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
