"""Read and write design files (YAML or JSON), safely and without losing anything.

Reading refuses what would surprise a user: YAML tags that construct Python objects
(nothing is run), duplicate keys (YAML would silently keep the last), a format version
newer than this designkit reads. Every problem is reported with its path in one
:class:`~designkit.errors.DesignError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import TypeAdapter, ValidationError

from designkit.errors import (
    DesignError,
    DesignkitError,
    Problem,
    UnsupportedVersionError,
)
from designkit.gcpause import gc_paused
from designkit.model.components import Component
from designkit.model.design import FORMAT_VERSION, Design, keep
from designkit.model.inputs import input_problems
from designkit.model.parsing import EXPONENT_FLOAT, parse_text, yaml12_resolvers
from designkit.model.problems import format_path, problems_from
from designkit.model.saga import Saga

__all__ = ["check_data", "checked_flow", "dump", "load", "load_once", "parse_text", "save",
           "source_dir"]

Format = Literal["yaml", "json"]


class DesignFileNotFoundError(DesignkitError, FileNotFoundError):
    """The design file named does not exist."""


def load(source: str | os.PathLike[str] | dict[str, Any]) -> Design:
    """Load and validate a design from a file path, YAML/JSON text, or parsed data.

    Args:
        source: A path (``str`` or ``Path``), the text of a design, or a dict.

    Returns:
        The validated design.

    Raises:
        DesignError: The design is invalid; ``err.problems`` lists every problem with
            its path (``UnsafeYAMLError`` and ``UnsupportedVersionError`` are kinds of it).
        FileNotFoundError: ``source`` names a file that does not exist.

    The design remembers that it passed (one dump of it, ~0.1 s at 10,000 components), so
    that checking it again unchanged — every ``dk.estimate`` does — skips the full check.

    Example:
        >>> import designkit as dk
        >>> d = dk.load('''
        ... designkit: 1
        ... name: tiny
        ... components:
        ...   api: {kind: service, replicas: 2}
        ... ''')
        >>> d.components["api"].replicas
        2
    """
    design = load_once(source)
    with gc_paused():
        design._passed()
        built = design.__dict__.pop(_BUILT, None)
        if built is not None:
            keep(design, built)  # the flow the checks built: the estimate starts from it
    return design


def load_once(source: str | os.PathLike[str] | dict[str, Any]) -> Design:
    """:func:`load`, for a design that is checked once and not again (the command line):
    it does not remember that it passed.

    Example:
        >>> load_once({"designkit": 1, "name": "x"}).name
        'x'
    """
    with gc_paused():
        design, problems, label = _load(source)
    if problems or design is None:
        kind = UnsupportedVersionError if any(p.path == "designkit" and "format" in p.message
                                              for p in problems) else DesignError
        raise kind(problems, source=label)
    if label is not None:
        design.__dict__[_SOURCE] = Path(label)
    return design


_SOURCE = "_designkit_source"  # the file a design was loaded from (not a field: see _PASSED)


def source_dir(design: Design) -> Path:
    """The folder the design's file is in (paths in the design are relative to it); the
    working folder for a design built in code or loaded from text.

    Example:
        >>> source_dir(load_once({"designkit": 1, "name": "x"})) == Path(".")
        True
    """
    found = design.__dict__.get(_SOURCE)
    return found.parent if isinstance(found, Path) else Path(".")


def _load(source: str | os.PathLike[str] | dict[str, Any],
          ) -> tuple[Design | None, list[Problem], str | None]:
    """:func:`check_data` of the source, and its label; the text and data are freed on
    return (while the collector is still paused, so it never walks them)."""
    if isinstance(source, dict):
        data, label = source, None
    else:
        text, label = _read(source)
        data = parse_text(text, label)
    design, problems = check_data(data)
    return design, problems, label


def dump(design: Design, format: Format = "yaml") -> str:
    """The design as YAML or JSON text; ``load(dump(d)) == d``.

    Only values that differ from the defaults are written, keys in the order of the
    format's documentation, no YAML anchors or aliases.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="tiny"); _ = d.cache("sessions", hit_ratio=0.98)
        >>> print(dk.dump(d), end="")
        designkit: 1
        name: tiny
        components:
          sessions: {kind: cache, hit_ratio: 0.98}
    """
    data = to_data(design)
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if format == "yaml":
        return yaml.dump(_Document(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         width=100)
    raise ValueError(f"format must be 'yaml' or 'json', got {format!r}")


def save(design: Design, path: str | os.PathLike[str]) -> Path:
    """Write the design to ``path``, as JSON when it ends in ``.json``, else YAML.

    Example:
        >>> import designkit as dk, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "tiny.yaml"
        >>> dk.save(dk.Design(name="tiny"), out).read_text()
        'designkit: 1\\nname: tiny\\n'
    """
    target = Path(path)
    target.write_text(dump(design, "json" if target.suffix == ".json" else "yaml"),
                      encoding="utf-8")
    return target


def to_data(design: Design) -> dict[str, Any]:
    """The design as plain data: non-default values only, version first."""
    data = design.model_dump(mode="json", exclude_defaults=True, round_trip=True)
    data.pop("designkit", None)
    tidy: dict[str, Any] = _tidy({"designkit": design.designkit, **data})
    if design.uncertain:
        from designkit.model.uncertain import restore

        restore(tidy, design.uncertain)
    return tidy


def _tidy(value: Any) -> Any:
    """Whole floats written as integers (``10000`` rather than ``10000.0``)."""
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


# -- reading -----------------------------------------------------------------------------

def _read(source: str | os.PathLike[str]) -> tuple[str, str | None]:
    if isinstance(source, os.PathLike) or ("\n" not in source and _looks_like_path(source)):
        path = Path(source)
        if path.is_dir():
            raise DesignFileNotFoundError(f"{path} is a folder; name a design file in it")
        if not path.exists():
            raise DesignFileNotFoundError(
                f"{path}: no such design file; create one with "
                f"`designkit new {path} --template flash-sale`")
        try:
            return path.read_text(encoding="utf-8-sig"), str(path)
        except PermissionError:
            raise DesignFileNotFoundError(f"{path}: not allowed to read it") from None
        except UnicodeDecodeError as err:
            raise DesignError([Problem("", f"not UTF-8 text ({err.reason} at byte "
                                           f"{err.start})")], source=str(path)) from None
    return source, None


def _looks_like_path(text: str) -> bool:
    if text.lstrip().startswith("{"):
        return False
    try:
        return Path(text).suffix.lower() in (".yaml", ".yml", ".json") or Path(text).is_file()
    except (OSError, ValueError):  # not a name a file system takes: text, then
        return False


# -- validating --------------------------------------------------------------------------

def check_data(data: Any, source: Design | None = None) -> tuple[Design | None, list[Problem]]:
    """Validate parsed design data: structure, version, then every reference.

    When some parts are invalid, the others are still checked for broken references, so
    one run reports every problem it can. ``source``: the design ``data`` is the dump of
    (:meth:`Design.validate`): its references are checked on it, so that the flow built
    for that is its own (its sites name its endpoints and steps) and can be kept for it.

    Returns:
        ``(design, [])`` when valid, else ``(None, problems)``.
    """
    if data is None:
        return None, [Problem("", "the design is empty; start from a template: "
                                  "`designkit new design.yaml --template flash-sale`")]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        return None, [Problem("", f"a design is a mapping with keys designkit, name, "
                                  f"components, …; this file holds {kind}")]
    version = data.get("designkit")
    if version is None:
        return None, [Problem("designkit", "is required: start the file with `designkit: 1` "
                                           "(the format version)")]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return None, [Problem("designkit", f"the format version is a whole number, got "
                                           f"{version!r}; write `designkit: {FORMAT_VERSION}`")]
    if version > FORMAT_VERSION:
        from designkit._version import __version__

        return None, [Problem("designkit", f"this design uses format {version}; designkit "
                              f"{__version__} reads format {FORMAT_VERSION}: upgrade with "
                              "`pip install -U designkit`")]
    with gc_paused():
        problems = input_problems(data)
        if problems:
            return None, problems
        try:
            design = Design.model_validate(data)
        except ValidationError as err:
            problems = problems_from(err, data, Design)
            partial, broken = _valid_parts(data)
            return None, problems + _references(partial, known=broken)
        problems = _references(design) if source is None else _own_references(source, design)
    return (None, problems) if problems else (design, [])


def _own_references(source: Design, checked: Design) -> list[Problem]:
    """The references of ``source``, checked on itself (so that the flow built is its own:
    its sites name its endpoints and steps), or on ``checked`` — the parse of its dump —
    when ``source`` holds parts put in place without being read (a dict appended to a list
    of steps: only the parse of its dump has them as steps)."""
    try:
        return _references(source)
    except (AttributeError, TypeError, KeyError, ValueError, AssertionError):
        source.__dict__.pop(_BUILT, None)
        return _raw_parts(source) or _references(checked)


def _raw_parts(design: Design) -> list[Problem]:
    """Where ``design`` holds plain data in place of a part (a mapping appended to a list
    of steps, set as an endpoint): its dump reads the same, so only the design itself shows
    it — and the estimator reads the design itself.

    Example:
        >>> import designkit as dk
        >>> d = dk.Design(name="x")
        >>> d.service("api").endpoint("GET /a").steps.append({"call": "db"})
        >>> [str(p) for p in _raw_parts(d)][0].split(":")[0]
        'components.api.endpoints."GET /a".steps[0]'
    """
    from pydantic import BaseModel

    found: list[Problem] = []

    def visit(model: BaseModel, path: tuple[str | int, ...]) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name, None)
            parts = _holds_parts(field.annotation)
            items = (value.items() if isinstance(value, dict)
                     else enumerate(value) if isinstance(value, list)
                     else [(None, value)])
            for key, item in items:
                where = (*path, name) if key is None else (*path, name, key)
                if isinstance(item, BaseModel):
                    visit(item, where)
                elif parts and isinstance(item, dict):
                    found.append(Problem(format_path(where), "plain data put here in place "
                                         "of a part is not read: add it with the builder "
                                         "(e.g. endpoint.call(...)), as a model, or load the "
                                         "design from its text (dk.load)"))

    visit(design, ())
    return found


def _holds_parts(annotation: Any) -> bool:
    """Whether a field's type holds designkit parts (models), at any depth."""
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_parts(arg) for arg in get_args(annotation))


_BUILT = "_designkit_built"


def checked_flow(design: Design) -> object | None:
    """The flow the checks built while :func:`load_once` read ``design`` (the command
    line estimates a design it has just read, unchanged: it starts from that flow)."""
    return design.__dict__.get(_BUILT)


def _references(design: Design, known: Iterable[str] = ()) -> list[Problem]:
    """The design's broken references, found by building its flow (the one walk over its
    steps; an allowed upward import, see decision 32)."""
    from designkit.flow.build import build

    flow = build(design, known=known)
    if not flow.problems and not known:
        design.__dict__[_BUILT] = flow  # for load() to keep once the design has passed
    return list(flow.problems)


def _valid_parts(data: dict[str, Any]) -> tuple[Design, set[str]]:
    """The parts of invalid data that validate on their own, and the names that do not.

    A service or database that fails is kept with those of its endpoints or tables that
    pass, so references inside and to them are still checked.
    """
    components: dict[str, Any] = {}
    broken: set[str] = set()
    adapter: TypeAdapter[Any] = TypeAdapter(Component)
    for name, raw in _mapping(data.get("components")).items():
        try:
            components[name] = adapter.validate_python(raw)
        except ValidationError:
            partial = _partial_component(name, raw, broken)
            if partial is None:
                broken.add(name)
            else:
                components[name] = partial
    sagas = {}
    for name, raw in _mapping(data.get("sagas")).items():
        with contextlib.suppress(ValidationError):
            sagas[name] = Saga.model_validate(raw)
    workload = {k: v for k, v in _mapping(data.get("workload")).items()
                if isinstance(v, int | float) and not isinstance(v, bool)}
    partial = Design.model_construct(name=str(data.get("name") or "?"), components=components,
                                     sagas=sagas, workload=workload)
    return partial, broken


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _partial_component(name: str, raw: Any, broken: set[str]) -> Any:
    """A service or database holding only its children that validate, else ``None``."""
    from designkit.model.database import Database, Table
    from designkit.model.refs import endpoint_key
    from designkit.model.service import Endpoint, Service

    if not isinstance(raw, dict):
        return None
    model: type[Service] | type[Database]
    child: type[Endpoint] | type[Table]
    if raw.get("kind") == "service":
        model, field, child = Service, "endpoints", Endpoint
    elif raw.get("kind") == "database":
        model, field, child = Database, "tables", Table
    else:
        return None
    children: dict[str, Any] = {}
    for key, value in _mapping(raw.get(field)).items():
        try:
            children[key] = child.model_validate(value)
        except ValidationError:
            broken.add(f"{name} {endpoint_key(key)}" if field == "endpoints" else name)
    fields: dict[str, Any] = {"kind": raw["kind"], field: children}
    return model.model_construct(**fields)


# -- writing -----------------------------------------------------------------------------

class _Document(dict[str, Any]):
    """The top-level mapping: always written in block style."""


class _Dumper(yaml.SafeDumper):
    """Readable YAML: no aliases; short scalar lists and small mappings on one line."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flow_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_scalar(v) for v in value) and len(json.dumps(value)) <= 60
    if isinstance(value, dict):
        return (all(_is_scalar(v) or (isinstance(v, list) and _flow_ok(v))
                    for v in value.values())
                and len(value) <= 6 and len(json.dumps(value)) <= 70
                and all(_PLAIN_KEY.match(str(k)) for k in value)
                and not any(isinstance(v, str) and "\n" in v for v in value.values()))
    return False


def _represent_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(),
                                    flow_style=_flow_ok(value) or None)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value,
                                     flow_style=_flow_ok(value) or None)


_NEEDS_ESCAPES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if _NEEDS_ESCAPES.search(value):  # line separators and control characters: escaped
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", EXPONENT_FLOAT,  # quote "1e3"
                              list("-+0123456789"))
for _first, _entries in yaml12_resolvers().items():  # quote what designkit reads as a number
    for _tag, _pattern in _entries:
        _Dumper.add_implicit_resolver(_tag, _pattern, [_first])
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(
    _Document, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), False))
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)
