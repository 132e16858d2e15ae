"""``designkit calibrate``: fit a design file to load-test results and traces.

The calibrated file is the original text with its ``calibration:`` section added (or
replaced), so the author's comments and layout stay; a JSON design is written whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from designkit.text import visible

if TYPE_CHECKING:
    from designkit.model.design import Design

__all__ = ["calibrate_command", "with_calibration"]



def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
           ) -> dict[str, str]:
    out = {}
    for text in values:
        name, sep, ref = text.partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise click.BadParameter(f"{text!r}: give MEASURED=REFERENCE, e.g. "
                                     "'checkout=shop POST /orders' or 'pg-query=orders-db'")
        out[name.strip()] = ref.strip()
    return out


@click.command(name="calibrate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("measurements", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the calibrated design here (the original with a calibration: "
                   "section).")
@click.option("-f", "--force", is_flag=True, help="Overwrite the -o file if it exists.")
@click.option("--fit", "fit", multiple=True, metavar="COMPONENT",
              help="A component whose times to fit (repeat); default: every component the "
                   "measured endpoints spend time in.")
@click.option("--map", "mapping", multiple=True, callback=_pairs, metavar="NAME=REF",
              help="A measured name and the endpoint ('svc METHOD /path') or component it "
                   "is (repeat).")
@click.option("--format", "fmt", default=None,
              type=click.Choice(["csv", "locust", "k6", "jmeter", "otlp"]),
              help="The measurements' format (default: told from their content).")
@click.option("--no-shape", is_flag=True, help="Keep the times' shapes (do not fit scv).")
@click.option("--no-slowdown", is_flag=True, help="Do not fit a slowdown with load.")
@click.option("--fail-above", type=click.FloatRange(min=0), default=None, metavar="MISS",
              help="Exit 1 when a measured statistic is missed by more than MISS (0.15: 15 %).")
@click.option("--json", "as_json", is_flag=True, help="Write the fit as JSON.")
def calibrate_command(file: str, measurements: tuple[str, ...], output: str | None,
                      force: bool, fit: tuple[str, ...], mapping: dict[str, str],
                      fmt: str | None, no_shape: bool, no_slowdown: bool,
                      fail_above: float | None, as_json: bool) -> None:
    """Fit design FILE to MEASUREMENTS (a CSV of timestamp,endpoint,latency_ms,status;
    Locust's _stats.csv; k6's JSON summary or output; a JMeter JTL; OpenTelemetry spans as
    OTLP JSON), each file a run at one load. Prints each fitted parameter with its standard
    error and each measured statistic beside the calibrated prediction; -o writes the
    calibrated design."""
    from designkit.calibration import calibrate
    from designkit.measure import measurements as read
    from designkit.model.io import load

    source = Path(file)
    design = load(source)
    measured = read(*measurements, format=fmt)
    result = calibrate(design, measured, fit=fit or None, mapping=mapping or None,
                       shape=False if no_shape else None,
                       slowdown=False if no_slowdown else None)
    click.echo(result.to_json() if as_json else visible(str(result)))
    if output:
        from designkit.safe_write import write_output

        write_output(output, with_calibration(source, result.design), force=force)
        click.echo(f"wrote {output}", err=True)
    if fail_above is not None and result.max_error > fail_above:
        click.echo(f"the fit misses a measured statistic by {result.max_error:.1%}, more than "
                   f"{fail_above:.1%}", err=True)
        raise SystemExit(1)


def with_calibration(source: Path, design: Design) -> str:
    """The text of design file ``source`` with ``design``'s calibration section in place
    of its own (added at the end when it has none); a JSON file is dumped whole.

    Example:
        >>> import designkit as dk, tempfile, os
        >>> d = dk.Design(name="x")
        >>> _ = d.service("api").endpoint("GET /x", cpu_ms=1)
        >>> d.calibration = {"components": {"api": {"scale": 1.5}}}
        >>> path = Path(tempfile.mkdtemp()) / "x.yaml"
        >>> _ = path.write_text("# mine\\nname: x\\ncomponents:\\n  api: {kind: service, "
        ...                     "endpoints: {'GET /x': {cpu_ms: 1}}}\\n")
        >>> print(with_calibration(path, d))
        # mine
        name: x
        components:
          api: {kind: service, endpoints: {'GET /x': {cpu_ms: 1}}}
        calibration:
          components:
            api: {scale: 1.5}
        <BLANKLINE>
    """
    from designkit.model.io import dump

    text = source.read_text(encoding="utf-8-sig")
    if source.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return dump(design, "json")
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return dump(design)  # a design written as one flow mapping: written anew
    lines = [line if line.endswith("\n") else line + "\n"
             for line in text.splitlines(keepends=True)]
    block = _block(design)
    found = _section(root)
    if found is None:  # after the design's last line (a `...` or comments stay after it)
        last = _last_text_line(text)
        return "".join(lines[:last + 1]) + block + "".join(lines[last + 1:])
    first, last = found
    return "".join(lines[:first]) + block + "".join(lines[last + 1:])


def _section(root: object) -> tuple[int, int] | None:
    """The first and last line (0-based) of the top-level ``calibration:`` section of a
    YAML design's root mapping, as the parser sees it (a quoted key too; the comment lines
    after its last value belong to what follows)."""
    import yaml

    assert isinstance(root, yaml.MappingNode)
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "calibration":
            return key.start_mark.line, _last_line(value)
    return None


def _last_text_line(text: str) -> int:
    """The last line (0-based) holding text of the YAML document ``text``: where its last
    scalar, alias or flow collection ends (an alias's node carries the marks of the anchor
    it names, earlier in the file; a block's end mark is where the next token starts)."""
    import yaml

    last = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        start, end = event.start_mark, event.end_mark
        if start is None or end is None:
            continue
        flow_end = isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent) and \
            start.index != end.index  # a `}` or `]` was read
        if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent) or flow_end:
            last = max(last, end.line if end.column > 0 else end.line - 1)
    return last


def _last_line(node: object) -> int:
    """The last line holding text of a YAML node (a block's end mark is where the next
    token starts, past any comment)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        if node.flow_style:
            return int(node.end_mark.line)
        return max((_last_line(v) for _, v in node.value), default=int(node.start_mark.line))
    if isinstance(node, yaml.SequenceNode):
        if node.flow_style:
            return int(node.end_mark.line)
        return max((_last_line(v) for v in node.value), default=int(node.start_mark.line))
    assert isinstance(node, yaml.ScalarNode)
    end = node.end_mark
    return int(end.line if end.column > 0 else end.line - 1)


def _block(design: Design) -> str:
    """The ``calibration:`` section of ``design`` as YAML, the way dump writes it."""
    from designkit.model.design import Design
    from designkit.model.io import dump

    assert design.calibration is not None
    only = Design(name=design.name, calibration=design.calibration)
    text = dump(only)
    at = text.index("calibration:")
    return text[at:].rstrip("\n") + "\n"
