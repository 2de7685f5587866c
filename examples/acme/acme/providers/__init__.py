"""acme's provider integrations, by the protocol name the test protocol uses."""

from __future__ import annotations

from .base import Context, Provider
from .facebook import Facebook
from .linkedin import LinkedIn
from .twitter import Twitter


def providers(ctx: Context) -> dict[str, Provider]:
    return {"facebook": Facebook(ctx), "linkedin": LinkedIn(ctx), "twitter": Twitter(ctx)}
