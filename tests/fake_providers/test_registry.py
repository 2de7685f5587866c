"""The provider registry: packages register themselves; the app serves what exists."""

from __future__ import annotations

import httpx
from fp_support import ManualClock
from quart import Blueprint, Response

from fake_providers import Core, _registry, create_app


def test_facebook_registers_itself() -> None:
    providers = _registry.load_providers()
    assert "facebook" in providers and "facebook" in _registry.PROVIDERS
    assert providers["facebook"].http_error is not None


async def test_a_registered_provider_is_served_with_its_error_hooks() -> None:
    def blueprint() -> Blueprint:
        bp = Blueprint("fake_test_provider", __name__)

        @bp.get("/api.example.test/ping")
        async def ping() -> Response:
            return Response("pong")

        return bp

    async def http_error(path: str, status: int, description: str) -> Response | None:
        if path.startswith("/api.example.test/"):
            return Response(f"example {status}", status=status)
        return None

    _registry.register("example_test", blueprint, http_error=http_error)
    try:
        app = create_app(Core(ManualClock()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api.example.test/ping")).text == "pong"
            r = await client.get("/api.example.test/other")
            assert r.status_code == 404 and r.text == "example 404"
            r = await client.get("/_conntrack/nothing")
            assert r.status_code == 404 and "error" in r.json()
    finally:
        _registry.PROVIDERS.pop("example_test")
        _registry.ENTRIES.pop("example_test")
