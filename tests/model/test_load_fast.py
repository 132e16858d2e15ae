"""The one-pass YAML reader gives exactly what PyYAML's constructor gives, or its errors.

``parse_text`` builds the data of plain YAML in one pass (``parsing._plain_data``) and leaves
anything unusual — merge keys, ``!!set``, unsafe tags, duplicate keys — to the careful way
(``parsing._constructed``: every node checked, then PyYAML's constructor). Each test compares the
two, with types (``1``, ``1.0`` and ``True`` are equal in Python but not here) and with the
sharing of aliased nodes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import designkit as dk
from designkit.model import parsing

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").glob("*.yaml"))


def careful(text: str) -> Any:
    """What ``parse_text`` gave before it had a fast path."""
    loader = parsing._Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as err:
            raise dk.DesignError([parsing._syntax_problem(err)]) from None
        return None if root is None else parsing._constructed(root, loader, None)
    finally:
        loader.dispose()


def fast(text: str) -> Any:
    """The one-pass reader alone (raises ``parsing._Unusual`` where it defers)."""
    loader = parsing._Loader(text)
    try:
        return parsing._plain_data(loader.get_single_node(), loader, aliases="&" in text)
    finally:
        loader.dispose()


def same(a: Any, b: Any, pairs: dict[int, Any] | None = None) -> bool:
    """Equal values of the same types, sharing (aliases) the same way."""
    pairs = {} if pairs is None else pairs
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        if id(a) in pairs:
            return pairs[id(a)] is b
        pairs[id(a)] = b
        if isinstance(a, dict):
            return ([(type(k), k) for k in a] == [(type(k), k) for k in b]
                    and all(same(a[k], b[k], pairs) for k in a))
        return len(a) == len(b) and all(same(x, y, pairs) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


def outcome(parse: Any, text: str) -> tuple[Any, ...]:
    try:
        return ("data", parse(text))
    except Exception as err:  # compared below: the same error, message and problems
        return ("error", type(err), str(err), [str(p) for p in getattr(err, "problems", [])])


def assert_same_as_careful(text: str) -> None:
    new, old = outcome(parsing.parse_text, text), outcome(careful, text)
    if new[0] == old[0] == "data":
        assert same(new[1], old[1]), (new, old)
    else:
        assert new == old


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_templates_read_as_pyyaml_reads_them(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = fast(text)  # no fallback for a template
    assert same(data, yaml.load(text, Loader=yaml.SafeLoader))
    assert same(parsing.parse_text(text), data)


PLAIN = {
    "anchors": "a: &x {k: [1, 2]}\nb: *x\nc: [*x, &y 3, *y]\n",
    "timestamps": "t: 2001-12-14t21:59:43.10-05:00\nd: 2002-12-14\ns: 2001-12-14 21:59:43.10\n"
                  "z: 2001-12-15T02:59:43.1Z\n",
    "ints": "o: 0o17\np: 017\nq: 0x1F\nr: 0b101\ns: 1_000\nt: 190:20:30\nu: -0\nv: +12\n",
    "floats": "a: 1.5\nb: .5\nc: 1.0e+3\nd: .inf\ne: -.Inf\nf: .nan\ng: 1_000.5\nh: 6.8e+5\n",
    "bools": "y: yes\nn: no\non: on\noff: OFF\nt: True\nf: false\nY: Y\n",
    "nulls": "a: ~\nb: null\nc: Null\nd:\ne: ''\n",
    "explicit tags": "a: !!str 1\nb: !!int '3'\nc: !!float '2'\nd: !!bool yes\ne: !!null ''\n"
                     "f: !!binary aGVsbG8=\ng: ! 12\nh: !<tag:yaml.org,2002:str> 12\n",
    "keys that are not text": "1: a\ntrue: b\n~: c\n2.5: d\n2002-12-14: e\n",
    "keys equal once built": "1: a\n0x1: b\n1.0: c\n",
    "styles": "a: 'x'\nb: \"y\\ttab\"\nc: |\n  z\n  w\nd: >\n  folded\n  text\ne: R&D\nf: x*y\n",
    "scalar document": "hello\n",
    "list document": "- 1\n- two\n- [3, {four: 4}]\n",
    "deep": "a:\n" + "".join("  " * i + "- \n" for i in range(1, 40)),
}


@pytest.mark.parametrize("text", PLAIN.values(), ids=PLAIN.keys())
def test_plain_yaml_is_read_in_one_pass_as_pyyaml_reads_it(text: str) -> None:
    assert same(fast(text), careful(text))
    assert same(parsing.parse_text(text), careful(text))


def test_scalars_read_as_yaml_1_2() -> None:
    data = parsing.parse_text("a: 1e-7\nb: '1e-7'\nc: 1E3\nd: 0o17\ne: 017\nf: yes\ng: no\nh: ~\n"
                         "i: 2024-01-01\nj: 1:30\nk: 0xC8\non: 2026-11-01\nl: True\nm: 1_000\n")
    assert same(data, {"a": 1e-7, "b": "1e-7", "c": 1000.0, "d": "0o17", "e": 17, "f": "yes",
                       "g": "no", "h": None, "i": dt.date(2024, 1, 1), "j": "1:30", "k": "0xC8",
                       "on": dt.date(2026, 11, 1), "l": True, "m": "1_000"})


def test_an_alias_is_the_same_object() -> None:
    data = parsing.parse_text("a: &x {k: [1]}\nb: *x\nc: *x\n")
    assert data["a"] is data["b"] is data["c"]
    assert data == {"a": {"k": [1]}, "b": {"k": [1]}, "c": {"k": [1]}}


UNUSUAL = {
    "merge key": "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
    "merge list": "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n",
    "inline merge": "m:\n  <<: {x: 1}\n  x: 2\n",
    "quoted << twice": '"<<": 1\n"<<": 2\n',
    "set": "a: !!set {x, y}\n",
    "omap": "a: !!omap [x: 1, y: 2]\n",
    "pairs": "a: !!pairs [x: 1, x: 2]\n",
    "duplicate key": "a: 1\nb:\n  c: 2\n  c: 3\na: 4\n",
    "duplicate text, other types": "'1': a\n1: b\n",
    "python tags": "x: !!python/object/apply:os.system ['echo hi']\ny: [!!python/tuple [1]]\n",
    "python tag and duplicate": "a: !!python/tuple [1, 2]\nb: 1\nb: 2\n",
    "unknown tag": "a: !custom x\n",
    "value tag": "a: =\n",
    "sequence key": "? [a, b]\n: c\n",
    "mapping key": "? {a: 1}\n: c\n",
    "bad binary": "a: !!binary '!!!'\n",
    "bad int": "a: !!int abc\n",
    "map tag on a list": "a: !!map [1]\n",
    "str tag on a map": "a: !!str {x: 1}\n",
    "alias as key": "&k a: 1\n*k : 2\n",
    "syntax error": "a: [\n",
    "two documents": "--- a\n--- b\n",
    "empty": "",
    "comment only": "# nothing\n",
}


@pytest.mark.parametrize("text", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_unusual_yaml_reads_or_fails_as_before(text: str) -> None:
    assert_same_as_careful(text)


def test_duplicate_keys_are_refused_with_their_lines() -> None:
    with pytest.raises(dk.DesignError) as info:
        parsing.parse_text(UNUSUAL["duplicate key"])
    assert not isinstance(info.value, dk.UnsafeYAMLError)
    assert [str(p) for p in info.value.problems] == [
        "a: duplicate key on lines 1 and 5: YAML would keep only the last; merge them or "
        "rename one",
        "b.c: duplicate key on lines 3 and 4: YAML would keep only the last; merge them or "
        "rename one",
    ]


def test_python_tags_are_refused_before_anything_runs() -> None:
    with pytest.raises(dk.UnsafeYAMLError) as info:
        parsing.parse_text(UNUSUAL["python tags"])
    assert [str(p) for p in info.value.problems] == [
        "x: line 1: the tag '!!python/object/apply:os.system' would construct an object; "
        "designkit reads plain YAML data only, so nothing was run — remove the tag",
        "y[0]: line 2: the tag '!!python/tuple' would construct an object; designkit reads "
        "plain YAML data only, so nothing was run — remove the tag",
    ]


def test_merge_keys_still_merge() -> None:
    assert parsing.parse_text(UNUSUAL["merge key"]) == {"base": {"x": 1, "y": 2},
                                                   "d": {"x": 1, "y": 3}}


_scalars = (st.none() | st.booleans() | st.integers() | st.text()
            | st.floats(allow_nan=False) | st.dates() | st.datetimes())
_data = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(data=_data, flow=st.sampled_from([None, True, False]))
def test_any_dumped_data_reads_back_as_pyyaml_reads_it(data: Any, flow: bool | None) -> None:
    text = "# not JSON\n" + yaml.safe_dump({"d": data}, default_flow_style=flow,
                                          allow_unicode=True)
    if not EXPONENT.search(text):  # designkit reads 1e-7 / 0E0 as floats (YAML 1.2, JSON)
        assert same(parsing.parse_text(text), yaml.load(text, Loader=yaml.SafeLoader))
    assert_same_as_careful(text)


EXPONENT = re.compile(r"(?<![\w.'\"])[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+")
"""A plain scalar PyYAML (YAML 1.1) reads as a string and designkit as a float."""
