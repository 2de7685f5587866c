"""Provider clients: the product's side of each provider's OAuth and API.

Importing this package imports every public module in it, and each registers its client
(in :data:`CLIENTS`) and its error rules (with :func:`conntrack._classifier.register`)
by protocol: a new provider is one new module here.
"""

import importlib
import pkgutil

from ._base import (
    CLIENTS,
    RESOURCES,
    Answer,
    AppCredentials,
    ClientContext,
    ProviderCallError,
    ProviderClient,
    TokenInfo,
    make_client,
    pkce_pair,
)
from ._browser import ConsentResult, consent
from .facebook import FacebookClient

__all__ = [
    "CLIENTS",
    "RESOURCES",
    "Answer",
    "AppCredentials",
    "ClientContext",
    "ConsentResult",
    "FacebookClient",
    "ProviderCallError",
    "ProviderClient",
    "TokenInfo",
    "consent",
    "make_client",
    "pkce_pair",
]

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
