"""The Instagram consent page, rendered synchronously on the calling task.

Like :func:`fake_providers._templates.render` (and for the same reason: Quart's
``render_template`` runs in a worker thread, which lets a simulation's virtual clock
jump mid-request), with the template kept in this package's ``templates/`` so the
provider stays one folder. Moving ``instagram_authorize.html`` to
``fake_providers/templates`` would let :func:`render` call the shared one unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"

_ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` of ``fake_providers/instagram/templates``."""
    return _ENV.get_template(name).render(**context)
