"""Facts about a design's schema that the database rules share: its tables, the queries on
them, and what kind of data a column holds."""

from __future__ import annotations

from collections.abc import Iterator

from designkit.assess.context import Context
from designkit.model.database import DOCUMENT_ENGINES, Column, Database, Table
from designkit.model.design import Design
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.steps import CallStep

__all__ = ["JSONISH", "PG_DOCS", "SCALAR", "TEMPORAL", "TEXT_SEARCH", "base_type",
           "database_calls", "engine_family", "every_table", "is_document", "table_path"]

PG_DOCS = "https://www.postgresql.org/docs/current/"
JSONISH = ("json", "jsonb", "hstore", "xml")
TEXT_SEARCH = ("tsvector", "tsquery")
SCALAR = ("uuid", "int", "integer", "bigint", "smallint", "serial", "bigserial", "numeric",
           "decimal", "bool", "boolean", "date", "timestamp", "timestamptz", "real",
           "double precision", "float")
TEMPORAL = ("date", "timestamp", "timestamptz", "time", "timetz")


def base_type(column: Column) -> str:
    """A column's type without its size or array suffix's parameters, lower-cased."""
    return column.type.strip().lower().split("(")[0].strip()


def is_document(column: Column) -> bool:
    """JSON, array or full-text column: a GIN/GiST index's business, and a repeating group."""
    kind = base_type(column)
    return (kind in JSONISH or kind in TEXT_SEARCH or column.type.strip().endswith("[]")
            or kind.startswith("array"))


def every_table(design: Design) -> Iterator[tuple[str, Database, str, Table, str]]:
    """(database name, database, table name, table, path) of every table."""
    for db_name, db in design.components.items():
        if isinstance(db, Database):
            for name, table in db.tables.items():
                yield db_name, db, name, table, table_path(db_name, name)


def table_path(db_name: str, name: str) -> str:
    """A table's subject: ``components.<db>.tables.<table>``, names quoted as needed."""
    return format_path(("components", db_name, "tables", name))


def database_calls(ctx: Context) -> Iterator[tuple[EndpointRef, str, CallStep]]:
    """Every database call with a query: (endpoint, step path, step), in file order."""
    for item in ctx.steps:
        step = item.step
        if (isinstance(step, CallStep) and step.query is not None
                and isinstance(ctx.design.components.get(step.call), Database)):
            yield item.ref, item.subject, step


def engine_family(db: Database) -> str:
    """The database's engine family: ``postgres``, ``mysql``, ``document`` or its name
    (``sqlite``…), lower-cased.

    Example:
        >>> engine_family(Database(kind="database", engine="MariaDB"))
        'mysql'
    """
    name = str(db.engine).strip().lower()
    if name in DOCUMENT_ENGINES:
        return "document"
    if name in ("mysql", "mariadb"):
        return "mysql"
    return "postgres" if name in ("postgres", "postgresql") else name
