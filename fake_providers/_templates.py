"""HTML pages, rendered with a plain Jinja environment on the calling task.

Quart's ``render_template`` runs its (sync) context processors in a worker thread. A
thread is real I/O to trio: inside a simulation the virtual clock would jump while the
page renders, and the scheduler would think every task idle mid-request. Rendering here,
synchronously, keeps a consent flow inside one instant of virtual time.
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
    """Render the template ``name`` from ``fake_providers/templates`` with ``context``."""
    return _ENV.get_template(name).render(**context)
