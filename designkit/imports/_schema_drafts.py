"""What every schema reader fills and how it ends: one draft per table (columns, keys,
indexes, partitioning, rows), turned into one validated ``database`` component's data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from designkit.errors import DesignkitError

__all__ = ["ENGINES", "SQLITE_HEADER", "Draft", "SchemaImport", "SchemaImportError", "at_line",
           "finish", "index_kind", "note_partial"]

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_KINDS = {"btree": "btree", "hash": "hash", "gin": "gin", "gist": "gist", "brin": "brin",
          "fulltext": "fulltext", "spgist": "gist", "spatial": "gist", "rtree": "gist"}
ENGINES = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql",
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
        >>> from designkit.imports.ddl_schema import schema_from_ddl
        >>> r = schema_from_ddl("CREATE TABLE t (id int PRIMARY KEY);", database="db")
        >>> r.data["tables"]["t"]["columns"]["id"]
        {'type': 'int', 'primary_key': True, 'nullable': False}
    """

    database: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class Draft:
    """One table as a reader found it, before keys are resolved and it is validated."""

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    partitioning: dict[str, Any] | None = None
    rows: int | None = None


# -- the common end: drafts to validated data ----------------------------------------------

def finish(database: str, engine: str, drafts: dict[str, Draft],
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
                 target_cols: list[str], drafts: dict[str, Draft], notes: list[str]) -> None:
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


def index_kind(using: str, table: str, name: str | None, notes: list[str], line: int | None = None,
          ) -> str:
    kind = _KINDS.get(using.strip().lower())
    if kind is None:
        notes.append(f"{at_line(line)}{table}: index {name or ''} USING {using} read as btree "
                     f"(designkit knows {', '.join(sorted(set(_KINDS.values())))})"
                     .replace("  ", " "))
        return "btree"
    if kind != using.strip().lower():
        notes.append(f"{at_line(line)}{table}: index {name or ''} USING {using} read as {kind}"
                     .replace("  ", " "))
    return kind


def at_line(line: int | None) -> str:
    return f"line {line}: " if line is not None else ""


def note_partial(notes: list[str], table: str, index: str | None, cols: list[str],
             where: str, line: int | None = None) -> None:
    named = f" {index}" if index else ""
    notes.append(f"{at_line(line)}{table}: index{named} ({', '.join(cols)}) is partial (WHERE "
                 f"{' '.join(where.split())}): imported as a full index (the model has no "
                 "predicate)")
