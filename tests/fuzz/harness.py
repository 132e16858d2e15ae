"""Run every ``designkit`` command on one design file, in-process, and check every output.

:func:`exercise` writes a :class:`~tests.fuzz.strategies.Case` to a file and runs, through
``designkit.cli.main``: ``validate``; ``estimate`` as a table and JSON; ``assess`` in every
format (and once with ``--fail-on``); ``calibrate`` on two runs measured at a vanishing
load of the first endpoint, and ``validate`` of the file it writes; ``render`` of every view that applies (architecture,
data, saga, sequence) as DOT and Mermaid, and as SVG when asked; ``report -o DIR`` when
asked. It returns the :class:`Failure` objects found, each with a *signature* that names
the bug without the input's details (the same crash reached by ten commands is one bug).

What is checked:

* the run ends with an exit code, never an uncaught exception; ``Traceback`` is never
  printed; the exit code is 0 or 2 (1 only for ``assess --fail-on``), and agrees with
  ``validate`` (a design that validates is estimated, assessed, drawn and reported; one
  that does not is refused by every command with exit 2 and a message);
* no escape character (nor any other C0/C1 control character) in anything printed or
  written: a design's text must not drive the user's terminal;
* outputs parse: JSON strictly (``NaN``/``Infinity`` refused), SARIF against the 2.1.0
  schema, JUnit and SVG as XML, HTML with ``html.parser``; estimate JSON has no NaN, and
  finite latencies are ordered (p50 ≤ p95 ≤ p99) unless the endpoint is saturated, and an
  unsaturated endpoint has no null latency;
* at a vanishing load (``estimate --scale`` so that the busiest entry gets 1e-7 requests/s)
  a generated valid design saturates nothing and every latency is finite;
* markup from the design (:data:`~tests.fuzz.strategies.MARKERS`) never appears raw in
  HTML, Markdown or SVG; SVG holds no script, event handler or link to a local file;
* a report writes ``<name>.md`` and ``<name>.html`` inside DIR, and nothing outside it;
* nothing takes longer than :data:`SLOW_SECONDS`; no Python warning is printed (a
  ``RuntimeWarning`` fails; others, such as a glyph missing from matplotlib's font, are
  reported as notes, signature ``note: …``, which the test suite does not fail on).
"""

from __future__ import annotations

import contextlib
import csv
import html.parser
import io
import itertools
import json
import math
import os
import random
import re
import signal
import threading
import time
import traceback
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.fuzz.strategies import MARKERS, Case
from tests.render.test_mermaid import _PARSE_JS, _mermaid_modules

__all__ = ["NOTE", "SLOW_SECONDS", "Failure", "Outcome", "Run", "describe", "exercise", "label_of",
           "mermaid_failures", "run_cli", "save_failure"]

ROOT = Path(__file__).resolve().parents[2]
SLOW_SECONDS = 20.0
"""A command on a small generated design that takes longer than this is a failure."""
TIMEOUT_SECONDS = 60.0
"""A command is interrupted after this long (and reported as hung)."""

NOTE = "note: "
"""Signature prefix of a soft failure: reported by the soak, not failing the test suite (a
warning that is noise rather than a wrong result, such as a glyph missing from a font)."""
STRICT_WARNINGS = ("RuntimeWarning", "OverflowError", "ZeroDivisionError")
"""Warnings that mean a wrong number (overflow, division by zero, NaN) and fail the suite."""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class _Timeout(BaseException):
    """Raised into a command that runs past its time (a BaseException: ``except
    Exception`` in the code under test does not swallow it)."""


class _Terminal(io.StringIO):
    """Standard output that says it is a terminal: click then keeps escape sequences, as it
    would for a user's terminal, instead of stripping them."""

    def isatty(self) -> bool:
        return True


@dataclass
class Run:
    """One command line run in-process."""

    argv: list[str]
    code: int | None
    out: str
    err: str
    crash: BaseException | None = None
    trace: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The command without file names: ``render --view data --format dot``."""
        return label_of(self.argv)


def label_of(argv: list[str]) -> str:
    """A command line without its file names and free arguments."""
    parts = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-o", "--endpoint", "--saga", "--scale"):
            parts.append(arg + " …")
            skip = True
        elif not arg.startswith("/"):
            parts.append(arg)
    return " ".join(parts)


@dataclass(frozen=True)
class Failure:
    """One thing wrong with one run.

    Attributes:
        signature: The bug, without the input's details: ``crash ZeroDivisionError in
            designkit/estimate/latency.py:percentile`` or ``assess --format junit: not XML``.
        command: The command line (file names replaced).
        detail: What was seen: the traceback, the parse error, the offending output.
    """

    signature: str
    command: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.signature}] `designkit {self.command}`\n{_indent(self.detail)}"


@dataclass
class Outcome:
    """What :func:`exercise` found for one case."""

    valid: bool | None
    failures: list[Failure]
    runs: list[Run]
    mermaid: dict[str, str]


def _indent(text: str, limit: int = 4000) -> str:
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return "    " + text.replace("\n", "\n    ")


# -- running -------------------------------------------------------------------------------


def run_cli(argv: list[str], timeout: float = TIMEOUT_SECONDS) -> Run:
    """Run ``designkit argv`` in this process with stdout and stderr captured."""
    from designkit.cli import main

    out, err = _Terminal(), _Terminal()
    crash: BaseException | None = None
    trace = ""
    code: int | None = None
    seen: list[warnings.WarningMessage] = []
    alarm = threading.current_thread() is threading.main_thread() and hasattr(signal,
                                                                               "setitimer")
    old_handler: Any = None
    if alarm:
        def on_alarm(signum: int, frame: Any) -> None:
            raise _Timeout(f"still running after {timeout:g} s")
        old_handler = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as seen, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("default")
            code = main(list(argv))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        crash = exc
        trace = "".join(traceback.format_exception(exc))
    finally:
        seconds = time.perf_counter() - start
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
    shown = [f"{w.category.__name__}: {w.message} ({_short(w.filename)}:{w.lineno})"
             for w in seen if not issubclass(w.category, DeprecationWarning |
                                              PendingDeprecationWarning)]
    return Run(list(argv), code, out.getvalue(), err.getvalue(), crash, trace, seconds, shown)


def _short(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(ROOT))
    except ValueError:
        parts = Path(filename).parts
        if "site-packages" in parts:
            return "/".join(parts[parts.index("site-packages") + 1:])
        return filename


def crash_signature(exc: BaseException) -> str:
    """``crash <Type> in <file>:<function>``, naming the innermost frame in designkit (or,
    failing that, the innermost frame)."""
    if isinstance(exc, _Timeout):
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if "designkit" in f.filename and "tests" not in f.filename]
        where = f"{_short(ours[-1].filename)}:{ours[-1].name}" if ours else "?"
        return f"hang (> {TIMEOUT_SECONDS:g} s) in {where}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}designkit{os.sep}" in f.filename]
    frame = ours[-1] if ours else (frames[-1] if frames else None)
    where = f"{_short(frame.filename)}:{frame.name}" if frame else "?"
    return f"crash {type(exc).__name__} in {where}"


# -- checks --------------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.failures: list[Failure] = []

    def fail(self, run: Run | str, what: str, detail: str) -> None:
        command = run if isinstance(run, str) else run.label
        signature = what if what.startswith(("crash ", "hang ")) else \
            f"{NOTE}{command}: {what[len(NOTE):]}" if what.startswith(NOTE) else \
            f"{command}: {what}"
        self.failures.append(Failure(signature, command, detail))

    # generic -------------------------------------------------------------------------

    def ran(self, run: Run, allowed: set[int]) -> bool:
        """The run ended normally with an allowed code; False when there is nothing more
        to check."""
        if run.crash is not None:
            self.fail(run, crash_signature(run.crash), run.trace + _streams(run))
            return False
        for text, stream in ((run.out, "stdout"), (run.err, "stderr")):
            if "Traceback" in text:
                self.fail(run, f"Traceback printed on {stream}", text)
            self.printable(run, text, stream)
        if run.code not in allowed:
            first = (run.err.strip() or run.out.strip() or "no message").split("\n")[0]
            design = ("a valid design" if allowed <= {0, 1} else
                      "an invalid design" if allowed == {2} else "a design")
            if run.argv[0] == "render" and allowed == {2} and "--view" in run.argv:
                design = "a missing saga or endpoint"
            self.failures.append(Failure(
                f"exit {run.code} on {design}: {_generic(first)}", run.label, _streams(run)))
            return False
        if run.code == 2 and not run.err.strip():
            self.fail(run, "exit 2 without a message on stderr", _streams(run))
        for w in run.warnings:
            soft = "" if w.startswith(STRICT_WARNINGS) else NOTE
            message, _, where = w.rpartition(" (")
            where = where.rstrip(")").rsplit(":", 1)[0]
            self.failures.append(Failure(
                f"{soft}warning printed: {_generic(message)} ({where})", run.label, w))
        if run.seconds > SLOW_SECONDS:
            self.fail(run, f"slow (> {SLOW_SECONDS:g} s)", f"{run.seconds:.1f} s")
        return True

    def printable(self, run: Run | str, text: str, where: str) -> None:
        if "\x1b" in text:
            self.fail(run, f"escape character (\\x1b) in {where}", _around(text, "\x1b"))
        elif m := _CONTROL.search(text):
            char = f"U+{ord(m.group()):04X}"
            self.fail(run, f"control character in {where}", f"{char}: {_around(text, m.group())}")

    def markers(self, run: Run | str, text: str, where: str) -> None:
        for marker in MARKERS:
            if marker in text:
                self.fail(run, f"raw markup from the design in {where}", _around(text, marker))
                return

    def markdown(self, run: Run | str, text: str, where: str = "Markdown") -> None:
        """Markup outside code is escaped; every table row has as many cells as its header
        (GitHub splits cells at every unescaped ``|``, inside code spans too)."""
        prose = _without_code(text)
        self.markers(run, prose, where)
        header: int | None = None
        for line in text.split("\n"):
            if not line.startswith("|"):
                header = None
                continue
            cells = len(re.findall(r"(?<!\\)\|", line.rstrip())) - 1
            if header is None:
                header = cells
            elif cells != header:
                self.fail(run, f"{where} table row with a wrong number of cells",
                          f"{cells} cells, header {header}: {line[:300]!r}")
                return

    # formats -------------------------------------------------------------------------

    def json(self, run: Run | str, text: str, where: str = "stdout") -> Any:
        def reject(token: str) -> Any:
            raise ValueError(f"non-standard JSON token {token}")
        try:
            return json.loads(text, parse_constant=reject)
        except ValueError as err:
            self.fail(run, f"not strict JSON ({where})", f"{err}\n{text[:2000]}")
            return None

    def bands(self, run: Run, bands: Any) -> None:
        """Every band of ``--samples`` is ordered, p5 ≤ p50 ≤ p95 (null: infinite)."""
        found: list[tuple[str, Any]] = []

        def collect(value: Any, where: str) -> None:
            if isinstance(value, dict) and set(value) == {"p5", "p50", "p95"}:
                found.append((where, value))
            elif isinstance(value, dict):
                for key, item in value.items():
                    collect(item, f"{where}.{key}")
        collect(bands, "bands")
        if not found:
            self.fail(run, "bands without a band", json.dumps(bands)[:2000])
        for where, band in found:
            values = [math.inf if band[k] is None else band[k] for k in ("p5", "p50", "p95")]
            if any(not isinstance(v, int | float) or math.isnan(v) for v in values) or \
                    not values[0] <= values[1] <= values[2]:
                self.fail(run, "a band out of order (p5 ≤ p50 ≤ p95)", f"{where}: {band}")

    def estimate_json(self, run: Run, text: str) -> None:
        doc = self.json(run, text)
        if not isinstance(doc, dict):
            return
        endpoints = doc.get("endpoints")
        if not isinstance(endpoints, dict):
            self.fail(run, "estimate JSON without an endpoints object", text[:2000])
            return
        if "bands" in doc:
            self.bands(run, doc["bands"])
        for name, e in endpoints.items():
            if not isinstance(e, dict):
                continue
            values = [e.get(k) for k in ("p50_ms", "p95_ms", "p99_ms")]
            mean = e.get("mean_ms")
            if e.get("saturated"):
                if any(v is not None for v in [mean, *values]):
                    self.fail(run, "saturated endpoint with latencies",
                              f"{name}: {json.dumps(e)}")
                continue
            numbers = [v for v in [mean, *values] if v is not None]
            if any(not isinstance(v, int | float) or v < 0 for v in numbers):
                self.fail(run, "negative or non-numeric latency", f"{name}: {json.dumps(e)}")
            elif None not in values and not _ordered([float(v) for v in values]):
                self.fail(run, "latency percentiles out of order (p50 ≤ p95 ≤ p99)",
                          f"{name}: {json.dumps(e)}")
            elif None in values:
                self.fail(run, "unsaturated endpoint with a null latency",
                          f"{name}: {json.dumps(e)}")

    def unloaded(self, run: Run, text: str) -> None:
        """An estimate at a vanishing load: no endpoint saturated, every latency finite."""
        doc = json.loads(text)
        for name, e in (doc.get("endpoints") or {}).items():
            if e.get("saturated") or None in (e.get("mean_ms"), e.get("p99_ms")):
                self.fail(run, "saturated or infinite latency at a vanishing load",
                          f"{name}: {json.dumps(e)}")
                return

    def sarif(self, run: Run, text: str) -> None:
        doc = self.json(run, text)
        if doc is None:
            return
        if not isinstance(doc, dict) or doc.get("version") != "2.1.0":
            self.fail(run, "SARIF without version 2.1.0", text[:1000])
            return
        errors = sorted(_sarif_validator().iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            self.fail(run, "SARIF does not match the 2.1.0 schema",
                      "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:5]))

    def xml(self, run: Run | str, text: str, what: str) -> ET.Element | None:
        try:
            return ET.fromstring(text.encode("utf-8"))
        except ET.ParseError as err:
            self.fail(run, f"{what} is not XML", f"{err}\n{_around_line(text, err)}")
            return None

    def svg(self, run: Run | str, text: str, where: str = "SVG") -> None:
        root = self.xml(run, text, where)
        self.markers(run, text, where)
        if root is None:
            return
        for el in root.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag in ("script", "foreignObject"):
                self.fail(run, f"<{tag}> element in {where}", ET.tostring(el, "unicode")[:500])
            for attr, value in el.attrib.items():
                name = attr.rsplit("}", 1)[-1]
                if name.lower().startswith("on"):
                    self.fail(run, f"event handler attribute in {where}", f"{attr}={value!r}")
                if name == "href" and (value.startswith(("/", "file:", "javascript:"))
                                       or re.match(r"^[A-Za-z]:\\", value)):
                    self.fail(run, f"link to a local file or script in {where}", value)

    def html(self, run: Run | str, text: str, where: str = "HTML") -> None:
        self.markers(run, text, where)
        parser = _Html()
        try:
            parser.feed(text)
            parser.close()
        except Exception as err:
            self.fail(run, f"{where} does not parse", repr(err))
            return
        if parser.scripts_with_marker:
            self.fail(run, f"script in {where} runs design text", parser.scripts_with_marker[0])


class _Html(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_script = False
        self.scripts_with_marker: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on") and value and "alert(1)" in value:
                self.scripts_with_marker.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data: str) -> None:
        if self.in_script and "alert(1)" in data:
            self.scripts_with_marker.append(data[:300])

    def handle_endtag(self, tag: str) -> None:
        self.in_script = False


@cache
def _sarif_validator() -> Any:
    import jsonschema

    schema = json.loads((ROOT / "tests" / "assess" / "sarif" /
                         "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def _ordered(values: list[float]) -> bool:
    """Each value at most the next one (within rounding)."""
    return all(a <= b * (1 + 1e-9) + 1e-12 for a, b in itertools.pairwise(values))


def _without_code(text: str) -> str:
    """Markdown text with fenced blocks and inline code spans removed."""
    kept, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        kept.append(line)
    prose = "\n".join(kept)
    out, i = [], 0
    while i < len(prose):
        if prose[i] == "\\":  # an escaped character (``\```` is a literal backtick)
            out.append(prose[i:i + 2])
            i += 2
            continue
        if prose[i] != "`":
            out.append(prose[i])
            i += 1
            continue
        n = len(prose[i:]) - len(prose[i:].lstrip("`"))
        run = "`" * n
        j = i + n
        while True:
            j = prose.find(run, j)
            if j < 0 or prose[j + n: j + n + 1] != "`":
                break
            j += n + len(prose[j + n:]) - len(prose[j + n:].lstrip("`"))
        if j < 0:  # no closing run: the backticks are literal
            out.append(run)
            i += n
        else:
            i = j + n
    return "".join(out)


def _streams(run: Run) -> str:
    parts = []
    if run.out:
        parts.append("stdout: " + run.out[-3000:])
    if run.err:
        parts.append("stderr: " + run.err[-3000:])
    return "\n".join(parts)


def _around(text: str, needle: str, width: int = 120) -> str:
    i = text.find(needle)
    return repr(text[max(0, i - width): i + width])


def _around_line(text: str, err: ET.ParseError) -> str:
    line, col = getattr(err, "position", (0, 0))
    lines = text.split("\n")
    return repr(lines[line - 1][max(0, col - 80): col + 80]) if 0 < line <= len(lines) else ""


def _generic(message: str) -> str:
    """A warning's message without its numbers and quoted names (the bug, not the case)."""
    message = re.sub(r"\([^()]*\\[^()]*\)", "(…)", message)
    message = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message)
    return re.sub(r"\d+(\.\d+)?", "N", message)[:120]


# -- the whole exercise --------------------------------------------------------------------


def _has_ranges(content: bytes) -> bool:
    """The design file may write some number as a range (``low`` or ``p50`` beside a hit
    ratio, rows or a rate: ``--samples`` then has something to draw)."""
    return b"low" in content or b"p50" in content


def _design_facts(path: Path) -> tuple[list[str], list[str], float]:
    """Endpoints (``svc METHOD /path``), saga names and the largest workload rate of a
    valid design file."""
    import designkit as dk

    try:
        design = dk.load(path)
    except Exception:  # validate reports it
        return [], [], 0.0
    return ([str(ref) for ref, _ in design.endpoints()], list(design.sagas),
            max(design.workload.values(), default=0.0))


def exercise(case: Case, workdir: Path, *, svg: bool = False, report: bool = False,
             fail_on: str = "high", only: set[str] | None = None,
             tiny_rate: float | None = 1e-7, calibrate: bool = True) -> Outcome:
    """Write ``case`` to a file in ``workdir`` and run every command on it (see module).

    Args:
        case: The design file.
        workdir: An empty directory to work in.
        svg: Also render every view as SVG (Graphviz's ``dot``: slower).
        report: Also write a report.
        fail_on: The severity of the ``assess --fail-on`` run.
        only: Run only the commands whose label starts with one of these (for replays).
        tiny_rate: Requests per second of the busiest workload entry in the vanishing-load
            estimate of a valid generated design (``None``: skip it); small enough that no
            station may be busy.
        calibrate: Also calibrate a valid design on generated runs (a fit: slower).
    """
    path = workdir / f"design{case.suffix}"
    path.write_bytes(case.content)
    check = _Checker()
    runs: list[Run] = []
    mermaid: dict[str, str] = {}

    def wanted(argv: list[str]) -> bool:
        return only is None or any(label_of(argv).startswith(o) for o in only)

    def run(argv: list[str], allowed: set[int]) -> Run | None:
        if not wanted(argv):
            return None
        r = run_cli(argv)
        runs.append(r)
        return r if check.ran(r, allowed) else None

    v = run_cli(["validate", str(path)])
    runs.append(v)
    valid: bool | None = None
    if check.ran(v, {0, 2}):
        valid = v.code == 0
    ok = {0} if valid else {2} if valid is False else {0, 2}
    endpoints, sagas, busiest = _design_facts(path) if valid else ([], [], 0.0)
    if valid is False and not only:
        # every command refuses the file the same way; two are enough to check it
        for argv in (["estimate", str(path), "--format", "json"],
                     ["render", str(path), "--format", "mermaid"]):
            run(argv, {2})
        return Outcome(valid, check.failures, runs, mermaid)

    for fmt in ("table", "json"):
        r = run(["estimate", str(path), "--format", fmt], ok)
        if r and r.code == 0 and fmt == "json":
            check.estimate_json(r, r.out)
    if valid and _has_ranges(case.content):  # bands over them (a refusal names the fix)
        r = run(["estimate", str(path), "--samples", "4", "--seed", "1", "--format", "json"],
                {0, 2})
        if r and r.code == 0:
            check.estimate_json(r, r.out)
    if valid and case.origin.startswith(("valid/", "small/")) and tiny_rate \
            and busiest > tiny_rate:
        # at a vanishing load no station is busy: nothing may saturate (the generators keep
        # every count and time small enough for that to hold at this rate)
        r = run(["estimate", str(path), "--format", "json", "--scale",
                 f"{tiny_rate / busiest:.6g}"], ok)
        if r and r.code == 0:
            check.estimate_json(r, r.out)
            check.unloaded(r, r.out)
    for fmt in ("table", "json", "markdown", "html", "sarif", "junit"):
        r = run(["assess", str(path), "--format", fmt], ok)
        if not (r and r.code == 0):
            continue
        if fmt == "json":
            check.json(r, r.out)
        elif fmt == "sarif":
            check.sarif(r, r.out)
        elif fmt == "junit":
            check.xml(r, r.out, "JUnit")
        elif fmt == "html":
            check.html(r, r.out)
        elif fmt == "markdown":
            check.markdown(r, r.out)
    run(["assess", str(path), "--format", "json", "--fail-on", fail_on],
        {0, 1} if valid else ok)

    if calibrate and valid and endpoints:  # measured at a vanishing load: calibrate, then the file loads
        runs_csv, calibrated = workdir / "runs.csv", workdir / "calibrated.yaml"
        _measured(runs_csv, endpoints[0], case.content)
        r = run(["calibrate", str(path), str(runs_csv), "--no-slowdown", "--no-shape",
                 "--json", "-o", str(calibrated), "-f"], ok)
        if r and r.code == 0:
            check.json(r, r.out)
            run(["validate", str(calibrated)], {0})

    views: list[tuple[list[str], int]] = [(["--view", "architecture"], 0),
                                          (["--view", "architecture", "--no-estimate"], 0),
                                          (["--view", "data"], 0)]
    if sagas:
        views.append((["--view", "saga"], 0))
        if len(sagas) > 1:
            views.append((["--view", "saga", "--saga", sagas[-1]], 0))
    else:
        views.append((["--view", "saga"], 2))
    for ref in dict.fromkeys(endpoints[:1] + endpoints[-1:]):
        views.append((["--view", "sequence", "--endpoint", ref], 0))
    views.append((["--view", "sequence", "--endpoint", "nowhere GET /nothing"], 2))
    formats = ["dot", "mermaid"] + (["svg"] if svg else [])
    for view, expected in views:
        for fmt in formats:
            if fmt != "dot" and "--no-estimate" in view:
                continue
            r = run(["render", str(path), *view, "--format", fmt],
                    {expected} if valid else ok)
            if not (r and r.code == 0):
                continue
            if fmt == "mermaid":
                mermaid[" ".join(view)] = r.out
            elif fmt == "svg":
                check.svg(r, r.out)
    if report:
        _report(path, workdir, run, check, ok)
    return Outcome(valid, check.failures, runs, mermaid)


def _measured(path: Path, endpoint: str, seed: bytes) -> None:
    """Two runs of 40 requests of ``endpoint``, 100 s apart (a vanishing load), with
    latencies of 1–20 ms drawn from the design's bytes (the same file, the same runs)."""
    rng = random.Random(seed)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "endpoint", "latency_ms", "status", "run"])
        for run_name in ("one", "two"):
            for i in range(40):
                out.writerow([1.7e9 + 100.0 * i, endpoint, f"{rng.uniform(1, 20):.3f}",
                              rng.choice([200, 200, 200, 500]), run_name])


def _report(path: Path, workdir: Path, run: Any, check: _Checker, ok: set[int]) -> None:
    out_dir = workdir / "out" / "report"
    before = _tree(workdir)
    r = run(["report", str(path), "-o", str(out_dir)], ok)
    after = _tree(workdir)
    inside = {str(out_dir), *map(str, out_dir.parents)}
    outside = sorted(p for p in after - before
                     if p not in inside and not p.startswith(str(out_dir) + os.sep))
    label = "report -o …"
    if outside:
        check.fail(label, "files written outside the output directory", "\n".join(outside))
    if not (r and r.code == 0):
        return
    md = Path(r.out.strip())
    if not md.is_file() or md.suffix != ".md":
        check.fail(label, "stdout is not the path of the Markdown file", r.out[:500])
        return
    if md.resolve().parent != out_dir.resolve():
        check.fail(label, "the Markdown file is not directly in DIR", str(md))
    html_file = md.with_suffix(".html")
    if not html_file.is_file():
        check.fail(label, "no HTML beside the Markdown", str(sorted(after - before))[:500])
    for file in sorted(out_dir.rglob("*")):
        if not file.is_file():
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            check.fail(label, f"{file.suffix} file is not UTF-8", str(err))
            continue
        kind = file.suffix.lstrip(".").upper() or "file"
        check.printable(label, text, f"the report's {kind}")
        if file.suffix == ".md":
            check.markdown(label, text, "the report's Markdown")
        elif file.suffix == ".html":
            check.html(label, text, "the report's HTML")
        elif file.suffix == ".svg":
            check.svg(label, text, "a report SVG")


def _tree(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


def mermaid_failures(texts: dict[str, str], timeout: float = 300) -> list[Failure] | str:
    """Mermaid's own parser (Node.js, the npm packages mermaid and jsdom) over ``texts``:
    a :class:`Failure` per text it refuses, or a string saying why it could not run."""
    import shutil
    import subprocess
    import tempfile

    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed"
    modules = _mermaid_modules()
    if modules is None:
        return "npm packages mermaid and jsdom not found (npm install mermaid jsdom)"
    if not texts:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "texts.json"
        source.write_text(json.dumps(texts), encoding="utf-8")
        script = Path(tmp) / "parse.cjs"
        script.write_text(_PARSE_JS, encoding="utf-8")
        done = subprocess.run([node, str(script), str(modules), str(source)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        return f"node failed: {done.stderr[-2000:]}"
    results = json.loads(done.stdout)
    expected = {"architecture": "flowchart", "data": "er", "saga": "flowchart",
                "sequence": "sequence"}
    failures = []
    for key, result in results.items():
        view = key.split("--view ", 1)[1].split()[0] if "--view " in key else "architecture"
        command = f"render --view {view} --format mermaid"
        if not result.startswith("ok "):
            message = re.sub(r"line \d+|\d+", "N", result.split("\n")[0])[:100]
            failures.append(Failure(f"{command}: Mermaid's parser refuses it ({message})",
                                    command, f"{result[:1500]}\n--- text:\n{texts[key]}"))
        elif not result.split()[1].startswith(expected.get(view, "")):
            failures.append(Failure(f"{command}: wrong diagram type", command,
                                    f"{result}\n--- text:\n{texts[key]}"))
    return failures




def describe(case: Case, failures: list[Failure]) -> str:
    """A failure report: every failure, then the input."""
    text = case.text
    shown = text if len(text) <= 6000 else text[:6000] + f"\n… ({len(text) - 6000} more)"
    return ("\n".join(str(f) for f in failures) +
            f"\n--- input ({case.origin}, design{case.suffix}, {len(case.content)} bytes):\n"
            + shown)


def save_failure(case: Case, failures: list[Failure], folder: Path | None = None) -> Path:
    """Save ``case`` and what went wrong under ``.cache/fuzz/failures/``; returns the input's
    path (the report is beside it, ``.txt``)."""
    import hashlib

    folder = folder or ROOT / ".cache" / "fuzz" / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(case.content).hexdigest()[:12]
    path = folder / f"{digest}{case.suffix or '.txt'}"
    path.write_bytes(case.content)
    path.with_name(path.name + ".failure.txt").write_text(describe(case, failures),
                                                          encoding="utf-8")
    return path
