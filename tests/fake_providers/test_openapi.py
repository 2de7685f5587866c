"""The control API against its OpenAPI 3.1 document (``fake_providers/openapi.yaml``).

Three contracts: every route of the control blueprint is in the document and every
operation of the document is a route; the document is sound (every schema a valid JSON
Schema 2020-12, every ``$ref`` resolves, every path parameter declared); and a scripted
session — apps, accounts, events, a consent, faults, the clock, grants, tokens, an
account deleted, a reset, and a bad request for every route — gets answers whose status
the document lists and whose body validates against its schema, while every request
that succeeded validates against the operation's request schema. The session must call
every operation, so a route added without a step here fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from fake_providers import Core, create_app
from fake_providers._control import OPENAPI, openapi_document

DOC_URI = "urn:conntrack:control-openapi"
METHODS = ("get", "post", "put", "patch", "delete")


def pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Contract:
    """Calls the control API and checks every exchange against the document."""

    client: httpx.AsyncClient
    doc: dict[str, Any]
    called: set[tuple[str, str]] = field(default_factory=set)
    statuses: set[tuple[str, str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in self.doc["paths"]
        ]

    def validate(self, instance: Any, *where: str) -> None:
        schema = {"$ref": f"{DOC_URI}#{pointer(*where)}"}
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{'/'.join(where)}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]
        )

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for regex, template in self.templates:
            if regex.match(path) and method in self.doc["paths"][template]:
                return template, self.doc["paths"][template][method]
        raise AssertionError(f"{method.upper()} {path} is not in the document")

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        expect: int | None = None,
        field: str | None = "unchecked",
    ) -> httpx.Response:
        """One exchange: the status must be documented, the body must validate; a 4xx
        must name ``field`` (unless "unchecked")."""
        kw: dict[str, Any] = {"params": params}
        if content is not None:
            kw["content"] = content
            kw["headers"] = {"Content-Type": "application/json"}
        elif json is not None:
            kw["json"] = json
        r = await self.client.request(method.upper(), path, **kw)
        template, op = self.operation(method, path)
        self.called.add((method, template))
        status = str(r.status_code)
        assert status in op["responses"], f"{method.upper()} {path}: undocumented {status}"
        self.statuses.add((method, template, status))
        if expect is not None:
            assert r.status_code == expect, (method, path, json, r.text)
        media = r.headers["content-type"].split(";")[0]
        content_doc = op["responses"][status]
        if "$ref" in content_doc:
            content_doc = self.doc["components"]["responses"][content_doc["$ref"].split("/")[-1]]
        assert media in content_doc["content"], (method, path, media)
        if media == "application/json":
            schema_at = (*_response_pointer(template, method, status, op), media, "schema")
            self.validate(r.json(), *schema_at)
        if r.status_code >= 400:
            error = r.json()["error"]
            assert error["message"]
            if field != "unchecked":
                assert error["field"] == field, (method, path, json, error)
        elif json is not None and "requestBody" in op:
            self.validate(
                json, "paths", template, method, "requestBody", "content", "application/json",
                "schema",
            )  # fmt: skip
        return r


def _response_pointer(template: str, method: str, status: str, op: dict[str, Any]) -> list[str]:
    ref = op["responses"][status].get("$ref")
    if ref is not None:
        return [*ref.removeprefix("#/").split("/"), "content"]
    return ["paths", template, method, "responses", status, "content"]


@pytest.fixture
def doc() -> dict[str, Any]:
    return openapi_document()


def control_routes(core: Core) -> set[tuple[str, str]]:
    app = create_app(core)
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("conntrack_control."):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            for method in rule.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    out.add((method.lower(), path))
    return out


def test_every_route_is_in_the_document_and_back(core: Core, doc: dict[str, Any]) -> None:
    documented = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    routes = control_routes(core)
    assert routes - documented == set(), "routes missing from openapi.yaml"
    assert documented - routes == set(), "documented operations that are no route"


def test_the_document_is_sound(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema({**schema, "title": name})

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(target, dict), ref
    ids = []
    for path, item in doc["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if "$ref" not in p}
        declared |= {
            doc["components"]["parameters"][p["$ref"].split("/")[-1]]["name"]
            for p in item.get("parameters", [])
            if "$ref" in p
        }
        assert set(re.findall(r"\{([^}]+)\}", path)) <= declared, path
        for method in METHODS:
            if method in item:
                op = item[method]
                ids.append(op["operationId"])
                assert op["responses"] and op.get("summary"), (method, path)
    assert len(ids) == len(set(ids))


async def test_the_served_document_is_the_packaged_one(client: httpx.AsyncClient) -> None:
    from importlib.resources import files

    packaged = yaml.safe_load(files("fake_providers").joinpath(OPENAPI).read_text())
    r = await client.get("/_conntrack/openapi.json")
    assert r.status_code == 200 and r.json() == packaged
    page = await client.get("/_conntrack/docs")
    assert page.status_code == 200 and "/_conntrack/clock/advance" in page.text


# -- the scripted session ------------------------------------------------------------


async def test_a_scripted_session_answers_as_documented(
    fb: Any, core: Core, doc: dict[str, Any]
) -> None:
    api = Contract(fb.client, doc)
    call = api.call
    p = "/_conntrack"

    # about
    await call("get", f"{p}/health", expect=200)
    await call("get", f"{p}/openapi.json", expect=200)
    await call("get", f"{p}/docs", expect=200)
    await call("get", f"{p}/state", expect=200)
    await call("get", f"{p}/state", params={"verbose": "1"}, expect=400, field="verbose")

    # apps
    app = (
        await call(
            "post",
            f"{p}/apps",
            json={"provider": "google", "redirect_uris": ["https://a.example/cb"]},
            expect=201,
        )
    ).json()
    await call("post", f"{p}/apps", json={"provider": "myspace", "redirect_uris": ["x"]},
               expect=400, field="provider")  # fmt: skip
    await call("post", f"{p}/apps", json={"provider": "google", "redirect_uris": ["x"], "colour": 1},
               expect=400, field="colour")  # fmt: skip
    await call("post", f"{p}/apps", content=b"not json", expect=400, field=None)
    await call("get", f"{p}/apps", expect=200)
    await call("get", f"{p}/apps", params={"provider": "google"}, expect=200)
    await call("get", f"{p}/apps", params={"provider": "myspace"}, expect=400, field="provider")
    await call("patch", f"{p}/apps/{app['client_id']}", json={"publishing_status": "testing"},
               expect=200)  # fmt: skip
    await call("patch", f"{p}/apps/{app['client_id']}", json={"publishing_status": "beta"},
               expect=400, field="publishing_status")  # fmt: skip
    await call("patch", f"{p}/apps/nope", json={"publishing_status": "testing"},
               expect=404, field="client_id")  # fmt: skip

    # accounts and events
    made = await call(
        "post", f"{p}/accounts", json={"provider": "facebook", "pages": 1, "linked_instagram": True},
        expect=201,
    )  # fmt: skip
    other = made.json()
    await call("post", f"{p}/accounts", json={"provider": "facebook", "pages": "two"},
               expect=400, field="pages")  # fmt: skip
    await call("post", f"{p}/accounts", json={"provider": "instagram", "linked_page": "404"},
               expect=404, field="linked_page")  # fmt: skip
    await call("get", f"{p}/accounts", expect=200)
    await call("get", f"{p}/accounts", params={"provider": "instagram"}, expect=200)
    await call("get", f"{p}/accounts", params={"provider": 'x"'}, expect=400, field="provider")
    await call("get", f"{p}/accounts/{fb.account.id}", expect=200)
    await call("get", f"{p}/accounts/404", expect=404, field="account_id")
    events = f"{p}/accounts/{other['id']}/events"
    await call("post", events, json={"type": "locked"}, expect=200)
    await call("post", events, json={"type": "admin_removed", "page_id": other["pages"][0]["id"]},
               expect=200)  # fmt: skip
    await call("post", events, json={"type": "flood"}, expect=400, field="type")
    await call("post", events, json={"type": "locked", "page_id": "1"}, expect=400, field="page_id")
    await call("post", events, json={"type": "admin_added", "page_id": "404"},
               expect=404, field="page_id")  # fmt: skip
    await call("post", f"{p}/accounts/404/events", json={"type": "locked"},
               expect=404, field="account_id")  # fmt: skip

    # a real consent, then grants and tokens
    token = await fb.long_token(granted=["pages_show_list"])
    await call("get", f"{p}/grants", expect=200)
    grants = await call("get", f"{p}/grants", params={"account": fb.account.id}, expect=200)
    (grant,) = grants.json()["data"]
    assert grant["declined"] == ["pages_read_engagement", "pages_manage_posts"]
    await call("get", f"{p}/grants", params={"account": "404"}, expect=404, field="account")
    await call("get", f"{p}/grants", params={"client_id": "404"}, expect=404, field="client_id")
    await call("get", f"{p}/grants", params={"scope": "x"}, expect=400, field="scope")
    listed = await call("get", f"{p}/tokens", params={"provider": "facebook"}, expect=200)
    assert {t["kind"] for t in listed.json()["data"]} == {"user_short", "user_long"}
    await call("get", f"{p}/tokens", params={"account": "404"}, expect=404, field="account")
    await call("get", f"{p}/tokens", params={"limit": "1"}, expect=400, field="limit")

    # faults
    await call("post", f"{p}/faults", json={"provider": "facebook", "kind": "outage", "for": "1h"},
               expect=201)  # fmt: skip
    one = await call(
        "post", f"{p}/faults",
        json={"provider": "facebook", "kind": "error", "error": "password_changed", "count": 1,
              "endpoint": "/v21.0/me"},
        expect=201,
    )  # fmt: skip
    await call("post", f"{p}/faults",
               json={"provider": "twitter", "kind": "latency", "delay_ms": 5, "count": 2},
               expect=201)  # fmt: skip
    await call("post", f"{p}/faults",
               json={"provider": "google", "kind": "status", "status": 502, "until": "2026-01-06T00:00:00Z"},
               expect=201)  # fmt: skip
    await call("post", f"{p}/faults",
               json={"provider": "facebook", "kind": "outage", "for": "1h", "count": 1},
               expect=400, field="count")  # fmt: skip
    await call("post", f"{p}/faults",
               json={"provider": "facebook", "kind": "status", "status": 200, "count": 1},
               expect=400, field="status")  # fmt: skip
    await call("get", f"{p}/faults", expect=200)
    await call("get", f"{p}/faults", params={"provider": "google"}, expect=200)
    await call("delete", f"{p}/faults/{one.json()['id']}", expect=200)
    await call("delete", f"{p}/faults/{one.json()['id']}", expect=404, field="fault_id")
    await call("delete", f"{p}/faults", params={"provider": "google"}, expect=200)
    await call(
        "delete", f"{p}/faults", params={"provider": "myspace"}, expect=400, field="provider"
    )
    await call("delete", f"{p}/faults", expect=200)

    # the clock
    await call("get", f"{p}/clock", expect=200)
    await call("post", f"{p}/clock/advance", json={"by": "60d"}, expect=200)
    await call("post", f"{p}/clock/advance", json={"to": "2026-01-01T00:00:00Z"},
               expect=409, field="to")  # fmt: skip
    await call("post", f"{p}/clock/advance", json={}, expect=400, field="by")
    expired = await call("get", f"{p}/tokens", params={"account": fb.account.id}, expect=200)
    assert {t.get("reason") for t in expired.json()["data"]} == {"expired"}

    # revoke, delete, reset
    await call("post", f"{p}/tokens/revoke", json={"token": token}, expect=200)
    await call("post", f"{p}/tokens/revoke", json={"token": "nope"}, expect=404, field="token")
    await call("post", f"{p}/tokens/revoke", json={}, expect=400, field="token")
    await call("delete", f"{p}/accounts/{fb.account.id}", expect=200)
    await call("delete", f"{p}/accounts/{fb.account.id}", expect=409, field="account_id")
    await call("delete", f"{p}/accounts/404", expect=404, field="account_id")
    await call("get", f"{p}/accounts/{fb.account.id}", expect=409, field="account_id")
    await call("post", f"{p}/accounts/{fb.account.id}/events", json={"type": "password_change"},
               expect=409, field="account_id")  # fmt: skip
    await call("get", f"{p}/grants", params={"account": fb.account.id}, expect=409, field="account")
    await call("get", f"{p}/tokens", params={"account": fb.account.id}, expect=409, field="account")
    await call("get", f"{p}/state", expect=200)
    await call("post", f"{p}/reset", json={"everything": True}, expect=400, field="everything")
    reset = await call("post", f"{p}/reset", expect=200)
    assert reset.json()["removed"]["accounts"] == 3 and reset.json()["offset"] == "60d"
    await call("post", f"{p}/reset", json={}, expect=200)

    documented = {(m, path) for path, item in doc["paths"].items() for m in item if m in METHODS}
    assert documented - api.called == set(), "operations the session never called"


async def test_a_virtual_clock_answers_as_documented(doc: dict[str, Any]) -> None:
    from fp_support import FixedClock

    core = Core(FixedClock())
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        api = Contract(client, doc)
        r = await api.call("get", "/_conntrack/clock", expect=200)
        assert r.json()["can_advance"] is False and r.json()["offset"] is None
        await api.call(
            "post", "/_conntrack/clock/advance", json={"by": "1d"}, expect=409, field=None
        )


# -- what the document lets a client send -------------------------------------------------


def _schema_of(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _request_strings(doc: dict[str, Any], node: Any, where: str) -> list[tuple[str, Any]]:
    """(where, schema) of every string a request may carry (parameters, bodies)."""
    if isinstance(node, list):
        return [s for i, n in enumerate(node) for s in _request_strings(doc, n, f"{where}[{i}]")]
    if not isinstance(node, dict):
        return []
    node = _schema_of(doc, node)
    found = [(where, node)] if node.get("type") == "string" else []
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                found += _request_strings(doc, sub, f"{where}.{name}")
        elif key in ("items", "schema", "oneOf", "anyOf", "allOf"):
            found += _request_strings(doc, value, f"{where}/{key}")
    return found


def test_no_request_value_may_be_empty(doc: dict[str, Any]) -> None:
    """Issue 11 item 6: an empty string where a value is needed is refused (400), so the
    document says so: every string a request carries has a ``minLength``, a
    ``pattern``, an ``enum`` or a ``const``."""
    strings = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                params = op
            elif method in METHODS:
                params = op.get("parameters", [])
                body = op.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    strings += _request_strings(doc, body["schema"], f"{method} {path} body")
            else:
                continue
            for p in params:
                p = _schema_of(doc, p)
                strings += _request_strings(doc, p["schema"], f"{path} {p['in']} {p['name']}")
    assert strings, "no request strings found: the walk is broken"
    loose = [
        where
        for where, s in strings
        if not (s.get("minLength", 0) >= 1 or "pattern" in s or "enum" in s or "const" in s)
    ]
    assert loose == []


def _valid(doc: dict[str, Any], name: str, instance: Any) -> bool:
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
    schema = {"$ref": f"{DOC_URI}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry).is_valid(instance)


def test_event_bodies_are_documented_per_event_type(doc: dict[str, Any]) -> None:
    """Which keys an event takes, and needs, is in the document (not only in prose): a
    body the document accepts is one the core's table accepts, and back."""
    from itertools import combinations

    from fake_providers._control import EVENT_PARAMS
    from fake_providers.core._events import PARAMS, EventType

    values = {"client_id": "app", "page_id": "page", "permission": "email"}
    wrong = []
    for kind in EventType:
        allowed = PARAMS.get(kind, {})
        for n in range(len(EVENT_PARAMS) + 1):
            for keys in combinations(EVENT_PARAMS, n):
                body = {"type": kind.value}
                body |= {k: values.get(k, "creator") for k in keys}
                takes = all(EVENT_PARAMS[k] in allowed for k in keys) and all(
                    not needed or any(EVENT_PARAMS[k] == p for k in keys)
                    for p, needed in allowed.items()
                )
                if _valid(doc, "EventCreate", body) != takes:
                    wrong.append((body, "core takes it" if takes else "core refuses it"))
    assert wrong == []


async def test_fault_bodies_are_documented_per_kind(
    client: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    """A fault body the document accepts is created (201), and one it refuses is a 400:
    exactly one limit, and each kind's own parameter (``error``, ``status``,
    ``delay_ms``) with that kind only."""
    from itertools import combinations

    limits = {"for": "1h", "until": "2199-01-01T00:00:00Z", "count": 2}
    params = {"error": "expired", "status": 503, "delay_ms": 5}
    wrong = []
    for kind in ("outage", "rate_limit", "error", "status", "latency"):
        for n in range(4):
            for chosen in combinations(limits, n):
                for m in range(4):
                    for extra in combinations(params, m):
                        body: dict[str, Any] = {"provider": "facebook", "kind": kind}
                        body |= {k: limits[k] for k in chosen}
                        body |= {k: params[k] for k in extra}
                        documented = _valid(doc, "FaultCreate", body)
                        r = await client.post("/_conntrack/faults", json=body)
                        assert r.status_code in (201, 400), r.text
                        if documented != (r.status_code == 201):
                            wrong.append((body, r.status_code))
    await client.delete("/_conntrack/faults")
    assert wrong == []


async def test_fault_endpoints_are_documented_as_the_server_reads_them(
    client: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    """``endpoint``: a path of one or more segments; ``/`` alone (found by schemathesis)
    was document-valid and refused."""
    wrong = []
    for endpoint in ("/", "//", "/me", "//v21.0//me/", "/me?x=1", "/a b", "/*/accounts", "me"):
        body = {"provider": "facebook", "kind": "outage", "count": 1, "endpoint": endpoint}
        r = await client.post("/_conntrack/faults", json=body)
        if _valid(doc, "FaultCreate", body) != (r.status_code == 201):
            wrong.append((endpoint, r.status_code))
    assert wrong == []


async def test_account_ids_are_documented_as_the_server_reads_them(
    client: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    """``id``: letters, digits, ``.``, ``_`` and ``-``, up to 64 (an id with other
    characters, found by schemathesis, was document-valid and refused)."""
    wrong = []
    for given in ("ok-1.2_3", "a b", "Õü", "a/b", "x" * 64, "x" * 65):
        body = {"provider": "facebook", "id": given}
        r = await client.post("/_conntrack/accounts", json=body)
        if _valid(doc, "AccountCreate", body) != (r.status_code == 201):
            wrong.append((given, r.status_code))
    assert wrong == []
