"""Which redirect URIs an app may register: the places a provider sends a user back to,
with an authorization code or a token in the URL.

Real providers take ``https://`` (and ``http://`` for loopback and development) with a
host, and a native app's own scheme (RFC 8252 §7.1: ``com.example.app:/oauth2redirect``;
in practice also ``myapp://callback``, ``fb123://authorize``). They refuse the schemes a
browser runs or reads itself instead of handing the URL back to an app: a
``javascript:`` or ``data:`` "redirect" would run the attacker's script with the code in
reach. Browsers drop spaces and control characters from a URL (``java\\tscript:`` is
``javascript:``), so a redirect URI with any is refused too.

:data:`REDIRECT_URI_PATTERN` says the same as :func:`redirect_uri_problem`, as the
control API's OpenAPI document writes it (an ECMA-262 regex that Python reads alike);
a test holds the two together.
"""

from __future__ import annotations

import re

#: Schemes a browser handles itself, never a way back to an app.
REFUSED_REDIRECT_SCHEMES = (
    "javascript",
    "vbscript",
    "data",
    "file",
    "blob",
    "filesystem",
    "about",
    "view-source",
)
#: What to write instead, as every refusal says it.
ALLOWED_REDIRECTS = (
    "allowed: https:// or http:// with a host (https://app.example/callback, "
    "http://localhost:3000/callback), or a native app's own scheme "
    "(com.example.app:/oauth2redirect, myapp://callback); never "
    + ", ".join(f"{s}:" for s in REFUSED_REDIRECT_SCHEMES)
)

_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_HOST = re.compile(r"//[^/?#]")


def _any_case(word: str) -> str:
    """``data`` as ``[Dd][Aa][Tt][Aa]``: ECMA-262 patterns have no inline ignore-case."""
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)


#: :func:`redirect_uri_problem` as one pattern (``search``, as JSON Schema applies it):
#: no space or control character anywhere, not a refused scheme, http(s) with a host, a
#: scheme and something after it.
REDIRECT_URI_PATTERN = (
    r"^(?![\s\S]*[\x00-\x20\x7f])"
    + "(?!(?:"
    + "|".join(_any_case(s) for s in REFUSED_REDIRECT_SCHEMES)
    + "):)"
    + f"(?!{_any_case('http')}[Ss]?:(?!//[^/?#]))"
    + r"[A-Za-z][A-Za-z0-9+.-]*:."
)


def redirect_uri_problem(uri: object) -> str | None:
    """Why ``uri`` cannot be an app's redirect URI (what, and what is allowed), or
    ``None`` when it can."""
    if not isinstance(uri, str) or not uri:
        return f"a redirect URI must be a non-empty string; {ALLOWED_REDIRECTS}"
    match = _SCHEME.fullmatch(uri)
    if _CONTROL.search(uri):
        problem = "has a space or a control character (browsers drop them, hiding its scheme)"
    elif match is None:
        problem = "has no scheme"
    elif match[1].lower() in REFUSED_REDIRECT_SCHEMES:
        problem = (
            f"has the scheme {match[1]}:, which a browser runs or reads itself instead of "
            "returning to the app"
        )
    elif match[1].lower() in ("http", "https") and not _HOST.match(match[2]):
        problem = f"has no host after {match[1]}://"
    elif not match[2]:
        problem = f"has nothing after {match[1]}:"
    else:
        return None
    return f"redirect URI {uri!r} {problem}; {ALLOWED_REDIRECTS}"
