"""The ``designkit`` command: exit codes 0 / 2, problems without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import designkit as dk
from designkit.cli import cli, main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_a_template_prints_its_summary() -> None:
    code, out, _ = run("validate", str(ROOT / "templates" / "flash-sale.yaml"))
    assert code == 0
    assert out.splitlines()[0].endswith("flash-sale.yaml: ok")
    assert out.splitlines()[1].startswith("design 'flash-sale': ")


def test_validate_a_typo_exits_2_with_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("designkit: 1\nname: x\ncomponents:\n  api: {kind: service, replicaz: 2}\n")
    code, out, err = run("validate", str(bad))
    assert (code, out) == (2, "")
    assert err == (f"{bad}: 1 problem\n"
                   "  components.api.replicaz: unknown key 'replicaz' (did you mean "
                   "'replicas'?)\n")


def test_validate_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such design file" in err and "Traceback" not in err


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("designkit: 1\nname: !!python/object/apply:os.system [ls]\n")
    proc = subprocess.run([sys.executable, "-m", "designkit.cli", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "would construct an object" in proc.stderr


def test_schema_is_json(tmp_path: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out) == dk.json_schema()
    target = tmp_path / "design.schema.json"
    assert run("schema", "-o", str(target))[0] == 0
    assert json.loads(target.read_text()) == dk.json_schema()


def test_templates_lists_names_and_descriptions() -> None:
    code, out, _ = run("templates")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(dk.templates())


@pytest.mark.parametrize("name", list(dk.templates()))
def test_new_writes_a_valid_design_named_after_the_file(tmp_path: Path, name: str) -> None:
    target = tmp_path / "my-shop.yaml"
    code, out, _ = run("new", str(target), "--template", name)
    assert code == 0, out
    design = dk.load(target)
    assert design.name == "my-shop"
    assert design.components == dk.template(name).components
    assert target.read_text().startswith("#"), "the template's comments are kept"


def test_new_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "d.yaml"
    target.write_text("keep me")
    code, _, err = run("new", str(target))
    assert code == 2 and "--force" in err
    assert target.read_text() == "keep me"


def test_new_with_unknown_template_exits_2(tmp_path: Path) -> None:
    code, _, err = run("new", str(tmp_path / "d.yaml"), "--template", "flash-sail")
    assert code == 2
    assert "did you mean 'flash-sale'?" in err


def test_unknown_command_exits_2() -> None:
    assert run("validat")[0] == 2


def test_main_returns_the_exit_code(tmp_path: Path) -> None:
    assert main(["--version"]) == 0
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2


LOWERCASE = """\
designkit: 1
name: low
components:
  api:
    kind: service
    endpoints:
      get /items:
        cpu_ms: 2
        steps:
          - call: app-db
            query: {table: items, kind: select, where: [id]}
  app-db:
    kind: database
    tables:
      items: {rows: 1000, columns: {id: {type: int, primary_key: true}}}
workload:
  api get /items: 10
"""


def test_a_lowercase_method_validates_estimates_and_is_reviewed_under_one_spelling(
        tmp_path: Path) -> None:
    """``get /items`` and ``api get /items`` name the endpoint ``api GET /items`` in the
    estimate, and every finding about it names it ``"GET /items"``."""
    path = tmp_path / "low.yaml"
    path.write_text(LOWERCASE)
    assert run("validate", str(path))[0] == 0
    code, out, err = run("estimate", str(path), "--format", "json")
    assert (code, err) == (0, "")
    endpoint = json.loads(out)["endpoints"]["api GET /items"]
    assert endpoint["rps"] == 10 and endpoint["mean_ms"] > 2
    code, out, err = run("assess", str(path), "--format", "json")
    assert code == 0 and "Traceback" not in err
    subjects = [f["subject"] for f in json.loads(out)["findings"]
                if ".endpoints." in f["subject"]]
    assert subjects and all('endpoints."GET /items"' in s for s in subjects), subjects
