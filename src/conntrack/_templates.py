"""The product's message templates (emails), rendered with Jinja.

Each template under ``templates/emails/`` starts with a ``Subject:`` line, then a blank
line, then the plain-text body. Rendering is plain function calls (no thread, no I/O
after the first read), so it is safe inside a simulation on the mock clock.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("conntrack", "templates"),
        autoescape=False,  # plain-text email
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_email(kind: str, **values: Any) -> tuple[str, str]:
    """``(subject, body)`` of the ``kind`` email (``expiry_reminder``, ``invalid``)."""
    text = _env().get_template(f"emails/{kind}.txt").render(**values)
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"template emails/{kind}.txt must start with a 'Subject: ' line")
    return head.removeprefix("Subject: ").strip(), body
