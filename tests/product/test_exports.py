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
