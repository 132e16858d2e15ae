"""Read JMeter's results (``.jtl``), CSV or XML: one sample per request, grouped by label.

**CSV** (``jmeter.save.saveservice.output_format=csv``): needs its header line (JMeter
2.x writes it only with ``jmeter.save.saveservice.print_field_names=true``, the default
from 3.0) with at least ``timeStamp``, ``elapsed``, ``label`` and ``success``; ``,``, ``;``
or a tab between fields; ``timeStamp`` in milliseconds since the epoch
(``jmeter.save.saveservice.timestamp_format=ms``, the default).

**XML** (``output_format=xml``): the ``<httpSample>`` and ``<sample>`` elements directly
inside ``<testResults>``, with their ``t`` (elapsed), ``ts`` (time stamp), ``s``
(success) and ``lb`` (label) attributes; their sub-results (redirects, embedded resources)
are part of them and not counted again. The XML is parsed with ``pyexpat``; a document
type declaration (DTD) is refused.

A sample failed when its ``success`` is ``false``; the latency is ``elapsed`` (ms, the
whole response). JMeter stamps a sample at its start (``sampleresult.timestamp.start``,
true by default), which the rate uses. ``responseCode`` is not needed: JMeter's
``success`` already says whether it was an error. The run is named after the file's stem.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.parsers import expat

from designkit.measure._shared import (
    Groups,
    Problems,
    Source,
    csv_rows,
    fail,
    integer,
    read_text,
    run_name,
    shown,
)
from designkit.measure.observations import Measurements

__all__ = ["CSV_COLUMNS", "read_jmeter"]

CSV_COLUMNS = ("timeStamp", "elapsed", "label", "success")
"""The columns of a CSV ``.jtl`` the reader uses."""

_HEADERLESS = re.compile(r"^\d{10,},\d+,")


def read_jmeter(source: Source) -> Measurements:
    """Read a JMeter ``.jtl`` results file, CSV or XML (see the module's docstring).

    Args:
        source: The ``.jtl`` file.

    Returns:
        One endpoint observation per sample label, with every successful elapsed time as a
        sample.

    Raises:
        MeasurementError: The CSV has no header or lacks a column, the XML is not
            well-formed or not ``<testResults>``, or a sample has a bad value (each listed
            with its line).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jtl"
        >>> _ = path.write_text('<?xml version="1.0"?>\\n<testResults version="1.2">\\n'
        ...     '<httpSample t="40" ts="1700000000000" s="true" lb="GET /x" rc="200"/>\\n'
        ...     '<httpSample t="60" ts="1700000000500" s="true" lb="GET /x" rc="200"/>\\n'
        ...     '<httpSample t="10" ts="1700000001000" s="false" lb="GET /x" rc="500"/>\\n'
        ...     '</testResults>\\n')
        >>> (x,) = read_jmeter(path).endpoints()
        >>> x.count, x.errors, x.mean_ms, x.rate_rps
        (3, 1, 50.0, 2.0)
    """
    place = shown(source)
    path = Path(place)
    text = read_text(path, place)
    if text.lstrip().startswith("<"):
        return _read_xml(text, place, run_name(path))
    return _read_csv(text, place, run_name(path))


def _read_csv(text: str, place: str, run: str) -> Measurements:
    first = text.lstrip().partition("\n")[0]
    if _HEADERLESS.match(first):
        raise fail(f"{place}:1", "no header line: JMeter 2.x writes one only when run with "
                   "-Jjmeter.save.saveservice.print_field_names=true (or read its XML .jtl)")
    delimiter = next((d for d in ("\t", ";") if f"timeStamp{d}" in first), ",")
    problems = Problems(place)
    rows = csv_rows(text, place, problems, delimiter)
    header_line, header = next(rows, (0, []))
    problems.check()
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise fail(f"{place}:{header_line}", f"not a JMeter CSV .jtl: missing "
                   f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    at = {c: header.index(c) for c in CSV_COLUMNS}
    groups = Groups()
    for line, row in rows:
        where = f"{place}:{line}"
        if len(row) != len(header):
            problems.add(where, f"{len(row)} fields, the header has {len(header)}")
            continue
        _sample(groups, run, {c: row[i] for c, i in at.items()}, where, problems)
    problems.check()
    if not groups.groups:
        raise fail(place, "holds no samples: only a header line")
    return Measurements(groups.observations())


def _sample(groups: Groups, run: str, values: dict[str, str], where: str,
            problems: Problems) -> None:
    """Count one sample (``values`` keyed by the CSV column names)."""
    found = len(problems.found)
    stamp = integer(values["timeStamp"])
    if stamp is None:
        problems.add(where, f"timeStamp {values['timeStamp']!r} is not milliseconds since the "
                     "epoch (run JMeter with jmeter.save.saveservice.timestamp_format=ms)")
    elapsed = integer(values["elapsed"])
    if elapsed is None or elapsed < 0:
        problems.add(where, f"elapsed {values['elapsed']!r} is not a number of milliseconds")
    success = values["success"].strip().lower()
    if success not in ("true", "false"):
        problems.add(where, f"success {values['success']!r} is not true or false")
    if not values["label"]:
        problems.add(where, "label is empty")
    if len(problems.found) > found or stamp is None or elapsed is None:
        return
    groups.clock(run).tick(stamp / 1000)
    groups.group(run, "endpoint", values["label"], where).add(
        float(elapsed), success == "false", {})


_XML_NAMES = {"t": "elapsed", "ts": "timeStamp", "s": "success", "lb": "label"}


def _read_xml(text: str, place: str, run: str) -> Measurements:
    problems = Problems(place)
    groups = Groups()
    parser = expat.ParserCreate("utf-8")  # the text is decoded already
    depth = 0

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        where = f"{place}:{parser.CurrentLineNumber}"
        if depth == 1 and tag != "testResults":
            raise fail(where, f"<{tag}> is not JMeter's <testResults>")
        if depth != 2:
            return
        if tag not in ("httpSample", "sample"):
            problems.add(where, f"<{tag}> is not a JMeter <httpSample> or <sample>")
            return
        missing = [f"{a} ({n})" for a, n in _XML_NAMES.items() if a not in attributes]
        if missing:
            problems.add(where, f"<{tag}> lacks {', '.join(missing)}")
            return
        _sample(groups, run, {n: attributes[a] for a, n in _XML_NAMES.items()}, where, problems)

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*_: object) -> None:
        raise fail(f"{place}:{parser.CurrentLineNumber}", "has a document type declaration "
                   "(DTD), which JMeter never writes: refused")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(text.encode("utf-8"), True)
    except expat.ExpatError as err:
        reason = expat.errors.messages[err.code]
        hint = " (the file ends before </testResults>: did JMeter stop before it finished?)" \
            if err.lineno >= len(text.splitlines()) else ""
        raise fail(f"{place}:{err.lineno}", f"not well-formed XML ({reason}){hint}") from None
    problems.check()
    if not groups.groups:
        raise fail(place, "holds no samples: <testResults> is empty")
    return Measurements(groups.observations())
