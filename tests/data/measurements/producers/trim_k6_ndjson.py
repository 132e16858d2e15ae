"""Trim k6's ``--out json`` file to the head that fits in under 190 KB, cut at the end of
an iteration (after an ``iterations`` point), lines unchanged.

Usage: python trim_k6_ndjson.py K6OUT.json OUT.json
"""

from __future__ import annotations

import json
import sys

LIMIT = 190_000


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    kept: list[str] = []
    size = cut = 0
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            if size + len(line.encode()) > LIMIT:
                break
            kept.append(line)
            size += len(line.encode())
            record = json.loads(line)
            if record["type"] == "Point" and record["metric"] == "iterations":
                cut = len(kept)
    with open(target, "w", encoding="utf-8") as handle:
        handle.writelines(kept[:cut])
    print(f"kept {cut} lines of {source}")


if __name__ == "__main__":
    main()
