"""The command line's promise: exit 0 ok, 1 findings (assess --fail-on only), 2 bad input or
a refused write, 3 an internal error — one line each, never a traceback; files written only
where asked, never through a link, never over a file without --force."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import designkit as dk
from designkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
FLASH = str(ROOT / "templates" / "flash-sale.yaml")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_an_internal_error_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from designkit.estimate import api

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(api, "estimate_with", broken)
    code, _, err = run(capsys, "estimate", FLASH)
    assert code == 3
    assert err.startswith("internal error: ZeroDivisionError: float division by zero — this "
                          "is a bug in designkit ")
    assert len(err.strip().splitlines()) == 1


def test_fail_on_is_the_only_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    slow = str(ROOT / "templates" / "dashboard-slow.yaml")
    assert run(capsys, "assess", slow)[0] == 0
    assert run(capsys, "assess", slow, "--fail-on", "high")[0] == 1


@pytest.mark.parametrize("scale", ["nan", "inf", "1e308", "-1", "0"])
def test_a_scale_that_is_not_a_load_is_exit_2(capsys: pytest.CaptureFixture[str],
                                              scale: str) -> None:
    code, _, err = run(capsys, "estimate", FLASH, "--scale", scale)
    assert code == 2
    assert "must be a number above 0 and at most 1,000,000" in err


def test_validate_dev_null_says_it_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", os.devnull)
    assert code == 2
    assert "the design is empty" in err


def test_a_folder_is_not_a_design_file(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 2 and "is a directory" in err
    with pytest.raises(dk.DesignkitError, match="is a folder; name a design file in it"):
        dk.load(tmp_path)


# -- writing -----------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_exit_2_naming_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "render", FLASH, "--format", "dot", "-o", "/dev/full")
    assert (code, err.strip()) == (
        2, "error: could not write /dev/full: No space left on device (free some space)")


def test_a_report_folder_under_a_file_is_exit_2(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    code, _, err = run(capsys, "report", FLASH, "-o", str(tmp_path / "a-file" / "report"))
    assert code == 2
    assert err.startswith(f"error: could not write {tmp_path / 'a-file'}")


def test_a_name_too_long_for_a_file_name_is_exit_2(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    design = tmp_path / "long.yaml"
    dk.save(dk.Design(name="é" * 200), design)  # 400 bytes: the report shortens it
    assert run(capsys, "report", str(design), "-o", str(tmp_path / "out"))[0] == 0
    code, _, err = run(capsys, "report", str(design), "-o", str(tmp_path / ("x" * 300)))
    assert code == 2
    assert "File name too long" in err


def test_render_does_not_overwrite_without_force(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    out = tmp_path / "arch.dot"
    out.write_text("mine")
    code, _, err = run(capsys, "render", FLASH, "--format", "dot", "-o", str(out))
    assert (code, err.strip(), out.read_text()) == (
        2, f"error: {out} exists; pass --force to overwrite it", "mine")
    assert run(capsys, "render", FLASH, "--format", "dot", "-o", str(out), "--force")[0] == 0
    assert out.read_text().startswith("digraph")


def test_render_never_writes_through_a_link(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "arch.dot"
    link.symlink_to(target)
    code, _, err = run(capsys, "render", FLASH, "--format", "dot", "-o", str(link))
    assert code == 2 and "is a symbolic link" in err
    assert run(capsys, "render", FLASH, "--format", "dot", "-o", str(link), "--force")[0] == 0
    assert target.read_text() == "keep me"  # the link was replaced, its target left alone
    assert not link.is_symlink() and link.read_text().startswith("digraph")


def test_new_onto_a_dangling_link_needs_force(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    link = tmp_path / "design.yaml"
    link.symlink_to(tmp_path / "elsewhere.yaml")
    assert run(capsys, "new", str(link))[0] == 2
    assert not (tmp_path / "elsewhere.yaml").exists()
    assert run(capsys, "new", str(link), "--force")[0] == 0
    assert not (tmp_path / "elsewhere.yaml").exists() and not link.is_symlink()


@pytest.mark.parametrize("name", ["../../etc/passwd", str(ROOT / "README.md"), "flash-sale/"])
def test_new_takes_template_names_from_the_catalogue_only(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    out = tmp_path / "design.yaml"
    code, _, err = run(capsys, "new", str(out), "--template", name)
    assert code == 2 and f"no template named {name!r}" in err
    assert not out.exists()


def test_new_does_not_overwrite_without_force(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    out = tmp_path / "design.yaml"
    out.write_text("mine")
    assert run(capsys, "new", str(out))[0] == 2
    assert out.read_text() == "mine"


def test_a_design_too_large_to_lay_out_is_refused_with_views_to_draw(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    design = dk.Design(name="wide")
    for i in range(1_001):
        design.cache(f"c{i}", zone="edge" if i < 3 else "core")
    path = tmp_path / "wide.yaml"
    dk.save(design, path)
    code, out, err = run(capsys, "render", str(path), "--format", "svg")
    assert (code, out) == (2, "")
    assert "1,001 components, more than the 1,000" in err and "--only" in err
    assert run(capsys, "report", str(path), "-o", str(tmp_path / "r"))[0] == 2
    code, out, _ = run(capsys, "render", str(path), "--format", "dot", "--only", "zone:edge")
    assert code == 0
    assert re.findall(r"<B>(c\d+)</B>", out) == ["c0", "c1", "c2"]
    assert run(capsys, "render", str(path), "--format", "mermaid")[0] == 0  # no layout


def test_a_rule_that_breaks_is_an_internal_error_not_bad_input(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from designkit.assess import engine

    def broken(*args: object, **kwargs: object) -> object:
        raise dk.errors.RuleFailedError("rule DK-X-001 (x) failed: KeyError: 'a'")

    monkeypatch.setattr(engine, "assess", broken)
    code, _, err = run(capsys, "assess", FLASH)
    assert code == 3
    assert err.startswith("internal error: rule DK-X-001 (x) failed: KeyError: 'a' — this is "
                          "a bug in the rule")


def test_a_lock_held_for_no_time_is_reviewed(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    design = dk.Design(name="lock")
    design.lock("l")
    design.service("api").endpoint("GET /a").lock("l")
    design.set_load("api GET /a", 10)
    path = tmp_path / "lock.yaml"
    dk.save(design, path)
    code, out, _ = run(capsys, "assess", str(path), "--format", "json")
    assert code == 0
    [lock] = [f for f in json.loads(out)["findings"] if f["rule"] == "DK-RES-006"]
    assert lock["status"] == "pass" and lock["message"].startswith("l held 0 ms at 10/s")


def test_long_design_and_saga_names_give_file_names_that_fit(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text("designkit: 1\nname: " + "x" * 100 + "\nsagas:\n  " + "y" * 150
                    + ":\n    steps: []\n")
    assert run(capsys, "report", str(path), "-o", str(tmp_path / "out"))[0] == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert max(len(n.encode()) for n in names) <= 255
    assert any("-saga-yyy" in n for n in names)


def test_a_view_shows_the_numbers_of_the_whole_design(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    saga = str(ROOT / "templates" / "payments-saga.yaml")
    code, out, _ = run(capsys, "render", saga, "--format", "dot", "--only", "payment-provider")
    assert code == 0
    whole = dk.estimate(dk.template("payments-saga"))
    rps = whole.station("payment-provider concurrency").arrival_rps
    assert f"· {rps:,.0f}/s" in out  # the provider's traffic from every caller, not 1/s
