"""The ``designkit`` command: validate designs, print the schema, start from a template,
estimate, plan queries, review and draw.

Exit codes: 0 success; 1 only from ``assess --fail-on`` (findings at or above it); 2 bad
input (a design with problems, a missing file, a bad option, a file that could not be
written); 3 an internal error of designkit — one line and a request to report it, never a
traceback and never 1. Problems are printed one per line as ``path: message (did you mean
…?)``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from designkit._version import __version__
from designkit.errors import DesignkitError, RuleFailedError
from designkit.text import visible

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INVALID = 2
EXIT_INTERNAL = 3


class _Group(click.Group):
    """Turn designkit's own errors and refused writes into a message and exit code 2, and
    anything unexpected into one line and exit code 3."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except RuleFailedError as err:  # a rule's bug: not the design's fault
            click.echo(f"internal error: {visible(str(err))[:300]} — this is a bug in the "
                       f"rule (designkit {__version__}); please report it", err=True)
            ctx.exit(EXIT_INTERNAL)
        except (DesignkitError, FileNotFoundError) as err:
            click.echo(f"error: {visible(str(err))}", err=True)
            ctx.exit(EXIT_INVALID)
        except OSError as err:  # a write the file system refused
            where = f" {err.filename}" if err.filename else ""
            click.echo(f"error: could not write{where}: {err.strerror or err}", err=True)
            ctx.exit(EXIT_INVALID)
        except Exception as err:
            click.echo(f"internal error: {type(err).__name__}: {visible(str(err))[:300]} — "
                       f"this is a bug in designkit {__version__}; please report it with the "
                       "command and the design file", err=True)
            ctx.exit(EXIT_INTERNAL)


_ONLY_HELP = ("Draw one part: a component and its neighbours (NAME), what an endpoint "
              "reaches (endpoint:'svc METHOD /path'), or a zone or boundary (zone:NAME, "
              "boundary:NAME).")


def _finite_scale(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """``--scale``: a finite factor in (0, 10⁶] (nan, inf and 1e308 are not loads)."""
    if not (0 < value <= 1e6):  # also false for nan
        raise click.BadParameter(f"must be a number above 0 and at most 1,000,000, got {value}")
    return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="designkit")
def cli() -> None:
    """Model a backend system in a design file; check it, estimate it, review it.

    Start with `designkit templates`, then `designkit new design.yaml --template
    flash-sale`, and check your edits with `designkit validate design.yaml`.
    """


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="Print problems only.")
def validate(files: tuple[str, ...], quiet: bool) -> None:
    """Check design FILES: structure, every reference, call cycles.

    Prints a summary of each valid design; lists every problem of an invalid one with
    its path. Exits 2 when any file is invalid.
    """
    from designkit.model.io import load

    failed = 0
    for file in files:
        try:
            design = load(Path(file))
        except (DesignkitError, FileNotFoundError) as err:
            failed += 1
            click.echo(visible(str(err)), err=True)
            continue
        if not quiet:
            click.echo(visible(f"{file}: ok\n{design}"))
    if failed:
        sys.exit(EXIT_INVALID)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file instead of standard output.")
@click.option("-f", "--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--format", "fmt", type=click.Choice(["json", "markdown"]), default="json",
              show_default=True, help="JSON Schema, or the key reference as Markdown.")
def schema(output: str | None, force: bool, fmt: str) -> None:
    """Print the JSON Schema of the design file format.

    Attach it to your editor's YAML support for completion and checks as you type
    (see docs/design-format.md). `--format markdown` prints the key reference instead.
    """
    from designkit.schema import format_reference, json_schema

    text = (json.dumps(json_schema(), indent=2) + "\n" if fmt == "json"
            else format_reference())
    _emit(text, output, force)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-t", "--template", "name", default="flash-sale", show_default=True,
              help="Template to start from (see `designkit templates`).")
@click.option("-f", "--force", is_flag=True, help="Overwrite FILE if it exists.")
def new(file: str, name: str, force: bool) -> None:
    """Write a new design FILE from a template; its name is taken from FILE."""
    from designkit.model.io import load
    from designkit.safe_write import write_output
    from designkit.templates import template_text

    target = Path(file)
    text = template_text(name)  # a name from the catalogue, never a path
    stem = target.stem
    if stem != name and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.-]*", stem):
        text = re.sub(r"(?m)^name: .*$", f"name: {stem}", text, count=1)
    load(text)  # checked before anything is written
    write_output(target, text, force=force)
    click.echo(f"wrote {file} from template {name!r}; check it with "
               f"`designkit validate {file}`")


def _pairs(ctx: click.Context, param: click.Parameter,
           values: tuple[str, ...]) -> dict[str, float]:
    """``NAME=NUMBER``, repeatable (``--failing payment-provider=0.3``)."""
    out: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            out[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            example = "3" if param.name == "slow" else "0.3"
            raise click.BadParameter(f"expected NAME=NUMBER, got {value!r} (e.g. "
                                     f"--{param.name} payment-provider={example})")
    return out


@cli.command(name="estimate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--scale", type=float, default=1.0, callback=_finite_scale,
              show_default=True, help="Factor on the design's workload (0 < scale ≤ 10⁶).")
@click.option("--days", type=click.FloatRange(min=0, max=36_500), default=0.0,
              show_default=True,
              help="Days of table growth (query plans scan the grown tables; ≤ 100 years).")
@click.option("--failing", multiple=True, callback=_pairs, metavar="NAME=RATIO",
              help="An external API failing this share of attempts, or a service this "
                   "share of the calls of it (repeatable).")
@click.option("--slow", multiple=True, callback=_pairs, metavar="NAME=FACTOR",
              help="A component this many times slower (repeatable).")
@click.option("--down", multiple=True, metavar="NAME",
              help="An external API or a service down: every call of it fails "
                   "(repeatable).")
@click.option("--cold-caches", is_flag=True, help="Every cache empty: every read misses.")
@click.option("--samples", type=click.IntRange(min=1, max=1_000_000), default=None,
              help="Draw this many sets of the design's uncertain numbers (ranges) and "
                   "add their bands (p5/p50/p95).")
@click.option("--seed", type=int, default=None, help="The seed of those draws.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A text table, or the JSON contract.")
def estimate_command(file: str, scale: float, days: float, failing: dict[str, float],
                     slow: dict[str, float], down: tuple[str, ...], cold_caches: bool,
                     samples: int | None, seed: int | None, fmt: str) -> None:
    """Estimate latency (p50/p95/p99), errors, utilization and capacity of design FILE.

    The JSON holds every endpoint that receives traffic; a saturated endpoint has
    "saturated": true and null latencies (never NaN or Infinity); "error_ratio" is the
    share of its requests that fail and "errors" that share by cause; an endpoint with
    errors also has "success", the latency of its requests that succeed. With --samples,
    "bands": the spread of every number over the design's ranges (docs/uncertainty.md).
    """
    from designkit.estimate.api import estimate_with
    from designkit.estimate.scenarios import Scenario
    from designkit.model.io import load_once

    scenario = Scenario(failing=failing, slow=slow, down=tuple(down), cold_caches=cold_caches)
    result = estimate_with(load_once(Path(file)), scenario=scenario, scale=scale, days=days,
                           validated=True, samples=samples, seed=seed)
    click.echo(result.to_json() if fmt == "json" else str(result))


@cli.command(name="plan")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--days", type=click.FloatRange(min=0, max=36_500), default=365.0,
              show_default=True, help="Days of table growth for the second time (≤ 100 years).")
@click.option("--json", "as_json", is_flag=True, help="Write JSON instead of a text table.")
def plan_command(file: str, days: float, as_json: bool) -> None:
    """Print the plan of every database query of design FILE: endpoint, step, table, shape,
    access path (the index used, or a scan and why), rows read, and its time now and after
    --days of table growth."""
    from designkit.flow.plans import query_plans
    from designkit.model.io import load

    plans = query_plans(load(Path(file)), days=days)
    click.echo(plans.to_json() if as_json else visible(str(plans)))


@cli.command(name="diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True, help="How to write the comparison.")
def diff_command(old: str, new: str, fmt: str) -> None:
    """Compare design OLD with NEW: the parts added, removed and changed, each endpoint's
    p95 and each station's utilization before and after, and the failing findings opened
    and closed."""
    import json

    from designkit.diff import diff
    from designkit.model.io import load

    result = diff(load(Path(old)), load(Path(new)))
    text = (json.dumps(result.to_dict(), indent=2) if fmt == "json"
            else result.to_markdown() if fmt == "markdown" else str(result))
    click.echo(visible(text) if fmt == "text" else text)


@cli.command(name="migrate")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--dialect", type=click.Choice(["postgres", "mysql", "sqlite"]),
              default="postgres", show_default=True, help="The SQL dialect to write.")
@click.option("--database", default=None, help="Only this database of the design.")
@click.option("--json", "as_json", is_flag=True, help="Write JSON instead of SQL.")
def migrate_command(old: str, new: str, dialect: str, database: str | None,
                    as_json: bool) -> None:
    """Write the DDL that takes the schema of design OLD to design NEW, each statement that
    can hurt a live system marked '-- DANGER:' with its cost from the table's rows (a
    rewrite, a blocking index build, a NOT NULL without a default, a dropped table or a
    dropped column a query still reads)."""
    import json

    from designkit.migration import migration
    from designkit.model.io import load

    if database is not None:
        known = load(Path(new)).of_kind("database")
        if database not in known:
            raise click.BadParameter(f"design {new} has no database {database!r} "
                                     f"(it has {', '.join(known) or 'none'})",
                                     param_hint="--database")
    result = migration(load(Path(old)), load(Path(new)), dialect,  # type: ignore[arg-type]
                       database)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else str(result), nl=False)


@cli.group(name="import")
def import_group() -> None:
    """Read what exists into a design: a database schema (a SQLite file or a DDL script)
    or an OpenAPI document."""


def _register_imports() -> None:
    """The importers' commands (light modules: their libraries load when they run)."""
    from designkit.cli_import_openapi import openapi_command
    from designkit.cli_import_schema import schema_command

    import_group.add_command(schema_command)
    import_group.add_command(openapi_command)


_register_imports()


def _register_calibrate() -> None:
    """``calibrate`` (a light module: SciPy and the readers load when it runs)."""
    from designkit.cli_calibrate import calibrate_command

    cli.add_command(calibrate_command)


_register_calibrate()


@cli.command(name="verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--database", "targets", multiple=True, required=True, metavar="NAME=WHERE",
              help="A database of the design and the real one to ask: a SQLite file or a "
                   "postgresql:// URL (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True, help="How to write the comparison.")
@click.option("--fail-on-mismatch", is_flag=True,
              help="Exit 1 when a query's access path differs (for CI).")
def verify_command(file: str, targets: tuple[str, ...], fmt: str,
                   fail_on_mismatch: bool) -> None:
    """Hold the query plans of design FILE against a real database's: every query written
    as SQL and planned by the database (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN of
    a prepared generic plan), its access path (a seek on which index, or a scan) beside the
    design's. Nothing is written to the database."""
    from designkit.model.io import load
    from designkit.text import safe_url
    from designkit.verify import verify_postgres, verify_sqlite

    design = load(Path(file))
    mismatched = 0
    for target in targets:
        name, sep, where = target.partition("=")
        if not sep or not name or not where:
            raise click.BadParameter(f"{target!r}: write NAME=SQLITE_FILE or "
                                     "NAME=postgresql://…", param_hint="--database")
        if where.startswith(("postgresql://", "postgres://")):
            result = verify_postgres(design, name, where)
        elif "://" in where and not where.startswith("sqlite:"):
            raise click.BadParameter(f"{safe_url(where)}: a SQLite file or a postgresql:// "
                                     "URL", param_hint="--database")
        else:
            result = verify_sqlite(design, name,
                                   where.removeprefix("sqlite:///").removeprefix("sqlite://"))
        mismatched += len(result.mismatches)
        text = (result.to_json() if fmt == "json" else result.to_markdown()
                if fmt == "markdown" else visible(str(result)))
        click.echo(text, nl=fmt == "json")
    if fail_on_mismatch and mismatched:
        raise SystemExit(1)


@cli.command(name="failures")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--saga", default=None, help="Only this saga (default: every saga).")
@click.option("--failing", multiple=True, callback=_pairs, metavar="NAME=RATIO",
              help="An external API failing this share of attempts, or a service this "
                   "share of the calls of it (repeatable).")
@click.option("--down", multiple=True, metavar="NAME",
              help="An external API or a service down: every call of it fails "
                   "(repeatable).")
@click.option("--scale", type=float, default=1.0, callback=_finite_scale,
              show_default=True, help="Factor on the design's workload.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True, help="How to write the walk.")
def failures_command(file: str, saga: str | None, failing: dict[str, float],
                     down: tuple[str, ...], scale: float, fmt: str) -> None:
    """What rolls back when each saga step of design FILE fails, in calls per second.

    For every step: how often it fails (under --failing/--down), which completed steps
    are compensated (last first) or whether it is retried past the pivot, and at the
    workload the sagas completed and rolled back, the compensation calls and what is
    left undone.
    """
    from designkit.estimate.failures import failure_walk
    from designkit.estimate.scenarios import Scenario
    from designkit.model.io import load

    walk = failure_walk(load(Path(file)), saga,
                        Scenario(scale=scale, failing=failing, down=tuple(down)))
    click.echo({"text": lambda: str(walk), "json": walk.to_json,
                "markdown": walk.to_markdown}[fmt]())


def _profile_points(ctx: click.Context, param: click.Parameter, value: str | None
                    ) -> list[tuple[float, float]] | None:
    """``--profile 0:1,0:2,60:2,180:1`` as ``[(0, 1), (0, 2), (60, 2), (180, 1)]``."""
    if value is None:
        return None
    points = []
    for part in value.split(","):
        seconds, _, factor = part.strip().partition(":")
        try:
            points.append((float(seconds), float(factor)))
        except ValueError:
            raise click.BadParameter(
                f"expected SECONDS:FACTOR pairs, got {part.strip()!r} (e.g. --profile "
                "0:1,0:2,60:2,180:1 for twice the load during the first minute)") from None
    return points


@cli.command(name="transient")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--profile", "points", callback=_profile_points, metavar="S:F,S:F,…",
              help="The workload's factor over time, SECONDS:FACTOR points (default: the "
                   "design's profile).")
@click.option("--step", type=float, default=1.0, show_default=True,
              help="Seconds between the times reported.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to write the result.")
def transient_command(file: str, points: list[tuple[float, float]] | None, step: float,
                      fmt: str) -> None:
    """Design FILE through a load profile: which queues fall behind, how far, when they
    drain, and each endpoint's mean over time (a fluid approximation)."""
    import json

    from designkit.errors import DesignError, Problem
    from designkit.estimate.transient import transient
    from designkit.model.io import load
    from designkit.model.profile import LoadProfile

    design = load(Path(file))
    profile = None
    if points is not None:
        from pydantic import ValidationError

        try:
            profile = LoadProfile(points=points)
        except ValidationError as err:
            problems = [Problem("--profile", str(e["msg"]).removeprefix("Value error, "))
                        for e in err.errors()]
            raise DesignError(problems, source="--profile") from None
    result = transient(design, profile, step_s=step)
    click.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else str(result))


@cli.command(name="assess")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json", "markdown", "html", "sarif", "junit"]),
              help="How to write the findings.")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low"]),
              default=None, help="Exit 1 when a finding at or above this severity fails.")
@click.option("--require-complete", is_flag=True,
              help="With --fail-on: also exit 1 when a finding at or above it still needs "
                   "data or an attestation (an undecided check is not a pass).")
@click.option("--audit", is_flag=True, help="Ignore every waiver.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the report to this file.")
@click.option("-f", "--force", is_flag=True, help="Overwrite the output file if it exists.")
def assess_command(file: str, fmt: str, fail_on: str | None, require_complete: bool,
                   audit: bool, output: str | None, force: bool) -> None:
    """Review design FILE against the checklist; exit 1 on failures at --fail-on or above
    (and, with --require-complete, on checks at or above it still undecided)."""
    from designkit.assess.engine import assess
    from designkit.assess.report import to_sarif
    from designkit.model.io import load

    result = assess(load(Path(file)), audit=audit)
    text = {"table": lambda: str(result) + "\n", "json": result.to_json,
            "markdown": result.to_markdown, "html": result.to_html,
            "sarif": lambda: to_sarif(result, artifact=file),
            "junit": result.to_junit}[fmt]()
    _emit(text, output, force)
    if require_complete and not fail_on:
        raise click.UsageError("--require-complete needs --fail-on SEVERITY (the severity "
                               "from which an undecided check fails the gate)")
    if fail_on and (result.failed(at_least=fail_on)
                    or (require_complete and result.incomplete(at_least=fail_on))):
        sys.exit(EXIT_FINDINGS)


@cli.command(name="rules")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True, help="How to list the catalogue.")
def rules_command(fmt: str) -> None:
    """List the rule catalogue: id, severity, how it is decided, title."""
    from designkit.assess.catalogue import catalogue
    from designkit.assess.docs import rules_json, rules_markdown

    if fmt == "markdown":
        click.echo(rules_markdown(), nl=False)
    elif fmt == "json":
        click.echo(rules_json())
    else:
        for r in catalogue():
            click.echo(f"{r.id:<12} {r.severity.value:<8} {r.mode.value:<11} {r.title}")


@cli.command(name="render")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--view", type=click.Choice(["architecture", "data", "saga", "sequence"]),
              default="architecture", show_default=True, help="Which diagram.")
@click.option("--endpoint", help="The endpoint of a sequence view: 'svc METHOD /path'.")
@click.option("--saga", "saga_name", help="The saga of a saga view (default: the first).")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "dot", "mermaid"]),
              default="svg", show_default=True, help="Output format.")
@click.option("--estimate/--no-estimate", "with_estimate", default=True, show_default=True,
              help="Colour the architecture by the estimate at the design's workload, and "
              "time each step of a sequence view.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file (PNG needs it; text goes to stdout).")
@click.option("-f", "--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--only", metavar="VIEW", help=_ONLY_HELP)
def render_command(file: str, view: str, endpoint: str | None, saga_name: str | None,
                   fmt: str, with_estimate: bool, output: str | None, force: bool,
                   only: str | None) -> None:
    """Draw design FILE: architecture, data model, a saga, or one endpoint's sequence.

    A design too large to lay out in about a minute is refused with the views to draw
    instead (--only); Mermaid text, which needs no layout, is always written."""
    whole, design = _drawable(file, only, needs_layout=fmt != "mermaid")
    if view == "sequence" and not endpoint:
        raise click.UsageError("--view sequence needs --endpoint 'svc METHOD /path'")
    if view == "saga" and saga_name is None:
        if not design.sagas:
            raise click.UsageError(f"{file} has no saga to draw")
        saga_name = next(iter(design.sagas))
    if fmt == "png" and not output:
        raise click.UsageError("--format png needs -o FILE")
    text: str
    if fmt == "mermaid":
        from designkit.render import mermaid

        text = _view(mermaid, view, whole, design, endpoint, saga_name, with_estimate)
    else:
        from designkit.render import graphviz_views

        graph = _view(graphviz_views, view, whole, design, endpoint, saga_name,
                      with_estimate)
        if fmt == "png":
            assert output is not None
            _emit(graph.pipe(format="png"), output, force)
            return
        text = graph.source if fmt == "dot" else graphviz_views.to_svg(graph)
    _emit(text, output, force)


@cli.command(name="report")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, writable=True),
              help="Directory to write into (created if missing).")
@click.option("--audit", is_flag=True, help="Ignore every waiver.")
@click.option("--only", metavar="VIEW", help=_ONLY_HELP)
def report_command(file: str, out_dir: str, audit: bool, only: str | None) -> None:
    """Write a report of design FILE into DIR: <name>.md and <name>.html with the diagrams,
    the estimate, the p95-vs-load plot and the findings; prints the path of the .md.

    With --only, the diagrams show that view; the numbers and findings are still those of
    the whole design."""
    from designkit.assess.engine import assess
    from designkit.estimate.api import estimate
    from designkit.render.report import write_report

    whole, design = _drawable(file, only, needs_layout=True)
    result = estimate(whole) if whole.loaded else None
    path = write_report(design, Path(out_dir), estimate=result,
                        assessment=assess(whole, estimate=result, audit=audit))
    click.echo(str(path))


def _drawable(file: str, only: str | None, needs_layout: bool) -> tuple[Design, Design]:
    """The design of FILE, and the part to draw: the whole, or its view ``only``. A design
    too large to lay out is a usage error that names the views to draw instead."""
    from designkit.flow.subset import subset, too_large_to_draw
    from designkit.model.io import load

    design = load(Path(file))
    if only:
        return design, subset(design, only)
    refusal = too_large_to_draw(design) if needs_layout else None
    if refusal:
        raise click.UsageError(refusal)
    return design, design


def _view(module: Any, view: str, whole: Design, design: Design, endpoint: str | None,
          saga_name: str | None, with_estimate: bool) -> Any:
    """The view ``view`` of ``design`` (a part of ``whole``, whose estimate colours it) from
    a renderer module (Graphviz or Mermaid); an unknown endpoint or saga is a usage error
    naming the nearest ones."""
    try:
        return _draw(module, view, whole, design, endpoint, saga_name, with_estimate)
    except KeyError as err:
        raise click.UsageError(str(err.args[0]) if err.args else str(err)) from None


def _draw(module: Any, view: str, whole: Design, design: Design, endpoint: str | None,
          saga_name: str | None, with_estimate: bool) -> Any:
    if view == "data":
        return module.data(design)
    if view == "saga":
        return module.saga(design, saga_name)
    found = None
    if with_estimate and whole.loaded:
        from designkit.estimate.api import estimate

        found = estimate(whole)
    if view == "architecture":
        return module.architecture(design, estimate=found)
    return module.sequence(design, endpoint, estimate=found)


def _emit(data: str | bytes, output: str | None, force: bool) -> None:
    """``data`` to the file ``output`` (see :func:`~designkit.safe_write.write_output`), or
    to standard output."""
    if output:
        from designkit.safe_write import write_output

        write_output(output, data, force=force)
        click.echo(f"wrote {output}", err=True)
    elif isinstance(data, bytes):
        click.echo(data, nl=False)
    else:
        click.echo(data, nl=not data.endswith("\n"))


@cli.command(name="templates")
def list_templates() -> None:
    """List the starter templates."""
    from designkit.templates import templates as available

    names = available()
    width = max(map(len, names), default=0)
    for template_name, description in names.items():
        click.echo(f"{template_name:<{width}}  {description}")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    ``argv`` ``None`` (the program's own arguments) means the process ends with this
    command: what it built is left to the operating system (see :func:`_leave`).

    Example:
        >>> main(["templates"]) == 0  # doctest: +ELLIPSIS
        dashboard-fixed...
        True
    """
    from designkit.gcpause import gc_paused

    try:
        with gc_paused():  # a short run: no full collections over a large design
            try:
                cli.main(args=argv, prog_name="designkit", standalone_mode=True)
            finally:
                if argv is None:
                    _leave()  # (while the collector is still paused)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_INVALID)
    except Exception as err:
        click.echo(f"internal error: {type(err).__name__}: {visible(str(err))[:300]} — "
                   f"this is a bug in designkit {__version__}; please report it", err=True)
        return EXIT_INTERNAL
    return EXIT_OK


def _leave() -> None:
    """Before a process that ends with its command exits: move every object into the
    collector's permanent generation. Else the collector, back on, would walk the millions
    a large design and its estimate hold — at once, and again in the interpreter's last
    collection on the way out (0.5 s at 10,000 components) — for nothing: the operating
    system frees them all. Not for a test or a notebook calling :func:`main` (``argv``
    given): its objects are collected as usual."""
    import gc

    gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
