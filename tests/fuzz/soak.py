"""Soak the ``designkit`` command with random generated design files for a while.

Runs the properties of ``tests/fuzz/test_fuzz_cli.py`` (every command, every output
format; SVG and a report on every few inputs; Mermaid's own parser over the Mermaid texts
in batches) on random inputs until the time is up, then prints how many inputs it tried
and each distinct failure, minimized, with its reproducer saved under ``.cache/fuzz/``::

    python tests/fuzz/soak.py --minutes 10
    python tests/fuzz/soak.py --minutes 60 --seed 7 --svg-every 3
    python tests/fuzz/soak.py --replay .cache/fuzz/failures/0123abcd.yaml   # minimize one

Exit status: 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import yaml

__all__ = ["main", "minimize"]

ROOT = Path(__file__).resolve().parents[2]


class _TimeUp(BaseException):
    """The soak's time is over (ends hypothesis' loop)."""


@dataclass
class _Seen:
    """A distinct failure: how often, and the smallest input that showed it."""

    failure: Any
    case: Any
    count: int = 0
    origins: set[str] = field(default_factory=set)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80] or "failure"


def _case_with(case: Any, content: bytes) -> Any:
    from tests.fuzz.strategies import Case

    return Case(content, case.suffix, case.origin)


def _fails(case: Any, signature: str, command: str) -> bool:
    from tests.fuzz.harness import exercise

    only = {command} if command else None
    svg = " svg" in command or "--format svg" in command
    report = command.startswith("report")
    with tempfile.TemporaryDirectory(prefix="designkit-soak-") as tmp:
        try:
            outcome = exercise(case, Path(tmp), only=only, svg=svg, report=report)
        except Exception:
            return False
    return any(f.signature == signature for f in outcome.failures)


def _parse(case: Any) -> Any:
    """The data of a case, or ``None`` when it does not parse as one mapping."""
    try:
        text = case.content.decode("utf-8-sig")
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except Exception:
        return None
    return data if isinstance(data, dict) else None


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path below ``data``, parents before children."""
    out: list[tuple[Any, ...]] = []
    level = [(path, data)]
    while level:
        nxt = []
        for p, value in level:
            items = value.items() if isinstance(value, dict) else \
                enumerate(value) if isinstance(value, list) else ()
            for k, v in items:
                out.append((*p, k))
                nxt.append(((*p, k), v))
        level = nxt
    return out


def _without(data: Any, path: tuple[Any, ...]) -> Any:
    import copy

    data = copy.deepcopy(data)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return data


def minimize(case: Any, signature: str, command: str, seconds: float = 60.0) -> Any:
    """A smaller input that still fails with ``signature``.

    When the case is one mapping and still fails written as block YAML (or indented JSON),
    parts of the data are deleted, biggest first, while the failure stays; otherwise lines
    are removed (ddmin). Stops after ``seconds``.
    """
    from tests.fuzz.strategies import Case, to_json, to_yaml

    deadline = time.monotonic() + seconds
    data = _parse(case)
    if data is not None:
        for write, suffix in ((lambda d: to_yaml(d).encode(), ".yaml"),
                              (lambda d: to_json(d, indent=1).encode(), ".json")):
            if _fails(Case(write(data), suffix, case.origin), signature, command):
                changed = True
                while changed and time.monotonic() < deadline:
                    changed = False
                    i = 0
                    paths = _paths(data)
                    while i < len(paths) and time.monotonic() < deadline:
                        trial = _without(data, paths[i])
                        if _fails(Case(write(trial), suffix, case.origin), signature,
                                  command):
                            # parents come first: those before i were tried already
                            data, changed, paths = trial, True, _paths(trial)
                        else:
                            i += 1
                return Case(write(data), suffix, case.origin)
    lines = case.content.split(b"\n")
    n = 2
    while len(lines) >= 2 and time.monotonic() < deadline:
        chunk = max(1, len(lines) // n)
        removed = False
        for start in range(0, len(lines), chunk):
            if time.monotonic() > deadline:
                break
            trial = lines[:start] + lines[start + chunk:]
            if trial and _fails(_case_with(case, b"\n".join(trial)), signature, command):
                lines = trial
                n = max(n - 1, 2)
                removed = True
                break
        if not removed:
            if chunk == 1:
                break
            n = min(len(lines), n * 2)
    return _case_with(case, b"\n".join(lines))


def _report(seen: dict[str, _Seen], out: Path, minimize_seconds: float) -> None:
    from tests.fuzz.harness import describe

    for i, (signature, s) in enumerate(sorted(seen.items()), 1):
        folder = out / _slug(signature)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"input{s.case.suffix or '.txt'}").write_bytes(s.case.content)
        small = s.case
        if minimize_seconds > 0 and "Mermaid's parser" not in signature:
            small = minimize(s.case, signature, s.failure.command, minimize_seconds)
        (folder / f"minimal{small.suffix or '.txt'}").write_bytes(small.content)
        (folder / "failure.txt").write_text(describe(small, [s.failure]), encoding="utf-8")
        print(f"\n#{i} {signature}\n   seen {s.count}× (origins: "
              f"{', '.join(sorted(s.origins)[:4])}); command: designkit {s.failure.command}")
        print(f"   saved: {folder}/")
        text = small.text
        print("   minimal input:\n      " + (text if len(text) < 3000 else text[:3000] + " …")
              .replace("\n", "\n      "))
        detail = s.failure.detail.strip().split("\n")
        print("   observed:\n      " + "\n      ".join(detail[-12:]))


def soak(minutes: float, seed: int, svg_every: int, report_every: int, out: Path,
         minimize_seconds: float) -> int:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.fuzz.harness import Failure, exercise, mermaid_failures
    from tests.fuzz.strategies import cases

    stop = time.monotonic() + minutes * 60
    seen: dict[str, _Seen] = {}
    stats = {"inputs": 0, "valid": 0, "invalid": 0, "commands": 0}
    mermaid: dict[str, str] = {}
    mermaid_cases: dict[str, Any] = {}

    def record(failure: Any, case: Any) -> None:
        s = seen.get(failure.signature)
        if s is None:
            s = seen[failure.signature] = _Seen(failure, case)
            print(f"  new failure after {stats['inputs']} inputs: {failure.signature}",
                  flush=True)
        elif len(case.content) < len(s.case.content):
            s.failure, s.case = failure, case
        s.count += 1
        s.origins.add(case.origin)

    def check_mermaid() -> None:
        found = mermaid_failures(mermaid)
        if isinstance(found, list):
            for failure in found:
                key = next(k for k, t in mermaid.items() if t in failure.detail)
                record(failure, mermaid_cases[key])
        mermaid.clear()
        mermaid_cases.clear()

    @hypothesis_seed(seed)
    @settings(max_examples=10**9, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def loop(case: Any) -> None:
        if time.monotonic() > stop:
            raise _TimeUp
        n = stats["inputs"] = stats["inputs"] + 1
        with tempfile.TemporaryDirectory(prefix="designkit-soak-") as tmp:
            try:
                outcome = exercise(case, Path(tmp), svg=n % svg_every == 0,
                                   report=n % report_every == 0,
                                   fail_on=("critical", "high", "medium", "low")[n % 4])
            except Exception as err:  # the harness's own bug: say so, keep soaking
                import traceback

                record(Failure(f"harness error {type(err).__name__}", "",
                               traceback.format_exc()), case)
                return
        stats["commands"] += len(outcome.runs)
        if outcome.valid:
            stats["valid"] += 1
        elif outcome.valid is False:
            stats["invalid"] += 1
        for failure in outcome.failures:
            record(failure, case)
        for view, text in outcome.mermaid.items():
            key = f"{n} {view}"
            mermaid[key] = text
            mermaid_cases[key] = case
        if len(mermaid) >= 300:
            check_mermaid()
        if n % 100 == 0:
            left = (stop - time.monotonic()) / 60
            print(f"  {n} inputs, {len(seen)} distinct failures, {left:.1f} min left",
                  flush=True)

    print(f"soaking for {minutes:g} min, seed {seed}", flush=True)
    try:
        loop()
    except _TimeUp:
        pass
    except Exception:  # a generator problem: report it and what we have
        import traceback

        print(f"soak stopped early (a bug of the generator):\n{traceback.format_exc()}",
              flush=True)
    check_mermaid()
    print(f"\ntried {stats['inputs']} inputs ({stats['valid']} valid, {stats['invalid']} "
          f"refused, {stats['inputs'] - stats['valid'] - stats['invalid']} undecided), "
          f"{stats['commands']} commands; {len(seen)} distinct failures")
    if seen:
        print(f"reproducers under {out}/")
        _report(seen, out, minimize_seconds)
    return 1 if seen else 0


def replay(path: Path, minimize_seconds: float, origin: str = "valid/replay") -> int:
    """Run every command on one saved file; minimize each failure it shows.

    ``origin`` says how the file was made (``valid/…`` checks the vanishing-load property
    too: give ``invalid/replay`` for a file that does not keep the generator's bounds)."""
    from tests.fuzz.harness import describe, exercise
    from tests.fuzz.strategies import Case

    case = Case(path.read_bytes(), path.suffix if path.suffix in (".json", ".yaml", ".yml")
                else ".yaml", origin)
    with tempfile.TemporaryDirectory(prefix="designkit-soak-") as tmp:
        outcome = exercise(case, Path(tmp), svg=True, report=True)
    if not outcome.failures:
        print("no failure")
        return 0
    distinct = {f.signature: f for f in outcome.failures}
    for signature, failure in distinct.items():
        small = minimize(case, signature, failure.command, minimize_seconds)
        print(describe(small, [failure]) + "\n")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None, help="default: random")
    parser.add_argument("--svg-every", type=int, default=5,
                        help="render SVG for every N-th input (default 5)")
    parser.add_argument("--report-every", type=int, default=10,
                        help="write a report for every N-th input (default 10)")
    parser.add_argument("--minimize-seconds", type=float, default=60.0,
                        help="time to minimize each distinct failure (0: do not)")
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "fuzz",
                        help="where reproducers are saved (default .cache/fuzz)")
    parser.add_argument("--replay", type=Path, help="minimize the failures of this file")
    parser.add_argument("--origin", default="valid/replay",
                        help="with --replay: how the file was made (default valid/replay)")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay, args.minimize_seconds, args.origin)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    return soak(args.minutes, seed, max(1, args.svg_every), max(1, args.report_every),
                args.out, args.minimize_seconds)


if __name__ == "__main__":
    sys.exit(main())
