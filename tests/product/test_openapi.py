"""The protocol's OpenAPI 3.1 document: valid OpenAPI 3.1, every route the interface
names at its exact path, schemas that take what the world sends and what the product file
reads, and the SMTP part and environment described."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conntrack import STATES, providers
from conntrack.product import _interface
from conntrack.product._interface import Company, CompanyUser
from conntrack.product._openapi import OPENAPI_PATH, openapi
from conntrack.scenario._model import CONNECTION_KINDS, EMAIL_KINDS

DOC_URI = "urn:conntrack:product-openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

#: The protocol's routes, as the spec writes them (names exactly as written).
ROUTES = {
    ("post", "/clock"),
    ("put", "/company"),
    ("post", "/connections/{name}/login"),
    ("delete", "/connections/{name}"),
    ("get", "/connections"),
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi()


def validator(doc: dict[str, Any], *where: str) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in where)
    return jsonschema.Draft202012Validator(
        {"$ref": f"{DOC_URI}#{pointer}"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def schema(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    return validator(doc, "components", "schemas", name)


def test_it_is_an_openapi_3_1_document(doc: dict[str, Any]) -> None:
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    assert doc["openapi"].startswith("3.1.")
    meta = definitions.OPENAPI_31
    errors = list(jsonschema.Draft202012Validator(meta).iter_errors(doc))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_its_schemas_are_json_schemas_and_every_ref_resolves(doc: dict[str, Any]) -> None:
    for name, body in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema({**body, "title": name})

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    assert refs(doc)
    for ref in refs(doc):
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict), ref


def test_every_route_at_its_exact_path_and_nothing_else(doc: dict[str, Any]) -> None:
    documented = {(m, path) for path, item in doc["paths"].items() for m in item if m in METHODS}
    assert documented == ROUTES
    # The interface's docstring names the same routes, so the two cannot drift apart.
    named = {
        (method.lower(), path)
        for method, path in re.findall(
            r"(GET|POST|PUT|DELETE) \{base\}(/[\w/{}]+)", _interface.__doc__ or ""
        )
    }
    assert named == ROUTES
    ids = [
        item[m]["operationId"] for path, item in doc["paths"].items() for m in item if m in METHODS
    ]
    assert len(ids) == len(set(ids))
    for path, item in doc["paths"].items():
        params = {p["$ref"].rsplit("/", 1)[-1] for p in item.get("parameters", [])}
        names = {doc["components"]["parameters"][p]["name"] for p in params}
        assert set(re.findall(r"\{(\w+)\}", path)) == names, path


def test_the_world_s_requests_fit_the_request_schemas(doc: dict[str, Any]) -> None:
    company = Company(
        "Europe/Paris",
        (CompanyUser("user1", "Ada", "ada@example.com"), CompanyUser("u2", "Bo", "b@x.org", True)),
    )
    schema(doc, "Company").validate(company.json())
    schema(doc, "ClockRequest").validate({"now": "2026-03-01T09:00:00Z"})
    for provider in providers():
        for kind in CONNECTION_KINDS:
            for action in ("add", "reconnect"):
                body = {"provider": provider, "kind": kind, "user": "user1", "action": action}
                schema(doc, "LoginRequest").validate(body)
    login = doc["components"]["schemas"]["LoginRequest"]["properties"]
    assert login["provider"]["enum"] == providers()
    assert login["kind"]["enum"] == list(CONNECTION_KINDS)
    schema(doc, "DisconnectRequest").validate({"user": "user1"})
    with pytest.raises(jsonschema.ValidationError):
        schema(doc, "LoginRequest").validate(
            {"provider": "myspace", "kind": "owned", "user": "u", "action": "add"}
        )
    with pytest.raises(jsonschema.ValidationError):
        schema(doc, "ClockRequest").validate({"now": "next tuesday"})


def test_answers_with_and_without_the_optional_parts(doc: dict[str, Any]) -> None:
    connections = schema(doc, "Connections")
    full = {
        "name": "fb",
        "state": "needs_reconnect",
        "reason": "password_changed",
        "banner": "Reconnect",
        "settings": "",
        "last_synced_at": "2026-03-01T03:00:00Z",
        "state_since": "2026-03-01T09:00:00+01:00",
    }
    connections.validate([full])
    connections.validate([{"name": "li", "state": state} for state in STATES])  # no banners
    connections.validate([{**full, "banner": None, "reason": None, "last_synced_at": None}])
    for broken in ({"state": "x"}, {"name": "x"}, {**full, "last_synced_at": "yesterday"}):
        with pytest.raises(jsonschema.ValidationError):
            connections.validate([broken])
    answers = schema(doc, "ClockAnswer")
    answers.validate({"now": "2026-03-01T09:00:00Z", "next": None})
    answers.validate({"now": "2026-03-01T09:00:00Z", "next": "2026-03-02T09:00:00Z"})
    answers.validate({"now": "2026-03-01T09:00:00Z"})
    schema(doc, "LoginAnswer").validate({"authorize_url": "http://127.0.0.1:1/www.facebook.com/x"})
    clock = doc["paths"]["/clock"]["post"]["responses"]
    assert {"200", "204", "409"} <= set(clock)
    optional = doc["components"]["schemas"]["Connection"]["properties"]
    assert {k for k, v in optional.items() if v.get("x-conntrack-optional")} == {
        "reason", "banner", "settings", "last_synced_at", "state_since",
    }  # fmt: skip
    assert doc["paths"]["/connections/{name}"]["delete"]["x-conntrack-optional"] is True


def test_smtp_and_the_environment_are_described(doc: dict[str, Any]) -> None:
    smtp = doc["x-conntrack-smtp"]
    assert smtp["kinds"] == list(EMAIL_KINDS)
    assert (smtp["kind_header"], smtp["connection_header"]) == (
        "X-Conntrack-Kind", "X-Conntrack-Connection"
    )  # fmt: skip
    from conntrack.product._file import DEFAULT_CONNECTION_HEADER, DEFAULT_KIND_HEADER

    assert (
        smtp["kind_header"], smtp["connection_header"]
    ) == (DEFAULT_KIND_HEADER, DEFAULT_CONNECTION_HEADER)  # fmt: skip
    env = doc["x-conntrack-environment"]
    assert set(env) == {
        "CONNTRACK_FAKES_URL", "CONNTRACK_CA_FILE", "CONNTRACK_SMTP_HOST", "CONNTRACK_SMTP_PORT",
        "CONNTRACK_PRODUCT_PORT", "CONNTRACK_START", "CONNTRACK_DATA_DIR", "CONNTRACK_APPS",
        "CONNTRACK_<PROTOCOL>_CLIENT_ID", "CONNTRACK_<PROTOCOL>_CLIENT_SECRET",
        "CONNTRACK_<PROTOCOL>_REDIRECT_URI",
    }  # fmt: skip
    description = doc["info"]["description"]
    for word in ("SMTP", "Date:", "banners: false", "Time only moves forward", "callback"):
        assert word in description


def test_it_is_packaged_next_to_the_module() -> None:
    from importlib.resources import files

    assert OPENAPI_PATH.is_file()
    packaged = files("conntrack.product").joinpath("openapi.json").read_text(encoding="utf-8")
    assert packaged == OPENAPI_PATH.read_text(encoding="utf-8")
    assert openapi() is not openapi()  # a fresh copy each time


def test_the_connection_schema_has_every_field_the_product_file_reads(
    doc: dict[str, Any], tmp_path: Any
) -> None:
    from conntrack.product._file import load_product

    (tmp_path / "product.yaml").write_text(
        "base: http://127.0.0.1:{port}/t\nredirect_uri: http://x/cb\nstart: {command: run}\n"
    )
    example = doc["components"]["schemas"]["Connection"]["examples"][0]
    schema(doc, "Connection").validate(example)
    view = load_product(tmp_path / "product.yaml").view(
        {**example, "state": "invalid"}  # the example's words, as conntrack's own
    )
    assert set(view.raw) == set(doc["components"]["schemas"]["Connection"]["properties"])
    assert view.reason == example["reason"] and view.state_since is not None
