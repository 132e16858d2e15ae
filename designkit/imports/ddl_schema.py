"""A DDL script's schema (any dialect sqlglot reads): CREATE TABLE, CREATE INDEX, ALTER TABLE."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlglot import exp


from designkit.imports._schema_drafts import (
    ENGINES,
    Draft,
    SchemaImport,
    SchemaImportError,
    at_line,
    finish,
    index_kind,
    note_partial,
)

__all__ = ["schema_from_ddl"]

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
    engine = ENGINES.get(dialect.lower(), dialect.lower())
    return finish(database or stem or "db", engine, schema.drafts, schema.notes)


@dataclass
class _Schema:
    dialect: str
    drafts: dict[str, Draft] = field(default_factory=dict)
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
        schema.notes.append(f"{at_line(line)}not imported: {stmt.this.name}, a partition of "
                            f"{parent.this.name} (the parent's partitioning is imported)")
    elif isinstance(stmt, exp.Command) and str(stmt.this).upper() == "CREATE" and \
            re.match(r"\s*(UNIQUE\s+)?(TABLE|INDEX)\b", str(stmt.expression), re.IGNORECASE):
        schema.notes.append(f"{at_line(line)}not imported: {_summary(stmt, schema.dialect)} — "
                            f"sqlglot does not understand this {schema.dialect} statement")
    else:
        schema.notes.append(f"{at_line(line)}not imported: {_summary(stmt, schema.dialect)}")


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
        schema.notes.append(f"{at_line(line)}table {name} created again: the first kept")
        return
    draft = schema.drafts[name] = Draft()
    for element in stmt.this.expressions:
        _table_element(schema, name, draft, element, None, line)
    for prop in stmt.find_all(exp.PartitionedByProperty, exp.PartitionByRangeProperty,
                              exp.PartitionByListProperty):
        _partitioning(schema, name, draft, prop, line)


def _table_element(schema: _Schema, table: str, draft: Draft, element: exp.Expression,
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
            "kind": index_kind(kind if kind.upper() in ("FULLTEXT", "SPATIAL") else
                          str(using.name if isinstance(using, exp.Expression) else "btree"),
                          table, element.name, schema.notes, line)})
    elif not isinstance(element, exp.CheckColumnConstraint | exp.Check):
        schema.notes.append(f"{at_line(line)}{table}: not imported: "
                            f"{_summary(element, schema.dialect)}")


def _column(schema: _Schema, table: str, draft: Draft, column: exp.ColumnDef) -> None:
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


def _partitioning(schema: _Schema, table: str, draft: Draft, prop: exp.Expression,
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
        schema.notes.append(f"{at_line(line)}{table}: partitioning {prop.sql(schema.dialect)} "
                            "not imported")
        return
    key = [p.name for p in parts if isinstance(p, exp.Column)]
    if len(key) != len(parts):
        found = [c.name for p in parts for c in p.find_all(exp.Column)]
        key = list(dict.fromkeys(found))
        schema.notes.append(f"{at_line(line)}{table}: partition key "
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
        schema.notes.append(f"{at_line(line)}not imported: index {name or ''} on {table}, a table "
                            "the script does not create".replace("  ", " "))
        return
    ordered = [o.this if isinstance(o, exp.Ordered) else o
               for o in params.args.get("columns") or []]
    if not ordered or not all(isinstance(c, exp.Column) for c in ordered):
        shown = ", ".join(c.sql(schema.dialect) for c in ordered)
        schema.notes.append(f"{at_line(line)}{table}: index {name or ''} on ({shown}) is on an "
                            "expression: not imported (the model indexes columns)")
        return
    cols = [c.name for c in ordered]
    using = params.args.get("using")
    kind = index_kind(using.name, table, name, schema.notes, line) if using is not None else "btree"
    draft.indexes.append({"columns": cols, "kind": kind, "unique": bool(stmt.args.get("unique")),
                          "name": name})
    where = params.args.get("where")
    if where is not None:
        note_partial(schema.notes, table, name, cols, where.this.sql(schema.dialect), line)


def _alter_table(schema: _Schema, stmt: exp.Alter, line: int | None) -> None:
    from sqlglot import exp

    table = stmt.this.name
    draft = schema.drafts.get(table)
    if draft is None:
        schema.notes.append(f"{at_line(line)}not imported: {_summary(stmt, schema.dialect)} (the "
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
            schema.notes.append(f"{at_line(line)}{table}: not imported: ALTER TABLE … "
                                f"{_summary(action, schema.dialect)}")
