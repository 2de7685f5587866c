"""Every answer of the fakes comes after the whole request body (``conntrack.whole_body``),
so keep-alive connections survive; a body too large (413) or too slow (408) is refused
in the control API's error shape and the connection closed.

hypercorn reuses an HTTP/1.1 connection only if the request body had been read to its
end when the response ended, and the close it starts otherwise was dropped half-way
under quart-trio, leaving the client's next request unanswered (issue 11, item 3):
``conntrack._wholebody``'s docstring tells the whole story. The same wrapper guards
``conntrack reference-product``; this module only gives it the fakes' error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from conntrack import whole_body as _whole_body

ASGIApp = Callable[..., Awaitable[None]]


def _control_shaped(text: str) -> object:
    return {"error": {"message": text, "field": None}}


def whole_body(asgi_app: ASGIApp, settings: Mapping[str, Any]) -> ASGIApp:
    """Wrap ``asgi_app`` so it sees a request only with its whole body (the app's
    ``MAX_CONTENT_LENGTH`` and ``BODY_TIMEOUT`` apply), and so the response's last
    ``send`` is not cancelled half-way. Keep this the outermost wrapper, so an answer
    given by any other (a refused ``Host``, …) also comes after the body."""
    return _whole_body(asgi_app, settings, _control_shaped)
