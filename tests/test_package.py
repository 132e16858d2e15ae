"""The package surface: a light import, lazily loaded public names that are the objects of
their home modules, and an ``__all__`` that matches the public names."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import designkit as dk

HEAVY = ("matplotlib", "graphviz", "ipywidgets", "simpy", "IPython", "scipy")

# Imported on first use only: the estimator, the flow walker, the rules, YAML loading.
LAZY = ("yaml", "designkit.estimate.api", "designkit.estimate.solve",
        "designkit.assess.engine", "designkit.assess.catalogue", "designkit.assess.rules",
        "designkit.flow.build", "designkit.calibration.api", "designkit.measure.read",
        "designkit.model.io", "designkit.widgets")

# The packages whose re-exports are lazy, each with its own table of homes.
LAZY_PACKAGES = ("designkit", "designkit.model", "designkit.estimate", "designkit.assess")


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are imported (as modules or packages) in a fresh process after
    running ``code``."""
    probe = (f"{code}; import sys; "
             f"print(' '.join(n for n in {names!r} "
             "if any(m == n or m.startswith(n + '.') for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out.split()


def test_import_is_light() -> None:
    assert _loaded_after("import designkit", HEAVY) == []


def test_import_does_not_load_numpy() -> None:
    """numpy alone takes half of the 0.25 s that ``import designkit`` may take."""
    assert _loaded_after("import designkit", ("numpy",)) == []


def test_import_does_not_load_the_estimator_or_the_rules_until_used() -> None:
    assert _loaded_after("import designkit", LAZY) == []
    used = _loaded_after("import designkit as dk; dk.estimate", LAZY)
    assert "designkit.estimate.solve" in used and "designkit.assess.rules" not in used


def test_writing_a_rule_does_not_load_the_engine_or_the_estimator() -> None:
    loaded = _loaded_after("from designkit.assess import rule, Severity",
                           ("designkit.assess.engine", "designkit.flow.build",
                            "designkit.estimate"))
    assert loaded == []


def test_all_lists_exactly_the_public_names() -> None:
    helpers = {"annotations", "importlib", "sys", "types", "Any", "TYPE_CHECKING"}
    public = {n for n in dir(dk) if not n.startswith("_")
              and not isinstance(getattr(dk, n), types.ModuleType)} - helpers
    assert set(dk.__all__) == public | {"__version__"}
    assert dk.__all__ == sorted(dk.__all__)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_names_are_the_objects_of_their_home_modules(package: str) -> None:
    module = sys.modules[package] if package in sys.modules else importlib.import_module(
        package)
    homes: dict[str, str] = module._HOMES
    assert set(homes) <= set(module.__all__) <= set(homes) | {"__version__"}
    for name, home in homes.items():
        value = getattr(module, name)
        assert value is getattr(importlib.import_module(home), name), name
        assert name in dir(module)
        if isinstance(value, (type, types.FunctionType)):
            assert value.__module__ == home, name


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_type_checkers_see_every_lazy_name(package: str) -> None:
    """Each name in a package's table of homes is also imported, from the same module, in
    its ``if TYPE_CHECKING:`` block (as ``from home import name as name``), and no other."""
    module = sys.modules[package]
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    typed = {alias.name: node.module for node in block.body
             if isinstance(node, ast.ImportFrom) for alias in node.names
             if alias.asname == alias.name}
    assert typed == module._HOMES


def test_subpackages_do_not_hide_functions_of_the_same_name() -> None:
    """``designkit.estimate`` (the package) and ``estimate`` (the function), and the like:
    the function wins whichever is imported first, as it did when everything was eager."""
    code = ("import designkit.estimate.simulate, designkit.estimate.growth, "
            "designkit.estimate.transient, designkit.assess.rule, designkit.diff, "
            "designkit.templates; import designkit as dk; "
            "from designkit.estimate import simulate, growth, transient; "
            "from designkit.assess import rule; "
            "print(all(callable(f) and not isinstance(f, type(dk)) for f in "
            "(dk.estimate, dk.assess, dk.diff, dk.templates, dk.simulate, simulate, growth, "
            "transient, rule)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "True"


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_a_name_shared_with_a_submodule_is_guarded(package: str) -> None:
    """A lazily loaded name that is also a submodule's (``designkit.estimate.growth``) needs
    the package's ``_Package`` module class, or importing the submodule would hide it."""
    module = sys.modules[package]
    folder = Path(module.__file__ or "").parent
    shared = {name for name in module._HOMES
              if (folder / f"{name}.py").exists() or (folder / name / "__init__.py").exists()}
    assert not shared or type(module).__name__ == "_Package", shared


def test_deferred_validators_build_once_for_threads_using_them_first() -> None:
    """Model classes build their validators on first use: threads that use one first at once
    all get its own validation (an unknown key refused, a valid part accepted)."""
    code = """
import threading
import designkit as dk
from pydantic import ValidationError
results = []
def use() -> None:
    try:
        dk.Service.model_validate({"kind": "service", "replicaz": 1})
        results.append("accepted")
    except ValidationError as err:
        results.append(err.errors()[0]["type"])
    results.append(dk.Endpoint.model_validate({"cpu_ms": 2}).cpu_ms.mean)
threads = [threading.Thread(target=use) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(set(map(str, results))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "['2.0', 'extra_forbidden']"


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from designkit import *", namespace)
    assert set(dk.__all__) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'estimat'"):
        dk.estimat  # type: ignore[attr-defined]  # noqa: B018


def test_every_design_displays_in_jupyter() -> None:
    assert "_repr_mimebundle_" in vars(dk.Design)


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    missing = [name for name in dk.__all__ if not name.isupper() and name != "__version__"
               and ">>>" not in (getattr(dk, name).__doc__ or "")]
    assert missing == []
