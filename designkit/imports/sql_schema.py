"""Read an existing database schema — a SQLite file or a DDL file — into design data.

Each reader fills the same drafts (one :class:`_Draft` per table: columns, primary key,
indexes, foreign keys, partitioning, rows) and lists what it could not carry over in
notes; :func:`_finish` turns the drafts into one ``database`` component's data and
validates it as a design would. A PostgreSQL catalog reader is one more function that
fills drafts. :func:`merge_schema` puts the result into an existing design.
"""

from __future__ import annotations

from designkit.imports._schema_drafts import SQLITE_HEADER, SchemaImport, SchemaImportError
from designkit.imports.ddl_schema import schema_from_ddl
from designkit.imports.schema_merge import merge_schema
from designkit.imports.sqlite_schema import is_sqlite_file, schema_from_sqlite

__all__ = ["SQLITE_HEADER", "SchemaImport", "SchemaImportError", "is_sqlite_file",
           "merge_schema", "schema_from_ddl", "schema_from_sqlite"]
