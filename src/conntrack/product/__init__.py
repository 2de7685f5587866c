"""Your product under test: the world/product boundary and the product test protocol.

- The boundary (:mod:`._interface`): :class:`Product` and what crosses it.
- The world (:mod:`._harness`): :func:`run_product_scenario` runs one scenario against a
  product file's process (:class:`ProductProcess`, :class:`SmtpCapture`, fakes on a
  :class:`WorldClock`) or an in-process :class:`Product`.
- The product side: :class:`HttpProduct` (any product over the protocol, whose OpenAPI
  document :func:`openapi` reads), :class:`ModelProduct` (conntrack's own model behind
  the interface) and :func:`serve_product` (any Product served over the protocol, as
  ``conntrack reference-product`` does).
- The product file (:mod:`._file`): :func:`load_product` → :class:`ProductFile`.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import HttpProduct
    from ._file import EmailRules, ProductFile, ProductFileError, Start, load_product
    from ._harness import (
        EmailList,
        EmailSource,
        ProductEnv,
        ProductFactory,
        WorldClock,
        run_product_scenario,
        skip_reason,
    )
    from ._interface import (
        CapturedEmail,
        Company,
        CompanyUser,
        ConnectionView,
        LoginOutcome,
        Product,
        ProductError,
    )
    from ._model import CallbackOutbox, ModelProduct, model_product
    from ._openapi import OPENAPI_PATH, openapi
    from ._process import ProductProcess, ProductStartError
    from ._server import create_app, model_from_env, serve_product
    from ._smtp import SmtpCapture


# Each name and the module it lives in: imported on first use (:func:`__getattr__`), so a
# process that needs one part (the reference product needs no fakes; a product file's
# check needs no server) does not pay for the others.
_WHERE = {
    "CallbackOutbox": "._model",
    "CapturedEmail": "._interface",
    "Company": "._interface",
    "CompanyUser": "._interface",
    "ConnectionView": "._interface",
    "create_app": "._server",
    "EmailList": "._harness",
    "EmailRules": "._file",
    "EmailSource": "._harness",
    "HttpProduct": "._client",
    "load_product": "._file",
    "LoginOutcome": "._interface",
    "model_from_env": "._server",
    "model_product": "._model",
    "ModelProduct": "._model",
    "openapi": "._openapi",
    "OPENAPI_PATH": "._openapi",
    "Product": "._interface",
    "ProductEnv": "._harness",
    "ProductError": "._interface",
    "ProductFactory": "._harness",
    "ProductFile": "._file",
    "ProductFileError": "._file",
    "ProductProcess": "._process",
    "ProductStartError": "._process",
    "run_product_scenario": "._harness",
    "serve_product": "._server",
    "skip_reason": "._harness",
    "SmtpCapture": "._smtp",
    "Start": "._file",
    "WorldClock": "._harness",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "OPENAPI_PATH",
    "CallbackOutbox",
    "CapturedEmail",
    "Company",
    "CompanyUser",
    "ConnectionView",
    "EmailList",
    "EmailRules",
    "EmailSource",
    "HttpProduct",
    "LoginOutcome",
    "ModelProduct",
    "Product",
    "ProductEnv",
    "ProductError",
    "ProductFactory",
    "ProductFile",
    "ProductFileError",
    "ProductProcess",
    "ProductStartError",
    "SmtpCapture",
    "Start",
    "WorldClock",
    "create_app",
    "load_product",
    "model_from_env",
    "model_product",
    "openapi",
    "run_product_scenario",
    "serve_product",
    "skip_reason",
]
