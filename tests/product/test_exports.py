"""The public surface of ``conntrack.product`` is what we mean it to be: the boundary
(``Product`` and what crosses it), the world (``run_product_scenario`` and its parts),
both kinds of product, and the product file."""

from __future__ import annotations

import conntrack.product as product

BOUNDARY = {
    "CapturedEmail", "Company", "CompanyUser", "ConnectionView", "LoginOutcome", "Product",
    "ProductError",
}  # fmt: skip
WORLD = {
    "EmailList", "EmailSource", "ProductEnv", "ProductFactory", "ProductProcess",
    "ProductStartError", "SmtpCapture", "WorldClock", "run_product_scenario", "skip_reason",
}  # fmt: skip
PRODUCTS = {
    "CallbackOutbox", "HttpProduct", "ModelProduct", "OPENAPI_PATH", "create_app",
    "model_from_env", "model_product", "openapi", "serve_product",
}  # fmt: skip
FILE = {"EmailRules", "ProductFile", "ProductFileError", "Start", "load_product"}


def test_public_surface() -> None:
    assert set(product.__all__) == BOUNDARY | WORLD | PRODUCTS | FILE
    for name in product.__all__:
        assert getattr(product, name) is not None


def test_both_products_implement_the_interface() -> None:
    # Every method of the boundary exists on both sides of it, as a coroutine function.
    import inspect

    methods = [
        name
        for name, value in vars(product.Product).items()
        if inspect.iscoroutinefunction(value) and not name.startswith("_")
    ]
    assert set(methods) == {
        "advance", "set_company", "login", "callback", "disconnect", "connections",
    }  # fmt: skip
    for side in (product.HttpProduct, product.ModelProduct):
        for name in methods:
            assert inspect.iscoroutinefunction(getattr(side, name)), (side, name)


def test_errors_are_conntrack_errors() -> None:
    from conntrack import ConntrackError, InputError

    assert issubclass(product.ProductError, ConntrackError)
    assert issubclass(product.ProductFileError, InputError)
    assert issubclass(product.ProductStartError, InputError)


def test_the_surface_is_imported_on_first_use() -> None:
    # The reference product's process needs neither the fakes nor the harness: importing
    # its server does not load them (a fresh interpreter, so nothing is loaded yet).
    import subprocess
    import sys

    code = (
        "import sys, conntrack.product._server, conntrack.product as p\n"
        "print('fake_providers' in sys.modules, 'conntrack.product._harness' in sys.modules)\n"
        "p.run_product_scenario\n"
        "print('conntrack.product._harness' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False", "True"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        product.nope  # noqa: B018
    assert "run_product_scenario" in dir(product)
