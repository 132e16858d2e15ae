"""``designkit import schema``: a database's schema — a SQLite file or a DDL script — into a
design file (``-o``), merged into one (``--into``), or printed.

Errors are printed as ``error: …`` with exit code 2, as every designkit command does;
notes (what was not imported, what was counted) go to standard error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from designkit.errors import DesignkitError
from designkit.text import safe_url, visible

if TYPE_CHECKING:
    from designkit.imports.sql_schema import SchemaImport

__all__ = ["schema_command"]

_EXIT_INVALID = 2
_DDL_SUFFIXES = (".sql", ".ddl")
_URL_SCHEMES = ("postgresql", "postgres")


@click.command(name="schema")
@click.argument("source")
@click.option("--database", "database", metavar="NAME",
              help="Name of the database component (default: the file name).")
@click.option("--dialect", default="postgres", show_default=True,
              help="SQL dialect of a DDL file (postgres, mysql, sqlite, or any sqlglot "
                   "reads); it becomes the database's engine.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write a new design file with the database.")
@click.option("--into", type=click.Path(dir_okay=False),
              help="Merge the database into this design file and print what changed.")
@click.option("-f", "--force", is_flag=True, help="Overwrite the -o file if it exists.")
@click.pass_context
def schema_command(ctx: click.Context, source: str, database: str | None, dialect: str,
                   output: str | None, into: str | None, force: bool) -> None:
    """Import a database schema from SOURCE: a SQLite file, a DDL file (.sql, .ddl), or a
    live PostgreSQL (postgresql://…, its catalogs read in a read-only transaction).

    Reads tables, columns (type, NOT NULL, primary key, unique, foreign key), indexes
    (columns, kind, unique; partial ones kept and noted), partitioning, and row counts
    where the source knows them (SQLite: counted). What is not imported is listed on
    standard error. Without -o or --into, the design is printed.
    """
    if output and into:
        raise click.UsageError("give -o (a new design) or --into (merge), not both")
    try:
        _run(source, database, dialect, output, into, force)
    except (DesignkitError, OSError) as err:
        click.echo(f"error: {visible(str(err))}", err=True)
        ctx.exit(_EXIT_INVALID)


def _run(source: str, database: str | None, dialect: str, output: str | None,
         into: str | None, force: bool) -> None:
    from designkit.imports.sql_schema import merge_schema
    from designkit.model.design import Design
    from designkit.model.io import dump, load, to_data
    from designkit.safe_write import write_output

    result = _read(source, database, dialect)
    for note in result.notes:
        click.echo(f"note: {visible(note)}", err=True)
    if into:
        target = Path(into)
        before = load(target)
        merged, changes = merge_schema(before, result)
        text = target.read_text(encoding="utf-8-sig")
        if to_data(merged) == to_data(before):
            click.echo(f"{into}: no change")
            return
        write_output(target, dump(merged), force=True)
        for change in changes:
            click.echo(visible(change))
        if "#" in text:
            click.echo(f"note: {into} was rewritten: its comments are not kept (see git diff)",
                       err=True)
        click.echo(f"wrote {into}", err=True)
        return
    name = Path(output).stem if output else result.database
    design, _ = merge_schema(Design(name=name), result)
    text = dump(design)
    if output:
        write_output(output, text, force=force)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _read(source: str, database: str | None, dialect: str) -> SchemaImport:
    """The import of ``source``: a DDL file by its suffix, else a SQLite file."""
    from designkit.imports.sql_schema import (
        SchemaImportError,
        is_sqlite_file,
        schema_from_ddl,
        schema_from_sqlite,
    )

    if source.split("://", 1)[0].lower() in _URL_SCHEMES and "://" in source:
        from designkit.imports.postgres_schema import schema_from_postgres

        return schema_from_postgres(source, database=database)
    if "://" in source:
        raise SchemaImportError(_url_refusal(source))
    if source.lower().endswith(_DDL_SUFFIXES):
        return schema_from_ddl(Path(source), dialect=dialect, database=database)
    if Path(source).is_file() and not is_sqlite_file(source):
        raise SchemaImportError("not a SQLite database (it does not start with 'SQLite "
                                "format 3'); name a DDL file with .sql or .ddl", source=source)
    return schema_from_sqlite(source, database=database)


def _url_refusal(url: str) -> str:
    """Why a database URL other than PostgreSQL's is refused, naming it without its
    user and password.

    Example:
        >>> _url_refusal("mysql://app:secret@db:3306/shop").split(":")[:3]
        ['mysql', '//db', '3306/shop']
    """
    return (f"{safe_url(url)}: database URLs other than postgresql:// are not supported; "
            "import a SQLite file or a DDL file (.sql)")
