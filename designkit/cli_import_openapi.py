"""``designkit import openapi``: an OpenAPI 3.0/3.1 document as a service of a design.

The command is registered under the ``import`` group of :mod:`designkit.cli`; its errors
(a spec that cannot be read, a design that is invalid, a file that cannot be written) are
turned into one message and exit code 2 by that group. designkit.cli's helpers are
imported inside the command, since designkit.cli imports this module.
"""

from __future__ import annotations

from pathlib import Path

import click

from designkit.text import visible

__all__ = ["openapi_command"]


@click.command(name="openapi")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--service", metavar="NAME",
              help="The service's name (default: the spec's title, slugified).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write a new design file holding the service.")
@click.option("--into", type=click.Path(dir_okay=False),
              help="Merge into this existing design file, keeping what it says (steps, "
                   "times, workload), and print what changed.")
@click.option("-f", "--force", is_flag=True, help="Overwrite the -o file if it exists.")
def openapi_command(spec: str, service: str | None, output: str | None, into: str | None,
                    force: bool) -> None:
    """Import the OpenAPI 3.0/3.1 document SPEC (YAML or JSON) as one service: an endpoint
    per operation with its auth, idempotency key, pagination, responses, error envelope,
    versioning and request schema.

    Without -o or --into the design is printed. What the spec holds that designkit does
    not model (callbacks, webhooks, unused parameters, …) is listed on standard error.
    """
    from designkit.cli import _emit
    from designkit.imports.openapi import import_openapi, merge_openapi
    from designkit.model.io import dump, load
    from designkit.safe_write import write_output

    if output and into:
        raise click.UsageError("use -o FILE for a new design or --into FILE to merge into "
                               "one, not both")
    result = import_openapi(Path(spec), service=service)
    for note in result.notes:
        click.echo(visible(f"note: {note}"), err=True)
    if into is None:
        _emit(dump(result.design()), output, force)
        return
    design = load(Path(into))
    merged, changes = merge_openapi(design, result)
    for change in changes:
        click.echo(visible(change))
    if merged == design:
        click.echo(f"{into}: nothing to change", err=True)
        return
    write_output(into, dump(merged, "json" if into.endswith(".json") else "yaml"),
                 force=True)
    click.echo(f"wrote {into}", err=True)
