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

from ._security import csrf_token

TEMPLATES = Path(__file__).parent / "templates"
# Shared pages live in templates/; a provider package may keep its own in
# <package>/templates/. Names are prefixed by provider, so one search path serves all.
_SEARCH = [TEMPLATES, *sorted(p for p in Path(__file__).parent.glob("*/templates") if p.is_dir())]

_ENV = Environment(
    loader=FileSystemLoader([str(p) for p in _SEARCH]),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
# Every form of the fakes carries this server's CSRF token (``_security``).
_ENV.globals["csrf_token"] = csrf_token


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` (from any of the template folders) with ``context``."""
    return _ENV.get_template(name).render(**context)
