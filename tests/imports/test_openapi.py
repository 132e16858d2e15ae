"""designkit.imports.openapi and `designkit import openapi`: a real public spec end to end,
each mapping on a hand-made 3.1 spec, broken specs, merging, and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

import designkit as dk
from designkit.cli import _Group
from designkit.cli import cli as designkit_cli
from designkit.cli_import_openapi import openapi_command
from designkit.imports.openapi import (
    OpenApiError,
    OpenApiImport,
    SpecNotFoundError,
    import_openapi,
    merge_openapi,
)

PETSTORE = Path(__file__).resolve().parents[1] / "data" / "openapi" / "petstore-expanded.yaml"

# A hand-made OpenAPI 3.1 document with one case of each mapping.
ORDERS = """\
openapi: 3.1.0
info: {title: Order Service, version: "2.3"}
security:
  - bearer: []
webhooks:
  orderShipped:
    post:
      responses: {"200": {description: ok}}
paths:
  /v1/orders:
    get:
      summary: List orders
      parameters:
        - {name: cursor, in: query, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer}}
        - {name: status, in: query, schema: {type: string}}
      responses:
        "200":
          description: A page of orders
          content:
            application/json:
              schema: {$ref: "#/components/schemas/OrderPage"}
        "401": {$ref: "#/components/responses/Problem"}
    post:
      summary: Create an order
      security: [{oauth: ["orders:write", admin]}]
      parameters:
        - $ref: "#/components/parameters/IdempotencyKey"
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewOrder"}
      responses:
        "201":
          description: Created
          links:
            GetOrder: {operationId: getOrder}
        "409": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
      callbacks:
        orderPaid:
          "{$request.body#/callback_url}":
            post:
              requestBody:
                content: {application/json: {schema: {type: object}}}
              responses: {"200": {description: ok}}
  /v1/orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
    get:
      operationId: getOrder
      responses:
        "200":
          description: The order
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
        "404": {$ref: "#/components/responses/Problem"}
  /reports:
    get:
      summary: Sales reports
      security: [{key: []}]
      parameters:
        - {name: API-Version, in: header, required: true, schema: {type: string}}
        - {name: offset, in: query, schema: {type: integer}}
        - {name: per_page, in: query, schema: {type: integer}}
      responses:
        "200":
          description: Reports
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: {type: array, items: {type: object}}
                  meta: {type: object}
        "400":
          description: Bad request
          content:
            application/json:
              schema:
                type: object
                properties:
                  error: {type: object}
  /admin/reindex:
    post:
      x-internal: true
      security: [{mtls: []}]
      parameters:
        - {name: X-Idempotency-Key, in: header, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {full: {type: boolean}}}
      responses:
        "202":
          description: Started
          content:
            text/plain: {schema: {type: string}}
  /health:
    get:
      security: []
      responses:
        "200":
          description: Healthy
          content:
            application/json:
              schema: {type: object, properties: {status: {type: string}}}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer, bearerFormat: JWT}
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://auth.example.com/token
          scopes: {"orders:write": write orders, admin: everything}
    key: {type: apiKey, in: header, name: X-API-Key}
    mtls: {type: mutualTLS}
  parameters:
    IdempotencyKey: {name: Idempotency-Key, in: header, required: true, schema: {type: string}}
  responses:
    Problem:
      description: A problem
      content:
        application/problem+json:
          schema: {$ref: "#/components/schemas/Problem"}
  schemas:
    Order:
      type: object
      properties: {id: {type: string}, total: {type: number}}
    NewOrder:
      type: object
      required: [total]
      properties: {total: {type: number}}
    OrderPage:
      type: object
      properties:
        items: {type: array, items: {$ref: "#/components/schemas/Order"}}
        next_cursor: {type: [string, "null"]}
    Problem:
      type: object
      properties: {type: {type: string}, title: {type: string}}
"""


@pytest.fixture(scope="module")
def orders() -> OpenApiImport:
    return import_openapi(ORDERS)


def _endpoint(result: OpenApiImport, key: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = result.data["endpoints"][key]
    return endpoint


# -- a real public document, end to end -----------------------------------------------------

def test_the_petstore_imports_one_endpoint_per_operation() -> None:
    result = import_openapi(PETSTORE)
    assert result.service == "swagger-petstore"
    assert list(result.data["endpoints"]) == [
        "GET /v2/pets", "POST /v2/pets", "GET /v2/pets/{id}", "DELETE /v2/pets/{id}"]
    design = result.design()
    endpoints = design.components["swagger-petstore"].endpoints
    for endpoint in endpoints.values():  # no security anywhere: public, anonymous
        assert endpoint.public is True
        assert endpoint.auth is not None and endpoint.auth.scheme == "none"
        assert endpoint.versioning == "uri"  # the server's base path is /v2
    assert endpoints["GET /v2/pets"].responses == {200: "pet response"}
    assert endpoints["DELETE /v2/pets/{id}"].responses == {204: "pet deleted"}
    listing = endpoints["GET /v2/pets"]
    assert (listing.collection, listing.pagination) == (True, "none")  # a limit, no offset
    assert endpoints["GET /v2/pets/{id}"].collection is False
    assert endpoints["POST /v2/pets"].request_schema == "NewPet"
    assert endpoints["POST /v2/pets"].idempotency_key is None
    assert "GET /v2/pets: parameters not imported: query tags" in result.notes
    assert ("GET /v2/pets: responses default not imported (designkit declares numeric "
            "status codes)") in result.notes


def test_the_imported_petstore_is_assessed() -> None:
    design = import_openapi(PETSTORE).design()
    result = dk.assess(design)
    failed = {(f.rule, f.subject.rsplit(".", 1)[-1]) for f in result.failed()}
    assert ("DK-BE-001", '"POST /v2/pets"') in failed  # a POST without an idempotency key
    assert ("DK-PERF-005", '"GET /v2/pets"') in failed  # a collection without pagination
    assert not any(f.rule == "DK-API-005" for f in result.failed())  # /v2 is in the keys


def test_the_petstore_as_json_text_imports_the_same() -> None:
    data = yaml.safe_load(PETSTORE.read_text(encoding="utf-8"))
    assert import_openapi(json.dumps(data)) == import_openapi(PETSTORE)


# -- each mapping, on the hand-made spec --------------------------------------------------

def test_the_service_is_named_by_the_title_or_by_the_caller(orders: OpenApiImport) -> None:
    assert orders.service == "order-service"
    assert import_openapi(ORDERS, service="orders").service == "orders"
    assert orders.data["description"] == "Order Service 2.3"


def test_security_schemes_become_auth(orders: OpenApiImport) -> None:
    def auth(key: str) -> tuple[bool | None, dict[str, Any] | None]:
        endpoint = _endpoint(orders, key)
        return endpoint.get("public"), endpoint.get("auth")

    assert auth("GET /v1/orders") == (True, {"scheme": "jwt"})  # the document's default
    assert auth("POST /v1/orders") == (True, {"scheme": "oauth2",
                                              "roles": ["admin", "orders:write"]})
    assert auth("GET /reports") == (True, {"scheme": "api-key"})
    assert auth("POST /admin/reindex") == (False, {"scheme": "mtls"})  # x-internal
    assert auth("GET /health") == (True, {"scheme": "none"})  # security: []


def test_an_idempotency_header_becomes_the_idempotency_key(orders: OpenApiImport) -> None:
    assert _endpoint(orders, "POST /v1/orders")["idempotency_key"] == {
        "header": "Idempotency-Key"}  # through a $ref to components.parameters
    assert _endpoint(orders, "POST /admin/reindex")["idempotency_key"] == {
        "header": "X-Idempotency-Key"}
    assert "idempotency_key" not in _endpoint(orders, "GET /v1/orders")


def test_pagination_and_collections(orders: OpenApiImport) -> None:
    listing = _endpoint(orders, "GET /v1/orders")
    assert (listing["collection"], listing["pagination"]) == (True, "cursor")  # items[]
    reports = _endpoint(orders, "GET /reports")
    assert (reports["collection"], reports["pagination"]) == (True, "offset")  # data[]
    one = _endpoint(orders, "GET /v1/orders/{id}")
    assert one["collection"] is False and "pagination" not in one
    assert "collection" not in _endpoint(orders, "POST /v1/orders")  # only GETs list


def test_responses_and_error_envelopes(orders: OpenApiImport) -> None:
    assert _endpoint(orders, "POST /v1/orders")["responses"] == {
        201: "Created", 409: "A problem", 422: "A problem"}
    assert _endpoint(orders, "POST /v1/orders")["envelope"] == "problem-json"
    assert _endpoint(orders, "GET /v1/orders/{id}")["envelope"] == "problem-json"
    assert _endpoint(orders, "GET /reports")["envelope"] == "data-meta-error"
    assert "envelope" not in _endpoint(orders, "GET /health")  # not stated


def test_versioning(orders: OpenApiImport) -> None:
    assert _endpoint(orders, "GET /v1/orders")["versioning"] == "uri"
    assert _endpoint(orders, "GET /reports")["versioning"] == "header"  # API-Version
    assert "versioning" not in _endpoint(orders, "GET /health")


def test_request_schemas(orders: OpenApiImport) -> None:
    assert _endpoint(orders, "POST /v1/orders")["request_schema"] == "NewOrder"
    assert _endpoint(orders, "POST /admin/reindex")["request_schema"] == "inline"
    assert "request_schema" not in _endpoint(orders, "GET /v1/orders")
    assert "validated_at" not in _endpoint(orders, "POST /v1/orders")  # a spec cannot say


@pytest.mark.parametrize(("scheme", "expected"), [
    ({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, "jwt"),
    ({"type": "http", "scheme": "bearer"}, "oauth2"),
    ({"type": "http", "scheme": "basic"}, "api-key"),
    ({"type": "apiKey", "in": "query", "name": "key"}, "api-key"),
    ({"type": "apiKey", "in": "cookie", "name": "sid"}, "session"),
    ({"type": "openIdConnect", "openIdConnectUrl": "https://id.example.com"}, "oauth2"),
    ({"type": "mutualTLS"}, "mtls"),
])
def test_each_kind_of_security_scheme(scheme: dict[str, Any], expected: str) -> None:
    result = import_openapi(_spec({"/a": {"get": {"security": [{"s": []}], "responses": {
        "204": {"description": "done"}}}}}, components={"securitySchemes": {"s": scheme}}))
    assert result.data["endpoints"]["GET /a"]["auth"] == {"scheme": expected}


def test_a_vendor_media_type_with_a_version_is_media_type_versioning() -> None:
    result = import_openapi(_spec({"/a": {"get": {"responses": {"200": {
        "description": "ok", "content": {"application/vnd.shop.v2+json": {
            "schema": {"type": "object"}}}}}}}}))
    assert result.data["endpoints"]["GET /a"]["versioning"] == "media-type"


def test_what_is_not_imported_is_listed(orders: OpenApiImport) -> None:
    assert orders.notes == [
        "webhooks not imported: orderShipped",
        "GET /v1/orders: parameters not imported: query status",
        "POST /v1/orders: callbacks not imported: orderPaid",
        "POST /v1/orders: response links not imported: GetOrder",
        "POST /admin/reindex: non-JSON media types not read: text/plain",
    ]


def test_the_import_is_a_valid_design(orders: OpenApiImport) -> None:
    design = dk.Design.model_validate({"name": "shop",
                                       "components": {orders.service: orders.data}})
    assert len(design.components["order-service"].endpoints) == 6
    assert dk.load(dk.dump(orders.design())) == orders.design()


# -- broken documents: one error, located ---------------------------------------------------

def _spec(paths: dict[str, Any], **more: Any) -> str:
    return json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                       "paths": paths, **more})


def _problem(text: str | Path) -> tuple[str, str]:
    with pytest.raises(OpenApiError) as caught:
        import_openapi(text)
    assert isinstance(caught.value, dk.DesignError)  # callers may catch either
    assert len(caught.value.problems) == 1
    return caught.value.problems[0].path, caught.value.problems[0].message


def test_a_dangling_ref_is_one_error_at_its_pointer() -> None:
    where, message = _problem(_spec({"/a": {"get": {"responses": {"200": {
        "description": "ok", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Nope"}}}}}}}}))
    assert where == "#/paths/~1a/get/responses/200/content/application~1json/schema/$ref"
    assert "'#/components/schemas/Nope' points to nothing" in message


def test_a_wrong_type_is_one_error_at_its_pointer() -> None:
    where, message = _problem(_spec({"/a": {"get": {"responses": {"200": {
        "description": 5}}}}}))
    assert where == "#/paths/~1a/get/responses/200/description"
    assert message == "5 is not of type 'string'"


def test_an_external_ref_is_refused_not_fetched() -> None:
    where, message = _problem(_spec({"/a": {"get": {"responses": {"200": {
        "$ref": "https://example.com/responses.yaml#/ok"}}}}}))
    assert where == "#/paths/~1a/get/responses/200/$ref"
    assert "only local references" in message


def test_swagger_2_and_unreadable_text_are_refused() -> None:
    assert _problem('{"swagger": "2.0", "info": {}}')[0] == "#/openapi"
    where, message = _problem("openapi: 3.1.0\ninfo: [unclosed\n")
    assert where.startswith("line ") and "not valid YAML" in message


def test_the_error_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(_spec({"/a": {"get": {"responses": {"200": {"description": 5}}}}}))
    with pytest.raises(OpenApiError) as caught:
        import_openapi(broken)
    assert str(caught.value).splitlines() == [
        f"{broken}: 1 problem",
        "  #/paths/~1a/get/responses/200/description: 5 is not of type 'string'"]
    with pytest.raises(SpecNotFoundError):
        import_openapi(tmp_path / "missing.yaml")


# -- merging into a design ------------------------------------------------------------------

MINE = {
    "designkit": 1, "name": "shop",
    "components": {
        "order-service": {"kind": "service", "replicas": 3, "endpoints": {
            "GET /v1/orders": {"cpu_ms": 2, "pagination": "offset", "collection": True,
                               "steps": [{"call": "orders-db",
                                          "query": {"table": "orders", "kind": "select"}}]},
            "GET /v1/orders/{orderId}": {"cpu_ms": 1, "auth": {"scheme": "jwt",
                                                               "ownership": True}},
            "GET /v1/legacy": {"cpu_ms": 1},
        }},
        "orders-db": {"kind": "database", "engine": "postgres",
                      "tables": {"orders": {"rows": 1000}}},
    },
    "workload": {"order-service GET /v1/orders": 50},
}


def test_a_merge_keeps_what_the_user_wrote_and_lists_the_changes(orders: OpenApiImport
                                                                  ) -> None:
    before = dk.load(MINE)
    merged, changes = merge_openapi(before, orders)
    service = merged.components["order-service"]
    listing = service.endpoints["GET /v1/orders"]
    assert listing.pagination == "cursor"
    assert listing.steps == before.components["order-service"].endpoints[
        "GET /v1/orders"].steps
    assert listing.cpu_ms.mean == 2 and service.replicas == 3
    assert merged.workload == before.workload
    one = service.endpoints["GET /v1/orders/{orderId}"]  # matched despite {id}
    assert one.auth is not None and (one.auth.scheme, one.auth.ownership) == ("jwt", True)
    assert "GET /v1/legacy" in service.endpoints
    assert "GET /v1/orders: pagination offset → cursor" in changes
    assert "GET /v1/orders: auth.scheme unset → jwt" in changes
    assert "added POST /v1/orders" in changes
    assert "GET /v1/orders/{orderId}: matches GET /v1/orders/{id} of the spec (key kept)" \
        in changes
    assert "GET /v1/legacy: not in the spec (kept)" in changes
    assert before.components["order-service"].endpoints["GET /v1/orders"].pagination == \
        "offset"  # the design given is not changed


def test_merging_the_same_spec_twice_changes_nothing_more(orders: OpenApiImport) -> None:
    once, _ = merge_openapi(dk.load(MINE), orders)
    twice, changes = merge_openapi(once, orders)
    assert twice == once
    assert all(c.endswith("(key kept)") or c.endswith("not in the spec (kept)")
               for c in changes)


def test_a_merge_adds_a_missing_service_and_refuses_a_name_taken(orders: OpenApiImport
                                                                 ) -> None:
    merged, changes = merge_openapi({"designkit": 1, "name": "empty"}, orders)
    assert changes[0] == "added service order-service" and len(changes) == 7
    assert len(merged.components["order-service"].endpoints) == 6
    with pytest.raises(OpenApiError, match="is a database, not a service"):
        merge_openapi(dk.load(MINE), import_openapi(ORDERS, service="orders-db"))


# -- the command line -----------------------------------------------------------------------

def _group() -> click.Group:
    group = _Group(name="import")  # the error handling of designkit's own group
    group.add_command(openapi_command)
    return group


def test_the_command_writes_a_design_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "petstore.yaml"
    run = CliRunner().invoke(_group(), ["openapi", str(PETSTORE), "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert run.stdout == ""
    assert "note: GET /v2/pets: parameters not imported: query tags" in run.stderr
    assert f"wrote {out}" in run.stderr
    check = CliRunner().invoke(designkit_cli, ["validate", str(out)])
    assert check.exit_code == 0, check.output
    assert dk.load(out).components["swagger-petstore"].endpoints["GET /v2/pets"].collection


def test_without_a_file_the_design_is_printed() -> None:
    run = CliRunner().invoke(_group(), ["openapi", str(PETSTORE), "--service", "pets"])
    assert run.exit_code == 0, run.output
    assert list(dk.load(run.stdout).components) == ["pets"]


def test_into_merges_keeps_the_steps_and_prints_the_changes(tmp_path: Path) -> None:
    spec = tmp_path / "orders.yaml"
    spec.write_text(ORDERS)
    design = tmp_path / "shop.yaml"
    design.write_text(dk.dump(dk.load(MINE)))
    run = CliRunner().invoke(_group(), ["openapi", str(spec), "--into", str(design)])
    assert run.exit_code == 0, run.output
    assert "GET /v1/orders: pagination offset → cursor" in run.stdout.splitlines()
    assert "note: POST /v1/orders: callbacks not imported: orderPaid" in run.stderr
    merged = dk.load(design)
    assert merged.components["order-service"].endpoints["GET /v1/orders"].steps
    assert "POST /v1/orders" in merged.components["order-service"].endpoints
    assert CliRunner().invoke(designkit_cli, ["validate", str(design)]).exit_code == 0


def test_into_without_changes_leaves_the_file_alone(tmp_path: Path) -> None:
    design = tmp_path / "pets.yaml"
    design.write_text(dk.dump(import_openapi(PETSTORE).design()))
    written = design.stat().st_mtime_ns
    run = CliRunner().invoke(_group(), ["openapi", str(PETSTORE), "--into", str(design)])
    assert run.exit_code == 0, run.output
    assert run.stdout == "" and f"{design}: nothing to change" in run.stderr
    assert design.stat().st_mtime_ns == written


def test_a_broken_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n"
                    "    get:\n      responses:\n        '200': {$ref: '#/nowhere'}\n")
    run = CliRunner().invoke(_group(), ["openapi", str(spec), "-o", str(tmp_path / "o.yaml")])
    assert run.exit_code == 2
    assert "Traceback" not in run.output
    assert run.stderr.splitlines() == [
        f"error: {spec}: 1 problem",
        "  #/paths/~1a/get/responses/200/$ref: $ref '#/nowhere' points to nothing: "
        "/nowhere is not in the document"]
    assert not (tmp_path / "o.yaml").exists()


def test_output_and_into_together_are_a_usage_error(tmp_path: Path) -> None:
    run = CliRunner().invoke(_group(), ["openapi", str(PETSTORE), "-o", "a.yaml",
                                        "--into", "b.yaml"])
    assert run.exit_code == 2 and "not both" in run.stderr
