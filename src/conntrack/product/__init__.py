"""Your product under test: the world/product boundary and the product test protocol.

See :mod:`._interface` for the boundary. The public surface is re-exported here.
"""

from ._interface import (
    CapturedEmail,
    Company,
    CompanyUser,
    ConnectionView,
    LoginOutcome,
    Product,
    ProductError,
)

__all__ = [
    "CapturedEmail",
    "Company",
    "CompanyUser",
    "ConnectionView",
    "LoginOutcome",
    "Product",
    "ProductError",
]
