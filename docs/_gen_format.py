"""Regenerate the key reference inside docs/design-format.md (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

from designkit.schema import format_reference

BEGIN = "<!-- BEGIN generated: designkit schema --format markdown -->"
END = "<!-- END generated -->"


def rendered(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{format_reference()}\n{END}{tail}"


if __name__ == "__main__":
    path = Path(__file__).with_name("design-format.md")
    path.write_text(rendered(path.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {path}\n")
