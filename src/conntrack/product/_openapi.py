"""The product test protocol as an OpenAPI 3.1 document (``openapi.json`` here).

The document is the contract a product implements (its routes, bodies and answers, which
parts are optional, the SMTP side and the environment the harness gives the product's
command, as ``x-conntrack-*`` extensions) and what a product team feeds to its own tools
(a server stub, a contract test, schemathesis). It ships in the package, next to this
module; :func:`openapi` reads it, and ``OPENAPI_PATH`` is where it is.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

OPENAPI = "openapi.json"
OPENAPI_PATH = Path(__file__).with_name(OPENAPI)
"""The packaged document's path (in an installed wheel, as in the source tree)."""


@cache
def _text() -> str:
    return files(__package__).joinpath(OPENAPI).read_text(encoding="utf-8")


def openapi() -> dict[str, Any]:
    """The protocol's OpenAPI 3.1 document: a fresh copy, the caller may change it."""
    document = json.loads(_text())
    assert isinstance(document, dict)
    return document
