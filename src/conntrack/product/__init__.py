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
