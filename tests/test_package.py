"""The package surface: a light import and an ``__all__`` that matches the public names."""

from __future__ import annotations

import subprocess
import sys

import designkit as dk

HEAVY = ("matplotlib", "graphviz", "ipywidgets", "simpy", "IPython", "scipy")


def test_import_is_light() -> None:
    code = ("import sys, designkit; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(dk) if not n.startswith("_")} - {
        "annotations", "errors", "gcpause", "model", "schema", "templates", "cli", "render",
        "widgets", "safe_write", "text", "flow", "maths", "imports", "migration", "verify",
        "cli_import_openapi", "cli_import_schema", "calibration", "cli_calibrate", "measure"}
    public |= {"__version__", "templates"}
    assert set(dk.__all__) == public


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    missing = [name for name in dk.__all__ if not name.isupper() and name != "__version__"
               and ">>>" not in (getattr(dk, name).__doc__ or "")]
    assert missing == []
