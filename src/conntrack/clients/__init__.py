"""Provider clients: the product's side of each provider's OAuth and API."""

from ._base import Answer, AppCredentials, ProviderCallError, TokenInfo
from ._browser import ConsentResult, consent
from .facebook import FacebookClient

__all__ = [
    "Answer",
    "AppCredentials",
    "ConsentResult",
    "FacebookClient",
    "ProviderCallError",
    "TokenInfo",
    "consent",
]
