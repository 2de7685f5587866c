"""The fake providers inside your own test process (moto's ``mock_aws`` is the model).

In pytest, ask for the ``conntrack_fakes`` fixture (the plugin installed with conntrack
provides it); elsewhere use :func:`fakes` as a context manager or decorator::

    def test_login(conntrack_fakes):
        app = conntrack_fakes.create_app("facebook", redirect_uris=["https://app.example/cb"])
        ada = conntrack_fakes.create_account("facebook", name="Ada")
        ...  # your code calls https://www.facebook.com/..., https://graph.facebook.com/...

While a world is active, HTTP calls to any provider host made with ``requests``,
``urllib3``, ``httpx`` or ``httpx2`` (sync and async, asyncio or trio) in this process are
answered by the fakes, with no port, certificate or environment variable; other hosts
are not touched, and a provider host does not resolve for any other client (``_guard``),
so nothing of a test reaches a real provider. Each test (each ``with``) gets a fresh
world; the machinery (one trio loop in a thread, the compiled apps) is shared by the
process.

The public surface: :func:`fakes`, :class:`Fakes` (``create_app``, ``create_account``,
``authorize``, ``event``, ``travel``, ``fault``, ``clear_faults``, ``account``,
``control``, ``now``, ``base_url``), :func:`current`, :func:`every_provider_host`, and
the errors :class:`FakesError` and :class:`ConsentError`.
"""

from ._fakes import ConsentError, Fakes, FakesError, current, every_provider_host, fakes

__all__ = ["ConsentError", "Fakes", "FakesError", "current", "every_provider_host", "fakes"]
