"""DK-DB-005 decided: with the design's previous version and its migration scripts, every
schema change since must be made by a script (read with sqlglot)."""

from __future__ import annotations

from pathlib import Path

import designkit as dk
from designkit.assess.finding import Finding


def _setup(tmp_path: Path, *scripts: tuple[str, str]) -> Path:
    (tmp_path / "v1.yaml").write_text(dk.template_text("dashboard-slow"), encoding="utf-8")
    fixed = dk.template("dashboard-fixed")
    fixed.previous = "v1.yaml"
    fixed.components["app-db"].migrations = "migrations"  # type: ignore[union-attr]
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, sql in scripts:
        (folder / name).write_text(sql, encoding="utf-8")
    path = tmp_path / "v2.yaml"
    dk.save(fixed, path)
    return path


def _db005(path: Path) -> Finding:
    [found] = [f for f in dk.assess(dk.load(path)).findings if f.rule == "DK-DB-005"]
    return found


ORDER = "CREATE INDEX CONCURRENTLY payments_order ON payments (order_id);\n"
MERCHANT = ("CREATE INDEX CONCURRENTLY payments_merchant_created ON payments "
            "(merchant_id, created_at);\n")


def test_every_change_made_by_a_script_passes(tmp_path: Path) -> None:
    found = _db005(_setup(tmp_path, ("0001_order.sql", ORDER), ("0002_merchant.sql", MERCHANT)))
    assert found.status.value == "pass"
    assert found.message == ("app-db: 2 schema change(s) since v1.yaml, each made by a "
                             "migration script")


def test_a_change_no_script_makes_fails_with_its_ddl(tmp_path: Path) -> None:
    found = _db005(_setup(tmp_path, ("0001_order.sql", ORDER)))
    assert found.status.value == "fail"
    assert found.message == (
        "app-db: 2 schema change(s) since v1.yaml; no script does CREATE INDEX CONCURRENTLY "
        "payments_merchant_created ON payments (merchant_id, created_at)")
    assert found.evidence["missing"] == [MERCHANT.strip().rstrip(";")]


def test_a_script_that_is_not_sql_is_named(tmp_path: Path) -> None:
    found = _db005(_setup(tmp_path, ("0001_order.sql", ORDER),
                          ("0002_broken.sql", "CREATE INDEX ON ON (;")))
    assert found.status.value == "fail"
    assert "0002_broken.sql: not postgres SQL" in found.message


def test_no_migrations_stated_fails_and_a_missing_previous_needs_data(tmp_path: Path) -> None:
    path = _setup(tmp_path)
    design = dk.load(path)
    design.components["app-db"].migrations = None  # type: ignore[union-attr]
    dk.save(design, path)
    found = _db005(path)
    assert found.status.value == "fail" and "no migrations: stated" in found.message
    (tmp_path / "v1.yaml").unlink()
    found = _db005(path)
    assert found.status.value == "needs-data" and "v1.yaml" in found.message


def test_without_a_previous_version_it_asks_for_an_attestation() -> None:
    [found] = [f for f in dk.assess(dk.template("dashboard-fixed")).findings
               if f.rule == "DK-DB-005"]
    assert found.status.value == "needs-attestation"
    assert "set previous:" in found.message


def test_an_unchanged_schema_passes(tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text(dk.template_text("dashboard-fixed"), encoding="utf-8")
    same = dk.template("dashboard-fixed")
    same.previous = "v1.yaml"
    dk.save(same, tmp_path / "v2.yaml")
    found = _db005(tmp_path / "v2.yaml")
    assert (found.status.value, found.message) == ("pass", "app-db: no schema change since "
                                                           "v1.yaml")
