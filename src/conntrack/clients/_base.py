"""What every provider client shares: app credentials, token facts, answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .._classifier import Verdict, classify


@dataclass(frozen=True)
class AppCredentials:
    """The product's registered app at a provider."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class TokenInfo:
    """What the product knows about the token it holds for a connection."""

    access_token: str
    expires_at: datetime | None
    """When the access token dies; ``None`` for a token that does not expire."""
    hard_expiry: datetime | None
    """When the connection dies whatever the product does (no refresh can save it)."""
    scopes: tuple[str, ...] = ()
    user_id: str | None = None
    data_access_expires_at: datetime | None = None


@dataclass(frozen=True)
class Answer:
    """A provider's answer to an API call, with the classifier's verdict on it."""

    status: int
    body: Any
    verdict: Verdict

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ProviderCallError(Exception):
    """An OAuth step failed; ``answer`` holds what the provider said."""

    def __init__(self, step: str, answer: Answer) -> None:
        self.step = step
        self.answer = answer
        super().__init__(f"{step}: HTTP {answer.status} {answer.verdict.code} {answer.body!r}")


def answer_of(provider: str, response: httpx.Response) -> Answer:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    verdict = classify(provider, response.status_code, dict(response.headers), body)
    return Answer(response.status_code, body, verdict)
