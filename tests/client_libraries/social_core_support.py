"""The smallest social-core (python-social-auth) integration its documentation asks of
a framework: a strategy (settings, the request, the session, redirects) and a storage
(one-use state nonces), here in memory for one browser, so the library's own backends
run unmodified inside ``conntrack_fakes``.

The pipeline is a setting (``SOCIAL_AUTH_PIPELINE``): the library's own steps find the
details and the uid and check the login is allowed; then :func:`associate` keeps the
social account (a :class:`Social`, the library's ``UserMixin``) and the library's own
``load_extra_data`` stores the token in it; :func:`finish` hands it back as the result
of ``backend.complete()``. No user model: these tests are about the provider.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

with warnings.catch_warnings():
    # social-core's strategy imports python3-openid, which imports the deprecated
    # defusedxml.cElementTree: a DeprecationWarning of theirs, nothing Facebook does.
    warnings.filterwarnings("ignore", "defusedxml.cElementTree", DeprecationWarning)
    from social_core.storage import BaseStorage, NonceMixin, UserMixin
    from social_core.strategy import BaseStrategy

APP_URL = "https://app.example"
REDIRECT_URI = f"{APP_URL}/complete/"


class Nonce(NonceMixin):
    """One-use values (the OAuth ``state``), kept in a class-level set."""

    used: set[tuple[str, int, str]] = set()

    @classmethod
    def use(cls, server_url: str, timestamp: Any, salt: str) -> bool:
        key = (server_url, int(timestamp), salt)
        if key in cls.used:
            return False
        cls.used.add(key)
        return True

    @classmethod
    def consume(cls, server_url: str, timestamp: int, salt: str) -> bool:
        key = (server_url, int(timestamp), salt)
        if key not in cls.used:
            return False
        cls.used.discard(key)
        return True


class Social(UserMixin):
    """A connected account: provider, uid and ``extra_data`` (the token)."""

    def __init__(self, provider: str, uid: str) -> None:
        self.provider = provider
        self.uid = uid
        self.user: Any = None
        self.extra_data: dict[str, Any] = {}

    def save(self) -> None:
        """In memory: nothing to write."""


class Storage(BaseStorage):
    nonce = Nonce
    user = Social


class Strategy(BaseStrategy[str]):
    """Settings from a dict; the current request's parameters and the session as dicts;
    a redirect is its URL (the test plays the browser with ``conntrack_fakes``)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(Storage)
        self.settings = {
            "SOCIAL_AUTH_PIPELINE": PIPELINE,
            "SOCIAL_AUTH_AUTHENTICATION_BACKENDS": [],
            **settings,
        }
        self.session: dict[str, Any] = {}
        self.request: dict[str, str] = {}

    def land(self, url: str) -> None:
        """The browser arrives at ``url`` (the app's callback): its query is the request."""
        self.request = dict(parse_qsl(urlsplit(url).query))

    def get_setting(self, name: str) -> Any:
        return self.settings[name]

    def redirect(self, url: str) -> str:
        return url

    def html(self, content: str) -> str:
        return content

    def get_request_data(self, merge: bool = True) -> dict[str, Any]:
        return dict(self.request)

    def request_host(self) -> str:
        return urlsplit(APP_URL).netloc

    def session_get(self, name: str, default: Any = None) -> Any:
        return self.session.get(name, default)

    def session_set(self, name: str, value: Any) -> None:
        self.session[name] = value

    def session_pop(self, name: str) -> Any:
        return self.session.pop(name, None)

    def build_absolute_uri(self, path: str | None = None) -> str:
        return urljoin(APP_URL, path or "/")

    def request_is_secure(self) -> bool:
        return True

    def request_path(self) -> str:
        return urlsplit(REDIRECT_URI).path

    def request_port(self) -> int:
        return 443

    def request_get(self) -> dict[str, str]:
        return dict(self.request)

    def request_post(self) -> dict[str, str]:
        return {}


def associate(backend: Any, uid: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Pipeline step: the social account for this provider and uid."""
    return {"social": Social(backend.name, uid)}


def finish(social: Social, *args: Any, **kwargs: Any) -> Social:
    """Pipeline step: end the pipeline with the social account (not a dict, so
    social-core hands it back from ``complete()``)."""
    return social


PIPELINE = [
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    f"{__name__}.associate",
    "social_core.pipeline.social_auth.load_extra_data",
    f"{__name__}.finish",
]
