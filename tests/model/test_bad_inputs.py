"""Bad design files: each gives one located message that names the fix."""

from __future__ import annotations

import textwrap

import pytest

import designkit as dk

BASE = """\
designkit: 1
name: shop
components:
  api:
    kind: service
    replicas: 2
    workers: 8
    endpoints:
      "POST /orders":
        cpu_ms: 2
        steps:
          - call: orders-db
            query: {table: orders, kind: insert}
          - cache: product-cache
            on_miss:
              - call: orders-db
                query: {table: products, kind: select, where: [id]}
  product-cache: {kind: cache, hit_ratio: 0.9}
  orders-db:
    kind: database
    tables:
      orders:
        columns: {id: {type: uuid, primary_key: true}, product_id: {type: uuid, references: products.id}}
      products:
        columns: {id: {type: uuid, primary_key: true}, name: {type: text}}
        indexes: [{columns: [name]}]
workload:
  "api POST /orders": 100
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(dk.DesignError) as info:
        dk.load(text)
    return [str(p) for p in info.value.problems]


def test_base_design_is_valid() -> None:
    design = dk.load(BASE)
    assert design.workload == {"api POST /orders": 100.0}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "- call: orders-db\n            query: {table: orders",
            "- call: orders-bd\n            query: {table: orders",
            'components.api.endpoints."POST /orders".steps[0].call: unknown component '
            "'orders-bd' (did you mean 'orders-db'?)",
            id="unknown-call-target"),
        pytest.param(
            "    replicas: 2", "    replicaz: 2",
            "components.api.replicaz: unknown key 'replicaz' (did you mean 'replicas'?)",
            id="misspelt-key"),
        pytest.param(
            "{table: orders, kind: insert}", "{table: order, kind: insert}",
            'components.api.endpoints."POST /orders".steps[0].query.table: database '
            "'orders-db' has no table 'order' (did you mean 'orders'?)",
            id="missing-table"),
        pytest.param(
            "kind: select, where: [id]", "kind: select, where: [idd]",
            'components.api.endpoints."POST /orders".steps[1].on_miss[0].query.where[0]: '
            "table orders-db.products has no column 'idd' (did you mean 'id'?)",
            id="missing-column"),
        pytest.param(
            "indexes: [{columns: [name]}]", "indexes: [{columns: [nmae]}]",
            "components.orders-db.tables.products.indexes[0].columns[0]: table "
            "orders-db.products has no column 'nmae' (did you mean 'name'?)",
            id="missing-index-column"),
        pytest.param(
            "references: products.id", "references: product.id",
            "components.orders-db.tables.orders.columns.product_id.references: foreign key "
            "to a missing table: database 'orders-db' has no table 'product' "
            "(did you mean 'products'?)",
            id="foreign-key-to-missing-table"),
        pytest.param(
            "    replicas: 2", "    replicas: -2",
            "components.api.replicas: must be ≥ 1, got -2",
            id="negative-replicas"),
        pytest.param(
            "hit_ratio: 0.9", "hit_ratio: 1.5",
            "components.product-cache.hit_ratio: must be ≤ 1, got 1.5",
            id="hit-ratio-above-one"),
        pytest.param(
            '"api POST /orders": 100', '"api POST /order": 100',
            "workload.\"api POST /order\": service 'api' has no endpoint 'POST /order' "
            "(did you mean 'api POST /orders'?)",
            id="unknown-workload-key"),
        pytest.param(
            "kind: database", "kind: databse",
            "components.orders-db.kind: unknown kind 'databse'; expected one of service, "
            "database, cache, queue, external, lock (did you mean 'database'?)",
            id="unknown-kind"),
        pytest.param(
            "    workers: 8", "    workers: 8\n    io: blockng",
            "components.api.io: 'blockng' is not one of blocking, async "
            "(did you mean 'blocking'?)",
            id="bad-literal"),
        pytest.param(
            "- cache: product-cache", "- cahce: product-cache",
            'components.api.endpoints."POST /orders".steps[1]: a step needs one of call, '
            "transaction, lock, parallel, loop, cache, publish; found keys ['cahce', "
            "'on_miss'] (did you mean 'cache'?)",
            id="unknown-step-key"),
        pytest.param(
            "        cpu_ms: 2", "        cpu_ms: {p50: 20, p95: 10}",
            'components.api.endpoints."POST /orders".cpu_ms: p95 (10) must be greater than '
            "p50 (20)",
            id="percentiles-out-of-order"),
        pytest.param(
            "- cache: product-cache", "- transaction: product-cache\n            steps: []\n"
            "          - cache: product-cache",
            'components.api.endpoints."POST /orders".steps[1].transaction: a transaction '
            "needs a database; 'product-cache' is a cache (did you mean 'orders-db'?)",
            id="transaction-on-a-cache"),
    ],
)
def test_bad_input_is_located(old: str, new: str, expected: str) -> None:
    assert old in BASE
    assert problems_of(BASE.replace(old, new, 1)) == [expected]


def test_call_cycle() -> None:
    text = textwrap.dedent("""\
        designkit: 1
        name: loop
        components:
          a:
            kind: service
            endpoints:
              "GET /x": {steps: [{call: b GET /y}]}
          b:
            kind: service
            endpoints:
              "GET /y": {steps: [{call: a GET /x}]}
        """)
    assert problems_of(text) == [
        'components.b.endpoints."GET /y".steps[0].call: synchronous call cycle: '
        "a GET /x → b GET /y → a GET /x; break it with a queue (publish) or by removing "
        "a call"]


def test_publish_breaks_a_cycle() -> None:
    text = textwrap.dedent("""\
        designkit: 1
        name: no-loop
        components:
          a:
            kind: service
            endpoints:
              "GET /x": {steps: [{call: b POST /y}]}
              "POST /z": {}
          b:
            kind: service
            endpoints:
              "POST /y": {steps: [{publish: q}]}
          q: {kind: queue, handler: a POST /z}
        """)
    assert dk.load(text).graph().number_of_edges() == 3


def test_future_version() -> None:
    with pytest.raises(dk.UnsupportedVersionError) as info:
        dk.load("designkit: 2\nname: x\n")
    assert str(info.value.problems[0]) == (
        f"designkit: this design uses format 2; designkit {dk.__version__} reads format 1: "
        "upgrade with `pip install -U designkit`")


def test_missing_version() -> None:
    assert problems_of("name: x\n") == [
        "designkit: is required: start the file with `designkit: 1` (the format version)"]


def test_unsafe_yaml_tag_is_refused_and_nothing_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"
    text = f"designkit: 1\nname: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(dk.UnsafeYAMLError) as info:
        dk.load(text)
    assert not marker.exists()
    assert str(info.value.problems[0]) == (
        "name: line 2: the tag '!!python/object/apply:os.system' would construct an object; "
        "designkit reads plain YAML data only, so nothing was run — remove the tag")


def test_duplicate_endpoint() -> None:
    text = textwrap.dedent("""\
        designkit: 1
        name: dup
        components:
          api:
            kind: service
            endpoints:
              "GET /a": {cpu_ms: 1}
              "GET /a": {cpu_ms: 2}
        """)
    assert problems_of(text) == [
        'components.api.endpoints."GET /a": duplicate key on lines 7 and 8: YAML would keep '
        "only the last; merge them or rename one"]


def test_duplicate_endpoint_differing_in_case() -> None:
    text = textwrap.dedent("""\
        designkit: 1
        name: dup
        components:
          api:
            kind: service
            endpoints:
              "GET /a": {cpu_ms: 1}
              "get /a": {cpu_ms: 2}
        """)
    assert problems_of(text) == [
        'components.api.endpoints."get /a": duplicate endpoint: \'get /a\' and \'GET /a\' are '
        "the same endpoint"]


def test_empty_file() -> None:
    assert problems_of("") == [
        "<design>: the design is empty; start from a template: "
        "`designkit new design.yaml --template flash-sale`"]


def test_list_instead_of_mapping() -> None:
    assert problems_of("- designkit: 1\n- name: x\n") == [
        "<design>: a design is a mapping with keys designkit, name, components, …; this file "
        "holds a list"]


def test_yaml_syntax_error_names_line_and_column() -> None:
    [problem] = problems_of("designkit: 1\nname: [x\n")
    # libyaml and the pure-Python parser word it differently
    assert problem in ("line 3, column 1: not valid YAML: did not find expected ',' or ']'",
                       "line 3, column 1: not valid YAML: expected ',' or ']', but got "
                       "'<stream end>'")


def test_every_problem_is_collected() -> None:
    text = BASE.replace("replicas: 2", "replicas: 0").replace(
        "hit_ratio: 0.9", "hit_ratio: -1").replace('"api POST /orders": 100',
                                                    '"api POST /nope": 100')
    problems = problems_of(text)
    assert [p.split(":")[0] for p in problems] == [
        "components.api.replicas", "components.product-cache.hit_ratio", "workload.\"api POST /nope\""]


def test_missing_file_names_the_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.yaml"
    with pytest.raises(FileNotFoundError) as info:
        dk.load(missing)
    assert str(info.value) == (f"{missing}: no such design file; create one with "
                               f"`designkit new {missing} --template flash-sale`")


def test_call_to_a_service_needs_its_endpoint() -> None:
    text = BASE.replace("product-cache: {kind: cache, hit_ratio: 0.9}",
                        "product-cache: {kind: cache, hit_ratio: 0.9}\n  web:\n    kind: service\n"
                        "    endpoints:\n      \"GET /\": {steps: [{call: api}]}")
    assert problems_of(text) == [
        'components.web.endpoints."GET /".steps[0].call: a call to service \'api\' names its '
        "endpoint as 'svc METHOD /path' (did you mean 'api POST /orders'?)"]


def test_database_call_needs_a_query_or_a_time() -> None:
    text = BASE.replace("- call: orders-db\n            query: {table: orders, kind: insert}",
                        "- call: orders-db")
    assert problems_of(text) == [
        'components.api.endpoints."POST /orders".steps[0]: a call to database \'orders-db\' '
        "needs a query ({table, kind, where}) or service_ms"]


def test_saga_action_must_exist() -> None:
    text = BASE + textwrap.dedent("""\
        sagas:
          checkout:
            steps:
              - {name: order, action: api POST /orders, compensation: api DELETE /orders}
        """)
    assert problems_of(text) == [
        "sagas.checkout.steps[0].compensation: service 'api' has no endpoint 'DELETE /orders' "
        "(did you mean 'api POST /orders'?)"]


def test_error_is_a_value_error_and_a_designkit_error() -> None:
    with pytest.raises(ValueError):
        dk.load("designkit: 1\nname: ''\n")
    with pytest.raises(dk.DesignkitError):
        dk.load("designkit: 1\nname: ''\n")


def test_one_line_json_text_is_read_as_text() -> None:
    design = dk.load(BASE)
    one_line = dk.dump(design, "json").replace("\n", "")
    assert len(one_line) > 300  # longer than any file name
    assert dk.load(one_line) == design


def test_duplicate_json_key() -> None:
    assert problems_of('{"designkit": 1, "name": "a", "name": "b"}') == [
        "name: duplicate key: JSON would keep only the last; merge them or rename one"]
