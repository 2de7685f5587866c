"""A person at a browser: opens a provider's consent page, fills it in, follows the redirect.

This is the user's half of an OAuth authorization-code flow, played over the same
transport as everything else. It reads the page's form like a browser would (action,
method, hidden fields) and submits it with the person's choices, then parses the
redirect back to the product's ``redirect_uri`` for ``code``/``state`` or ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from .._exceptions import ProviderProtocolError


@dataclass
class _Form:
    action: str = ""
    method: str = "get"
    hidden: list[tuple[str, str]] = field(default_factory=list)
    checkboxes: list[tuple[str, str]] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(a.get("action", ""), a.get("method", "get").lower()))
        elif not self.forms:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "hidden" and a.get("name"):
                self.forms[-1].hidden.append((a["name"], a.get("value", "")))
            elif kind == "checkbox" and a.get("name"):
                self.forms[-1].checkboxes.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.forms[-1].options.setdefault(self._select, []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


@dataclass(frozen=True)
class ConsentResult:
    """Where the provider sent the browser back: a code, or an error."""

    redirect: str
    code: str | None
    state: str | None
    error: str | None
    error_description: str | None = None


async def consent(
    http: httpx.AsyncClient,
    authorize_url: str,
    *,
    account_id: str,
    decline: frozenset[str] = frozenset(),
    approve: bool = True,
) -> ConsentResult:
    """Open ``authorize_url``, log in as ``account_id``, grant all but ``decline``, submit."""
    page = await http.get(authorize_url)
    if page.status_code != 200:
        raise ProviderProtocolError(
            f"consent page {authorize_url} answered HTTP {page.status_code}: {page.text[:200]}"
        )
    parser = _FormParser()
    parser.feed(page.text)
    if not parser.forms:
        raise ProviderProtocolError(f"consent page {authorize_url} has no form")
    form = parser.forms[0]
    fields: list[tuple[str, str]] = list(form.hidden)
    fields.append(("account_id", account_id))
    for name, value in form.checkboxes:
        if value not in decline:
            fields.append((name, value))
    fields.append(("action", "approve" if approve else "cancel"))
    target = urljoin(str(page.url), form.action or str(page.url))
    if form.method == "post":
        answer = await http.post(target, data=_multi(fields))
    else:
        answer = await http.get(target, params=_multi(fields))
    if answer.status_code not in (301, 302, 303, 307):
        raise ProviderProtocolError(
            f"the provider's page said (HTTP {answer.status_code}): {_visible_text(answer.text)}"
        )
    location = answer.headers["location"]
    parts = urlsplit(location)
    query = parse_qs(parts.query)

    def one(key: str) -> str | None:
        values = query.get(key)
        return values[0] if values else None

    return ConsentResult(
        redirect=location,
        code=one("code"),
        state=one("state"),
        error=one("error"),
        error_description=one("error_description"),
    )


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _visible_text(html: str, limit: int = 300) -> str:
    """What a person reads on an HTML page (or the start of a non-HTML body)."""
    parser = _TextParser()
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split()) or html.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _multi(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in fields:
        out.setdefault(k, []).append(v)
    return out
